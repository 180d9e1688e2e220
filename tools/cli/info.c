/* nflow info: what a model or checkpoint file holds, and what training it costs. */
#include "args.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "NAME\n"
    "  nflow info - architecture, parameters, memory and training state of a model file\n\n"
    "SYNOPSIS\n"
    "  nflow info FILE [--batch B] [--no-measure] [--json]\n\n"
    "DESCRIPTION\n"
    "  Prints the flow type, the input shape, every architecture hyper-parameter, the\n"
    "  number of layers and parameters (trainable and frozen), and for a checkpoint the\n"
    "  training state (iteration, epoch, Adam step and learning rate). Unless --no-measure\n"
    "  is given it runs one training step on a batch of B Gaussian samples and reports the\n"
    "  measured peak of nflow's own allocations: parameters, gradients, Adam moments and\n"
    "  activations; with invertible backpropagation the activation part does not grow with\n"
    "  the number of layers.\n\n"
    "OPTIONS\n"
    "  --batch B      batch size of the memory measurement [64]\n"
    "  --no-measure   skip the measurement\n"
    "  --json         one JSON object instead of the text\n\n" CLI_EXIT_CODES_HELP
    "\nEXAMPLE\n"
    "  nflow info banana/checkpoint.h5\n";

static const char *mib(char *buf, size_t n, double bytes) {
    if (bytes < 1024 * 1024) snprintf(buf, n, "%.1f KiB", bytes / 1024);
    else snprintf(buf, n, "%.1f MiB", bytes / (1024.0 * 1024.0));
    return buf;
}

/* Peak bytes of one training step at batch B, measured. */
static nf_status measure(nf_flow *f, int batch, size_t *peak) {
    nf_shape s = f->in, c = f->cond;
    nf_tensor x, y = {0};
    nf_adam opt;
    nf_rng rng;
    nf_rng_seed(&rng, 1);
    nf_mem_reset_peak();
    nf_status st = nf_tensor_alloc(&x, batch, s.c, s.d, s.h, s.w);
    if (st != NF_OK) return st;
    nf_rng_fill_normal(&rng, x.data, nf_tensor_count(&x), 0.5);
    if (nf_flow_is_conditional(f) && (st = nf_tensor_alloc(&y, batch, c.c, c.d, c.h, c.w)) == NF_OK)
        nf_rng_fill_normal(&rng, y.data, nf_tensor_count(&y), 0.5); /* a condition of the model's shape */
    if (st == NF_OK) st = nf_adam_init(&opt, nf_flow_num_params(f), 1e-9);
    nf_loss_stats ls;
    if (st == NF_OK) {
        st = nf_train_step(f, &opt, &x, y.data ? &y : NULL, &ls);
        nf_adam_free(&opt);
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    *peak = nf_mem_peak(); /* everything nflow holds, the loaded model included */
    return st;
}

int cmd_info(int argc, char **argv) {
    int batch = 64, no_measure = 0, json = 0;
    cli_opt opts[] = {
        {"batch", OPT_INT, &batch, 1, 1 << 20},
        {"no-measure", OPT_FLAG, &no_measure},
        {"json", OPT_FLAG, &json},
        OPT_END,
    };
    char *pos[1];
    int npos = 0;
    int rc = cli_parse("info", argc, argv, opts, help, pos, 1, &npos);
    if (rc != CLI_OK) return rc;
    if (npos != 1) return cli_error(CLI_USAGE, "info", "expected one model or checkpoint file (see --help)");
    const char *path = pos[0];
    nf_flow *f = NULL;
    if ((rc = cli_load_model("info", path, &f)) != CLI_OK) return rc;
    size_t P = nf_flow_num_params(f), frozen = 0;
    for (size_t i = 0; i < P; i++) frozen += f->params.frozen && f->params.frozen[i];
    size_t peak = 0;
    nf_status ms = no_measure ? NF_OK : measure(f, batch, &peak);
    /* A checkpoint also loads as one; a model file does not. */
    nf_flow *g = NULL;
    nf_adam opt;
    nf_train_state ts;
    int ckpt = nf_checkpoint_load(&g, &opt, &ts, path) == NF_OK;
    const nf_glow_config *c = nf_glow_get_config(f);
    nf_shape s = f->in;
    char b1[32], b2[32];
    char coupling[64];
    if (json) {
        printf("{\"file\":\"%s\",\"kind\":\"%s\",\"flow\":\"%s\",\"input\":[%d,%d,%d,%d],\"layers\":%d,"
               "\"parameters\":%zu,\"frozen\":%zu",
               path, ckpt ? "checkpoint" : "model", f->ops->name, s.c, s.d, s.h, s.w, f->nlayers, P, frozen);
        if (c)
            printf(",\"levels\":%d,\"depth\":%d,\"hidden\":%d,\"coupling\":\"%s\",\"coupling_min_scale\":%g,"
                   "\"squeeze\":\"%s\",\"conv1x1\":\"%s\",\"learn_prior\":%d",
                   c->levels, c->steps, c->hidden, c->coupling ? "additive" : "affine", c->coupling_min_scale,
                   !c->multiscale ? "none" : c->squeeze ? "haar" : "space", c->conv1x1 ? "householder" : "lu",
                   c->learn_prior);
        if (nf_flow_is_conditional(f))
            printf(",\"cond\":[%d,%d,%d,%d]", f->cond.c, f->cond.d, f->cond.h, f->cond.w);
        if (ckpt) printf(",\"iteration\":%ld,\"epoch\":%ld,\"adam_step\":%ld,\"lr\":%g", ts.iteration, ts.epoch, opt.step, opt.lr);
        if (!no_measure && ms == NF_OK) printf(",\"train_peak_bytes\":%zu,\"batch\":%d", peak, batch);
        printf("}\n");
    } else {
        printf("file          %s (%s)\n", path, ckpt ? "checkpoint" : "model");
        printf("flow          %s\n", f->ops->name);
        printf("input         %d x %d x %d x %d (c x d x h x w), %zu dimensions\n", s.c, s.d, s.h, s.w,
               nf_shape_sample_count(s));
        if (nf_flow_is_conditional(f))
            printf("condition     %d x %d x %d x %d (c x d x h x w): p(x | y)%s\n", f->cond.c, f->cond.d, f->cond.h,
                   f->cond.w, c ? ", y through its ActNorm, squeezed with x, read by every coupling" : "");
        if (c)
            printf("architecture  L=%d K=%d hidden %d, %s, %s 1x1 conv, %s, %s\n", c->levels, c->steps, c->hidden,
                   cli_coupling_text(c, coupling, sizeof coupling), c->conv1x1 ? "Householder" : "LU",
                   !c->multiscale ? "no squeeze" : c->squeeze ? "Haar squeeze + split" : "space squeeze + split",
                   cli_prior_text(c));
        if (nf_flow_is_sequential(f)) {
            char *buf = NULL;
            size_t need = 0;
            nf_sequential_describe(f, NULL, 0, &need);
            if (need && (buf = malloc(need)) && nf_sequential_describe(f, buf, need, NULL) == NF_OK)
                printf("architecture\n%s\n", buf);
            free(buf);
        }
        printf("layers        %d\n", f->nlayers);
        printf("parameters    %zu (%s), %zu frozen\n", P, mib(b1, sizeof b1, (double)P * sizeof(nf_real)), frozen);
        if (ckpt) printf("training      iteration %ld, epoch %ld, Adam step %ld, lr %g\n", ts.iteration, ts.epoch, opt.step,
                         opt.lr);
        if (!no_measure && ms == NF_OK)
            printf("memory        %s peak for a training step at batch %d (parameters %s, gradients, Adam "
                   "moments, activations)\n",
                   mib(b1, sizeof b1, (double)peak), batch, mib(b2, sizeof b2, (double)P * sizeof(nf_real)));
    }
    if (!no_measure && ms != NF_OK) rc = cli_nf_error(ms, "info", "measuring a training step");
    if (ckpt) {
        nf_adam_free(&opt);
        nf_flow_destroy(g);
    }
    nf_flow_destroy(f);
    return rc;
}
