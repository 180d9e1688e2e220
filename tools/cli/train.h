/* The training run behind `nflow train` and `nflow demo`: a configuration filled from
 * flags (or by the demo), and the loop that runs it. */
#ifndef NFLOW_CLI_TRAIN_H
#define NFLOW_CLI_TRAIN_H

#include <nflow.h>


#define CLI_MAX_NAN_INJECT 8
#define CLI_SCHEDULE_CHOICES "constant|cosine|step" /* in nf_schedule_kind order */

/* The architecture flags (fixed on --resume), in the order of train.c's table. */
enum { CLI_ARCH_FLOW, CLI_ARCH_SPEC, CLI_ARCH_LEVELS, CLI_ARCH_DEPTH, CLI_ARCH_HIDDEN, CLI_ARCH_COUPLING,
       CLI_ARCH_SQUEEZE, CLI_ARCH_CONV1X1, CLI_ARCH_MIN_SCALE, CLI_ARCH_LEARN_PRIOR, CLI_ARCH_NO_LEARN_PRIOR,
       CLI_ARCH_COUNT };

typedef struct cli_train_config {
    /* model */
    nf_glow_config glow;   /* shape is filled from the data; multiscale 0 for --squeeze none */
    const char *spec;      /* a sequential model's layer spec (nf_sequential_from_spec); NULL: Glow */
    /* data */
    const char *data;      /* "file.h5:/x" or "toy:NAME" */
    const char *cond;      /* conditioning data of the same N, "file.h5:/y" or "/y" (data's file); NULL: none */
    const char *val;       /* validation spec, "none", or NULL (toy: fresh samples; HDF5: split) */
    double val_split;      /* HDF5 without --val: fraction held out from the end */
    long long train_size;  /* toy: samples in the training set */
    long long val_size;    /* validation samples used (toy: drawn fresh) */
    long val_every;        /* validate after every this many steps too; 0: at epoch ends and the end only */
    int batch;
    int normalize;         /* nf_norm_mode for float HDF5 data */
    int layout;            /* nf_layout of HDF5 data */
    /* optimisation */
    nf_schedule sched;
    double clip;           /* max gradient 2-norm, 0: none */
    double clip_rel;       /* max gradient 2-norm over its recent typical value, 0: none */
    double weight_decay;
    long steps;            /* total steps; 0: from epochs */
    long stop_after;       /* steps this process runs at most (then checkpoint; resume continues); 0: all */
    double epochs;
    uint64_t seed;
    int threads;
    long mpi_bucket;       /* gradient values per overlapped MPI sum; 0: one sum after the backward */
    int max_rollbacks;
    long recover_steps;   /* steps after a rollback before the rate doubles back (0: never) */
    int backoff;          /* --backoff: a rollback soon after a recovery doubles the next wait */
    long nan_at[CLI_MAX_NAN_INJECT]; /* testing: poison the parameters after these steps */
    int n_nan_at;
    int poison_jump;       /* testing: the poison is a large finite shift, not NaN */
    int store_activations; /* debugging: backward from stored layer inputs (memory grows with depth) */
    double rebuild_tol;    /* recompute a step whose rebuilt batch is off by more (nf_flow_gradient) */
    double loss_jump;      /* bits/dim above the recent loss that count as an explosion; 0: off */
    long rebuild_profile;  /* every this many steps a per-layer rebuild profile in metrics.jsonl; 0: never */
    /* output */
    const char *out;
    long checkpoint_every; /* steps; 0: only at the end */
    const char *resume;    /* checkpoint file */
    int resume_args;       /* resume: the flags came from the args.txt beside the checkpoint */
    unsigned resume_arch;  /* resume: the architecture flags args.txt gives, bit 1 << CLI_ARCH_* */
    int allow_data_change; /* resume: continue even if the data is not what the checkpoint recorded */
    int argc;              /* argv[1..argc-1]: the flags written to OUT/args.txt once the */
    char *const *argv;     /* data and model are validated; argv NULL: no args.txt (resume, demo) */
    long log_every;        /* 0: about 20 lines per run */
    int quiet;
    int plots;             /* write the pictures at the end */
    long gif_every;        /* steps between frames of training.gif; 0: about 40 frames, < 0: none */
    int show_tty;          /* -1: decide, 0/1: force (tests) */
    const char *dump;      /* --dump DIR: initial model, batches and validation samples (train_dump.c); NULL: none */
} cli_train_config;

/* What a finished run reports (for the demo and the tests). */
typedef struct cli_train_result {
    long steps;            /* steps done in total */
    double first_bpd;      /* bits/dim of the first step's batch (the untrained model) */
    double final_loss;     /* training loss of the last step */
    int have_val;
    nf_loss_stats val;     /* held-out objective at the end */
    double seconds;
    int rollbacks;
} cli_train_result;

/* Defaults: Glow hidden 64, L 3, K 8, batch 64, lr 1e-3 constant, 1 epoch, seed 1,
 * toy training set 60000, validation 10000 samples / 5 % split, 3 rollbacks, rebuild
 * tolerance NF_REBUILD_TOL_DEFAULT, loss jumps of 3 bits/dim. */
void train_config_default(cli_train_config *c);

/* Runs a training: opens the data, builds or resumes the model; only then creates
 * c->out, locks it against other runs (run_lock.h) and writes args.txt; trains,
 * validates each epoch, writes metrics, checkpoints, the model and the plots into
 * c->out. Returns an exit code (messages already printed). res may be NULL. */
int train_run(const cli_train_config *c, cli_train_result *res);

#endif
