/* Convolutional conditional HINT (cond_hint_conv) in float, in a sequential flow on images
 * and volumes: invertible to 1e-5 given y (and backward rebuilds x as well), y changes z;
 * on two threads a batch gives what its samples give one by one (latents, logdets,
 * gradients: the couplings' threaded passes take each image's own y); model files bring
 * the layer back (the same latents, its ActNorms initialised); a training step's
 * activation memory does not grow with K (while storing the inputs of K one-step layers
 * does: the measure can fail); and training learns the
 * posterior of a linear-Gaussian image pair: samples drawn given one y have the exact
 * posterior's mean and spread. */
#include "nftest.h"

#include "threads.h"

#include <stdio.h>
#include <unistd.h>

enum { N = 5 }; /* not a multiple of the thread count: unequal shares */

typedef struct shapes {
    const char *spec;
    nf_shape x, y;
} shapes;

static const shapes IMAGES = {"actnorm, cond_hint_conv(hidden=8,steps=3)", {1, 5, 1, 6, 6}, {1, 2, 1, 6, 6}};
static const shapes VOLUMES = {"cond_hint_conv(hidden=4,steps=2)", {1, 3, 3, 4, 4}, {1, 2, 3, 4, 4}};

static nf_tensor data(nf_shape s, int n, uint64_t seed) { return nftest_randn(n, s.c, s.d, s.h, s.w, seed); }

static nf_tensor latents(const nf_flow *f, int n) {
    nf_tensor z;
    NF_ASSERT_OK(nf_tensor_alloc(&z, n, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    return z;
}

/* The flow after its first forward (ActNorms' init) on (x, y), every parameter moved (the
 * zero last convs too, so that y reaches z). */
static nf_flow *make_flow(const shapes *s, const nf_tensor *x, const nf_tensor *y) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, s->x, s->y, s->spec, 3));
    fc_flow_warm_and_move(f, x, y, 0.05, 5);
    return f;
}

static void check_invertible(const shapes *s) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_tensor x = data(s->x, N, 1), y = data(s->y, N, 2), y2 = data(s->y, N, 3);
    nf_flow *f = make_flow(s, &x, &y);
    double inv, reb, moved;
    fc_cond_flow_errors(f, &x, &y, &y2, &inv, &reb, &moved);
    print_message("%s: inverse %.3g, rebuild %.3g, z moved by another y %.3g\n", s->spec, inv, reb, moved);
    if (!(inv <= 1e-5 && reb <= 1e-5 && moved > 1e-3))
        fail_msg("%s: inverse %g, rebuild %g, z moved by another y %g", s->spec, inv, reb, moved);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&y2);
    nf_flow_destroy(f);
}

static void test_invertible(void **state) {
    check_invertible(&IMAGES);
    check_invertible(&VOLUMES);
}

/* One sample's rows of t as a tensor of one. */
static nf_tensor row(const nf_tensor *t, int b) {
    size_t per = nf_tensor_sample_count(t);
    return nf_tensor_view(t->data + per * b, 1, t->c, t->d, t->h, t->w);
}

/* The batch on two threads against the samples one at a time. */
static void check_own_images(const shapes *s) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_tensor x = data(s->x, N, 4), y = data(s->y, N, 5);
    nf_flow *f = make_flow(s, &x, &y);
    size_t D = nf_shape_sample_count(f->in), P = f->params.count;
    nf_tensor z = latents(f, N), z1 = latents(f, N);
    double ld[N], ld1[N];
    nf_real *g = malloc(P * sizeof(nf_real));
    NF_ASSERT_OK(nf_flow_forward(f, &x, &y, &z, ld));
    nf_flow_zero_grad(f);
    NF_ASSERT_OK(nf_flow_backward(f, &z, &z, &y, -1.0 / N, NULL, NULL));
    memcpy(g, f->params.grad, P * sizeof(nf_real));
    nf_flow_zero_grad(f);
    for (int b = 0; b < N; b++) {
        nf_tensor xb = row(&x, b), yb = row(&y, b), zb = row(&z1, b);
        NF_ASSERT_OK(nf_flow_forward(f, &xb, &yb, &zb, ld1 + b));
        NF_ASSERT_OK(nf_flow_backward(f, &zb, &zb, &yb, -1.0 / N, NULL, NULL));
    }
    double ez = fc_rel_diff(z1.data, z.data, nf_tensor_count(&z)), eg = fc_rel_diff(f->params.grad, g, P), el = 0;
    for (int b = 0; b < N; b++) el = fmax(el, fabs(ld1[b] - ld[b]) / (1 + fabs(ld[b])));
    if (!(ez <= 1e-5 && el <= 1e-5 && eg <= 1e-4)) fail_msg("%s: z %g, logdet %g, gradients %g", s->spec, ez, el, eg);
    nf_tensor x0 = row(&x, 0), y1 = row(&y, 1), z0 = row(&z1, 0); /* and it can fail */
    NF_ASSERT_OK(nf_flow_forward(f, &x0, &y1, &z0, ld1));
    assert_true(fc_rel_diff(z0.data, z.data, D) > 1e-3);
    free(g);
    nf_tensor_free(&z), nf_tensor_free(&z1), nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
}

static void test_threads_take_their_own_conditions(void **state) {
    check_own_images(&IMAGES);
    check_own_images(&VOLUMES);
}

static void check_roundtrip(const shapes *s) {
    char path[128];
    snprintf(path, sizeof path, "test_cond_hint_conv_%ld.h5", (long)getpid());
    nf_tensor x = data(s->x, N, 6), y = data(s->y, N, 7);
    nf_flow *f = make_flow(s, &x, &y), *g = NULL;
    NF_ASSERT_OK(nf_model_save(f, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    unlink(path);
    assert_memory_equal(&g->cond, &f->cond, sizeof f->cond);
    assert_int_equal(g->nlayers, f->nlayers);
    for (int i = 0; i < g->nlayers; i++) assert_int_equal(g->layers[i]->initialized, f->layers[i]->initialized);
    assert_string_equal(g->layers[g->nlayers - 1]->ops->name, "cond_hint_conv");
    assert_true(g->layers[g->nlayers - 1]->initialized);
    assert_true(fc_flows_differ(f, g, &x, &y) == 0);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
    nf_flow_destroy(g);
}

static void test_model_file(void **state) {
    check_roundtrip(&IMAGES);
    check_roundtrip(&VOLUMES);
}

/* Peak bytes of one training step above what the flow, optimiser and data held before it. */
static double step_peak(const char *spec, int store) {
    nf_shape xs = {1, 3, 1, 16, 16}, ys = {1, 2, 1, 16, 16};
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, xs, ys, spec, 1));
    if (store) NF_ASSERT_OK(nf_flow_set_store_activations(f, 1));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-3));
    nf_tensor x = data(xs, 8, 1), y = data(ys, 8, 2);
    nf_mem_reset_peak();
    size_t base = nf_mem_current();
    NF_ASSERT_OK(nf_train_step(f, &opt, &x, &y, NULL));
    double peak = (double)(nf_mem_peak() - base);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
    return peak;
}

static void test_memory_flat_in_steps(void **state) {
    nf_threads_set(1, NF_THREADS_OPENMP);
    double k2 = step_peak("cond_hint_conv(hidden=8,steps=2)", 0), k16 = step_peak("cond_hint_conv(hidden=8,steps=16)", 0);
    double s2 = step_peak("cond_hint_conv(hidden=8,steps=1)*2", 1), s16 = step_peak("cond_hint_conv(hidden=8,steps=1)*16", 1);
    print_message("activation peak: K=2 %.0f bytes, K=16 %.0f (ratio %.3f); stored inputs of 2 and 16 layers: %.0f, %.0f\n",
                  k2, k16, k16 / k2, s2, s16);
    assert_true(k16 <= 1.05 * k2);
    assert_true(s16 > 1.5 * s2);
}

/* x ~ N(0, I) on (2, 4, 4) images, y = x + 0.5 noise, so p(x | y) = N(0.8 y, 0.2 I) per
 * value. After a short training, 2000 samples drawn given one y have a mean within 0.25
 * of 0.8 y at every value and 0.1 in rms (their own noise: 0.01; a model that ignored y
 * would be off by 0.8 |y|, about 0.9 in rms) and a variance near 0.2 (the prior's: 1). */
static void test_learns_the_posterior(void **state) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_shape xs = {1, 2, 1, 4, 4};
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, xs, xs, "actnorm, cond_hint_conv(hidden=16,steps=3)", 1));
    int steps = 600, B = 64, D = 32, M = 2000;
    nf_trainer_config tc = nf_trainer_config_default(steps, 5e-3);
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    nf_tensor x = data(xs, B, 0), y = data(xs, B, 0);
    nf_rng r;
    nf_rng_seed(&r, 9);
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < nf_tensor_count(&x); i++) {
            x.data[i] = (nf_real)nf_rng_normal(&r);
            y.data[i] = (nf_real)(x.data[i] + 0.5 * nf_rng_normal(&r));
        }
        NF_ASSERT_OK(nf_trainer_step(t, &x, &y, NULL));
    }
    nf_tensor ys = data(xs, M, 0), post = data(xs, M, 0);
    for (int b = 0; b < M; b++) memcpy(ys.data + (size_t)b * D, y.data, D * sizeof(nf_real)); /* y of sample 0 */
    NF_ASSERT_OK(nf_flow_sample(f, &post, &ys, 1.0, &r));
    double merr = 0, var = 0, rms = 0;
    for (int i = 0; i < D; i++) {
        double m = 0, v = 0;
        for (int b = 0; b < M; b++) m += post.data[(size_t)b * D + i] / M;
        for (int b = 0; b < M; b++) v += (post.data[(size_t)b * D + i] - m) * (post.data[(size_t)b * D + i] - m) / M;
        merr = fmax(merr, fabs(m - 0.8 * y.data[i]));
        rms += (m - 0.8 * y.data[i]) * (m - 0.8 * y.data[i]) / D;
        var += v / D;
    }
    print_message("posterior after %d steps: mean off by at most %.3f (rms %.3f), variance %.3f (exact 0.2)\n", steps, merr, sqrt(rms), var);
    if (!(merr < 0.25 && sqrt(rms) < 0.1 && var > 0.15 && var < 0.26))
        fail_msg("posterior: mean off by %g (rms %g), variance %g", merr, sqrt(rms), var);
    nf_trainer_destroy(t);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&ys), nf_tensor_free(&post);
    nf_flow_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_threads_take_their_own_conditions),
        cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_memory_flat_in_steps),
        cmocka_unit_test(test_learns_the_posterior),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
