/* Internal helpers shared by the library's modules: errors, accounted allocation,
 * BLAS names that follow nf_real. Not installed. */
#ifndef NF_INTERNAL_H
#define NF_INTERNAL_H

#include "nflow.h"

#include <cblas.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Records a printf-style message for nf_last_error() and returns s. */
nf_status nf_fail(nf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Accounted allocation (64-byte aligned); counted by nf_mem_current/peak. */
void *nf_alloc(size_t bytes);
void *nf_calloc(size_t count, size_t size);
void nf_free(void *p);

/* Argument checks that return a status with a message naming the function. */
#define NF_CHECK_NULL(p)                                                              \
    do {                                                                              \
        if (!(p)) return nf_fail(NF_ERR_ARG, "%s: argument '%s' is NULL", __func__, #p); \
    } while (0)
#define NF_TRY(expr)                                                                  \
    do {                                                                              \
        nf_status nf_try_s_ = (expr);                                                 \
        if (nf_try_s_ != NF_OK) return nf_try_s_;                                     \
    } while (0)

#ifdef NFLOW_DOUBLE
#define nf_gemm cblas_dgemm
#define nf_gemv cblas_dgemv
#else
#define nf_gemm cblas_sgemm
#define nf_gemv cblas_sgemv
#endif

/* Scratch carved from ctx->work, bump style: *off advances by an aligned amount. */
nf_real *nf_ctx_take(nf_ctx *ctx, size_t *off, size_t count);
/* Bytes nf_ctx_take needs for count elements (aligned). */
size_t nf_work_bytes(size_t count);

#endif
