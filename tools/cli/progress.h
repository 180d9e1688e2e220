/* Training progress: a redrawn bar on a terminal, plain log lines otherwise (batch
 * jobs, pipes, files). */
#ifndef NFLOW_CLI_PROGRESS_H
#define NFLOW_CLI_PROGRESS_H

typedef struct cli_progress {
    long first, total;  /* steps: the run covers (first, total] */
    long log_every;     /* plain mode: a line every log_every steps (and the first and last) */
    int tty;            /* 1: draw a bar on stderr */
    int quiet;          /* 1: nothing but notes */
    int bar_shown;      /* a bar line is on the terminal and must be cleared before a note */
    double t0, last_draw;
    long samples;       /* samples processed since t0 */
} cli_progress;

/* Starts timing. tty < 0: decide from isatty(stderr). */
void progress_start(cli_progress *p, long first, long total, long log_every, int tty, int quiet);
/* After step `step` (1-based) of `epoch` with this batch of batch samples. A NaN bpd is
 * not shown. */
void progress_step(cli_progress *p, long step, long epoch, double loss, double bpd, int batch);
/* A message on its own line (stderr), keeping the bar intact. */
void progress_note(cli_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A line on stdout (results, validation), keeping the bar intact. */
void progress_print(cli_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Ends the bar line. */
void progress_finish(cli_progress *p);
/* Samples per second since start. */
double progress_rate(const cli_progress *p);

#endif
