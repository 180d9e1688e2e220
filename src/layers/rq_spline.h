/* Monotone rational-quadratic spline with linear tails (Durkan et al. 2019, "Neural
 * Spline Flows"; nflows' unconstrained_RQS), one value at a time.
 *
 * On [-B, B] the map has K bins. From the 3K-1 raw values (w (K), h (K), d (K-1)):
 *   bin widths  W_k = 2B (m + (1 - m K) softmax(w)_k),  heights H_k likewise from h,
 *   knots x_k = -B + sum_{j<k} W_j, y_k = -B + sum_{j<k} H_j,
 *   derivatives delta_0 = delta_K = 1 (matching the identity tails), and inside
 *   delta_k = m + softplus(d_{k-1} + log(e^(1-m) - 1)): raw values of 0 give a
 *   uniform grid with unit slopes, i.e. the identity (m = 1e-3 for all three minima);
 * in bin k, with xi = (x - x_k)/W_k, s = H_k/W_k,
 *   y = y_k + H_k (s xi^2 + delta_k xi (1-xi)) / (s + (delta_k+1 + delta_k - 2s) xi (1-xi)).
 * Outside [-B, B], y = x. */
#ifndef NF_RQ_SPLINE_H
#define NF_RQ_SPLINE_H

#include "nflow.h"

#define NF_SPLINE_MAX_BINS 64
#define NF_SPLINE_MIN 1e-3 /* minimum bin width, height (as fractions) and derivative */

/* Raw values per spline: 3K - 1. */
static inline int nf_rqs_raw_count(int K) { return 3 * K - 1; }

/* *y = spline(x), *logd = log dy/dx. */
void nf_rqs_forward(const nf_real *raw, int K, double B, double x, double *y, double *logd);
/* x with spline(x) = y. */
double nf_rqs_inverse(const nf_real *raw, int K, double B, double y);
/* For G = gy * spline(x) + gl * log spline'(x): writes draw (3K-1) = dG/draw and
 * returns dG/dx. */
double nf_rqs_backward(const nf_real *raw, int K, double B, double x, double gy, double gl, nf_real *draw);

#endif
