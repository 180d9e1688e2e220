/* Squeeze and Haar squeeze in float32, on images and volumes (d > 1, 2x2x2 blocks):
 * outputs against plain-loop definitions (the PyTorch peer's channel order), norm kept
 * by Haar, shapes updated and restored, invertibility and reconstruction by backward,
 * bad shapes. */
#include "nftest.h"

typedef nf_status (*create_fn)(nf_layer **, nf_shape);

/* the peer's squeeze: block k holds x[:, :, dh::2, dw::2], (dw, dh) in this order */
static const int OFFS[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};

/* Plain-loop definitions of output channel k*c + ch at (z, i, j): x (n, c, d, h, w).
 * Images (d = 1, z = 0) use the 2-D definitions; volumes take k = 4*kz + k2. */
static double squeeze_ref2(const nf_tensor *x, const nf_real *p, int k, int i, int j) {
    return p[(size_t)(2 * i + OFFS[k][1]) * x->w + 2 * j + OFFS[k][0]];
}

static double haar_ref2(const nf_tensor *x, const nf_real *p, int k, int i, int j) {
    double x00 = p[2 * i * x->w + 2 * j], x01 = p[2 * i * x->w + 2 * j + 1];
    double x10 = p[(2 * i + 1) * x->w + 2 * j], x11 = p[(2 * i + 1) * x->w + 2 * j + 1];
    switch (k) {
    case 0: return (x00 + x01 + x10 + x11) / 2; /* approximation */
    case 1: return (x00 + x01 - x10 - x11) / 2; /* horizontal detail */
    case 2: return (x00 - x01 + x10 - x11) / 2; /* vertical detail */
    default: return (x00 - x01 - x10 + x11) / 2; /* diagonal detail */
    }
}

/* Channel ch of sample b, slice zz of a volume. */
static const nf_real *slice(const nf_tensor *x, int b, int ch, int zz) {
    return x->data + (((size_t)b * x->c + ch) * x->d + zz) * x->h * x->w;
}

/* squeeze of a volume: block 4*kz + k is slice 2z + kz squeezed as an image */
static double squeeze_ref(const nf_tensor *x, int b, int k, int ch, int z, int i, int j) {
    if (x->d == 1) return squeeze_ref2(x, slice(x, b, ch, 0), k, i, j);
    return squeeze_ref2(x, slice(x, b, ch, 2 * z + k / 4), k % 4, i, j);
}

/* 3-D Haar: the 2-D definition of (front + back) / sqrt 2 for k < 4, of (front - back) /
 * sqrt 2 for k >= 4; linear, so taken as that combination of the two slices' 2-D transforms. */
static double haar_ref(const nf_tensor *x, int b, int k, int ch, int z, int i, int j) {
    if (x->d == 1) return haar_ref2(x, slice(x, b, ch, 0), k, i, j);
    double front = haar_ref2(x, slice(x, b, ch, 2 * z), k % 4, i, j);
    double back = haar_ref2(x, slice(x, b, ch, 2 * z + 1), k % 4, i, j);
    return (k < 4 ? front + back : front - back) / sqrt(2.0);
}

typedef double (*ref_fn)(const nf_tensor *, int, int, int, int, int, int);

/* Forward in place: dims become (K c, d/2, h/2, w/2) (K = 4, d stays 1 for images; K = 8
 * for volumes), values match ref within tol, logdet unchanged. */
static void check_against_ref(create_fn create, ref_fn ref, double tol, int d) {
    int n = 2, c = 3, h = 4, w = 6, K = d == 1 ? 4 : 8, dz = d == 1 ? 1 : d / 2;
    nf_shape in = {n, c, d, h, w};
    nf_layer *l;
    NF_ASSERT_OK(create(&l, in));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    assert_int_equal(lt.params.count, 0);
    nf_tensor x = nftest_randn(n, c, d, h, w, 3), y = nftest_randn(n, c, d, h, w, 3);
    double ld[2] = {0.25, -1};
    NF_ASSERT_OK(nf_layer_forward(l, &y, ld, &lt.ctx));
    assert_int_equal(y.n, n);
    assert_int_equal(y.c, K * c);
    assert_int_equal(y.d, dz);
    assert_int_equal(y.h, h / 2);
    assert_int_equal(y.w, w / 2);
    assert_true(ld[0] == 0.25 && ld[1] == -1);
    for (int b = 0; b < n; b++)
        for (int k = 0; k < K; k++)
            for (int ch = 0; ch < c; ch++)
                for (int z = 0; z < dz; z++)
                    for (int i = 0; i < h / 2; i++)
                        for (int j = 0; j < w / 2; j++) {
                            double got =
                                y.data[((((size_t)b * K * c + k * c + ch) * dz + z) * (h / 2) + i) * (w / 2) + j];
                            double want = ref(&x, b, k, ch, z, i, j);
                            if (fabs(got - want) > tol)
                                fail_msg("d=%d out[%d, %d*%d+%d, %d, %d, %d] = %g, want %g", d, b, k, c, ch, z, i, j,
                                         got, want);
                        }
    NF_ASSERT_OK(nf_layer_inverse(l, &y, &lt.ctx));
    assert_true(y.c == c && y.d == d && y.h == h && y.w == w);
    assert_true(fc_rel_diff(y.data, x.data, nf_tensor_count(&x)) <= 1e-6);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

/* squeeze only moves values: exact copies */
static void test_squeeze_matches_peer_order(void **state) {
    check_against_ref(nf_squeeze_create, squeeze_ref, 0, 1);
    check_against_ref(nf_squeeze_create, squeeze_ref, 0, 4); /* volume: 2x2x2 blocks */
}
static void test_haar_matches_definition(void **state) {
    check_against_ref(nf_haar_create, haar_ref, 1e-6, 1);
    check_against_ref(nf_haar_create, haar_ref, 1e-6, 4);
}

/* Both are orthogonal: |y| = |x|. */
static void test_norm_kept(void **state) {
    create_fn creates[2] = {nf_squeeze_create, nf_haar_create};
    nf_shape shapes[2] = {{3, 2, 1, 8, 4}, {3, 2, 6, 4, 2}};
    for (int k = 0; k < 4; k++) {
        nf_shape in = shapes[k / 2];
        nf_layer *l;
        NF_ASSERT_OK(creates[k % 2](&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 9);
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
    nf_shape shapes[] = {{4, 3, 1, 6, 8}, {2, 1, 1, 2, 2}, {5, 12, 1, 4, 2},
                         {3, 2, 4, 6, 2}, {2, 1, 2, 2, 2}, {2, 3, 8, 4, 6}}; /* volumes */
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 6; s++) {
            nf_shape in = shapes[s];
            int vol = in.d > 1;
            nf_layer *l;
            NF_ASSERT_OK(creates[k](&l, in));
            fc_layer_target lt;
            NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
            nf_shape out;
            NF_ASSERT_OK(nf_layer_out_shape(l, in, &out));
            assert_true(out.n == in.n && out.c == (vol ? 8 : 4) * in.c && out.d == (vol ? in.d / 2 : 1) &&
                        out.h == in.h / 2 && out.w == in.w / 2);
            nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
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
    for (int k = 0; k < 4; k++) {
        int d = k < 2 ? 1 : 4, K = d == 1 ? 4 : 8, dz = d == 1 ? 1 : d / 2;
        nf_shape in = {2, 3, d, 4, 6};
        nf_layer *l;
        NF_ASSERT_OK(creates[k % 2](&l, in));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor u = nftest_randn(2, 3, d, 4, 6, 1), mu = nftest_randn(2, 3, d, 4, 6, 1);
        nf_tensor y = nftest_randn(2, 3 * K, dz, 2, 3, 2), dy = nftest_randn(2, 3 * K, dz, 2, 3, 3);
        double ld[2], lhs = 0, rhs = 0;
        NF_ASSERT_OK(nf_layer_forward(l, &mu, ld, &lt.ctx));
        for (size_t i = 0; i < nf_tensor_count(&dy); i++) lhs += (double)dy.data[i] * mu.data[i];
        NF_ASSERT_OK(nf_layer_backward(l, &y, &dy, &lt.ctx));
        assert_true(dy.c == 3 && dy.d == d && dy.h == 4 && dy.w == 6 && y.c == 3 && y.d == d && y.h == 4 &&
                    y.w == 6);
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
        nf_shape odd_d = {1, 2, 3, 4, 4}, odd_vh = {1, 2, 2, 3, 4}, odd_h = {1, 2, 1, 5, 4}, odd_w = {1, 2, 1, 4, 3},
                 empty = {1, 0, 1, 4, 4}, no_depth = {1, 2, 0, 4, 4};
        NF_ASSERT_FAILS(creates[k](&l, odd_d), NF_ERR_SHAPE);
        assert_null(l);
        assert_non_null(strstr(nf_last_error(), "depth 3"));
        NF_ASSERT_FAILS(creates[k](&l, odd_vh), NF_ERR_SHAPE);
        assert_non_null(strstr(nf_last_error(), "2x2x2"));
        NF_ASSERT_FAILS(creates[k](&l, no_depth), NF_ERR_SHAPE);
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
