/* nflow sample: x = f^-1(T eps), eps ~ N(0, I), to HDF5 and, optionally, a picture. */
#include "args.h"
#include "cli.h"
#include "datasrc.h"
#include "h5out.h"
#include "pictures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "NAME\n"
    "  nflow sample - draw samples from a trained flow\n\n"
    "SYNOPSIS\n"
    "  nflow sample --model FILE [--n N] [--temperature T] [--out FILE.h5[:/PATH]]\n"
    "               [--png FILE.png] [--data SPEC [--layout L]] [--seed S] [--batch B]\n"
    "               [--threads N] [--cond FILE.h5:/Y --index I]\n\n"
    "DESCRIPTION\n"
    "  Draws eps ~ N(0, I) and returns x = f^-1(T eps). The samples go to an HDF5 dataset of\n"
    "  shape (N, C, H, W) (or (N, C, D, H, W)) float32, written batch by batch, so N can be\n"
    "  larger than memory. With --data naming an HDF5 dataset, samples are mapped back to\n"
    "  the data's own units (the inverse of the dequantisation/normalisation); otherwise\n"
    "  they are in the model's units. --png draws a picture: for 2-D models a scatter of\n"
    "  up to 1000 samples (over 400 points of --data if given), for image models a grid of\n"
    "  the first 64 samples, for volumes (N, C, D, H, W) the first 16 as panels of their\n"
    "  middle slices: the sections at the middle H and at the middle W (D downwards) and\n"
    "  the slice at the middle D (for seismic cubes: inline, crossline, time slice).\n"
    "  A conditional model (trained with --cond) draws posterior samples x ~ p(x | y) for one\n"
    "  condition y, sample I of --cond; the file then also holds /mean and /std (1, C, ...:\n"
    "  per value over the N samples, in the output's units), /cond (y) and the attribute index.\n"
    "  For images and volumes (conditional Glow, cond_hint_conv) --png P.png draws the first\n"
    "  samples as above and the posterior mean and standard deviation in P_mean.png and\n"
    "  P_std.png, each picture in its own value range (the central 99 % of its values).\n\n"
    "OPTIONS\n"
    "  --model FILE       model or checkpoint file (required)\n"
    "  --n N              number of samples [1000]\n"
    "  --temperature T    scale of the latents, 0 <= T [1.0]; 0.7 gives cleaner images\n"
    "  --out SPEC         HDF5 output, FILE.h5 or FILE.h5:/PATH [samples.h5:/x];\n"
    "                     'none' writes no HDF5 file\n"
    "  --png FILE         picture of the samples [none]\n"
    "  --data SPEC        FILE.h5:/DATASET or toy:NAME: units and background points\n"
    "  --layout L         of --data: auto|nchw|nhwc|ndhw [auto] (see nflow train --help)\n"
    "  --seed S           random seed [1]\n"
    "  --batch B          samples per inverse pass [256]\n"
    "  --threads N        OpenMP/OpenBLAS threads [from the environment]\n"
    "  --cond SPEC        conditional models: conditions FILE.h5:/DATASET (read as stored)\n"
    "  --index I          which sample of --cond is the condition [0]\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLES\n"
    "  nflow sample --model banana/model.h5 --n 2000 --png banana_samples.png --data toy:banana\n"
    "  nflow sample --model fmnist/model.h5 --n 64 --temperature 0.7 --out s.h5 --png grid.png \\\n"
    "               --data fmnist.h5:/train/x\n"
    "  nflow sample --model gl/model.h5 --cond gl.h5:/obs/x --index 3 --n 10000 --out post3.h5\n"
    "  nflow sample --model cglow/model.h5 --cond pairs.h5:/y --index 0 --n 256 --out post0.h5 \\\n"
    "               --png post0.png\n";

typedef struct sample_opts {
    const char *model, *out, *png, *data, *cond;
    long n, index;
    double temperature;
    long seed;
    int batch, threads, layout;
} sample_opts;

/* The picture: scatter for 2-D models, grid for images. */
static int picture(const sample_opts *o, nf_flow *f, cli_data *d, int have_data, const nf_tensor *first) {
    char err[512];
    int rc = 0;
    if (pictures_is_2d(f)) {
        nf_tensor pts = {0};
        int nd = 0;
        if (have_data) {
            nd = d->size < 400 ? (int)d->size : 400;
            nf_rng noise;
            nf_rng_seed(&noise, 5);
            if (nf_tensor_alloc(&pts, nd, 2, 1, 1, 1) != NF_OK || data_read(d, 0, &pts, NULL, &noise) != NF_OK) nd = 0;
        }
        plot_box box = nd > 0 ? plot_box_of(pts.data, nd) : plot_box_of(first->data, first->n);
        plot_target t = {o->png, NULL, 640, 560};
        char title[96];
        snprintf(title, sizeof title, "samples at temperature %g", o->temperature);
        rc = plot_scatter(&t, pts.data, nd, first->data, first->n, &box, title, err, sizeof err);
        nf_tensor_free(&pts);
    } else {
        /* integer data is dequantised into [-0.5, 0.5): show that range; volumes (float
         * data, normalised) show the samples' own */
        plot_target t = {o->png, NULL, 0, 0};
        double lim = f->in.d > 1 ? NAN : 0.5;
        rc = pictures_grid(first, -lim, lim, &t, err, sizeof err);
    }
    if (rc != 0) return cli_error(CLI_RUNTIME, "sample", "%s", err);
    printf("wrote %s\n", o->png);
    return CLI_OK;
}

/* --cond: y (batch, the flow's condition shape) = sample o->index of the conditions, in
 * every row; read through the conditioning path of a dataset (values as stored), as
 * training read them. */
static int condition(const sample_opts *o, const nf_flow *f, int batch, nf_tensor *y) {
    if (!o->cond) return cli_check_cond("sample", f, (nf_shape){0}, ""); /* a conditional model needs one */
    if (!nf_flow_is_conditional(f)) return cli_check_cond("sample", f, (nf_shape){1, 1, 1, 1, 1}, o->cond);
    cli_data c;
    cli_data_options copt = {.batch = 1, .seed = 1, .normalize = NF_NORM_NONE, .cond = o->cond};
    int rc = data_open(&c, "sample", o->cond, &copt);
    nf_shape cs = c.cond_shape, xs = c.shape;
    if (rc == CLI_OK) rc = cli_check_cond("sample", f, cs, o->cond);
    if (rc == CLI_OK && o->index >= c.size)
        rc = cli_error(CLI_USAGE, "sample", "--index %ld: %s has %lld samples", o->index, o->cond, c.size);
    nf_tensor one = {0};
    if (rc == CLI_OK && (nf_tensor_alloc(&one, 1, xs.c, xs.d, xs.h, xs.w) != NF_OK ||
                         nf_tensor_alloc(y, batch, cs.c, cs.d, cs.h, cs.w) != NF_OK))
        rc = cli_error(CLI_RUNTIME, "sample", "out of memory");
    if (rc == CLI_OK) {
        nf_tensor y1 = *y;
        y1.n = 1;
        nf_status st = data_read(&c, o->index, &one, &y1, NULL);
        if (st != NF_OK) rc = cli_nf_error(st, "sample", o->cond);
        size_t per = nf_tensor_sample_count(y);
        for (int b = 1; rc == CLI_OK && b < batch; b++) memcpy(y->data + (size_t)b * per, y->data, per * sizeof(nf_real));
    }
    nf_tensor_free(&one);
    data_close(&c);
    return rc;
}

/* PATH with "_" tag inserted before its extension: post.png -> post_mean.png. */
static void tagged_path(char *buf, size_t size, const char *path, const char *tag) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) dot = path + strlen(path);
    snprintf(buf, size, "%.*s_%s%s", (int)(dot - path), path, tag, dot);
}

/* One picture of values (1, s) in data units, each its own value range. */
static int one_picture(const char *png, const double *v, nf_shape s) {
    nf_tensor t;
    if (nf_tensor_alloc(&t, 1, s.c, s.d, s.h, s.w) != NF_OK) return cli_error(CLI_RUNTIME, "sample", "out of memory");
    for (size_t i = 0; i < nf_tensor_count(&t); i++) t.data[i] = (nf_real)v[i];
    plot_target pt = {png, NULL, 0, 0};
    char err[512];
    int rc = pictures_grid(&t, NAN, NAN, &pt, err, sizeof err);
    nf_tensor_free(&t);
    if (rc != 0) return cli_error(CLI_RUNTIME, "sample", "%s", err);
    printf("wrote %s\n", png);
    return CLI_OK;
}

/* Posterior pictures of an image (volume) model: the kept samples as a grid in --png,
 * the posterior mean and standard deviation in PNG_mean.png and PNG_std.png. */
static int posterior_pictures(const char *png, const nf_tensor *first, const double *mean, const double *std,
                              nf_shape s) {
    plot_target pt = {png, NULL, 0, 0};
    char err[512], path[4200];
    if (pictures_grid(first, NAN, NAN, &pt, err, sizeof err) != 0) return cli_error(CLI_RUNTIME, "sample", "%s", err);
    printf("wrote %s\n", png);
    tagged_path(path, sizeof path, png, "mean");
    int rc = one_picture(path, mean, s);
    tagged_path(path, sizeof path, png, "std");
    return rc == CLI_OK ? one_picture(path, std, s) : rc;
}

/* Running mean and standard deviation per value (Welford, in double). */
typedef struct moments {
    double *mean, *m2; /* (per) */
    long long n;
} moments;

static void moments_add(moments *m, const nf_real *x, int n, size_t per) {
    for (int b = 0; b < n; b++) {
        m->n++;
        for (size_t i = 0; i < per; i++) {
            double v = x[(size_t)b * per + i], d = v - m->mean[i];
            m->mean[i] += d / (double)m->n;
            m->m2[i] += d * (v - m->mean[i]);
        }
    }
}

/* /mean, /std (1, the sample shape) float32, /cond (1, y's shape) and the index into out. */
static int write_moments(cli_h5out *out, const moments *m, nf_shape s, const nf_tensor *y, long index) {
    size_t per = nf_shape_sample_count(s);
    nf_real *v = malloc(sizeof(nf_real) * (per > nf_tensor_sample_count(y) ? per : nf_tensor_sample_count(y)));
    if (!v) return cli_error(CLI_RUNTIME, "sample", "out of memory");
    long long dims[6];
    int rank = h5out_sample_dims(s, 1, dims), rc = CLI_OK;
    for (size_t i = 0; i < per; i++) v[i] = (nf_real)m->mean[i];
    if ((rc = h5out_array(out, 1, "/mean", rank, dims, 0)) == CLI_OK) rc = h5out_append(out, 1, 1, v);
    for (size_t i = 0; rc == CLI_OK && i < per; i++) v[i] = (nf_real)sqrt(m->n > 1 ? m->m2[i] / (double)(m->n - 1) : 0);
    if (rc == CLI_OK && (rc = h5out_array(out, 2, "/std", rank, dims, 0)) == CLI_OK) rc = h5out_append(out, 2, 1, v);
    nf_shape ys = nf_tensor_shape(y);
    rank = h5out_sample_dims(ys, 1, dims);
    if (rc == CLI_OK && (rc = h5out_array(out, 3, "/cond", rank, dims, 0)) == CLI_OK)
        rc = h5out_append(out, 3, 1, y->data);
    char idx[32];
    snprintf(idx, sizeof idx, "%ld", index);
    if (rc == CLI_OK) rc = h5out_attr(out, 0, "index", idx);
    free(v);
    return rc;
}

static int run(const sample_opts *o, nf_flow *f, cli_data *d, int have_data) {
    nf_shape s = f->in;
    int batch = o->batch < o->n ? o->batch : (int)o->n;
    int keep = o->png ? (pictures_is_2d(f) ? 1000 : s.d > 1 ? 16 : 64) : 0;
    if (keep > o->n) keep = (int)o->n;
    nf_tensor x = {0}, first = {0};
    if (nf_tensor_alloc(&x, batch, s.c, s.d, s.h, s.w) != NF_OK ||
        (keep && nf_tensor_alloc(&first, keep, s.c, s.d, s.h, s.w) != NF_OK)) {
        nf_tensor_free(&x);
        return cli_error(CLI_RUNTIME, "sample", "out of memory for a batch of %d", batch);
    }
    cli_h5out out = {0};
    char file[4096];
    const char *path;
    int write = strcmp(o->out, "none") != 0, rc = CLI_OK;
    if (write) {
        h5out_split(o->out, file, sizeof file, &path, "/x");
        long long dims[5];
        int rank = h5out_sample_dims(s, o->n, dims);
        rc = h5out_open(&out, "sample", file);
        if (rc == CLI_OK) rc = h5out_array(&out, 0, path, rank, dims, 0);
        if (rc == CLI_OK) rc = h5out_attr(&out, 0, "units", have_data && !d->toy ? "data" : "model");
    }
    nf_tensor y = {0};
    size_t per = nf_shape_sample_count(s);
    moments mo = {0};
    if (rc == CLI_OK) rc = condition(o, f, batch, &y);
    const nf_tensor *cond = y.data ? &y : NULL;
    if (rc == CLI_OK && cond && (!(mo.mean = calloc(per, sizeof(double))) || !(mo.m2 = calloc(per, sizeof(double)))))
        rc = cli_error(CLI_RUNTIME, "sample", "out of memory");
    nf_rng rng;
    nf_rng_seed(&rng, (uint64_t)o->seed);
    for (long done = 0; rc == CLI_OK && done < o->n; done += x.n) {
        x.n = y.n = o->n - done < batch ? (int)(o->n - done) : batch;
        nf_status st = nf_flow_sample(f, &x, cond, o->temperature, &rng);
        if (st != NF_OK) {
            rc = cli_nf_error(st, "sample", "sampling");
            break;
        }
        if (done < keep) memcpy(first.data + done * per, x.data, sizeof(nf_real) * per * (size_t)(keep - done < x.n ? keep - done : x.n));
        if (have_data && !d->toy && (st = nf_dataset_denormalize(d->ds, &x)) != NF_OK) {
            rc = cli_nf_error(st, "sample", "mapping to data units");
            break;
        }
        if (cond) moments_add(&mo, x.data, x.n, per);
        if (write) rc = h5out_append(&out, 0, x.n, x.data);
    }
    if (write && cond && rc == CLI_OK) {
        y.n = 1;
        rc = write_moments(&out, &mo, s, &y, o->index);
    }
    if (write) {
        int rc2 = h5out_close(&out, rc == CLI_OK);
        if (rc == CLI_OK) rc = rc2;
        if (rc == CLI_OK) printf("wrote %ld samples at temperature %g to %s:%s\n", o->n, o->temperature, file, path);
    }
    if (rc == CLI_OK && cond) {
        double mm = 0, ms = 0;
        for (size_t i = 0; i < per; i++) { /* m2 becomes the std */
            mo.m2[i] = sqrt(mo.m2[i] / (double)(mo.n > 1 ? mo.n - 1 : 1));
            mm += mo.mean[i] / (double)per, ms += mo.m2[i] / (double)per;
        }
        printf("posterior given %s sample %ld: mean over values of the mean %.4g, of the std %.4g\n", o->cond, o->index,
               mm, ms);
        if (o->png) rc = posterior_pictures(o->png, &first, mo.mean, mo.m2, s);
    }
    free(mo.mean);
    free(mo.m2);
    nf_tensor_free(&y);
    if (rc == CLI_OK && o->png && !cond) rc = picture(o, f, d, have_data, &first);
    nf_tensor_free(&x);
    nf_tensor_free(&first);
    return rc;
}

int cmd_sample(int argc, char **argv) {
    sample_opts o = {.out = "samples.h5", .n = 1000, .temperature = 1.0, .seed = 1, .batch = 256};
    cli_opt opts[] = {
        {"model", OPT_STR, &o.model},
        {"n", OPT_LONG, &o.n, 1, 1e12},
        {"temperature", OPT_REAL, &o.temperature, 0, 100},
        {"out", OPT_STR, &o.out},
        {"png", OPT_STR, &o.png},
        {"data", OPT_STR, &o.data},
        {"layout", OPT_CHOICE, &o.layout, 0, 0, CLI_LAYOUT_CHOICES},
        {"seed", OPT_LONG, &o.seed, 0, 1e15},
        {"batch", OPT_INT, &o.batch, 1, 1 << 20},
        {"threads", OPT_INT, &o.threads, 1, 1024},
        {"cond", OPT_STR, &o.cond},
        {"index", OPT_LONG, &o.index, 0, 1e15},
        OPT_END,
    };
    int rc = cli_parse("sample", argc, argv, opts, help, NULL, 0, NULL);
    if (rc != CLI_OK) return rc;
    if (!o.model) return cli_error(CLI_USAGE, "sample", "--model is required (see --help)");
    if ((rc = cli_set_threads("sample", o.threads)) != CLI_OK) return rc;
    nf_flow *f = NULL;
    if ((rc = cli_load_model("sample", o.model, &f)) != CLI_OK) return rc;
    cli_data d;
    memset(&d, 0, sizeof d);
    int have_data = 0;
    if (o.data) {
        cli_data_options dopt = {.batch = 400, .seed = 1, .toy_size = 400, .normalize = NF_NORM_AUTO,
                                 .layout = (nf_layout)o.layout};
        rc = data_open(&d, "sample", o.data, &dopt);
        if (rc == CLI_OK) rc = cli_check_shape("sample", f, d.shape, o.data);
        have_data = rc == CLI_OK;
    }
    if (rc == CLI_OK && o.png && nf_flow_is_conditional(f) && !pictures_image_shape(f->in))
        rc = cli_error(CLI_USAGE, "sample", "--png: pictures of posterior samples are for images and volumes of 1 or 3 "
                       "channels; these are %dx%dx%dx%d (write them with --out)", f->in.c, f->in.d, f->in.h, f->in.w);
    if (rc == CLI_OK && o.png && !nf_flow_is_conditional(f) && !pictures_is_2d(f) && !pictures_is_image(f))
        rc = cli_error(CLI_USAGE, "sample", "--png: no picture for samples of %dx%dx%dx%d (2-D points, or images or "
                       "volumes of 1 or 3 channels, only)", f->in.c, f->in.d, f->in.h, f->in.w);
    if (rc == CLI_OK) rc = run(&o, f, &d, have_data);
    data_close(&d);
    nf_flow_destroy(f);
    return rc;
}
