/* ActNorm in float32: invertibility, reconstruction by backward, data-dependent init, bad input. */
#include "nftest.h"

static void test_invertible(void **state) {
    nf_shape in = {4, 3, 1, 5, 6};
    nf_layer *l;
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(4, 3, 1, 5, 6, 7);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = 3.0f * x.data[i] + 2.0f;
    assert_true(fc_inverse_error(&lt.t, &x) <= 1e-5);
    assert_true(fc_rebuild_error(&lt.t, &x) <= 1e-5);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_data_init_normalises(void **state) {
    nf_shape in = {8, 2, 1, 4, 4};
    nf_layer *l;
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(8, 2, 1, 4, 4, 3);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = 5.0f * x.data[i] - 1.0f;
    double ld[8] = {0};
    NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx));
    for (int c = 0; c < 2; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < 8; n++)
            for (int i = 0; i < 16; i++) {
                double v = x.data[(n * 2 + c) * 16 + i];
                s += v;
                q += v * v;
            }
        assert_true(fabs(s / 128) < 1e-5);
        assert_true(fabs(q / 128 - 1.0) < 1e-4);
    }
    assert_true(fabs(ld[0] + 16 * 2 * log(5.0)) < 0.5);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape bad = {1, 0, 1, 2, 2};
    NF_ASSERT_FAILS(nf_actnorm_create(&l, bad), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_actnorm_create(NULL, bad), NF_ERR_ARG);
    nf_shape in = {2, 3, 1, 4, 4};
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(2, 4, 1, 4, 4, 1);
    double ld[2];
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, &lt.ctx), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_layer_forward(l, NULL, ld, &lt.ctx), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, NULL), NF_ERR_ARG);
    nf_tensor y = nftest_randn(2, 3, 1, 4, 4, 1);
    NF_ASSERT_FAILS(nf_layer_inverse(l, &y, &lt.ctx), NF_ERR_STATE); /* not initialised */
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_data_init_normalises),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
