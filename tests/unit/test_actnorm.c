/* ActNorm in float32, on images and volumes (d > 1): invertibility, reconstruction by
 * backward, data-dependent init, bad input. */
#include "nftest.h"

static void test_invertible(void **state) {
    nf_shape shapes[] = {{4, 3, 1, 5, 6}, {3, 3, 4, 3, 5}}; /* an image, a volume */
    for (int s = 0; s < 2; s++) {
        nf_shape in = shapes[s];
        nf_layer *l;
        NF_ASSERT_OK(nf_actnorm_create(&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 7);
        for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = 3.0f * x.data[i] + 2.0f;
        assert_true(fc_inverse_error(&lt.t, &x) <= 1e-5);
        assert_true(fc_rebuild_error(&lt.t, &x) <= 1e-5);
        nf_tensor_free(&x);
        fc_layer_target_free(&lt);
    }
}

/* After the first forward every channel has mean 0 and variance 1 over the batch and all
 * of its pixels (voxels), and logdet = -(pixels per sample) * sum_c log(std_c) with std_c
 * the input's, taken over the same values. */
static void check_data_init(nf_shape in) {
    nf_layer *l;
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 3);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = 5.0f * x.data[i] - 1.0f;
    int vox = in.d * in.h * in.w;
    double want_ld = 0;
    for (int c = 0; c < in.c; c++) {
        double s = 0, q = 0, cnt = (double)in.n * vox;
        for (int n = 0; n < in.n; n++)
            for (int i = 0; i < vox; i++) s += x.data[((size_t)n * in.c + c) * vox + i];
        for (int n = 0; n < in.n; n++)
            for (int i = 0; i < vox; i++) q += pow(x.data[((size_t)n * in.c + c) * vox + i] - s / cnt, 2);
        want_ld -= vox * log(sqrt(q / cnt));
    }
    double ld[8] = {0};
    NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx));
    for (int c = 0; c < in.c; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < in.n; n++)
            for (int i = 0; i < vox; i++) {
                double v = x.data[((size_t)n * in.c + c) * vox + i];
                s += v;
                q += v * v;
            }
        assert_true(fabs(s / (in.n * vox)) < 1e-5);
        assert_true(fabs(q / (in.n * vox) - 1.0) < 1e-4);
    }
    assert_true(fabs(ld[0] - want_ld) < 1e-4 * fabs(want_ld));
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_data_init_normalises(void **state) {
    check_data_init((nf_shape){8, 2, 1, 4, 4});
    check_data_init((nf_shape){4, 2, 3, 4, 2}); /* a volume: statistics over all voxels */
}

/* A channel constant over the first batch (a condition's one-hot channel, padding) is
 * centred with scale 1, not scaled by 1/(0 + 1e-6); the others are normalised as usual. */
static void test_constant_channel(void **state) {
    (void)state;
    nf_shape in = {4, 2, 1, 3, 3};
    nf_layer *l;
    NF_ASSERT_OK(nf_actnorm_create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
    for (int n = 0; n < in.n; n++)
        for (int i = 0; i < 9; i++) x.data[((size_t)n * 2 + 1) * 9 + i] = 3.0f;
    double ld[4] = {0};
    NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx));
    assert_true(l->param[1] == 0);          /* logs of the constant channel */
    assert_true(l->param[3] == -3.0f);      /* its bias: centred */
    assert_true(fabs(l->param[0]) > 1e-3);  /* the other channel was scaled */
    for (int n = 0; n < in.n; n++)
        for (int i = 0; i < 9; i++) assert_true(x.data[((size_t)n * 2 + 1) * 9 + i] == 0);
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
        cmocka_unit_test(test_constant_channel),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
