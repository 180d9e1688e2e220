/* Glow training-step benchmark: N timed steps (forward, backward, Adam) after a warm-up,
 * one JSON line per run on stdout. Built by CMake (every tools/bench C file) as bench_glow.
 *
 *   bench_glow [--config NAME] [--channels 1] [--size 32] [--batch 64] [--hidden 64]
 *              [--L 3] [--K 8] [--steps 5] [--warmup 1] [--threads 2] [--lr 1e-4]
 *              [--seed 0] [--owner openmp|blas|env] [--conv im2col|dnnl|both]
 *
 * The batch is uniform in [0, 1) like the PyTorch peer's (torch.rand); the first
 * warm-up step runs ActNorm's data-dependent initialisation. --threads T hands T cores
 * to one thread pool: --owner openmp (the default) to nflow's OpenMP threads, which
 * then run the GEMMs too with OpenBLAS single-threaded; --owner blas to OpenBLAS's
 * pool, nflow's own loops then running on one thread; --owner env touches nothing
 * (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS decide, both pools active).
 *
 * --conv picks the couplings' 3x3 convolution backend (nf_set_conv_backend; dnnl needs
 * a build with NFLOW_DNNL); the default leaves the build's default. --conv both
 * alternates the two step by step in one process (warm-up steps on each first) and
 * prints one line per backend, "conv" naming it; oneDNN's line adds
 * "median_ratio_to_im2col" = its median / im2col's.
 *
 * FLOPs are counted per convolution as the peer counts them (glow_torch.py,
 * conv_flops_forward: 2 * Cin * Cout * k*k * H*W*B for the three sub-network convs and
 * the invertible 1x1 of every flow step):
 *   model_gflop    = 3 x forward (forward + two backward GEMMs), the peer's train_flops;
 *   executed_gflop = 4 x forward, what nflow runs: its backward re-runs each coupling's
 *                    sub-network forward once and solves the 1x1 conv (same FLOPs as
 *                    applying it) to rebuild the inputs.
 * gflops = executed_gflop / median s/step. Peak RSS is getrusage's ru_maxrss (the whole
 * process); param_state_bytes = what grows with the parameter count by design: values,
 * gradients, two Adam moments (4 nf_real each) and nf_params' frozen flags (1 byte). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_time.h"
#include "nf_internal.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct bench_args {
    const char *config;
    const char *owner;
    const char *conv; /* NULL: the build's default */
    int channels, size, batch, hidden, L, K, steps, warmup, threads;
    double lr;
    unsigned long seed;
} bench_args;

static double rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* Forward conv FLOPs of one step as glow_torch.py's conv_flops_forward counts them. */
static double forward_flops(const bench_args *a) {
    double tot = 0;
    long c = a->channels, hw = a->size, hid = a->hidden;
    for (int i = 0; i < a->L; i++) {
        c *= 4;
        hw /= 2;
        double px = (double)hw * hw * a->batch;
        double per_step = 2.0 * c * c * px            /* invertible 1x1 */
                          + 2.0 * (c / 2) * hid * 9 * px /* conv3x3 c/2 -> hidden */
                          + 2.0 * hid * hid * px         /* conv1x1 hidden -> hidden */
                          + 2.0 * hid * c * 9 * px;      /* conv3x3 hidden -> c */
        tot += a->K * per_step;
        if (i < a->L - 1) c /= 2;
    }
    return tot;
}

static int parse(bench_args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "bench_glow: %s needs a value\n", k), 0;
        i++;
        if (!strcmp(k, "--config")) a->config = v;
        else if (!strcmp(k, "--channels")) a->channels = atoi(v);
        else if (!strcmp(k, "--size")) a->size = atoi(v);
        else if (!strcmp(k, "--batch")) a->batch = atoi(v);
        else if (!strcmp(k, "--hidden")) a->hidden = atoi(v);
        else if (!strcmp(k, "--L")) a->L = atoi(v);
        else if (!strcmp(k, "--K")) a->K = atoi(v);
        else if (!strcmp(k, "--steps")) a->steps = atoi(v);
        else if (!strcmp(k, "--warmup")) a->warmup = atoi(v);
        else if (!strcmp(k, "--threads")) a->threads = atoi(v);
        else if (!strcmp(k, "--owner")) a->owner = v;
        else if (!strcmp(k, "--conv")) a->conv = v;
        else if (!strcmp(k, "--lr")) a->lr = atof(v);
        else if (!strcmp(k, "--seed")) a->seed = strtoul(v, NULL, 10);
        else return fprintf(stderr, "bench_glow: unknown option %s\n", k), 0;
    }
    if (strcmp(a->owner, "openmp") && strcmp(a->owner, "blas") && strcmp(a->owner, "env"))
        return fprintf(stderr, "bench_glow: --owner must be openmp, blas or env\n"), 0;
    if (a->conv && strcmp(a->conv, "im2col") && strcmp(a->conv, "dnnl") && strcmp(a->conv, "both"))
        return fprintf(stderr, "bench_glow: --conv must be im2col, dnnl or both\n"), 0;
    if (a->steps < 1 || a->steps > 1000 || a->warmup < 0 || a->threads < 1 || a->batch < 1)
        return fprintf(stderr, "bench_glow: need 1 <= steps <= 1000, warmup >= 0, threads >= 1, batch >= 1\n"), 0;
    return 1;
}

/* The median of t (n), unchanged; its minimum in *min. */
static double median_of(const double *t, int n, double *min) {
    double *sorted = malloc(sizeof(double) * (size_t)n);
    if (!sorted) exit(1);
    memcpy(sorted, t, sizeof(double) * (size_t)n);
    double med = bench_median(sorted, n);
    *min = sorted[0];
    free(sorted);
    return med;
}

/* The backends --conv asks for, in the order the steps alternate. */
static int conv_list(const bench_args *a, nf_conv_backend list[2]) {
    if (!a->conv) return list[0] = nf_get_conv_backend(), 1;
    if (!strcmp(a->conv, "both")) return list[0] = NF_CONV_IM2COL, list[1] = NF_CONV_DNNL, 2;
    return list[0] = strcmp(a->conv, "dnnl") ? NF_CONV_IM2COL : NF_CONV_DNNL, 1;
}

static const char *conv_name(nf_conv_backend b) { return b == NF_CONV_DNNL ? "dnnl" : "im2col"; }

/* One training step on backend b; its seconds in *t. */
static int timed_step(nf_flow *g, nf_adam *opt, const nf_tensor *x, nf_conv_backend b, double *t, double *loss) {
    nf_loss_stats st;
    double t0 = bench_now();
    if (nf_set_conv_backend(b) != NF_OK || nf_train_step(g, opt, x, NULL, &st) != NF_OK) {
        fprintf(stderr, "bench_glow: %s\n", nf_last_error());
        return 0;
    }
    *t = bench_now() - t0;
    *loss = st.loss;
    return 1;
}

int main(int argc, char **argv) {
    bench_args a = {"custom", "openmp", NULL, 1, 32, 64, 64, 3, 8, 5, 1, 2, 1e-4, 0};
    if (!parse(&a, argc, argv)) return 2;
    if (strcmp(a.owner, "env")) nf_threads_set(a.threads, strcmp(a.owner, "blas") ? NF_THREADS_OPENMP : NF_THREADS_BLAS);
    nf_conv_backend convs[2];
    int nconv = conv_list(&a, convs);

    nf_glow_config cfg = nf_glow_config_default(a.channels, a.size, a.size);
    cfg.hidden = a.hidden;
    cfg.levels = a.L;
    cfg.steps = a.K;
    nf_flow *g = NULL;
    nf_adam opt = {0};
    nf_tensor x = {0};
    if (nf_glow_create(&g, &cfg) != NF_OK || nf_adam_init(&opt, nf_flow_num_params(g), a.lr) != NF_OK ||
        nf_tensor_alloc(&x, a.batch, a.channels, 1, a.size, a.size) != NF_OK) {
        fprintf(stderr, "bench_glow: %s\n", nf_last_error());
        return 1;
    }
    nf_rng rng;
    nf_rng_seed(&rng, a.seed);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = (nf_real)nf_rng_uniform(&rng);
    double rss_setup = rss_mib();

    /* t[k * steps + i]: timed step i on backend k; with two backends the steps alternate */
    double *t = malloc(sizeof(double) * (size_t)(a.steps * nconv)), loss_first = 0, loss_last = 0, dummy;
    if (!t) return 1;
    for (int it = 0; it < a.warmup; it++)
        for (int k = 0; k < nconv; k++)
            if (!timed_step(g, &opt, &x, convs[k], &dummy, it + k ? &loss_last : &loss_first)) return 1;
    for (int it = 0; it < a.steps; it++)
        for (int k = 0; k < nconv; k++) {
            if (!timed_step(g, &opt, &x, convs[k], &t[k * a.steps + it], &loss_last)) return 1;
            if (!a.warmup && it + k == 0) loss_first = loss_last;
        }
    double fwd = forward_flops(&a), model = 3 * fwd * 1e-9, executed = 4 * fwd * 1e-9;
    size_t np = nf_flow_num_params(g);
    double med_first = 0;

    /* the loss is per sample; the peer prints nats per dimension */
    double dims = (double)a.channels * a.size * a.size;
    for (int k = 0; k < nconv; k++) {
        const double *timed = t + k * a.steps;
        double min, med = median_of(timed, a.steps, &min);
        if (k == 0) med_first = med;
        printf("{\"tool\": \"nflow\", \"config\": \"%s\", \"channels\": %d, \"size\": %d, \"batch\": %d, \"hidden\": %d, "
               "\"L\": %d, \"K\": %d, \"threads\": %d, \"thread_owner\": \"%s\", \"conv\": \"%s\", \"steps\": %d, "
               "\"warmup\": %d, \"median_s\": %.6f, \"min_s\": %.6f, \"times_s\": [",
               a.config, a.channels, a.size, a.batch, a.hidden, a.L, a.K, a.threads, a.owner, conv_name(convs[k]),
               a.steps, a.warmup, med, min);
        for (int i = 0; i < a.steps; i++) printf("%s%.6f", i ? ", " : "", timed[i]);
        if (k == 1) printf("], \"median_ratio_to_im2col\": %.4f", med / med_first);
        else printf("]");
        printf(", \"peak_rss_mib\": %.1f, \"rss_setup_mib\": %.1f, \"n_params\": %zu, \"param_bytes\": %zu, "
               "\"param_state_bytes\": %zu, \"nf_mem_peak_mib\": %.1f, \"model_gflop\": %.4f, \"executed_gflop\": %.4f, "
               "\"gflops\": %.2f, \"model_gflops\": %.2f, \"loss_first\": %.6f, \"loss_last\": %.6f, "
               "\"openblas_core\": \"%s\", \"openblas_coretype_env\": \"%s\"}\n",
               rss_mib(), rss_setup, np, np * sizeof(nf_real), np * (4 * sizeof(nf_real) + 1),
               nf_mem_peak() / 1048576.0, model, executed, executed / med, model / med, loss_first / dims,
               loss_last / dims, openblas_get_corename(),
               getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
    }
    free(t);
    nf_tensor_free(&x);
    nf_adam_free(&opt);
    nf_flow_destroy(g);
    return 0;
}
