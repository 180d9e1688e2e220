/* The rational-quadratic spline, its inverse and its derivatives (see rq_spline.h).
 * Everything is done in double; the derivatives are written out by hand (the f64
 * tests compare them with finite differences). */
#include "rq_spline.h"

#include <math.h>

typedef struct knots {
    int K;
    double B;
    double pw[NF_SPLINE_MAX_BINS], ph[NF_SPLINE_MAX_BINS];   /* softmax of the raw widths, heights */
    double xk[NF_SPLINE_MAX_BINS + 1], yk[NF_SPLINE_MAX_BINS + 1];
    double W[NF_SPLINE_MAX_BINS], H[NF_SPLINE_MAX_BINS];
    double d[NF_SPLINE_MAX_BINS + 1];                         /* derivatives at the knots */
    double dd[NF_SPLINE_MAX_BINS + 1];                        /* d delta_k / d raw (sigmoid) */
} knots;

static void softmax(const nf_real *r, int K, double *p) {
    double mx = r[0], s = 0;
    for (int k = 1; k < K; k++) mx = r[k] > mx ? r[k] : mx;
    for (int k = 0; k < K; k++) s += p[k] = exp(r[k] - mx);
    for (int k = 0; k < K; k++) p[k] /= s;
}

/* sizes[k] = 2B (m + (1 - m K) p_k); edges[0] = -B, edges[k+1] = edges[k] + sizes[k] */
static void grid(const double *p, int K, double B, double *sizes, double *edges) {
    edges[0] = -B;
    for (int k = 0; k < K; k++) {
        sizes[k] = 2 * B * (NF_SPLINE_MIN + (1 - NF_SPLINE_MIN * K) * p[k]);
        edges[k + 1] = edges[k] + sizes[k];
    }
    edges[K] = B;
}

static void make_knots(knots *kn, const nf_real *raw, int K, double B) {
    kn->K = K, kn->B = B;
    softmax(raw, K, kn->pw);
    softmax(raw + K, K, kn->ph);
    grid(kn->pw, K, B, kn->W, kn->xk);
    grid(kn->ph, K, B, kn->H, kn->yk);
    const double shift = log(expm1(1 - NF_SPLINE_MIN)); /* softplus(shift) = 1 - m */
    kn->d[0] = kn->d[K] = 1;
    kn->dd[0] = kn->dd[K] = 0;
    for (int k = 1; k < K; k++) {
        double r = raw[2 * K + k - 1] + shift;
        kn->d[k] = NF_SPLINE_MIN + (r > 30 ? r : log1p(exp(r))); /* m + softplus */
        kn->dd[k] = 1 / (1 + exp(-r));
    }
}

/* The bin holding v among edges[0..K] (v inside [-B, B]). */
static int find_bin(const double *edges, int K, double v) {
    int lo = 0, hi = K - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (v >= edges[mid]) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

void nf_rqs_forward(const nf_real *raw, int K, double B, double x, double *y, double *logd) {
    if (!(x >= -B && x <= B)) {
        *y = x, *logd = 0;
        return;
    }
    knots kn;
    make_knots(&kn, raw, K, B);
    int k = find_bin(kn.xk, K, x);
    double W = kn.W[k], H = kn.H[k], s = H / W, d0 = kn.d[k], d1 = kn.d[k + 1];
    double xi = (x - kn.xk[k]) / W, t = xi * (1 - xi);
    double den = s + (d1 + d0 - 2 * s) * t;
    *y = kn.yk[k] + H * (s * xi * xi + d0 * t) / den;
    double P = d1 * xi * xi + 2 * s * t + d0 * (1 - xi) * (1 - xi);
    *logd = 2 * log(s) + log(P) - 2 * log(den);
}

double nf_rqs_inverse(const nf_real *raw, int K, double B, double y) {
    if (!(y >= -B && y <= B)) return y;
    knots kn;
    make_knots(&kn, raw, K, B);
    int k = find_bin(kn.yk, K, y);
    double W = kn.W[k], H = kn.H[k], s = H / W, d0 = kn.d[k], d1 = kn.d[k + 1];
    double dy = y - kn.yk[k], e = d1 + d0 - 2 * s;
    double a = H * (s - d0) + dy * e, b = H * d0 - dy * e, c = -s * dy;
    double disc = b * b - 4 * a * c;
    double xi = 2 * c / (-b - sqrt(disc > 0 ? disc : 0)); /* the root in [0, 1], stable form */
    return kn.xk[k] + xi * W;
}

double nf_rqs_backward(const nf_real *raw, int K, double B, double x, double gy, double gl, nf_real *draw) {
    int R = nf_rqs_raw_count(K);
    for (int i = 0; i < R; i++) draw[i] = 0;
    if (!(x >= -B && x <= B)) return gy; /* identity tail */
    knots kn;
    make_knots(&kn, raw, K, B);
    int k = find_bin(kn.xk, K, x);
    double W = kn.W[k], H = kn.H[k], s = H / W, d0 = kn.d[k], d1 = kn.d[k + 1];
    double xi = (x - kn.xk[k]) / W, t = xi * (1 - xi), t_xi = 1 - 2 * xi;
    double e = d1 + d0 - 2 * s, den = s + e * t;
    double N1 = s * xi * xi + d0 * t; /* y = y_k + H N1 / den */
    double P = d1 * xi * xi + 2 * s * t + d0 * (1 - xi) * (1 - xi); /* L = 2 log s + log P - 2 log den */
    double N1_xi = 2 * s * xi + d0 * t_xi, N1_s = xi * xi, N1_d0 = t;
    double den_xi = e * t_xi, den_s = 1 - 2 * t, den_d = t; /* den_d0 = den_d1 = t */
    double P_xi = 2 * d1 * xi + 2 * s * t_xi - 2 * d0 * (1 - xi), P_s = 2 * t, P_d0 = (1 - xi) * (1 - xi), P_d1 = xi * xi;
    double den2 = den * den;
    /* G = gy y + gl L in the variables (xi, s, H, d0, d1, y_k) */
    double G_xi = gy * H * (N1_xi * den - N1 * den_xi) / den2 + gl * (P_xi / P - 2 * den_xi / den);
    double G_s = gy * H * (N1_s * den - N1 * den_s) / den2 + gl * (2 / s + P_s / P - 2 * den_s / den);
    double G_H = gy * N1 / den;
    double G_d0 = gy * H * (N1_d0 * den - N1 * den_d) / den2 + gl * (P_d0 / P - 2 * den_d / den);
    double G_d1 = -gy * H * N1 * den_d / den2 + gl * (P_d1 / P - 2 * den_d / den);
    /* xi = (x - x_k)/W, s = H/W */
    double G_x = G_xi / W, G_xk = -G_xi / W, G_W = -(G_xi * xi + G_s * s) / W, G_Hall = G_H + G_s / W;
    /* x_k = -B + sum_{j<k} W_j, W_j = 2B (m + (1 - mK) p_j): dG/dp_j = 2B (1 - mK) (G_W [j = k] + G_xk [j < k]) */
    double gw[NF_SPLINE_MAX_BINS], gh[NF_SPLINE_MAX_BINS];
    double scale = 2 * B * (1 - NF_SPLINE_MIN * K);
    for (int j = 0; j < K; j++) {
        gw[j] = scale * (j == k ? G_W : j < k ? G_xk : 0);
        gh[j] = scale * (j == k ? G_Hall : j < k ? gy : 0); /* dG/dy_k = gy */
    }
    /* softmax backward: dr_j = p_j (g_j - sum_i p_i g_i) */
    double sw = 0, sh = 0;
    for (int j = 0; j < K; j++) sw += kn.pw[j] * gw[j], sh += kn.ph[j] * gh[j];
    for (int j = 0; j < K; j++) {
        draw[j] = (nf_real)(kn.pw[j] * (gw[j] - sw));
        draw[K + j] = (nf_real)(kn.ph[j] * (gh[j] - sh));
    }
    if (k >= 1) draw[2 * K + k - 1] = (nf_real)(G_d0 * kn.dd[k]);
    if (k + 1 <= K - 1) draw[2 * K + k] = (nf_real)(G_d1 * kn.dd[k + 1]);
    return G_x;
}
