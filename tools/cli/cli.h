/* What the subcommands of the `nflow` command share: exit codes, error lines, the
 * subcommand entry points. Every message goes to stderr as one line that starts with
 * "nflow <command>: ". */
#ifndef NFLOW_CLI_H
#define NFLOW_CLI_H

#include <nflow.h>

#include <stdio.h>

/* Exit codes, documented in every --help and in docs/cli.md. */
enum {
    CLI_OK = 0,      /* success */
    CLI_RUNTIME = 1, /* runtime failure (out of memory, a library error, cannot write) */
    CLI_USAGE = 2,   /* bad flag, bad value, wrong number of arguments */
    CLI_DATA = 3,    /* data or model file missing, unreadable, of the wrong kind or shape */
    CLI_NUMERIC = 4, /* NaN/Inf: in the loss after the rollbacks, or in the data read */
    CLI_HELP = -1    /* internal: --help was printed, exit 0 */
};

/* The text of the EXIT STATUS section shared by every --help. */
#define CLI_EXIT_CODES_HELP                                                              \
    "EXIT STATUS\n"                                                                      \
    "  0  success\n"                                                                     \
    "  1  runtime failure (out of memory, cannot write the output, library error)\n"    \
    "  2  usage error (unknown flag, bad value, missing argument)\n"                     \
    "  3  data or model file error (missing, unreadable, wrong kind, wrong shape)\n"     \
    "  4  numerical failure (NaN/Inf loss that rollbacks could not cure, NaN/Inf in\n"   \
    "     the data read)\n"

/* " (rank r)" for MPI ranks other than 0 (ranks.c), "" otherwise: in every error line. */
extern const char *cli_rank_tag;
/* Prints "nflow <cmd>: <message>" on stderr and returns code. */
int cli_error(int code, const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The exit code for a library failure: input file/format/shape errors -> CLI_DATA,
 * NaN/Inf -> CLI_NUMERIC, bad arguments -> CLI_USAGE, the rest (out of memory, an
 * output that cannot be written) -> CLI_RUNTIME. */
int cli_exit_code(nf_status s);

/* Prints "nflow <cmd>: <what>: <nf_last_error()>" and returns cli_exit_code(s). */
int cli_nf_error(nf_status s, const char *cmd, const char *what);

/* mkdir -p; returns 0, or prints the reason and returns CLI_RUNTIME. */
int cli_mkdirs(const char *cmd, const char *dir);

/* dir + "/" + name into buf (size bytes); returns buf. */
char *cli_path(char *buf, size_t size, const char *dir, const char *name);

/* Seconds since an arbitrary start (monotonic clock). */
double cli_now(void);

/* Makes every exit of the process end in _exit after flushing the streams (and the
 * leak check of sanitizer builds), so that no library's exit handler can hang it
 * (exit_guard.c). Called first in main. */
void cli_exit_guard(void);

/* Gives the library n threads (n <= 0: keeps the default) and reserves the BLAS's work
 * buffers for them (nf_threads_reserve), so that a memory limit ends the command with
 * one line and exit 1 instead of a GEMM that retries forever. Returns an exit code. */
int cli_set_threads(const char *cmd, int n);

/* Loads a model or checkpoint file in evaluation mode (batch norm on its running
 * averages); prints the reason and returns an exit code on failure (CLI_DATA for a
 * missing or bad file). */
int cli_load_model(const char *cmd, const char *path, nf_flow **f);
/* CLI_OK if batches of shape s fit the model, else prints why and returns CLI_DATA. */
int cli_check_shape(const char *cmd, const nf_flow *f, nf_shape s, const char *what);
/* The condition of data (s: one batch's condition shape, n = 0 when the data has none)
 * against the flow's: both absent, or the same number of values per sample; otherwise
 * the error (usage: one given without the other; data: another size) and its exit code. */
int cli_check_cond(const char *cmd, const nf_flow *f, nf_shape s, const char *what);

/* "affine coupling (scale >= 0.001)" or "additive coupling", for banners and info. */
const char *cli_coupling_text(const nf_glow_config *c, char *buf, size_t size);
/* "learned prior" or "N(0, I) prior" (nf_glow_config.learn_prior). */
const char *cli_prior_text(const nf_glow_config *c);

/* Subcommands: argv[0] is the subcommand's name. Each returns an exit code. */
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
