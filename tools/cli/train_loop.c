/* The training loop: one step per batch (forward, loss, backward, clipping, Adam),
 * NaN/Inf recovery by rolling back to the last good state, validation at epoch ends,
 * checkpoints, metrics and progress. */
#include "train_internal.h"

#include "cli.h"

#include <math.h>
#include <string.h>

/* One optimiser step. The loss and the gradient norm are checked: NF_ERR_NUMERIC
 * means this step produced NaN/Inf and nothing was updated. */
static nf_status one_step(train_run_state *r, nf_loss_stats *st, double *gnorm) {
    nf_flow *f = r->f;
    int D = (int)nf_shape_sample_count(f->in);
    nf_tensor z = nf_tensor_view(r->z, r->x.n, D, 1, 1, 1), dz = nf_tensor_view(r->dz, r->x.n, D, 1, 1, 1);
    double dlogdet;
    nf_status s = nf_flow_forward(f, &r->x, &z, r->logdet);
    if (s == NF_OK) s = nf_loss_nll(&z, r->logdet, &dz, &dlogdet, st);
    if (s != NF_OK) return s;
    nf_flow_zero_grad(f);
    s = nf_flow_backward(f, &z, &dz, dlogdet, NULL, NULL);
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

/* Testing hook (--debug-nan-at): poisons one parameter after the listed steps. */
static void inject_nan(train_run_state *r) {
    const cli_train_config *c = r->c;
    if (r->next_nan < c->n_nan_at && r->step == c->nan_at[r->next_nan]) {
        r->f->params.value[0] = NAN;
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

int train_checkpoint(train_run_state *r) {
    char path[4200];
    cli_path(path, sizeof path, r->out, "checkpoint.h5");
    nf_train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.epoch = (long)data_epoch(&r->train);
    ts.iteration = r->step;
    /* data_pos: the stream position, then what the CLI itself needs to continue exactly. */
    uint64_t scale_bits;
    memcpy(&scale_bits, &r->lr_scale, sizeof scale_bits);
    ts.data_pos[0] = data_position(&r->train);
    ts.data_pos[1] = scale_bits;
    ts.data_pos[2] = (uint64_t)r->rollbacks;
    ts.data_pos[3] = (uint64_t)r->next_nan;
    ts.ndata_pos = 4;
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
    while (r->step < r->total) {
        long epoch = (long)data_epoch(&r->train) + 1; /* the epoch this batch starts in, 1-based */
        nf_status s = data_next(&r->train, &r->x, &r->rng);
        if (s != NF_OK) return cli_nf_error(s, "train", "reading a batch");
        r->opt.lr = schedule_lr(&c->sched, r->step + 1, r->total) * r->lr_scale;
        if (c->max_rollbacks > 0) snapshot_take(&r->pending, r->f, &r->opt, r->step);
        nf_loss_stats st;
        double gnorm = NAN;
        s = one_step(r, &st, &gnorm);
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
                               cli_now() - r->t0};
        metrics_step(&r->metrics, &rec);
        if (r->step == r->first_step + 1) r->first_bpd = rec.bits_per_dim;
        progress_step(&r->prog, r->step, epoch, st.loss, rec.bits_per_dim, r->x.n);
        if (r->gif_open && r->step % r->gif_every == 0 && (rc = train_gif_frame(r)) != CLI_OK) return rc;
        if (data_epoch(&r->train) > epoch_seen) {
            epoch_seen = data_epoch(&r->train);
            if ((rc = train_validate(r, NULL)) != CLI_OK) return rc;
        }
        if (c->checkpoint_every > 0 && r->step % c->checkpoint_every == 0 && r->step < r->total &&
            (rc = train_checkpoint(r)) != CLI_OK)
            return rc;
    }
    progress_finish(&r->prog);
    return CLI_OK;
}
