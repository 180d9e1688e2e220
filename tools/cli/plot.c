/* nflow plot: the tutorials' pictures from a metrics file, a model, or a dataset. */
#include "args.h"
#include "cli.h"
#include "datasrc.h"
#include "pictures.h"
#include "plot_posterior.h"

#include <math.h>
#include <string.h>

static const char help[] =
    "NAME\n"
    "  nflow plot - the pictures of the tutorials, as PNG\n\n"
    "SYNOPSIS\n"
    "  nflow plot curves --metrics DIR/metrics.csv --out FILE.png [--dims D] [--best X]\n"
    "  nflow plot scatter --model FILE [--data SPEC] --out FILE.png [--n N]\n"
    "  nflow plot trajectories --model FILE [--data SPEC] --out FILE.png [--n N]\n"
    "  nflow plot warp --model FILE --out FILE.png [--n N]\n"
    "  nflow plot grid (--model FILE [--temperature T] | --data FILE.h5:/PATH) --out FILE.png\n"
    "                  [--n N]\n"
    "  nflow plot posterior --samples FILE.h5 --out FILE.png [--truth SPEC]\n"
    "                  [--exact-mean SPEC --exact-var V] [--n N]\n\n"
    "DESCRIPTION\n"
    "  curves        three panels over the training steps, as in the InvertibleNetworks.jl\n"
    "                tutorial: 0.5|z|^2 with the Gaussian reference line D/2 (red, dashed),\n"
    "                logdet, and the full objective (with a line at --best if given)\n"
    "  scatter       N model samples (orange) over 400 data points (blue), 2-D models\n"
    "  trajectories  N latents z ~ N(0, I) joined to x = f^-1(z), 2-D models\n"
    "  warp          N points z ~ N(0, I), coloured by quadrant, followed through the\n"
    "                inverse layers in up to 8 panels, 2-D models\n"
    "  grid          N model samples (or the first N images of a dataset) as a grid;\n"
    "                volumes (N, C, D, H, W) as panels of their middle slices: sections\n"
    "                at the middle H and W (D downwards), slice at the middle D\n"
    "  posterior     posterior samples written by 'nflow sample --cond' (the condition's\n"
    "                index is read from the file). Images and volumes: one row of the\n"
    "                truth (--truth), the condition y (when it has the images' size),\n"
    "                the posterior mean, the standard deviation (black 0 to white its\n"
    "                largest value) and N samples; truth, mean and samples share one grey\n"
    "                scale. Vectors: the samples (orange) in the planes of dimensions\n"
    "                (1,2), (3,4), ... (up to four panels) over the exact posterior\n"
    "                N(mean, V I) where it is known (blue), the truth as a red cross.\n"
    "                Values are compared as stored: sample with --data to get data units\n"
    "  The animated training.gif is written by 'nflow train' (see --gif-every there).\n\n"
    "OPTIONS\n"
    "  --metrics FILE     a metrics.csv written by nflow train\n"
    "  --dims D           dimensions per sample, for the reference line D/2 [2]\n"
    "  --best X           draw the best possible objective X on the third panel [none]\n"
    "  --title TEXT       title of the curves [the file name]\n"
    "  --model FILE       model or checkpoint file\n"
    "  --data SPEC        FILE.h5:/DATASET or toy:NAME\n"
    "  --layout L         of --data: auto|nchw|nhwc|ndhw [auto] (see nflow train --help)\n"
    "  --out FILE         the PNG written (required)\n"
    "  --n N              points or images [scatter 400, trajectories 150, warp 4000, grid 64,\n"
    "                     volumes 16]\n"
    "  --temperature T    grid: latent scale [0.7]\n"
    "  --seed S           random seed [1]\n"
    "  --samples FILE     posterior: the HDF5 file of nflow sample --cond\n"
    "  --truth SPEC       posterior: FILE.h5:/PATH whose sample at the index is the truth\n"
    "  --exact-mean SPEC  posterior, vectors: exact posterior means FILE.h5:/PATH (row index)\n"
    "  --exact-var V      posterior, vectors: the exact posterior's variance per dimension\n"
    "                     (posterior: --n = samples drawn: images 4, at most 16; vectors 1000)\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLES\n"
    "  nflow plot curves --metrics banana/metrics.csv --out curves.png --best 1.0\n"
    "  nflow plot warp --model banana/model.h5 --out warp.png\n"
    "  nflow plot grid --data fmnist.h5:/test/x --out real.png\n"
    "  nflow plot posterior --samples post3.h5 --truth gl.h5:/obs/theta \\\n"
    "                  --exact-mean gl.h5:/obs/posterior_mean --exact-var 0.05 --out post3.png\n";

typedef struct plot_opts {
    const char *metrics, *model, *data, *out, *title, *samples, *truth, *exact_mean;
    long dims, n, seed;
    double best, temperature, exact_var;
    int layout;
} plot_opts;

static int curves(const plot_opts *o) {
    if (!o->metrics) return cli_error(CLI_USAGE, "plot", "curves needs --metrics FILE");
    return pictures_curves("plot", o->metrics, o->out, (size_t)o->dims, o->best, o->title ? o->title : o->metrics);
}

/* Up to max points of the data (for backgrounds), read into pts. */
static int data_points(const plot_opts *o, nf_flow *f, nf_tensor *pts, int max) {
    memset(pts, 0, sizeof *pts);
    if (!o->data) return CLI_OK;
    cli_data d;
    cli_data_options dopt = {.batch = max, .seed = (uint64_t)o->seed, .toy_size = 10000, .dequantize = 1,
                             .normalize = NF_NORM_AUTO, .layout = (nf_layout)o->layout};
    int rc = data_open(&d, "plot", o->data, &dopt);
    if (rc == CLI_OK && f) rc = cli_check_shape("plot", f, d.shape, o->data);
    nf_rng noise;
    nf_rng_seed(&noise, (uint64_t)o->seed);
    if (rc == CLI_OK) {
        int n = d.size < max ? (int)d.size : max;
        nf_shape s = d.shape;
        nf_status st = nf_tensor_alloc(pts, n, s.c, s.d, s.h, s.w);
        if (st == NF_OK) st = data_read(&d, 0, pts, NULL, &noise);
        if (st != NF_OK) rc = cli_nf_error(st, "plot", o->data);
    }
    data_close(&d);
    return rc;
}

static int grid(const plot_opts *o, nf_flow *f) {
    int n = o->n > 0 ? (int)o->n : f && f->in.d > 1 ? 16 : 64;
    if (f) {
        if (!pictures_is_image(f))
            return cli_error(CLI_DATA, "plot", "grid needs a model of 1- or 3-channel images or volumes; this one takes "
                             "%dx%dx%dx%d", f->in.c, f->in.d, f->in.h, f->in.w);
        double lim = f->in.d > 1 ? NAN : 0.5; /* volumes: the samples' own range */
        return pictures_image_grid("plot", f, n, o->temperature, -lim, lim, o->out, (uint64_t)o->seed);
    }
    if (!o->data) return cli_error(CLI_USAGE, "plot", "grid needs --model or --data");
    nf_tensor x;
    int rc = data_points(o, NULL, &x, n);
    if (rc != CLI_OK) return rc;
    double lo = INFINITY, hi = -INFINITY; /* volumes: the central 99 % (seismic has rare large spikes) */
    if (x.d > 1) lo = hi = NAN;
    for (size_t i = 0; x.d <= 1 && i < nf_tensor_count(&x); i++) lo = fmin(lo, x.data[i]), hi = fmax(hi, x.data[i]);
    char err[512];
    plot_target t = {o->out, NULL, 0, 0};
    if (pictures_grid(&x, lo, hi, &t, err, sizeof err) != 0) rc = cli_error(CLI_DATA, "plot", "%s: %s", o->data, err);
    nf_tensor_free(&x);
    return rc;
}

int cmd_plot(int argc, char **argv) {
    plot_opts o = {.dims = 2, .seed = 1, .best = NAN, .temperature = 0.7};
    cli_opt opts[] = {
        {"metrics", OPT_STR, &o.metrics},
        {"model", OPT_STR, &o.model},
        {"data", OPT_STR, &o.data},
        {"layout", OPT_CHOICE, &o.layout, 0, 0, CLI_LAYOUT_CHOICES},
        {"out", OPT_STR, &o.out},
        {"title", OPT_STR, &o.title},
        {"dims", OPT_LONG, &o.dims, 1, 1e9},
        {"best", OPT_REAL, &o.best, -1e9, 1e9},
        {"n", OPT_LONG, &o.n, 1, 1000000},
        {"temperature", OPT_REAL, &o.temperature, 0, 100},
        {"seed", OPT_LONG, &o.seed, 0, 1e15},
        {"samples", OPT_STR, &o.samples},
        {"truth", OPT_STR, &o.truth},
        {"exact-mean", OPT_STR, &o.exact_mean},
        {"exact-var", OPT_REAL, &o.exact_var, 1e-300, 1e300},
        OPT_END,
    };
    char *pos[1];
    int npos = 0;
    int rc = cli_parse("plot", argc, argv, opts, help, pos, 1, &npos);
    if (rc != CLI_OK) return rc;
    static const char *const kinds[] = {"curves", "scatter", "trajectories", "warp", "grid", "posterior"};
    int kind = -1;
    for (int i = 0; npos == 1 && i < 6; i++)
        if (strcmp(pos[0], kinds[i]) == 0) kind = i;
    if (kind < 0)
        return cli_error(CLI_USAGE, "plot", "expected one of curves|scatter|trajectories|warp|grid|posterior, got '%s'",
                         npos ? pos[0] : "nothing");
    if (!o.out) return cli_error(CLI_USAGE, "plot", "--out FILE.png is required");
    if (kind == 5) {
        plot_posterior_opts po = {o.samples, o.truth, o.exact_mean, o.exact_var, o.out, o.n, o.seed};
        rc = plot_posterior(&po);
        if (rc == CLI_OK) printf("wrote %s\n", o.out);
        return rc;
    }
    nf_flow *f = NULL;
    if (kind != 0 && o.model && (rc = cli_load_model("plot", o.model, &f)) != CLI_OK) return rc;
    if (kind == 0) {
        rc = curves(&o);
    } else if (kind == 4) {
        rc = grid(&o, f);
    } else if (!f) {
        rc = cli_error(CLI_USAGE, "plot", "%s needs --model FILE", kinds[kind]);
    } else if (!pictures_is_2d(f)) {
        rc = cli_error(CLI_DATA, "plot", "%s needs a model of 2-D points; this one takes %dx%dx%dx%d", kinds[kind],
                       f->in.c, f->in.d, f->in.h, f->in.w);
    } else {
        nf_tensor pts;
        rc = data_points(&o, f, &pts, 400);
        uint64_t seed = (uint64_t)o.seed;
        if (rc == CLI_OK && kind == 1) rc = pictures_scatter("plot", f, pts.data, pts.n, o.n ? (int)o.n : 400, o.out, seed);
        if (rc == CLI_OK && kind == 2)
            rc = pictures_trajectories("plot", f, pts.data, pts.n, o.n ? (int)o.n : 150, o.out, seed);
        if (rc == CLI_OK && kind == 3) rc = pictures_warp("plot", f, o.n ? (int)o.n : 4000, o.out, seed);
        nf_tensor_free(&pts);
    }
    if (rc == CLI_OK) printf("wrote %s\n", o.out);
    if (f) nf_flow_destroy(f);
    return rc;
}
