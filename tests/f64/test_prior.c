/* The learned prior layer in the double build: split prior (3x3 conv of the kept half,
 * on images and volumes) and top prior (per channel): finite-difference gradients through
 * every parameter block, brute-force logdet, and the check failing on corrupted gradients. */
#include "nftest.h"

static void check_prior(nf_shape in, int conditioned) {
    nf_layer *l;
    NF_ASSERT_OK(nf_prior_create(&l, in, conditioned));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
    nf_rng rng;
    nf_rng_seed(&rng, 9);
    fc_perturb_params(&lt.t, &rng, 0.3); /* zero-initialised: make every block matter */
    fc_grad_report r = fc_check_gradients(&lt.t, &x, 5, 1e-6, FC_CORRUPT_NONE, 11);
    if (r.dx_err > 1e-3 || r.dparam_err > 1e-3 || fc_logdet_error(&lt.t, &x, 1e-6) > 1e-4)
        fail_msg("(%d, %d, %d, %d) conditioned %d: dx err %g, dparam err %g", in.c, in.d, in.h, in.w, conditioned,
                 r.dx_err, r.dparam_err);
    assert_true(fc_inverse_error(&lt.t, &x) < 1e-12);
    assert_true(fc_rebuild_error(&lt.t, &x) < 1e-12);
    fc_corruption kinds[] = {FC_CORRUPT_ZERO, FC_CORRUPT_HALF, FC_CORRUPT_FLIP};
    for (int k = 0; k < 3; k++) {
        r = fc_check_gradients(&lt.t, &x, 3, 1e-6, kinds[k], 11);
        assert_true(r.dx_err > 1e-3 && r.dparam_err > 1e-3);
    }
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_split_prior(void **state) {
    check_prior((nf_shape){3, 4, 1, 3, 4}, 1);
    check_prior((nf_shape){2, 5, 1, 2, 3}, 1); /* odd channels: 2 kept, 3 factored */
    check_prior((nf_shape){2, 2, 1, 1, 1}, 1); /* 1x1 images: the centre taps */
}

static void test_split_prior_volume(void **state) { check_prior((nf_shape){2, 4, 3, 2, 3}, 1); }

static void test_top_prior(void **state) {
    check_prior((nf_shape){3, 3, 1, 2, 2}, 0);
    check_prior((nf_shape){2, 2, 2, 2, 2}, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_prior),
        cmocka_unit_test(test_split_prior_volume),
        cmocka_unit_test(test_top_prior),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
