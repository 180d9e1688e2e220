/* The engine's checks applied to one vector layer, shared by the test_vec_* tests
 * (float ones in tests/unit, double ones in tests/f64 include this file). */
#ifndef TEST_VEC_COMMON_H
#define TEST_VEC_COMMON_H

#include "nftest.h"

/* A (n, D, 1, 1, 1) batch of N(0, scale^2) values. */
static inline nf_tensor vt_batch(int n, int D, double scale, uint64_t seed) {
    nf_tensor x = nftest_randn(n, D, 1, 1, 1, seed);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = (nf_real)(scale * x.data[i]);
    return x;
}

/* A batch of N(0, scale^2) values in the target's input shape. */
static inline nf_tensor vt_input(const fc_layer_target *lt, double scale, uint64_t seed) {
    nf_shape s = lt->t.in;
    nf_tensor x = nftest_randn(s.n, s.c, s.d, s.h, s.w, seed);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = (nf_real)(scale * x.data[i]);
    return x;
}

/* Binds the layer, perturbs its trainable parameters by N(0, perturb^2) (so zero-
 * initialised nets do not make it the identity) and returns the target. */
static inline void vt_target(fc_layer_target *lt, nf_layer *l, nf_shape in, double perturb, uint64_t seed) {
    NF_ASSERT_OK(fc_layer_target_init(lt, l, in, seed));
    nf_rng rng;
    nf_rng_seed(&rng, seed + 100);
    if (perturb > 0) fc_perturb_params(&lt->t, &rng, perturb);
}

/* Float: f^-1(f(x)) = x and backward rebuilds x, both to 1e-5 relative. */
static inline void vt_invertible_on(fc_layer_target *lt, uint64_t seed) {
    nf_tensor x = vt_input(lt, 1.5, seed + 1);
    double ei = fc_inverse_error(&lt->t, &x), er = fc_rebuild_error(&lt->t, &x);
    if (!(ei <= 1e-5 && er <= 1e-5)) fail_msg("%s: inverse error %g, rebuild error %g", lt->layer->ops->name, ei, er);
    nf_tensor_free(&x);
}

static inline void vt_check_invertible(nf_layer *l, nf_shape in, double perturb, uint64_t seed) {
    fc_layer_target lt;
    vt_target(&lt, l, in, perturb, seed);
    vt_invertible_on(&lt, seed);
    fc_layer_target_free(&lt);
}

/* Double: FD gradients in x and the parameters (<= 1e-3), brute-force logdet
 * (<= 1e-4, when logdet is set), and each corrupted gradient is caught. */
static inline void vt_gradients_on(fc_layer_target *lt, int logdet, uint64_t seed) {
    const char *name = lt->layer->ops->name;
    nf_tensor x = vt_input(lt, 1.0, seed + 1);
    fc_grad_report r = fc_check_gradients(&lt->t, &x, 6, 1e-6, FC_CORRUPT_NONE, seed + 2);
    if (!(r.dx_err <= 1e-3 && r.dparam_err <= 1e-3))
        fail_msg("%s: gradient errors dx %g, dparam %g", name, r.dx_err, r.dparam_err);
    if (logdet) {
        double e = fc_logdet_error(&lt->t, &x, 1e-6);
        if (!(e <= 1e-4)) fail_msg("%s: logdet error %g", name, e);
    }
    int trainable = 0;
    for (size_t i = 0; i < lt->t.nparams; i++) trainable |= !lt->t.frozen[i];
    fc_corruption kinds[] = {FC_CORRUPT_ZERO, FC_CORRUPT_HALF, FC_CORRUPT_FLIP};
    for (int k = 0; k < 3; k++) {
        fc_grad_report c = fc_check_gradients(&lt->t, &x, 3, 1e-6, kinds[k], seed + 2);
        if (!(c.dx_err > 1e-3)) fail_msg("%s: corruption %d of dx not caught (%g)", name, k, c.dx_err);
        if (trainable && !(c.dparam_err > 1e-3))
            fail_msg("%s: corruption %d of dparam not caught (%g)", name, k, c.dparam_err);
    }
    nf_tensor_free(&x);
}

static inline void vt_check_gradients(nf_layer *l, nf_shape in, double perturb, int logdet, uint64_t seed) {
    fc_layer_target lt;
    vt_target(&lt, l, in, perturb, seed);
    vt_gradients_on(&lt, logdet, seed);
    fc_layer_target_free(&lt);
}

/* The layer refuses a batch of the wrong size per sample, NULL tensors and a NULL ctx. */
static inline void vt_check_bad_tensors(nf_layer *l, nf_shape in) {
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    int D = (int)nf_shape_sample_count(in);
    nf_tensor bad = vt_batch(in.n, D + 1, 1.0, 3);
    double ld[64] = {0};
    NF_ASSERT_FAILS(nf_layer_forward(l, &bad, ld, &lt.ctx), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_layer_inverse(l, &bad, &lt.ctx), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_layer_backward(l, &bad, &bad, &lt.ctx), NF_ERR_SHAPE);
    nf_tensor x = vt_batch(in.n, D, 1.0, 4);
    NF_ASSERT_FAILS(nf_layer_forward(l, NULL, ld, &lt.ctx), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_layer_backward(l, &x, NULL, &lt.ctx), NF_ERR_ARG);
    nf_tensor_free(&bad);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

#endif
