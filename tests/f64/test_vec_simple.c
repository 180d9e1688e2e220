/* The simple vector layers in double: finite-difference gradients in x and the
 * parameters (caught when corrupted) and logdet against the brute-force Jacobian. */
#include "../unit/test_vec_common.h"

static const nf_shape V4 = {5, 4, 1, 1, 1};

static void test_affine_constant(void **state) {
    nf_layer *l;
    NF_ASSERT_OK(nf_affine_constant_create(&l, V4, 1, 1));
    vt_check_gradients(l, V4, 0.5, 1, 1);
    NF_ASSERT_OK(nf_affine_constant_create(&l, V4, 1, 0));
    vt_check_gradients(l, V4, 0.5, 1, 2);
    NF_ASSERT_OK(nf_affine_constant_create(&l, V4, 0, 1));
    vt_check_gradients(l, V4, 0.5, 1, 3);
}

static void test_linear(void **state) {
    nf_layer *l;
    NF_ASSERT_OK(nf_linear_create(&l, V4, NF_LINEAR_DENSE, NULL));
    vt_check_gradients(l, V4, 0.4, 1, 4);
    NF_ASSERT_OK(nf_linear_create(&l, V4, NF_LINEAR_LU, NULL));
    vt_check_gradients(l, V4, 0.3, 1, 5);
}

static void test_leaky_relu(void **state) {
    nf_layer *l;
    NF_ASSERT_OK(nf_leaky_relu_create(&l, V4, 0.3));
    vt_check_gradients(l, V4, 0.3, 1, 6);
}

static void test_permute(void **state) {
    nf_layer *l;
    NF_ASSERT_OK(nf_permute_create(&l, V4, NF_PERMUTE_RANDOM));
    vt_check_gradients(l, V4, 0, 1, 7);
}

/* Training mode: the gradient through the batch statistics (and the batch logdet's
 * dependence on x) is checked; per-sample logdet only exists in evaluation mode. */
static void test_batchnorm(void **state) {
    nf_shape in = {6, 3, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_batchnorm_create(&l, in, 0.8, 1e-3));
    vt_check_gradients(l, in, 0.4, 0, 8);

    NF_ASSERT_OK(nf_batchnorm_create(&l, in, 0.8, 1e-3));
    fc_layer_target lt;
    vt_target(&lt, l, in, 0.4, 9);
    nf_tensor x = vt_batch(6, 3, 2.0, 10), y = vt_batch(6, 3, 1.0, 11);
    double ld[6];
    for (int k = 0; k < 5; k++) NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld)); /* non-trivial running stats */
    NF_ASSERT_OK(nf_batchnorm_set_training(l, 0));
    vt_gradients_on(&lt, 1, 12);
    nf_tensor_free(&x), nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_affine_constant), cmocka_unit_test(test_linear),
        cmocka_unit_test(test_leaky_relu),      cmocka_unit_test(test_permute),
        cmocka_unit_test(test_batchnorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
