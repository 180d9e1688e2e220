/* Progress of a training run. On a terminal one bar line is redrawn at most 10 times a
 * second on stderr; otherwise every log_every steps a plain line goes to stdout so a
 * batch job's log reads well with grep. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void progress_start(cli_progress *p, long first, long total, long log_every, int tty, int quiet) {
    p->first = first;
    p->total = total;
    p->log_every = log_every > 0 ? log_every : 1;
    p->tty = tty < 0 ? isatty(fileno(stderr)) : tty;
    p->quiet = quiet;
    p->bar_shown = 0;
    p->t0 = cli_now();
    p->last_draw = 0;
    p->samples = 0;
}

double progress_rate(const cli_progress *p) {
    double dt = cli_now() - p->t0;
    return dt > 0 ? (double)p->samples / dt : 0;
}

/* "1:02:03" or "2:03". */
static void format_duration(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void progress_step(cli_progress *p, long step, long epoch, double loss, double bpd, int batch) {
    p->samples += batch;
    if (p->quiet) return;
    double now = cli_now(), el = now - p->t0;
    long done = step - p->first, left = p->total - step;
    double eta = done > 0 ? el / (double)done * (double)left : -1;
    char eta_s[32], bpd_s[32] = "";
    format_duration(eta_s, sizeof eta_s, eta);
    if (!isnan(bpd)) snprintf(bpd_s, sizeof bpd_s, "  bits/dim %.4f", bpd);
    double rate = el > 0 ? (double)p->samples / el : 0;
    if (p->tty) {
        if (step != p->total && now - p->last_draw < 0.1) return;
        p->last_draw = now;
        enum { WIDTH = 24 };
        int fill = p->total > 0 ? (int)((double)WIDTH * (double)step / (double)p->total) : WIDTH;
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r\033[K[%s] %ld/%ld  epoch %ld  loss %.4f%s  %.0f samples/s  ETA %s", bar, step, p->total,
                epoch, loss, bpd_s, rate, eta_s);
        fflush(stderr);
        p->bar_shown = 1;
        return;
    }
    if (step % p->log_every && step != p->first + 1 && step != p->total) return;
    printf("step %ld/%ld  epoch %ld  loss %.4f%s  %.0f samples/s  ETA %s\n", step, p->total, epoch, loss, bpd_s, rate,
           eta_s);
    fflush(stdout);
}

static void clear_bar(cli_progress *p) {
    if (p->bar_shown) {
        fputs("\r\033[K", stderr);
        p->bar_shown = 0;
        p->last_draw = 0; /* redraw at the next step */
    }
}

void progress_note(cli_progress *p, const char *fmt, ...) {
    clear_bar(p);
    va_list ap;
    va_start(ap, fmt);
    fputs("nflow train: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void progress_print(cli_progress *p, const char *fmt, ...) {
    clear_bar(p);
    fflush(stderr);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

void progress_finish(cli_progress *p) {
    if (p->bar_shown) fputc('\n', stderr);
    p->bar_shown = 0;
}
