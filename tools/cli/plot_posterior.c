/* nflow plot posterior: the picture of a file written by `nflow sample --cond` (posterior
 * samples /x, their /mean and /std, the condition /cond, attribute index).
 *
 * Images and volumes: one row, as in Siahkoohi et al.'s seismic figures: the truth (with
 * --truth), the condition y (when it has the samples' spatial size), the posterior mean,
 * the standard deviation and the first samples. Truth, mean and samples share one grey
 * scale (the central 99 % of the truth's values, else the samples'); y and the standard
 * deviation each have their own (the std from 0, black, to its largest value, white).
 * Volumes are drawn as panels of their middle slices.
 *
 * Vectors: the samples (orange) in the planes of dimension pairs (1, 2), (3, 4), ... (up
 * to four panels) over the exact posterior N(mean, var I) where one is known (blue,
 * --exact-mean and --exact-var, e.g. sbibm's gaussian_linear written by nflow data
 * gaussian-linear), and the true value as a red cross (--truth). */
#include "cli.h"
#include "datasrc.h"
#include "h5out.h"
#include "pictures.h"
#include "plot_posterior.h"

#include <nflow/h5.h>
#include <plplot.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* count rows of spec from index on, values as stored (no normalisation or noise). */
static int read_rows(const char *spec, long long index, int count, nf_tensor *out) {
    memset(out, 0, sizeof *out);
    cli_data d;
    cli_data_options o = {.batch = count, .seed = 1, .normalize = NF_NORM_NONE, .quiet_layout = 1};
    int rc = data_open(&d, "plot", spec, &o);
    if (rc != CLI_OK) return rc;
    if (d.toy) rc = cli_error(CLI_USAGE, "plot", "posterior: %s: needs an HDF5 dataset, not a toy density", spec);
    else if (index + count > d.size)
        rc = cli_error(CLI_USAGE, "plot", "posterior: %s has %lld samples; asked for %d from index %lld", spec, d.size,
                       count, index);
    nf_shape s = d.shape;
    nf_rng noise;
    nf_rng_seed(&noise, 1);
    nf_status st = NF_OK;
    if (rc == CLI_OK && (st = nf_tensor_alloc(out, count, s.c, s.d, s.h, s.w)) == NF_OK)
        st = data_read(&d, index, out, NULL, &noise);
    if (rc == CLI_OK && st != NF_OK) rc = cli_nf_error(st, "plot", spec);
    data_close(&d);
    if (rc != CLI_OK) nf_tensor_free(out);
    return rc;
}

/* Samples file: its /x (the first `want` samples, fewer if it holds fewer), /mean, /std,
 * /cond and the condition's index. */
typedef struct posterior_file {
    nf_tensor x, mean, std, cond;
    long long index;
} posterior_file;

static void posterior_free(posterior_file *p) {
    nf_tensor_free(&p->x);
    nf_tensor_free(&p->mean);
    nf_tensor_free(&p->std);
    nf_tensor_free(&p->cond);
}

/* spec FILE.h5[:/PATH] (PATH the samples, default /x); want: samples read for vectors;
 * images: want_images. */
static int posterior_read(posterior_file *p, const char *spec_in, int want, int want_images) {
    memset(p, 0, sizeof *p);
    char spec[4200], file[4096];
    const char *path;
    h5out_split(spec_in, file, sizeof file, &path, "/x");
    hid_t h;
    {
        nf_h5_quiet q;
        nf_h5_quiet_begin(&q);
        h = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
        nf_h5_quiet_end(&q);
    }
    if (h < 0) return cli_error(CLI_DATA, "plot", "posterior: cannot open %s as HDF5", file);
    char idx[32] = "";
    int have = H5Lexists(h, "mean", H5P_DEFAULT) > 0 && H5Lexists(h, "std", H5P_DEFAULT) > 0 &&
               H5Lexists(h, "cond", H5P_DEFAULT) > 0 && H5Lexists(h, path + 1, H5P_DEFAULT) > 0;
    hsize_t n = 0;
    if (have) {
        hid_t ds = H5Dopen2(h, path, H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : -1;
        hsize_t dims[8] = {0};
        if (sp >= 0 && H5Sget_simple_extent_ndims(sp) >= 1) H5Sget_simple_extent_dims(sp, dims, NULL);
        n = dims[0];
        have = ds >= 0 && nf_h5_read_string_attr(ds, "index", idx, sizeof idx) == 1;
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
    }
    H5Fclose(h);
    if (!have || n == 0)
        return cli_error(CLI_DATA, "plot", "posterior: %s is not a file of posterior samples (written by nflow sample "
                         "--cond: %s with the attribute index, /mean, /std, /cond)", file, path);
    p->index = atoll(idx);
    int rc = CLI_OK;
    const char *what[4] = {"/mean", "/std", "/cond", path};
    nf_tensor *into[4] = {&p->mean, &p->std, &p->cond, &p->x};
    for (int i = 0; rc == CLI_OK && i < 4; i++) {
        snprintf(spec, sizeof spec, "%s:%s", file, what[i]);
        hsize_t w = p->mean.h > 1 || p->mean.w > 1 || p->mean.d > 1 ? (hsize_t)want_images : (hsize_t)want;
        rc = read_rows(spec, 0, i == 3 ? (int)(n < w ? n : w) : 1, into[i]);
    }
    if (rc == CLI_OK && nf_tensor_sample_count(&p->mean) != nf_tensor_sample_count(&p->x))
        rc = cli_error(CLI_DATA, "plot", "posterior: %s: /mean and /x differ in size", file);
    if (rc != CLI_OK) posterior_free(p);
    return rc;
}

/* ---------------------------------------------------------------- images */

/* Copies image k of src (channels c of dst; src's first channel when they differ) into
 * panel `at` of dst, mapped from lo..hi to 0..1. */
static void put_panel(nf_tensor *dst, int at, const nf_tensor *src, int k, double lo, double hi) {
    size_t plane = (size_t)dst->d * dst->h * dst->w;
    if (!(hi > lo)) hi = lo + 1;
    for (int ch = 0; ch < dst->c; ch++) {
        const nf_real *s = src->data + ((size_t)k * src->c + (size_t)(src->c == dst->c ? ch : 0)) * plane;
        nf_real *d = dst->data + ((size_t)at * dst->c + (size_t)ch) * plane;
        for (size_t i = 0; i < plane; i++) d[i] = (nf_real)((s[i] - lo) / (hi - lo));
    }
}

static int same_space(const nf_tensor *a, const nf_tensor *b) { return a->d == b->d && a->h == b->h && a->w == b->w; }

static int image_row(const posterior_file *p, const nf_tensor *truth, int nsamples, const char *png) {
    const nf_tensor *x = &p->x;
    if (x->c != 1 && x->c != 3)
        return cli_error(CLI_DATA, "plot", "posterior: images of %d channels; pictures need 1 or 3", x->c);
    int with_y = same_space(&p->cond, x), ns = x->n < nsamples ? x->n : nsamples;
    int k = (truth ? 1 : 0) + with_y + 2 + ns, at = 0;
    nf_tensor row;
    if (nf_tensor_alloc(&row, k, x->c, x->d, x->h, x->w) != NF_OK)
        return cli_error(CLI_RUNTIME, "plot", "out of memory for %d panels", k);
    double lo, hi, ylo, yhi, slo = 0, shi = 0;
    pictures_robust_range(truth ? truth : x, &lo, &hi);
    pictures_robust_range(&p->cond, &ylo, &yhi);
    for (size_t i = 0; i < nf_tensor_count(&p->std); i++)
        if (isfinite(p->std.data[i])) shi = fmax(shi, p->std.data[i]);
    printf("posterior of condition %lld, left to right:%s%s posterior mean, standard deviation (0 to %.3g), %d "
           "samples\n", p->index, truth ? " truth," : "", with_y ? " condition y," : "", shi, ns);
    if (truth) put_panel(&row, at++, truth, 0, lo, hi);
    if (with_y) put_panel(&row, at++, &p->cond, 0, ylo, yhi);
    put_panel(&row, at++, &p->mean, 0, lo, hi);
    put_panel(&row, at++, &p->std, 0, slo, shi);
    for (int i = 0; i < ns; i++) put_panel(&row, at++, x, i, lo, hi);
    nf_tensor panels = row; /* volumes: each as the panel of its middle slices */
    if (x->d > 1 && pictures_slices(&row, 0, &panels) != NF_OK) {
        nf_tensor_free(&row);
        return cli_error(CLI_RUNTIME, "plot", "out of memory for slices of %d volumes", k);
    }
    int scale = panels.w >= 96 ? 1 : panels.w >= 48 ? 2 : panels.w >= 24 ? 4 : 6; /* panels of 96..144 pixels */
    char err[512];
    plot_target t = {png, NULL, 0, 0};
    int rc = plot_image_grid(&t, &panels, k, scale, 0, 1, err, sizeof err) == 0 ? CLI_OK
                                                                                 : cli_error(CLI_RUNTIME, "plot", "%s", err);
    if (panels.data != row.data) nf_tensor_free(&panels);
    nf_tensor_free(&row);
    return rc;
}

/* ---------------------------------------------------------------- vectors */

/* The plane of dimensions (i, j): n points of v (n, D) as (n, 2) pairs in xy. */
static void pairs_of(const nf_real *v, int n, size_t D, size_t i, size_t j, nf_real *xy) {
    for (int k = 0; k < n; k++) xy[2 * k] = v[(size_t)k * D + i], xy[2 * k + 1] = v[(size_t)k * D + j];
}

static int vector_panels(const posterior_file *p, const nf_tensor *truth, const nf_tensor *exact_mean,
                         double exact_var, const char *png, uint64_t seed) {
    size_t D = nf_tensor_sample_count(&p->x);
    int n = p->x.n, ne = exact_mean ? 1000 : 0;
    int panels = D < 2 ? 1 : (int)(D / 2) < 4 ? (int)(D / 2) : 4;
    nf_real *ref = ne ? malloc(sizeof(nf_real) * (size_t)ne * D) : NULL;
    nf_real *xy = malloc(sizeof(nf_real) * 2 * (size_t)(n > ne ? n : ne));
    nf_real *rxy = malloc(sizeof(nf_real) * 2 * (size_t)(ne > 0 ? ne : 1));
    if ((ne && !ref) || !xy || !rxy) {
        free(ref), free(xy), free(rxy);
        return cli_error(CLI_RUNTIME, "plot", "out of memory");
    }
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    for (int k = 0; k < ne; k++)
        for (size_t i = 0; i < D; i++)
            ref[(size_t)k * D + i] = (nf_real)(exact_mean->data[i] + sqrt(exact_var) * nf_rng_normal(&rng));
    char err[512];
    plot_target t = {png, NULL, panels > 1 ? 960 : 560, panels > 2 ? 900 : 480};
    if (plot_begin(&t, err, sizeof err) != 0) {
        free(ref), free(xy), free(rxy);
        return cli_error(CLI_RUNTIME, "plot", "%s", err);
    }
    for (int q = 0; q < panels; q++) {
        size_t i = D < 2 ? 0 : 2 * (size_t)q, j = D < 2 ? 0 : i + 1;
        pairs_of(p->x.data, n, D, i, j, xy);
        plot_box box = plot_box_of(xy, n);
        if (ne) {
            pairs_of(ref, ne, D, i, j, rxy);
            box = plot_box_union(box, plot_box_of(rxy, ne));
        }
        int col = q % 2, rowi = q / 2, cols = panels > 1 ? 2 : 1, rows = (panels + 1) / 2;
        double w = 1.0 / cols, h = 1.0 / rows;
        if (q == 0) pladv(0);
        plvpor(col * w + 0.13 * w, (col + 1) * w - 0.03 * w, 1 - (rowi + 1) * h + 0.12 * h, 1 - rowi * h - 0.1 * h);
        plwind(box.x0, box.x1, box.y0, box.y1);
        plcol0(PC_BLACK);
        plschr(0, 0.8);
        plbox("bcnst", 0, 0, "bcnstv", 0, 0);
        char xl[32], yl[32], title[96];
        snprintf(xl, sizeof xl, "dimension %zu", i + 1);
        snprintf(yl, sizeof yl, "dimension %zu", j + 1);
        snprintf(title, sizeof title, "posterior given condition %lld", p->index);
        pllab(xl, yl, title);
        if (ne) plot_points(rxy, ne, PC_BLUE_FAINT);
        plot_points(xy, n, PC_ORANGE_FAINT);
        if (truth) {
            PLFLT tx = truth->data[i], ty = truth->data[j];
            plcol0(PC_RED);
            plssym(0, 2.0);
            plpoin(1, &tx, &ty, 5);
        }
        const char *text[3];
        int colour[3], kind[3] = {1, 1, 1}, style[3] = {1, 1, 1}, m = 0;
        if (ne) text[m] = "exact posterior", colour[m++] = PC_BLUE;
        text[m] = "model samples", colour[m++] = PC_ORANGE;
        if (truth) text[m] = "truth", colour[m++] = PC_RED;
        plot_legend(m, text, colour, kind, style);
    }
    plot_end();
    free(ref), free(xy), free(rxy);
    return CLI_OK;
}

int plot_posterior(const plot_posterior_opts *o) {
    if (!o->samples) return cli_error(CLI_USAGE, "plot", "posterior needs --samples FILE.h5 (from nflow sample --cond)");
    if (o->exact_mean && !(o->exact_var > 0))
        return cli_error(CLI_USAGE, "plot", "posterior: --exact-mean needs --exact-var V > 0 (the exact posterior is "
                         "N(mean, V I))");
    posterior_file p;
    int rc = posterior_read(&p, o->samples, o->n > 0 ? (int)o->n : 1000, o->n > 0 ? (o->n < 16 ? (int)o->n : 16) : 4);
    if (rc != CLI_OK) return rc;
    int image = p.x.h > 1 || p.x.w > 1 || p.x.d > 1;
    nf_tensor truth = {0}, em = {0};
    if (o->truth) rc = read_rows(o->truth, p.index, 1, &truth);
    if (rc == CLI_OK && o->truth && nf_tensor_sample_count(&truth) != nf_tensor_sample_count(&p.mean))
        rc = cli_error(CLI_DATA, "plot", "posterior: %s has %zu values a sample, the posterior samples %zu", o->truth,
                       nf_tensor_sample_count(&truth), nf_tensor_sample_count(&p.mean));
    if (rc == CLI_OK && o->exact_mean && image)
        rc = cli_error(CLI_USAGE, "plot", "posterior: --exact-mean is for vectors; these samples are images");
    if (rc == CLI_OK && o->exact_mean) rc = read_rows(o->exact_mean, p.index, 1, &em);
    if (rc == CLI_OK && o->exact_mean && nf_tensor_sample_count(&em) != nf_tensor_sample_count(&p.mean))
        rc = cli_error(CLI_DATA, "plot", "posterior: %s has %zu values a sample, the posterior samples %zu",
                       o->exact_mean, nf_tensor_sample_count(&em), nf_tensor_sample_count(&p.mean));
    if (rc == CLI_OK)
        rc = image ? image_row(&p, o->truth ? &truth : NULL, p.x.n, o->out)
                   : vector_panels(&p, o->truth ? &truth : NULL, o->exact_mean ? &em : NULL, o->exact_var, o->out,
                                   (uint64_t)o->seed);
    nf_tensor_free(&truth);
    nf_tensor_free(&em);
    posterior_free(&p);
    return rc;
}
