/* Glow's threaded whole-level passes (flows/glow_levels.c) against the layer-by-layer
 * path (which store-activations mode forces), on images and a volume: the same latents,
 * logdet, rebuilt input and gradients; bitwise the same results when run twice; close results for 1, 2 and 3
 * threads (the split of the batch changes only the order of float sums). */
#include "nftest.h"

#include "threads.h"

typedef struct run {
    nf_tensor z, x, dx;
    double *logdet;
    nf_real *grad;
} run;

static const int N = 7; /* not a multiple of the thread counts: unequal shares */

/* The Glow c after its ActNorm init, every trainable parameter moved by scale N(0, 1). */
static nf_flow *make_config_flow(nf_glow_config c, double scale) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_tensor x = nftest_randn(N, c.channels, c.volume_depth, c.height, c.width, 1), z;
    double ld[16];
    NF_ASSERT_OK(nf_tensor_alloc(&z, N, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    NF_ASSERT_OK(nf_flow_forward(f, &x, NULL, &z, ld)); /* ActNorm's data-dependent init */
    nf_rng r;
    nf_rng_seed(&r, 5);
    /* move every trainable parameter (the zero-initialised last convs too) */
    for (size_t i = 0; i < f->params.count; i++)
        if (!f->params.frozen[i]) f->params.value[i] += (nf_real)(scale * nf_rng_normal(&r));
    nf_tensor_free(&x);
    nf_tensor_free(&z);
    return f;
}

static nf_flow *make_flow(nf_coupling_kind coupling, nf_conv1x1_kind conv) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 3, c.coupling = coupling, c.conv1x1 = conv;
    return make_config_flow(c, 0.05);
}

/* forward, then backward of dz = z (and dlogdet -1/N) on a fixed batch */
static run one_pass(nf_flow *f, int store) {
    run r;
    int D = (int)nf_shape_sample_count(f->in);
    nf_shape in = f->in;
    nf_tensor x = nftest_randn(N, in.c, in.d, in.h, in.w, 2);
    NF_ASSERT_OK(nf_tensor_alloc(&r.z, N, D, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&r.x, N, in.c, in.d, in.h, in.w));
    NF_ASSERT_OK(nf_tensor_alloc(&r.dx, N, in.c, in.d, in.h, in.w));
    r.logdet = calloc(N, sizeof(double));
    r.grad = malloc(f->params.count * sizeof(nf_real));
    NF_ASSERT_OK(nf_flow_set_store_activations(f, store));
    NF_ASSERT_OK(nf_flow_forward(f, &x, NULL, &r.z, r.logdet));
    nf_flow_zero_grad(f);
    NF_ASSERT_OK(nf_flow_backward(f, &r.z, &r.z, NULL, -1.0 / N, &r.x, &r.dx));
    memcpy(r.grad, f->params.grad, f->params.count * sizeof(nf_real));
    NF_ASSERT_OK(nf_flow_set_store_activations(f, 0));
    nf_tensor_free(&x);
    return r;
}

static void free_run(run *r) {
    nf_tensor_free(&r->z), nf_tensor_free(&r->x), nf_tensor_free(&r->dx);
    free(r->logdet), free(r->grad);
}

static double ld_diff(const run *a, const run *b) {
    double m = 0;
    for (int i = 0; i < N; i++) m = fmax(m, fabs(a->logdet[i] - b->logdet[i]) / (1 + fabs(b->logdet[i])));
    return m;
}

static void expect_close(const run *a, const run *b, size_t np, double tol, const char *what) {
    double e[5] = {fc_rel_diff(a->z.data, b->z.data, nf_tensor_count(&b->z)), ld_diff(a, b),
                   fc_rel_diff(a->x.data, b->x.data, nf_tensor_count(&b->x)),
                   fc_rel_diff(a->dx.data, b->dx.data, nf_tensor_count(&b->dx)), fc_rel_diff(a->grad, b->grad, np)};
    for (int i = 0; i < 5; i++)
        if (!(e[i] <= tol)) fail_msg("%s: z %g logdet %g x %g dx %g grad %g (tol %g)", what, e[0], e[1], e[2], e[3], e[4], tol);
}

static void test_levels_match_layer_path(void **state) {
    const nf_coupling_kind cpl[2] = {NF_COUPLING_AFFINE, NF_COUPLING_ADDITIVE};
    const nf_conv1x1_kind cv[2] = {NF_CONV1X1_LU, NF_CONV1X1_HOUSEHOLDER};
    for (int k = 0; k < 2; k++) {
        nf_threads_set(2, NF_THREADS_OPENMP);
        nf_flow *f = make_flow(cpl[k], cv[k]);
        run fast = one_pass(f, 0), slow = one_pass(f, 1);
        expect_close(&fast, &slow, f->params.count, 1e-5, "levels vs layer by layer");
        /* and the comparison can fail: a gradient with a sign error in half of it is far off */
        for (size_t i = 0; i < f->params.count / 2; i++) fast.grad[i] = -fast.grad[i];
        assert_true(fc_rel_diff(fast.grad, slow.grad, f->params.count) > 1e-3);
        free_run(&fast), free_run(&slow);
        nf_flow_destroy(f);
    }
}

/* The Glow c (parameters moved by scale) on 2 threads: threaded levels against the
 * layer-by-layer path of store mode. */
static void expect_levels_match(nf_glow_config c, double scale, const char *what) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_flow *f = make_config_flow(c, scale);
    run fast = one_pass(f, 0), slow = one_pass(f, 1);
    expect_close(&fast, &slow, f->params.count, 1e-5, what);
    free_run(&fast), free_run(&slow);
    nf_flow_destroy(f);
}

/* Volumes go through the same level passes (the layers' range calls count d*h*w). */
static void test_levels_match_layer_path_volume(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2;
    expect_levels_match(c, 0.02, "volume: levels vs layer by layer");
}

/* Learned priors run on the whole batch between the threaded level passes; the results
 * match the layer-by-layer path with store mode's restores of the priors' inputs too. */
static void test_levels_match_layer_path_learned_prior(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 3, c.steps = 2, c.learn_prior = 1;
    expect_levels_match(c, 0.05, "learned prior: levels vs layer by layer");
    c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2, c.learn_prior = 1;
    expect_levels_match(c, 0.02, "learned prior, volume: levels vs layer by layer");
}

static void test_deterministic_and_thread_counts_agree(void **state) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_flow *f = make_flow(NF_COUPLING_AFFINE, NF_CONV1X1_LU);
    run a = one_pass(f, 0), b = one_pass(f, 0);
    assert_memory_equal(a.grad, b.grad, f->params.count * sizeof(nf_real));
    assert_memory_equal(a.dx.data, b.dx.data, nf_tensor_count(&a.dx) * sizeof(nf_real));
    for (int t = 1; t <= 3; t += 2) {
        nf_threads_set(t, NF_THREADS_OPENMP);
        run c = one_pass(f, 0);
        expect_close(&c, &a, f->params.count, 1e-5, t == 1 ? "1 vs 2 threads" : "3 vs 2 threads");
        free_run(&c);
    }
    nf_threads_set(2, NF_THREADS_BLAS); /* OpenBLAS owns the cores: one thread walks the levels */
    run d = one_pass(f, 0);
    expect_close(&d, &a, f->params.count, 1e-5, "OpenBLAS threads vs 2 OpenMP threads");
    nf_threads_set(2, NF_THREADS_OPENMP);
    free_run(&a), free_run(&b), free_run(&d);
    nf_flow_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_match_layer_path),
        cmocka_unit_test(test_levels_match_layer_path_volume),
        cmocka_unit_test(test_levels_match_layer_path_learned_prior),
        cmocka_unit_test(test_deterministic_and_thread_counts_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
