/* oneDNN's 3x3 convolutions (conv2d_dnnl.h; built with NFLOW_DNNL only) against the NCHW
 * reference loops and against the im2col kernels of conv2d_cm.h, on channel-major
 * chunks: forward with/without bias and ReLU, backward (weights and bias accumulated,
 * data, the ReLU mask, no dx, dx written over x); odd sizes, channels that are not
 * multiples of 8 or 16, one image and several, rows, columns, 2x2 images; each shape run
 * twice (the second call reuses the thread's plan); two threads at once; a mirrored
 * kernel is caught; what oneDNN declines is said (the backend switch: test_conv_backend.c). */
#include "nftest.h"

#include "kernels/conv2d.h"
#include "kernels/conv2d_cm.h"
#include "kernels/conv2d_dnnl.h"

#include <omp.h>

typedef struct dn_case {
    int nb, cin, cout, h, w;
} dn_case;

static const dn_case CASES[] = {
    {2, 3, 5, 8, 8},   {3, 5, 2, 5, 7},    {1, 17, 9, 7, 5},  /* odd sizes and channels */
    {1, 2, 64, 16, 16}, {8, 4, 64, 8, 8},  {32, 8, 64, 4, 4}, /* B1's conv1 at its 3 levels */
    {2, 64, 4, 16, 16}, {8, 64, 8, 8, 8},  {4, 64, 16, 4, 4}, /* B1's conv3 */
    {3, 2, 3, 1, 6},   {2, 3, 2, 5, 1},    {3, 16, 16, 2, 2}, /* rows, columns, 2x2 */
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* Float against float with another summation order: oneDNN's and OpenBLAS's FMA
 * blocking differ from the reference's plain loop by a few ulps of the sums. */
#define TOL 2e-5

/* Everything one case produces, in channel-major layout. */
typedef struct results {
    nf_real *y, *dx, *dw, *db;
} results;

typedef struct inputs {
    nf_real *x, *g, *wt, *b; /* x, dout channel-major; x a ReLU output when relu_in */
} inputs;

static size_t n_in(const dn_case *c) { return (size_t)c->nb * c->cin * c->h * c->w; }
static size_t n_out(const dn_case *c) { return (size_t)c->nb * c->cout * c->h * c->w; }
static size_t n_wt(const dn_case *c) { return (size_t)c->cout * c->cin * 9; }

static results results_alloc(const dn_case *c) {
    results r = {malloc(n_out(c) * sizeof(nf_real)), malloc(n_in(c) * sizeof(nf_real)),
                 malloc(n_wt(c) * sizeof(nf_real)), malloc((size_t)c->cout * sizeof(nf_real))};
    assert_true(r.y && r.dx && r.dw && r.db);
    for (size_t i = 0; i < n_wt(c); i++) r.dw[i] = (nf_real)(0.01 * (double)(i % 7)); /* gradients accumulate */
    for (int i = 0; i < c->cout; i++) r.db[i] = (nf_real)(0.1 * i);
    for (size_t i = 0; i < n_out(c); i++) r.y[i] = 77; /* garbage that must be overwritten */
    for (size_t i = 0; i < n_in(c); i++) r.dx[i] = 55;
    return r;
}

static void results_free(results *r) { free(r->y), free(r->dx), free(r->dw), free(r->db); }

/* The inputs of case c in channel-major layout, from the seeded NCHW tensors in nchw. */
static inputs inputs_make(const dn_case *c, int relu_in, uint64_t seed, nf_tensor nchw[4]) {
    size_t hw = (size_t)c->h * c->w;
    nchw[0] = nftest_randn(c->nb, c->cin, 1, c->h, c->w, seed);
    nchw[1] = nftest_randn(c->nb, c->cout, 1, c->h, c->w, seed + 1);
    nchw[2] = nftest_randn(c->cout, c->cin, 1, 3, 3, seed + 2);
    nchw[3] = nftest_randn(1, c->cout, 1, 1, 1, seed + 3);
    if (relu_in)
        for (size_t i = 0; i < n_in(c); i++) nchw[0].data[i] = nchw[0].data[i] > 0 ? nchw[0].data[i] : 0;
    inputs in = {malloc(n_in(c) * sizeof(nf_real)), malloc(n_out(c) * sizeof(nf_real)), nchw[2].data, nchw[3].data};
    assert_true(in.x && in.g);
    nftest_to_cm(in.x, nchw[0].data, c->nb, c->cin, hw);
    nftest_to_cm(in.g, nchw[1].data, c->nb, c->cout, hw);
    return in;
}

/* The reference loops, moved into channel-major layout. */
static void run_reference(results *r, const dn_case *c, const nf_tensor nchw[4], int bias, int relu, int relu_in) {
    size_t hw = (size_t)c->h * c->w;
    nf_tensor y, dx;
    NF_ASSERT_OK(nf_tensor_alloc(&y, c->nb, c->cout, 1, c->h, c->w));
    NF_ASSERT_OK(nf_tensor_alloc(&dx, c->nb, c->cin, 1, c->h, c->w));
    nf_conv2d_forward_ref(y.data, nchw[0].data, nchw[2].data, bias ? nchw[3].data : NULL, c->nb, c->cin, c->cout,
                          c->h, c->w, 3);
    if (relu)
        for (size_t i = 0; i < n_out(c); i++) y.data[i] = y.data[i] > 0 ? y.data[i] : 0;
    nf_conv2d_backward_weights_ref(r->dw, bias ? r->db : NULL, nchw[1].data, nchw[0].data, c->nb, c->cin, c->cout,
                                   c->h, c->w, 3);
    nf_conv2d_backward_data_ref(dx.data, nchw[1].data, nchw[2].data, c->nb, c->cin, c->cout, c->h, c->w, 3);
    if (relu_in)
        for (size_t i = 0; i < n_in(c); i++) dx.data[i] = nchw[0].data[i] > 0 ? dx.data[i] : 0;
    nftest_to_cm(r->y, y.data, c->nb, c->cout, hw);
    nftest_to_cm(r->dx, dx.data, c->nb, c->cin, hw);
    nf_tensor_free(&y), nf_tensor_free(&dx);
}

static void run_im2col(results *r, const dn_case *c, const inputs *in, int bias, int relu, int relu_in) {
    size_t count = nf_cm_conv_work_count(c->nb, c->cin, c->cout, c->h, c->w, 3);
    nf_real *work = malloc(count * sizeof(nf_real));
    assert_non_null(work);
    nf_cm_conv_forward(r->y, in->x, in->wt, bias ? in->b : NULL, relu, c->nb, c->cin, c->cout, c->h, c->w, 3, work);
    nf_cm_conv_backward(r->dx, r->dw, bias ? r->db : NULL, in->g, in->x, in->wt, relu_in, c->nb, c->cin, c->cout, c->h,
                        c->w, 3, work);
    free(work);
}

static nf_status run_dnnl(results *r, const dn_case *c, const inputs *in, int bias, int relu, int relu_in) {
    nf_status s = nf_dnnl_conv_forward(r->y, in->x, in->wt, bias ? in->b : NULL, relu, c->nb, c->cin, c->cout, c->h,
                                       c->w, 3);
    if (s != NF_OK) return s;
    return nf_dnnl_conv_backward(r->dx, r->dw, bias ? r->db : NULL, in->g, in->x, in->wt, relu_in, c->nb, c->cin,
                                 c->cout, c->h, c->w, 3);
}

static void expect_close(const char *what, const dn_case *c, int flags, const results *a, const results *b) {
    double e[4] = {fc_rel_diff(a->y, b->y, n_out(c)), fc_rel_diff(a->dx, b->dx, n_in(c)),
                   fc_rel_diff(a->dw, b->dw, n_wt(c)), fc_rel_diff(a->db, b->db, (size_t)c->cout)};
    for (int i = 0; i < 4; i++)
        if (!(e[i] <= TOL))
            fail_msg("%s nb=%d cin=%d cout=%d %dx%d flags=%d: forward %g, dx %g, dweight %g, dbias %g", what, c->nb,
                     c->cin, c->cout, c->h, c->w, flags, e[0], e[1], e[2], e[3]);
}

/* flags: bit 0 bias, bit 1 ReLU after the forward, bit 2 x is a ReLU output. */
static void check_case(const dn_case *c, int flags, uint64_t seed) {
    int bias = flags & 1, relu = (flags >> 1) & 1, relu_in = (flags >> 2) & 1;
    nf_tensor nchw[4];
    inputs in = inputs_make(c, relu_in, seed, nchw);
    results ref = results_alloc(c), im = results_alloc(c), dn = results_alloc(c);
    run_reference(&ref, c, nchw, bias, relu, relu_in);
    run_im2col(&im, c, &in, bias, relu, relu_in);
    NF_ASSERT_OK(run_dnnl(&dn, c, &in, bias, relu, relu_in));
    expect_close("oneDNN vs reference", c, flags, &dn, &ref);
    expect_close("oneDNN vs im2col", c, flags, &dn, &im);
    expect_close("im2col vs reference", c, flags, &im, &ref);

    /* no dx: the gradients accumulate a second time, dx is left alone */
    nf_conv2d_backward_weights_ref(ref.dw, bias ? ref.db : NULL, nchw[1].data, nchw[0].data, c->nb, c->cin, c->cout,
                                   c->h, c->w, 3);
    NF_ASSERT_OK(nf_dnnl_conv_backward(NULL, dn.dw, bias ? dn.db : NULL, in.g, in.x, in.wt, 0, c->nb, c->cin, c->cout,
                                       c->h, c->w, 3));
    expect_close("oneDNN without dx vs reference", c, flags, &dn, &ref);

    /* dx written over x (allowed without the ReLU mask) */
    if (!relu_in) {
        nf_conv2d_backward_weights_ref(ref.dw, NULL, nchw[1].data, nchw[0].data, c->nb, c->cin, c->cout, c->h, c->w, 3);
        NF_ASSERT_OK(nf_dnnl_conv_backward(in.x, dn.dw, NULL, in.g, in.x, in.wt, 0, c->nb, c->cin, c->cout, c->h, c->w,
                                           3));
        memcpy(dn.dx, in.x, n_in(c) * sizeof(nf_real));
        expect_close("oneDNN dx over x vs reference", c, flags, &dn, &ref);
    }
    results_free(&ref), results_free(&im), results_free(&dn);
    free(in.x), free(in.g);
    for (int i = 0; i < 4; i++) nf_tensor_free(&nchw[i]);
}

static void test_matches_reference_and_im2col(void **state) {
    for (int round = 0; round < 2; round++) /* the second round runs on the cached plans */
        for (size_t i = 0; i < NCASES; i++)
            for (int flags = 0; flags < 8; flags++) check_case(&CASES[i], flags, 10 + 17 * i + flags);
}

/* Two threads at once, each on its own plans (nflow's coupling passes call like this). */
static void test_two_threads(void **state) {
    int failed = 0;
#pragma omp parallel num_threads(2) reduction(+ : failed)
    {
        for (size_t i = (size_t)omp_get_thread_num(); i < NCASES; i += 2) {
            const dn_case *c = &CASES[i];
            nf_tensor nchw[4];
            inputs in = inputs_make(c, 0, 300 + i, nchw);
            results im = results_alloc(c), dn = results_alloc(c);
            run_im2col(&im, c, &in, 1, 1, 0);
            if (run_dnnl(&dn, c, &in, 1, 1, 0) != NF_OK) failed++;
            double e = fmax(fc_rel_diff(dn.y, im.y, n_out(c)), fc_rel_diff(dn.dw, im.dw, n_wt(c)));
            e = fmax(e, fc_rel_diff(dn.dx, im.dx, n_in(c)));
            if (!(e <= TOL)) failed++;
            results_free(&im), results_free(&dn);
            free(in.x), free(in.g);
            for (int k = 0; k < 4; k++) nf_tensor_free(&nchw[k]);
        }
    }
    assert_int_equal(failed, 0);
}

/* The comparison can fail: mirrored taps give a large error. */
static void test_catches_mirrored_kernel(void **state) {
    const dn_case *c = &CASES[0];
    nf_tensor nchw[4];
    inputs in = inputs_make(c, 0, 7, nchw);
    results ref = results_alloc(c), dn = results_alloc(c);
    run_reference(&ref, c, nchw, 1, 0, 0);
    for (size_t f = 0; f < (size_t)c->cout * c->cin; f++)
        for (int t = 0; t < 4; t++) {
            nf_real v = in.wt[f * 9 + t];
            in.wt[f * 9 + t] = in.wt[f * 9 + 8 - t];
            in.wt[f * 9 + 8 - t] = v;
        }
    NF_ASSERT_OK(run_dnnl(&dn, c, &in, 1, 0, 0));
    assert_true(fc_rel_diff(dn.y, ref.y, n_out(c)) > 0.1);
    assert_true(fc_rel_diff(dn.dx, ref.dx, n_in(c)) > 0.1);
    results_free(&ref), results_free(&dn);
    free(in.x), free(in.g);
    for (int i = 0; i < 4; i++) nf_tensor_free(&nchw[i]);
}

/* 1x1 kernels and 1x1 images stay with the GEMM kernels; asking oneDNN says why. */
static void test_declines(void **state) {
    assert_false(nf_dnnl_conv_takes(4, 8, 8, 8, 8, 1));
    assert_false(nf_dnnl_conv_takes(4, 8, 8, 1, 1, 3));
    assert_true(nf_dnnl_conv_takes(4, 8, 8, 1, 2, 3));
    nf_real x[32] = {0}, wt[576] = {0}, y[32];
    NF_ASSERT_FAILS(nf_dnnl_conv_forward(y, x, wt, NULL, 0, 4, 8, 8, 1, 1, 3), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_dnnl_conv_forward(y, x, wt, NULL, 0, 4, 8, 8, 1, 1, 1), NF_ERR_SHAPE);
    assert_true(strlen(nf_dnnl_conv_impl(2, 8, 64, 8, 8, 3)) > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference_and_im2col),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_catches_mirrored_kernel),
        cmocka_unit_test(test_declines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
