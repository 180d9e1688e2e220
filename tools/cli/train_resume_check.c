/* What a resumed run checks before it continues: that the checkpoint is the run
 * directory's own (its architecture is the one args.txt gives) and that the data is the
 * data the checkpoint was trained on (nf_data_identity). A new run records its data. */
#include "train_internal.h"

#include "cli.h"

#include <stdio.h>
#include <string.h>

/* The identity of the training data: the stored dataset's, or the toy density's
 * samples (made from the seed and --train-size). */
static nf_status identity_of(cli_data *d, const char *spec, nf_data_identity *id) {
    return d->toy ? nf_data_identity_of_tensor(id, spec, &d->all) : nf_dataset_identity(d->ds, id);
}

/* "glow L=3 K=8 hidden 64, affine, space squeeze, LU" or "sequential SPEC". */
static void arch_text(char *buf, size_t size, const nf_glow_config *g, const char *spec) {
    if (spec) {
        snprintf(buf, size, "sequential %s", spec);
        return;
    }
    snprintf(buf, size, "glow L=%d K=%d hidden %d, %s coupling (min scale %g), %s, %s 1x1, %s", g->levels, g->steps,
             g->hidden, g->coupling == NF_COUPLING_ADDITIVE ? "additive" : "affine", g->coupling_min_scale,
             !g->multiscale ? "no squeeze" : g->squeeze == NF_SQUEEZE_HAAR ? "haar squeeze" : "space squeeze",
             g->conv1x1 == NF_CONV1X1_HOUSEHOLDER ? "householder" : "LU", cli_prior_text(g));
}

/* The Glow flags args.txt gives (bits of given) against the checkpoint's: flags it
 * leaves out are not compared, as their defaults may differ between nflow versions. */
static int same_glow(const nf_glow_config *a, const nf_glow_config *b, unsigned given) {
#define DIFF(flag, cond) ((given >> (flag) & 1u) && (cond))
    return !(DIFF(CLI_ARCH_LEVELS, a->levels != b->levels) || DIFF(CLI_ARCH_DEPTH, a->steps != b->steps) ||
             DIFF(CLI_ARCH_HIDDEN, a->hidden != b->hidden) || DIFF(CLI_ARCH_COUPLING, a->coupling != b->coupling) ||
             DIFF(CLI_ARCH_SQUEEZE, a->multiscale != b->multiscale || (a->multiscale && a->squeeze != b->squeeze)) ||
             DIFF(CLI_ARCH_CONV1X1, a->conv1x1 != b->conv1x1) ||
             DIFF(CLI_ARCH_MIN_SCALE, a->coupling == NF_COUPLING_AFFINE && a->coupling_min_scale != b->coupling_min_scale) ||
             DIFF(CLI_ARCH_LEARN_PRIOR, a->learn_prior != b->learn_prior) ||
             DIFF(CLI_ARCH_NO_LEARN_PRIOR, a->learn_prior != b->learn_prior));
#undef DIFF
}

/* 1 if the sequential model f is what spec builds (compared in canonical form). */
static int same_spec(const nf_flow *f, const char *spec) {
    const char *has = nf_sequential_spec(f);
    nf_flow *m = NULL;
    nf_shape one = {1, f->in.c, f->in.d, f->in.h, f->in.w};
    int same = has && nf_sequential_from_spec_cond(&m, one, f->cond, spec, 0) == NF_OK &&
               strcmp(nf_sequential_spec(m), has) == 0;
    nf_flow_destroy(m);
    return same;
}

/* "a glow L=1 K=2 ..." of the flow f. */
static void flow_text(char *buf, size_t size, const nf_flow *f) {
    const nf_glow_config *g = nf_glow_get_config(f);
    const char *spec = nf_flow_is_sequential(f) ? nf_sequential_spec(f) : NULL;
    if (g || spec) arch_text(buf, size, g, spec);
    else snprintf(buf, size, "%s flow", f->ops->name);
}

/* 1 if flows a and b have the same architecture (kind, every hyper-parameter). */
static int same_flow(const nf_flow *a, const nf_flow *b) {
    const nf_glow_config *ga = nf_glow_get_config(a), *gb = nf_glow_get_config(b);
    const char *sa = nf_flow_is_sequential(a) ? nf_sequential_spec(a) : NULL;
    const char *sb = nf_flow_is_sequential(b) ? nf_sequential_spec(b) : NULL;
    if (strcmp(a->ops->name, b->ops->name) || nf_flow_num_params(a) != nf_flow_num_params(b)) return 0;
    if (ga && gb) return same_glow(ga, gb, ~0u);
    return !sa || !sb || strcmp(sa, sb) == 0;
}

/* The checkpoint's architecture against its run directory: the kind and each
 * hyper-parameter that args.txt sets, then every hyper-parameter of the run's model.h5
 * when there is one (flags args.txt leaves out take defaults that may differ between
 * nflow versions; the model file does not). */
static int check_arch(const train_run_state *r) {
    const cli_train_config *c = r->c;
    if (!c->resume_args) return CLI_OK; /* no args.txt: the checkpoint alone says what to train */
    const nf_glow_config *g = nf_glow_get_config(r->f);
    const char *spec = nf_flow_is_sequential(r->f) ? nf_sequential_spec(r->f) : NULL;
    int same = c->spec ? spec && (!(c->resume_arch >> CLI_ARCH_SPEC & 1u) || same_spec(r->f, c->spec))
                       : g && same_glow(g, &c->glow, c->resume_arch);
    char has[512], want[512], path[4200];
    flow_text(has, sizeof has, r->f);
    if (!same) {
        arch_text(want, sizeof want, &c->glow, c->spec);
        return cli_error(CLI_DATA, "train", "%s is not this run's checkpoint: it holds a %s, the args.txt beside it a %s",
                         c->resume, has, want);
    }
    const char *slash = strrchr(c->resume, '/');
    snprintf(path, sizeof path, "%.*s/model.h5", slash ? (int)(slash - c->resume) : 1, slash ? c->resume : ".");
    nf_flow *m = NULL;
    if (nf_model_load(&m, path) != NF_OK) return CLI_OK; /* none yet (or unreadable: not this check's business) */
    same = same_flow(r->f, m);
    flow_text(want, sizeof want, m);
    nf_flow_destroy(m);
    if (same) return CLI_OK;
    return cli_error(CLI_DATA, "train", "%s is not this run's checkpoint: it holds a %s, the run's %s a %s", c->resume,
                     has, path, want);
}

int train_resume_check(train_run_state *r) {
    const cli_train_config *c = r->c;
    nf_data_identity now;
    nf_status st = identity_of(&r->train, c->data, &now);
    if (st != NF_OK) return cli_nf_error(st, "train", c->data);
    if (c->resume) {
        int rc = check_arch(r);
        if (rc != CLI_OK) return rc;
        const nf_data_identity *was = nf_flow_data_identity(r->f);
        char why[400];
        if (was && !c->allow_data_change && nf_data_identity_differs(was, &now, why, sizeof why))
            return cli_error(CLI_DATA, "train", "the data changed since %s was written: %s: %s (the checkpoint was "
                             "trained on %s; --allow-data-change resumes anyway)", c->resume, c->data, why, was->source);
    }
    st = nf_flow_set_data_identity(r->f, &now);
    return st == NF_OK ? CLI_OK : cli_nf_error(st, "train", "recording the data");
}
