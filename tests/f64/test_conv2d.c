/* conv2d in the double build, checked without trusting the reference loops:
 *  - an impulse response pins the forward's orientation to the documented formula;
 *  - <conv(x), g> == <x, conv^T(g)> ties backward-data to the forward;
 *  - central differences of L(W, b) = <conv(x; W, b), g> tie backward-weights to it.
 * Each check is also run on a deliberately wrong gradient (spatially flipped kernel)
 * to prove it fails. */
#include "nftest.h"

#include "kernels/conv2d.h"

typedef struct conv_case {
    int n, cin, cout, h, w, k;
    int nb; /* images per chunk; 0 = the default chunk rule */
} conv_case;

static const conv_case CASES[] = {
    {3, 4, 5, 6, 7, 3, 2}, {2, 3, 2, 5, 5, 1, 0}, {150, 2, 8, 1, 1, 3, 0},
    {150, 3, 2, 1, 1, 1, 0}, {4, 3, 5, 1, 5, 3, 3}, {5, 2, 3, 4, 3, 3, 0},
    {6, 8, 8, 16, 16, 3, 4}, /* big enough for the threaded reorder loops */
};

static double dot(const nf_real *a, const nf_real *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static nf_real *work_for(const conv_case *c) {
    size_t count = c->nb ? nf_conv2d_work_count_nb(c->nb, c->cin, c->cout, c->h, c->w, c->k)
                         : nf_conv2d_work_count(c->n, c->cin, c->cout, c->h, c->w, c->k);
    return malloc((count + 1) * sizeof(nf_real));
}

static int chunk_of(const conv_case *c) {
    return c->nb ? c->nb : nf_conv2d_chunk(c->n, c->cin, c->cout, c->h, c->w, c->k);
}

/* Reverses the k x k taps of every (co, ci) filter: a plausible indexing bug. */
static void flip_taps(nf_real *wt, int cout, int cin, int k) {
    int kk = k * k;
    for (int f = 0; f < cout * cin; f++)
        for (int t = 0; t < kk / 2; t++) {
            nf_real tmp = wt[f * kk + t];
            wt[f * kk + t] = wt[f * kk + kk - 1 - t];
            wt[f * kk + kk - 1 - t] = tmp;
        }
}

/* |<conv(x), g> - <x, conv^T(g)>| / (|conv(x)| |g|); with flip, conv^T uses the flipped kernel. */
static double adjoint_error(const conv_case *c, int flip, uint64_t seed) {
    int n = c->n, cin = c->cin, cout = c->cout, h = c->h, w = c->w, k = c->k, nb = chunk_of(c);
    size_t nin = (size_t)n * cin * h * w, nout = (size_t)n * cout * h * w;
    nf_tensor x = nftest_randn(n, cin, 1, h, w, seed), g = nftest_randn(n, cout, 1, h, w, seed + 1);
    nf_tensor wt = nftest_randn(cout, cin, 1, k, k, seed + 2);
    nf_tensor y = nftest_randn(n, cout, 1, h, w, 0), dx = nftest_randn(n, cin, 1, h, w, 0);
    nf_real *work = work_for(c);
    nf_conv2d_forward_nb(y.data, x.data, wt.data, NULL, n, cin, cout, h, w, k, nb, work);
    if (flip) flip_taps(wt.data, cout, cin, k);
    nf_conv2d_backward_data_nb(dx.data, g.data, wt.data, n, cin, cout, h, w, k, nb, work);
    double lhs = dot(y.data, g.data, nout), rhs = dot(x.data, dx.data, nin);
    double scale = sqrt(dot(y.data, y.data, nout) * dot(g.data, g.data, nout));
    free(work);
    nf_tensor *all[] = {&x, &g, &wt, &y, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
    return fabs(lhs - rhs) / scale;
}

/* Max over ndir random directions (u, v) of |FD - <dW, u> - <db, v>| / (|dW||u| + |db||v|)
 * for L(W, b) = <conv(x; W, b), g>; with flip, dW is flipped before comparing. */
static double weight_fd_error(const conv_case *c, int flip, int ndir, uint64_t seed) {
    int n = c->n, cin = c->cin, cout = c->cout, h = c->h, w = c->w, k = c->k, nb = chunk_of(c);
    size_t nw = (size_t)cout * cin * k * k, nout = (size_t)n * cout * h * w;
    nf_tensor x = nftest_randn(n, cin, 1, h, w, seed), g = nftest_randn(n, cout, 1, h, w, seed + 1);
    nf_tensor wt = nftest_randn(cout, cin, 1, k, k, seed + 2), b = nftest_randn(1, cout, 1, 1, 1, seed + 3);
    nf_tensor dw, db, wp, bp, y;
    if (nf_tensor_alloc(&dw, cout, cin, 1, k, k) || nf_tensor_alloc(&db, 1, cout, 1, 1, 1) ||
        nf_tensor_alloc(&wp, cout, cin, 1, k, k) || nf_tensor_alloc(&bp, 1, cout, 1, 1, 1) ||
        nf_tensor_alloc(&y, n, cout, 1, h, w))
        fail_msg("alloc: %s", nf_last_error());
    nf_real *work = work_for(c);
    nf_conv2d_backward_weights_nb(dw.data, db.data, g.data, x.data, n, cin, cout, h, w, k, nb, work);
    if (flip) flip_taps(dw.data, cout, cin, k);
    double eps = 1e-3, worst = 0;
    for (int d = 0; d < ndir; d++) {
        nf_tensor u = nftest_randn(cout, cin, 1, k, k, seed + 10 + d), v = nftest_randn(1, cout, 1, 1, 1, seed + 50 + d);
        double loss[2];
        for (int s = 0; s < 2; s++) {
            double sign = s ? -1 : 1;
            for (size_t i = 0; i < nw; i++) wp.data[i] = wt.data[i] + sign * eps * u.data[i];
            for (int i = 0; i < cout; i++) bp.data[i] = b.data[i] + sign * eps * v.data[i];
            nf_conv2d_forward_nb(y.data, x.data, wp.data, bp.data, n, cin, cout, h, w, k, nb, work);
            loss[s] = dot(y.data, g.data, nout);
        }
        double fd = (loss[0] - loss[1]) / (2 * eps);
        double an = dot(dw.data, u.data, nw) + dot(db.data, v.data, (size_t)cout);
        double scale = sqrt(dot(dw.data, dw.data, nw) * dot(u.data, u.data, nw)) +
                       sqrt(dot(db.data, db.data, (size_t)cout) * dot(v.data, v.data, (size_t)cout));
        double e = fabs(fd - an) / scale;
        if (e > worst) worst = e;
        nf_tensor_free(&u);
        nf_tensor_free(&v);
    }
    free(work);
    nf_tensor *all[] = {&x, &g, &wt, &b, &dw, &db, &wp, &bp, &y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
    return worst;
}

static void test_adjoint(void **state) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        double e = adjoint_error(&CASES[i], 0, 100 + 10 * i);
        if (e > 1e-12) fail_msg("case %zu: adjoint error %g", i, e);
        /* a flipped kernel is only detectable where the image is wider than one pixel */
        if (CASES[i].k == 3 && CASES[i].h * CASES[i].w > 1)
            assert_true(adjoint_error(&CASES[i], 1, 100 + 10 * i) > 1e-3);
    }
}

static void test_weight_gradient_fd(void **state) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        double e = weight_fd_error(&CASES[i], 0, 4, 200 + 10 * i);
        if (e > 1e-8) fail_msg("case %zu: backward_weights FD error %g", i, e);
        if (CASES[i].k == 3 && CASES[i].h * CASES[i].w > 1)
            assert_true(weight_fd_error(&CASES[i], 1, 4, 200 + 10 * i) > 1e-3);
    }
}

/* A unit impulse at x[b0, ci0, i0, j0] must give out[b0, co, i, j] = W[co, ci0, i0-i+p, j0-j+p]
 * (cross-correlation, p = k/2) and zero elsewhere, in the fast and the reference kernel. */
static void check_impulse(int fast, int n, int cin, int cout, int h, int w, int k, int b0, int ci0, int i0, int j0) {
    int pad = k / 2;
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, n, cin, 1, h, w));
    NF_ASSERT_OK(nf_tensor_alloc(&y, n, cout, 1, h, w));
    nf_tensor wt = nftest_randn(cout, cin, 1, k, k, 7);
    x.data[(((size_t)b0 * cin + ci0) * h + i0) * w + j0] = 1;
    nf_real *work = malloc((nf_conv2d_work_count(n, cin, cout, h, w, k) + 1) * sizeof(nf_real));
    if (fast)
        nf_conv2d_forward(y.data, x.data, wt.data, NULL, n, cin, cout, h, w, k, work);
    else
        nf_conv2d_forward_ref(y.data, x.data, wt.data, NULL, n, cin, cout, h, w, k);
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    int ki = i0 - i + pad, kj = j0 - j + pad;
                    nf_real want = 0;
                    if (b == b0 && ki >= 0 && ki < k && kj >= 0 && kj < k)
                        want = wt.data[((co * cin + ci0) * k + ki) * k + kj];
                    nf_real got = y.data[(((size_t)b * cout + co) * h + i) * w + j];
                    if (fabs(got - want) > 1e-14)
                        fail_msg("%s impulse at (%d,%d,%d,%d): out[%d,%d,%d,%d] = %g, want %g", fast ? "fast" : "ref",
                                 b0, ci0, i0, j0, b, co, i, j, got, want);
                }
    free(work);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_tensor_free(&wt);
}

static void test_impulse_response(void **state) {
    for (int fast = 0; fast < 2; fast++) {
        check_impulse(fast, 3, 2, 3, 5, 6, 3, 1, 1, 2, 3); /* interior */
        check_impulse(fast, 3, 2, 3, 5, 6, 3, 2, 0, 0, 5); /* corner */
        check_impulse(fast, 2, 3, 2, 4, 5, 1, 1, 2, 3, 1);
        check_impulse(fast, 4, 2, 3, 1, 1, 3, 3, 1, 0, 0); /* 1x1 image: centre tap */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impulse_response),
        cmocka_unit_test(test_adjoint),
        cmocka_unit_test(test_weight_gradient_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
