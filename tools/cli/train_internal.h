/* The state of one training run, shared by train_run.c (set-up, resume, finish) and
 * train_loop.c (steps through nf_trainer, validation, checkpoints). */
#ifndef NFLOW_CLI_TRAIN_INTERNAL_H
#define NFLOW_CLI_TRAIN_INTERNAL_H

#include "datasrc.h"
#include "gif.h"
#include "metrics.h"
#include "plot.h"
#include "progress.h"
#include "ranks.h"
#include "train.h"

#include <stdio.h>

typedef struct train_run_state {
    const cli_train_config *c;
    cli_ranks ranks;       /* MPI: this process's rank; rank 0 alone writes files and output */
    cli_data train, val;
    int have_val;
    nf_flow *f;
    nf_trainer *trainer;   /* optimiser, schedule, guard, loss watch, rollbacks */
    nf_adam resume_opt;    /* a checkpoint's optimiser until the trainer takes it over */
    nf_train_state resume; /* a checkpoint's training state */
    nf_rng rng;            /* dequantisation noise of the training batches */
    long step, total;      /* steps done, steps to do in all */
    long first_step;       /* steps already done when this process started */
    long stop;             /* this process stops after this step (<= total; --stop-after) */
    long epoch;            /* the epoch the current batch starts in, 1-based */
    long next_nan;         /* index into c->nan_at of the next injection */
    nf_tensor x;           /* (batch, c, d, h, w) */
    nf_tensor y;           /* --cond: (batch, the condition's c, d, h, w) */
    nf_tensor *cond;       /* &y with --cond, else NULL: what the steps pass as the condition */
    long recomputed_before;/* steps the guard recomputed before this process started */
    double *rebuild;       /* (stop - first_step) rebuild errors of this process's steps */
    size_t recompute_bytes;/* the most memory one recomputed step held */
    cli_metrics metrics;
    cli_progress prog;
    cli_gif gif;
    int gif_open;
    long gif_every;
    nf_tensor gif_z;       /* fixed latents of the GIF frames */
    unsigned char *frame;  /* (frame_h, frame_w, 4) RGBA */
    int frame_w, frame_h;
    nf_tensor look;        /* data shown in the pictures: 400 points, or a batch of images */
    plot_box box;          /* 2-D: limits of the scatter frames */
    double lo, hi;         /* images: the data's value range, shown black..white */
    double last_loss;      /* training loss of the last step */
    double first_bpd;      /* bits/dim of the first step of this process */
    double *val_mean, *val_std; /* (C) training statistics used to normalise validation data */
    double *train_mean, *train_std; /* (C) ranks > 1: the whole range's, normalising each share */
    long long train_samples; /* in the whole training range (each rank streams its share) */
    long long val_samples;   /* evaluated by the last validation, over all ranks */
    char out[4096];        /* output directory */
    double t0;
    double eval_s;         /* seconds spent in validation so far (part of the time since t0) */
    double eval_from;      /* when the validation now running started (cli_now) */
    FILE *dump;            /* --dump: DIR/batches.f32, open while training */
    long dumped;           /* batches written to it */
    double dump_s;         /* seconds spent writing them (part of the time since t0) */
} train_run_state;

/* From a checkpoint's state: the step and the CLI's own words into r; older
 * checkpoints' trainer state (kept in data_pos then) into ts->trainer. */
void train_state_get(train_run_state *r, nf_train_state *ts);

/* After the model is built or loaded (train_resume_check.c): a resumed checkpoint must
 * match the architecture of its directory's args.txt and the data it recorded (unless
 * --allow-data-change); then the flow records the current data. Returns an exit code. */
int train_resume_check(train_run_state *r);

/* Ranks > 1: the dequantisation noise of the next batch (a function of the batch). */
void train_rank_rng(train_run_state *r);
/* The loop of steps from r->step to r->total; returns an exit code. */
int train_loop(train_run_state *r);
/* Writes OUT/checkpoint.h5 (the state after r->step steps); returns an exit code. */
int train_checkpoint(train_run_state *r);
/* Evaluation statistics (batch norm) for validation and pictures (on = 1), training
 * statistics again after (on = 0); only sequential models have such layers. */
void train_eval_mode(train_run_state *r, int on);
/* Validation on the held-out set by the trainer (nf_trainer_validate); its event prints
 * it and writes it to the metrics. */
int train_validate(train_run_state *r, nf_loss_stats *st);
/* --dump DIR (train_dump.c): writes DIR/init.h5 (the model as built, before its first
 * step), DIR/val.f32 (the validation samples as every validation evaluates them) and
 * DIR/dump.json, and opens DIR/batches.f32. Returns an exit code. */
int train_dump_start(train_run_state *r);
/* Appends the batch r->x, on which a step was just taken, to DIR/batches.f32. */
int train_dump_batch(train_run_state *r);
/* Closes DIR/batches.f32 and says what was written; returns an exit code. */
int train_dump_finish(train_run_state *r);
/* The pictures of a finished run (train_plots.c). */
int train_plots(train_run_state *r);
/* Reads the data the pictures show and opens training.gif (train_plots.c). */
int train_pictures_start(train_run_state *r);
/* One frame of training.gif. */
int train_gif_frame(train_run_state *r);
/* Closes training.gif (the data shown stays until the run is freed). */
int train_gif_close(train_run_state *r);

#endif
