/* Fast conv2d kernels (im2col + GEMM) against the reference loops, in float: forward,
 * backward-data, backward-weights, with and without bias, k = 1 and 3, odd sizes,
 * 1x1 images, several chunks with a short last one; scratch stays within its count. */
#include "nftest.h"

#include "kernels/conv2d.h"

#define GUARD 64            /* elements past the scratch that must stay untouched */
#define SENTINEL 12345.0f

typedef struct conv_case {
    int n, cin, cout, h, w, k;
    int nb; /* images per chunk; 0 = the default chunk rule */
} conv_case;

static const conv_case CASES[] = {
    {2, 3, 5, 8, 8, 3, 0},   {3, 4, 2, 5, 7, 3, 0},  {4, 6, 6, 5, 7, 1, 0}, /* odd h, w; cin != cout */
    {150, 2, 8, 1, 1, 3, 0}, {150, 8, 2, 1, 1, 1, 0},                       /* vectors as 1x1 images */
    {10, 3, 4, 5, 7, 3, 4},  {7, 5, 3, 6, 4, 1, 3},                         /* 3 chunks, last one short */
    {3, 2, 3, 1, 6, 3, 2},   {2, 2, 3, 5, 1, 3, 0},  {5, 3, 3, 2, 2, 3, 2}, /* rows, columns, 2x2 */
    {6, 8, 8, 16, 16, 3, 4}, {5, 64, 32, 16, 16, 1, 0},                     /* big enough for threads */
    {13, 8, 8, 32, 32, 3, 0},                                  /* default rule: chunks of 7 and 6 */
};

static size_t work_count(const conv_case *c) {
    return c->nb ? nf_conv2d_work_count_nb(c->nb, c->cin, c->cout, c->h, c->w, c->k)
                 : nf_conv2d_work_count(c->n, c->cin, c->cout, c->h, c->w, c->k);
}

/* Scratch of the case's size followed by GUARD sentinels. */
static nf_real *work_alloc(const conv_case *c) {
    size_t count = work_count(c);
    nf_real *work = malloc((count + GUARD) * sizeof(nf_real));
    assert_non_null(work);
    for (size_t i = 0; i < count + GUARD; i++) work[i] = SENTINEL;
    return work;
}

static void assert_guard_intact(const conv_case *c, const nf_real *work) {
    size_t count = work_count(c);
    for (size_t i = count; i < count + GUARD; i++) assert_true(work[i] == SENTINEL);
}

static void forward(const conv_case *c, nf_real *out, const nf_real *x, const nf_real *wt, const nf_real *b,
                    nf_real *work) {
    if (c->nb)
        nf_conv2d_forward_nb(out, x, wt, b, c->n, c->cin, c->cout, c->h, c->w, c->k, c->nb, work);
    else
        nf_conv2d_forward(out, x, wt, b, c->n, c->cin, c->cout, c->h, c->w, c->k, work);
}

static void backward_data(const conv_case *c, nf_real *dx, const nf_real *dout, const nf_real *wt, nf_real *work) {
    if (c->nb)
        nf_conv2d_backward_data_nb(dx, dout, wt, c->n, c->cin, c->cout, c->h, c->w, c->k, c->nb, work);
    else
        nf_conv2d_backward_data(dx, dout, wt, c->n, c->cin, c->cout, c->h, c->w, c->k, work);
}

static void backward_weights(const conv_case *c, nf_real *dw, nf_real *db, const nf_real *dout, const nf_real *x,
                             nf_real *work) {
    if (c->nb)
        nf_conv2d_backward_weights_nb(dw, db, dout, x, c->n, c->cin, c->cout, c->h, c->w, c->k, c->nb, work);
    else
        nf_conv2d_backward_weights(dw, db, dout, x, c->n, c->cin, c->cout, c->h, c->w, c->k, work);
}

static void check_case(const conv_case *c, int with_bias, uint64_t seed) {
    int n = c->n, cin = c->cin, cout = c->cout, h = c->h, w = c->w, k = c->k;
    size_t nw = (size_t)cout * cin * k * k, nout = (size_t)n * cout * h * w, nin = (size_t)n * cin * h * w;
    nf_tensor x = nftest_randn(n, cin, 1, h, w, seed);
    nf_tensor wt = nftest_randn(cout, cin, 1, k, k, seed + 1);
    nf_tensor b = nftest_randn(1, cout, 1, 1, 1, seed + 2);
    nf_tensor g = nftest_randn(n, cout, 1, h, w, seed + 3);
    const nf_real *bias = with_bias ? b.data : NULL;
    nf_real *work = work_alloc(c);

    /* forward */
    nf_tensor y = nftest_randn(n, cout, 1, h, w, 99), yref = nftest_randn(n, cout, 1, h, w, 98);
    forward(c, y.data, x.data, wt.data, bias, work);
    nf_conv2d_forward_ref(yref.data, x.data, wt.data, bias, n, cin, cout, h, w, k);
    double e = fc_rel_diff(y.data, yref.data, nout);
    if (e > 1e-5) fail_msg("forward n=%d cin=%d cout=%d %dx%d k=%d nb=%d bias=%d: rel err %g", n, cin, cout, h, w, k,
                           c->nb, with_bias, e);

    /* backward data: dx starts as garbage, must be overwritten */
    nf_tensor dx = nftest_randn(n, cin, 1, h, w, 97), dxref = nftest_randn(n, cin, 1, h, w, 96);
    backward_data(c, dx.data, g.data, wt.data, work);
    nf_conv2d_backward_data_ref(dxref.data, g.data, wt.data, n, cin, cout, h, w, k);
    e = fc_rel_diff(dx.data, dxref.data, nin);
    if (e > 1e-5) fail_msg("backward_data n=%d cin=%d cout=%d %dx%d k=%d nb=%d: rel err %g", n, cin, cout, h, w, k,
                           c->nb, e);

    /* backward weights: both start from the same non-zero values, must accumulate */
    nf_tensor dw = nftest_randn(cout, cin, 1, k, k, 95), dwref = nftest_randn(cout, cin, 1, k, k, 95);
    nf_tensor db = nftest_randn(1, cout, 1, 1, 1, 94), dbref = nftest_randn(1, cout, 1, 1, 1, 94);
    backward_weights(c, dw.data, with_bias ? db.data : NULL, g.data, x.data, work);
    nf_conv2d_backward_weights_ref(dwref.data, with_bias ? dbref.data : NULL, g.data, x.data, n, cin, cout, h, w, k);
    e = fc_rel_diff(dw.data, dwref.data, nw);
    if (e > 1e-5) fail_msg("backward_weights n=%d cin=%d cout=%d %dx%d k=%d nb=%d: rel err %g", n, cin, cout, h, w,
                           k, c->nb, e);
    e = fc_rel_diff(db.data, dbref.data, (size_t)cout);
    if (e > 1e-5) fail_msg("backward bias n=%d cout=%d: rel err %g", n, cout, e);

    assert_guard_intact(c, work);
    free(work);
    nf_tensor *all[] = {&x, &wt, &b, &g, &y, &yref, &dx, &dxref, &dw, &dwref, &db, &dbref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

static void test_matches_reference(void **state) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        check_case(&CASES[i], 1, 10 + 7 * i);
        check_case(&CASES[i], 0, 20 + 7 * i);
    }
}

/* A kernel that wrote out of place or dropped a chunk would not match; this also proves
 * the comparison itself can fail: a flipped kernel gives a large error. */
static void test_comparison_catches_flipped_kernel(void **state) {
    int n = 2, cin = 3, cout = 4, h = 5, w = 6, k = 3;
    nf_tensor x = nftest_randn(n, cin, 1, h, w, 1), wt = nftest_randn(cout, cin, 1, k, k, 2);
    nf_tensor flip = nftest_randn(cout, cin, 1, k, k, 2);
    for (int oc = 0; oc < cout * cin; oc++)
        for (int t = 0; t < 9; t++) flip.data[oc * 9 + t] = wt.data[oc * 9 + 8 - t];
    nf_tensor y = nftest_randn(n, cout, 1, h, w, 3), yref = nftest_randn(n, cout, 1, h, w, 4);
    nf_real *work = malloc(nf_conv2d_work_count(n, cin, cout, h, w, k) * sizeof(nf_real));
    nf_conv2d_forward(y.data, x.data, flip.data, NULL, n, cin, cout, h, w, k, work);
    nf_conv2d_forward_ref(yref.data, x.data, wt.data, NULL, n, cin, cout, h, w, k);
    assert_true(fc_rel_diff(y.data, yref.data, (size_t)n * cout * h * w) > 0.1);
    free(work);
    nf_tensor *all[] = {&x, &wt, &flip, &y, &yref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

/* The chunk rule: at least one image, scratch under the cap when an image fits, equal
 * chunks, the whole batch for 1x1 images; work_count follows the chosen chunk. */
static void test_chunk_rule(void **state) {
    const int shapes[][6] = {
        {64, 32, 64, 16, 16, 3}, {301, 16, 16, 32, 32, 3}, {1000, 64, 64, 32, 32, 3},
        {3, 512, 512, 128, 128, 3}, {150, 2, 8, 1, 1, 3},   {7, 3, 3, 8, 8, 1},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], cin = shapes[s][1], cout = shapes[s][2], h = shapes[s][3], w = shapes[s][4],
            k = shapes[s][5];
        int nb = nf_conv2d_chunk(n, cin, cout, h, w, k);
        assert_true(nb >= 1 && nb <= n);
        size_t per_image = nf_conv2d_work_count_nb(1, cin, cout, h, w, k);
        size_t count = nf_conv2d_work_count(n, cin, cout, h, w, k);
        assert_true(count == nf_conv2d_work_count_nb(nb, cin, cout, h, w, k));
        if (h == 1 && w == 1) {
            assert_int_equal(nb, n);
            assert_true(count == (size_t)cout * cin);
            continue;
        }
        assert_true(count == per_image * nb);
        if (per_image <= NF_CONV2D_WORK_TARGET) assert_true(count <= NF_CONV2D_WORK_TARGET);
        else assert_int_equal(nb, 1);
        int nchunks = (n + nb - 1) / nb;
        assert_true(n - (nchunks - 1) * nb >= nb - nchunks + 1); /* the last chunk is not a stub */
        assert_true(nf_conv2d_chunk(n, cin, cout, h, w, k) == nb); /* depends on the sizes only */
    }
    /* (8*9 + 32) * 256 = 26624 elements an image, 39 fit 1 Mi -> 2 equal chunks of 32 */
    assert_int_equal(nf_conv2d_chunk(64, 8, 32, 16, 16, 3), 32);
    /* (8*9 + 8) * 1024 = 81920 elements an image, 12 fit -> 2 chunks, of 7 and 6 */
    assert_int_equal(nf_conv2d_chunk(13, 8, 8, 32, 32, 3), 7);
    assert_int_equal(nf_conv2d_chunk(2, 8, 8, 32, 32, 3), 2);
    assert_true(nf_conv2d_work_count(150, 2, 8, 1, 1, 1) == 0);
}

static void test_check_sizes(void **state) {
    NF_ASSERT_OK(nf_conv2d_check("test", 150, 2, 8, 1, 1, 3));
    NF_ASSERT_OK(nf_conv2d_check("test", 4, 6, 6, 5, 7, 1));
    NF_ASSERT_FAILS(nf_conv2d_check("test", 4, 6, 6, 5, 7, 2), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv2d_check("test", 4, 6, 6, 5, 7, 5), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv2d_check("test", 0, 6, 6, 5, 7, 3), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv2d_check("test", 4, 6, -1, 5, 7, 3), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv2d_check("test", 4, 6, 6, 0, 7, 3), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv2d_check("test", 1, 4096, 4096, 1024, 1024, 3), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "test"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_comparison_catches_flipped_kernel),
        cmocka_unit_test(test_chunk_rule),
        cmocka_unit_test(test_check_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
