/* The simple vector layers in float: invertibility and rebuild by backward, their
 * defining behaviour (identity starts, reverse order, running averages) and bad input. */
#include "test_vec_common.h"

static const nf_shape V5 = {7, 5, 1, 1, 1};

static void test_invertible(void **state) {
    nf_layer *l;
    NF_ASSERT_OK(nf_affine_constant_create(&l, V5, 1, 1));
    vt_check_invertible(l, V5, 0.5, 1);
    NF_ASSERT_OK(nf_affine_constant_create(&l, V5, 1, 0));
    vt_check_invertible(l, V5, 0.5, 2);
    NF_ASSERT_OK(nf_linear_create(&l, V5, NF_LINEAR_DENSE, NULL));
    vt_check_invertible(l, V5, 0.3, 3);
    NF_ASSERT_OK(nf_linear_create(&l, V5, NF_LINEAR_LU, NULL));
    vt_check_invertible(l, V5, 0.3, 4);
    NF_ASSERT_OK(nf_leaky_relu_create(&l, V5, 0.1));
    vt_check_invertible(l, V5, 0.5, 5);
    NF_ASSERT_OK(nf_permute_create(&l, V5, NF_PERMUTE_RANDOM));
    vt_check_invertible(l, V5, 0, 6);
    NF_ASSERT_OK(nf_batchnorm_create(&l, V5, 0.9, 1e-5));
    vt_check_invertible(l, V5, 0.5, 7);
    nf_shape img = {3, 2, 1, 2, 3}; /* any sample shape is one flat vector */
    NF_ASSERT_OK(nf_linear_create(&l, img, NF_LINEAR_LU, NULL));
    vt_check_invertible(l, img, 0.3, 8);
}

/* The tutorial's LinearFlow starts as the identity with logdet 0; reverse flips. */
static void test_identity_starts_and_reverse(void **state) {
    nf_layer *l;
    NF_ASSERT_OK(nf_linear_create(&l, V5, NF_LINEAR_DENSE, NULL));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, V5, 1));
    nf_tensor x = vt_batch(7, 5, 1.0, 2), y = vt_batch(7, 5, 1.0, 2);
    double ld[7];
    NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    assert_true(fc_rel_diff(y.data, x.data, 35) == 0 && ld[0] == 0);
    fc_layer_target_free(&lt);
    NF_ASSERT_OK(nf_permute_create(&l, V5, NF_PERMUTE_REVERSE));
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, V5, 1));
    NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    for (int b = 0; b < 7; b++)
        for (int i = 0; i < 5; i++) assert_true(y.data[b * 5 + i] == x.data[b * 5 + 4 - i]);
    /* a corrupt permutation (as from a damaged file) is refused */
    lt.params.value[2] = lt.params.value[1];
    NF_ASSERT_FAILS(lt.t.forward(&lt, &x, &y, ld), NF_ERR_FORMAT);
    lt.params.value[2] = 7.5f;
    NF_ASSERT_FAILS(lt.t.forward(&lt, &x, &y, ld), NF_ERR_FORMAT);
    fc_layer_target_free(&lt);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
}

/* Training forwards update the running averages; evaluation mode uses them. */
static void test_batchnorm_modes(void **state) {
    nf_shape in = {64, 2, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_batchnorm_create(&l, in, 0.5, 1e-5));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = vt_batch(64, 2, 3.0, 5), y = vt_batch(64, 2, 1.0, 6);
    for (int b = 0; b < 64; b++) x.data[2 * b] += 10; /* feature 0 has mean ~10 */
    double ld[64];
    for (int k = 0; k < 30; k++) NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    double m0 = 0, q0 = 0, sx = 0, qx = 0;
    for (int b = 0; b < 64; b++) m0 += y.data[2 * b] / 64, sx += x.data[2 * b] / 64;
    for (int b = 0; b < 64; b++)
        q0 += (y.data[2 * b] - m0) * (y.data[2 * b] - m0) / 64, qx += (x.data[2 * b] - sx) * (x.data[2 * b] - sx) / 64;
    assert_true(fabs(m0) < 1e-5 && fabs(q0 - 1) < 1e-3); /* training: normalised by the batch */
    const nf_real *run = lt.params.value + 4;       /* running_mean, then running_var */
    assert_true(fabs(run[0] - sx) < 1e-4 * fabs(sx)); /* momentum 0.5, 30 steps: converged */
    assert_true(fabs(run[2] - qx) < 1e-4 * qx);
    NF_ASSERT_OK(nf_batchnorm_set_training(l, 0));
    nf_tensor one = vt_batch(1, 2, 1.0, 7), yo = vt_batch(1, 2, 1.0, 7);
    NF_ASSERT_OK(lt.t.forward(&lt, &one, &yo, ld)); /* single samples are fine in evaluation */
    assert_true(fabs(yo.data[0] - (one.data[0] - run[0]) / sqrt(run[2] + 1e-5)) < 1e-4);
    vt_invertible_on(&lt, 9);
    NF_ASSERT_OK(nf_batchnorm_set_training(l, 1));
    NF_ASSERT_FAILS(lt.t.forward(&lt, &one, &yo, ld), NF_ERR_SHAPE); /* a batch of 1 has no variance */
    NF_ASSERT_FAILS(nf_layer_inverse(l, &one, &lt.ctx), NF_ERR_STATE); /* not the batch of the last forward */
    NF_ASSERT_FAILS(nf_batchnorm_set_training(NULL, 0), NF_ERR_ARG);
    assert_false(nf_layer_is_batchnorm(NULL));
    fc_layer_target_free(&lt);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&one), nf_tensor_free(&yo);
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape bad = {1, 0, 1, 1, 1};
    NF_ASSERT_FAILS(nf_affine_constant_create(&l, bad, 1, 1), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_affine_constant_create(&l, V5, 0, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_affine_constant_create(NULL, V5, 1, 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_linear_create(&l, V5, (nf_linear_kind)7, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_linear_create(&l, bad, NF_LINEAR_DENSE, NULL), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_leaky_relu_create(&l, V5, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_leaky_relu_create(&l, V5, NAN), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_permute_create(&l, V5, (nf_permute_kind)3), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_batchnorm_create(&l, V5, 1.0, 1e-5), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_batchnorm_create(&l, V5, 0.9, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_batchnorm_set_training(NULL, 1), NF_ERR_ARG);

    NF_ASSERT_OK(nf_affine_constant_create(&l, V5, 1, 1));
    vt_check_bad_tensors(l, V5);
    NF_ASSERT_OK(nf_linear_create(&l, V5, NF_LINEAR_LU, NULL));
    vt_check_bad_tensors(l, V5);
    NF_ASSERT_OK(nf_leaky_relu_create(&l, V5, 0.5));
    vt_check_bad_tensors(l, V5);
    NF_ASSERT_OK(nf_permute_create(&l, V5, NF_PERMUTE_REVERSE));
    vt_check_bad_tensors(l, V5);
    NF_ASSERT_OK(nf_batchnorm_create(&l, V5, 0.9, 1e-5));
    vt_check_bad_tensors(l, V5);

    /* a singular W is reported, not divided by */
    NF_ASSERT_OK(nf_linear_create(&l, V5, NF_LINEAR_DENSE, NULL));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, V5, 1));
    for (int j = 0; j < 5; j++) lt.params.value[5 + j] = lt.params.value[j]; /* row 1 = row 0 */
    nf_tensor x = vt_batch(7, 5, 1.0, 1);
    double ld[7];
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, &lt.ctx), NF_ERR_NUMERIC);
    NF_ASSERT_FAILS(nf_layer_inverse(l, &x, &lt.ctx), NF_ERR_NUMERIC);
    nf_ctx small = {0};
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, &small), NF_ERR_ARG); /* no workspace */
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_identity_starts_and_reverse),
        cmocka_unit_test(test_batchnorm_modes),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
