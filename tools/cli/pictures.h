/* The pictures of a model, shared by train, sample, plot and demo: they sample the
 * model and hand the points or images to the plot_*.c drawers. */
#ifndef NFLOW_CLI_PICTURES_H
#define NFLOW_CLI_PICTURES_H

#include <nflow.h>

#include "plot.h"

/* 1 if the model takes 2-D points ((2, 1, 1, 1) samples). */
int pictures_is_2d(const nf_flow *f);
/* 1 if the (unconditional) model takes images or volumes of 1 or 3 channels. */
int pictures_is_image(const nf_flow *f);
/* 1 if samples of shape s are images or volumes of 1 or 3 channels. */
int pictures_image_shape(nf_shape s);

/* Images x (n, 1 or 3, 1, h, w), or volumes (n, 1 or 3, d, h, w) drawn as panels of their
 * middle slices (pictures_slices), as a grid (layout chosen from their size) to t. Values
 * lo..hi are black..white; lo or hi NAN: the central 99 % of x's values. */
int pictures_grid(const nf_tensor *x, double lo, double hi, const plot_target *t, char *err, size_t errn);

/* ---- pictures_slices.c ---- */
/* The shape of pictures_slices' panels for n volumes (c, d, h, w): (n, c, 1, max(d, h),
 * w + h + w + 2); images (d = 1) keep their shape. */
nf_tensor pictures_panel_shape(int n, int c, int d, int h, int w);
/* out (allocated) = each volume of x as one panel: the section at the middle h (d x w),
 * the section at the middle w (d x h) and the slice at the middle d (h x w), side by side,
 * separated and padded by fill. */
nf_status pictures_slices(const nf_tensor *x, double fill, nf_tensor *out);
/* lo, hi = the 0.5th and 99.5th percentiles of x's finite values (of at most 65536 evenly
 * spaced ones); -0.5, 0.5 when there are none. */
void pictures_robust_range(const nf_tensor *x, double *lo, double *hi);

/* 2-D models. n samples (orange) over nd data points (blue) as a scatter. */
int pictures_scatter(const char *cmd, nf_flow *f, const nf_real *data, int nd, int n, const char *png, uint64_t seed);
/* n latents z ~ N(0, I) joined to x = f^-1(z), framed to hold the data too. */
int pictures_trajectories(const char *cmd, nf_flow *f, const nf_real *data, int nd, int n, const char *png,
                          uint64_t seed);
/* n coloured points warped layer by layer. */
int pictures_warp(const char *cmd, nf_flow *f, int n, const char *png, uint64_t seed);
/* All three as DIR/samples.png, DIR/trajectories.png, DIR/warp.png, each path printed. */
int pictures_2d(const char *cmd, nf_flow *f, const nf_real *data, int nd, const char *dir, uint64_t seed);

/* Image (or volume) models: n samples at temperature as a grid in png, values lo..hi
 * shown black..white (NAN: from the samples). Returns an exit code. */
int pictures_image_grid(const char *cmd, nf_flow *f, int n, double temperature, double lo, double hi,
                        const char *png, uint64_t seed);

/* DIR/training_curves.png from a metrics.csv; D = dimensions per sample (reference
 * line D/2), ref_objective the best possible objective (NAN: unknown). */
int pictures_curves(const char *cmd, const char *metrics_csv, const char *png, size_t D, double ref_objective,
                    const char *title);

/* A frame of samples during training: z fixed (n, D) latents, drawn as a scatter over
 * data (2-D) or as an image grid, into an RGBA buffer of w x h (see pictures_frame_size). */
int pictures_frame(nf_flow *f, const nf_tensor *z, const nf_real *data, int nd, const plot_box *box, double lo,
                   double hi, const char *title, unsigned char *rgba, int w, int h, char *err, size_t errn);
/* The frame size for a model (2-D: 480 x 480; images: the grid of z->n samples). */
void pictures_frame_size(const nf_flow *f, int n, int *w, int *h);

#endif
