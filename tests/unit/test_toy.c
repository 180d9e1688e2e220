/* Toy 2-D densities: each sampler's defining relation and its moments. */
#include "nftest.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { N = 200000 };

typedef struct moments {
    double m[2], cov[3]; /* mean, (var1, cov12, var2) */
} moments;

static moments moments_of(const nf_real *x, int n) {
    moments r = {{0, 0}, {0, 0, 0}};
    for (int i = 0; i < n; i++) r.m[0] += x[2 * i] / (double)n, r.m[1] += x[2 * i + 1] / (double)n;
    for (int i = 0; i < n; i++) {
        double a = x[2 * i] - r.m[0], b = x[2 * i + 1] - r.m[1];
        r.cov[0] += a * a / n, r.cov[1] += a * b / n, r.cov[2] += b * b / n;
    }
    return r;
}

static nf_real *draw(const char *name, uint64_t seed) {
    nf_real *x = malloc(sizeof(nf_real) * 2 * N);
    nf_rng r;
    nf_rng_seed(&r, seed);
    NF_ASSERT_OK(nf_sample_toy(name, &r, x, N));
    return x;
}

static void test_banana(void **state) {
    nf_real *x = draw("banana", 1);
    moments m = moments_of(x, N);
    assert_true(fabs(m.m[0]) < 0.01);
    assert_true(fabs(m.m[1] - 8.0) < 0.05); /* 4 * (E a1^2 + 1) */
    assert_true(fabs(m.cov[0] - 1.0) < 0.02);
    assert_true(fabs(m.cov[2] - 33.0) < 1.0); /* 1 + 16 Var(a1^2) */
    double r = 0, r2 = 0; /* x2 - 4 (x1^2 + 1) = a2 ~ N(0, 1) */
    for (int i = 0; i < N; i++) {
        double a2 = x[2 * i + 1] - 4.0 * (x[2 * i] * x[2 * i] + 1.0);
        r += a2 / N, r2 += a2 * a2 / N;
    }
    assert_true(fabs(r) < 0.01 && fabs(r2 - 1.0) < 0.02);
    free(x);
}

static void test_moons(void **state) {
    const int n = 2001; /* odd: the second moon gets one more point, as in nmoons */
    nf_real *x = malloc(sizeof(nf_real) * 2 * n);
    nf_rng r;
    nf_rng_seed(&r, 3);
    nf_sample_moons(&r, x, n, 0.0);
    for (int i = 0; i < n; i++) {
        int up = i < n / 2, k = up ? i : i - n / 2, s = up ? n / 2 : n - n / 2;
        double t = M_PI * k / (s - 1);
        double ex = up ? cos(t) - 0.5 : 0.5 - cos(t), ey = up ? sin(t) : -sin(t);
        assert_true(fabs(x[2 * i] - ex) < 1e-6 && fabs(x[2 * i + 1] - ey) < 1e-6);
    }
    /* the two arcs end where nmoons puts them: (0.5, 0) -> (-1.5, 0) and (-0.5, 0) -> (1.5, 0) */
    assert_true(fabs(x[0] - 0.5) < 1e-6 && fabs(x[2 * (n / 2 - 1)] + 1.5) < 1e-6);
    assert_true(fabs(x[2 * (n / 2)] + 0.5) < 1e-6 && fabs(x[2 * (n - 1)] - 1.5) < 1e-6);
    nf_real *y = malloc(sizeof(nf_real) * 2 * n);
    nf_sample_moons(&r, y, n, 0.025);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 2 * n; i++) s1 += (y[i] - x[i]) / (2 * n), s2 += (double)(y[i] - x[i]) * (y[i] - x[i]) / (2 * n);
    assert_true(fabs(s1) < 0.003);
    assert_true(fabs(sqrt(s2) - 0.025) < 0.002); /* the added noise is N(0, 0.025^2) */
    free(y);
    free(x);
}

static void test_swirl(void **state) {
    nf_real *x = draw("swirl", 4);
    moments m = moments_of(x, N);
    assert_true(fabs(m.m[0]) < 0.01 && fabs(m.m[1]) < 0.01);
    assert_true(fabs(m.cov[0] + m.cov[2] - 1.04) < 0.02); /* rotation keeps |a|^2 */
    double v1 = 0, v2 = 0; /* untwisting gives the bar back */
    for (int i = 0; i < N; i++) {
        double a = x[2 * i], b = x[2 * i + 1], phi = -3.0 * sqrt(a * a + b * b);
        double u1 = cos(phi) * a - sin(phi) * b, u2 = sin(phi) * a + cos(phi) * b;
        v1 += u1 * u1 / N, v2 += u2 * u2 / N;
    }
    assert_true(fabs(v1 - 1.0) < 0.02);
    assert_true(fabs(v2 - 0.04) < 0.002);
    /* and the twist is real: the plain coordinates are not that bar */
    assert_true(fabs(m.cov[2] - 0.04) > 0.1);
    free(x);
}

static void test_parabola(void **state) {
    nf_real *x = draw("parabola", 5);
    moments m = moments_of(x, N);
    assert_true(fabs(m.m[1]) < 0.05);
    assert_true(fabs(m.cov[2] - 16.0) < 0.3);  /* x2 ~ N(0, 4^2) */
    assert_true(fabs(m.m[0] - 4.0) < 0.1);     /* E x2^2 / 4 */
    assert_true(fabs(m.cov[0] - 33.0) < 1.5);  /* Var(x2^2)/16 + 1 = 2*256/16 + 1 */
    double r = 0, r2 = 0;
    for (int i = 0; i < N; i++) {
        double e = x[2 * i] - 0.25 * x[2 * i + 1] * x[2 * i + 1];
        r += e / N, r2 += e * e / N;
    }
    assert_true(fabs(r) < 0.01 && fabs(r2 - 1.0) < 0.02);
    free(x);
}

static void test_gaussian(void **state) {
    nf_real *x = draw("gaussian", 6); /* mean (5, 7), cov [[2, 0.7], [0.7, 1]] */
    moments m = moments_of(x, N);
    assert_true(fabs(m.m[0] - 5.0) < 0.01 && fabs(m.m[1] - 7.0) < 0.01);
    assert_true(fabs(m.cov[0] - 2.0) < 0.03 && fabs(m.cov[1] - 0.7) < 0.02 && fabs(m.cov[2] - 1.0) < 0.02);
    nf_rng r;
    nf_rng_seed(&r, 1);
    const double mean[2] = {-1, 2}, c2[4] = {0.5, -0.3, -0.3, 0.4};
    NF_ASSERT_OK(nf_sample_gaussian2(&r, x, N, mean, c2));
    m = moments_of(x, N);
    assert_true(fabs(m.m[0] + 1.0) < 0.01 && fabs(m.m[1] - 2.0) < 0.01);
    assert_true(fabs(m.cov[0] - 0.5) < 0.01 && fabs(m.cov[1] + 0.3) < 0.01 && fabs(m.cov[2] - 0.4) < 0.01);
    const double indefinite[4] = {1, 2, 2, 1}, asym[4] = {1, 0.1, 0.2, 1}, negative[4] = {-1, 0, 0, 1};
    NF_ASSERT_FAILS(nf_sample_gaussian2(&r, x, 4, mean, indefinite), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_sample_gaussian2(&r, x, 4, mean, asym), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_sample_gaussian2(&r, x, 4, mean, negative), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_sample_gaussian2(&r, x, 4, NULL, c2), NF_ERR_ARG);
    free(x);
}

static void test_names(void **state) {
    nf_rng r;
    nf_rng_seed(&r, 1);
    nf_real x[8];
    NF_ASSERT_FAILS(nf_sample_toy("spiral", &r, x, 4), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "spiral"));
    NF_ASSERT_FAILS(nf_sample_toy(NULL, &r, x, 4), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_sample_toy("moons", &r, x, -1), NF_ERR_ARG);
    /* banana by name is the banana sampler itself, draw for draw */
    nf_real y[8];
    nf_rng a, b;
    nf_rng_seed(&a, 9);
    nf_rng_seed(&b, 9);
    NF_ASSERT_OK(nf_sample_toy("banana", &a, x, 4));
    nf_sample_banana(&b, y, 4);
    assert_memory_equal(x, y, sizeof x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_banana),   cmocka_unit_test(test_moons),    cmocka_unit_test(test_swirl),
        cmocka_unit_test(test_parabola), cmocka_unit_test(test_gaussian), cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
