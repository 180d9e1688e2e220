/* The rebuild guard (nf_flow_gradient): every step measures how well the backward
 * rebuilt the batch; a step off by more than the tolerance is recomputed from stored
 * inputs, and its gradient and Adam update equal those of store mode. A poisoned layer,
 * whose inverse and backward rebuild a wrong input, makes the corruption certain. */
#include "nftest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POISON 0.05 /* the poisoned layer's rebuilt input is off by 5 % */

static nf_layer_ops poisoned_ops;
static const nf_layer_ops *clean_ops;

static void poison(nf_tensor *x) {
    size_t n = nf_tensor_count(x);
    for (size_t k = 0; k < n; k++) x->data[k] = (nf_real)(x->data[k] * (1 + POISON));
}
static nf_status poisoned_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    nf_status s = clean_ops->inverse(l, y, ctx);
    poison(y);
    return s;
}
static nf_status poisoned_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    nf_status s = clean_ops->backward(l, y, dy, ctx);
    poison(y);
    return s;
}

/* Makes layer i of f rebuild its input 5 % too large (under another name, so Glow's
 * threaded level pass, which knows layers by name, leaves it to its own ops). */
static void poison_layer(nf_flow *f, int i) {
    clean_ops = f->layers[i]->ops;
    poisoned_ops = *clean_ops;
    poisoned_ops.name = "poisoned";
    poisoned_ops.inverse = poisoned_inverse;
    poisoned_ops.backward = poisoned_backward;
    f->layers[i]->ops = &poisoned_ops;
}

/* The same layer under another name with its own clean ops: it takes the same
 * (layer-by-layer) path through Glow as a poisoned one, so twins compute alike. */
static nf_layer_ops renamed_ops;
static void rename_layer(nf_flow *f, int i) {
    renamed_ops = *f->layers[i]->ops;
    renamed_ops.name = "renamed";
    f->layers[i]->ops = &renamed_ops;
}

static nf_flow *small_sequential(void) {
    nf_shape in = {1, 4, 1, 1, 1};
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec(&f, in, "(actnorm, realnvp(hidden=8), reverse)*3", 7));
    return f;
}

static double max_abs_diff(const nf_real *a, const nf_real *b, size_t n) {
    double m = 0;
    for (size_t k = 0; k < n; k++) m = fmax(m, fabs((double)a[k] - b[k]));
    return m;
}

/* A healthy flow: the rebuild error is float32 round-off and nothing is recomputed. */
static void test_clean_step_measured_not_recomputed(void **state) {
    (void)state;
    nf_flow *f = nftest_small_glow();
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 3);
    nf_grad_report rep;
    nf_loss_stats st;
    NF_ASSERT_OK(nf_flow_gradient(f, &x, NULL, NF_REBUILD_TOL_DEFAULT, &st, &rep));
    print_message("clean rebuild error %.3g\n", rep.rebuild_error);
    assert_true(rep.rebuild_error > 0 && rep.rebuild_error < 1e-5);
    assert_int_equal(rep.recomputed, 0);
    assert_int_equal(rep.worst_layer, -1);
    assert_true(isfinite(st.loss));
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

/* Twin flows a (invertible backprop, one layer poisoned) and b (store mode, clean):
 * the guard catches a's corrupted rebuild, recomputes, and a's gradient and Adam update
 * equal b's; without the guard a's gradient is wrong (the poison matters). */
static void check_poisoned(nf_flow *a, nf_flow *b, int layer, const nf_tensor *x) {
    size_t np = nf_flow_num_params(a);
    poison_layer(a, layer);
    rename_layer(b, layer);
    NF_ASSERT_OK(nf_flow_set_store_activations(b, 1));

    nf_grad_report rep;
    NF_ASSERT_OK(nf_flow_gradient(a, x, NULL, -1, NULL, &rep)); /* measure only */
    assert_int_equal(rep.recomputed, 0);
    assert_true(rep.rebuild_error > 1e-2);
    /* b passes as often as a will have (measured, then guarded), so batch norm's running
     * averages see the same batches */
    NF_ASSERT_OK(nf_flow_gradient(b, x, NULL, NF_REBUILD_TOL_DEFAULT, NULL, NULL));
    NF_ASSERT_OK(nf_flow_gradient(b, x, NULL, NF_REBUILD_TOL_DEFAULT, NULL, NULL));
    double wrong = max_abs_diff(a->params.grad, b->params.grad, np);
    print_message("poisoned layer %d: rebuild error %.3g, gradient off by %.3g without the guard\n", layer,
                  rep.rebuild_error, wrong);
    assert_true(wrong > 1e-3);

    NF_ASSERT_OK(nf_flow_gradient(a, x, NULL, NF_REBUILD_TOL_DEFAULT, NULL, &rep));
    assert_int_equal(rep.recomputed, 1);
    assert_true(rep.rebuild_error > NF_REBUILD_TOL_DEFAULT);
    assert_true(rep.recompute_bytes > 0);
    assert_int_equal(rep.worst_layer, layer); /* the profile names the poisoned inverse */
    assert_true(rep.worst_gain > 1e3);
    assert_true(max_abs_diff(a->params.grad, b->params.grad, np) == 0);

    nf_adam oa, ob;
    NF_ASSERT_OK(nf_adam_init(&oa, np, 1e-3));
    NF_ASSERT_OK(nf_adam_init(&ob, np, 1e-3));
    NF_ASSERT_OK(nf_adam_step(&oa, &a->params));
    NF_ASSERT_OK(nf_adam_step(&ob, &b->params));
    assert_true(max_abs_diff(a->params.value, b->params.value, np) == 0);
    nf_adam_free(&oa);
    nf_adam_free(&ob);
    /* the recompute left store mode off again: its memory is not kept */
    assert_null(a->layer_rebuild);
}

static void test_poisoned_glow_recomputed(void **state) {
    (void)state;
    nf_flow *a = nftest_small_glow(), *b = nftest_small_glow();
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 5);
    check_poisoned(a, b, 3, &x); /* level 1's first coupling */
    nf_tensor_free(&x);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
}

static void test_poisoned_sequential_recomputed(void **state) {
    (void)state;
    nf_flow *a = small_sequential(), *b = small_sequential();
    nf_tensor x = nftest_randn(32, 4, 1, 1, 1, 9);
    check_poisoned(a, b, 1, &x); /* the first realnvp coupling */
    nf_tensor_free(&x);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
}

/* Batch norm's running averages (frozen parameters a training forward updates) move
 * once per step, recomputed or not: a's values after the step equal b's. */
static void test_poisoned_batchnorm_recomputed(void **state) {
    (void)state;
    nf_shape in = {1, 4, 1, 1, 1};
    nf_flow *a = NULL, *b = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec(&a, in, "(batchnorm, realnvp(hidden=8), reverse)*2", 7));
    NF_ASSERT_OK(nf_sequential_from_spec(&b, in, "(batchnorm, realnvp(hidden=8), reverse)*2", 7));
    nf_tensor x = nftest_randn(32, 4, 1, 1, 1, 9);
    check_poisoned(a, b, 1, &x);
    nf_tensor_free(&x);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
}

/* A flow in store mode is exact already: measured, never recomputed. */
static void test_store_mode_not_recomputed(void **state) {
    (void)state;
    nf_flow *f = nftest_small_glow();
    poison_layer(f, 3);
    NF_ASSERT_OK(nf_flow_set_store_activations(f, 1));
    nf_tensor x = nftest_randn(4, 2, 1, 8, 8, 5);
    nf_grad_report rep;
    NF_ASSERT_OK(nf_flow_gradient(f, &x, NULL, 0, NULL, &rep));
    assert_int_equal(rep.recomputed, 0);
    assert_true(rep.rebuild_error == 0); /* the stored input replaced every rebuilt one */
    assert_true(f->drift > 1e-2);        /* ... and the flow saw the poisoned layer drift */
    assert_int_equal(f->drift_layer, 3);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

/* Store mode on Glow's threaded level passes: every rebuilt input is measured (round-off
 * here) and replaced by the stored one, and the gradient is the invertible one's. */
static void test_store_mode_threaded_levels(void **state) {
    (void)state;
    nf_flow *a = nftest_small_glow(), *b = nftest_small_glow();
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 5);
    NF_ASSERT_OK(nf_flow_gradient(a, &x, NULL, -1, NULL, NULL)); /* ActNorm initialised: levels threaded */
    NF_ASSERT_OK(nf_flow_gradient(b, &x, NULL, -1, NULL, NULL));
    NF_ASSERT_OK(nf_flow_set_store_activations(b, 1));
    nf_grad_report rep;
    NF_ASSERT_OK(nf_flow_gradient(a, &x, NULL, -1, NULL, NULL));
    NF_ASSERT_OK(nf_flow_gradient(b, &x, NULL, -1, NULL, &rep));
    assert_true(rep.rebuild_error == 0);             /* the batch came back exactly */
    assert_true(b->drift > 0 && b->drift < 1e-5);    /* each layer's rebuild was measured */
    assert_true(b->drift_layer >= 0 && b->drift_layer < b->nlayers);
    size_t np = nf_flow_num_params(a);
    double scale = 0;
    for (size_t k = 0; k < np; k++) scale = fmax(scale, fabs((double)a->params.grad[k]));
    assert_true(max_abs_diff(a->params.grad, b->params.grad, np) < 1e-4 * scale);
    nf_tensor_free(&x);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
}

/* The per-layer picture names the poisoned inverse and touches no parameter or gradient. */
static void test_rebuild_profile(void **state) {
    (void)state;
    nf_flow *f = nftest_small_glow();
    nf_tensor x = nftest_randn(4, 2, 1, 8, 8, 5);
    NF_ASSERT_OK(nf_flow_gradient(f, &x, NULL, -1, NULL, NULL)); /* ActNorm initialised, gradients set */
    size_t np = nf_flow_num_params(f);
    nf_real *before = malloc(2 * np * sizeof(nf_real));
    memcpy(before, f->params.value, np * sizeof(nf_real));
    memcpy(before + np, f->params.grad, np * sizeof(nf_real));
    double err[64];
    assert_true(f->nlayers <= 64);
    NF_ASSERT_OK(nf_flow_rebuild_profile(f, &x, NULL, err));
    for (int i = 0; i < f->nlayers; i++) assert_true(err[i] < 1e-5); /* healthy: round-off */
    poison_layer(f, 3);
    NF_ASSERT_OK(nf_flow_rebuild_profile(f, &x, NULL, err));
    for (int i = 4; i < f->nlayers; i++) assert_true(err[i] < 1e-5);
    assert_true(err[3] > 1e-2 && err[3] / err[4] > 1e3);
    assert_true(memcmp(before, f->params.value, np * sizeof(nf_real)) == 0);
    assert_true(memcmp(before + np, f->params.grad, np * sizeof(nf_real)) == 0);
    assert_null(f->layer_rebuild); /* store mode ended */
    NF_ASSERT_FAILS(nf_flow_rebuild_profile(f, &x, NULL, NULL), NF_ERR_ARG);
    free(before);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

/* ---------------------------------------------------------------- loss watch */

static void test_loss_watch(void **state) {
    (void)state;
    nf_loss_watch w;
    NF_ASSERT_FAILS(nf_loss_watch_init(&w, 0), NF_ERR_ARG);
    NF_ASSERT_OK(nf_loss_watch_init(&w, 5.0));
    /* warming up: anything finite passes */
    for (int i = 0; i < NF_LOSS_WATCH_WARMUP; i++) NF_ASSERT_OK(nf_loss_watch_step(&w, 100.0 - i * 0.1 + (i % 2)));
    assert_true(isfinite(nf_loss_watch_limit(&w)));
    NF_ASSERT_OK(nf_loss_watch_step(&w, 99.0));
    NF_ASSERT_OK(nf_loss_watch_step(&w, 80.0)); /* falling is always fine */
    long seen = w.seen;
    double limit = nf_loss_watch_limit(&w);
    NF_ASSERT_FAILS(nf_loss_watch_step(&w, limit + 1), NF_ERR_NUMERIC);
    assert_non_null(strstr(nf_last_error(), "jumped"));
    assert_int_equal(w.seen, seen); /* a rejected loss is not recorded */
    NF_ASSERT_FAILS(nf_loss_watch_step(&w, NAN), NF_ERR_NUMERIC);
    NF_ASSERT_OK(nf_loss_watch_step(&w, limit - 0.5));
    /* a noisy history widens the limit beyond the fixed rise */
    nf_loss_watch n;
    NF_ASSERT_OK(nf_loss_watch_init(&n, 0.1));
    for (int i = 0; i < 200; i++) NF_ASSERT_OK(nf_loss_watch_step(&n, (i % 2) ? 10.0 : 0.0));
    assert_true(nf_loss_watch_limit(&n) - n.level > 10.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_step_measured_not_recomputed),
        cmocka_unit_test(test_poisoned_glow_recomputed),
        cmocka_unit_test(test_poisoned_sequential_recomputed),
        cmocka_unit_test(test_poisoned_batchnorm_recomputed),
        cmocka_unit_test(test_store_mode_not_recomputed),
        cmocka_unit_test(test_store_mode_threaded_levels),
        cmocka_unit_test(test_rebuild_profile),
        cmocka_unit_test(test_loss_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
