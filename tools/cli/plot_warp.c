/* Layer-by-layer warping (the TensorFlow RealNVP tutorial's picture): points drawn from
 * N(0, I), coloured by the quadrant they start in, followed through the inverse layers
 * of the flow from z to x, in up to 8 panels. */
#include "plot.h"

#include <plplot.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PANELS = 8 };

/* Layers per drawn stage: a whole Glow step (actnorm, 1x1 conv, coupling), so panels
 * show the effect of complete steps; single layers for other flows. */
static int layers_per_unit(const nf_flow *f) { return nf_glow_get_config(f) && f->nlayers % 3 == 0 ? 3 : 1; }

int plot_warp(const plot_target *t, nf_flow *f, int n, uint64_t seed, char *err, size_t errn) {
    if (nf_shape_sample_count(f->in) != 2 || f->in.h != 1 || f->in.w != 1) {
        snprintf(err, errn, "the warping picture needs a model of 2-D points (this one takes %dx%dx%d)", f->in.c,
                 f->in.h, f->in.w);
        return -1;
    }
    int per = layers_per_unit(f), units = f->nlayers / per;
    int stages = units + 1 < PANELS ? units + 1 : PANELS;
    /* stage j shows the points after `done[j]` units of the inverse walk */
    int done[PANELS];
    for (int j = 0; j < stages; j++) done[j] = stages > 1 ? (int)((long)j * units / (stages - 1)) : 0;

    nf_real *pts = malloc(sizeof(nf_real) * 2 * (size_t)n * (size_t)stages);
    int *quad = malloc(sizeof(int) * (size_t)n);
    nf_ctx ctx = {0};
    if (!pts || !quad) {
        snprintf(err, errn, "out of memory");
        free(pts);
        free(quad);
        return -1;
    }
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_rng_fill_normal(&rng, pts, 2 * (size_t)n, 1.0);
    for (int i = 0; i < n; i++) quad[i] = (pts[2 * i] < 0) + 2 * (pts[2 * i + 1] < 0);

    nf_shape shape = f->in;
    shape.n = n;
    size_t ws = 0;
    for (int l = 0; l < f->nlayers; l++) {
        size_t w = nf_layer_workspace(f->layers[l], shape);
        if (w > ws) ws = w;
    }
    nf_status s = nf_ctx_reserve(&ctx, ws);
    /* Walk the layers backwards (x = f^-1(z)), copying the points out at each stage. */
    nf_tensor cur;
    if (s == NF_OK) s = nf_tensor_alloc(&cur, n, f->in.c, f->in.d, f->in.h, f->in.w);
    if (s == NF_OK) {
        memcpy(cur.data, pts, sizeof(nf_real) * 2 * (size_t)n);
        int unit = 0;
        for (int j = 1; j < stages && s == NF_OK; j++) {
            for (; unit < done[j] && s == NF_OK; unit++)
                for (int k = 0; k < per && s == NF_OK; k++)
                    s = nf_layer_inverse(f->layers[f->nlayers - 1 - (unit * per + k)], &cur, &ctx);
            memcpy(pts + 2 * (size_t)n * j, cur.data, sizeof(nf_real) * 2 * (size_t)n);
        }
        nf_tensor_free(&cur);
    }
    nf_ctx_free(&ctx);
    if (s != NF_OK) {
        snprintf(err, errn, "walking the layers: %s", nf_last_error());
        free(pts);
        free(quad);
        return -1;
    }

    if (plot_begin(t, err, errn) != 0) {
        free(pts);
        free(quad);
        return -1;
    }
    int cols = stages > 4 ? 4 : stages, rows = (stages + cols - 1) / cols;
    plssub(cols, rows);
    for (int j = 0; j < stages; j++) {
        const nf_real *p = pts + 2 * (size_t)n * j;
        plot_box b = plot_box_of(p, n);
        pladv(j + 1);
        plvpor(0.14, 0.95, 0.12, 0.88);
        plwind(b.x0, b.x1, b.y0, b.y1);
        plcol0(PC_BLACK);
        plschr(0, 0.7);
        plbox("bcnst", 0, 0, "bcnstv", 0, 0);
        char title[64];
        if (j == 0) snprintf(title, sizeof title, "z ~ N(0, I)");
        else if (done[j] == units) snprintf(title, sizeof title, "x = G#u-1#d(z)");
        else snprintf(title, sizeof title, "after %d of %d %s", done[j], units, per == 3 ? "steps" : "layers");
        plmtex("t", 1.0, 0.5, 0.5, title);
        /* Per quadrant, so each colour is one plstring batch. */
        nf_real *sel = malloc(sizeof(nf_real) * 2 * (size_t)n);
        for (int q = 0; q < 4 && sel; q++) {
            int m = 0;
            for (int i = 0; i < n; i++)
                if (quad[i] == q) sel[2 * m] = p[2 * i], sel[2 * m + 1] = p[2 * i + 1], m++;
            plot_points(sel, m, PC_Q1 + q);
        }
        free(sel);
    }
    plot_end();
    free(pts);
    free(quad);
    return 0;
}
