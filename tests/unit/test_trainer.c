/* nf_trainer: the schedule, rollback to the last good state with a halved rate (NaN and
 * finite loss jumps), the stop when rollbacks run out, and a checkpointed resume that
 * continues bit for bit. */
#include "nftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct log_t {
    int steps, recomputes, rollbacks, recovers, stops, validations;
    long val_step;
    long long val_samples;
    nf_loss_stats val;
    char last[512];
} log_t;

static void record(void *user, const nf_train_event *ev) {
    log_t *l = user;
    switch (ev->kind) {
    case NF_EVENT_STEP: l->steps++; break;
    case NF_EVENT_RECOMPUTE: l->recomputes++; break;
    case NF_EVENT_ROLLBACK: l->rollbacks++; break;
    case NF_EVENT_RECOVER: l->recovers++; break;
    case NF_EVENT_STOP: l->stops++; break;
    case NF_EVENT_VALIDATION: l->validations++, l->val_step = ev->step, l->val = ev->loss, l->val_samples = ev->samples; break;
    }
    if (ev->message) snprintf(l->last, sizeof l->last, "%s", ev->message);
}

static nf_flow *banana_glow(void) {
    nf_glow_config c = nf_glow_config_default(2, 1, 1);
    c.hidden = 8, c.levels = 1, c.steps = 3, c.multiscale = 0;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    return f;
}

/* n steps on banana batches drawn from rng. */
static void run(nf_trainer *t, nf_rng *rng, int n) {
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 64, 2, 1, 1, 1));
    long end = nf_trainer_state_of(t)->step + n;
    while (nf_trainer_state_of(t)->step < end) {
        nf_sample_banana(rng, x.data, x.n);
        NF_ASSERT_OK(nf_trainer_step(t, &x, NULL, NULL));
    }
    nf_tensor_free(&x);
}

/* Validation data for the trainer: 300 banana samples drawn once, read in order. */
static nf_status read_held_out(void *user, long long start, nf_tensor *x, nf_tensor *cond) {
    (void)cond;
    const nf_tensor *all = user;
    memcpy(x->data, all->data + 2 * start, sizeof(nf_real) * 2 * (size_t)x->n);
    return NF_OK;
}

/* validate_every: a VALIDATION event after every 5th step with the statistics of the
 * whole held-out set (300 samples in batches of 128: the last one short), the same as
 * nf_flow_eval_source gives; nf_trainer_validate on request; none without data. */
static void test_validation(void **state) {
    (void)state;
    nf_flow *f = banana_glow();
    nf_tensor held;
    NF_ASSERT_OK(nf_tensor_alloc(&held, 300, 2, 1, 1, 1));
    nf_rng rng;
    nf_rng_seed(&rng, 11);
    nf_sample_banana(&rng, held.data, held.n);
    nf_trainer_config tc = nf_trainer_config_default(100, 1e-3);
    tc.validation = (nf_eval_source){.read = read_held_out, .user = &held, .count = 300, .batch = 128};
    tc.validate_every = 5;
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    assert_int_equal(nf_trainer_last_validation(t, NULL), -1);
    log_t l = {0};
    nf_trainer_set_callback(t, record, &l);
    run(t, &rng, 12);
    assert_int_equal(l.validations, 2);
    assert_int_equal(l.val_step, 10);
    assert_int_equal(l.val_samples, 300);
    run(t, &rng, 3);
    assert_int_equal(l.validations, 3);
    nf_loss_stats direct, last;
    NF_ASSERT_OK(nf_flow_eval_source(f, &tc.validation, &direct));
    assert_int_equal(nf_trainer_last_validation(t, &last), 15);
    assert_true(last.loss == direct.loss && l.val.loss == direct.loss && l.val.bits_per_dim == direct.bits_per_dim);
    nf_loss_stats whole; /* one batch of all 300: the same mean up to rounding */
    nf_tensor all = held;
    NF_ASSERT_OK(nf_flow_eval(f, &all, NULL, &whole));
    assert_true(fabs(whole.loss - direct.loss) < 1e-5 * (1 + fabs(whole.loss)));
    run(t, &rng, 1);
    NF_ASSERT_OK(nf_trainer_validate(t, &last));
    assert_int_equal(l.validations, 4);
    assert_int_equal(nf_trainer_last_validation(t, NULL), 16);
    nf_trainer_destroy(t);

    nf_trainer_config none = nf_trainer_config_default(100, 1e-3);
    NF_ASSERT_OK(nf_trainer_create(&t, f, &none));
    NF_ASSERT_FAILS(nf_trainer_validate(t, NULL), NF_ERR_STATE);
    nf_trainer_destroy(t);
    none.validate_every = 5; /* a cadence without data */
    NF_ASSERT_FAILS(nf_trainer_create(&t, f, &none), NF_ERR_ARG);
    nf_tensor_free(&held);
    nf_flow_destroy(f);
}

static void test_schedules(void **state) {
    (void)state;
    nf_schedule s = {NF_SCHEDULE_COSINE, 1e-3, 1e-5, 10, 0, 0.5};
    assert_true(fabs(nf_schedule_lr(&s, 5, 110) - 5e-4) < 1e-15);   /* warm-up: linear */
    assert_true(fabs(nf_schedule_lr(&s, 11, 110) - 1e-3) < 1e-15);  /* first step after it */
    assert_true(nf_schedule_lr(&s, 110, 110) > 1e-5 && nf_schedule_lr(&s, 110, 110) < 1.1e-5);
    nf_schedule st = {NF_SCHEDULE_STEP, 1.0, 0, 0, 10, 0.5};
    assert_true(nf_schedule_lr(&st, 10, 100) == 1.0 && nf_schedule_lr(&st, 11, 100) == 0.5);
}

/* Poisons a parameter with NaN and steps on a fresh banana batch: the step's status,
 * and in *taken whether it was taken. */
static nf_status nan_step(nf_trainer *t, nf_flow *f, nf_rng *rng, int *taken) {
    f->params.value[0] = NAN;
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 64, 2, 1, 1, 1));
    nf_sample_banana(rng, x.data, x.n);
    *taken = 1;
    nf_status s = nf_trainer_step(t, &x, NULL, taken);
    nf_tensor_free(&x);
    return s;
}

/* A NaN parameter: the next step is rolled back to the state before the previous one,
 * the rate halves, the step counter does not move back; then the run goes on. */
static void test_rollback_on_nan(void **state) {
    (void)state;
    nf_flow *f = banana_glow();
    nf_trainer_config tc = nf_trainer_config_default(100, 1e-3);
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    log_t l = {0};
    nf_trainer_set_callback(t, record, &l);
    nf_rng rng;
    nf_rng_seed(&rng, 3);
    run(t, &rng, 19);
    size_t np = nf_flow_num_params(f);
    nf_real *before20 = malloc(np * sizeof(nf_real)); /* what a rollback must restore */
    memcpy(before20, f->params.value, np * sizeof(nf_real));
    run(t, &rng, 1);
    assert_int_equal(nf_trainer_good_step(t), 19);
    int taken;
    NF_ASSERT_OK(nan_step(t, f, &rng, &taken));
    assert_int_equal(taken, 0);
    assert_int_equal(l.rollbacks, 1);
    assert_non_null(strstr(l.last, "step 21: "));
    assert_non_null(strstr(l.last, "rolled back to the state before step 20"));
    assert_int_equal(nf_trainer_state_of(t)->step, 20);
    assert_true(nf_trainer_state_of(t)->lr_scale == 0.5);
    assert_true(memcmp(before20, f->params.value, np * sizeof(nf_real)) == 0);
    assert_int_equal(nf_trainer_optimizer(t)->step, 19); /* Adam's count went back too */
    run(t, &rng, 10);
    assert_true(nf_trainer_optimizer(t)->lr <= 0.5e-3);
    free(before20);
    nf_trainer_destroy(t);
    nf_flow_destroy(f);
}

/* One rollback at step `at` (a NaN parameter) in a trainer with the given recovery. */
static nf_trainer *rolled_back_once(nf_flow *f, long recover, int backoff, int max_rollbacks, log_t *l,
                                    nf_rng *rng) {
    nf_trainer_config tc = nf_trainer_config_default(100, 1e-3);
    tc.recover_steps = recover;
    tc.backoff = backoff;
    tc.max_rollbacks = max_rollbacks;
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    nf_trainer_set_callback(t, record, l);
    run(t, rng, 10);
    int taken;
    NF_ASSERT_OK(nan_step(t, f, rng, &taken));
    assert_int_equal(taken, 0);
    return t;
}

/* The rollback message of a rate halved for the configured 5 steps, not backed off. */
static void assert_plain_wait(const char *msg) {
    assert_non_null(strstr(msg, "halved the learning rate for 5 steps "));
    assert_null(strstr(msg, "twice"));
}

/* A halved rate doubles back after recover_steps calm steps (the event says so), and a
 * failure after that is a fresh rollback, not the last straw; with the back-off on, one
 * soon after the recovery doubles the wait, without it the wait stays; with
 * recover_steps 0 the rate stays halved and the next failure stops the run. */
static void test_rate_recovers(void **state) {
    (void)state;
    nf_rng rng;
    nf_rng_seed(&rng, 8);
    nf_flow *f = banana_glow();
    log_t l = {0};
    nf_trainer *t = rolled_back_once(f, 5, 1, 2, &l, &rng);
    assert_non_null(strstr(l.last, "halved the learning rate for 5 steps"));
    assert_true(nf_trainer_state_of(t)->lr_scale == 0.5);
    run(t, &rng, 4);
    assert_true(nf_trainer_state_of(t)->lr_scale == 0.5);
    assert_int_equal(nf_trainer_state_of(t)->calm, 4);
    run(t, &rng, 1);
    assert_int_equal(l.recovers, 1);
    assert_non_null(strstr(l.last, "doubled back (now x1 of the schedule)"));
    assert_true(nf_trainer_state_of(t)->lr_scale == 1);
    assert_true(fabs(nf_trainer_optimizer(t)->lr - 0.5e-3) < 1e-12); /* the step just taken: halved */
    run(t, &rng, 1);
    assert_true(fabs(nf_trainer_optimizer(t)->lr - 1e-3) < 1e-12); /* the next: the schedule's */
    int taken; /* a second failure: a fresh halving (the first was undone) */
    NF_ASSERT_OK(nan_step(t, f, &rng, &taken));
    assert_int_equal(taken, 0);
    assert_int_equal(nf_trainer_state_of(t)->rollbacks, 2);
    /* ... and it came 1 step after the rate came back: the next wait is twice as long */
    assert_non_null(strstr(l.last, "halved the learning rate for 10 steps (twice the last wait"));
    run(t, &rng, 9);
    assert_true(nf_trainer_state_of(t)->lr_scale == 0.5);
    run(t, &rng, 1);
    assert_int_equal(l.recovers, 2);
    assert_true(nf_trainer_state_of(t)->lr_scale == 1);
    run(t, &rng, 3); /* a failure within those 10 steps at the full rate backs off again */
    NF_ASSERT_OK(nan_step(t, f, &rng, &taken));
    assert_non_null(strstr(l.last, "halved the learning rate for 20 steps (twice"));
    run(t, &rng, 2); /* another while halved: the wait stays 20, the rate halves again */
    NF_ASSERT_OK(nan_step(t, f, &rng, &taken));
    assert_non_null(strstr(l.last, "halved the learning rate for 20 steps (now x0.25"));
    run(t, &rng, 40);
    assert_int_equal(l.recovers, 4);
    assert_true(nf_trainer_state_of(t)->lr_scale == 1);
    run(t, &rng, 20); /* a whole period at the full rate: the back-off is forgotten */
    NF_ASSERT_OK(nan_step(t, f, &rng, &taken));
    assert_plain_wait(l.last);
    nf_trainer_destroy(t);
    nf_flow_destroy(f);

    /* without the back-off (the default) a failure soon after the recovery waits the same */
    f = banana_glow();
    memset(&l, 0, sizeof l);
    t = rolled_back_once(f, 5, 0, 2, &l, &rng);
    run(t, &rng, 6);
    assert_int_equal(l.recovers, 1);
    NF_ASSERT_OK(nan_step(t, f, &rng, &taken));
    assert_int_equal(taken, 0);
    assert_plain_wait(l.last);
    nf_trainer_destroy(t);
    nf_flow_destroy(f);

    f = banana_glow();
    memset(&l, 0, sizeof l);
    t = rolled_back_once(f, 0, 0, 1, &l, &rng);
    run(t, &rng, 200);
    assert_int_equal(l.recovers, 0);
    assert_true(nf_trainer_state_of(t)->lr_scale == 0.5);
    NF_ASSERT_FAILS(nan_step(t, f, &rng, &taken), NF_ERR_NUMERIC);
    nf_trainer_destroy(t);
    nf_flow_destroy(f);
}

/* No rollback allowed: the first failure stops with NF_ERR_NUMERIC; a finite loss jump
 * counts as a failure when the watch is on. */
static void test_stop_on_jump(void **state) {
    (void)state;
    nf_flow *f = banana_glow();
    nf_trainer_config tc = nf_trainer_config_default(100, 1e-3);
    tc.max_rollbacks = 1;
    tc.loss_jump = nf_trainer_loss_jump_bits(3, 2);
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    log_t l = {0};
    nf_trainer_set_callback(t, record, &l);
    nf_rng rng;
    nf_rng_seed(&rng, 4);
    run(t, &rng, 40);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 64, 2, 1, 1, 1));
    f->params.value[1] += 10; /* ActNorm: finite but far off */
    nf_sample_banana(&rng, x.data, x.n);
    int taken = 1;
    NF_ASSERT_OK(nf_trainer_step(t, &x, NULL, &taken)); /* the one rollback allowed */
    assert_int_equal(taken, 0);
    assert_non_null(strstr(l.last, "the loss jumped"));
    f->params.value[1] += 10;
    NF_ASSERT_FAILS(nf_trainer_step(t, &x, NULL, &taken), NF_ERR_NUMERIC);
    assert_int_equal(l.stops, 1);
    assert_non_null(strstr(nf_last_error(), "stopping after 1 rollback"));
    assert_true(fabs(f->params.value[1]) < 5); /* the last good parameters are back */
    nf_tensor_free(&x);
    nf_trainer_destroy(t);
    nf_flow_destroy(f);
}

/* Checkpoint after 30 steps, resume, 30 more: bit-identical to 60 uninterrupted. */
static void test_checkpointed_resume(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "test_trainer_%d.h5", (int)getpid());
    nf_trainer_config tc = nf_trainer_config_default(60, 2e-3);
    tc.schedule.kind = NF_SCHEDULE_COSINE;
    tc.loss_jump = nf_trainer_loss_jump_bits(3, 2);
    nf_rng ra, rb;
    nf_rng_seed(&ra, 9);
    nf_rng_seed(&rb, 9);

    nf_flow *a = banana_glow();
    nf_trainer *ta = NULL;
    NF_ASSERT_OK(nf_trainer_create(&ta, a, &tc));
    run(ta, &ra, 60);

    nf_flow *b = banana_glow();
    nf_trainer *tb = NULL;
    NF_ASSERT_OK(nf_trainer_create(&tb, b, &tc));
    run(tb, &rb, 30);
    nf_train_state ts = {0};
    ts.iteration = 30, ts.rng = rb, ts.has_trainer = 1, ts.trainer = *nf_trainer_state_of(tb);
    NF_ASSERT_OK(nf_checkpoint_save(b, nf_trainer_optimizer(tb), &ts, path));
    nf_trainer_destroy(tb);
    nf_flow_destroy(b);

    nf_flow *c = NULL;
    nf_adam opt;
    nf_train_state back;
    NF_ASSERT_OK(nf_checkpoint_load(&c, &opt, &back, path));
    assert_true(back.has_trainer);
    assert_int_equal(back.trainer.step, 30);
    assert_true(back.trainer.watch.level == ts.trainer.watch.level);
    assert_int_equal(back.trainer.watch.seen, ts.trainer.watch.seen);
    nf_trainer *tc2 = NULL;
    NF_ASSERT_OK(nf_trainer_resume(&tc2, c, &tc, &opt, &back.trainer));
    run(tc2, &back.rng, 30);
    size_t np = nf_flow_num_params(a);
    assert_true(memcmp(a->params.value, c->params.value, np * sizeof(nf_real)) == 0);
    nf_trainer_destroy(ta);
    nf_trainer_destroy(tc2);
    nf_flow_destroy(a);
    nf_flow_destroy(c);
    unlink(path);
}

/* Every field of the trainer's state survives the checkpoint (a resumed run backs off, or
 * forgets, exactly as the uninterrupted one would). */
static void test_checkpoint_keeps_state(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "test_trainer_state_%d.h5", (int)getpid());
    nf_flow *f = banana_glow();
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-3));
    nf_train_state ts = {0};
    ts.iteration = 17, ts.has_trainer = 1;
    nf_trainer_state *t = &ts.trainer;
    t->step = 17, t->lr_scale = 0.25, t->rollbacks = 3, t->calm = 7, t->period = 40, t->recovered = 1;
    t->recomputed = 2, t->watch.rise = 1.5, t->watch.level = -3.25, t->watch.spread = 0.5, t->watch.seen = 16;
    t->clip_level = 9.75, t->clip_seen = 15;
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));
    nf_flow *g = NULL;
    nf_adam back_opt;
    nf_train_state back;
    NF_ASSERT_OK(nf_checkpoint_load(&g, &back_opt, &back, path));
    const nf_trainer_state *b = &back.trainer;
    assert_true(back.has_trainer);
    assert_int_equal(b->step, 17);
    assert_true(b->lr_scale == 0.25);
    assert_int_equal(b->rollbacks, 3);
    assert_int_equal(b->calm, 7);
    assert_int_equal(b->period, 40);
    assert_int_equal(b->recovered, 1);
    assert_int_equal(b->recomputed, 2);
    assert_true(b->watch.rise == 1.5 && b->watch.level == -3.25 && b->watch.spread == 0.5);
    assert_int_equal(b->watch.seen, 16);
    assert_true(b->clip_level == 9.75);
    assert_int_equal(b->clip_seen, 15);
    nf_adam_free(&opt);
    nf_adam_free(&back_opt);
    nf_flow_destroy(f);
    nf_flow_destroy(g);
    unlink(path);
}

/* The relative clip: no limit for the first NF_CLIP_REL_WARMUP steps, then clip_rel times
 * the geometric mean (exponential, weight 0.01) of the norms as applied; a step over the
 * limit is clipped (the run leaves an unclipped twin there, and not before). */
typedef struct norms_t {
    int n;
    double norm[80], clip[80];
} norms_t;

static void record_norms(void *user, const nf_train_event *ev) {
    norms_t *l = user;
    if (ev->kind == NF_EVENT_STEP && l->n < 80) l->norm[l->n] = ev->grad_norm, l->clip[l->n] = ev->clip, l->n++;
}

static void test_relative_clip(void **state) {
    (void)state;
    enum { STEPS = 80 };
    nf_trainer_config tc = nf_trainer_config_default(STEPS, 5e-3);
    nf_flow *a = banana_glow(), *b = banana_glow();
    nf_trainer *ta = NULL, *tb = NULL;
    NF_ASSERT_OK(nf_trainer_create(&tb, b, &tc)); /* unclipped twin */
    tc.clip_rel = 1.2;
    NF_ASSERT_OK(nf_trainer_create(&ta, a, &tc));
    norms_t na = {0};
    nf_trainer_set_callback(ta, record_norms, &na);
    nf_rng ra, rb;
    nf_rng_seed(&ra, 4);
    nf_rng_seed(&rb, 4);
    size_t np = nf_flow_num_params(a);
    int first_clipped = -1;
    double level = 0;
    for (int i = 0; i < STEPS; i++) {
        run(ta, &ra, 1);
        run(tb, &rb, 1);
        if (i < NF_CLIP_REL_WARMUP) {
            assert_true(isinf(na.clip[i]));
        } else {
            double want = 1.2 * exp(level);
            assert_true(fabs(na.clip[i] - want) <= 1e-12 * want);
        }
        double applied = fmin(na.norm[i], na.clip[i]);
        level = i == 0 ? log(applied) : 0.99 * level + 0.01 * log(applied);
        int same = memcmp(a->params.value, b->params.value, np * sizeof(nf_real)) == 0;
        if (first_clipped < 0) {
            if (na.norm[i] > na.clip[i]) first_clipped = i;
            assert_int_equal(same, first_clipped < 0); /* identical up to the first clipped step */
        }
    }
    assert_true(first_clipped >= NF_CLIP_REL_WARMUP); /* a limit of 1.2x must bite within 60 steps */
    assert_int_equal(nf_trainer_state_of(ta)->clip_seen, STEPS);
    assert_true(fabs(nf_trainer_state_of(ta)->clip_level - level) <= 1e-12 * fabs(level) + 1e-15);
    nf_trainer_destroy(ta);
    nf_trainer_destroy(tb);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
}

static void test_bad_config(void **state) {
    (void)state;
    nf_flow *f = banana_glow();
    nf_trainer *t = NULL;
    nf_trainer_config tc = nf_trainer_config_default(0, 1e-3);
    NF_ASSERT_FAILS(nf_trainer_create(&t, f, &tc), NF_ERR_ARG);
    tc = nf_trainer_config_default(10, -1);
    NF_ASSERT_FAILS(nf_trainer_create(&t, f, &tc), NF_ERR_ARG);
    tc = nf_trainer_config_default(10, 1e-3);
    tc.schedule.kind = NF_SCHEDULE_STEP; /* needs step_every */
    NF_ASSERT_FAILS(nf_trainer_create(&t, f, &tc), NF_ERR_ARG);
    double bad_rel[] = {1.0, 0.5, -2, NAN, INFINITY}; /* at or below the typical norm shrinks every step */
    for (int i = 0; i < 5; i++) {
        tc = nf_trainer_config_default(10, 1e-3);
        tc.clip_rel = bad_rel[i];
        NF_ASSERT_FAILS(nf_trainer_create(&t, f, &tc), NF_ERR_ARG);
    }
    assert_null(t);
    nf_flow_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_rollback_on_nan),
        cmocka_unit_test(test_rate_recovers),
        cmocka_unit_test(test_stop_on_jump),
        cmocka_unit_test(test_checkpointed_resume),
        cmocka_unit_test(test_checkpoint_keeps_state),
        cmocka_unit_test(test_relative_clip),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
