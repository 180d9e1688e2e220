/* ActNorm in the double build, on an image and a volume: finite-difference gradients
 * and brute-force logdet. */
#include "nftest.h"

static void check_gradients_and_logdet(nf_shape in) {
    nf_layer *l;
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
    nf_rng rng;
    nf_rng_seed(&rng, 9);
    double ld[3];
    NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx)); /* data init on a copy */
    nf_tensor_free(&x);
    x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
    fc_perturb_params(&lt.t, &rng, 0.3);
    fc_grad_report r = fc_check_gradients(&lt.t, &x, 5, 1e-6, FC_CORRUPT_NONE, 11);
    assert_true(r.dx_err <= 1e-3);
    assert_true(r.dparam_err <= 1e-3);
    assert_true(fc_logdet_error(&lt.t, &x, 1e-6) <= 1e-4);
    r = fc_check_gradients(&lt.t, &x, 3, 1e-6, FC_CORRUPT_HALF, 11); /* the check can fail here too */
    assert_true(r.dx_err > 1e-3 && r.dparam_err > 1e-3);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_gradients_and_logdet(void **state) {
    check_gradients_and_logdet((nf_shape){3, 3, 1, 3, 4});
    check_gradients_and_logdet((nf_shape){3, 2, 3, 2, 3}); /* a volume (d = 3) */
}

/* The check must catch wrong gradients: zero, halved and sign-flipped. */
static void test_check_catches_corrupted_gradient(void **state) {
    nf_shape in = {2, 2, 1, 2, 2};
    nf_layer *l;
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(2, 2, 1, 2, 2, 5);
    fc_corruption kinds[] = {FC_CORRUPT_ZERO, FC_CORRUPT_HALF, FC_CORRUPT_FLIP};
    for (int k = 0; k < 3; k++) {
        fc_grad_report r = fc_check_gradients(&lt.t, &x, 3, 1e-6, kinds[k], 11);
        assert_true(r.dx_err > 1e-3);
        assert_true(r.dparam_err > 1e-3);
    }
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_and_logdet),
        cmocka_unit_test(test_check_catches_corrupted_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
