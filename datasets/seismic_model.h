/* One synthetic earth model: layered horizons, folded, cut by at most one fault, and its
 * reflectivity and Ricker-convolved seismic (used by seismic_synth.c). Internal to
 * nflow_datasets. */
#ifndef NFD_SEISMIC_MODEL_H
#define NFD_SEISMIC_MODEL_H

#include "nflow_datasets.h"

#define NFD_MAX_LAYERS 64

typedef struct nfd_earth {
    int nt, nx, ny;              /* grid: time samples, traces, lines (1 for sections) */
    int nl;                      /* horizons */
    double z[NFD_MAX_LAYERS];    /* flat depth of each horizon, in samples */
    double r[NFD_MAX_LAYERS];    /* its reflection coefficient */
    double fold_amp;             /* samples of fold at mid depth */
    double fold_k[2], fold_phase[2]; /* wavenumber (rad per trace/line) and phase per lateral axis */
    int faulted;
    double fault_x0;             /* fault position at mid depth and mid line */
    double tan_dip, tan_strike;  /* its slope in traces per sample / per line */
    double throw_;               /* hanging wall (x beyond the fault) shift in samples */
} nfd_earth;

/* Draws a model from o's ranges. */
void nfd_earth_draw(nfd_earth *e, const nf_seismic_options *o, nf_rng *rng);
/* r (nt) = reflectivity of trace (x, y). */
void nfd_earth_trace(const nfd_earth *e, int x, int y, float *r);

/* Half-length c of the Ricker wavelet (2c + 1 samples) for f0, dt. */
int nfd_ricker_half(double f0, double dt);
/* w (2c + 1) = (1 - 2 pi^2 f0^2 t^2) exp(-pi^2 f0^2 t^2) at t = (j - c) dt. */
void nfd_ricker(float *w, int half, double f0, double dt);
/* s (n) = r (n) convolved with w (2*half + 1) centred on w[half]; zero outside r. */
void nfd_convolve(float *s, const float *r, int n, const float *w, int half);

#endif
