/* Squeeze and Haar squeeze in the double build, on an image and a volume:
 * finite-difference gradients in x and logdet (0) against a brute-force Jacobian. */
#include "nftest.h"

static void test_gradients_and_logdet(void **state) {
    nf_status (*creates[2])(nf_layer **, nf_shape) = {nf_squeeze_create, nf_haar_create};
    nf_shape shapes[2] = {{2, 2, 1, 4, 6}, {2, 2, 2, 4, 2}};
    for (int k = 0; k < 4; k++) {
        nf_shape in = shapes[k / 2];
        nf_layer *l;
        NF_ASSERT_OK(creates[k % 2](&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
        fc_grad_report r = fc_check_gradients(&lt.t, &x, 5, 1e-6, FC_CORRUPT_NONE, 11);
        assert_true(r.dx_err <= 1e-3);
        assert_true(fc_logdet_error(&lt.t, &x, 1e-6) <= 1e-4);
        r = fc_check_gradients(&lt.t, &x, 3, 1e-6, FC_CORRUPT_FLIP, 11); /* the check can fail */
        assert_true(r.dx_err > 1e-3);
        nf_tensor_free(&x);
        fc_layer_target_free(&lt);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_and_logdet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
