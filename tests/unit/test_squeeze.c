/* Squeeze and Haar squeeze in float32: outputs against plain-loop definitions (the
 * PyTorch peer's channel order), norm kept by Haar, shapes updated and restored,
 * invertibility and reconstruction by backward, bad shapes. */
#include "nftest.h"

typedef nf_status (*create_fn)(nf_layer **, nf_shape);

/* the peer's squeeze: block k holds x[:, :, dh::2, dw::2], (dw, dh) in this order */
static const int OFFS[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};

/* Plain-loop definitions of output channel k*c + ch at (i, j): x (n, c, h, w). */
static double squeeze_ref(const nf_tensor *x, int b, int k, int ch, int i, int j) {
    return x->data[(((size_t)b * x->c + ch) * x->h + 2 * i + OFFS[k][1]) * x->w + 2 * j + OFFS[k][0]];
}

static double haar_ref(const nf_tensor *x, int b, int k, int ch, int i, int j) {
    const nf_real *p = x->data + ((size_t)b * x->c + ch) * x->h * x->w;
    double x00 = p[2 * i * x->w + 2 * j], x01 = p[2 * i * x->w + 2 * j + 1];
    double x10 = p[(2 * i + 1) * x->w + 2 * j], x11 = p[(2 * i + 1) * x->w + 2 * j + 1];
    switch (k) {
    case 0: return (x00 + x01 + x10 + x11) / 2; /* approximation */
    case 1: return (x00 + x01 - x10 - x11) / 2; /* horizontal detail */
    case 2: return (x00 - x01 + x10 - x11) / 2; /* vertical detail */
    default: return (x00 - x01 - x10 + x11) / 2; /* diagonal detail */
    }
}

/* Forward in place: dims become (4c, h/2, w/2), values match ref within tol, logdet unchanged. */
static void check_against_ref(create_fn create, double (*ref)(const nf_tensor *, int, int, int, int, int),
                              double tol) {
    int n = 2, c = 3, h = 4, w = 6;
    nf_shape in = {n, c, 1, h, w};
    nf_layer *l;
    NF_ASSERT_OK(create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    assert_int_equal(lt.params.count, 0);
    nf_tensor x = nftest_randn(n, c, 1, h, w, 3), y = nftest_randn(n, c, 1, h, w, 3);
    double ld[2] = {0.25, -1};
    NF_ASSERT_OK(nf_layer_forward(l, &y, ld, &lt.ctx));
    assert_int_equal(y.n, n);
    assert_int_equal(y.c, 4 * c);
    assert_int_equal(y.d, 1);
    assert_int_equal(y.h, h / 2);
    assert_int_equal(y.w, w / 2);
    assert_true(ld[0] == 0.25 && ld[1] == -1);
    for (int b = 0; b < n; b++)
        for (int k = 0; k < 4; k++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h / 2; i++)
                    for (int j = 0; j < w / 2; j++) {
                        double got = y.data[(((size_t)b * 4 * c + k * c + ch) * (h / 2) + i) * (w / 2) + j];
                        assert_true(fabs(got - ref(&x, b, k, ch, i, j)) <= tol);
                    }
    NF_ASSERT_OK(nf_layer_inverse(l, &y, &lt.ctx));
    assert_true(y.c == c && y.d == 1 && y.h == h && y.w == w);
    assert_true(fc_rel_diff(y.data, x.data, nf_tensor_count(&x)) <= 1e-6);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

/* squeeze only moves values: exact copies */
static void test_squeeze_matches_peer_order(void **state) { check_against_ref(nf_squeeze_create, squeeze_ref, 0); }
static void test_haar_matches_definition(void **state) { check_against_ref(nf_haar_create, haar_ref, 1e-6); }

/* Both are orthogonal: |y| = |x|. */
static void test_norm_kept(void **state) {
    create_fn creates[2] = {nf_squeeze_create, nf_haar_create};
    for (int k = 0; k < 2; k++) {
        nf_shape in = {3, 2, 1, 8, 4};
        nf_layer *l;
        NF_ASSERT_OK(creates[k](&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor x = nftest_randn(3, 2, 1, 8, 4, 9);
        double nx = 0, ny = 0, ld[3] = {0};
        for (size_t i = 0; i < nf_tensor_count(&x); i++) nx += (double)x.data[i] * x.data[i];
        NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx));
        for (size_t i = 0; i < nf_tensor_count(&x); i++) ny += (double)x.data[i] * x.data[i];
        assert_true(fabs(nx - ny) / nx < 1e-6);
        nf_tensor_free(&x);
        fc_layer_target_free(&lt);
    }
}

static void test_invertible(void **state) {
    create_fn creates[2] = {nf_squeeze_create, nf_haar_create};
    nf_shape shapes[] = {{4, 3, 1, 6, 8}, {2, 1, 1, 2, 2}, {5, 12, 1, 4, 2}};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 3; s++) {
            nf_shape in = shapes[s];
            nf_layer *l;
            NF_ASSERT_OK(creates[k](&l, in));
            fc_layer_target lt;
            NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
            nf_shape out;
            NF_ASSERT_OK(nf_layer_out_shape(l, in, &out));
            assert_true(out.n == in.n && out.c == 4 * in.c && out.d == 1 && out.h == in.h / 2 && out.w == in.w / 2);
            nf_tensor x = nftest_randn(in.n, in.c, 1, in.h, in.w, 5);
            assert_true(fc_inverse_error(&lt.t, &x) <= 1e-6);
            assert_true(fc_rebuild_error(&lt.t, &x) <= 1e-6);
            nf_tensor_free(&x);
            fc_layer_target_free(&lt);
        }
}

/* backward turns y and dy back to the input shape: dx = M^T dy, checked through the
 * adjoint identity <dy, M u> = <dx, u> for a random u. */
static void test_backward_is_adjoint(void **state) {
    create_fn creates[2] = {nf_squeeze_create, nf_haar_create};
    for (int k = 0; k < 2; k++) {
        nf_shape in = {2, 3, 1, 4, 6};
        nf_layer *l;
        NF_ASSERT_OK(creates[k](&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor u = nftest_randn(2, 3, 1, 4, 6, 1), mu = nftest_randn(2, 3, 1, 4, 6, 1);
        nf_tensor y = nftest_randn(2, 12, 1, 2, 3, 2), dy = nftest_randn(2, 12, 1, 2, 3, 3);
        double ld[2], lhs = 0, rhs = 0;
        NF_ASSERT_OK(nf_layer_forward(l, &mu, ld, &lt.ctx));
        for (size_t i = 0; i < nf_tensor_count(&dy); i++) lhs += (double)dy.data[i] * mu.data[i];
        NF_ASSERT_OK(nf_layer_backward(l, &y, &dy, &lt.ctx));
        assert_true(dy.c == 3 && dy.h == 4 && dy.w == 6 && y.c == 3 && y.h == 4 && y.w == 6);
        for (size_t i = 0; i < nf_tensor_count(&dy); i++) rhs += (double)dy.data[i] * u.data[i];
        assert_true(fabs(lhs - rhs) < 1e-5 * fabs(lhs) + 1e-5);
        nf_tensor_free(&u);
        nf_tensor_free(&mu);
        nf_tensor_free(&y);
        nf_tensor_free(&dy);
        fc_layer_target_free(&lt);
    }
}

static void test_bad_shapes(void **state) {
    create_fn creates[2] = {nf_squeeze_create, nf_haar_create};
    for (int k = 0; k < 2; k++) {
        nf_layer *l = (nf_layer *)&l;
        nf_shape volume = {1, 2, 2, 4, 4}, odd_h = {1, 2, 1, 5, 4}, odd_w = {1, 2, 1, 4, 3}, empty = {1, 0, 1, 4, 4};
        NF_ASSERT_FAILS(creates[k](&l, volume), NF_ERR_SHAPE);
        assert_null(l);
        assert_non_null(strstr(nf_last_error(), "d = 2"));
        NF_ASSERT_FAILS(creates[k](&l, odd_h), NF_ERR_SHAPE);
        assert_non_null(strstr(nf_last_error(), "even"));
        NF_ASSERT_FAILS(creates[k](&l, odd_w), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(creates[k](&l, empty), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(creates[k](NULL, odd_w), NF_ERR_ARG);

        nf_shape in = {2, 2, 1, 4, 4}, out;
        NF_ASSERT_OK(creates[k](&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        NF_ASSERT_FAILS(nf_layer_out_shape(l, odd_h, &out), NF_ERR_SHAPE);
        nf_tensor x = nftest_randn(2, 2, 1, 4, 4, 1), small = nftest_randn(2, 2, 1, 2, 2, 1);
        double ld[2];
        NF_ASSERT_FAILS(nf_layer_forward(l, &small, ld, &lt.ctx), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(nf_layer_inverse(l, &x, &lt.ctx), NF_ERR_SHAPE); /* x is not squeezed */
        NF_ASSERT_FAILS(nf_layer_forward(l, NULL, ld, &lt.ctx), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_backward(l, &x, NULL, &lt.ctx), NF_ERR_ARG);
        assert_int_equal(x.c, 2); /* failed calls leave the shape alone */
        nf_tensor_free(&x);
        nf_tensor_free(&small);
        fc_layer_target_free(&lt);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_squeeze_matches_peer_order),
        cmocka_unit_test(test_haar_matches_definition),
        cmocka_unit_test(test_norm_kept),
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_backward_is_adjoint),
        cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
