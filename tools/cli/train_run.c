/* A training run from start to end: data, model (new or resumed from a checkpoint),
 * buffers, the loop, then validation, model file, checkpoint and pictures. */
#include "train_internal.h"

#include "cli.h"
#include "run_lock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void train_config_default(cli_train_config *c) {
    memset(c, 0, sizeof *c);
    c->glow = nf_glow_config_default(1, 1, 1);
    c->train_size = 60000;
    c->val_size = 10000;
    c->val_split = 0.05;
    c->batch = 64;
    c->normalize = NF_NORM_AUTO;
    c->sched = (nf_schedule){NF_SCHEDULE_CONSTANT, 1e-3, 0.0, 0, 0, 0.5};
    c->epochs = 1;
    c->seed = 1;
    c->max_rollbacks = 3;
    c->recover_steps = NF_RECOVER_STEPS_DEFAULT;
    c->mpi_bucket = (long)NF_DIST_BUCKET_DEFAULT;
    c->rebuild_tol = NF_REBUILD_TOL_DEFAULT;
    c->loss_jump = 3.0;
    c->plots = 1;
    c->show_tty = -1;
}

/* Validation data: fresh toy samples, the whole of --val, or [start, start + count) of
 * the training file (count 0: none). */
static int open_val(train_run_state *r, const cli_data_options *o, long long start, long long count) {
    const cli_train_config *c = r->c;
    if ((c->val && strcmp(c->val, "none") == 0) || (!c->val && !r->train.toy && count == 0)) return CLI_OK;
    cli_data_options v = *o;
    v.shuffle = 0;
    v.limit = c->val_size; /* ranks share the samples that one process would evaluate */
    const char *spec = c->val ? c->val : c->data;
    v.quiet_layout = !strcmp(spec, c->data);
    if (data_spec_is_toy(spec)) {
        v.toy_size = c->val_size;
        v.seed = c->seed ^ 0xA5A5A5A5A5A5A5A5ull; /* samples the training set never saw */
    } else {
        v.start = start, v.count = count;
        /* Statistics computed on the training range must normalise the validation data
         * too (stored ones are the same attributes anyway). */
        if (c->normalize == NF_NORM_COMPUTE) {
            r->val_mean = malloc(sizeof(double) * (size_t)r->train.shape.c);
            r->val_std = malloc(sizeof(double) * (size_t)r->train.shape.c);
            if (!r->val_mean || !r->val_std) return cli_error(CLI_RUNTIME, "train", "out of memory");
            nf_status st = nf_dataset_stats(r->train.ds, r->val_mean, r->val_std);
            if (st != NF_OK) return cli_nf_error(st, "train", "training statistics");
            v.normalize = NF_NORM_GIVEN;
            v.mean = r->val_mean, v.std = r->val_std;
        }
    }
    int rc = data_open(&r->val, "train", spec, &v);
    if (rc != CLI_OK) return rc;
    r->have_val = 1;
    nf_shape a = r->train.shape, b = r->val.shape;
    if (a.c != b.c || a.d != b.d || a.h != b.h || a.w != b.w)
        return cli_error(CLI_DATA, "train", "validation samples are %dx%dx%dx%d but training samples are %dx%dx%dx%d",
                         b.c, b.d, b.h, b.w, a.c, a.d, a.h, a.w);
    return CLI_OK;
}

/* Ranks > 1: reopens r->train (the whole training range, opened as o with ranks = 1) as
 * this rank's share; statistics computed over the range (--normalize compute) are the
 * whole range's, given to the share. */
static int open_share(train_run_state *r, cli_data_options *o) {
    if (r->c->normalize == NF_NORM_COMPUTE && !r->train.toy) {
        int C = r->train.shape.c;
        r->train_mean = malloc(sizeof(double) * (size_t)C);
        r->train_std = malloc(sizeof(double) * (size_t)C);
        if (!r->train_mean || !r->train_std) return cli_error(CLI_RUNTIME, "train", "out of memory");
        nf_status st = nf_dataset_stats(r->train.ds, r->train_mean, r->train_std);
        if (st != NF_OK) return cli_nf_error(st, "train", "training statistics");
        o->normalize = NF_NORM_GIVEN;
        o->mean = r->train_mean, o->std = r->train_std;
    }
    data_close(&r->train);
    return data_open(&r->train, "train", r->c->data, o);
}

static int open_data(train_run_state *r) {
    const cli_train_config *c = r->c;
    cli_data_options o = {.batch = c->batch, .seed = c->seed, .toy_size = c->train_size, .shuffle = 1,
                          .dequantize = 1, .normalize = (nf_norm_mode)c->normalize, .layout = (nf_layout)c->layout,
                          .ranks = 1, .cond = c->cond};
    int rc = data_open(&r->train, "train", c->data, &o);
    o.quiet_layout = 1; /* the split and the validation range of the same file: said once */
    long long n = r->train.size, k = 0;
    if (rc == CLI_OK && !r->train.toy && !c->val) {
        /* Hold out the end of the file: reopen the training range without it. */
        k = (long long)floor(c->val_split * (double)n);
        if (k >= 1 && k < n) {
            data_close(&r->train);
            o.count = n - k;
            rc = data_open(&r->train, "train", c->data, &o);
        } else {
            k = 0; /* too small to split */
        }
    }
    r->train_samples = r->train.size; /* the whole training range, whatever the ranks */
    o.rank = r->ranks.rank, o.ranks = r->ranks.size;
    if (rc == CLI_OK && r->ranks.size > 1) rc = open_share(r, &o);
    if (rc == CLI_OK) rc = c->val ? open_val(r, &o, 0, 0) : open_val(r, &o, n - k, k);
    return rc;
}

static int build_model(train_run_state *r) {
    const cli_train_config *c = r->c;
    nf_shape s = r->train.shape;
    if (c->resume) {
        nf_train_state *ts = &r->resume;
        nf_status st = nf_checkpoint_load(&r->f, &r->resume_opt, ts, c->resume);
        if (st != NF_OK) return cli_nf_error(st, "train", c->resume);
        int rc = cli_check_shape("train", r->f, s, c->data);
        if (rc == CLI_OK) rc = cli_check_cond("train", r->f, r->train.cond_shape, c->cond);
        if (rc != CLI_OK) return rc;
        if (ts->has_trainer ? ts->ndata_pos != 2 && ts->ndata_pos != 3 : ts->ndata_pos != 4 && ts->ndata_pos != 8)
            return cli_error(CLI_DATA, "train", "%s was not written by nflow train (no data position)", c->resume);
        int ranks = ts->has_trainer && ts->ndata_pos == 3 ? (int)ts->data_pos[2] : 1;
        if (ranks != r->ranks.size)
            return cli_error(CLI_USAGE, "train",
                             "%s was written by a run of %d rank%s and this one has %d: each rank's share of the data "
                             "and of every batch depends on the number of ranks, so resume with as many",
                             c->resume, ranks, ranks == 1 ? "" : "s", r->ranks.size);
        train_state_get(r, ts);
        r->rng = ts->rng;
        /* data_pos[0] is rank 0's position: every rank has read as many batches */
        long long lo0, hi0;
        cli_ranks_share(c->batch, 0, r->ranks.size, &lo0, &hi0);
        uint64_t pos = r->ranks.size > 1 ? ts->data_pos[0] / (uint64_t)(hi0 - lo0) * (uint64_t)r->train.shape.n
                                          : ts->data_pos[0];
        if ((st = data_seek(&r->train, pos)) != NF_OK) return cli_nf_error(st, "train", "resuming the data");
        return CLI_OK;
    }
    nf_status st;
    if (c->spec) {
        nf_shape one = {1, s.c, s.d, s.h, s.w}, y = r->train.cond_shape;
        if (y.n) y.n = 1;
        if ((st = nf_sequential_from_spec_cond(&r->f, one, y, c->spec, c->seed)) != NF_OK)
            return cli_error(st == NF_ERR_NOMEM ? CLI_RUNTIME : CLI_USAGE, "train", "--spec: %s", nf_last_error());
    } else {
        nf_glow_config g = c->glow;
        g.channels = s.c, g.volume_depth = s.d, g.height = s.h, g.width = s.w;
        g.seed = c->seed;
        nf_shape y = r->train.cond_shape;
        if (y.n && (y.d != s.d || y.h != s.h || y.w != s.w))
            return cli_error(CLI_DATA, "train", "%s: conditions of %dx%dx%dx%d (c x d x h x w) but conditional Glow needs "
                             "x's spatial size, %dx%dx%d (or --flow sequential)", c->cond, y.c, y.d, y.h, y.w, s.d,
                             s.h, s.w);
        g.cond_channels = y.n ? y.c : 0;
        /* volumes are the data's doing (exit 3); other refusals come from the flags */
        if ((st = nf_glow_config_check(&g)) != NF_OK && s.d > 1)
            return cli_error(CLI_DATA, "train", "%s: %s", c->data, nf_last_error());
        if (st != NF_OK) return cli_error(CLI_USAGE, "train", "%s", nf_last_error());
        if ((st = nf_glow_create(&r->f, &g)) != NF_OK) return cli_nf_error(st, "train", "building the flow");
    }
    nf_rng_seed(&r->rng, c->seed ^ 0x5EED);
    return CLI_OK;
}

/* The trainer over the run's total steps: fresh, or with a checkpoint's optimiser and state. */
static int make_trainer(train_run_state *r) {
    const cli_train_config *c = r->c;
    nf_trainer_config tc = nf_trainer_config_default(r->total, c->sched.lr);
    tc.schedule = c->sched;
    tc.weight_decay = c->weight_decay;
    tc.clip = c->clip;
    tc.clip_rel = c->clip_rel;
    tc.max_rollbacks = c->max_rollbacks;
    tc.recover_steps = c->recover_steps;
    tc.backoff = c->backoff;
    tc.rebuild_tol = c->rebuild_tol;
    tc.loss_jump = c->loss_jump > 0 ? nf_trainer_loss_jump_bits(c->loss_jump, nf_shape_sample_count(r->train.shape)) : 0;
    tc.dist = r->ranks.dist;
    nf_dist_set_bucket(r->ranks.dist, (size_t)c->mpi_bucket);
    if (r->have_val) /* at epoch ends; ranks: each evaluates its share of the held-out set */
        tc.validation = data_eval_source(&r->val, c->batch, r->ranks.size > 1 ? 0 : c->val_size);
    if (c->val_every > 0 && !r->have_val)
        return cli_error(CLI_USAGE, "train", "--val-every %ld needs validation data (not --val none)", c->val_every);
    tc.validate_every = c->val_every;
    nf_status s = c->resume ? nf_trainer_resume(&r->trainer, r->f, &tc, &r->resume_opt, &r->resume.trainer)
                            : nf_trainer_create(&r->trainer, r->f, &tc);
    if (s != NF_OK) return cli_nf_error(s, "train", "setting up the trainer");
    r->recomputed_before = nf_trainer_state_of(r->trainer)->recomputed;
    return CLI_OK;
}

/* The debugging mode that keeps every layer's input (nf_flow_set_store_activations). */
static int store_mode(train_run_state *r) {
    if (!r->c->store_activations) return CLI_OK;
    nf_status st = nf_flow_set_store_activations(r->f, 1);
    return st == NF_OK ? CLI_OK : cli_nf_error(st, "train", "--store-activations");
}

static int alloc_buffers(train_run_state *r) {
    nf_shape s = r->train.shape;
    long left = r->stop > r->first_step ? r->stop - r->first_step : 0;
    r->rebuild = malloc(sizeof(double) * (size_t)(left + 1));
    nf_shape y = r->train.cond_shape;
    if (!r->rebuild || nf_tensor_alloc(&r->x, s.n, s.c, s.d, s.h, s.w) != NF_OK ||
        (y.n && nf_tensor_alloc(&r->y, y.n, y.c, y.d, y.h, y.w) != NF_OK))
        return cli_error(CLI_RUNTIME, "train", "out of memory for a batch of %d", s.n);
    r->cond = y.n ? &r->y : NULL;
    return CLI_OK;
}

static void banner(const train_run_state *r) {
    const cli_train_config *c = r->c;
    const nf_glow_config *g = nf_glow_get_config(r->f);
    nf_shape s = r->train.shape;
    char coupling[64];
    if (g)
        printf("nflow train: glow L=%d K=%d hidden %d, %s, %s, %s; %zu parameters\n", g->levels, g->steps, g->hidden,
               cli_coupling_text(g, coupling, sizeof coupling),
               !g->multiscale ? "no squeeze" : g->squeeze == NF_SQUEEZE_HAAR ? "haar squeeze" : "space squeeze",
               cli_prior_text(g), nf_flow_num_params(r->f));
    else if (nf_flow_is_sequential(r->f))
        printf("nflow train: sequential model %s; %zu parameters\n",
               nf_sequential_spec(r->f) ? nf_sequential_spec(r->f) : "", nf_flow_num_params(r->f));
    if (c->cond)
        printf("nflow train: condition %s: %dx%dx%dx%d per sample\n", c->cond, r->train.cond_shape.c,
               r->train.cond_shape.d, r->train.cond_shape.h, r->train.cond_shape.w);
    printf("nflow train: data %s: %lld samples of %dx%dx%dx%d, batch %d; validation: %s\n", c->data, r->train_samples,
           s.c, s.d, s.h, s.w, c->batch, r->have_val ? (c->val ? c->val : data_spec_is_toy(c->data) ? "fresh samples" : "held-out end") : "none");
    if (r->first_step > 0) printf("nflow train: resuming %s at step %ld of %ld\n", c->resume, r->first_step, r->total);
    else {
        double epochs = (double)r->total * c->batch / (double)r->train_samples;
        printf("nflow train: %ld steps (%.3g epoch%s), output in %s\n", r->total, epochs, epochs == 1 ? "" : "s",
               r->out);
    }
    if (r->stop < r->total) printf("nflow train: this process stops after step %ld (--stop-after)\n", r->stop);
    if (r->ranks.size > 1)
        printf("nflow train: %d MPI ranks of %d thread%s, each reading its share of the data and about %d samples "
               "of every batch\n",
               r->ranks.size, nf_get_threads(), nf_get_threads() == 1 ? "" : "s", s.n);
    fflush(stdout);
}

/* Ascending, NaN last (a NaN rebuild whose recomputed step was fine). */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

/* The rebuild error over this process's steps, and what the guard recomputed. */
static void rebuild_summary(train_run_state *r) {
    long n = r->step - r->first_step;
    if (n <= 0) return;
    qsort(r->rebuild, (size_t)n, sizeof *r->rebuild, cmp_double);
    long k = nf_trainer_state_of(r->trainer)->recomputed;
    printf("rebuild error over %ld steps: median %.3g, max %.3g; %ld step%s recomputed from stored inputs in all", n,
           r->rebuild[n / 2], r->rebuild[n - 1], k, k == 1 ? "" : "s");
    if (k > r->recomputed_before) printf(" (at most %.1f MiB extra)", (double)r->recompute_bytes / (1 << 20));
    printf("\n");
}

/* Ranks > 1: the time rank 0 spent in MPI (summing gradients, agreeing, and waiting
 * for the slowest rank). */
static void mpi_summary(const train_run_state *r) {
    long n = r->step - r->first_step;
    if (r->ranks.size <= 1 || n <= 0) return;
    double mpi = nf_dist_seconds(r->ranks.dist), all = cli_now() - r->t0;
    double exposed = nf_dist_exposed_seconds(r->ranks.dist);
    printf("MPI: %d ranks; rank 0 spent %.1f ms per step in MPI calls (%.1f%% of the run); %.1f ms of it waiting for "
           "gradient sums after the backward (overlap %s)\n",
           r->ranks.size, 1e3 * mpi / (double)n, all > 0 ? 100 * mpi / all : 0, 1e3 * exposed / (double)n,
           r->c->mpi_bucket > 0 ? "on" : "off, --mpi-bucket 0");
}

/* Validation, model, checkpoint and pictures at the end. */
static int finish(train_run_state *r, cli_train_result *res) {
    const cli_train_config *c = r->c;
    char path[4200];
    nf_loss_stats val;
    int rc = CLI_OK;
    if (r->have_val) {
        if (nf_trainer_last_validation(r->trainer, &val) != r->step) /* unless the last step ended an epoch */
            if ((rc = train_validate(r, &val)) != CLI_OK) return rc;
        printf("held-out objective on %lld samples: %.4f (bits/dim %.4f)\n", r->val_samples, val.loss,
               val.bits_per_dim);
        if (res) res->have_val = 1, res->val = val;
    }
    rebuild_summary(r);
    mpi_summary(r);
    if (r->ranks.rank > 0) return CLI_OK; /* rank 0 writes the files */
    nf_status s = nf_model_save(r->f, cli_path(path, sizeof path, r->out, "model.h5"));
    if (s != NF_OK) return cli_error(CLI_RUNTIME, "train", "writing %s: %s", path, nf_last_error());
    if ((rc = train_checkpoint(r)) != CLI_OK) return rc;
    printf("wrote:\n  %s\n  %s/checkpoint.h5\n  %s/metrics.csv, %s/metrics.jsonl\n", path, r->out, r->out, r->out);
    if ((rc = train_gif_close(r)) == CLI_OK && c->plots) rc = train_plots(r);
    fflush(stdout);
    return rc;
}

/* OUT/args.txt: the flags of the run, read back by --resume. */
static void write_args(const char *out, int argc, char *const *argv) {
    char path[4200];
    FILE *f = fopen(cli_path(path, sizeof path, out, "args.txt"), "w");
    if (!f) return; /* --resume then needs the flags again; not worth failing a run for */
    for (int i = 1; i < argc; i++) fprintf(f, "%s\n", argv[i]);
    fclose(f);
}

int train_run(const cli_train_config *c, cli_train_result *res) {
    train_run_state r;
    memset(&r, 0, sizeof r);
    r.c = c;
    snprintf(r.out, sizeof r.out, "%s", c->out);
    int lock = -1;
    int rc = cli_ranks_open(&r.ranks, "train");
    int lead = r.ranks.rank == 0; /* writes the run directory and the output */
    if (rc == CLI_OK) rc = cli_set_threads("train", c->threads > 0 ? c->threads : cli_ranks_threads(&r.ranks));
    if (rc == CLI_OK) rc = open_data(&r);
    if (rc == CLI_OK) rc = build_model(&r);
    if (rc == CLI_OK) rc = train_resume_check(&r);
    if (rc == CLI_OK) rc = store_mode(&r);
    if (rc == CLI_OK) {
        r.first_step = r.step;
        r.total = c->steps > 0 ? c->steps : (long)ceil(c->epochs * (double)r.train_samples / (double)c->batch);
        if (r.total < 1) r.total = 1;
        r.stop = c->stop_after > 0 && r.first_step + c->stop_after < r.total ? r.first_step + c->stop_after : r.total;
        rc = make_trainer(&r);
    }
    if (rc == CLI_OK) rc = alloc_buffers(&r);
    /* Only a validated run touches its directory, and only one run at a time. */
    if (rc == CLI_OK && lead) rc = cli_mkdirs("train", c->out);
    if (rc == CLI_OK && lead) rc = run_lock("train", c->out, &lock);
    if (rc == CLI_OK && lead && c->argv) write_args(c->out, c->argc, c->argv);
    if (rc == CLI_OK && lead) rc = metrics_open(&r.metrics, "train", r.out, c->resume ? r.step : -1);
    if (rc == CLI_OK && lead) rc = train_dump_start(&r);
    if (rc == CLI_OK) {
        banner(&r);
        long log_every = c->log_every > 0 ? c->log_every : (r.total + 19) / 20;
        progress_start(&r.prog, r.first_step, r.stop, log_every, lead ? c->show_tty : 0, lead ? c->quiet : 1);
        r.t0 = cli_now();
        if (lead) rc = train_pictures_start(&r);
    }
    /* no rank starts training (whose first step is collective) while another failed */
    rc = cli_ranks_agree(&r.ranks, "train", rc);
    if (rc == CLI_OK) rc = train_loop(&r);
    if (rc == CLI_OK) rc = train_dump_finish(&r);
    if (rc == CLI_OK) rc = finish(&r, res);
    rc = cli_ranks_agree(&r.ranks, "train", rc);
    if (res) {
        res->steps = r.step;
        res->rollbacks = r.trainer ? nf_trainer_state_of(r.trainer)->rollbacks : 0;
        res->seconds = cli_now() - r.t0;
        res->final_loss = r.last_loss;
        res->first_bpd = r.first_bpd;
    }
    train_gif_close(&r);
    if (r.dump) fclose(r.dump); /* a run that failed: what was written stays */
    nf_tensor_free(&r.look);
    metrics_close(&r.metrics);
    free(r.rebuild);
    nf_tensor_free(&r.x);
    nf_tensor_free(&r.y);
    nf_trainer_destroy(r.trainer);
    nf_adam_free(&r.resume_opt);
    if (r.f) nf_flow_destroy(r.f);
    data_close(&r.train);
    data_close(&r.val);
    free(r.val_mean);
    free(r.val_std);
    free(r.train_mean);
    free(r.train_std);
    run_unlock(lock);
    cli_ranks_close(&r.ranks);
    return rc;
}
