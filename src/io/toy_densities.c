/* In-library samplers of the tutorials' toy 2-D densities. */
#include "nf_internal.h"

#include <math.h>
#include <string.h>

void nf_sample_banana(nf_rng *r, nf_real *x, int n) {
    const double c1 = 1.0, c2 = 4.0;
    for (int i = 0; i < n; i++) {
        double a1 = nf_rng_normal(r), a2 = nf_rng_normal(r);
        x[2 * i] = (nf_real)(a1 / c1);
        x[2 * i + 1] = (nf_real)(a2 * c1 + c1 * c2 * (a1 * a1 + c1 * c1));
    }
}

void nf_sample_moons(nf_rng *r, nf_real *x, int n, double noise) {
    /* nmoons: moon i is the half circle (cos t - 1, sin t) rotated by -(i-1) pi and
     * shifted by 0.25 * (its end-to-start vector), which works out to these two arcs */
    int first = n / 2;
    for (int i = 0; i < n; i++) {
        int upper = i < first, k = upper ? i : i - first, s = upper ? first : n - first;
        double t = s > 1 ? M_PI * k / (s - 1) : 0.0; /* Julia's range(0, pi, length = s) */
        double px = upper ? cos(t) - 0.5 : 0.5 - cos(t), py = upper ? sin(t) : -sin(t);
        x[2 * i] = (nf_real)(px + noise * nf_rng_normal(r));
        x[2 * i + 1] = (nf_real)(py + noise * nf_rng_normal(r));
    }
}

void nf_sample_swirl(nf_rng *r, nf_real *x, int n) {
    const double width = 0.2, twist = 3.0;
    for (int i = 0; i < n; i++) {
        double a1 = nf_rng_normal(r), a2 = width * nf_rng_normal(r);
        /* x = R(twist * |a|) a: rotation by an angle that grows with the radius */
        double phi = twist * sqrt(a1 * a1 + a2 * a2), c = cos(phi), s = sin(phi);
        x[2 * i] = (nf_real)(c * a1 - s * a2);
        x[2 * i + 1] = (nf_real)(s * a1 + c * a2);
    }
}

void nf_sample_parabola(nf_rng *r, nf_real *x, int n) {
    for (int i = 0; i < n; i++) {
        double x2 = 4.0 * nf_rng_normal(r);
        x[2 * i] = (nf_real)(0.25 * x2 * x2 + nf_rng_normal(r)); /* x1 ~ N(x2^2 / 4, 1) */
        x[2 * i + 1] = (nf_real)x2;
    }
}

nf_status nf_sample_gaussian2(nf_rng *r, nf_real *x, int n, const double mean[2], const double cov[4]) {
    NF_CHECK_NULL(r);
    NF_CHECK_NULL(x);
    NF_CHECK_NULL(mean);
    NF_CHECK_NULL(cov);
    /* Cholesky of [[a, b], [b, d]]: L = [[sqrt a, 0], [b / sqrt a, sqrt(d - b^2 / a)]] */
    double a = cov[0], b = cov[1], d = cov[3];
    if (!(a > 0) || cov[1] != cov[2] || !(d - b * b / a > 0) || !isfinite(a + b + d) || !isfinite(mean[0] + mean[1]))
        return nf_fail(NF_ERR_ARG, "nf_sample_gaussian2: covariance [[%g, %g], [%g, %g]] is not symmetric positive definite",
                       cov[0], cov[1], cov[2], cov[3]);
    double l11 = sqrt(a), l21 = b / l11, l22 = sqrt(d - l21 * l21);
    for (int i = 0; i < n; i++) {
        double a1 = nf_rng_normal(r), a2 = nf_rng_normal(r);
        x[2 * i] = (nf_real)(mean[0] + l11 * a1);
        x[2 * i + 1] = (nf_real)(mean[1] + l21 * a1 + l22 * a2);
    }
    return NF_OK;
}

nf_status nf_sample_toy(const char *name, nf_rng *r, nf_real *x, int n) {
    NF_CHECK_NULL(name);
    NF_CHECK_NULL(r);
    NF_CHECK_NULL(x);
    if (n < 0) return nf_fail(NF_ERR_ARG, "nf_sample_toy: n = %d is negative", n);
    if (!strcmp(name, "banana")) nf_sample_banana(r, x, n);
    else if (!strcmp(name, "moons")) nf_sample_moons(r, x, n, 0.05 / 2);
    else if (!strcmp(name, "swirl")) nf_sample_swirl(r, x, n);
    else if (!strcmp(name, "parabola")) nf_sample_parabola(r, x, n);
    else if (!strcmp(name, "gaussian")) {
        const double mean[2] = {5.0, 7.0}, cov[4] = {2.0, 0.7, 0.7, 1.0};
        return nf_sample_gaussian2(r, x, n, mean, cov);
    } else
        return nf_fail(NF_ERR_ARG, "nf_sample_toy: unknown density '%s' (banana, moons, swirl, parabola, gaussian)", name);
    return NF_OK;
}
