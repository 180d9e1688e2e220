/* Channel-major conv kernels (conv2d_cm.h) against the NCHW reference loops, in float:
 * forward with/without bias and ReLU, backward (weights, bias, data, the ReLU mask, no dx,
 * dx written over x) for k = 1 and 3, both sides of the 3x3 (cin <= cout gathers,
 * cin > cout scatters), odd sizes, rows, columns, 2x2 and 1x1 images; scratch stays
 * within its count; a mirrored kernel is caught. */
#include "nftest.h"

#include "kernels/conv2d.h"
#include "kernels/conv2d_cm.h"

#define GUARD 64
#define SENTINEL 12345.0f

typedef struct cm_case {
    int nb, cin, cout, h, w, k;
} cm_case;

static const cm_case CASES[] = {
    {2, 3, 5, 8, 8, 3},  {3, 5, 2, 5, 7, 3},  {4, 6, 6, 5, 7, 1},  /* gather, scatter, 1x1 */
    {1, 2, 64, 16, 16, 3}, {4, 64, 4, 4, 4, 3}, {3, 16, 16, 2, 2, 3}, /* the sub-network's shapes */
    {5, 2, 8, 1, 1, 3},  {5, 8, 2, 1, 1, 3},  {5, 8, 2, 1, 1, 1},  /* vectors as 1x1 images */
    {3, 2, 3, 1, 6, 3},  {2, 3, 2, 5, 1, 3},  {2, 4, 4, 3, 3, 3},  /* rows, columns, cin == cout */
};

static nf_real *work_alloc(const cm_case *c, size_t *count) {
    *count = nf_cm_conv_work_count(c->nb, c->cin, c->cout, c->h, c->w, c->k);
    nf_real *work = malloc((*count + GUARD) * sizeof(nf_real));
    assert_non_null(work);
    for (size_t i = 0; i < *count + GUARD; i++) work[i] = SENTINEL;
    return work;
}

static void relu(nf_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

static void expect_close(const char *what, const cm_case *c, const nf_real *a, const nf_real *b, size_t n) {
    double e = fc_rel_diff(a, b, n);
    if (e > 1e-5)
        fail_msg("%s nb=%d cin=%d cout=%d %dx%d k=%d: rel err %g", what, c->nb, c->cin, c->cout, c->h, c->w, c->k, e);
}

/* relu_flags: bit 0 = ReLU after the forward, bit 1 = x is a ReLU output (mask dx). */
static void check_case(const cm_case *c, int with_bias, int relu_flags, uint64_t seed) {
    int nb = c->nb, cin = c->cin, cout = c->cout, h = c->h, w = c->w, k = c->k;
    size_t hw = (size_t)h * w, nin = (size_t)nb * cin * hw, nout = (size_t)nb * cout * hw;
    size_t nw = (size_t)cout * cin * k * k, count;
    nf_tensor x = nftest_randn(nb, cin, 1, h, w, seed), wt = nftest_randn(cout, cin, 1, k, k, seed + 1);
    nf_tensor b = nftest_randn(1, cout, 1, 1, 1, seed + 2), g = nftest_randn(nb, cout, 1, h, w, seed + 3);
    if (relu_flags & 2) relu(x.data, nin);
    const nf_real *bias = with_bias ? b.data : NULL;
    nf_real *work = work_alloc(c, &count);
    nf_real *xcm = malloc(nin * sizeof(nf_real)), *gcm = malloc(nout * sizeof(nf_real));
    nf_real *ycm = malloc(nout * sizeof(nf_real)), *yref_cm = malloc(nout * sizeof(nf_real));
    nf_real *dxcm = malloc(nin * sizeof(nf_real)), *dxref_cm = malloc(nin * sizeof(nf_real));
    nftest_to_cm(xcm, x.data, nb, cin, hw);
    nftest_to_cm(gcm, g.data, nb, cout, hw);

    /* forward */
    nf_tensor yref = nftest_randn(nb, cout, 1, h, w, 98);
    nf_conv2d_forward_ref(yref.data, x.data, wt.data, bias, nb, cin, cout, h, w, k);
    if (relu_flags & 1) relu(yref.data, nout);
    nftest_to_cm(yref_cm, yref.data, nb, cout, hw);
    for (size_t i = 0; i < nout; i++) ycm[i] = 77; /* garbage that must be overwritten */
    nf_cm_conv_forward(ycm, xcm, wt.data, bias, relu_flags & 1, nb, cin, cout, h, w, k, work);
    expect_close("forward", c, ycm, yref_cm, nout);

    /* backward: gradients accumulate onto the same non-zero start */
    nf_tensor dw = nftest_randn(cout, cin, 1, k, k, 95), dwref = nftest_randn(cout, cin, 1, k, k, 95);
    nf_tensor db = nftest_randn(1, cout, 1, 1, 1, 94), dbref = nftest_randn(1, cout, 1, 1, 1, 94);
    nf_tensor dxref = nftest_randn(nb, cin, 1, h, w, 96);
    nf_conv2d_backward_weights_ref(dwref.data, with_bias ? dbref.data : NULL, g.data, x.data, nb, cin, cout, h, w, k);
    nf_conv2d_backward_data_ref(dxref.data, g.data, wt.data, nb, cin, cout, h, w, k);
    if (relu_flags & 2)
        for (size_t i = 0; i < nin; i++) dxref.data[i] = x.data[i] > 0 ? dxref.data[i] : 0;
    nftest_to_cm(dxref_cm, dxref.data, nb, cin, hw);
    for (size_t i = 0; i < nin; i++) dxcm[i] = 55;
    nf_cm_conv_backward(dxcm, dw.data, with_bias ? db.data : NULL, gcm, xcm, wt.data, relu_flags & 2 ? 1 : 0, nb, cin,
                        cout, h, w, k, work);
    expect_close("backward weights", c, dw.data, dwref.data, nw);
    expect_close("backward bias", c, db.data, dbref.data, (size_t)cout);
    expect_close("backward data", c, dxcm, dxref_cm, nin);

    /* without dx: only the gradients, accumulated a second time */
    nf_conv2d_backward_weights_ref(dwref.data, NULL, g.data, x.data, nb, cin, cout, h, w, k);
    nf_cm_conv_backward(NULL, dw.data, NULL, gcm, xcm, wt.data, 0, nb, cin, cout, h, w, k, work);
    expect_close("backward weights, no dx", c, dw.data, dwref.data, nw);

    /* dx written over x (allowed without the ReLU mask) */
    if (!(relu_flags & 2)) {
        nf_conv2d_backward_data_ref(dxref.data, g.data, wt.data, nb, cin, cout, h, w, k);
        nftest_to_cm(dxref_cm, dxref.data, nb, cin, hw);
        nf_conv2d_backward_weights_ref(dwref.data, NULL, g.data, x.data, nb, cin, cout, h, w, k);
        nf_cm_conv_backward(xcm, dw.data, NULL, gcm, xcm, wt.data, 0, nb, cin, cout, h, w, k, work);
        expect_close("backward data over x", c, xcm, dxref_cm, nin);
        expect_close("backward weights, dx over x", c, dw.data, dwref.data, nw);
    }

    for (size_t i = count; i < count + GUARD; i++) assert_true(work[i] == SENTINEL);
    free(work), free(xcm), free(gcm), free(ycm), free(yref_cm), free(dxcm), free(dxref_cm);
    nf_tensor *all[] = {&x, &wt, &b, &g, &yref, &dw, &dwref, &db, &dbref, &dxref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

static void test_matches_reference(void **state) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        for (int flags = 0; flags < 4; flags++) {
            check_case(&CASES[i], 1, flags, 10 + 13 * i + flags);
            check_case(&CASES[i], 0, flags, 500 + 13 * i + flags);
        }
}

/* The comparison can fail: mirrored taps give a large error on both sides of the 3x3. */
static void test_catches_mirrored_kernel(void **state) {
    const cm_case sides[2] = {{2, 3, 5, 6, 7, 3}, {2, 5, 3, 6, 7, 3}};
    for (int s = 0; s < 2; s++) {
        const cm_case *c = &sides[s];
        size_t hw = (size_t)c->h * c->w, nout = (size_t)c->nb * c->cout * hw, count;
        nf_tensor x = nftest_randn(c->nb, c->cin, 1, c->h, c->w, 1), wt = nftest_randn(c->cout, c->cin, 1, 3, 3, 2);
        nf_tensor flip = nftest_randn(c->cout, c->cin, 1, 3, 3, 2);
        for (int f = 0; f < c->cout * c->cin; f++)
            for (int t = 0; t < 9; t++) flip.data[f * 9 + t] = wt.data[f * 9 + 8 - t];
        nf_tensor yref = nftest_randn(c->nb, c->cout, 1, c->h, c->w, 3);
        nf_real *xcm = malloc((size_t)c->nb * c->cin * hw * sizeof(nf_real));
        nf_real *y = malloc(nout * sizeof(nf_real)), *yr = malloc(nout * sizeof(nf_real));
        nf_real *work = work_alloc(c, &count);
        nftest_to_cm(xcm, x.data, c->nb, c->cin, hw);
        nf_cm_conv_forward(y, xcm, flip.data, NULL, 0, c->nb, c->cin, c->cout, c->h, c->w, 3, work);
        nf_conv2d_forward_ref(yref.data, x.data, wt.data, NULL, c->nb, c->cin, c->cout, c->h, c->w, 3);
        nftest_to_cm(yr, yref.data, c->nb, c->cout, hw);
        assert_true(fc_rel_diff(y, yr, nout) > 0.1);
        free(xcm), free(y), free(yr), free(work);
        nf_tensor *all[] = {&x, &wt, &flip, &yref};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_catches_mirrored_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
