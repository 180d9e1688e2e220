/*
 * nflow/trainer.h — the training loop as a library object (included by nflow.h).
 *
 * nf_trainer owns what a training run needs besides the data: Adam (or AdamW), the
 * learning-rate schedule, gradient clipping, the rebuild guard (nf_flow_gradient), the
 * loss-explosion watch, NaN/Inf recovery by rolling back to the last good parameters
 * with a halved rate, and validation on held-out data. The caller brings batches; metrics and messages come back through
 * a callback; the trainer's state is named and goes into checkpoints. With a dist of
 * several ranks (MPI), every step sums the ranks' gradients, losses and failures, so the
 * ranks' parameters stay identical and every rank rolls back together.
 *
 *     nf_trainer_config tc = nf_trainer_config_default(3000, 1e-3);
 *     tc.schedule.kind = NF_SCHEDULE_COSINE;
 *     nf_trainer *t;
 *     nf_trainer_create(&t, flow, &tc);
 *     while (nf_trainer_state_of(t)->step < 3000) {
 *         next_batch(&x);
 *         if (nf_trainer_step(t, &x, NULL, NULL) != NF_OK) break;  // exhausted rollbacks
 *     }
 *     nf_trainer_destroy(t);
 */
#ifndef NFLOW_TRAINER_H
#define NFLOW_TRAINER_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- schedules */

typedef enum nf_schedule_kind {
    NF_SCHEDULE_CONSTANT = 0,
    NF_SCHEDULE_COSINE = 1, /* lr -> lr_min over the steps after warm-up */
    NF_SCHEDULE_STEP = 2    /* lr * gamma^floor(t / step_every) */
} nf_schedule_kind;

typedef struct nf_schedule {
    nf_schedule_kind kind;
    double lr;        /* base rate */
    double lr_min;    /* cosine: the rate it decays towards (reached one step after the last) */
    long warmup;      /* steps of linear warm-up from lr/warmup to lr (0: none) */
    long step_every;  /* step: multiply by gamma every step_every steps */
    double gamma;
} nf_schedule;

/* The rate for step (1-based) of total steps. */
double nf_schedule_lr(const nf_schedule *s, long step, long total);

/* ---------------------------------------------------------------- evaluation */

/* Bits per dimension of a mean loss (nats per sample, nf_loss_stats.loss) over D
 * dimensions, in data units: nll_offset (nf_dataset_nll_offset; 0 for none) added. */
double nf_bits_per_dim(double loss, size_t D, double nll_offset);

/* Held-out samples read in order: read puts the x->n samples starting at index start
 * into x and, for a conditional flow, their conditions into cond (NULL otherwise; same n)
 * (the caller sets x->n; a new evaluation starts again at 0). */
typedef struct nf_eval_source {
    nf_status (*read)(void *user, long long start, nf_tensor *x, nf_tensor *cond);
    void *user;
    long long count;    /* samples evaluated: indices [0, count) */
    int batch;          /* samples per pass */
    double nll_offset;  /* for bits_per_dim in data units, as nf_bits_per_dim */
} nf_eval_source;

/* Mean loss statistics of f over the source's samples (nf_flow_eval batch by batch, the
 * means weighted by batch size); bits_per_dim through nf_bits_per_dim. */
nf_status nf_flow_eval_source(nf_flow *f, const nf_eval_source *src, nf_loss_stats *st);

/* ---------------------------------------------------------------- the trainer */

/* Steps whose gradient norm the relative clip measures before it limits one. */
#define NF_CLIP_REL_WARMUP 20

/* Steps taken without a rollback after which a halved rate doubles back. */
#define NF_RECOVER_STEPS_DEFAULT 100

typedef struct nf_trainer_config {
    nf_schedule schedule;
    long steps;          /* the run's length: the schedule's span (a process may stop earlier) */
    double weight_decay; /* decoupled (AdamW); 0 = Adam */
    double clip;         /* clip the gradient 2-norm to this; 0 = off (the norm is measured anyway) */
    double clip_rel;     /* clip the gradient 2-norm to clip_rel times its recent typical value (the
                            geometric mean of about the last 100 steps' clipped norms, in force
                            after NF_CLIP_REL_WARMUP steps); 0 = off; with clip too, the smaller
                            limit holds. Needs no tuning per data set: 2.5 limits Fashion-MNIST's
                            norms near the 5e4 of its recipe (docs/stability.md) */
    int max_rollbacks;   /* halvings of the rate in force at once before giving up (a rollback
                            when the rate is already halved this often stops the run); 0 = the
                            first failure stops */
    long recover_steps;  /* after a rollback, the rate doubles back after this many steps taken
                            without one, up to the schedule's [100]; 0 = halved for good */
    int backoff;         /* 1: a rollback within one period of the rate coming back doubles the
                            next period; a full period at the restored rate ends it [0: off,
                            measured worse on Fashion-MNIST, docs/stability.md] */
    double rebuild_tol;  /* nf_flow_gradient's tolerance; < 0 only measures */
    double loss_jump;    /* nf_loss_watch's rise in loss units (nats per sample); 0 = no watch */
    nf_dist *dist;       /* data parallelism (nflow/dist.h): each rank passes its share of every
                            global batch and all take the same step; NULL = one process */
    nf_eval_source validation; /* held-out data; read NULL = none */
    long validate_every; /* validate after every this many taken steps; 0 = only when
                            nf_trainer_validate is called (e.g. at the caller's epoch ends) */
} nf_trainer_config;

/* Constant rate lr over steps, no clipping, no weight decay, 3 rollbacks, the rate back
 * after 100 calm steps, rebuild
 * tolerance NF_REBUILD_TOL_DEFAULT, no loss watch (its rise depends on the data:
 * nf_trainer_loss_jump_bits turns bits/dim into it). */
nf_trainer_config nf_trainer_config_default(long steps, double lr);
/* A rise of `bits` bits per dimension over D dimensions, in loss units. */
double nf_trainer_loss_jump_bits(double bits, size_t D);

/* What a checkpoint must keep of the trainer to continue exactly. */
typedef struct nf_trainer_state {
    long step;          /* optimiser steps taken */
    double lr_scale;    /* 1, halved by each rollback, doubled back after recover_steps calm steps */
    int rollbacks;      /* in all */
    long calm;          /* steps taken since the last rollback or recovery of the rate */
    long period;        /* calm steps the rate needs to double back now: recover_steps, doubled
                           by each rollback within a period of a recovery; 0 = recover_steps */
    int recovered;      /* the last event was a recovery: a rollback before `period` more
                           steps backs off */
    long recomputed;    /* steps whose gradient the rebuild guard recomputed */
    nf_loss_watch watch;
    double clip_level;  /* clip_rel: exponential mean of the log of recent clipped norms */
    long clip_seen;     /* clip_rel: norms averaged so far */
} nf_trainer_state;

typedef enum nf_train_event_kind {
    NF_EVENT_STEP,      /* a step was taken */
    NF_EVENT_RECOMPUTE, /* the rebuild guard recomputed this step's gradient */
    NF_EVENT_ROLLBACK,  /* the step failed; the last good state came back, rate halved */
    NF_EVENT_RECOVER,   /* recover_steps calm steps after a rollback: the rate doubled back */
    NF_EVENT_STOP,      /* the step failed with no rollback left; the run must stop */
    NF_EVENT_VALIDATION /* the flow was evaluated on the validation data (loss) */
} nf_train_event_kind;

typedef struct nf_train_event {
    nf_train_event_kind kind;
    long step;            /* the step it is about (1-based: state.step after a taken step) */
    nf_loss_stats loss;   /* STEP: the batch's; VALIDATION: the validation data's */
    double lr;            /* STEP: the rate used */
    double grad_norm;     /* STEP: before clipping */
    double clip;          /* STEP: the limit in force on grad_norm (INFINITY = none) */
    nf_grad_report grad;  /* STEP, RECOMPUTE */
    long long samples;    /* VALIDATION: samples evaluated (over every rank) */
    const char *message;  /* RECOMPUTE, ROLLBACK, RECOVER, STOP: one line, no newline */
} nf_train_event;

typedef void (*nf_train_callback)(void *user, const nf_train_event *ev);

typedef struct nf_trainer nf_trainer;

/* A trainer for f (which it uses, not owns) with a fresh optimiser. */
nf_status nf_trainer_create(nf_trainer **out, nf_flow *f, const nf_trainer_config *cfg);
/* The same continuing from a checkpoint's optimiser (taken over: opt is emptied) and
 * trainer state. */
nf_status nf_trainer_resume(nf_trainer **out, nf_flow *f, const nf_trainer_config *cfg, nf_adam *opt,
                            const nf_trainer_state *st);
void nf_trainer_set_callback(nf_trainer *t, nf_train_callback cb, void *user);
/* One step on the batch x (and its condition cond for a conditional flow, else NULL). NF_OK when the step was taken or rolled back (*taken, if not
 * NULL, says which; the callback got the event); NF_ERR_NUMERIC when a step failed with
 * no rollback left (the flow then holds the last good parameters, nf_last_error() says
 * why); other errors as nf_flow_gradient. */
nf_status nf_trainer_step(nf_trainer *t, const nf_tensor *x, const nf_tensor *cond, int *taken);
/* Evaluates the flow on cfg.validation now (batch norm in evaluation mode meanwhile),
 * emits NF_EVENT_VALIDATION and puts the statistics in *st (if not NULL). NF_ERR_STATE
 * without validation data; otherwise the source's or nf_flow_eval's failures. With
 * validate_every, nf_trainer_step calls it and returns its failure after a taken step.
 * With a dist of several ranks it is collective: each rank evaluates its own source (its
 * share of the held-out set), the statistics are the means over every rank's samples,
 * and when a rank fails, it returns its failure and the others NF_ERR_STATE naming it. */
nf_status nf_trainer_validate(nf_trainer *t, nf_loss_stats *st);
/* The step after which the last validation ran (-1: none yet), its statistics in *st
 * (if not NULL): lets a caller skip validating the same parameters twice. */
long nf_trainer_last_validation(const nf_trainer *t, nf_loss_stats *st);
const nf_trainer_state *nf_trainer_state_of(const nf_trainer *t);
const nf_adam *nf_trainer_optimizer(const nf_trainer *t);
/* The step the last good parameters precede (after a STOP: what the flow holds now). */
long nf_trainer_good_step(const nf_trainer *t);
void nf_trainer_destroy(nf_trainer *t);

#ifdef __cplusplus
}
#endif

#endif
