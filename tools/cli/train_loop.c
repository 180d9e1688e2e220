/* The training loop: one step per batch (forward, loss, backward, clipping, Adam),
 * NaN/Inf recovery by rolling back to the last good state, validation at epoch ends,
 * checkpoints, metrics and progress. */
#include "train_internal.h"

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Says that a step's gradient was recomputed: the first few on stderr, all in the JSON. */
static void note_recompute(train_run_state *r, long step, const nf_grad_report *g) {
    char msg[512], where[160] = "";
    if (g->worst_layer >= 0)
        snprintf(where, sizeof where, "; layer %d (%s) amplified the error most, %.3gx", g->worst_layer,
                 r->f->layers[g->worst_layer]->ops->name, g->worst_gain);
    snprintf(msg, sizeof msg,
             "step %ld: the batch rebuilt by the backward was off by %.3g (tolerance %g); gradient recomputed from "
             "stored inputs (%.1f MiB)%s",
             step, g->rebuild_error, r->c->rebuild_tol, (double)g->recompute_bytes / (1 << 20), where);
    metrics_event(&r->metrics, step, "recompute", msg);
    enum { SHOWN = 5 };
    if (r->recomputed <= SHOWN) progress_note(&r->prog, "%s", msg);
    if (r->recomputed == SHOWN)
        progress_note(&r->prog, "(further recomputed steps are counted in metrics.csv and the summary)");
}

/* --rebuild-profile: each layer's rebuild error on this step's batch, into metrics.jsonl. */
static int rebuild_profile(train_run_state *r) {
    nf_flow *f = r->f;
    double *err = malloc(sizeof(double) * (size_t)f->nlayers);
    const char **kind = malloc(sizeof(char *) * (size_t)f->nlayers);
    nf_status s = err && kind ? nf_flow_rebuild_profile(f, &r->x, err) : NF_ERR_NOMEM;
    if (s == NF_OK) {
        for (int i = 0; i < f->nlayers; i++) kind[i] = f->layers[i]->ops->name;
        metrics_profile(&r->metrics, r->step, kind, err, f->nlayers);
    }
    free(err);
    free(kind);
    return s == NF_OK ? CLI_OK : cli_nf_error(s, "train", "--rebuild-profile");
}

/* One optimiser step: the gradient with the rebuild guard, the loss-jump watch, the
 * norm, Adam. NF_ERR_NUMERIC means the step produced NaN/Inf or an exploded loss and
 * nothing was updated. */
static nf_status one_step(train_run_state *r, nf_loss_stats *st, double *gnorm, nf_grad_report *g) {
    nf_flow *f = r->f;
    nf_status s = nf_flow_gradient(f, &r->x, r->c->rebuild_tol, st, g);
    if (s == NF_OK && r->c->loss_jump > 0) s = nf_loss_watch_step(&r->watch, st->loss);
    /* The norm is always measured (it goes to the metrics); clipping only with --clip. */
    if (s == NF_OK) s = nf_clip_grad_norm(&f->params, r->c->clip > 0 ? r->c->clip : HUGE_VAL, gnorm);
    if (s == NF_OK) s = nf_adam_step(&r->opt, &f->params);
    return s;
}

/* After a non-finite step: restore the last good state and halve the learning rate,
 * or stop when the rollbacks are used up. */
static int rollback(train_run_state *r, long step) {
    const cli_train_config *c = r->c;
    char msg[512];
    const char *why = nf_last_error();
    if (c->max_rollbacks <= 0 || !r->good.valid || r->rollbacks >= c->max_rollbacks) {
        progress_finish(&r->prog);
        if (r->good.valid) {
            char path[4200];
            snapshot_restore(&r->good, r->f, &r->opt);
            cli_path(path, sizeof path, r->out, "model_last_good.h5");
            if (nf_model_save(r->f, path) == NF_OK)
                fprintf(stderr, "nflow train: the last good parameters (before step %ld) are in %s\n",
                        r->good.step + 1, path);
        }
        snprintf(msg, sizeof msg, "step %ld: %s; stopping after %d rollback%s (try a lower --lr or --clip)", step,
                 why, r->rollbacks, r->rollbacks == 1 ? "" : "s");
        metrics_event(&r->metrics, step, "stop", msg);
        return cli_error(CLI_NUMERIC, "train", "%s", msg);
    }
    snapshot_restore(&r->good, r->f, &r->opt);
    r->rollbacks++;
    r->lr_scale *= 0.5;
    snprintf(msg, sizeof msg,
             "step %ld: %s; rolled back to the state before step %ld and halved the learning rate "
             "(now x%g of the schedule; rollback %d of %d)",
             step, why, r->good.step + 1, r->lr_scale, r->rollbacks, c->max_rollbacks);
    progress_note(&r->prog, "%s", msg);
    metrics_event(&r->metrics, step, "rollback", msg);
    /* The step counter keeps counting batches (metrics stay monotonic); the parameters
     * and Adam's own step count are those before step good.step + 1 again. */
    r->pending.valid = 0;
    return CLI_OK;
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
    if (nf_flow_is_model(r->f)) nf_model_set_training(r->f, !on);
}

int train_validate(train_run_state *r, nf_loss_stats *st) {
    nf_loss_stats tmp;
    if (!st) st = &tmp;
    if (!r->have_val) return CLI_OK;
    train_eval_mode(r, 1);
    nf_status s = data_evaluate(r->f, &r->val, r->c->batch, r->c->val_size, st);
    train_eval_mode(r, 0);
    if (s != NF_OK) return cli_nf_error(s, "train", "validation");
    long epoch = data_epoch(&r->train);
    double epochs = (double)data_position(&r->train) / (double)r->train.size; /* passes so far */
    r->val_step = r->step;
    r->last_val = *st;
    progress_print(&r->prog, "validation after step %ld (%.3g epochs): objective %.4f  bits/dim %.4f\n", r->step,
                   epochs, st->loss, st->bits_per_dim);
    metrics_val(&r->metrics, r->step, epoch, st->loss, st->bits_per_dim);
    return CLI_OK;
}

/* data_pos: the stream position, then what the CLI itself needs to continue exactly:
 * the rate scale, rollbacks, the next NaN injection, the loss watch, the recomputed
 * steps. Checkpoints of older versions have the first four only. */
static uint64_t double_bits(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}
static double bits_double(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

void train_state_get(train_run_state *r, const nf_train_state *ts) {
    r->lr_scale = bits_double(ts->data_pos[1]);
    r->rollbacks = (int)ts->data_pos[2];
    r->next_nan = (long)ts->data_pos[3];
    if (ts->ndata_pos < TRAIN_STATE_WORDS) return;
    r->watch.level = bits_double(ts->data_pos[4]);
    r->watch.spread = bits_double(ts->data_pos[5]);
    r->watch.seen = (long)ts->data_pos[6];
    r->recomputed = (long)ts->data_pos[7];
}

int train_checkpoint(train_run_state *r) {
    char path[4200];
    cli_path(path, sizeof path, r->out, "checkpoint.h5");
    nf_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.epoch = (long)data_epoch(&r->train);
    ts.iteration = r->step;
    uint64_t words[TRAIN_STATE_WORDS] = {data_position(&r->train), double_bits(r->lr_scale), (uint64_t)r->rollbacks,
                                         (uint64_t)r->next_nan,         double_bits(r->watch.level),
                                         double_bits(r->watch.spread),  (uint64_t)r->watch.seen,
                                         (uint64_t)r->recomputed};
    memcpy(ts.data_pos, words, sizeof words);
    ts.ndata_pos = TRAIN_STATE_WORDS;
    ts.rng = r->rng;
    nf_status s = nf_checkpoint_save(r->f, &r->opt, &ts, path);
    if (s != NF_OK) /* a failed write is a runtime failure, not a data error */
        return cli_error(s == NF_ERR_IO ? CLI_RUNTIME : cli_exit_code(s), "train", "writing %s: %s", path,
                         nf_last_error());
    return CLI_OK;
}

int train_loop(train_run_state *r) {
    const cli_train_config *c = r->c;
    size_t D = nf_shape_sample_count(r->f->in);
    long epoch_seen = data_epoch(&r->train);
    int rc;
    while (r->step < r->stop) {
        long epoch = (long)data_epoch(&r->train) + 1; /* the epoch this batch starts in, 1-based */
        nf_status s = data_next(&r->train, &r->x, &r->rng);
        if (s != NF_OK) return cli_nf_error(s, "train", "reading a batch");
        r->opt.lr = schedule_lr(&c->sched, r->step + 1, r->total) * r->lr_scale;
        if (c->max_rollbacks > 0) snapshot_take(&r->pending, r->f, &r->opt, r->step);
        nf_loss_stats st;
        nf_grad_report g;
        double gnorm = NAN;
        s = one_step(r, &st, &gnorm, &g);
        if (g.recomputed) {
            r->recomputed++;
            if (g.recompute_bytes > r->recompute_bytes) r->recompute_bytes = g.recompute_bytes;
            note_recompute(r, r->step + 1, &g);
        }
        if (s == NF_ERR_NUMERIC) {
            if ((rc = rollback(r, r->step + 1)) != CLI_OK) return rc;
            continue;
        }
        if (s != NF_OK) return cli_nf_error(s, "train", "training step");
        r->step++;
        if (c->max_rollbacks > 0) snapshot_swap(&r->good, &r->pending);
        inject_nan(r);
        r->last_loss = st.loss;

        cli_step_record rec = {r->step, epoch, st.loss, st.half_sq, st.logdet,
                               data_bits_per_dim(st.loss, D, r->train.nll_offset), r->opt.lr, gnorm,
                               cli_now() - r->t0, g.rebuild_error, g.recomputed};
        r->rebuild[r->step - r->first_step - 1] = g.rebuild_error;
        metrics_step(&r->metrics, &rec);
        if (r->step == r->first_step + 1) r->first_bpd = rec.bits_per_dim;
        progress_step(&r->prog, r->step, epoch, st.loss, rec.bits_per_dim, r->x.n);
        if (c->rebuild_profile > 0 && r->step % c->rebuild_profile == 0 && (rc = rebuild_profile(r)) != CLI_OK)
            return rc;
        if (r->gif_open && r->step % r->gif_every == 0 && (rc = train_gif_frame(r)) != CLI_OK) return rc;
        if (data_epoch(&r->train) > epoch_seen) {
            epoch_seen = data_epoch(&r->train);
            if ((rc = train_validate(r, NULL)) != CLI_OK) return rc;
        }
        if (c->checkpoint_every > 0 && r->step % c->checkpoint_every == 0 && r->step < r->stop &&
            (rc = train_checkpoint(r)) != CLI_OK)
            return rc;
    }
    progress_finish(&r->prog);
    return CLI_OK;
}
