/* The command-line parser (tools/cli/args.c): the input, split at newlines, is the
 * argv of a subcommand whose flag table has every kind of flag, as nflow train's has;
 * each word is also tried as a --debug-nan-at list. Any argv parses or fails with one
 * line, and a parsed value lies in its flag's range. stdout/stderr: run with
 * -close_fd_mask=3 to keep the messages out of the log. */
#include "args.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 1] = {"train"};
    int argc = 1;
    for (char *p = text; argc < MAX_ARGS; argc++) {
        argv[argc] = p;
        char *nl = strchr(p, '\n');
        if (!nl) {
            argc++;
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    int i = 0, choice = 0, flag = 0;
    long l = 0;
    double r = 0;
    const char *s = NULL;
    cli_opt opts[] = {
        {"batch", OPT_INT, &i, 1, 1 << 20},
        {"steps", OPT_LONG, &l, 1, 1e15},
        {"lr", OPT_REAL, &r, 1e-12, 10},
        {"data", OPT_STR, &s},
        {"quiet", OPT_FLAG, &flag},
        {"schedule", OPT_CHOICE, &choice, 0, 0, "constant|cosine|step"},
        OPT_END,
    };
    char *pos[4];
    int npos = 0;
    int rc = cli_parse("train", argc, argv, opts, "help\n", pos, 4, &npos);
    if (rc == CLI_OK) {
        if ((opts[0].given && (i < 1 || i > (1 << 20))) || (opts[1].given && (l < 1 || l > 1e15)) ||
            (opts[2].given && !(r >= 1e-12 && r <= 10 && isfinite(r))) || choice < 0 || choice > 2 || npos > 4)
            abort(); /* a value outside its flag's range was accepted */
    } else if (rc != CLI_USAGE && rc != CLI_HELP) {
        abort();
    }
    long list[8];
    for (int k = 1; k < argc; k++) {
        int n = cli_parse_long_list(argv[k], list, 8, 1);
        if (n > 8) abort();
        for (int j = 0; j < n; j++)
            if (list[j] < 1) abort();
    }
    free(text);
    return 0;
}
