/* The ADCME two-moons tutorial in nflow, for the acceptance comparison with PyTorch
 * (tools/torch/moons_compare.sh). Trains one of the tutorial's flows on batches of
 * sample_moons(128) (ADCME's nmoons: 2 moons, eps 0.05, translation (0.25, -0.25)),
 * batch 128, Adam, and reports the held-out negative log-likelihood (nats per point,
 * the full density) on 16 more such batches.
 *   vec_moons FLOW OUTDIR [iterations=10000] [seed=1] [lr=1e-4] [clip=0] [jitter=0]
 * clip > 0 scales each step's gradient to a 2-norm of at most clip (nf_clip_grad_norm)
 * before Adam; 0 (the tutorial) trains with nf_train_step as it is. jitter > 0
 * multiplies every initial parameter by 1 + jitter N(0, 1) (drawn from seed + 7):
 * runs that differ only by such a rounding-sized change show how chaotic a recipe is.
 * FLOW: realnvp  realnvp(hidden=24x3,act=leakyrelu)*9                (ADCME's RealNVP)
 *       realnvp_clamp2  the same with the log-scales soft-clamped to +-2 (stable)
 *       maf      maf(hidden=24x3,act=relu)*4                           (ADCME's MAF)
 *       spline   (actnorm, linear(lu=1), spline(bins=8,bound=3,hidden=16x3,act=leakyrelu)*2)*3
 *                (ADCME's ActNorm, Invertible1x1Conv, NeuralCouplingFlow K=8)
 * Writes OUTDIR/moons_batches.f32 (iterations x 128 x 2), moons_heldout.f32 (2048 x 2),
 * FLOW_init.f32 (the initial flat parameters), FLOW_spec.txt (the canonical spec) and
 * FLOW_nflow.txt (the result), so the PyTorch script trains the same flow from the
 * same start on the same batches. */
#include <nflow.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { BATCH = 128, HELDOUT_BATCHES = 16 };

/* ADCME's sample_moons(n): n/2 points on each moon at linspace(0, pi) plus
 * N(0, 0.025^2) noise (eps / d), no shuffling. x is (n, 2). */
static void sample_moons(nf_rng *r, float *x, int n) {
    int s0 = n / 2, sizes[2] = {s0, n - s0}, k = 0;
    for (int m = 0; m < 2; m++)
        for (int j = 0; j < sizes[m]; j++, k++) {
            double t = sizes[m] > 1 ? M_PI * j / (sizes[m] - 1) : 0;
            double cx = m == 0 ? cos(t) - 0.5 : 0.5 - cos(t), cy = m == 0 ? sin(t) : -sin(t);
            x[2 * k] = (float)(cx + 0.025 * nf_rng_normal(r));
            x[2 * k + 1] = (float)(cy + 0.025 * nf_rng_normal(r));
        }
}

static const char *spec_of(const char *flow) {
    if (!strcmp(flow, "realnvp")) return "realnvp(hidden=24x3,act=leakyrelu)*9";
    if (!strcmp(flow, "realnvp_clamp2")) return "realnvp(hidden=24x3,act=leakyrelu,clamp=2)*9";
    if (!strcmp(flow, "maf")) return "maf(hidden=24x3,act=relu)*4";
    if (!strcmp(flow, "spline"))
        return "(actnorm, linear(lu=1), spline(bins=8,bound=3,hidden=16x3,act=leakyrelu)*2)*3";
    return NULL;
}

static int write_file(const char *dir, const char *name, const void *data, size_t bytes) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) {
        fprintf(stderr, "vec_moons: cannot write %s: %s\n", path, strerror(errno));
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

/* nf_train_step with the gradient's 2-norm clipped to at most clip before Adam. */
static nf_status clipped_step(nf_flow *m, nf_adam *opt, const nf_tensor *x, double clip, nf_loss_stats *st) {
    static nf_real zbuf[BATCH * 2], dzbuf[BATCH * 2];
    double logdet[BATCH], dlogdet, norm;
    nf_tensor z = nf_tensor_view(zbuf, x->n, 2, 1, 1, 1), dz = nf_tensor_view(dzbuf, x->n, 2, 1, 1, 1);
    nf_status s = nf_flow_forward(m, x, NULL, &z, logdet);
    if (s == NF_OK) s = nf_loss_nll(&z, logdet, &dz, &dlogdet, st);
    if (s != NF_OK) return s;
    nf_flow_zero_grad(m);
    if ((s = nf_flow_backward(m, &z, &dz, NULL, dlogdet, NULL, NULL)) != NF_OK) return s;
    if ((s = nf_clip_grad_norm(&m->params, clip, &norm)) != NF_OK) return s;
    return nf_adam_step(opt, &m->params);
}

static int fail(const char *what) {
    fprintf(stderr, "vec_moons: %s: %s\n", what, nf_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || !spec_of(argv[1])) {
        fprintf(stderr, "usage: vec_moons realnvp|realnvp_clamp2|maf|spline OUTDIR [iterations] [seed] [lr] [clip] [jitter]\n");
        return 2;
    }
    const char *flow = argv[1], *outdir = argv[2];
    long iters = argc > 3 ? atol(argv[3]) : 10000;
    unsigned long long seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    double lr = argc > 5 ? atof(argv[5]) : 1e-4, clip = argc > 6 ? atof(argv[6]) : 0;
    double jitter = argc > 7 ? atof(argv[7]) : 0;
    if (iters <= 0 || !(lr > 0) || !(clip >= 0) || !(jitter >= 0)) {
        fprintf(stderr, "vec_moons: iterations and lr must be positive, clip and jitter >= 0\n");
        return 2;
    }
    if (mkdir(outdir, 0775) != 0 && errno != EEXIST) {
        fprintf(stderr, "vec_moons: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    /* the data: one stream for all flows of a seed */
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    size_t per = (size_t)BATCH * 2;
    float *batches = malloc(per * (size_t)iters * sizeof(float)), *held = malloc(per * HELDOUT_BATCHES * sizeof(float));
    if (!batches || !held) return fail("out of memory");
    for (long i = 0; i < iters; i++) sample_moons(&rng, batches + per * (size_t)i, BATCH);
    nf_rng_seed(&rng, seed + 1000003); /* the held-out points do not depend on the iterations */
    for (int i = 0; i < HELDOUT_BATCHES; i++) sample_moons(&rng, held + per * (size_t)i, BATCH);
    if (write_file(outdir, "moons_batches.f32", batches, per * (size_t)iters * sizeof(float)) ||
        write_file(outdir, "moons_heldout.f32", held, per * HELDOUT_BATCHES * sizeof(float)))
        return 1;

    nf_flow *m;
    nf_shape v2 = {1, 2, 1, 1, 1};
    if (nf_sequential_from_spec(&m, v2, spec_of(flow), seed) != NF_OK) return fail("building the flow");
    nf_rng jr;
    nf_rng_seed(&jr, seed + 7);
    for (size_t i = 0; jitter > 0 && i < nf_flow_num_params(m); i++)
        m->params.value[i] *= (nf_real)(1 + jitter * nf_rng_normal(&jr));
    char name[256];
    snprintf(name, sizeof name, "%s_init.f32", flow);
    if (write_file(outdir, name, m->params.value, nf_flow_num_params(m) * sizeof(float))) return 1;
    snprintf(name, sizeof name, "%s_spec.txt", flow);
    if (write_file(outdir, name, nf_sequential_spec(m), strlen(nf_sequential_spec(m)))) return 1;
    char diagram[16384];
    if (nf_sequential_describe(m, diagram, sizeof diagram, NULL) == NF_OK) printf("%s", diagram);

    nf_adam opt;
    if (nf_adam_init(&opt, nf_flow_num_params(m), lr) != NF_OK) return fail("optimiser");
    printf("training loss: mean of 0.5 |z|^2 - logdet, nats per point without the log(2 pi)\n");
    double window = 0;
    clock_t t0 = clock();
    for (long i = 0; i < iters; i++) {
        nf_tensor x = nf_tensor_view(batches + per * (size_t)i, BATCH, 2, 1, 1, 1);
        nf_loss_stats st;
        if (clip > 0 ? clipped_step(m, &opt, &x, clip, &st) : nf_train_step(m, &opt, &x, NULL, &st)) return fail("training step");
        window += st.loss;
        if ((i + 1) % 1000 == 0) {
            printf("iteration %ld: mean training loss of the last 1000 %.4f\n", i + 1, window / 1000);
            window = 0;
        }
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    nf_sequential_set_training(m, 0);
    int nh = BATCH * HELDOUT_BATCHES;
    nf_tensor hx = nf_tensor_view(held, nh, 2, 1, 1, 1);
    double *logp = malloc(sizeof(double) * (size_t)nh), nll = 0;
    if (!logp || nf_sequential_log_prob(m, &hx, NULL, logp) != NF_OK) return fail("held-out log-likelihood");
    for (int b = 0; b < nh; b++) nll -= logp[b] / nh;
    printf("%s: held-out NLL %.4f nats per point after %ld iterations (%.1f s CPU)\n", flow, nll, iters, secs);
    char result[256];
    int len = snprintf(result, sizeof result, "%.6f\n", nll);
    snprintf(name, sizeof name, "%s_nflow.txt", flow);
    if (write_file(outdir, name, result, (size_t)len)) return 1;
    free(logp), free(batches), free(held);
    nf_adam_free(&opt);
    nf_flow_destroy(m);
    return 0;
}
