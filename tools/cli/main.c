/* nflow: the command-line tool. Dispatches to one subcommand per file. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a flow on an HDF5 dataset or a toy density"},
    {"sample", cmd_sample, "draw samples from a model (HDF5, PNG grid or scatter)"},
    {"eval", cmd_eval, "negative log-likelihood and bits/dim of a model on a dataset"},
    {"encode", cmd_encode, "data -> latents z = f(x) (HDF5)"},
    {"decode", cmd_decode, "latents -> data x = f^-1(z) (HDF5)"},
    {"info", cmd_info, "architecture, parameters, memory and training state of a model file"},
    {"plot", cmd_plot, "the tutorials' pictures: curves, scatter, trajectories, warp, grid"},
    {"data", cmd_data, "convert Fashion-MNIST / SEG-Y, or generate toy and seismic datasets"},
    {"demo", cmd_demo, "train the banana tutorial and a small image flow, write the plots"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out) {
    fprintf(out,
            "NAME\n"
            "  nflow - train, sample, evaluate and look at normalizing flows\n\n"
            "SYNOPSIS\n"
            "  nflow <command> [options]\n"
            "  nflow <command> --help\n"
            "  nflow --version\n\n"
            "COMMANDS\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nEXAMPLES\n"
            "  nflow demo --out demo_out\n"
            "  nflow train --data toy:banana --hidden 16 --levels 1 --depth 10 --squeeze none \\\n"
            "              --batch 150 --lr 9e-4 --steps 400 --out run1\n"
            "  nflow sample --model run1/model.h5 --n 1000 --out samples.h5\n\n"
            "Every command takes --help. The full manual is docs/cli.md.\n\n" CLI_EXIT_CODES_HELP);
}

/* NFLOW_CONV=im2col|dnnl: the couplings' convolution backend for every command
 * (nf_set_conv_backend; dnnl only in builds with NFLOW_DNNL). */
static int conv_backend_from_env(void) {
    const char *v = getenv("NFLOW_CONV");
    if (!v || !*v) return CLI_OK;
    nf_conv_backend b = NF_CONV_IM2COL;
    if (strcmp(v, "dnnl") == 0) b = NF_CONV_DNNL;
    else if (strcmp(v, "im2col") != 0) {
        fprintf(stderr, "nflow: NFLOW_CONV=%s: must be im2col or dnnl\n", v);
        return CLI_USAGE;
    }
    if (nf_set_conv_backend(b) != NF_OK) {
        fprintf(stderr, "nflow: NFLOW_CONV=%s: %s\n", v, nf_last_error());
        return CLI_USAGE;
    }
    return CLI_OK;
}

int main(int argc, char **argv) {
    cli_exit_guard();
    int rc_env = conv_backend_from_env();
    if (rc_env != CLI_OK) return rc_env;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("nflow %d.%d\n", NFLOW_VERSION_MAJOR, NFLOW_VERSION_MINOR);
        return CLI_OK;
    }
    int help = strcmp(name, "help") == 0;
    if (help) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        name = argv[2];
    }
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) != 0) continue;
        char *hargv[] = {(char *)name, "--help", NULL};
        int rc = help ? commands[i].run(2, hargv) : commands[i].run(argc - 1, argv + 1);
        return rc == CLI_HELP ? CLI_OK : rc;
    }
    fprintf(stderr, "nflow: unknown command '%s' (commands: train sample eval encode decode info plot data demo; "
                    "see 'nflow --help')\n", name);
    return CLI_USAGE;
}
