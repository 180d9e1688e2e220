/* The InvertibleNetworks.jl banana tutorial in nflow: Glow with 2 channels,
 * hidden 16, L=1, K=10, no squeeze, batch 150, Adam lr 9e-4, 400 iterations over
 * 60 000 samples; prints the loss falling and the held-out objective (best possible
 * 1.0), writes loss.csv and samples.csv to the output directory.
 *   banana_demo [outdir] [iterations] [seed] */
#include <nflow.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *what) {
    fprintf(stderr, "banana_demo: %s: %s\n", what, nf_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *outdir = argc > 1 ? argv[1] : "banana_out";
    int iters = argc > 2 ? atoi(argv[2]) : 400;
    unsigned long long seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    if (iters <= 0) {
        fprintf(stderr, "banana_demo: iterations must be a positive integer\n");
        return 2;
    }
    if (mkdir(outdir, 0775) != 0 && errno != EEXIST) {
        fprintf(stderr, "banana_demo: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    enum { NTRAIN = 60000, BATCH = 150, NTEST = 10000 };
    nf_glow_config cfg = nf_glow_config_default(2, 1, 1);
    cfg.hidden = 16, cfg.levels = 1, cfg.steps = 10, cfg.multiscale = 0, cfg.seed = seed;
    nf_flow *g = NULL;
    if (nf_glow_create(&g, &cfg) != NF_OK) return fail("creating the flow");
    nf_adam opt;
    if (nf_adam_init(&opt, nf_flow_num_params(g), 9e-4) != NF_OK) return fail("optimiser");
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_tensor train, test, batch;
    if (nf_tensor_alloc(&train, NTRAIN, 2, 1, 1, 1) || nf_tensor_alloc(&test, NTEST, 2, 1, 1, 1) ||
        nf_tensor_alloc(&batch, BATCH, 2, 1, 1, 1))
        return fail("allocating data");
    nf_sample_banana(&rng, train.data, NTRAIN);
    nf_sample_banana(&rng, test.data, NTEST);

    char path[4096];
    snprintf(path, sizeof path, "%s/loss.csv", outdir);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        fprintf(stderr, "banana_demo: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fprintf(csv, "iteration,loss,half_sq,logdet\n");
    printf("nflow %d.%d: Glow on the banana density, %zu parameters\n", NFLOW_VERSION_MAJOR, NFLOW_VERSION_MINOR,
           nf_flow_num_params(g));
    int per_epoch = NTRAIN / BATCH;
    for (int it = 0; it < iters; it++) {
        int b = it % per_epoch;
        memcpy(batch.data, train.data + (size_t)b * BATCH * 2, sizeof(nf_real) * BATCH * 2);
        nf_loss_stats st;
        if (nf_train_step(g, &opt, &batch, NULL, &st) != NF_OK) return fail("training step");
        fprintf(csv, "%d,%.6f,%.6f,%.6f\n", it + 1, st.loss, st.half_sq, st.logdet);
        if ((it + 1) % 50 == 0 || it == 0)
            printf("iter %4d  objective %.4f  (0.5|z|^2 %.4f, logdet %.4f)\n", it + 1, st.loss, st.half_sq, st.logdet);
    }
    fclose(csv);
    nf_loss_stats ev;
    if (nf_flow_eval(g, &test, NULL, &ev) != NF_OK) return fail("evaluating");
    printf("held-out objective on %d fresh samples: %.4f (best possible 1.0)\n", NTEST, ev.loss);

    snprintf(path, sizeof path, "%s/samples.csv", outdir);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "banana_demo: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    nf_tensor s;
    if (nf_tensor_alloc(&s, 1000, 2, 1, 1, 1) || nf_flow_sample(g, &s, NULL, 1.0, &rng)) return fail("sampling");
    fprintf(out, "x1,x2\n");
    for (int i = 0; i < s.n; i++) fprintf(out, "%.5f,%.5f\n", s.data[2 * i], s.data[2 * i + 1]);
    fclose(out);
    printf("wrote %s/loss.csv and %s/samples.csv\n", outdir, outdir);
    nf_tensor_free(&s);
    nf_tensor_free(&train);
    nf_tensor_free(&test);
    nf_tensor_free(&batch);
    nf_adam_free(&opt);
    nf_flow_destroy(g);
    return 0;
}
