/*
 * nflow/extend.h — for code that extends nflow from outside the library: custom layers
 * (the nf_layer contract of nflow.h), dataset converters, front ends. It gives them the
 * library's own conventions, so their failures and memory look like the library's:
 *
 *     #include <nflow/extend.h>
 *
 *     nf_status load_table(const char *path, float **out, size_t n) {
 *         NF_CHECK_NULL(out);
 *         float *t = nf_alloc(n * sizeof *t);            // counted by nf_mem_current()
 *         if (!t) return nf_fail(NF_ERR_NOMEM, "%s: %zu values", path, n);
 *         ...
 *         *out = t;                                      // the caller nf_free()s it
 *         return NF_OK;
 *     }
 *
 * Not included by nflow.h: include it where it is needed.
 */
#ifndef NFLOW_EXTEND_H
#define NFLOW_EXTEND_H

#include "nflow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Records a printf-style message as this thread's nf_last_error() and returns s. One
 * line, no trailing newline. */
nf_status nf_fail(nf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Accounted allocation (64-byte aligned), counted by nf_mem_current/nf_mem_peak. NULL
 * when out of memory; nf_free(NULL) does nothing. Memory from these is freed with
 * nf_free only. */
void *nf_alloc(size_t bytes);
void *nf_calloc(size_t count, size_t size);
void nf_free(void *p);

/* In a function returning nf_status: NF_ERR_ARG naming the function and the argument
 * when p is NULL. */
#define NF_CHECK_NULL(p)                                                              \
    do {                                                                              \
        if (!(p)) return nf_fail(NF_ERR_ARG, "%s: argument '%s' is NULL", __func__, #p); \
    } while (0)
/* In a function returning nf_status: returns the status of expr when it is not NF_OK. */
#define NF_TRY(expr)                                                                  \
    do {                                                                              \
        nf_status nf_try_s_ = (expr);                                                 \
        if (nf_try_s_ != NF_OK) return nf_try_s_;                                     \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
