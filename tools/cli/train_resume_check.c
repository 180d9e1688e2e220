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
    snprintf(buf, size, "glow L=%d K=%d hidden %d, %s coupling (min scale %g), %s, %s 1x1", g->levels, g->steps,
             g->hidden, g->coupling == NF_COUPLING_ADDITIVE ? "additive" : "affine", g->coupling_min_scale,
             !g->multiscale ? "no squeeze" : g->squeeze == NF_SQUEEZE_HAAR ? "haar squeeze" : "space squeeze",
             g->conv1x1 == NF_CONV1X1_HOUSEHOLDER ? "householder" : "LU");
}

static int same_glow(const nf_glow_config *a, const nf_glow_config *b) {
    return a->levels == b->levels && a->steps == b->steps && a->hidden == b->hidden && a->coupling == b->coupling &&
           a->multiscale == b->multiscale && (!a->multiscale || a->squeeze == b->squeeze) &&
           a->conv1x1 == b->conv1x1 && (a->coupling != NF_COUPLING_AFFINE || a->coupling_min_scale == b->coupling_min_scale);
}

/* 1 if the sequential model f is what spec builds (compared in canonical form). */
static int same_spec(const nf_flow *f, const char *spec) {
    const char *has = nf_model_spec(f);
    nf_flow *m = NULL;
    nf_shape one = {1, f->in.c, f->in.d, f->in.h, f->in.w};
    int same = has && nf_model_from_spec(&m, one, spec, 0) == NF_OK && strcmp(nf_model_spec(m), has) == 0;
    nf_flow_destroy(m);
    return same;
}

/* The checkpoint's architecture against the flags of the run directory's args.txt. */
static int check_arch(const train_run_state *r) {
    const cli_train_config *c = r->c;
    if (!c->resume_args) return CLI_OK; /* no args.txt: the checkpoint alone says what to train */
    const nf_glow_config *g = nf_glow_get_config(r->f);
    const char *spec = nf_flow_is_model(r->f) ? nf_model_spec(r->f) : NULL;
    int same = c->spec ? spec && same_spec(r->f, c->spec) : g && same_glow(g, &c->glow);
    if (same) return CLI_OK;
    char has[512], want[512];
    if (g || spec) arch_text(has, sizeof has, g, spec);
    else snprintf(has, sizeof has, "%s flow", r->f->ops->name);
    arch_text(want, sizeof want, &c->glow, c->spec);
    return cli_error(CLI_DATA, "train", "%s is not this run's checkpoint: it holds a %s, the args.txt beside it a %s",
                     c->resume, has, want);
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
