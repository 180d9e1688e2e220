/* metrics.csv and metrics.jsonl: written and flushed every step, so a killed batch job
 * loses nothing; cut back to the checkpoint's step on resume. */
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A number for JSON: non-finite values become null. */
static void json_num(FILE *f, const char *key, double v, int last) {
    if (isfinite(v)) fprintf(f, "\"%s\":%.9g%s", key, v, last ? "" : ",");
    else fprintf(f, "\"%s\":null%s", key, last ? "" : ",");
}

/* The step of a CSV row (its first field) or a JSON line ("step":N); -1 if none. */
static long line_step(const char *line, int json) {
    if (json) {
        const char *p = strstr(line, "\"step\":");
        return p ? strtol(p + 7, NULL, 10) : -1;
    }
    char *end;
    long s = strtol(line, &end, 10);
    return end != line && *end == ',' ? s : -1;
}

/* Rewrites path keeping the header and the rows of steps <= keep (atomically via a
 * temporary file). A missing file is fine. */
static int truncate_rows(const char *cmd, const char *path, long keep, int json) {
    FILE *in = fopen(path, "r");
    if (!in) return errno == ENOENT ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "cannot read %s: %s", path, strerror(errno));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return cli_error(CLI_RUNTIME, cmd, "cannot write %s: %s", tmp, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &cap, in)) > 0) {
        long s = line_step(line, json);
        if ((first && !json) || (s >= 0 && s <= keep)) fwrite(line, 1, (size_t)len, out);
        first = 0;
    }
    free(line);
    fclose(in);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad || rename(tmp, path) != 0) {
        int err = errno ? errno : EIO;
        unlink(tmp); /* a full disk must not leave the half-written copy behind */
        return cli_error(CLI_RUNTIME, cmd, "cannot rewrite %s: %s", path, strerror(err));
    }
    return CLI_OK;
}

int metrics_open(cli_metrics *m, const char *cmd, const char *dir, long keep_through) {
    char csv[4096], js[4096];
    cli_path(csv, sizeof csv, dir, "metrics.csv");
    cli_path(js, sizeof js, dir, "metrics.jsonl");
    m->csv = m->jsonl = NULL;
    int rc;
    if (keep_through >= 0 && ((rc = truncate_rows(cmd, csv, keep_through, 0)) || (rc = truncate_rows(cmd, js, keep_through, 1))))
        return rc;
    const char *mode = keep_through >= 0 ? "a" : "w";
    m->csv = fopen(csv, mode);
    m->jsonl = fopen(js, mode);
    if (!m->csv || !m->jsonl) {
        metrics_close(m);
        return cli_error(CLI_RUNTIME, cmd, "cannot write %s: %s", !m->csv ? csv : js, strerror(errno));
    }
    if (ftell(m->csv) == 0) fprintf(m->csv, "%s\n", CLI_METRICS_CSV_HEADER);
    return CLI_OK;
}

void metrics_step(cli_metrics *m, const cli_step_record *r) {
    if (!m->csv) return;
    fprintf(m->csv, "%ld,%ld,%.9g,%.9g,%.9g,%.9g,%.6g,%.6g,%.3f,,,%.3g,%d,", r->step, r->epoch, r->loss, r->half_sq,
            r->logdet, r->bits_per_dim, r->lr, r->grad_norm, r->time_s, r->rebuild_error, r->recomputed);
    if (isfinite(r->clip)) fprintf(m->csv, "%.6g", r->clip);
    fprintf(m->csv, ",%.3f\n", r->eval_s);
    FILE *j = m->jsonl;
    fprintf(j, "{\"type\":\"step\",\"step\":%ld,\"epoch\":%ld,", r->step, r->epoch);
    json_num(j, "loss", r->loss, 0);
    json_num(j, "half_sq", r->half_sq, 0);
    json_num(j, "logdet", r->logdet, 0);
    json_num(j, "bits_per_dim", r->bits_per_dim, 0);
    json_num(j, "lr", r->lr, 0);
    json_num(j, "grad_norm", r->grad_norm, 0);
    json_num(j, "time_s", r->time_s, 0);
    json_num(j, "eval_s", r->eval_s, 0);
    json_num(j, "rebuild_error", r->rebuild_error, 0);
    if (isfinite(r->clip)) json_num(j, "clip", r->clip, 0);
    fprintf(j, "\"recomputed\":%d", r->recomputed);
    fputs("}\n", j);
    fflush(m->csv);
    fflush(j);
}

void metrics_val(cli_metrics *m, long step, long epoch, double loss, double bits_per_dim, double eval_s) {
    if (!m->csv) return;
    fprintf(m->csv, "%ld,%ld,,,,,,,,%.9g,%.9g,,,,%.3f\n", step, epoch, loss, bits_per_dim, eval_s);
    fprintf(m->jsonl, "{\"type\":\"val\",\"step\":%ld,\"epoch\":%ld,", step, epoch);
    json_num(m->jsonl, "loss", loss, 0);
    json_num(m->jsonl, "bits_per_dim", bits_per_dim, 0);
    json_num(m->jsonl, "eval_s", eval_s, 1);
    fputs("}\n", m->jsonl);
    fflush(m->csv);
    fflush(m->jsonl);
}

void metrics_event(cli_metrics *m, long step, const char *event, const char *msg) {
    if (!m->jsonl) return;
    fprintf(m->jsonl, "{\"type\":\"%s\",\"step\":%ld,\"message\":\"", event, step);
    for (const char *p = msg; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', m->jsonl);
        if ((unsigned char)*p >= 0x20) fputc(*p, m->jsonl);
    }
    fputs("\"}\n", m->jsonl);
    fflush(m->jsonl);
}

void metrics_profile(cli_metrics *m, long step, const char *const *kind, const double *err, int n) {
    if (!m->jsonl) return;
    fprintf(m->jsonl, "{\"type\":\"rebuild_profile\",\"step\":%ld,\"layers\":[", step);
    for (int i = 0; i < n; i++) {
        fprintf(m->jsonl, "%s{\"layer\":%d,\"kind\":\"%s\",", i ? "," : "", i, kind[i]);
        json_num(m->jsonl, "error", err[i], 1);
        fputc('}', m->jsonl);
    }
    fputs("]}\n", m->jsonl);
    fflush(m->jsonl);
}

void metrics_close(cli_metrics *m) {
    if (m->csv) fclose(m->csv);
    if (m->jsonl) fclose(m->jsonl);
    m->csv = m->jsonl = NULL;
}

/* ---------------------------------------------------------------- reading back */

/* Index of name among the comma-separated header fields, or -1. */
static int column(const char *header, const char *name) {
    int idx = 0;
    size_t n = strlen(name);
    for (const char *p = header;; idx++) {
        size_t len = strcspn(p, ",\r\n");
        if (len == n && strncmp(p, name, n) == 0) return idx;
        if (p[len] != ',') return -1;
        p += len + 1;
    }
}

/* Field idx of a CSV line as a number; NAN when empty. */
static double field(const char *line, int idx) {
    const char *p = line;
    for (int i = 0; i < idx; i++) {
        p = strchr(p, ',');
        if (!p) return NAN;
        p++;
    }
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

int metrics_read(cli_metrics_table *t, const char *path, char *err, size_t errn) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errn, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rows = 0, alloc = 0, ok = 1;
    int c[4] = {-1, -1, -1, -1};
    if (getline(&line, &cap, f) > 0) {
        c[0] = column(line, "step"), c[1] = column(line, "loss");
        c[2] = column(line, "half_sq"), c[3] = column(line, "logdet");
    }
    if (c[0] < 0 || c[1] < 0 || c[2] < 0 || c[3] < 0) {
        snprintf(err, errn, "%s is not a metrics file: the header lacks step, loss, half_sq or logdet", path);
        ok = 0;
    }
    while (ok && getline(&line, &cap, f) > 0) {
        double v[4];
        for (int k = 0; k < 4; k++) v[k] = field(line, c[k]);
        if (isnan(v[0]) || isnan(v[1])) continue; /* a validation row */
        if (rows == alloc) {
            alloc = alloc ? 2 * alloc : 1024;
            double **cols[4] = {&t->step, &t->loss, &t->half_sq, &t->logdet};
            for (int k = 0; k < 4 && ok; k++) {
                double *p = realloc(*cols[k], sizeof(double) * (size_t)alloc);
                if (p) *cols[k] = p;
                else ok = 0;
            }
            if (!ok) snprintf(err, errn, "out of memory reading %s", path);
        }
        if (!ok) break;
        t->step[rows] = v[0], t->loss[rows] = v[1], t->half_sq[rows] = v[2], t->logdet[rows] = v[3];
        rows++;
    }
    free(line);
    fclose(f);
    t->n = rows;
    if (!ok) {
        metrics_table_free(t);
        return -1;
    }
    return rows;
}

void metrics_table_free(cli_metrics_table *t) {
    free(t->step);
    free(t->loss);
    free(t->half_sq);
    free(t->logdet);
    memset(t, 0, sizeof *t);
}
