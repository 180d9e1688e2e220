/* Metrics of a training run, one row per step: metrics.csv (for spreadsheets and
 * `nflow plot curves`) and metrics.jsonl (one JSON object per line, also carrying
 * validation results and events such as rollbacks). */
#ifndef NFLOW_CLI_METRICS_H
#define NFLOW_CLI_METRICS_H

#include <stdio.h>

typedef struct cli_step_record {
    long step, epoch;
    double loss, half_sq, logdet; /* nats per sample, see nf_loss_stats */
    double bits_per_dim;          /* in the data's own units when known */
    double lr, grad_norm;         /* grad_norm before clipping */
    double time_s;                /* since the run (or resume) started */
    double rebuild_error;         /* relative error of the batch rebuilt by the backward */
    int recomputed;               /* 1: the step's gradient was recomputed from stored inputs */
    double clip;                  /* the limit on grad_norm in force (INFINITY: none; empty column) */
    double eval_s;                /* of time_s, the seconds spent in validation before this step's row */
} cli_step_record;

typedef struct cli_metrics {
    FILE *csv, *jsonl;
} cli_metrics;

/* The CSV header; the columns `nflow plot curves` reads are named in it. */
#define CLI_METRICS_CSV_HEADER "step,epoch,loss,half_sq,logdet,bits_per_dim,lr,grad_norm,time_s,val_loss,val_bits_per_dim,rebuild_error,recomputed,clip,eval_s"

/* Opens DIR/metrics.csv and DIR/metrics.jsonl. keep_through < 0: new files; otherwise
 * the files are kept up to step keep_through (rows of later steps, written by a run
 * that was killed after its last checkpoint, are dropped) and appended to. Returns 0,
 * or prints the reason and returns an exit code. */
int metrics_open(cli_metrics *m, const char *cmd, const char *dir, long keep_through);
void metrics_step(cli_metrics *m, const cli_step_record *r);
/* A validation result after `step` (its CSV row has only the val_ columns and eval_s, the
 * seconds spent in validation so far, this one included). */
void metrics_val(cli_metrics *m, long step, long epoch, double loss, double bits_per_dim, double eval_s);
/* An event line in the JSON file only: {"type": event, "step": step, "message": msg}. */
void metrics_event(cli_metrics *m, long step, const char *event, const char *msg);
/* A rebuild profile in the JSON file: {"type": "rebuild_profile", "step": step, "layers":
 * [{"layer": i, "kind": kind[i], "error": err[i]}, ...]}. */
void metrics_profile(cli_metrics *m, long step, const char *const *kind, const double *err, int n);
void metrics_close(cli_metrics *m);

/* The columns of a metrics.csv, read back (for plots). Arrays are malloc'ed; only rows
 * with a training loss are kept. Returns the row count, or -1 with errno set / a
 * message in err (size errn). */
typedef struct cli_metrics_table {
    int n;
    double *step, *loss, *half_sq, *logdet; /* (n) */
} cli_metrics_table;
int metrics_read(cli_metrics_table *t, const char *path, char *err, size_t errn);
void metrics_table_free(cli_metrics_table *t);

#endif
