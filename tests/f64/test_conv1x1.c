/* Invertible 1x1 convolution (LU and Householder) in the double build: finite-difference
 * gradients in x and in the parameters (the LU logdet term included) and logdet against
 * a brute-force Jacobian, on images, vectors (1x1 images, many samples) and 3-D volumes. */
#include "nftest.h"

static const nf_conv1x1_kind KINDS[2] = {NF_CONV1X1_LU, NF_CONV1X1_HOUSEHOLDER};

/* Moves the trainable parameters away from their init so that no structure of the
 * init (a rotation: logdet 0) hides an error; LU's frozen blocks stay valid. */
static void perturb_trainable(fc_layer_target *lt, uint64_t seed, double scale) {
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    for (size_t i = 0; i < lt->params.count; i++)
        if (!lt->params.frozen[i]) lt->params.value[i] += (nf_real)(scale * nf_rng_normal(&rng));
}

static void check_layer(nf_conv1x1_kind kind, nf_shape in) {
    nf_layer *l;
    NF_ASSERT_OK(nf_conv1x1_create(&l, in, kind, NULL));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    perturb_trainable(&lt, 9, 0.3);
    nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
    fc_grad_report r = fc_check_gradients(&lt.t, &x, 5, 1e-6, FC_CORRUPT_NONE, 11);
    double ld = fc_logdet_error(&lt.t, &x, 1e-6);
    if (r.dx_err > 1e-3 || r.dparam_err > 1e-3 || ld > 1e-4)
        fail_msg("kind %d shape (%d, %d, %d, %d, %d): dx error %g, dparam error %g, logdet error %g", kind, in.n,
                 in.c, in.d, in.h, in.w, r.dx_err, r.dparam_err, ld);
    /* the check must be able to fail on this layer */
    r = fc_check_gradients(&lt.t, &x, 3, 1e-6, FC_CORRUPT_HALF, 11);
    assert_true(r.dx_err > 1e-3 && r.dparam_err > 1e-3);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_gradients_and_logdet(void **state) {
    nf_shape shapes[] = {
        {3, 4, 1, 3, 3},   /* images */
        {40, 3, 1, 1, 1},  /* vectors as 1x1 images: one GEMM over the batch */
        {2, 3, 2, 2, 3},   /* a 3-D volume (d = 2) */
        {2, 1, 1, 2, 2},   /* one channel (LU only: Householder's W = -1 does not depend on v,
                              its exact zero gradient would be compared with rounding noise) */
    };
    for (int k = 0; k < 2; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            if (KINDS[k] == NF_CONV1X1_LU || shapes[s].c > 1) check_layer(KINDS[k], shapes[s]);
}

/* LU logdet = d*h*w * sum(logscale): a perturbed logscale gives a nonzero logdet,
 * which the brute-force Jacobian must confirm (the rotation init has logdet 0). */
static void test_lu_logdet_nonzero(void **state) {
    nf_shape in = {2, 3, 1, 2, 2};
    nf_layer *l;
    NF_ASSERT_OK(nf_conv1x1_create(&l, in, NF_CONV1X1_LU, NULL));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_real *logs = lt.params.value + 2 * 9;
    logs[0] += 0.7, logs[2] -= 0.2;
    nf_tensor x = nftest_randn(2, 3, 1, 2, 2, 5);
    double ld[2];
    NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx));
    assert_true(fabs(ld[0] - 4 * 0.5) < 1e-12 && fabs(ld[1] - 4 * 0.5) < 1e-12);
    nf_tensor_free(&x);
    x = nftest_randn(2, 3, 1, 2, 2, 5);
    assert_true(fc_logdet_error(&lt.t, &x, 1e-6) <= 1e-4);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_and_logdet),
        cmocka_unit_test(test_lu_logdet_nonzero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
