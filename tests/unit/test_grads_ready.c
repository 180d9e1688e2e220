/* The flows' grads_ready hook (nf_flow_set_grads_ready), on which data parallelism starts
 * summing gradients while the backward runs: each call's lo falls, the last is 0, the
 * calls come before the end of the backward, and the gradients of [lo, count) are final
 * when the hook says so (they equal the ones after the backward, bit for bit). Glow with
 * its level passes on one thread and on two, a sequential flow and a conditional one with
 * a summary network, and a conditional Glow. */
#include "nftest.h"

#include "threads.h"

typedef struct seen {
    nf_flow *f;
    int calls;
    size_t lo[256];
    nf_real *snap[256]; /* the gradients [lo, count) at the call */
} seen;

static void record(void *user, size_t lo) {
    seen *s = user;
    assert_true(s->calls < 256);
    size_t cnt = s->f->params.count - lo;
    s->snap[s->calls] = malloc((cnt + 1) * sizeof(nf_real));
    memcpy(s->snap[s->calls], s->f->params.grad + lo, cnt * sizeof(nf_real));
    s->lo[s->calls++] = lo;
}

static void check_hook(nf_flow *f, const nf_tensor *x, const nf_tensor *cond) {
    NF_ASSERT_OK(nf_flow_gradient(f, x, cond, -1, NULL, NULL)); /* data-dependent initialisation */
    seen s = {.f = f};
    nf_flow_set_grads_ready(f, record, &s);
    NF_ASSERT_OK(nf_flow_gradient(f, x, cond, -1, NULL, NULL));
    nf_flow_set_grads_ready(f, NULL, NULL);
    size_t count = f->params.count;
    assert_true(s.calls >= 3);
    assert_true(s.lo[0] > 0);          /* some gradients were final before the end */
    assert_true(s.lo[0] < count);      /* ... and the first call had some */
    assert_int_equal(s.lo[s.calls - 1], 0);
    for (int k = 0; k < s.calls; k++) {
        if (k > 0) assert_true(s.lo[k] <= s.lo[k - 1]);
        assert_memory_equal(s.snap[k], f->params.grad + s.lo[k], (count - s.lo[k]) * sizeof(nf_real));
        free(s.snap[k]);
    }
}

/* A small Glow's hook on `threads` threads. */
static void glow_on_threads(int threads, uint64_t seed) {
    nf_threads_set(threads, NF_THREADS_OPENMP);
    nf_flow *f = nftest_small_glow();
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, seed);
    check_hook(f, &x, NULL);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
    nf_threads_set(0, NF_THREADS_OPENMP);
}

static void test_glow_one_thread(void **state) {
    (void)state;
    glow_on_threads(1, 3);
}

static void test_glow_two_threads(void **state) {
    (void)state;
    glow_on_threads(2, 4);
}

/* Learned priors: each level's prior runs its backward before the level's steps. */
static void test_glow_learned_prior(void **state) {
    (void)state;
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2, c.learn_prior = 1;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 6);
    check_hook(f, &x, NULL);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
    nf_threads_set(0, NF_THREADS_OPENMP);
}

static void test_sequential(void **state) {
    (void)state;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec(&f, (nf_shape){1, 4, 1, 1, 1}, "(actnorm, realnvp(hidden=8), reverse)*3", 7));
    nf_tensor x = nftest_randn(16, 4, 1, 1, 1, 5);
    check_hook(f, &x, NULL);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

/* A conditional flow with a summary network (the first layer, whose gradients are final
 * only after the couplings above have all added to dloss/ds). */
static void test_conditional_summary(void **state) {
    (void)state;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, (nf_shape){1, 4, 1, 1, 1}, (nf_shape){1, 3, 1, 1, 1},
                                              "summary(hidden=8,out=4), (cond_realnvp(hidden=8), reverse)*3", 7));
    for (size_t i = 0; i < f->params.count; i++) /* the nets not zero, the permutations kept */
        if (!f->params.frozen[i]) f->params.value[i] += (nf_real)(0.01 * (double)(i % 7));
    nf_tensor x = nftest_randn(16, 4, 1, 1, 1, 5), y = nftest_randn(16, 3, 1, 1, 1, 6);
    check_hook(f, &x, &y);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
}

/* A conditional Glow: y's ActNorm is layer 0, final only after every level has added
 * dloss/dy (the level passes on two threads). */
static void test_conditional_glow(void **state) {
    (void)state;
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2, c.cond_channels = 1;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 6), y = nftest_randn(8, 1, 1, 8, 8, 7);
    check_hook(f, &x, &y);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
    nf_threads_set(0, NF_THREADS_OPENMP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glow_one_thread),
        cmocka_unit_test(test_glow_two_threads),
        cmocka_unit_test(test_glow_learned_prior),
        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_conditional_summary),
        cmocka_unit_test(test_conditional_glow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
