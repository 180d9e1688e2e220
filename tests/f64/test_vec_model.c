/* The sequential flow (nf_sequential_*) in double: FD gradients of a whole mixed stack (x and every parameter,
 * caught when corrupted) in training mode, and its logdet against the brute-force
 * Jacobian in evaluation mode (batch norm then acts per sample). */
#include "nftest.h"

static const char *MIXED = "prior=diagonal, (batchnorm(eps=1e-3), realnvp(hidden=8x2), linear(lu=1), "
                           "leakyrelu(alpha=0.5), reverse, nice(hidden=6x2,act=tanh), affine, permute, linear, maf(hidden=6x2), iaf(hidden=6x2), spline(bins=4,bound=2,hidden=6x2), hint(hidden=6x2), "
                           "actnorm)*2";

static void test_model_gradients_and_logdet(void **state) {
    nf_shape v3 = {1, 3, 1, 1, 1};
    nf_flow *m;
    NF_ASSERT_OK(nf_sequential_from_spec(&m, v3, MIXED, 4));
    fc_target t;
    fc_flow_target_init(&t, m, 6);
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    nf_tensor x = nftest_randn(6, 3, 1, 1, 1, 6);
    double ld[6];
    nf_tensor z = nftest_randn(6, 3, 1, 1, 1, 7);
    NF_ASSERT_OK(nf_flow_forward(m, &x, NULL, &z, ld)); /* actnorm's data init first */
    fc_perturb_params(&t, &rng, 0.2);
    fc_grad_report r = fc_check_gradients(&t, &x, 6, 1e-6, FC_CORRUPT_NONE, 8);
    if (!(r.dx_err <= 1e-3 && r.dparam_err <= 1e-3)) fail_msg("gradient errors dx %g, dparam %g", r.dx_err, r.dparam_err);
    fc_grad_report c = fc_check_gradients(&t, &x, 3, 1e-6, FC_CORRUPT_HALF, 8);
    assert_true(c.dx_err > 1e-3 && c.dparam_err > 1e-3);
    NF_ASSERT_OK(nf_sequential_set_training(m, 0));
    r = fc_check_gradients(&t, &x, 6, 1e-6, FC_CORRUPT_NONE, 9);
    if (!(r.dx_err <= 1e-3 && r.dparam_err <= 1e-3)) fail_msg("eval gradient errors dx %g, dparam %g", r.dx_err, r.dparam_err);
    double e = fc_logdet_error(&t, &x, 1e-6);
    if (!(e <= 1e-4)) fail_msg("logdet error %g", e);
    nf_tensor_free(&x), nf_tensor_free(&z);
    nf_flow_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_gradients_and_logdet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
