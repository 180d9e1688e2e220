/* The worked example at the top of include/nflow.h, compiled and run as written
 * (the printing callback counts instead), so the documentation cannot rot. */
#include "nftest.h"

typedef struct seen {
    long steps, messages;
    double first, last;
} seen;

static void count_step(void *user, const nf_train_event *ev) {
    seen *s = user;
    if (ev->kind == NF_EVENT_STEP) {
        if (s->steps++ == 0) s->first = ev->loss.loss;
        s->last = ev->loss.loss;
    } else {
        s->messages++;
    }
}

static void test_worked_example(void **state) {
    (void)state;
    nf_glow_config cfg = nf_glow_config_default(2, 1, 1);  // 2 channels, 1x1 "image"
    cfg.hidden = 16; cfg.levels = 1; cfg.steps = 10; cfg.multiscale = 0;
    nf_flow *g = NULL;
    NF_ASSERT_OK(nf_glow_create(&g, &cfg));
    nf_trainer_config tc = nf_trainer_config_default(400, 9e-4);  // 400 steps, Adam
    tc.schedule.kind = NF_SCHEDULE_COSINE;         // 9e-4 -> 0 ...
    tc.schedule.warmup = 20;                       // ... after 20 warm-up steps
    tc.loss_jump = nf_trainer_loss_jump_bits(3, 2); // roll back a 3 bits/dim jump
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, g, &tc));
    seen s = {0};
    nf_trainer_set_callback(t, count_step, &s);
    nf_tensor x;                                   // (150, 2, 1, 1, 1)
    NF_ASSERT_OK(nf_tensor_alloc(&x, 150, 2, 1, 1, 1));
    nf_rng rng; nf_rng_seed(&rng, 1);
    while (nf_trainer_state_of(t)->step < 400) {
        nf_sample_banana(&rng, x.data, x.n);       // a fresh batch
        NF_ASSERT_OK(nf_trainer_step(t, &x, NULL, NULL));
    }
    NF_ASSERT_OK(nf_flow_sample(g, &x, NULL, 1.0, &rng)); // x <- G^-1(z), z ~ N(0, I)
    for (size_t i = 0; i < nf_tensor_count(&x); i++) assert_true(isfinite(x.data[i]));
    assert_int_equal(s.steps, 400);
    assert_int_equal(s.messages, 0); /* a healthy run: no recompute, no rollback */
    assert_true(s.last < s.first - 1.0);
    nf_trainer_destroy(t); nf_tensor_free(&x); nf_flow_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_worked_example)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
