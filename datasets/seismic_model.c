/* Synthetic earth models and their seismic response (see seismic_model.h). */
#include "seismic_model.h"

#include <math.h>
#include <stdlib.h>

#ifndef M_PI /* not in strict C11 */
#define M_PI 3.14159265358979323846
#endif

static double uniform(nf_rng *r, double lo, double hi) { return lo + (hi - lo) * nf_rng_uniform(r); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void nfd_earth_draw(nfd_earth *e, const nf_seismic_options *o, nf_rng *rng) {
    e->nt = o->nt;
    e->nx = o->nx;
    e->ny = o->cube ? o->ny : 1;
    e->nl = o->layers_min + (int)(nf_rng_uniform(rng) * (o->layers_max - o->layers_min + 1));
    for (int k = 0; k < e->nl; k++) e->z[k] = uniform(rng, 0, e->nt);
    qsort(e->z, (size_t)e->nl, sizeof(double), cmp_double);
    /* log-impedance random walk; r = (I2 - I1) / (I2 + I1) = tanh(d log I / 2) */
    for (int k = 0; k < e->nl; k++) e->r[k] = tanh(0.25 * nf_rng_normal(rng) / 2);
    e->fold_amp = o->fold_amp * uniform(rng, 0.5, 1.5);
    for (int a = 0; a < 2; a++) {
        double n = a == 0 ? e->nx : e->ny;
        e->fold_k[a] = 2 * M_PI / (n * uniform(rng, 0.5, 2.0)); /* wavelength half to twice the width */
        e->fold_phase[a] = uniform(rng, 0, 2 * M_PI);
    }
    e->faulted = nf_rng_uniform(rng) < o->fault_prob;
    double dip = uniform(rng, -M_PI / 6, M_PI / 6), strike = o->cube ? uniform(rng, -M_PI / 9, M_PI / 9) : 0;
    e->fault_x0 = e->nx * uniform(rng, 1.0 / 3, 2.0 / 3);
    e->tan_dip = tan(dip);
    e->tan_strike = tan(strike);
    double t = uniform(rng, o->throw_min, o->throw_max);
    e->throw_ = e->faulted ? (nf_rng_uniform(rng) < 0.5 ? -t : t) : 0.0;
}

/* Horizon k's depth at (x, y): folds grow with depth (0.5 at the top, 1.5 at the bottom). */
static double horizon(const nfd_earth *e, int k, int x, int y) {
    double bend = sin(e->fold_k[0] * x + e->fold_phase[0]);
    if (e->ny > 1) bend = 0.5 * (bend + sin(e->fold_k[1] * y + e->fold_phase[1]));
    return e->z[k] + e->fold_amp * (0.5 + e->z[k] / e->nt) * bend;
}

/* Whether (x, y) at depth z lies on the hanging wall (beyond the dipping fault plane). */
static int hanging(const nfd_earth *e, int x, int y, double z) {
    double xf = e->fault_x0 + (z - 0.5 * e->nt) * e->tan_dip + (y - 0.5 * e->ny) * e->tan_strike;
    return x > xf;
}

/* r[z] += a, split linearly between the two samples around z */
static void spike(float *r, int nt, double z, double a) {
    double fl = floor(z), f = z - fl;
    int i = (int)fl;
    if (i >= 0 && i < nt) r[i] += (float)(a * (1 - f));
    if (i + 1 >= 0 && i + 1 < nt) r[i + 1] += (float)(a * f);
}

void nfd_earth_trace(const nfd_earth *e, int x, int y, float *r) {
    for (int t = 0; t < e->nt; t++) r[t] = 0;
    for (int k = 0; k < e->nl; k++) {
        double z = horizon(e, k, x, y);
        if (!e->faulted) {
            spike(r, e->nt, z, e->r[k]);
            continue;
        }
        /* the footwall keeps the horizon where it is, the hanging wall has it moved by the throw */
        if (!hanging(e, x, y, z)) spike(r, e->nt, z, e->r[k]);
        if (hanging(e, x, y, z + e->throw_)) spike(r, e->nt, z + e->throw_, e->r[k]);
    }
}

int nfd_ricker_half(double f0, double dt) { return (int)ceil(1.5 / (f0 * dt)); }

void nfd_ricker(float *w, int half, double f0, double dt) {
    for (int j = 0; j <= 2 * half; j++) {
        double a = M_PI * f0 * (j - half) * dt, a2 = a * a;
        w[j] = (float)((1 - 2 * a2) * exp(-a2));
    }
}

void nfd_convolve(float *s, const float *r, int n, const float *w, int half) {
    for (int t = 0; t < n; t++) {
        double acc = 0; /* s[t] = sum_j w[half + j] r[t - j] */
        for (int j = -half; j <= half; j++)
            if (t - j >= 0 && t - j < n) acc += (double)w[half + j] * r[t - j];
        s[t] = (float)acc;
    }
}
