/* Flag parsing for the subcommands: a table of long options, each with a type and a
 * range, parsed with one clear error line per bad flag. */
#ifndef NFLOW_CLI_ARGS_H
#define NFLOW_CLI_ARGS_H

typedef enum cli_opt_kind {
    OPT_INT,    /* int *value, range [lo, hi] */
    OPT_LONG,   /* long *value, range [lo, hi] */
    OPT_REAL,   /* double *value, finite, range [lo, hi] */
    OPT_STR,    /* const char **value (points into argv) */
    OPT_FLAG,   /* int *value set to 1; takes no value */
    OPT_CHOICE  /* int *value = index of the value in choices ("a|b|c") */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;    /* long name without "--" */
    cli_opt_kind kind;
    void *value;         /* where the parsed value goes (see the kinds) */
    double lo, hi;       /* accepted range of numbers, inclusive */
    const char *choices; /* OPT_CHOICE: "constant|cosine|step" */
    int given;           /* set by the parser: the flag was on the command line */
} cli_opt;

/* Table terminator. */
#define OPT_END {0}

/*
 * Parses argv[1..argc) (argv[0] is the subcommand). Accepts "--name value",
 * "--name=value", "-h"/"--help", and "--" to end the flags. Positional arguments are
 * collected into pos (at most max_pos; more is a usage error). Returns CLI_OK,
 * CLI_USAGE after printing one line naming the bad flag, or CLI_HELP after printing
 * help to stdout.
 */
int cli_parse(const char *cmd, int argc, char **argv, cli_opt *opts, const char *help, char **pos, int max_pos,
              int *npos);

/* The entry for name in opts (NULL if none): to ask whether a flag was given. */
const cli_opt *cli_opt_find(const cli_opt *opts, const char *name);
/* 1 if the flag name was on the command line. */
int cli_given(const cli_opt *opts, const char *name);

/* Parses a comma-separated list of up to max longs (each >= lo) into out; returns the
 * count, or -1 on a bad list. */
int cli_parse_long_list(const char *s, long *out, int max, long lo);

#endif
