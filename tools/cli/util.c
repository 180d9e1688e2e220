/* Small helpers every subcommand uses: error lines and exit codes, directories,
 * the clock, thread counts. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *cli_rank_tag = "";

int cli_error(int code, const char *cmd, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* one line whatever a file name or a library message holds */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fprintf(stderr, "nflow %s%s: %s\n", cmd, cli_rank_tag, buf);
    return code;
}

int cli_exit_code(nf_status s) {
    switch (s) {
    case NF_OK: return CLI_OK;
    case NF_ERR_IO:
    case NF_ERR_FORMAT:
    case NF_ERR_SHAPE: return CLI_DATA;
    case NF_ERR_NUMERIC: return CLI_NUMERIC;
    case NF_ERR_WRITE: return CLI_RUNTIME; /* an output, not the data, is the problem */
    case NF_ERR_ARG: return CLI_USAGE;
    default: return CLI_RUNTIME;
    }
}

int cli_nf_error(nf_status s, const char *cmd, const char *what) {
    const char *msg = nf_last_error();
    return cli_error(cli_exit_code(s), cmd, "%s: %s", what, msg && *msg ? msg : nf_status_name(s));
}

int cli_mkdirs(const char *cmd, const char *dir) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return cli_error(CLI_USAGE, cmd, "output directory name is empty or too long");
    memcpy(buf, dir, n + 1);
    /* Create every prefix that ends at a '/', then the whole path. */
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0775) != 0 && errno != EEXIST)
            return cli_error(CLI_RUNTIME, cmd, "cannot create directory %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_error(CLI_RUNTIME, cmd, "%s exists and is not a directory", dir);
    return CLI_OK;
}

char *cli_path(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_set_threads(const char *cmd, int n) {
    if (n > 0) nf_set_threads(n); /* the library's policy: its OpenMP threads, OpenBLAS on one */
    nf_status s = nf_threads_reserve();
    return s == NF_OK ? CLI_OK : cli_error(CLI_RUNTIME, cmd, "%s", nf_last_error());
}

int cli_load_model(const char *cmd, const char *path, nf_flow **f) {
    *f = NULL;
    int rc = cli_set_threads(cmd, 0); /* a loaded model is run: the BLAS must be able to */
    if (rc != CLI_OK) return rc;
    nf_status s = nf_model_load(f, path);
    /* Every command that loads a finished model evaluates it: batch norm uses its
     * running averages, so results do not depend on --batch and inverses work. */
    if (s == NF_OK && nf_flow_is_sequential(*f) && (s = nf_sequential_set_training(*f, 0)) != NF_OK)
        nf_flow_destroy(*f);
    if (s == NF_OK) return CLI_OK;
    *f = NULL;
    return cli_error(s == NF_ERR_NOMEM ? CLI_RUNTIME : CLI_DATA, cmd, "%s", nf_last_error());
}

int cli_check_shape(const char *cmd, const nf_flow *f, nf_shape s, const char *what) {
    nf_shape m = f->in;
    if (m.c == s.c && m.d == s.d && m.h == s.h && m.w == s.w) return CLI_OK;
    return cli_error(CLI_DATA, cmd, "%s has samples of %dx%dx%dx%d (c x d x h x w) but the model takes %dx%dx%dx%d",
                     what, s.c, s.d, s.h, s.w, m.c, m.d, m.h, m.w);
}

const char *cli_prior_text(const nf_glow_config *c) { return c->learn_prior ? "learned prior" : "N(0, I) prior"; }
int cli_check_cond(const char *cmd, const nf_flow *f, nf_shape s, const char *what) {
    nf_shape m = f->cond;
    if (!nf_flow_is_conditional(f) && !s.n) return CLI_OK;
    if (!nf_flow_is_conditional(f))
        return cli_error(CLI_USAGE, cmd, "the model is unconditional but a condition was given (%s)", what);
    if (!s.n)
        return cli_error(CLI_USAGE, cmd, "the model is conditional (p(x | y), y of %dx%dx%dx%d): give --cond", m.c, m.d,
                         m.h, m.w);
    /* a sequential flow reads y's values in C order; a conditional Glow squeezes y with x */
    int same = nf_glow_get_config(f) ? m.c == s.c && m.d == s.d && m.h == s.h && m.w == s.w
                                     : nf_shape_sample_count(m) == nf_shape_sample_count(s);
    if (same) return CLI_OK;
    return cli_error(CLI_DATA, cmd, "%s has conditions of %dx%dx%dx%d (c x d x h x w) but the model takes %dx%dx%dx%d",
                     what, s.c, s.d, s.h, s.w, m.c, m.d, m.h, m.w);
}

const char *cli_coupling_text(const nf_glow_config *c, char *buf, size_t size) {
    if (c->coupling == NF_COUPLING_ADDITIVE) snprintf(buf, size, "additive coupling");
    else snprintf(buf, size, "affine coupling (scale >= %g)", c->coupling_min_scale);
    return buf;
}
