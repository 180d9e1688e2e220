/* The pictures of a training run: training.gif frame by frame while it trains, then
 * the curves and the model's pictures at the end. */
#include "train_internal.h"

#include "cli.h"
#include "pictures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Volumes are drawn as panels of three slices, and each one costs a volume's inverse:
 * fewer of them. */
enum { LOOK_2D = 400, LOOK_IMAGES = 64, LOOK_VOLUMES = 16, FRAMES = 40, FRAME_DELAY_CS = 12 };

/* The fixed latents every GIF frame decodes: the same points all along show how the
 * model moves them. Images at temperature 0.7 (the Glow paper's favourite). */
static nf_status gif_latents(train_run_state *r, int n) {
    size_t D = nf_shape_sample_count(r->f->in);
    nf_status s = nf_tensor_alloc(&r->gif_z, n, (int)D, 1, 1, 1);
    if (s != NF_OK) return s;
    nf_rng rng;
    nf_rng_seed(&rng, r->c->seed + 7);
    nf_rng_fill_normal(&rng, r->gif_z.data, nf_tensor_count(&r->gif_z), pictures_is_2d(r->f) ? 1.0 : 0.7);
    return NF_OK;
}

int train_pictures_start(train_run_state *r) {
    const cli_train_config *c = r->c;
    int is2d = pictures_is_2d(r->f), image = pictures_is_image(r->f);
    if ((!is2d && !image) || (!c->plots && c->gif_every < 0)) return CLI_OK;
    long long n = is2d ? LOOK_2D : r->f->in.d > 1 ? LOOK_VOLUMES : LOOK_IMAGES;
    if (n > r->train.size) n = r->train.size;
    nf_shape s = r->f->in;
    nf_rng noise;
    nf_rng_seed(&noise, c->seed + 5);
    nf_status st = nf_tensor_alloc(&r->look, (int)n, s.c, s.d, s.h, s.w);
    if (st == NF_OK) st = data_read(&r->train, 0, &r->look, NULL, &noise);
    if (st != NF_OK) return cli_nf_error(st, "train", "reading the data for the pictures");
    if (is2d) {
        r->box = plot_box_of(r->look.data, r->look.n);
    } else if (s.d > 1) { /* float volumes: the central 99 % (seismic has rare large spikes) */
        pictures_robust_range(&r->look, &r->lo, &r->hi);
    } else {
        r->lo = INFINITY, r->hi = -INFINITY;
        for (size_t i = 0; i < nf_tensor_count(&r->look); i++)
            r->lo = fmin(r->lo, r->look.data[i]), r->hi = fmax(r->hi, r->look.data[i]);
    }
    if (c->gif_every < 0) return CLI_OK;
    r->gif_every = c->gif_every > 0 ? c->gif_every : (r->total + FRAMES - 1) / FRAMES;
    if (r->gif_every < 1) r->gif_every = 1;
    int nz = is2d ? LOOK_2D : s.d > 1 ? LOOK_VOLUMES : 36;
    if ((st = gif_latents(r, nz)) != NF_OK) return cli_nf_error(st, "train", "GIF latents");
    pictures_frame_size(r->f, nz, &r->frame_w, &r->frame_h);
    r->frame = malloc(4 * (size_t)r->frame_w * r->frame_h);
    if (!r->frame) return cli_error(CLI_RUNTIME, "train", "out of memory for GIF frames");
    char path[4200], err[512];
    cli_path(path, sizeof path, r->out, "training.gif");
    if (gif_open(&r->gif, path, r->frame_w, r->frame_h, err, sizeof err) != 0)
        return cli_error(CLI_RUNTIME, "train", "%s", err);
    r->gif_open = 1;
    return CLI_OK;
}

int train_gif_frame(train_run_state *r) {
    char title[96], err[512];
    snprintf(title, sizeof title, "samples after step %ld", r->step);
    train_eval_mode(r, 1);
    int bad = pictures_frame(r->f, &r->gif_z, r->look.data, r->look.n, &r->box, r->lo, r->hi, title, r->frame,
                             r->frame_w, r->frame_h, err, sizeof err);
    train_eval_mode(r, 0);
    if (bad || gif_add(&r->gif, r->frame, FRAME_DELAY_CS, err, sizeof err) != 0)
        return cli_error(CLI_RUNTIME, "train", "training.gif: %s", err);
    return CLI_OK;
}

int train_gif_close(train_run_state *r) {
    char err[512];
    int rc = CLI_OK;
    if (r->gif_open && gif_close(&r->gif, err, sizeof err) != 0) rc = cli_error(CLI_RUNTIME, "train", "%s", err);
    r->gif_open = 0;
    free(r->frame);
    r->frame = NULL;
    nf_tensor_free(&r->gif_z);
    return rc;
}

int train_plots(train_run_state *r) {
    const cli_train_config *c = r->c;
    char csv[4200], png[4200], title[256];
    size_t D = nf_shape_sample_count(r->f->in);
    train_eval_mode(r, 1); /* the run is over: evaluation statistics from here on */
    /* The banana is a volume-preserving map of N(0, I): its best objective is D/2 = 1. */
    double best = strcmp(c->data, "toy:banana") == 0 ? 1.0 : NAN;
    snprintf(title, sizeof title, "%s: training objective", c->data);
    int rc = pictures_curves("train", cli_path(csv, sizeof csv, r->out, "metrics.csv"),
                             cli_path(png, sizeof png, r->out, "training_curves.png"), D, best, title);
    if (rc != CLI_OK) return rc;
    printf("  %s\n", png);
    if (r->gif_every > 0) printf("  %s/training.gif\n", r->out);
    if (pictures_is_2d(r->f)) return pictures_2d("train", r->f, r->look.data, r->look.n, r->out, c->seed + 11);
    if (pictures_is_image(r->f)) {
        rc = pictures_image_grid("train", r->f, r->f->in.d > 1 ? LOOK_VOLUMES : LOOK_IMAGES, 0.7, r->lo, r->hi,
                                 cli_path(png, sizeof png, r->out, "samples.png"), c->seed + 11);
        if (rc == CLI_OK) printf("  %s\n", png);
    }
    return rc;
}
