/* Model pictures: sample the model, then draw with plot_*.c. */
#include "pictures.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Conditional flows draw no unconditional pictures: every sample needs a condition
 * (nflow sample --cond draws posterior samples). */
int pictures_is_2d(const nf_flow *f) {
    return !nf_flow_is_conditional(f) && f->in.c == 2 && f->in.d == 1 && f->in.h == 1 && f->in.w == 1;
}

int pictures_image_shape(nf_shape s) { return (s.c == 1 || s.c == 3) && s.h > 1; }

int pictures_is_image(const nf_flow *f) { return !nf_flow_is_conditional(f) && pictures_image_shape(f->in); }

/* Grid layout of n images (or volume panels) whose slices are w wide: columns and pixel
 * scale (small images are enlarged). */
static void grid_layout(int w, int n, int *cols, int *scale) {
    *cols = (int)ceil(sqrt((double)n));
    *scale = w >= 64 ? 1 : 64 / w > 3 ? 3 : 64 / w;
}

void pictures_frame_size(const nf_flow *f, int n, int *w, int *h) {
    if (pictures_is_2d(f)) {
        *w = *h = 480;
        return;
    }
    int cols, scale;
    grid_layout(f->in.w, n, &cols, &scale);
    nf_tensor shape = pictures_panel_shape(n, f->in.c, f->in.d, f->in.h, f->in.w);
    plot_grid_size(&shape, cols, scale, w, h);
}

int pictures_grid(const nf_tensor *x, double lo, double hi, const plot_target *t, char *err, size_t errn) {
    int cols, scale;
    grid_layout(x->w, x->n, &cols, &scale);
    if (isnan(lo) || isnan(hi)) pictures_robust_range(x, &lo, &hi);
    if (x->d <= 1 || (x->c != 1 && x->c != 3)) return plot_image_grid(t, x, cols, scale, lo, hi, err, errn);
    nf_tensor panels;
    if (pictures_slices(x, lo, &panels) != NF_OK) { /* black between slices, white between panels */
        snprintf(err, errn, "out of memory for slices of %d volumes", x->n);
        return -1;
    }
    int rc = plot_image_grid(t, &panels, cols, scale, lo, hi, err, errn);
    nf_tensor_free(&panels);
    return rc;
}

/* n model samples at temperature, (n, c, d, h, w); NULL with a message on failure. */
static nf_real *draw_samples(const char *cmd, nf_flow *f, int n, double temperature, uint64_t seed, nf_tensor *x) {
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_status s = nf_tensor_alloc(x, n, f->in.c, f->in.d, f->in.h, f->in.w);
    if (s == NF_OK) s = nf_flow_sample(f, x, NULL, temperature, &rng);
    if (s != NF_OK) {
        cli_nf_error(s, cmd, "sampling");
        nf_tensor_free(x);
        return NULL;
    }
    return x->data;
}

int pictures_scatter(const char *cmd, nf_flow *f, const nf_real *data, int nd, int n, const char *png, uint64_t seed) {
    char err[512];
    nf_tensor x;
    if (!draw_samples(cmd, f, n, 1.0, seed, &x)) return CLI_RUNTIME;
    /* the data's central box; samples far outside it are clipped, as in the tutorial's xlim/ylim */
    plot_box box = nd > 0 ? plot_box_of(data, nd) : plot_box_of(x.data, n);
    plot_target t = {png, NULL, 640, 560};
    int rc = plot_scatter(&t, data, nd, x.data, n, &box, "generative samples x ~ p#dθ#u(x)", err, sizeof err);
    nf_tensor_free(&x);
    return rc == 0 ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "%s", err);
}

int pictures_trajectories(const char *cmd, nf_flow *f, const nf_real *data, int nd, int n, const char *png,
                          uint64_t seed) {
    char err[512] = "out of memory";
    nf_tensor z = {0}, x = {0};
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    int rc = nf_tensor_alloc(&z, n, 2, 1, 1, 1) == NF_OK && nf_tensor_alloc(&x, n, 2, 1, 1, 1) == NF_OK ? 0 : -1;
    if (rc == 0) {
        nf_rng_fill_normal(&rng, z.data, 2 * (size_t)n, 1.0);
        if (nf_flow_inverse(f, &z, NULL, &x) != NF_OK) snprintf(err, sizeof err, "inverse: %s", nf_last_error()), rc = -1;
    }
    if (rc == 0) {
        plot_box box = plot_box_union(plot_box_of(z.data, n), plot_box_of(nd > 0 ? data : x.data, nd > 0 ? nd : n));
        plot_target t = {png, NULL, 560, 640};
        rc = plot_trajectories(&t, z.data, x.data, n, &box, err, sizeof err);
    }
    nf_tensor_free(&z);
    nf_tensor_free(&x);
    return rc == 0 ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "%s", err);
}

int pictures_warp(const char *cmd, nf_flow *f, int n, const char *png, uint64_t seed) {
    char err[512];
    plot_target t = {png, NULL, 1200, 640};
    return plot_warp(&t, f, n, seed, err, sizeof err) == 0 ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "%s", err);
}

int pictures_2d(const char *cmd, nf_flow *f, const nf_real *data, int nd, const char *dir, uint64_t seed) {
    char path[4200];
    int rc = pictures_scatter(cmd, f, data, nd, 400, cli_path(path, sizeof path, dir, "samples.png"), seed);
    if (rc == CLI_OK) printf("  %s\n", path);
    if (rc == CLI_OK)
        rc = pictures_trajectories(cmd, f, data, nd, 150, cli_path(path, sizeof path, dir, "trajectories.png"), seed + 1);
    if (rc == CLI_OK) printf("  %s\n", path);
    if (rc == CLI_OK) rc = pictures_warp(cmd, f, 4000, cli_path(path, sizeof path, dir, "warp.png"), seed + 2);
    if (rc == CLI_OK) printf("  %s\n", path);
    return rc;
}

int pictures_image_grid(const char *cmd, nf_flow *f, int n, double temperature, double lo, double hi,
                        const char *png, uint64_t seed) {
    nf_tensor x;
    char err[512];
    if (!draw_samples(cmd, f, n, temperature, seed, &x)) return CLI_RUNTIME;
    plot_target t = {png, NULL, 0, 0};
    int rc = pictures_grid(&x, lo, hi, &t, err, sizeof err);
    nf_tensor_free(&x);
    return rc == 0 ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "%s", err);
}

int pictures_curves(const char *cmd, const char *metrics_csv, const char *png, size_t D, double ref_objective,
                    const char *title) {
    cli_metrics_table m;
    char err[512];
    if (metrics_read(&m, metrics_csv, err, sizeof err) < 0) return cli_error(CLI_DATA, cmd, "%s", err);
    plot_target t = {png, NULL, 800, 720};
    int rc = plot_curves(&t, &m, 0.5 * (double)D, ref_objective, title, err, sizeof err);
    metrics_table_free(&m);
    return rc == 0 ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "%s", err);
}

int pictures_frame(nf_flow *f, const nf_tensor *z, const nf_real *data, int nd, const plot_box *box, double lo,
                   double hi, const char *title, unsigned char *rgba, int w, int h, char *err, size_t errn) {
    nf_tensor x;
    nf_status s = nf_tensor_alloc(&x, z->n, f->in.c, f->in.d, f->in.h, f->in.w);
    if (s == NF_OK) s = nf_flow_inverse(f, z, NULL, &x);
    if (s != NF_OK) {
        snprintf(err, errn, "sampling a frame: %s", nf_last_error());
        nf_tensor_free(&x);
        return -1;
    }
    plot_target t = {NULL, rgba, w, h};
    int rc;
    if (pictures_is_2d(f)) {
        rc = plot_scatter(&t, data, nd, x.data, x.n, box, title, err, errn);
    } else {
        rc = pictures_grid(&x, lo, hi, &t, err, errn);
    }
    nf_tensor_free(&x);
    return rc;
}
