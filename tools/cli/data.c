/* nflow data: the converters and generators of datasets/ from the command line. */
#include "args.h"
#include "cli.h"
#include "datasrc.h"
#include "nflow_datasets.h"

#include <math.h>
#include <string.h>

static const char help[] =
    "NAME\n"
    "  nflow data - make HDF5 datasets: convert folders of pictures, NumPy arrays,\n"
    "               Fashion-MNIST or SEG-Y, generate toy or synthetic seismic data\n\n"
    "SYNOPSIS\n"
    "  nflow data images --dir DIR --out FILE.h5 [--size H,W] [--gray] [--fit resize|crop]\n"
    "  nflow data npy --input X.npy --out FILE.h5 [--labels Y.npy] [--layout L]\n"
    "  nflow data fashion-mnist --out FILE.h5 [--dir DIR] [--pad32]\n"
    "  nflow data toy NAME --out FILE.h5 [--n N] [--seed S]\n"
    "  nflow data gaussian-linear --out FILE.h5 [--n N] [--obs M] [--seed S]\n"
    "  nflow data cond-moons --out FILE.h5 [--n N] [--seed S]\n"
    "  nflow data segy --input FILE.sgy --out FILE.h5 --patch T,X[,Y] [--stride T,X[,Y]]\n"
    "                  [--cube] [--il-byte B] [--xl-byte B]\n"
    "  nflow data seismic --out FILE.h5 --n N [--size T,X[,Y]] [--cube] [--seed S]\n"
    "                     [--noise R] [--snr DB] [--f0 HZ] [--fault-prob P]\n\n"
    "DESCRIPTION\n"
    "  images         every PNG and JPEG under DIR (recursively, by content, hidden names\n"
    "                 skipped) -> /x (N, C, H, W) uint8 (RGB, or --gray), /y int32 = the\n"
    "                 index of the picture's sub-folder of DIR in /class_names (\".\" for\n"
    "                 pictures directly in DIR), /names = paths below DIR. Pictures are\n"
    "                 scaled to cover H x W and centre-cropped (--fit crop: cropped only);\n"
    "                 one at a time, so the folder may be larger than memory. Bad files\n"
    "                 are listed on stderr and skipped, with a count at the end\n"
    "  npy            a NumPy .npy array (C order, either byte order; bool, u1..u8, i1..i8,\n"
    "                 f2, f4, f8; 1 to 5 axes) -> /x with its shape and element type, and\n"
    "                 --labels -> /y; copied in pieces, no Python needed. Training data\n"
    "                 must be u1, u2, i2, f2, f4 or f8 (labels: any)\n"
    "  fashion-mnist  the IDX files of Debian's dataset-fashion-mnist (in DIR, default\n"
    "                 " NF_FASHION_MNIST_DIR ") -> /train/x (60000, 1, 28, 28) uint8,\n"
    "                 /train/y, /test/x (10000, 1, 28, 28), /test/y; --pad32 pads to 32x32\n"
    "  toy            N samples of NAME (" CLI_TOY_NAMES ") -> /x (N, 2, 1, 1)\n"
    "                 float32 with their mean/std attributes\n"
    "  gaussian-linear  sbibm's linear-Gaussian task for conditional flows: N pairs\n"
    "                 theta ~ N(0, 0.1 I) in R^10, x | theta ~ N(theta, 0.1 I) -> /theta,\n"
    "                 /x (N, 10) float32, and M observations /obs/x with their /obs/theta\n"
    "                 and exact posterior means /obs/posterior_mean = x / 2 (the posterior\n"
    "                 is N(x/2, 0.05 I)); train p(theta | x) with --data FILE.h5:/theta\n"
    "                 --cond FILE.h5:/x\n"
    "  cond-moons     the two moons with their moon: /x (N, 2) float32 points, /y (N, 1)\n"
    "                 0 (upper) or 1 (lower); --data FILE.h5:/x --cond FILE.h5:/y\n"
    "  segy           SEG-Y sections (or --cube: 3-D cubes) cut into patches -> /x float32\n"
    "                 and /origin (needs nflow built with libsegyio); a cube needs a\n"
    "                 regular post-stack inline/crossline grid, checked trace by trace\n"
    "  seismic        synthetic seismic: folded, faulted layers convolved with a Ricker\n"
    "                 wavelet -> /x, /reflectivity, /throw, /wavelet; --cube: volumes\n"
    "                 (N, 1, time, line, trace) with --size T,X,Y (at most 2^28 values each)\n"
    "  Files are written as FILE.h5.partial and renamed when complete. Use them with\n"
    "  'nflow train --data FILE.h5:/x' (Fashion-MNIST: FILE.h5:/train/x).\n\n"
    "OPTIONS\n"
    "  --out FILE       the HDF5 file written (required)\n"
    "  --dir DIR        images: the folder of pictures; fashion-mnist: where the IDX files are\n"
    "  --pad32          fashion-mnist: pad the images to 32x32\n"
    "  --n N            toy, cond-moons: samples [60000]; gaussian-linear: pairs [10000];\n"
    "                   seismic: samples (required)\n"
    "  --obs M          gaussian-linear: observations with exact posteriors [10]\n"
    "  --seed S         random seed [1]\n"
    "  --input FILE     npy: the .npy file; segy: the SEG-Y file\n"
    "  --labels FILE    npy: a .npy of labels (same length) written as /y\n"
    "  --layout L       npy: record nchw|nhwc|ndhw as the nflow_layout attribute [auto:\n"
    "                   none; nflow guesses when it reads]\n"
    "  --patch LIST     segy: patch size (time,trace) or (time,inline,crossline)\n"
    "  --stride LIST    segy: step between patches [the patch size]\n"
    "  --cube           segy/seismic: 3-D cubes instead of 2-D sections\n"
    "  --il-byte B      segy: trace header byte of the inline number [189]\n"
    "  --xl-byte B      segy: trace header byte of the crossline number [193]\n"
    "  --size LIST      images: H,W [the first picture's size]; seismic: time samples,\n"
    "                   traces[, lines] [64,64 or 64,64,64]\n"
    "  --gray           images: one gray channel (ITU-R 601 luma) instead of RGB\n"
    "  --fit MODE       images: resize (scale to cover, centre crop) or crop (centre crop\n"
    "                   at the picture's own scale; smaller pictures are skipped) [resize]\n"
    "  --noise R        seismic: noise std relative to the rms [0]\n"
    "  --snr DB         seismic: also write /y = /x + white Gaussian noise at this SNR,\n"
    "                   10 log10(mean x^2 / noise variance) per sample (a second random\n"
    "                   stream of --seed: /x is the same with or without it): pairs for\n"
    "                   'nflow train --data F.h5:/x --cond F.h5:/y' [off]\n"
    "  --f0 HZ          seismic: Ricker peak frequency [25]\n"
    "  --fault-prob P   seismic: chance of a fault per sample [0.5]\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLES\n"
    "  nflow data images --dir photos/ --size 64,64 --out photos.h5\n"
    "  nflow data npy --input cifar_x.npy --labels cifar_y.npy --out cifar.h5\n"
    "  nflow data fashion-mnist --out fmnist.h5\n"
    "  nflow data toy moons --n 20000 --out moons.h5\n"
    "  nflow data gaussian-linear --n 10000 --out gl.h5\n"
    "  nflow data seismic --n 2000 --size 32,32 --out seismic.h5\n"
    "  nflow data seismic --cube --n 4000 --size 32,32,32 --out cubes.h5\n"
    "  nflow data seismic --n 4000 --size 64,64 --snr 0 --out pairs.h5   # /x clean, /y noisy\n";

typedef struct data_opts {
    const char *out, *dir, *input, *patch, *stride, *size, *labels;
    int pad32, cube, il_byte, xl_byte, layout, gray, fit;
    long n, seed, obs;
    double noise, snr, f0, fault_prob; /* snr: NAN = not given */
} data_opts;

/* "a,b[,c]" -> up to 3 positive ints; returns the count or -1. */
static int int_list(const char *s, int *out) {
    long v[3];
    int n = cli_parse_long_list(s, v, 3, 1);
    for (int i = 0; i < n; i++) out[i] = (int)v[i];
    return n;
}

static int done(const char *what, nf_status s, const data_opts *o) {
    if (s != NF_OK) return cli_nf_error(s, "data", what);
    printf("wrote %s\n", o->out);
    return CLI_OK;
}

static int segy(const data_opts *o) {
    nf_segy_options s = {o->input, o->out, o->cube, {0, 0, 0}, {0, 0, 0}, o->il_byte, o->xl_byte};
    int want = o->cube ? 3 : 2;
    if (!o->input || !o->patch) return cli_error(CLI_USAGE, "data", "segy needs --input FILE and --patch LIST");
    if (int_list(o->patch, s.patch) != want)
        return cli_error(CLI_USAGE, "data", "--patch: expected %d positive sizes, got '%s'", want, o->patch);
    if (o->stride && int_list(o->stride, s.stride) != want)
        return cli_error(CLI_USAGE, "data", "--stride: expected %d positive steps, got '%s'", want, o->stride);
    if (!nf_have_segyio()) return cli_error(CLI_RUNTIME, "data", "this nflow was built without libsegyio");
    return done(o->input, nf_convert_segy(&s), o);
}

static void skipped(void *ctx, const char *path, const char *why) {
    fprintf(stderr, "nflow data: skipped %s: %s\n", path, why);
}

static int images(const data_opts *o) {
    if (!o->dir) return cli_error(CLI_USAGE, "data", "images needs --dir DIR");
    nf_images_options io = {.dir = o->dir, .output = o->out, .gray = o->gray, .crop = o->fit == 1, .on_skip = skipped};
    if (o->size) {
        int sz[3];
        if (int_list(o->size, sz) != 2) return cli_error(CLI_USAGE, "data", "--size: expected H,W, got '%s'", o->size);
        io.height = sz[0], io.width = sz[1];
    }
    nf_images_result r;
    nf_status s = nf_convert_images(&io, &r);
    if (s != NF_OK) return cli_nf_error(s == NF_ERR_ARG ? NF_ERR_FORMAT : s, "data", o->dir);
    printf("wrote %s: %lld pictures of %dx%dx%d (C x H x W%s%s), %d classes\n", o->out, r.written, r.channels,
           r.height, r.width, r.size_from[0] ? "; the size of " : "", r.size_from, r.classes);
    if (r.skipped || r.ignored)
        fprintf(stderr, "nflow data: skipped %lld bad picture file%s (listed above), ignored %lld other file%s\n",
                r.skipped, r.skipped == 1 ? "" : "s", r.ignored, r.ignored == 1 ? "" : "s");
    return CLI_OK;
}

static int npy(const data_opts *o) {
    if (!o->input) return cli_error(CLI_USAGE, "data", "npy needs --input FILE.npy");
    nf_npy_options n = {.input = o->input, .labels = o->labels, .output = o->out, .layout = (nf_layout)o->layout};
    return done(o->input, nf_convert_npy(&n), o);
}

static int seismic(const data_opts *o) {
    nf_seismic_options s = nf_seismic_options_default();
    s.output = o->out;
    s.n = o->n;
    s.cube = o->cube;
    s.seed = (uint64_t)o->seed;
    s.noise = o->noise;
    s.observe = !isnan(o->snr);
    s.snr_db = s.observe ? o->snr : 0;
    s.f0 = o->f0;
    s.fault_prob = o->fault_prob;
    if (o->size) {
        int sz[3] = {0, 0, 0}, want = o->cube ? 3 : 2;
        if (int_list(o->size, sz) != want)
            return cli_error(CLI_USAGE, "data", "--size: expected %d positive sizes, got '%s'", want, o->size);
        s.nt = sz[0], s.nx = sz[1];
        if (o->cube) s.ny = sz[2];
    } else if (o->cube && s.ny < 1) {
        s.ny = s.nx;
    }
    return done("seismic", nf_generate_seismic(&s), o);
}

int cmd_data(int argc, char **argv) {
    data_opts o = {0};
    o.n = -1, o.seed = 1, o.obs = 10, o.il_byte = 189, o.xl_byte = 193, o.f0 = 25, o.fault_prob = 0.5, o.snr = NAN;
    cli_opt opts[] = {
        {"out", OPT_STR, &o.out},
        {"dir", OPT_STR, &o.dir},
        {"pad32", OPT_FLAG, &o.pad32},
        {"n", OPT_LONG, &o.n, 1, 1e12},
        {"seed", OPT_LONG, &o.seed, 0, 1e15},
        {"obs", OPT_LONG, &o.obs, 1, 1 << 20},
        {"input", OPT_STR, &o.input},
        {"labels", OPT_STR, &o.labels},
        {"gray", OPT_FLAG, &o.gray},
        {"fit", OPT_CHOICE, &o.fit, 0, 0, "resize|crop"},
        {"layout", OPT_CHOICE, &o.layout, 0, 0, CLI_LAYOUT_CHOICES},
        {"patch", OPT_STR, &o.patch},
        {"stride", OPT_STR, &o.stride},
        {"cube", OPT_FLAG, &o.cube},
        {"il-byte", OPT_INT, &o.il_byte, 1, 240},
        {"xl-byte", OPT_INT, &o.xl_byte, 1, 240},
        {"size", OPT_STR, &o.size},
        {"noise", OPT_REAL, &o.noise, 0, 100},
        {"snr", OPT_REAL, &o.snr, -100, 300},
        {"f0", OPT_REAL, &o.f0, 0.1, 1000},
        {"fault-prob", OPT_REAL, &o.fault_prob, 0, 1},
        OPT_END,
    };
    char *pos[2];
    int npos = 0;
    int rc = cli_parse("data", argc, argv, opts, help, pos, 2, &npos);
    if (rc != CLI_OK) return rc;
    const char *what = npos > 0 ? pos[0] : "";
    int toy = strcmp(what, "toy") == 0;
    if (npos != (toy ? 2 : 1) ||
        (!toy && strcmp(what, "fashion-mnist") && strcmp(what, "segy") && strcmp(what, "seismic") &&
         strcmp(what, "npy") && strcmp(what, "images") && strcmp(what, "gaussian-linear") && strcmp(what, "cond-moons")))
        return cli_error(CLI_USAGE, "data", "expected images, npy, fashion-mnist, toy NAME, gaussian-linear, cond-moons, "
                         "segy or seismic (see --help)");
    if (!o.out) return cli_error(CLI_USAGE, "data", "--out FILE.h5 is required");
    if (strcmp(what, "fashion-mnist") == 0) return done(o.dir ? o.dir : NF_FASHION_MNIST_DIR,
                                                        nf_convert_fashion_mnist(o.dir, o.out, o.pad32), &o);
    if (toy) {
        nf_status s = nf_convert_toy(o.out, pos[1], o.n > 0 ? o.n : 60000, (uint64_t)o.seed);
        if (s == NF_ERR_ARG) return cli_error(CLI_USAGE, "data", "%s (toy densities: %s)", nf_last_error(), CLI_TOY_NAMES);
        return done(pos[1], s, &o);
    }
    if (strcmp(what, "gaussian-linear") == 0)
        return done(what, nf_generate_gaussian_linear(o.out, o.n > 0 ? o.n : 10000, o.obs, (uint64_t)o.seed), &o);
    if (strcmp(what, "cond-moons") == 0) return done(what, nf_generate_cond_moons(o.out, o.n > 0 ? o.n : 60000, (uint64_t)o.seed), &o);
    if (strcmp(what, "segy") == 0) return segy(&o);
    if (strcmp(what, "npy") == 0) return npy(&o);
    if (strcmp(what, "images") == 0) return images(&o);
    if (o.n < 1) return cli_error(CLI_USAGE, "data", "seismic needs --n N");
    return seismic(&o);
}
