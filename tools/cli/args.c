/* Table-driven flag parsing: every bad flag or value gives exactly one line naming the
 * flag, what was expected and what was given. */
#include "args.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const cli_opt *cli_opt_find(const cli_opt *opts, const char *name) {
    for (const cli_opt *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

int cli_given(const cli_opt *opts, const char *name) {
    const cli_opt *o = cli_opt_find(opts, name);
    return o && o->given;
}

/* Levenshtein distance of short strings, for "did you mean". */
static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int row[64];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_flag(const char *cmd, const char *flag, const cli_opt *opts) {
    const char *name = flag + strspn(flag, "-");
    const char *best = NULL;
    int bestd = 3; /* suggest only close names */
    for (const cli_opt *o = opts; o->name; o++) {
        int d = edit_distance(name, o->name);
        if (d < bestd) bestd = d, best = o->name;
    }
    for (const cli_opt *o = opts; o->name && !best && *name; o++)
        if (strncmp(name, o->name, strlen(name)) == 0) best = o->name; /* an abbreviation */
    if (best) return cli_error(CLI_USAGE, cmd, "unknown option '%s' (did you mean --%s?)", flag, best);
    return cli_error(CLI_USAGE, cmd, "unknown option '%s' (see 'nflow %s --help')", flag, cmd);
}

/* Index of val in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *val) {
    size_t n = strlen(val);
    int idx = 0;
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, val, n) == 0) return idx;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static int bad_number(const char *cmd, const cli_opt *o, const char *what, const char *val) {
    return cli_error(CLI_USAGE, cmd, "--%s: expected %s in [%g, %g], got '%s'", o->name, what, o->lo, o->hi, val);
}

static int set_value(const char *cmd, cli_opt *o, const char *val) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case OPT_INT:
    case OPT_LONG: {
        long v = strtol(val, &end, 10);
        const char *what = "an integer";
        if (!errno && end != val && (*end == 'e' || *end == 'E' || *end == '.')) {
            /* exponent notation (--steps 1e6, 2.5e3): fine when the value is a whole number */
            double d = strtod(val, &end);
            if (errno || *end || !(d == floor(d)) || fabs(d) > 9007199254740992.0) return bad_number(cmd, o, what, val);
            v = (long)d;
        }
        if (errno || end == val || *end || (double)v < o->lo || (double)v > o->hi) return bad_number(cmd, o, what, val);
        if (o->kind == OPT_INT) *(int *)o->value = (int)v;
        else *(long *)o->value = v;
        return CLI_OK;
    }
    case OPT_REAL: {
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v) || v < o->lo || v > o->hi)
            return bad_number(cmd, o, "a number", val);
        *(double *)o->value = v;
        return CLI_OK;
    }
    case OPT_STR:
        if (!*val) return cli_error(CLI_USAGE, cmd, "--%s: the value is empty", o->name);
        *(const char **)o->value = val;
        return CLI_OK;
    case OPT_CHOICE: {
        int i = choice_index(o->choices, val);
        if (i < 0) return cli_error(CLI_USAGE, cmd, "--%s: expected one of %s, got '%s'", o->name, o->choices, val);
        *(int *)o->value = i;
        return CLI_OK;
    }
    case OPT_FLAG: break;
    }
    return CLI_OK;
}

int cli_parse(const char *cmd, int argc, char **argv, cli_opt *opts, const char *help, char **pos, int max_pos,
              int *npos) {
    int np = 0, flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || a[1] == '\0') {
            if (np >= max_pos) {
                if (max_pos == 0)
                    return cli_error(CLI_USAGE, cmd, "unexpected argument '%s' (this command takes only flags)", a);
                return cli_error(CLI_USAGE, cmd, "unexpected extra argument '%s'", a);
            }
            pos[np++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            return CLI_HELP;
        }
        if (a[1] != '-') return unknown_flag(cmd, a, opts);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len == 0 || len >= sizeof name) return unknown_flag(cmd, a, opts);
        memcpy(name, a + 2, len);
        name[len] = '\0';
        cli_opt *o = (cli_opt *)cli_opt_find(opts, name);
        if (!o) return unknown_flag(cmd, a, opts);
        if (o->given && o->kind != OPT_FLAG) return cli_error(CLI_USAGE, cmd, "--%s given twice", name);
        o->given = 1;
        if (o->kind == OPT_FLAG) {
            if (eq) return cli_error(CLI_USAGE, cmd, "--%s takes no value", name);
            *(int *)o->value = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) return cli_error(CLI_USAGE, cmd, "--%s needs a value", name);
            val = argv[++i];
        }
        int rc = set_value(cmd, o, val);
        if (rc != CLI_OK) return rc;
    }
    if (npos) *npos = np;
    return CLI_OK;
}

int cli_parse_long_list(const char *s, long *out, int max, long lo) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < lo || n >= max) return -1;
        out[n++] = v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n > 0 ? n : -1;
}
