/* nflow eval: the objective, negative log-likelihood and bits/dim of a model on data. */
#include "args.h"
#include "cli.h"
#include "datasrc.h"

#include <string.h>

static const char help[] =
    "NAME\n"
    "  nflow eval - negative log-likelihood and bits/dim of a model on a dataset\n\n"
    "SYNOPSIS\n"
    "  nflow eval --model FILE --data SPEC [--limit N] [--n N] [--batch B] [--seed S]\n"
    "             [--layout L] [--json] [--threads N] [--cond SPEC]\n\n"
    "DESCRIPTION\n"
    "  Evaluates the model on the samples of SPEC in file order, batch by batch, and\n"
    "  prints the mean objective 0.5|z|^2 - logdet per sample (nats, without the Gaussian\n"
    "  2 pi term, the number the tutorials report; 1.0 is the best possible for the\n"
    "  banana), its two parts, the negative log-likelihood -log p(x) per sample in the\n"
    "  data's own units, and bits per dimension. Integer data is dequantised with noise\n"
    "  from a fixed seed, so the same model and data give the same numbers. A conditional\n"
    "  model (trained with --cond) is evaluated on the pairs of --data and --cond: the\n"
    "  numbers are then those of -log p(x | y) (of the joint -log p(x, y) for a model with\n"
    "  a cond_hint or cond_hint_conv layer, which models y too).\n\n"
    "OPTIONS\n"
    "  --model FILE   model or checkpoint file (required)\n"
    "  --data SPEC    FILE.h5:/DATASET, or toy:NAME for fresh samples (required)\n"
    "  --limit N      evaluate only the first N samples [all]\n"
    "  --n N          toy data: samples drawn [10000]\n"
    "  --batch B      samples per forward pass [256]\n"
    "  --seed S       toy data: the seed of the fresh samples [12345]\n" CLI_LAYOUT_HELP
    "  --cond SPEC    conditional models: the conditions, FILE.h5:/DATASET of the same N\n"
    "                 (or /DATASET in --data's file)\n"
    "  --json         print one JSON object instead of the table\n"
    "  --threads N    OpenMP/OpenBLAS threads [from the environment]\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLES\n"
    "  nflow eval --model banana/model.h5 --data toy:banana\n"
    "  nflow eval --model fmnist/model.h5 --data fmnist.h5:/test/x --json\n";

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *spec = NULL, *cond = NULL;
    long limit = 0, n = 10000, seed = 12345;
    int batch = 256, json = 0, threads = 0, layout = NF_LAYOUT_AUTO;
    cli_opt opts[] = {
        {"model", OPT_STR, &model},
        {"data", OPT_STR, &spec},
        {"cond", OPT_STR, &cond},
        {"limit", OPT_LONG, &limit, 1, 1e15},
        {"n", OPT_LONG, &n, 1, 1 << 30},
        {"batch", OPT_INT, &batch, 1, 1 << 20},
        {"seed", OPT_LONG, &seed, 0, 1e15},
        {"json", OPT_FLAG, &json},
        {"layout", OPT_CHOICE, &layout, 0, 0, CLI_LAYOUT_CHOICES},
        {"threads", OPT_INT, &threads, 1, 1024},
        OPT_END,
    };
    int rc = cli_parse("eval", argc, argv, opts, help, NULL, 0, NULL);
    if (rc != CLI_OK) return rc;
    if (!model || !spec) return cli_error(CLI_USAGE, "eval", "--model and --data are required (see --help)");
    if ((rc = cli_set_threads("eval", threads)) != CLI_OK) return rc;
    nf_flow *f = NULL;
    if ((rc = cli_load_model("eval", model, &f)) != CLI_OK) return rc;
    cli_data d;
    memset(&d, 0, sizeof d);
    cli_data_options o = {.batch = batch, .seed = (uint64_t)seed, .toy_size = n, .dequantize = 1,
                          .normalize = NF_NORM_AUTO, .layout = (nf_layout)layout, .cond = cond};
    if (cond && data_spec_is_toy(spec)) rc = cli_error(CLI_USAGE, "eval", "--cond needs HDF5 data, not %s", spec);
    if (rc == CLI_OK) rc = data_open(&d, "eval", spec, &o);
    if (rc == CLI_OK) rc = cli_check_shape("eval", f, d.shape, spec);
    if (rc == CLI_OK) rc = cli_check_cond("eval", f, d.cond_shape, cond);
    nf_loss_stats st;
    if (rc == CLI_OK) {
        nf_status s = data_evaluate(f, &d, batch, limit, &st);
        if (s != NF_OK) rc = cli_nf_error(s, "eval", "evaluating");
    }
    if (rc == CLI_OK) {
        long long count = limit > 0 && limit < d.size ? limit : d.size;
        size_t D = nf_shape_sample_count(f->in);
        double nll = data_nll(st.loss, D, d.nll_offset);
        if (json)
            printf("{\"samples\":%lld,\"objective\":%.9g,\"half_sq\":%.9g,\"logdet\":%.9g,\"nll\":%.9g,"
                   "\"bits_per_dim\":%.9g,\"dims\":%zu}\n",
                   count, st.loss, st.half_sq, st.logdet, nll, st.bits_per_dim, D);
        else
            printf("samples       %lld of %zu dimensions (%s)\n"
                   "objective     %.4f nats/sample  (mean 0.5|z|^2 - logdet)\n"
                   "  0.5|z|^2    %.4f\n"
                   "  logdet      %.4f\n"
                   "nll           %.4f nats/sample  (-log p(x) in the data's units)\n"
                   "bits/dim      %.4f\n",
                   count, D, spec, st.loss, st.half_sq, st.logdet, nll, st.bits_per_dim);
    }
    data_close(&d);
    nf_flow_destroy(f);
    return rc;
}
