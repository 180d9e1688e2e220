/* Conditional Glow in float on images and volumes: invertible to 1e-5 given y (and the
 * backward rebuilds x as well); y changes z; on two threads, each thread's images get
 * their own condition (a batch gives what its samples give one by one, latents and
 * gradients); a missing or misshapen condition is refused; model files bring back the
 * condition's shape and the conditional layers; training learns p(x | y). */
#include "nftest.h"

#include "threads.h"

#include <stdio.h>
#include <unistd.h>

enum { N = 7 }; /* not a multiple of the thread count: unequal shares */

static nf_glow_config image_config(void) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 3, c.cond_channels = 3;
    return c;
}

static nf_glow_config volume_config(void) {
    nf_glow_config c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2, c.cond_channels = 2;
    return c;
}

static nf_tensor data_x(const nf_glow_config *c, int n, uint64_t seed) {
    return nftest_randn(n, c->channels, c->volume_depth, c->height, c->width, seed);
}
static nf_tensor data_y(const nf_glow_config *c, int n, uint64_t seed) {
    return nftest_randn(n, c->cond_channels, c->volume_depth, c->height, c->width, seed);
}

/* The flow after ActNorm's init on (x, y), every trainable parameter moved (the zero last
 * convs too, so that y reaches z). */
static nf_flow *make_flow(nf_glow_config c, const nf_tensor *x, const nf_tensor *y) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    fc_flow_warm_and_move(f, x, y, 0.03, 5);
    return f;
}

static void check_invertible(nf_glow_config c, const char *what) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_tensor x = data_x(&c, N, 1), y = data_y(&c, N, 2), y2 = data_y(&c, N, 3);
    nf_flow *f = make_flow(c, &x, &y);
    double inv, reb, moved;
    fc_cond_flow_errors(f, &x, &y, &y2, &inv, &reb, &moved);
    print_message("%s: inverse %.3g, rebuild %.3g, z moved by another y %.3g\n", what, inv, reb, moved);
    if (!(inv <= 1e-5 && reb <= 1e-5 && moved > 1e-3))
        fail_msg("%s: inverse %g, rebuild %g, z moved by another y %g", what, inv, reb, moved);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&y2);
    nf_flow_destroy(f);
}

static void test_invertible_images(void **state) { check_invertible(image_config(), "images"); }
static void test_invertible_volumes(void **state) { check_invertible(volume_config(), "volumes"); }

/* One sample's rows of t as a tensor of one. */
static nf_tensor row(const nf_tensor *t, int b) {
    nf_tensor r = *t;
    r.n = 1;
    r.data = t->data + (size_t)b * nf_tensor_sample_count(t);
    return r;
}

/* The batch of N on two threads (each its share of the images and of y) against the N
 * samples one at a time (one thread each): the same latents, logdets and gradients. */
static void check_own_images(nf_glow_config c, const char *what) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_tensor x = data_x(&c, N, 4), y = data_y(&c, N, 5);
    nf_flow *f = make_flow(c, &x, &y);
    size_t D = nf_shape_sample_count(f->in), P = f->params.count;
    nf_tensor z, z1, dx;
    double ld[N], ld1[N];
    NF_ASSERT_OK(nf_tensor_alloc(&z, N, (int)D, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&z1, N, (int)D, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&dx, N, c.channels, c.volume_depth, c.height, c.width));
    nf_real *g = malloc(P * sizeof(nf_real));
    NF_ASSERT_OK(nf_flow_forward(f, &x, &y, &z, ld));
    nf_flow_zero_grad(f);
    NF_ASSERT_OK(nf_flow_backward(f, &z, &z, &y, -1.0 / N, NULL, &dx));
    memcpy(g, f->params.grad, P * sizeof(nf_real));
    nf_flow_zero_grad(f);
    for (int b = 0; b < N; b++) {
        nf_tensor xb = row(&x, b), yb = row(&y, b), zb = row(&z1, b);
        NF_ASSERT_OK(nf_flow_forward(f, &xb, &yb, &zb, ld1 + b));
        NF_ASSERT_OK(nf_flow_backward(f, &zb, &zb, &yb, -1.0 / N, NULL, NULL)); /* gradients add up */
    }
    double ez = fc_rel_diff(z1.data, z.data, nf_tensor_count(&z)), eg = fc_rel_diff(f->params.grad, g, P), el = 0;
    for (int b = 0; b < N; b++) el = fmax(el, fabs(ld1[b] - ld[b]) / (1 + fabs(ld[b])));
    if (!(ez <= 1e-5 && el <= 1e-5 && eg <= 1e-4)) fail_msg("%s: z %g, logdet %g, gradients %g", what, ez, el, eg);
    /* and the comparison can fail: another sample's condition moves the latents */
    nf_tensor x0 = row(&x, 0), y1 = row(&y, 1), z0 = row(&z1, 0);
    NF_ASSERT_OK(nf_flow_forward(f, &x0, &y1, &z0, ld1));
    assert_true(fc_rel_diff(z0.data, z.data, D) > 1e-3);
    free(g);
    nf_tensor_free(&z), nf_tensor_free(&z1), nf_tensor_free(&dx), nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
}

static void test_threads_take_their_own_conditions(void **state) {
    check_own_images(image_config(), "images");
    check_own_images(volume_config(), "volumes");
}

static void test_refusals(void **state) {
    nf_glow_config c = image_config();
    nf_flow *f = NULL;
    c.cond_channels = -1;
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_ARG);
    c = image_config();
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_tensor x = data_x(&c, 2, 1), z;
    NF_ASSERT_OK(nf_tensor_alloc(&z, 2, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    double ld[2];
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, NULL, &z, ld), NF_ERR_ARG);
    nf_tensor wrong = nftest_randn(2, 3, 1, 4, 16, 2); /* as many values, another spatial size */
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, &wrong, &z, ld), NF_ERR_SHAPE);
    nf_tensor few = nftest_randn(1, 3, 1, 8, 8, 2); /* another N */
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, &few, &z, ld), NF_ERR_SHAPE);
    nf_tensor_free(&wrong), nf_tensor_free(&few), nf_tensor_free(&x), nf_tensor_free(&z);
    nf_flow_destroy(f);
}

/* Saved and loaded: the configuration (cond_channels), the condition's shape, y's
 * initialised ActNorm and the couplings' weights on y come back: the same latents. */
static void check_roundtrip(nf_glow_config c) {
    char path[128];
    snprintf(path, sizeof path, "test_glow_cond_%ld.h5", (long)getpid());
    nf_tensor x = data_x(&c, N, 6), y = data_y(&c, N, 7);
    nf_flow *f = make_flow(c, &x, &y), *g = NULL;
    NF_ASSERT_OK(nf_model_save(f, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    unlink(path);
    assert_int_equal(nf_glow_get_config(g)->cond_channels, c.cond_channels);
    assert_memory_equal(&g->cond, &f->cond, sizeof f->cond);
    assert_int_equal(g->nlayers, f->nlayers);
    assert_true(g->layers[0]->initialized);
    assert_true(fc_flows_differ(f, g, &x, &y) == 0);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
    nf_flow_destroy(g);
}

static void test_model_file(void **state) {
    check_roundtrip(image_config());
    check_roundtrip(volume_config());
}

/* Learning: x ~ N(0, I), y = x + 0.5 noise, so p(x | y) = N(0.8 y, 0.2 I). After a short
 * training the conditional loss per value is far below 0.5, the best any model of x
 * without y can do (the loss leaves out 0.5 log 2 pi per value; exact: log sqrt(0.2) + 0.5
 * = -0.30). */
static void test_learns_the_condition(void **state) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.hidden = 16, c.levels = 2, c.steps = 3, c.cond_channels = 1;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_trainer_config tc = nf_trainer_config_default(400, 3e-3);
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 64, 1, 1, 4, 4));
    NF_ASSERT_OK(nf_tensor_alloc(&y, 64, 1, 1, 4, 4));
    nf_rng r;
    nf_rng_seed(&r, 9);
    nf_loss_stats st;
    for (int s = 0; s <= 400; s++) {
        for (size_t i = 0; i < nf_tensor_count(&x); i++) {
            x.data[i] = (nf_real)nf_rng_normal(&r);
            y.data[i] = (nf_real)(x.data[i] + 0.5 * nf_rng_normal(&r));
        }
        if (s < 400) NF_ASSERT_OK(nf_trainer_step(t, &x, &y, NULL));
    }
    NF_ASSERT_OK(nf_flow_eval(f, &x, &y, &st)); /* a fresh batch */
    print_message("conditional loss per value after 400 steps: %.3f (exact -0.30, best without y 0.5)\n", st.loss / 16);
    assert_true(st.loss / 16 < -0.2);
    nf_trainer_destroy(t);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible_images),
        cmocka_unit_test(test_invertible_volumes),
        cmocka_unit_test(test_threads_take_their_own_conditions),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_learns_the_condition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
