/* The tutorials' pictures, drawn with PLplot (charts) and libpng (image grids), to a
 * PNG file or to an RGBA buffer (frames of training.gif). */
#ifndef NFLOW_CLI_PLOT_H
#define NFLOW_CLI_PLOT_H

#include <nflow.h>

#include <stddef.h>

#include "metrics.h"

/* Where a picture goes: a PNG file, or (png NULL) an RGBA buffer of width x height. */
typedef struct plot_target {
    const char *png;
    unsigned char *rgba; /* (height, width, 4) */
    int width, height;
} plot_target;

/* A rectangle of the plane. */
typedef struct plot_box {
    double x0, x1, y0, y1;
} plot_box;

/* Every function returns 0, or -1 with a message in err (size errn). */

/* Three panels over the training steps, as in the InvertibleNetworks.jl tutorial:
 * 0.5|z|^2 with the Gaussian reference ref_half_sq (= D/2) as a red dashed line, logdet,
 * and the full objective (with ref_objective as a dashed line unless NAN). */
int plot_curves(const plot_target *t, const cli_metrics_table *m, double ref_half_sq, double ref_objective,
                const char *title, char *err, size_t errn);

/* Data (blue) and model samples (orange) in the plane; points are (n, 2) pairs. Either
 * set may be empty. */
int plot_scatter(const plot_target *t, const nf_real *data, int nd, const nf_real *samples, int ns,
                 const plot_box *box, const char *title, char *err, size_t errn);

/* Lines from latents z (black) to x = f^-1(z) (orange), n pairs of (n, 2) points. */
int plot_trajectories(const plot_target *t, const nf_real *z, const nf_real *x, int n, const plot_box *box,
                      char *err, size_t errn);

/* Layer-by-layer warping: n points z ~ N(0, I) coloured by quadrant, walked through the
 * inverse layers of a flow on 2-D vectors, in up to 8 panels from z to x. */
int plot_warp(const plot_target *t, nf_flow *f, int n, uint64_t seed, char *err, size_t errn);

/* Images x (n, c, 1, h, w) with c = 1 (grey) or 3 (RGB) as a grid of cols columns,
 * values lo..hi mapped to black..white, each pixel drawn as scale x scale. To a PNG file
 * (libpng) or, with t->png NULL, into t->rgba which must be plot_grid_size() large. */
int plot_image_grid(const plot_target *t, const nf_tensor *x, int cols, int scale, double lo, double hi, char *err,
                    size_t errn);
/* The pixel size of such a grid. */
void plot_grid_size(const nf_tensor *x, int cols, int scale, int *width, int *height);

/* A box around the central 99% of the points, with a margin (for scatter limits). */
plot_box plot_box_of(const nf_real *xy, int n);
/* The smallest box holding both. */
plot_box plot_box_union(plot_box a, plot_box b);

/* ---- shared by the plot_*.c files ---- */

/* Palette indices of cmap0 set by plot_begin. */
enum {
    PC_WHITE = 0, PC_BLACK = 1, PC_RED = 2, PC_BLUE = 3, PC_ORANGE = 4, PC_GREY = 5,
    PC_BLACK_FAINT = 6, PC_BLUE_FAINT = 7, PC_ORANGE_FAINT = 8,
    PC_Q1 = 9, PC_Q2 = 10, PC_Q3 = 11, PC_Q4 = 12
};
/* Starts a PLplot stream on the target with a white background and the palette. */
int plot_begin(const plot_target *t, char *err, size_t errn);
/* Finishes the picture (writes the PNG). */
void plot_end(void);
/* Draws n points (n, 2) as small filled circles in palette colour col. */
void plot_points(const nf_real *xy, int n, int col);
/* A legend in the upper right of the current viewport: n entries, kind 0 = line
 * (style 1 solid, 2 dashed), 1 = point. */
void plot_legend(int n, const char *const *text, const int *colour, const int *kind, const int *style);

#endif
