/* conv3d in the double build, checked without trusting the reference loops:
 *  - an impulse response pins the forward's orientation to the formula in conv3d.h;
 *  - <conv(x), g> == <x, conv^T(g)> ties backward-data to the forward;
 *  - central differences of L(W, b) = <conv(x; W, b), g> tie backward-weights to it.
 * Each check is also run on a deliberately wrong gradient (kernel flipped along depth)
 * to prove it fails. */
#include "nftest.h"

#include "kernels/conv3d.h"

typedef struct conv_case {
    int n, cin, cout, d, h, w, k;
    int nb; /* volumes per chunk; 0 = the default chunk rule */
} conv_case;

static const conv_case CASES[] = {
    {3, 3, 4, 3, 4, 5, 3, 2}, {2, 3, 2, 4, 3, 3, 1, 0}, {4, 2, 3, 5, 1, 3, 3, 3},
    {2, 2, 3, 2, 2, 2, 3, 0}, {3, 4, 4, 6, 6, 6, 3, 0}, /* big enough for the threaded reorder loops */
};

static double dot(const nf_real *a, const nf_real *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static int chunk_of(const conv_case *c) {
    return c->nb ? c->nb : nf_conv3d_chunk(c->n, c->cin, c->cout, c->d, c->h, c->w, c->k);
}

static nf_real *work_for(const conv_case *c) {
    return malloc((nf_conv3d_work_count_nb(chunk_of(c), c->cin, c->cout, c->d, c->h, c->w, c->k) + 1) *
                  sizeof(nf_real));
}

/* Reverses the depth taps of every (co, ci) filter: a plausible indexing bug. */
static void flip_depth(nf_real *wt, int cout, int cin, int k) {
    int kk = k * k, kkk = kk * k;
    for (int f = 0; f < cout * cin; f++)
        for (int kz = 0; kz < k / 2; kz++)
            for (int t = 0; t < kk; t++) {
                nf_real *a = wt + (size_t)f * kkk + kz * kk + t, *b = wt + (size_t)f * kkk + (k - 1 - kz) * kk + t;
                nf_real tmp = *a;
                *a = *b;
                *b = tmp;
            }
}

/* |<conv(x), g> - <x, conv^T(g)>| / (|conv(x)| |g|); with flip, conv^T uses the flipped kernel. */
static double adjoint_error(const conv_case *c, int flip, uint64_t seed) {
    int n = c->n, cin = c->cin, cout = c->cout, d = c->d, h = c->h, w = c->w, k = c->k, nb = chunk_of(c);
    nf_tensor x = nftest_randn(n, cin, d, h, w, seed), g = nftest_randn(n, cout, d, h, w, seed + 1);
    nf_tensor wt = nftest_randn(cout, cin, k, k, k, seed + 2);
    nf_tensor y = nftest_randn(n, cout, d, h, w, 0), dx = nftest_randn(n, cin, d, h, w, 0);
    nf_real *work = work_for(c);
    nf_conv3d_forward_nb(y.data, x.data, wt.data, NULL, n, cin, cout, d, h, w, k, nb, work);
    if (flip) flip_depth(wt.data, cout, cin, k);
    nf_conv3d_backward_data_nb(dx.data, g.data, wt.data, n, cin, cout, d, h, w, k, nb, work);
    size_t nout = nf_tensor_count(&y);
    double lhs = dot(y.data, g.data, nout), rhs = dot(x.data, dx.data, nf_tensor_count(&x));
    double scale = sqrt(dot(y.data, y.data, nout) * dot(g.data, g.data, nout));
    free(work);
    nf_tensor *all[] = {&x, &g, &wt, &y, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
    return fabs(lhs - rhs) / scale;
}

/* Max over ndir random directions (u, v) of |FD - <dW, u> - <db, v>| / (|dW||u| + |db||v|)
 * for L(W, b) = <conv(x; W, b), g>; with flip, dW is flipped before comparing. */
static double weight_fd_error(const conv_case *c, int flip, int ndir, uint64_t seed) {
    int n = c->n, cin = c->cin, cout = c->cout, d = c->d, h = c->h, w = c->w, k = c->k, nb = chunk_of(c);
    size_t nw = (size_t)cout * cin * k * k * k;
    nf_tensor x = nftest_randn(n, cin, d, h, w, seed), g = nftest_randn(n, cout, d, h, w, seed + 1);
    nf_tensor wt = nftest_randn(cout, cin, k, k, k, seed + 2), b = nftest_randn(1, cout, 1, 1, 1, seed + 3);
    nf_tensor dw = nftest_randn(cout, cin, k, k, k, 0), db = nftest_randn(1, cout, 1, 1, 1, 0);
    nf_tensor wp = nftest_randn(cout, cin, k, k, k, 0), bp = nftest_randn(1, cout, 1, 1, 1, 0);
    nf_tensor y = nftest_randn(n, cout, d, h, w, 0);
    memset(dw.data, 0, nw * sizeof(nf_real));
    memset(db.data, 0, (size_t)cout * sizeof(nf_real));
    nf_real *work = work_for(c);
    nf_conv3d_backward_weights_nb(dw.data, db.data, g.data, x.data, n, cin, cout, d, h, w, k, nb, work);
    if (flip) flip_depth(dw.data, cout, cin, k);
    double eps = 1e-3, worst = 0;
    for (int dir = 0; dir < ndir; dir++) {
        nf_tensor u = nftest_randn(cout, cin, k, k, k, seed + 10 + dir), v = nftest_randn(1, cout, 1, 1, 1, seed + 50 + dir);
        double loss[2];
        for (int s = 0; s < 2; s++) {
            double sign = s ? -1 : 1;
            for (size_t i = 0; i < nw; i++) wp.data[i] = wt.data[i] + sign * eps * u.data[i];
            for (int i = 0; i < cout; i++) bp.data[i] = b.data[i] + sign * eps * v.data[i];
            nf_conv3d_forward_nb(y.data, x.data, wp.data, bp.data, n, cin, cout, d, h, w, k, nb, work);
            loss[s] = dot(y.data, g.data, nf_tensor_count(&y));
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
        if (CASES[i].k == 3) assert_true(adjoint_error(&CASES[i], 1, 100 + 10 * i) > 1e-3);
    }
}

static void test_weight_gradient_fd(void **state) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        double e = weight_fd_error(&CASES[i], 0, 4, 200 + 10 * i);
        if (e > 1e-8) fail_msg("case %zu: backward_weights FD error %g", i, e);
        if (CASES[i].k == 3) assert_true(weight_fd_error(&CASES[i], 1, 4, 200 + 10 * i) > 1e-3);
    }
}

/* A unit impulse at x[b0, ci0, z0, i0, j0] must give
 * out[b0, co, z, i, j] = W[co, ci0, z0-z+p, i0-i+p, j0-j+p] (p = k/2) and zero elsewhere,
 * in the fast and the reference kernel. */
static void check_impulse(int fast, int n, int cin, int cout, int d, int h, int w, int k, const int at[5]) {
    int p = k / 2;
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, n, cin, d, h, w));
    NF_ASSERT_OK(nf_tensor_alloc(&y, n, cout, d, h, w));
    nf_tensor wt = nftest_randn(cout, cin, k, k, k, 7);
    x.data[((((size_t)at[0] * cin + at[1]) * d + at[2]) * h + at[3]) * w + at[4]] = 1;
    nf_real *work = malloc((nf_conv3d_work_count(n, cin, cout, d, h, w, k) + 1) * sizeof(nf_real));
    if (fast) nf_conv3d_forward(y.data, x.data, wt.data, NULL, n, cin, cout, d, h, w, k, work);
    else nf_conv3d_forward_ref(y.data, x.data, wt.data, NULL, n, cin, cout, d, h, w, k);
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int z = 0; z < d; z++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++) {
                        int kz = at[2] - z + p, ki = at[3] - i + p, kj = at[4] - j + p;
                        nf_real want = 0;
                        if (b == at[0] && kz >= 0 && kz < k && ki >= 0 && ki < k && kj >= 0 && kj < k)
                            want = wt.data[(((size_t)(co * cin + at[1]) * k + kz) * k + ki) * k + kj];
                        nf_real got = y.data[((((size_t)b * cout + co) * d + z) * h + i) * w + j];
                        if (fabs(got - want) > 1e-14)
                            fail_msg("%s impulse: out[%d,%d,%d,%d,%d] = %g, want %g", fast ? "fast" : "ref", b, co,
                                     z, i, j, got, want);
                    }
    free(work);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_tensor_free(&wt);
}

static void test_impulse_response(void **state) {
    const int interior[5] = {1, 1, 2, 2, 3}, corner[5] = {2, 0, 0, 3, 0}, far[5] = {0, 1, 3, 0, 4};
    for (int fast = 0; fast < 2; fast++) {
        check_impulse(fast, 3, 2, 3, 4, 4, 5, 3, interior);
        check_impulse(fast, 3, 2, 3, 4, 4, 5, 3, corner);
        check_impulse(fast, 3, 2, 3, 4, 4, 5, 3, far);
        check_impulse(fast, 2, 3, 2, 4, 3, 5, 1, far);
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
