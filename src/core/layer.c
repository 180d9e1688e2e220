/* Checked calls through a layer's ops table: the argument and shape checks live
 * here once, so each layer file holds only its mathematics. */
#include "nf_internal.h"

static int same_sample_shape(nf_shape a, nf_shape b) {
    return a.c == b.c && a.d == b.d && a.h == b.h && a.w == b.w;
}

static nf_status check_tensor(const char *fn, const nf_layer *l, const nf_tensor *t, nf_shape want,
                              const char *what) {
    if (!t->data) return nf_fail(NF_ERR_ARG, "%s(%s): %s has no data", fn, l->ops->name, what);
    if (t->n <= 0) return nf_fail(NF_ERR_SHAPE, "%s(%s): %s has batch size %d", fn, l->ops->name, what, t->n);
    nf_shape got = nf_tensor_shape(t);
    if (!same_sample_shape(got, want))
        return nf_fail(NF_ERR_SHAPE, "%s(%s): %s is (%d, %d, %d, %d) per sample, layer expects (%d, %d, %d, %d)", fn,
                       l->ops->name, what, got.c, got.d, got.h, got.w, want.c, want.d, want.h, want.w);
    return NF_OK;
}

static nf_status check_layer(const char *fn, const nf_layer *l, const nf_ctx *ctx) {
    if (!l || !l->ops) return nf_fail(NF_ERR_ARG, "%s: layer is NULL", fn);
    if (!ctx) return nf_fail(NF_ERR_ARG, "%s(%s): ctx is NULL", fn, l->ops->name);
    if (l->nparams && !l->param) return nf_fail(NF_ERR_STATE, "%s(%s): parameters are not bound (nf_params_bind)", fn, l->ops->name);
    return NF_OK;
}

/* A conditional layer needs ctx->cond (and takes ctx->dcond in backward) of t's batch and
 * its own cond shape; unconditional layers ignore both. */
static nf_status check_cond(const char *fn, const nf_layer *l, const nf_tensor *t, const nf_ctx *ctx, int backward) {
    if (l->cond.c <= 0) return NF_OK;
    if (!ctx->cond) return nf_fail(NF_ERR_ARG, "%s(%s): the layer is conditional and ctx->cond is NULL", fn, l->ops->name);
    NF_TRY(check_tensor(fn, l, ctx->cond, l->cond, "the condition"));
    if (ctx->cond->n != t->n)
        return nf_fail(NF_ERR_SHAPE, "%s(%s): the condition has %d samples, the batch %d", fn, l->ops->name,
                       ctx->cond->n, t->n);
    if (!backward || !ctx->dcond) return NF_OK;
    NF_TRY(check_tensor(fn, l, ctx->dcond, l->cond, "dcond"));
    if (ctx->dcond->n != t->n)
        return nf_fail(NF_ERR_SHAPE, "%s(%s): dcond has %d samples, the batch %d", fn, l->ops->name, ctx->dcond->n, t->n);
    return NF_OK;
}

static nf_status check_workspace(const char *fn, const nf_layer *l, const nf_tensor *t, const nf_ctx *ctx) {
    nf_shape in = l->in;
    in.n = t->n;
    size_t need = l->ops->workspace ? l->ops->workspace(l, in) : 0;
    if (ctx->work_bytes < need || (need && !ctx->work))
        return nf_fail(NF_ERR_ARG, "%s(%s): workspace holds %zu bytes, the layer needs %zu", fn, l->ops->name,
                       ctx->work_bytes, need);
    return NF_OK;
}

nf_status nf_layer_out_shape(const nf_layer *l, nf_shape in, nf_shape *out) {
    if (!l || !l->ops || !out) return nf_fail(NF_ERR_ARG, "nf_layer_out_shape: NULL argument");
    if (!l->ops->out_shape) {
        *out = in;
        return NF_OK;
    }
    return l->ops->out_shape(l, in, out);
}

static nf_shape layer_out(const nf_layer *l) {
    nf_shape out = l->in;
    if (l->ops->out_shape) l->ops->out_shape(l, l->in, &out);
    return out;
}

nf_status nf_layer_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    NF_TRY(check_layer(__func__, l, ctx));
    if (!x || !logdet) return nf_fail(NF_ERR_ARG, "%s(%s): x or logdet is NULL", __func__, l->ops->name);
    NF_TRY(check_tensor(__func__, l, x, l->in, "x"));
    NF_TRY(check_cond(__func__, l, x, ctx, 0));
    NF_TRY(check_workspace(__func__, l, x, ctx));
    return l->ops->forward(l, x, logdet, ctx);
}

nf_status nf_layer_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    NF_TRY(check_layer(__func__, l, ctx));
    if (!y) return nf_fail(NF_ERR_ARG, "%s(%s): y is NULL", __func__, l->ops->name);
    NF_TRY(check_tensor(__func__, l, y, layer_out(l), "y"));
    NF_TRY(check_cond(__func__, l, y, ctx, 0));
    NF_TRY(check_workspace(__func__, l, y, ctx));
    return l->ops->inverse(l, y, ctx);
}

nf_status nf_layer_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    NF_TRY(check_layer(__func__, l, ctx));
    if (!y || !dy) return nf_fail(NF_ERR_ARG, "%s(%s): y or dy is NULL", __func__, l->ops->name);
    nf_shape out = layer_out(l);
    NF_TRY(check_tensor(__func__, l, y, out, "y"));
    NF_TRY(check_tensor(__func__, l, dy, out, "dy"));
    if (dy->n != y->n) return nf_fail(NF_ERR_SHAPE, "%s(%s): y has %d samples, dy %d", __func__, l->ops->name, y->n, dy->n);
    NF_TRY(check_cond(__func__, l, y, ctx, 1));
    NF_TRY(check_workspace(__func__, l, y, ctx));
    return l->ops->backward(l, y, dy, ctx);
}

size_t nf_layer_workspace(const nf_layer *l, nf_shape in) {
    return (l && l->ops && l->ops->workspace) ? l->ops->workspace(l, in) : 0;
}

void nf_layer_destroy(nf_layer *l) {
    if (l && l->ops && l->ops->destroy) l->ops->destroy(l);
}
