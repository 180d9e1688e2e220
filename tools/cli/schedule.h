/* Learning-rate schedules of `nflow train`. */
#ifndef NFLOW_CLI_SCHEDULE_H
#define NFLOW_CLI_SCHEDULE_H

typedef enum cli_schedule_kind { SCHED_CONSTANT = 0, SCHED_COSINE = 1, SCHED_STEP = 2 } cli_schedule_kind;
#define CLI_SCHEDULE_CHOICES "constant|cosine|step"

typedef struct cli_schedule {
    cli_schedule_kind kind;
    double lr;        /* base rate */
    double lr_min;    /* cosine: the rate it decays towards (reached one step after the last) */
    long warmup;      /* steps of linear warm-up from lr/warmup to lr (0: none) */
    long step_every;  /* step: multiply by gamma every step_every steps */
    double gamma;
} cli_schedule;

/* The rate for step (1-based) of total steps. */
double schedule_lr(const cli_schedule *s, long step, long total);

#endif
