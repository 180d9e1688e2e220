/* Pictures of 2-D point sets: data against model samples, and the z -> x trajectories
 * of the InvertibleNetworks.jl tutorial. */
#include "plot.h"

#include <plplot.h>

#include <stdio.h>

/* Axes with equal-ish framing for the box and a title. */
static void frame(const plot_box *b, const char *xlab, const char *ylab, const char *title) {
    pladv(0);
    plvpor(0.12, 0.95, 0.11, 0.92);
    plwind(b->x0, b->x1, b->y0, b->y1);
    plcol0(PC_BLACK);
    plschr(0, 0.85);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    pllab(xlab, ylab, title);
}

int plot_scatter(const plot_target *t, const nf_real *data, int nd, const nf_real *samples, int ns,
                 const plot_box *box, const char *title, char *err, size_t errn) {
    if (plot_begin(t, err, errn) != 0) return -1;
    frame(box, "x#d1#u", "x#d2#u", title ? title : "");
    plot_points(data, nd, PC_BLUE_FAINT);
    plot_points(samples, ns, PC_ORANGE_FAINT);
    const char *text[2];
    int colour[2], kind[2] = {1, 1}, style[2] = {1, 1}, n = 0;
    if (nd > 0) text[n] = "data", colour[n++] = PC_BLUE;
    if (ns > 0) text[n] = "model samples", colour[n++] = PC_ORANGE;
    plot_legend(n, text, colour, kind, style);
    plot_end();
    return 0;
}

int plot_trajectories(const plot_target *t, const nf_real *z, const nf_real *x, int n, const plot_box *box,
                      char *err, size_t errn) {
    if (plot_begin(t, err, errn) != 0) return -1;
    frame(box, "first dimension", "second dimension", "transformed latents z → x = G#u-1#d(z)");
    plcol0(PC_BLACK_FAINT);
    plwidth(0.6);
    for (int i = 0; i < n; i++) pljoin(z[2 * i], z[2 * i + 1], x[2 * i], x[2 * i + 1]);
    plwidth(1);
    plot_points(z, n, PC_BLACK_FAINT);
    plot_points(x, n, PC_ORANGE_FAINT);
    const char *text[2] = {"latents z", "samples x"};
    int colour[2] = {PC_BLACK, PC_ORANGE}, kind[2] = {1, 1}, style[2] = {1, 1};
    plot_legend(2, text, colour, kind, style);
    plot_end();
    return 0;
}
