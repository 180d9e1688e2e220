/* nflow demo: the README's first command. Trains the InvertibleNetworks.jl banana
 * tutorial, a small image flow (Fashion-MNIST when Debian's package is installed,
 * synthetic seismic sections otherwise) and a conditional flow whose posterior samples it
 * draws, writes the pictures and says where they are. */
#include "args.h"
#include "cli.h"
#include "nflow_datasets.h"
#include "pictures.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "NAME\n"
    "  nflow demo - train the banana tutorial and a small image flow, write the pictures\n\n"
    "SYNOPSIS\n"
    "  nflow demo [--out DIR] [--image-data KIND] [--image-steps N] [--no-images] [--threads N]\n\n"
    "DESCRIPTION\n"
    "  1. The InvertibleNetworks.jl banana tutorial: Glow with 2 channels, hidden 16,\n"
    "     L=1, K=10, no squeeze, batch 150, Adam lr 9e-4, 400 iterations over 60 000\n"
    "     samples. Prints the loss falling and the objective on 10 000 fresh held-out\n"
    "     samples (the best possible is 1.0; the tutorial ends near 1.16). Pictures in\n"
    "     DIR/banana: training curves, samples over data, z->x trajectories, layer-by-layer\n"
    "     warping, training.gif.\n"
    "  2. A small image Glow (L=2, K=4, hidden 32, batch 32): on Fashion-MNIST 28x28 when\n"
    "     " NF_FASHION_MNIST_DIR " exists (converted to DIR/fashion_mnist.h5,\n"
    "     evaluated on 2000 test images), otherwise on synthetic seismic sections 32x32.\n"
    "     Prints the bits/dim at the first step and on held-out images at the end.\n"
    "     Pictures in DIR/images: curves, a grid of samples, training.gif.\n"
    "  3. Posterior sampling with a conditional flow: the two moons with the moon as the\n"
    "     condition (nflow data cond-moons, 20 000 points), four conditional spline\n"
    "     couplings, 1000 steps of 256. Draws 1000 samples given each moon and prints\n"
    "     the share that lies nearer the moon asked for than the other one. Pictures in\n"
    "     DIR/posterior: moon0.png, moon1.png (samples over that moon's data), curves.\n"
    "  The whole demo takes about two minutes on 2 cores.\n\n"
    "OPTIONS\n"
    "  --out DIR          output directory [demo_out]\n"
    "  --image-data KIND  auto|fashion-mnist|seismic [auto: Fashion-MNIST when installed]\n"
    "  --image-steps N    training steps of the image flow [600]\n"
    "  --no-images        only the banana and the posterior\n"
    "  --threads N        OpenMP/OpenBLAS threads [from the environment]\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLE\n"
    "  nflow demo --out demo_out\n";

static int banana(const char *out, int threads, cli_train_result *res) {
    cli_train_config c;
    train_config_default(&c);
    c.glow.hidden = 16, c.glow.levels = 1, c.glow.steps = 10, c.glow.multiscale = 0;
    c.data = "toy:banana";
    c.train_size = 60000, c.val_size = 10000;
    c.batch = 150;
    c.sched.lr = 9e-4;
    c.steps = 400;
    c.seed = 1;
    /* a 2-D problem this small only waits on extra threads */
    c.threads = threads > 0 ? threads : 1;
    c.log_every = 50;
    c.out = out;
    printf("== 1. the banana tutorial (InvertibleNetworks.jl): Glow L=1 K=10 hidden 16, 400 steps of 150\n");
    fflush(stdout);
    return train_run(&c, res);
}

/* The image data: Fashion-MNIST if installed (kind 0) or asked for (1), else synthetic
 * seismic (2). */
static int image_data(const char *dir, int kind, char *spec, size_t n, char *val, const char **name) {
    char path[4200];
    struct stat st;
    nf_status s;
    if (kind == 1 || (kind == 0 && stat(NF_FASHION_MNIST_DIR, &st) == 0)) {
        cli_path(path, sizeof path, dir, "fashion_mnist.h5");
        *name = "Fashion-MNIST 28x28";
        s = stat(path, &st) == 0 ? NF_OK : nf_convert_fashion_mnist(NULL, path, 0);
        snprintf(spec, n, "%s:/train/x", path);
        snprintf(val, n, "%s:/test/x", path);
    } else {
        cli_path(path, sizeof path, dir, "seismic.h5");
        *name = "synthetic seismic 32x32";
        nf_seismic_options o = nf_seismic_options_default();
        o.output = path, o.n = 12000, o.nt = 32, o.nx = 32, o.seed = 1;
        s = stat(path, &st) == 0 ? NF_OK : nf_generate_seismic(&o);
        snprintf(spec, n, "%s:/x", path);
        val[0] = '\0'; /* held out from the end of the file */
    }
    return s == NF_OK ? CLI_OK : cli_nf_error(s, "demo", "making the image data");
}

static int images(const char *dir, int kind, long steps, int threads, cli_train_result *res, const char **name) {
    char spec[4300], val[4300];
    int rc = image_data(dir, kind, spec, sizeof spec, val, name);
    if (rc != CLI_OK) return rc;
    char out[4200];
    cli_path(out, sizeof out, dir, "images");
    cli_train_config c;
    train_config_default(&c);
    c.glow.hidden = 32, c.glow.levels = 2, c.glow.steps = 4, c.glow.multiscale = 1;
    c.data = spec;
    c.val = val[0] ? val : NULL;
    c.val_size = 2000;
    c.batch = 32;
    c.sched = (nf_schedule){NF_SCHEDULE_COSINE, 1e-3, 1e-4, 20, 0, 0.5};
    c.clip = 50;
    c.steps = steps;
    c.seed = 1;
    c.threads = threads;
    c.out = out;
    printf("\n== 2. a small image Glow on %s: L=2 K=4 hidden 32, %ld steps of 32\n", *name, steps);
    fflush(stdout);
    return train_run(&c, res);
}

/* Distance of p to moon m's arc: moon 0 the upper half circle about (-0.5, 0), moon 1
 * the lower one about (0.5, 0), both of radius 1 (nf_generate_cond_moons). */
static double moon_distance(const nf_real *p, int m) {
    double cx = m == 0 ? -0.5 : 0.5, up = m == 0 ? 1 : -1, dx = p[0] - cx, dy = p[1];
    if (up * dy >= 0) return fabs(hypot(dx, dy) - 1);
    return fmin(hypot(dx - 1, dy), hypot(dx + 1, dy)); /* below the arc: its nearer end */
}

/* The posterior part: cond-moons, a conditional spline flow, samples given each moon. */
static int posterior(const char *dir, int threads, double share[2]) {
    char data[4200], out[4200], spec[4300], png[4300];
    cli_path(data, sizeof data, dir, "cond_moons.h5");
    cli_path(out, sizeof out, dir, "posterior");
    struct stat st;
    nf_status s = stat(data, &st) == 0 ? NF_OK : nf_generate_cond_moons(data, 20000, 1);
    if (s != NF_OK) return cli_nf_error(s, "demo", "making the two moons");
    snprintf(spec, sizeof spec, "%s:/x", data);
    cli_train_config c;
    train_config_default(&c);
    c.data = spec, c.cond = "/y";
    c.spec = "cond_spline(bins=8,bound=3,hidden=32x2)*4";
    c.batch = 256;
    c.sched = (nf_schedule){NF_SCHEDULE_COSINE, 2e-3, 1e-5, 50, 0, 0.5};
    c.steps = 1000;
    c.seed = 1;
    c.threads = threads > 0 ? threads : 1;
    c.log_every = 250;
    c.gif_every = -1;
    c.out = out;
    printf("\n== 3. posterior sampling: the two moons given the moon, 4 conditional spline couplings, 1000 steps of "
           "256\n");
    fflush(stdout);
    cli_train_result res = {0};
    int rc = train_run(&c, &res);
    nf_flow *f = NULL;
    char model[4300];
    cli_path(model, sizeof model, out, "model.h5");
    if (rc == CLI_OK) rc = cli_load_model("demo", model, &f);
    enum { NS = 1000, ND = 400 };
    nf_tensor x = {0}, y = {0}, pts = {0};
    if (rc == CLI_OK && (nf_tensor_alloc(&x, NS, 2, 1, 1, 1) != NF_OK || nf_tensor_alloc(&y, NS, 1, 1, 1, 1) != NF_OK ||
                         nf_tensor_alloc(&pts, 2 * ND, 2, 1, 1, 1) != NF_OK))
        rc = cli_error(CLI_RUNTIME, "demo", "out of memory");
    nf_rng rng;
    nf_rng_seed(&rng, 7);
    if (rc == CLI_OK) nf_sample_moons(&rng, pts.data, 2 * ND, 0.05); /* the first ND on moon 0 */
    for (int m = 0; rc == CLI_OK && m < 2; m++) {
        for (int i = 0; i < NS; i++) y.data[i] = (nf_real)m;
        if ((s = nf_flow_sample(f, &x, &y, 1.0, &rng)) != NF_OK) {
            rc = cli_nf_error(s, "demo", "posterior sampling");
            break;
        }
        int near = 0;
        for (int i = 0; i < NS; i++) near += moon_distance(x.data + 2 * i, m) < moon_distance(x.data + 2 * i, 1 - m);
        share[m] = (double)near / NS;
        char name[32], title[64], err[512];
        snprintf(name, sizeof name, "moon%d.png", m);
        snprintf(title, sizeof title, "posterior samples given moon %d", m);
        cli_path(png, sizeof png, out, name);
        const nf_real *own = pts.data + (size_t)2 * ND * m;
        plot_box box = plot_box_of(pts.data, 2 * ND);
        plot_target t = {png, NULL, 640, 560};
        if (plot_scatter(&t, own, ND, x.data, NS, &box, title, err, sizeof err) != 0)
            rc = cli_error(CLI_RUNTIME, "demo", "%s", err);
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_tensor_free(&pts);
    if (f) nf_flow_destroy(f);
    return rc;
}

int cmd_demo(int argc, char **argv) {
    const char *out = "demo_out";
    long image_steps = 600;
    int no_images = 0, threads = 0, kind = 0;
    cli_opt opts[] = {
        {"out", OPT_STR, &out},
        {"image-data", OPT_CHOICE, &kind, 0, 0, "auto|fashion-mnist|seismic"},
        {"image-steps", OPT_LONG, &image_steps, 1, 1e9},
        {"no-images", OPT_FLAG, &no_images},
        {"threads", OPT_INT, &threads, 1, 1024},
        OPT_END,
    };
    int rc = cli_parse("demo", argc, argv, opts, help, NULL, 0, NULL);
    if (rc != CLI_OK) return rc;
    if ((rc = cli_mkdirs("demo", out)) != CLI_OK) return rc;
    double t0 = cli_now();
    char dir[4200];
    cli_train_result b = {0}, im = {0};
    const char *name = "";
    rc = banana(cli_path(dir, sizeof dir, out, "banana"), threads, &b);
    if (rc == CLI_OK && !no_images) rc = images(out, kind, image_steps, threads, &im, &name);
    double share[2] = {0, 0};
    if (rc == CLI_OK) rc = posterior(out, threads, share);
    if (rc != CLI_OK) return rc;
    printf("\n== demo finished in %.0f s\n", cli_now() - t0);
    printf("banana: held-out objective %.4f on 10000 fresh samples after 400 steps (best possible 1.0; the "
           "tutorial's last logged values average about 1.16)\n", b.val.loss);
    if (!no_images)
        printf("images (%s): bits/dim %.3f at the first step, %.3f on held-out images after %ld steps\n", name,
               im.first_bpd, im.val.bits_per_dim, im.steps);
    printf("posterior: %.1f %% of the samples given moon 0 lie nearer moon 0, %.1f %% of those given moon 1 nearer "
           "moon 1\n", 100 * share[0], 100 * share[1]);
    printf("pictures: %s/banana/*.png, %s/banana/training.gif%s%s%s, %s/posterior/moon0.png, moon1.png\n", out, out,
           no_images ? "" : ", ", no_images ? "" : out, no_images ? "" : "/images/*.png, training.gif", out);
    return CLI_OK;
}
