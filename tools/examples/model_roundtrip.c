/* Writes model and checkpoint files for tests/scripts/test_model_h5py.sh, which reads
 * them with h5py alone (datasets/MODEL_FORMAT.md).
 *
 *   model_roundtrip models DIR
 *       Trains six small Glows a few steps (vector: LU + affine; image: space squeeze +
 *       LU + affine; image: Haar + Householder + additive; image_prior: the first with
 *       learned priors; image_cond, image_cond_b: the two image ones conditional on a y of
 *       2 and 1 channels), saves DIR/<name>.h5, loads each
 *       back and checks it is identical, and writes probes as text: DIR/<name>_x.txt (a
 *       batch, one sample a row), _z.txt (its latents), _logdet.txt, and for the vector
 *       model vector_actnorm_y.txt (the first ActNorm layer's output for that batch); the
 *       conditional ones also _y.txt, the batch's condition.
 *   model_roundtrip train OUT STEPS [FROM]
 *       Trains the vector Glow STEPS steps, starting fresh or from checkpoint FROM, with
 *       batches drawn from the checkpointed generator; writes checkpoint OUT. Training
 *       a+b steps in one run and a, then b, in two runs gives identical files. */
#include <nflow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 6 };

static int fail(const char *what) {
    fprintf(stderr, "model_roundtrip: %s: %s\n", what, nf_last_error());
    return 1;
}

static nf_glow_config config(const char *name) {
    nf_glow_config c;
    if (!strcmp(name, "vector")) {
        c = nf_glow_config_default(4, 1, 1);
        c.hidden = 16, c.levels = 2, c.steps = 3, c.multiscale = 0;
    } else {
        c = nf_glow_config_default(3, 8, 8);
        c.hidden = 8, c.levels = 2, c.steps = 2;
        if (!strcmp(name, "image_b")) c.squeeze = NF_SQUEEZE_HAAR, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER, c.coupling = NF_COUPLING_ADDITIVE;
        if (!strcmp(name, "image_prior")) c.learn_prior = 1;
        if (!strcmp(name, "image_cond")) c.cond_channels = 2;
        if (!strcmp(name, "image_cond_b"))
            c.squeeze = NF_SQUEEZE_HAAR, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER, c.coupling = NF_COUPLING_ADDITIVE,
            c.cond_channels = 1;
    }
    c.seed = 7;
    return c;
}

/* Rows of cols values each, 9 significant digits (floats survive the trip exactly). */
static int write_rows(const char *dir, const char *name, const char *suffix, const nf_real *v, int rows, size_t cols) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s_%s.txt", dir, name, suffix);
    FILE *fp = fopen(path, "w");
    if (!fp) return 1;
    for (int r = 0; r < rows; r++)
        for (size_t k = 0; k < cols; k++) fprintf(fp, "%.9g%c", (double)v[(size_t)r * cols + k], k + 1 < cols ? ' ' : '\n');
    return fclose(fp) != 0;
}

/* A batch of conditions y (all zero-sized for an unconditional flow). */
static int alloc_cond(const nf_flow *f, nf_tensor *y) {
    nf_shape c = f->cond;
    *y = (nf_tensor){0};
    return nf_flow_is_conditional(f) && nf_tensor_alloc(y, BATCH, c.c, c.d, c.h, c.w) != NF_OK;
}

static int train(nf_flow *f, nf_adam *opt, nf_train_state *ts, int steps) {
    nf_tensor x, y;
    if (nf_tensor_alloc(&x, BATCH, f->in.c, f->in.d, f->in.h, f->in.w) != NF_OK || alloc_cond(f, &y))
        return fail("batch");
    for (int s = 0; s < steps; s++) {
        nf_rng_fill_normal(&ts->rng, x.data, nf_tensor_count(&x), 1.0);
        if (y.data) nf_rng_fill_normal(&ts->rng, y.data, nf_tensor_count(&y), 2.0);
        if (nf_train_step(f, opt, &x, y.data ? &y : NULL, NULL) != NF_OK) return fail("training step");
        ts->iteration++;
        ts->data_pos[0]++;
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    return 0;
}

/* Trains, saves, reloads and compares one model, then writes its probes. */
static int one_model(const char *dir, const char *name) {
    nf_glow_config c = config(name);
    nf_flow *f, *g;
    nf_adam opt;
    nf_train_state ts = {0};
    nf_rng_seed(&ts.rng, 3);
    if (nf_glow_create(&f, &c) != NF_OK || nf_adam_init(&opt, nf_flow_num_params(f), 1e-2) != NF_OK) return fail(name);
    if (train(f, &opt, &ts, 4)) return 1;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.h5", dir, name);
    if (nf_model_save(f, path) != NF_OK || nf_model_load(&g, path) != NF_OK) return fail(path);
    if (memcmp(f->params.value, g->params.value, f->params.count * sizeof(nf_real))) {
        fprintf(stderr, "model_roundtrip: %s: loaded parameters differ\n", path);
        return 1;
    }
    size_t D = nf_shape_sample_count(g->in);
    nf_tensor x, z, y, cond;
    double logdet[BATCH], ld0[BATCH] = {0};
    if (nf_tensor_alloc(&x, BATCH, c.channels, 1, c.height, c.width) || nf_tensor_alloc(&z, BATCH, (int)D, 1, 1, 1) ||
        nf_tensor_alloc(&y, BATCH, c.channels, 1, c.height, c.width) || alloc_cond(g, &cond))
        return fail("probe tensors");
    nf_rng_fill_normal(&ts.rng, x.data, nf_tensor_count(&x), 1.0);
    if (cond.data) nf_rng_fill_normal(&ts.rng, cond.data, nf_tensor_count(&cond), 2.0);
    if (nf_flow_forward(g, &x, cond.data ? &cond : NULL, &z, logdet) != NF_OK) return fail("forward");
    nf_real ld[BATCH];
    for (int b = 0; b < BATCH; b++) ld[b] = (nf_real)logdet[b];
    int bad = write_rows(dir, name, "x", x.data, BATCH, D) || write_rows(dir, name, "z", z.data, BATCH, D) ||
              write_rows(dir, name, "logdet", ld, BATCH, 1) ||
              (cond.data && write_rows(dir, name, "y", cond.data, BATCH, nf_tensor_sample_count(&cond)));
    if (!strcmp(name, "vector")) { /* the first layer alone: an ActNorm */
        nf_ctx ctx = {0};
        memcpy(y.data, x.data, nf_tensor_count(&x) * sizeof(nf_real));
        if (nf_layer_forward(g->layers[0], &y, ld0, &ctx) != NF_OK) return fail("actnorm forward");
        bad = bad || write_rows(dir, name, "actnorm_y", y.data, BATCH, D);
    }
    if (bad) {
        fprintf(stderr, "model_roundtrip: cannot write the probes of %s in %s\n", name, dir);
        return 1;
    }
    nf_tensor_free(&x), nf_tensor_free(&z), nf_tensor_free(&y), nf_tensor_free(&cond);
    nf_adam_free(&opt);
    nf_flow_destroy(f), nf_flow_destroy(g);
    return 0;
}

static int train_checkpoint(const char *out, int steps, const char *from) {
    nf_flow *f;
    nf_adam opt;
    nf_train_state ts = {.ndata_pos = 1};
    if (from) {
        if (nf_checkpoint_load(&f, &opt, &ts, from) != NF_OK) return fail(from);
    } else {
        nf_glow_config c = config("vector");
        if (nf_glow_create(&f, &c) != NF_OK || nf_adam_init(&opt, nf_flow_num_params(f), 1e-2) != NF_OK)
            return fail("creating the flow");
        nf_rng_seed(&ts.rng, 11);
    }
    if (train(f, &opt, &ts, steps)) return 1;
    if (nf_checkpoint_save(f, &opt, &ts, out) != NF_OK) return fail(out);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "models")) {
        const char *names[] = {"vector", "image_a", "image_b", "image_prior", "image_cond", "image_cond_b"};
        for (int i = 0; i < 6; i++)
            if (one_model(argv[2], names[i])) return 1;
        return 0;
    }
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "train") && atoi(argv[3]) >= 0)
        return train_checkpoint(argv[2], atoi(argv[3]), argc == 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: model_roundtrip models DIR | model_roundtrip train OUT STEPS [FROM]\n");
    return 2;
}
