/* Includes every test needs, in the order cmocka requires. */
#ifndef NFTEST_H
#define NFTEST_H
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flowcheck.h"
#include "nflow.h"

/* Asserts a call succeeded, printing the library's message if not. */
#define NF_ASSERT_OK(expr)                                                                      \
    do {                                                                                        \
        nf_status nf_assert_s_ = (expr);                                                        \
        if (nf_assert_s_ != NF_OK) fail_msg("%s -> %s: %s", #expr, nf_status_name(nf_assert_s_), nf_last_error()); \
    } while (0)

/* Asserts a call failed with the given status and left a non-empty message. */
#define NF_ASSERT_FAILS(expr, status)                                                           \
    do {                                                                                        \
        nf_status nf_assert_s_ = (expr);                                                        \
        assert_int_equal(nf_assert_s_, (status));                                               \
        assert_true(strlen(nf_last_error()) > 0);                                               \
    } while (0)

/* A tensor of N(0, 1) values. */
static inline nf_tensor nftest_randn(int n, int c, int d, int h, int w, uint64_t seed) {
    nf_tensor t;
    if (nf_tensor_alloc(&t, n, c, d, h, w) != NF_OK) abort();
    nf_rng r;
    nf_rng_seed(&r, seed);
    nf_rng_fill_normal(&r, t.data, nf_tensor_count(&t), 1.0);
    return t;
}
/* NCHW (nb, C, hw) -> channel-major (C, nb*hw), the layout of the coupling's conv kernels. */
static inline void nftest_to_cm(nf_real *cm, const nf_real *nchw, int nb, int C, size_t hw) {
    for (int b = 0; b < nb; b++)
        for (int c = 0; c < C; c++)
            memcpy(cm + ((size_t)c * nb + b) * hw, nchw + ((size_t)b * C + c) * hw, hw * sizeof(nf_real));
}
/* A small Glow on (2, 8, 8) images: hidden 8, 2 levels of 2 steps. */
static inline nf_flow *nftest_small_glow(void) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    return f;
}
#endif
