/* The training loop over nf_trainer (one step per batch: gradient, clipping, Adam,
 * rollbacks; validation on request): the batches, validation at epoch ends,
 * checkpoints, metrics and progress. */
#include "train_internal.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The trainer's events: metrics rows and progress for steps; recomputes (the first few
 * on stderr, all in the JSON), rollbacks and the stop on stderr and in the JSON. */
static void on_event(void *user, const nf_train_event *ev) {
    train_run_state *r = user;
    enum { SHOWN = 5 };
    switch (ev->kind) {
    case NF_EVENT_STEP: {
        size_t D = nf_shape_sample_count(r->f->in);
        double bpd = data_bits_per_dim(ev->loss.loss, D, r->train.nll_offset);
        double now = cli_now();
        cli_step_record rec = {.step = ev->step, .epoch = r->epoch, .loss = ev->loss.loss,
                               .half_sq = ev->loss.half_sq, .logdet = ev->loss.logdet, .bits_per_dim = bpd,
                               .lr = ev->lr, .grad_norm = ev->grad_norm, .time_s = now - r->t0,
                               .rebuild_error = ev->grad.rebuild_error, .recomputed = ev->grad.recomputed,
                               .clip = ev->clip, .eval_s = r->eval_s};
        metrics_step(&r->metrics, &rec);
        r->eval_from = now; /* a validation the trainer runs after this step (--val-every) starts now */
        r->rebuild[ev->step - r->first_step - 1] = ev->grad.rebuild_error;
        r->last_loss = ev->loss.loss;
        if (ev->step == r->first_step + 1) r->first_bpd = bpd;
        progress_step(&r->prog, ev->step, r->epoch, ev->loss.loss, bpd, r->x.n);
        break;
    }
    case NF_EVENT_RECOMPUTE: {
        long n = nf_trainer_state_of(r->trainer)->recomputed;
        if (ev->grad.recompute_bytes > r->recompute_bytes) r->recompute_bytes = ev->grad.recompute_bytes;
        metrics_event(&r->metrics, ev->step, "recompute", ev->message);
        if (n - r->recomputed_before <= SHOWN) progress_note(&r->prog, "%s", ev->message);
        if (n - r->recomputed_before == SHOWN)
            progress_note(&r->prog, "(further recomputed steps are counted in metrics.csv and the summary)");
        break;
    }
    case NF_EVENT_ROLLBACK:
    case NF_EVENT_RECOVER:
        progress_note(&r->prog, "%s", ev->message);
        metrics_event(&r->metrics, ev->step, ev->kind == NF_EVENT_ROLLBACK ? "rollback" : "recover", ev->message);
        break;
    case NF_EVENT_STOP:
        progress_finish(&r->prog);
        metrics_event(&r->metrics, ev->step, "stop", ev->message);
        break;
    case NF_EVENT_VALIDATION: {
        long epoch = data_epoch(&r->train);
        double epochs = (double)data_position(&r->train) / (double)r->train.size; /* passes so far */
        progress_print(&r->prog, "validation after step %ld (%.3g epochs): objective %.4f  bits/dim %.4f\n",
                       ev->step, epochs, ev->loss.loss, ev->loss.bits_per_dim);
        r->eval_s += cli_now() - r->eval_from;
        metrics_val(&r->metrics, ev->step, epoch, ev->loss.loss, ev->loss.bits_per_dim, r->eval_s);
        r->val_samples = ev->samples;
        break;
    }
    }
}

/* After the trainer gave up: keep the last good parameters (which the flow holds now). */
static int stopped(train_run_state *r) {
    char path[4200], msg[1024];
    snprintf(msg, sizeof msg, "%s", nf_last_error());
    long good = nf_trainer_good_step(r->trainer);
    if (good >= 0 && r->ranks.rank == 0) {
        cli_path(path, sizeof path, r->out, "model_last_good.h5");
        if (nf_model_save(r->f, path) == NF_OK)
            fprintf(stderr, "nflow train: the last good parameters (before step %ld) are in %s\n", good + 1, path);
    }
    return cli_error(CLI_NUMERIC, "train", "%s", msg);
}

/* --rebuild-profile: each layer's rebuild error on this step's batch, into metrics.jsonl. */
static int rebuild_profile(train_run_state *r) {
    nf_flow *f = r->f;
    double *err = malloc(sizeof(double) * (size_t)f->nlayers);
    const char **kind = malloc(sizeof(char *) * (size_t)f->nlayers);
    nf_status s = err && kind ? nf_flow_rebuild_profile(f, &r->x, r->cond, err) : NF_ERR_NOMEM;
    if (s == NF_OK) {
        for (int i = 0; i < f->nlayers; i++) kind[i] = f->layers[i]->ops->name;
        metrics_profile(&r->metrics, r->step, kind, err, f->nlayers);
    }
    free(err);
    free(kind);
    return s == NF_OK ? CLI_OK : cli_nf_error(s, "train", "--rebuild-profile");
}

/* Testing hook (--debug-nan-at): poisons one parameter after the listed steps, with
 * NaN or (--debug-jump) with a shift of 10 that leaves the loss finite but far higher. */
static void inject_nan(train_run_state *r) {
    const cli_train_config *c = r->c;
    if (r->next_nan < c->n_nan_at && r->step == c->nan_at[r->next_nan]) {
        nf_real *p = &r->f->params.value[0];
        *p = c->poison_jump ? *p + 10 : NAN;
        r->next_nan++;
    }
}

void train_eval_mode(train_run_state *r, int on) {
    if (nf_flow_is_sequential(r->f)) nf_sequential_set_training(r->f, !on);
}

int train_validate(train_run_state *r, nf_loss_stats *st) {
    if (!r->have_val) return CLI_OK;
    r->eval_from = cli_now();
    nf_status s = nf_trainer_validate(r->trainer, st); /* over every rank; the event prints and records it */
    return s == NF_OK ? CLI_OK : cli_nf_error(s, "train", "validation");
}

/* data_pos: the stream position and the next --debug-nan-at index (the trainer's own
 * state is named in the checkpoint). Checkpoints of older versions kept the trainer's
 * state in data_pos too: the rate scale, rollbacks, (8 words) the loss watch and the
 * recomputed steps. */
static double bits_double(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

void train_state_get(train_run_state *r, nf_train_state *ts) {
    r->step = ts->iteration;
    if (ts->has_trainer) {
        r->next_nan = (long)ts->data_pos[1];
        return;
    }
    nf_trainer_state *t = &ts->trainer;
    t->step = ts->iteration;
    t->lr_scale = bits_double(ts->data_pos[1]);
    t->rollbacks = (int)ts->data_pos[2];
    r->next_nan = (long)ts->data_pos[3];
    if (ts->ndata_pos >= 8) {
        t->watch.level = bits_double(ts->data_pos[4]);
        t->watch.spread = bits_double(ts->data_pos[5]);
        t->watch.seen = (long)ts->data_pos[6];
        t->recomputed = (long)ts->data_pos[7];
    }
    ts->has_trainer = 1;
}

int train_checkpoint(train_run_state *r) {
    if (r->ranks.rank > 0) return CLI_OK; /* rank 0 writes; every rank's position follows from its */
    char path[4200];
    cli_path(path, sizeof path, r->out, "checkpoint.h5");
    nf_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.epoch = (long)data_epoch(&r->train);
    ts.iteration = r->step;
    ts.data_pos[0] = data_position(&r->train);
    ts.data_pos[1] = (uint64_t)r->next_nan;
    ts.ndata_pos = 2;
    if (r->ranks.size > 1) ts.data_pos[ts.ndata_pos++] = (uint64_t)r->ranks.size; /* resumable under as many */
    ts.rng = r->rng;
    ts.has_trainer = 1;
    ts.trainer = *nf_trainer_state_of(r->trainer);
    nf_status s = nf_checkpoint_save(r->f, nf_trainer_optimizer(r->trainer), &ts, path);
    if (s != NF_OK) /* a failed write is a runtime failure, not a data error */
        return cli_error(s == NF_ERR_IO || s == NF_ERR_WRITE ? CLI_RUNTIME : cli_exit_code(s), "train",
                         "writing %s: %s", path, nf_last_error());
    return CLI_OK;
}

/* Ranks > 1: each batch's dequantisation noise from (seed, rank, batch number), so a
 * resumed run (which knows the batch number from the data position) draws the same. */
void train_rank_rng(train_run_state *r) {
    uint64_t batch = data_position(&r->train) / (uint64_t)r->x.n;
    nf_rng_seed(&r->rng, r->c->seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)r->ranks.rank << 40) ^ batch);
}

int train_loop(train_run_state *r) {
    const cli_train_config *c = r->c;
    long epoch_seen = data_epoch(&r->train);
    int rc = CLI_OK;
    nf_trainer_set_callback(r->trainer, on_event, r);
    while (r->step < r->stop) {
        r->epoch = (long)data_epoch(&r->train) + 1; /* the epoch this batch starts in, 1-based */
        if (r->ranks.size > 1) train_rank_rng(r);
        nf_status s = data_next(&r->train, &r->x, r->cond, &r->rng);
        rc = s == NF_OK ? CLI_OK : cli_nf_error(s, "train", "reading a batch");
        if (rc == CLI_OK && cli_ranks_debug_fail(&r->ranks, r->step + 1))
            rc = cli_error(CLI_DATA, "train", "reading a batch: NFLOW_DEBUG_FAIL made step %ld's read fail", r->step + 1);
        if ((rc = cli_ranks_agree(&r->ranks, "train", rc)) != CLI_OK) return rc; /* before the collective step */
        int taken;
        s = nf_trainer_step(r->trainer, &r->x, r->cond, &taken);
        if (s == NF_ERR_NUMERIC) return stopped(r);
        if (s != NF_OK) return cli_nf_error(s, "train", "training step");
        if (!taken) continue;
        r->step = nf_trainer_state_of(r->trainer)->step;
        if ((rc = train_dump_batch(r)) != CLI_OK) return rc;
        inject_nan(r);
        int lead = r->ranks.rank == 0;
        if (lead && c->rebuild_profile > 0 && r->step % c->rebuild_profile == 0) rc = rebuild_profile(r);
        if (rc == CLI_OK && r->gif_open && r->step % r->gif_every == 0) rc = train_gif_frame(r);
        if (r->ranks.size > 1 && (rc = cli_ranks_agree(&r->ranks, "train", rc)) != CLI_OK) return rc;
        if (rc != CLI_OK) return rc;
        if (data_epoch(&r->train) > epoch_seen) {
            epoch_seen = data_epoch(&r->train);
            /* unless --val-every has just validated these parameters */
            if (nf_trainer_last_validation(r->trainer, NULL) != r->step && (rc = train_validate(r, NULL)) != CLI_OK)
                return rc;
        }
        if (c->checkpoint_every > 0 && r->step % c->checkpoint_every == 0 && r->step < r->stop &&
            (rc = cli_ranks_agree(&r->ranks, "train", train_checkpoint(r))) != CLI_OK)
            return rc;
    }
    progress_finish(&r->prog);
    return CLI_OK;
}
