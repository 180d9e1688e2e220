/* The training loop as an object: schedule, rebuild-guarded gradient, loss watch,
 * clipping, Adam, rollback to the last good state when a step fails, and validation. */
#include "nf_internal.h"
#include "train/dist_step.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Parameters and Adam moments kept to roll back to. */
typedef struct snapshot {
    nf_real *value, *m, *v; /* (count) each */
    long adam_step;
    long step;              /* the training step this state precedes */
    int valid;
} snapshot;

struct nf_trainer {
    nf_flow *f;
    nf_trainer_config cfg;
    nf_adam opt;
    nf_trainer_state st;
    snapshot good, pending;  /* before the last taken step; before the current one */
    nf_train_callback cb;
    void *user;
    long val_step;           /* the step after which the last validation ran; -1: none */
    nf_loss_stats last_val;
    char msg[768];
};

static nf_status snapshot_init(snapshot *s, size_t count) {
    memset(s, 0, sizeof *s);
    s->value = nf_alloc(sizeof(nf_real) * (count ? count : 1));
    s->m = nf_alloc(sizeof(nf_real) * (count ? count : 1));
    s->v = nf_alloc(sizeof(nf_real) * (count ? count : 1));
    return s->value && s->m && s->v ? NF_OK : nf_fail(NF_ERR_NOMEM, "trainer: out of memory for the rollback state");
}

static void snapshot_free(snapshot *s) {
    nf_free(s->value);
    nf_free(s->m);
    nf_free(s->v);
    memset(s, 0, sizeof *s);
}

static void snapshot_take(snapshot *s, const nf_flow *f, const nf_adam *opt, long step) {
    size_t bytes = sizeof(nf_real) * f->params.count;
    memcpy(s->value, f->params.value, bytes);
    memcpy(s->m, opt->m, bytes);
    memcpy(s->v, opt->v, bytes);
    s->adam_step = opt->step;
    s->step = step;
    s->valid = 1;
}

static void snapshot_restore(const snapshot *s, nf_flow *f, nf_adam *opt) {
    size_t bytes = sizeof(nf_real) * f->params.count;
    memcpy(f->params.value, s->value, bytes);
    memcpy(opt->m, s->m, bytes);
    memcpy(opt->v, s->v, bytes);
    opt->step = s->adam_step;
}

nf_trainer_config nf_trainer_config_default(long steps, double lr) {
    nf_trainer_config c;
    memset(&c, 0, sizeof c);
    c.schedule = (nf_schedule){NF_SCHEDULE_CONSTANT, lr, 0, 0, 0, 0.5};
    c.steps = steps;
    c.max_rollbacks = 3;
    c.recover_steps = NF_RECOVER_STEPS_DEFAULT;
    c.rebuild_tol = NF_REBUILD_TOL_DEFAULT;
    return c;
}

double nf_trainer_loss_jump_bits(double bits, size_t D) { return bits * (double)D * log(2.0); }

static nf_status check_config(const nf_trainer_config *c) {
    const nf_schedule *s = &c->schedule;
    if (c->steps < 1) return nf_fail(NF_ERR_ARG, "nf_trainer: steps must be >= 1, got %ld", c->steps);
    if (!(s->lr > 0) || !isfinite(s->lr)) return nf_fail(NF_ERR_ARG, "nf_trainer: learning rate must be > 0, got %g", s->lr);
    if ((unsigned)s->kind > NF_SCHEDULE_STEP) return nf_fail(NF_ERR_ARG, "nf_trainer: unknown schedule kind %d", s->kind);
    if (!(s->lr_min >= 0) || s->warmup < 0 || (s->kind == NF_SCHEDULE_STEP && (s->step_every < 1 || !(s->gamma > 0))))
        return nf_fail(NF_ERR_ARG, "nf_trainer: impossible schedule (lr_min %g, warm-up %ld, step every %ld, gamma %g)",
                       s->lr_min, s->warmup, s->step_every, s->gamma);
    if (c->validate_every < 0 || (c->validate_every > 0 && !c->validation.read))
        return nf_fail(NF_ERR_ARG, "nf_trainer: validate_every %ld needs >= 0 and validation data", c->validate_every);
    if (c->validation.read && (c->validation.count < 1 || c->validation.batch < 1))
        return nf_fail(NF_ERR_ARG, "nf_trainer: validation of %lld samples in batches of %d", c->validation.count,
                       c->validation.batch);
    if (!(c->clip_rel == 0 || (c->clip_rel > 1 && isfinite(c->clip_rel))))
        return nf_fail(NF_ERR_ARG,
                       "nf_trainer: relative clip %g must be > 1 (a limit at or below the typical norm would shrink "
                       "every step) or 0 for off", c->clip_rel);
    if (!(c->weight_decay >= 0) || !(c->clip >= 0) || c->max_rollbacks < 0 || c->recover_steps < 0 ||
        !(c->loss_jump >= 0) ||
        isnan(c->rebuild_tol))
        return nf_fail(NF_ERR_ARG,
                       "nf_trainer: impossible setting (weight decay %g, clip %g, rollbacks %d, loss jump %g, "
                       "rebuild tolerance %g)",
                       c->weight_decay, c->clip, c->max_rollbacks, c->loss_jump, c->rebuild_tol);
    return NF_OK;
}

/* Takes over opt (emptied) or makes a fresh one. */
static nf_status create(nf_trainer **out, nf_flow *f, const nf_trainer_config *cfg, nf_adam *opt,
                        const nf_trainer_state *st) {
    NF_CHECK_NULL(out);
    *out = NULL;
    NF_CHECK_NULL(f);
    NF_CHECK_NULL(cfg);
    NF_TRY(check_config(cfg));
    size_t count = nf_flow_num_params(f);
    if (opt && (opt->count != count || !opt->m || !opt->v))
        return nf_fail(NF_ERR_SHAPE, "nf_trainer_resume: the optimiser holds %zu moments, the flow %zu parameters",
                       opt->count, count);
    nf_trainer *t = nf_calloc(1, sizeof *t);
    if (!t) return nf_fail(NF_ERR_NOMEM, "nf_trainer: out of memory");
    t->f = f;
    t->cfg = *cfg;
    t->val_step = -1;
    nf_status s = NF_OK;
    if (opt) {
        t->opt = *opt;
        memset(opt, 0, sizeof *opt);
    } else {
        s = nf_adam_init(&t->opt, count, cfg->schedule.lr);
    }
    t->opt.weight_decay = cfg->weight_decay;
    if (st) {
        t->st = *st;
    } else {
        t->st.lr_scale = 1;
        if (s == NF_OK && cfg->loss_jump > 0) s = nf_loss_watch_init(&t->st.watch, cfg->loss_jump);
    }
    t->st.watch.rise = cfg->loss_jump; /* the setting of this run, the history of the checkpoint */
    if (nf_dist_size(cfg->dist) > 1) nf_flow_set_sum(f, nf_dist_sum_hook, cfg->dist); /* ActNorm's init */
    if (s == NF_OK && cfg->max_rollbacks > 0) s = snapshot_init(&t->good, count);
    if (s == NF_OK && cfg->max_rollbacks > 0) s = snapshot_init(&t->pending, count);
    if (s != NF_OK) {
        nf_trainer_destroy(t);
        return s;
    }
    *out = t;
    return NF_OK;
}

nf_status nf_trainer_create(nf_trainer **out, nf_flow *f, const nf_trainer_config *cfg) {
    return create(out, f, cfg, NULL, NULL);
}

nf_status nf_trainer_resume(nf_trainer **out, nf_flow *f, const nf_trainer_config *cfg, nf_adam *opt,
                            const nf_trainer_state *st) {
    NF_CHECK_NULL(opt);
    NF_CHECK_NULL(st);
    if (!(st->lr_scale > 0) || st->step < 0 || st->rollbacks < 0 || st->calm < 0 || st->period < 0)
        return nf_fail(NF_ERR_ARG, "nf_trainer_resume: impossible state (step %ld, lr scale %g, rollbacks %d)",
                       st->step, st->lr_scale, st->rollbacks);
    return create(out, f, cfg, opt, st);
}

void nf_trainer_set_callback(nf_trainer *t, nf_train_callback cb, void *user) {
    if (!t) return;
    t->cb = cb;
    t->user = user;
}

static void emit(nf_trainer *t, const nf_train_event *ev) {
    if (t->cb) t->cb(t->user, ev);
}

static void emit_message(nf_trainer *t, nf_train_event_kind kind, long step, const nf_grad_report *g) {
    nf_train_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.step = step;
    if (g) ev.grad = *g;
    ev.message = t->msg;
    emit(t, &ev);
}

static void note_recompute(nf_trainer *t, long step, const nf_grad_report *g) {
    char where[160] = "";
    if (g->worst_layer >= 0)
        snprintf(where, sizeof where, "; layer %d (%s) amplified the error most, %.3gx", g->worst_layer,
                 t->f->layers[g->worst_layer]->ops->name, g->worst_gain);
    snprintf(t->msg, sizeof t->msg,
             "step %ld: the batch rebuilt by the backward was off by %.3g (tolerance %g); gradient recomputed from "
             "stored inputs (%.1f MiB)%s",
             step, g->rebuild_error, t->cfg.rebuild_tol, (double)g->recompute_bytes / (1 << 20), where);
    emit_message(t, NF_EVENT_RECOMPUTE, step, g);
}

/* Calm steps the rate needs now to double back. */
static long period(const nf_trainer *t) { return t->st.period > 0 ? t->st.period : t->cfg.recover_steps; }

/* Halvings of the rate in force: lr_scale = 2^-halvings. */
static int halvings(const nf_trainer *t) { return (int)lround(-log2(t->st.lr_scale)); }

/* After a failed step: the last good state back and the rate halved, or the end. */
static nf_status rollback(nf_trainer *t, long step, const char *why) {
    char reason[512];
    snprintf(reason, sizeof reason, "%s", why);
    if (t->cfg.max_rollbacks <= 0 || !t->good.valid || halvings(t) >= t->cfg.max_rollbacks) {
        if (t->good.valid) snapshot_restore(&t->good, t->f, &t->opt);
        snprintf(t->msg, sizeof t->msg,
                 "step %ld: %s; stopping after %d rollback%s (try a lower learning rate or gradient clipping)", step,
                 reason, t->st.rollbacks, t->st.rollbacks == 1 ? "" : "s");
        emit_message(t, NF_EVENT_STOP, step, NULL);
        return nf_fail(NF_ERR_NUMERIC, "%s", t->msg);
    }
    /* The parameters and Adam's own step count go back; the step counter does not (a
     * caller counting batches stays monotonic): the next step repeats this number. */
    snapshot_restore(&t->good, t->f, &t->opt);
    t->st.rollbacks++;
    t->st.lr_scale *= 0.5;
    char until[96] = "";
    if (t->cfg.recover_steps > 0) {
        /* A failure soon after the rate came back: it was still too high; stay lower longer. */
        int soon = t->cfg.backoff && t->st.recovered && t->st.calm < period(t);
        t->st.period = soon ? 2 * period(t) : period(t);
        snprintf(until, sizeof until, " for %ld steps%s", t->st.period,
                 soon ? " (twice the last wait: it failed soon after the rate came back)" : "");
    }
    t->st.calm = 0;
    t->st.recovered = 0;
    snprintf(t->msg, sizeof t->msg,
             "step %ld: %s; rolled back to the state before step %ld and halved the learning rate%s "
             "(now x%g of the schedule; halved %d of at most %d times; %d rollback%s in all)",
             step, reason, t->good.step + 1, until, t->st.lr_scale, halvings(t), t->cfg.max_rollbacks,
             t->st.rollbacks, t->st.rollbacks == 1 ? "" : "s");
    t->pending.valid = 0;
    emit_message(t, NF_EVENT_ROLLBACK, step, NULL);
    return NF_OK;
}

/* After a step taken: period(t) of them since the last rollback (or recovery) double a
 * halved rate back; as many at the restored rate end the back-off. */
static void recover(nf_trainer *t, long step) {
    t->st.calm++;
    if (t->cfg.recover_steps <= 0 || t->st.calm < period(t)) return;
    if (t->st.lr_scale >= 1) {
        t->st.recovered = 0; /* a whole period at the schedule's rate: forget the back-off */
        t->st.period = 0;
        return;
    }
    t->st.lr_scale = fmin(1.0, 2 * t->st.lr_scale);
    t->st.calm = 0;
    t->st.recovered = 1;
    snprintf(t->msg, sizeof t->msg, "step %ld: %ld steps without a rollback; the learning rate doubled back (now x%g "
             "of the schedule)", step, period(t), t->st.lr_scale);
    emit_message(t, NF_EVENT_RECOVER, step, NULL);
}

#define CLIP_DECAY 0.99 /* the relative clip's memory: about 100 steps, longer than the rise of a
                         * spike (10-20 steps: a limit that followed it let the seismic
                         * run jump with 0.95), shorter than the warm-up's rise */

/* The gradient-norm limit of this step: the fixed clip, the relative one, or none. */
static double clip_limit(const nf_trainer *t) {
    double lim = t->cfg.clip > 0 ? t->cfg.clip : INFINITY;
    if (t->cfg.clip_rel > 0 && t->st.clip_seen >= NF_CLIP_REL_WARMUP)
        lim = fmin(lim, t->cfg.clip_rel * exp(t->st.clip_level));
    return lim;
}

/* A taken step's norm, as applied, joins the recent level (kept with or without a relative
 * clip, so that a resumed run can switch one on with its history). */
static void clip_observe(nf_trainer_state *st, double applied) {
    if (!(applied > 0) || !isfinite(applied)) return;
    double v = log(applied);
    st->clip_level = st->clip_seen == 0 ? v : CLIP_DECAY * st->clip_level + (1 - CLIP_DECAY) * v;
    st->clip_seen++;
}

nf_status nf_trainer_step(nf_trainer *t, const nf_tensor *x, const nf_tensor *cond, int *taken) {
    if (taken) *taken = 0;
    NF_CHECK_NULL(t);
    nf_flow *f = t->f;
    long step = t->st.step + 1;
    t->opt.lr = nf_schedule_lr(&t->cfg.schedule, step, t->cfg.steps) * t->st.lr_scale;
    if (t->cfg.max_rollbacks > 0) snapshot_take(&t->pending, f, &t->opt, t->st.step);
    nf_loss_stats ls;
    nf_grad_report g;
    double gnorm = NAN;
    nf_status s = t->cfg.dist ? nf_dist_overlap_begin(t->cfg.dist, f, x->n) : NF_OK;
    if (s != NF_OK) return s;
    s = nf_flow_gradient(f, x, cond, t->cfg.rebuild_tol, &ls, &g);
    if (t->cfg.dist) s = nf_dist_combine_step(t->cfg.dist, f, x->n, s, &ls, &g);
    if (g.recomputed) {
        t->st.recomputed++;
        note_recompute(t, step, &g);
    }
    if (s == NF_OK && t->cfg.loss_jump > 0) s = nf_loss_watch_step(&t->st.watch, ls.loss);
    double limit = clip_limit(t);
    if (s == NF_OK) s = nf_clip_grad_norm(&f->params, limit, &gnorm);
    if (s == NF_OK) s = nf_adam_step(&t->opt, &f->params);
    if (s == NF_ERR_NUMERIC) return rollback(t, step, nf_last_error());
    if (s != NF_OK) return s;
    t->st.step = step;
    clip_observe(&t->st, fmin(gnorm, limit));
    if (t->cfg.max_rollbacks > 0) {
        snapshot tmp = t->good;
        t->good = t->pending;
        t->pending = tmp;
    }
    if (taken) *taken = 1;
    nf_train_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = NF_EVENT_STEP;
    ev.step = step;
    ev.loss = ls;
    ev.lr = t->opt.lr;
    ev.grad_norm = gnorm;
    ev.clip = limit;
    ev.grad = g;
    emit(t, &ev);
    recover(t, step);
    if (t->cfg.validate_every > 0 && step % t->cfg.validate_every == 0) return nf_trainer_validate(t, NULL);
    return NF_OK;
}

/* Ranks: agree on failure (status s here), then the means over every rank's n samples.
 * A failing rank gets its own s back from the caller; the others fail naming it. */
static nf_status dist_combine_validation(nf_dist *d, nf_status s, nf_loss_stats *v, long long *n) {
    int first = -1;
    NF_TRY(nf_dist_first_failure(d, s != NF_OK, &first));
    if (s != NF_OK) return NF_OK;
    if (first >= 0)
        return nf_fail(NF_ERR_STATE, "rank %d failed in its validation (its own message says why)", first);
    double sum[5] = {v->loss * *n, v->half_sq * *n, v->logdet * *n, v->bits_per_dim * *n, (double)*n};
    NF_TRY(nf_dist_sum(d, sum, 5));
    v->loss = sum[0] / sum[4], v->half_sq = sum[1] / sum[4], v->logdet = sum[2] / sum[4];
    v->bits_per_dim = sum[3] / sum[4];
    *n = (long long)sum[4];
    return NF_OK;
}

nf_status nf_trainer_validate(nf_trainer *t, nf_loss_stats *st) {
    NF_CHECK_NULL(t);
    if (!t->cfg.validation.read) return nf_fail(NF_ERR_STATE, "nf_trainer_validate: the trainer has no validation data");
    int sequential = nf_flow_is_sequential(t->f); /* batch norm: running averages while evaluating */
    if (sequential) NF_TRY(nf_sequential_set_training(t->f, 0));
    nf_loss_stats v;
    nf_status s = nf_flow_eval_source(t->f, &t->cfg.validation, &v);
    if (sequential) nf_sequential_set_training(t->f, 1);
    long long n = t->cfg.validation.count;
    if (nf_dist_size(t->cfg.dist) > 1) NF_TRY(dist_combine_validation(t->cfg.dist, s, &v, &n));
    if (s != NF_OK) return s;
    t->val_step = t->st.step;
    t->last_val = v;
    if (st) *st = v;
    nf_train_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = NF_EVENT_VALIDATION;
    ev.step = t->st.step;
    ev.loss = v;
    ev.samples = n;
    emit(t, &ev);
    return NF_OK;
}

long nf_trainer_last_validation(const nf_trainer *t, nf_loss_stats *st) {
    if (!t || t->val_step < 0) return -1;
    if (st) *st = t->last_val;
    return t->val_step;
}

const nf_trainer_state *nf_trainer_state_of(const nf_trainer *t) { return t ? &t->st : NULL; }
const nf_adam *nf_trainer_optimizer(const nf_trainer *t) { return t ? &t->opt : NULL; }
long nf_trainer_good_step(const nf_trainer *t) { return t && t->good.valid ? t->good.step : -1; }

void nf_trainer_destroy(nf_trainer *t) {
    if (!t) return;
    if (nf_dist_size(t->cfg.dist) > 1 && t->f->sum == nf_dist_sum_hook) nf_flow_set_sum(t->f, NULL, NULL);
    nf_adam_free(&t->opt);
    snapshot_free(&t->good);
    snapshot_free(&t->pending);
    nf_free(t);
}
