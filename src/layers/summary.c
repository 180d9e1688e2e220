/* The summary network of a conditional flow: s = NN(y), y the condition (flattened),
 * s the features every conditional coupling takes after its xa. On x it is the
 * identity: it sits first in the flow's layer list only so that its parameters are bound,
 * initialised, saved and shown like any layer's. The flow calls cond_forward before a
 * pass and cond_backward after the backward walk, with ds = the sum over the couplings
 * of dloss/ds (ctx->dcond). Its l->cond stays zero: it reads y through its own calls,
 * not ctx->cond (which holds its output). */
#include "mlp.h"
#include "vec_layer.h"

#include <string.h>

typedef struct summary {
    nf_layer base;
    int C, features; /* y's values per sample, s's */
    nf_mlp net;      /* C -> features */
} summary;

static nf_status identity_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    (void)l, (void)x, (void)logdet, (void)ctx;
    return NF_OK;
}
static nf_status identity_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    (void)l, (void)y, (void)ctx;
    return NF_OK;
}
static nf_status identity_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    (void)l, (void)y, (void)dy, (void)ctx;
    return NF_OK;
}

/* workspace: the net's activations and scratch for a batch of n */
static size_t sm_workspace(const nf_layer *l, nf_shape in) {
    const summary *m = (const summary *)l;
    return nf_work_bytes(nf_mlp_acts_count(&m->net, in.n)) + nf_work_bytes(nf_mlp_scratch_count(&m->net, in.n));
}

static nf_status check_y(const summary *m, const nf_tensor *y, const nf_tensor *s, const nf_ctx *ctx, const char *fn) {
    if (!y || !y->data || !s || !s->data || !ctx) return nf_fail(NF_ERR_ARG, "summary %s: NULL argument", fn);
    if (nf_tensor_sample_count(y) != (size_t)m->C || nf_tensor_sample_count(s) != (size_t)m->features || y->n != s->n)
        return nf_fail(NF_ERR_SHAPE, "summary %s: y has %d samples of %zu values and s %d of %zu, expected %d and %d",
                       fn, y->n, nf_tensor_sample_count(y), s->n, nf_tensor_sample_count(s), m->C, m->features);
    nf_shape in = m->base.in;
    in.n = y->n;
    if (ctx->work_bytes < sm_workspace(&m->base, in)) return nf_fail(NF_ERR_ARG, "summary %s: workspace too small", fn);
    return NF_OK;
}

static nf_real *run(summary *m, const nf_tensor *y, nf_ctx *ctx, nf_real **acts, nf_real **scratch) {
    size_t off = 0;
    *acts = nf_ctx_take(ctx, &off, nf_mlp_acts_count(&m->net, y->n));
    *scratch = nf_ctx_take(ctx, &off, nf_mlp_scratch_count(&m->net, y->n));
    return nf_mlp_forward(&m->net, m->base.param, y->data, y->n, *acts, *scratch);
}

static nf_status sm_cond_forward(nf_layer *l, const nf_tensor *y, nf_tensor *s, nf_ctx *ctx) {
    summary *m = (summary *)l;
    NF_TRY(check_y(m, y, s, ctx, "forward"));
    nf_real *acts, *scratch;
    const nf_real *out = run(m, y, ctx, &acts, &scratch);
    memcpy(s->data, out, (size_t)y->n * m->features * sizeof(nf_real));
    return NF_OK;
}

static nf_status sm_cond_backward(nf_layer *l, const nf_tensor *y, const nf_tensor *ds, nf_ctx *ctx) {
    summary *m = (summary *)l;
    NF_TRY(check_y(m, y, ds, ctx, "backward"));
    nf_real *acts, *scratch;
    run(m, y, ctx, &acts, &scratch);
    nf_mlp_backward(&m->net, l->param, l->grad, y->data, y->n, acts, ds->data, NULL, scratch);
    return NF_OK;
}

static int sm_cond_features(const nf_layer *l) { return ((const summary *)l)->features; }

static void sm_init_params(nf_layer *l, nf_rng *rng) { nf_mlp_init(&((summary *)l)->net, l->param, rng, 0); }

static int sm_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("net", 0, l->nparams, 0);
    return nf_vec_blocks(&b, 1, out, max);
}

static const nf_layer_ops summary_ops = {
    .name = "summary",
    .forward = identity_forward,
    .inverse = identity_inverse,
    .backward = identity_backward,
    .workspace = sm_workspace,
    .init_params = sm_init_params,
    .param_blocks = sm_param_blocks,
    .destroy = nf_vec_layer_free,
    .cond_features = sm_cond_features,
    .cond_forward = sm_cond_forward,
    .cond_backward = sm_cond_backward,
};

nf_status nf_summary_create(nf_layer **out, nf_shape in, nf_shape cond, nf_mlp_spec net, int features) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (cond.c <= 0 || cond.d <= 0 || cond.h <= 0 || cond.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "summary: condition shape (%d, %d, %d, %d) has a non-positive size", cond.c, cond.d,
                       cond.h, cond.w);
    if (features < 1 || features > (1 << 20))
        return nf_fail(NF_ERR_ARG, "summary: features must be in 1..%d, got %d", 1 << 20, features);
    NF_TRY(nf_vec_layer_new(out, sizeof(summary), &summary_ops, in, 0, "summary"));
    summary *m = (summary *)*out;
    m->C = (int)nf_shape_sample_count(cond);
    m->features = features;
    nf_status s = nf_mlp_setup(&m->net, "summary", m->C, net, features);
    if (s != NF_OK) {
        nf_free(m);
        *out = NULL;
        return s;
    }
    m->base.nparams = nf_mlp_nparams(&m->net);
    return NF_OK;
}
