/* Conditional HINT (InvertibleNetworks.jl's NetworkConditionalHINT, Kruse et al. 2021) for
 * vectors: x (D values) and the condition y (S values, ctx->cond) are transformed jointly,
 * K steps, each (with r the reversal of a sample's values):
 *     yp_k = r(y_{k-1}),   y_k = Hy_k(yp_k)                        (the y branch)
 *     x_k  = A_k(Hx_k(r(x_{k-1})); yp_k),  A: x <- exp(s(yp)) x + t(yp)  (the x branch)
 * Hx, Hy are HINT layers (hint.c) and A the affine step whose s, t nets see all of yp
 * (InvertibleNetworks.jl's CL_YX, a CouplingLayerBasic conditioned on the y lane). The
 * map (x, y) -> (zx, zy) is block triangular, so p(x, y) = p(x | y) p(y) with
 *     log p(x | y) = log N(zx) + log|det dzx/dx|,   log p(y) = log N(zy) + log|det dzy/dy|.
 * The layer adds log|det dzx/dx| + log p(y) to logdet: a flow's log N(zx) + logdet is then
 * the joint log p(x, y), which is what training maximises (as InvertibleNetworks.jl does).
 * For one y the extra term is a constant, so samples x = f^-1(zx; y) (zy = fy(y) forward,
 * then the steps inverted with it fixed) are drawn from p(x | y). y is an input: every
 * call runs the y branch forward from it and, where it walks the steps backwards, inverts
 * it step by step beside x, so nothing is stored between calls. */
#include "affine_core.h"
#include "layers/cond_hint_lane.h"
#include "vec_layer.h"

#include <string.h>

typedef struct chint_step {
    nf_layer *hx, *hy;   /* HINT on x (the layer's shape) and on y ((S, 1, 1, 1)) */
    nf_affine_core a;    /* S -> D: x's affine step given yp */
    size_t ox, oa, oy;   /* their parameters in the layer's view */
} chint_step;

typedef struct cond_hint {
    nf_layer base;
    int steps, S;
    chint_step *step;    /* (steps) */
} cond_hint;

/* ---------------------------------------------------------------- workspace */

/* The children's parameter views, set on every call (the layer's own view may be rebound). */
static void bind(cond_hint *h) {
    for (int k = 0; k < h->steps; k++) {
        chint_step *s = &h->step[k];
        s->hx->param = h->base.param + s->ox, s->hx->grad = h->base.grad ? h->base.grad + s->ox : NULL;
        s->hy->param = h->base.param + s->oy, s->hy->grad = h->base.grad ? h->base.grad + s->oy : NULL;
    }
}

static size_t chint_workspace(const nf_layer *l, nf_shape in) {
    const cond_hint *h = (const cond_hint *)l;
    nf_shape ys = nf_cond_shape(h->S);
    ys.n = in.n;
    size_t child = 0;
    for (int k = 0; k < h->steps; k++) {
        const chint_step *s = &h->step[k];
        size_t w[3] = {nf_layer_workspace(s->hx, in), nf_layer_workspace(s->hy, ys),
                       nf_work_bytes(nf_affine_core_work_count(&s->a, in.n))};
        for (int i = 0; i < 3; i++) child = w[i] > child ? w[i] : child;
    }
    return nf_ylane_bytes(nf_cond_shape(h->S), in.n) + child;
}

/* The y lane of n samples, carved from ctx. */
static nf_ylane take(const cond_hint *h, int n, nf_ctx *ctx) { return nf_ylane_take(ctx, nf_cond_shape(h->S), n); }

static nf_real *core_work(nf_ylane *w) { return (nf_real *)w->sub.work; }

/* Reverses each sample's values of t in place (r above; its own inverse and transpose). */
static void reverse(nf_tensor *t) {
    size_t D = nf_tensor_sample_count(t);
    for (int b = 0; b < t->n; b++) {
        nf_real *v = t->data + (size_t)b * D;
        for (size_t i = 0, j = D - 1; i < j; i++, j--) {
            nf_real tmp = v[i];
            v[i] = v[j], v[j] = tmp;
        }
    }
}

/* ---------------------------------------------------------------- passes */

/* w->y <- zy = fy(y); logdet[b] += log|det dzy/dy|. */
static nf_status y_forward(cond_hint *h, const nf_tensor *y, double *logdet, nf_ylane *w) {
    memcpy(w->y.data, y->data, sizeof(nf_real) * (size_t)y->n * h->S);
    for (int k = 0; k < h->steps; k++) {
        reverse(&w->y);
        NF_TRY(nf_layer_forward(h->step[k].hy, &w->y, logdet, &w->sub));
    }
    return NF_OK;
}

static nf_status chint_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    cond_hint *h = (cond_hint *)l;
    bind(h);
    nf_ylane w = take(h, x->n, ctx);
    memcpy(w.y.data, ctx->cond->data, sizeof(nf_real) * (size_t)x->n * h->S);
    for (int k = 0; k < h->steps; k++) {
        chint_step *s = &h->step[k];
        reverse(&w.y); /* yp_k */
        reverse(x);
        NF_TRY(nf_layer_forward(s->hx, x, logdet, &w.sub));
        nf_affine_core_forward(&s->a, l->param + s->oa, w.y.data, x->data, x->n, logdet, core_work(&w));
        NF_TRY(nf_layer_forward(s->hy, &w.y, logdet, &w.sub));
    }
    nf_add_log_normal(&w.y, logdet);
    return NF_OK;
}

static nf_status chint_inverse(nf_layer *l, nf_tensor *x, nf_ctx *ctx) {
    cond_hint *h = (cond_hint *)l;
    bind(h);
    nf_ylane w = take(h, x->n, ctx);
    NF_TRY(y_forward(h, ctx->cond, w.ld, &w));
    for (int k = h->steps - 1; k >= 0; k--) {
        chint_step *s = &h->step[k];
        NF_TRY(nf_layer_inverse(s->hy, &w.y, &w.sub)); /* yp_k */
        nf_affine_core_inverse(&s->a, l->param + s->oa, w.y.data, x->data, x->n, core_work(&w));
        NF_TRY(nf_layer_inverse(s->hx, x, &w.sub));
        reverse(x);
        reverse(&w.y);
    }
    return NF_OK;
}

/* The y lane starts from its loss's gradient at zy (nf_ylane_seed_grad). */
static nf_status chint_backward(nf_layer *l, nf_tensor *x, nf_tensor *dx, nf_ctx *ctx) {
    cond_hint *h = (cond_hint *)l;
    bind(h);
    nf_ylane w = take(h, x->n, ctx);
    NF_TRY(y_forward(h, ctx->cond, w.ld, &w));
    nf_ylane_seed_grad(&w, ctx->dlogdet);
    for (int k = h->steps - 1; k >= 0; k--) {
        chint_step *s = &h->step[k];
        NF_TRY(nf_layer_backward(s->hy, &w.y, &w.dy, &w.sub)); /* yp_k and dloss/dyp_k by the y lane */
        nf_affine_core_backward(&s->a, l->param + s->oa, l->grad + s->oa, w.y.data, x->data, dx->data, w.dy.data,
                                x->n, ctx->dlogdet, core_work(&w));
        NF_TRY(nf_layer_backward(s->hx, x, dx, &w.sub));
        reverse(x), reverse(dx);
        reverse(&w.y), reverse(&w.dy);
    }
    nf_ylane_add_dcond(&w, ctx->dcond);
    return NF_OK;
}

/* ---------------------------------------------------------------- the rest */

static void chint_init_params(nf_layer *l, nf_rng *rng) {
    cond_hint *h = (cond_hint *)l;
    bind(h);
    for (int k = 0; k < h->steps; k++) {
        chint_step *s = &h->step[k];
        s->hx->ops->init_params(s->hx, rng);
        nf_affine_core_init(&s->a, l->param + s->oa, rng);
        s->hy->ops->init_params(s->hy, rng);
    }
}

static int chint_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("nets", 0, l->nparams, 0);
    return nf_vec_blocks(&b, 1, out, max);
}

static void chint_destroy(nf_layer *l) {
    cond_hint *h = (cond_hint *)l;
    for (int k = 0; h->step && k < h->steps; k++) {
        nf_layer_destroy(h->step[k].hx);
        nf_layer_destroy(h->step[k].hy);
    }
    nf_free(h->step);
    nf_free(l);
}

static const nf_layer_ops cond_hint_ops = {
    .name = "cond_hint",
    .forward = chint_forward,
    .inverse = chint_inverse,
    .backward = chint_backward,
    .workspace = chint_workspace,
    .init_params = chint_init_params,
    .param_blocks = chint_param_blocks,
    .destroy = chint_destroy,
};

static nf_status build(cond_hint *h, nf_shape in, nf_mlp_spec net) {
    size_t off = 0;
    for (int k = 0; k < h->steps; k++) {
        chint_step *s = &h->step[k];
        NF_TRY(nf_hint_create(&s->hx, in, net));
        NF_TRY(nf_affine_core_setup(&s->a, "cond_hint", h->S, (int)nf_shape_sample_count(in), net, 1, 0));
        NF_TRY(nf_hint_create(&s->hy, nf_cond_shape(h->S), net));
        s->ox = off, off += s->hx->nparams;
        s->oa = off, off += nf_affine_core_nparams(&s->a);
        s->oy = off, off += s->hy->nparams;
    }
    h->base.nparams = off;
    return NF_OK;
}

nf_status nf_cond_hint_create(nf_layer **out, nf_shape in, int features, nf_mlp_spec net, int steps) {
    NF_CHECK_NULL(out);
    *out = NULL;
    size_t D = nf_shape_sample_count(in);
    if (in.c > 0 && in.d > 0 && in.h > 0 && in.w > 0 && (D < 2 || D > 1 << 24))
        return nf_fail(NF_ERR_SHAPE, "cond_hint: x needs 2..%d values per sample, got %zu", 1 << 24, D);
    if (features < 2 || features > 1 << 24)
        return nf_fail(NF_ERR_SHAPE, "cond_hint: the condition needs 2..%d values per sample, got %d", 1 << 24,
                       features);
    if (steps < 1 || steps > 256) return nf_fail(NF_ERR_ARG, "cond_hint: steps = %d, expected 1..256", steps);
    NF_TRY(nf_vec_layer_new(out, sizeof(cond_hint), &cond_hint_ops, in, 0, "cond_hint"));
    cond_hint *h = (cond_hint *)*out;
    h->base.cond = nf_cond_shape(features);
    h->steps = steps, h->S = features;
    h->step = nf_calloc((size_t)steps, sizeof *h->step);
    nf_status s = h->step ? build(h, in, net) : nf_fail(NF_ERR_NOMEM, "cond_hint: out of memory");
    if (s != NF_OK) {
        chint_destroy(*out);
        *out = NULL;
    }
    return s;
}

nf_status nf_cond_hint_encode_y(nf_layer *l, const nf_tensor *y, nf_tensor *zy, double *logdet) {
    NF_CHECK_NULL(l);
    NF_CHECK_NULL(y);
    NF_CHECK_NULL(zy);
    NF_CHECK_NULL(logdet);
    if (l->ops != &cond_hint_ops) return nf_fail(NF_ERR_ARG, "nf_cond_hint_encode_y: layer is %s, not cond_hint",
                                                 l->ops ? l->ops->name : "?");
    cond_hint *h = (cond_hint *)l;
    if (nf_tensor_sample_count(y) != (size_t)h->S || nf_tensor_sample_count(zy) != (size_t)h->S || zy->n != y->n)
        return nf_fail(NF_ERR_SHAPE, "nf_cond_hint_encode_y: y and zy need %d values per sample and one batch size",
                       h->S);
    if (!l->param) return nf_fail(NF_ERR_STATE, "nf_cond_hint_encode_y: parameters are not bound (nf_params_bind)");
    bind(h);
    nf_ctx ctx = {0};
    nf_shape in = l->in;
    in.n = y->n;
    NF_TRY(nf_ctx_reserve(&ctx, chint_workspace(l, in)));
    nf_ylane w = take(h, y->n, &ctx);
    nf_status s = y_forward(h, y, logdet, &w);
    if (s == NF_OK) memcpy(zy->data, w.y.data, sizeof(nf_real) * (size_t)y->n * h->S);
    nf_ctx_free(&ctx);
    return s;
}
