/* Conditional HINT for images and volumes (InvertibleNetworks.jl's NetworkConditionalHINT
 * with ConditionalLayerHINT, Kruse et al. 2021): x (c, d, h, w) and the condition y
 * (cy, d, h, w, ctx->cond) are transformed jointly, K steps, each
 *     yp_k = Cy_k(ANy_k(y_{k-1})),   y_k = Hy_k(yp_k)                        (the y lane)
 *     x_k  = A_k(Hx_k(Cx_k(ANx_k(x_{k-1}))); yp_k)                          (the x lane)
 * AN is ActNorm (data-initialised on the first batch), C a Householder 1x1 convolution
 * (orthogonal, logdet 0), H a channel HINT tree of image affine couplings (hint_conv.c)
 * and A the image affine coupling that scales and shifts all of x by s, t = NN(yp)
 * (InvertibleNetworks.jl's CL_YX; NN the conv sub-network of coupling_subnet.h reading
 * yp alone). The map is block triangular, so p(x, y) = p(x | y) p(y) and the layer adds
 * log|det dzx/dx| + log p(y) to logdet, log p(y) = log N(zy) + log|det dzy/dy| (as the
 * vector layer, cond_hint.c). Posterior samples: zy = fy(y) forward, then the steps
 * inverted with it fixed. y is an input: every call runs the y lane forward from it and,
 * where it walks the steps backwards, inverts it step by step beside x, so nothing is
 * stored between calls and memory does not grow with K.
 * The sequential flow hands the condition as (n, cy*d*h*w, 1, 1, 1) rows (l->cond); the
 * layer reads them as y's images. */
#include "layers/cond_hint_lane.h"
#include "layers/coupling_subnet.h"
#include "layers/hint_conv.h"

#include <string.h>

enum { ANX = NF_CHC_ANX, CX, HX, A, ANY, CY, HY, NCHILD }; /* a step's layers, in parameter order (hint_conv.h) */
_Static_assert((int)NCHILD == (int)NF_CHC_PARTS, "hint_conv.h lists the parts");

typedef struct chc_step {
    nf_layer *l[NCHILD];
    size_t off[NCHILD];  /* their parameters in the layer's view */
} chc_step;

typedef struct cond_hint_conv {
    nf_layer base;
    int steps;
    nf_shape ys;         /* y's per-sample shape (cy, d, h, w) */
    chc_step *step;      /* (steps) */
} cond_hint_conv;

/* ---------------------------------------------------------------- workspace */

/* The children's parameter views, set on every call (the layer's own view may be rebound),
 * and their ActNorms marked initialised once the layer is (its flag is what model files keep). */
static void bind(cond_hint_conv *h) {
    for (int k = 0; k < h->steps; k++)
        for (int i = 0; i < NCHILD; i++) {
            nf_layer *c = h->step[k].l[i];
            c->param = h->base.param + h->step[k].off[i];
            c->grad = h->base.grad ? h->base.grad + h->step[k].off[i] : NULL;
            if (h->base.initialized) c->initialized = 1;
        }
}

static nf_shape lane_shape(const cond_hint_conv *h, int i, nf_shape in) {
    nf_shape s = i >= ANY ? h->ys : in;
    s.n = in.n;
    return s;
}

static size_t chc_workspace(const nf_layer *l, nf_shape in) {
    const cond_hint_conv *h = (const cond_hint_conv *)l;
    size_t child = 0;
    for (int k = 0; k < h->steps; k++)
        for (int i = 0; i < NCHILD; i++) {
            size_t w = nf_layer_workspace(h->step[k].l[i], lane_shape(h, i, in));
            child = w > child ? w : child;
        }
    return nf_ylane_bytes(h->ys, in.n) + child;
}

/* ---------------------------------------------------------------- passes */

static nf_status y_pre_forward(chc_step *s, nf_ylane *w, double *logdet) {
    NF_TRY(nf_layer_forward(s->l[ANY], &w->y, logdet, &w->sub));
    return nf_layer_forward(s->l[CY], &w->y, logdet, &w->sub);
}

/* w->y <- zy = fy(y); logdet[b] += log|det dzy/dy|. */
static nf_status y_forward(cond_hint_conv *h, const nf_tensor *y, double *logdet, nf_ylane *w) {
    memcpy(w->y.data, y->data, sizeof(nf_real) * nf_tensor_count(&w->y));
    for (int k = 0; k < h->steps; k++) {
        NF_TRY(y_pre_forward(&h->step[k], w, logdet));
        NF_TRY(nf_layer_forward(h->step[k].l[HY], &w->y, logdet, &w->sub));
    }
    return NF_OK;
}

/* The x lane's coupling given yp = w->y (and, in backward, its gradient w->dy). */
static nf_ctx given_yp(nf_ylane *w, int backward) {
    nf_ctx c = w->sub;
    c.cond = &w->y;
    c.dcond = backward ? &w->dy : NULL;
    return c;
}

static nf_status chc_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    cond_hint_conv *h = (cond_hint_conv *)l;
    bind(h);
    nf_ylane w = nf_ylane_take(ctx, h->ys, x->n);
    memcpy(w.y.data, ctx->cond->data, sizeof(nf_real) * nf_tensor_count(&w.y));
    for (int k = 0; k < h->steps; k++) {
        chc_step *s = &h->step[k];
        NF_TRY(y_pre_forward(s, &w, logdet)); /* yp_k */
        for (int i = ANX; i <= HX; i++) NF_TRY(nf_layer_forward(s->l[i], x, logdet, &w.sub));
        nf_ctx c = given_yp(&w, 0);
        NF_TRY(nf_layer_forward(s->l[A], x, logdet, &c));
        NF_TRY(nf_layer_forward(s->l[HY], &w.y, logdet, &w.sub));
    }
    nf_add_log_normal(&w.y, logdet);
    l->initialized = 1; /* the ActNorms took their data-dependent start */
    return NF_OK;
}

static nf_status chc_inverse(nf_layer *l, nf_tensor *x, nf_ctx *ctx) {
    cond_hint_conv *h = (cond_hint_conv *)l;
    bind(h);
    nf_ylane w = nf_ylane_take(ctx, h->ys, x->n);
    NF_TRY(y_forward(h, ctx->cond, w.ld, &w));
    for (int k = h->steps - 1; k >= 0; k--) {
        chc_step *s = &h->step[k];
        NF_TRY(nf_layer_inverse(s->l[HY], &w.y, &w.sub)); /* yp_k */
        nf_ctx c = given_yp(&w, 0);
        NF_TRY(nf_layer_inverse(s->l[A], x, &c));
        for (int i = HX; i >= ANX; i--) NF_TRY(nf_layer_inverse(s->l[i], x, &w.sub));
        for (int i = CY; i >= ANY; i--) NF_TRY(nf_layer_inverse(s->l[i], &w.y, &w.sub));
    }
    return NF_OK;
}

/* The y lane starts from its loss's gradient at zy (nf_ylane_seed_grad). */
static nf_status chc_backward(nf_layer *l, nf_tensor *x, nf_tensor *dx, nf_ctx *ctx) {
    cond_hint_conv *h = (cond_hint_conv *)l;
    bind(h);
    nf_ylane w = nf_ylane_take(ctx, h->ys, x->n);
    NF_TRY(y_forward(h, ctx->cond, w.ld, &w));
    nf_ylane_seed_grad(&w, ctx->dlogdet);
    for (int k = h->steps - 1; k >= 0; k--) {
        chc_step *s = &h->step[k];
        NF_TRY(nf_layer_backward(s->l[HY], &w.y, &w.dy, &w.sub)); /* yp_k and dloss/dyp_k by the y lane */
        nf_ctx c = given_yp(&w, 1);                                /* + the x lane's share */
        NF_TRY(nf_layer_backward(s->l[A], x, dx, &c));
        for (int i = HX; i >= ANX; i--) NF_TRY(nf_layer_backward(s->l[i], x, dx, &w.sub));
        for (int i = CY; i >= ANY; i--) NF_TRY(nf_layer_backward(s->l[i], &w.y, &w.dy, &w.sub));
    }
    nf_ylane_add_dcond(&w, ctx->dcond);
    return NF_OK;
}

/* ---------------------------------------------------------------- the rest */

static void chc_init_params(nf_layer *l, nf_rng *rng) {
    cond_hint_conv *h = (cond_hint_conv *)l;
    bind(h);
    for (int k = 0; k < h->steps; k++)
        for (int i = 0; i < NCHILD; i++) h->step[k].l[i]->ops->init_params(h->step[k].l[i], rng);
}

/* One flat block (MODEL_FORMAT.md, cond_hint_conv, has the layout). */
static int chc_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    if (max >= 1) out[0] = (nf_param_block){"nets", 0, 1, {(int)l->nparams}, 0};
    return 1;
}

static void chc_destroy(nf_layer *l) {
    cond_hint_conv *h = (cond_hint_conv *)l;
    for (int k = 0; h->step && k < h->steps; k++)
        for (int i = 0; i < NCHILD; i++) nf_layer_destroy(h->step[k].l[i]);
    nf_free(h->step);
    nf_free(l);
}

static const nf_layer_ops cond_hint_conv_ops = {
    .name = "cond_hint_conv",
    .forward = chc_forward,
    .inverse = chc_inverse,
    .backward = chc_backward,
    .workspace = chc_workspace,
    .init_params = chc_init_params,
    .param_blocks = chc_param_blocks,
    .destroy = chc_destroy,
};

static nf_status build(cond_hint_conv *h, nf_shape in, int hidden, double min_scale) {
    size_t off = 0;
    for (int k = 0; k < h->steps; k++) {
        nf_layer **c = h->step[k].l;
        NF_TRY(nf_actnorm_create(&c[ANX], in));
        NF_TRY(nf_conv1x1_create(&c[CX], in, NF_CONV1X1_HOUSEHOLDER, NULL));
        NF_TRY(nf_hint_conv_create(&c[HX], in, hidden, min_scale, "cond_hint_conv (x)"));
        NF_TRY(nf_coupling_affine_create_all(&c[A], in, h->ys.c, hidden, min_scale));
        NF_TRY(nf_actnorm_create(&c[ANY], h->ys));
        NF_TRY(nf_conv1x1_create(&c[CY], h->ys, NF_CONV1X1_HOUSEHOLDER, NULL));
        NF_TRY(nf_hint_conv_create(&c[HY], h->ys, hidden, min_scale, "cond_hint_conv (y)"));
        for (int i = 0; i < NCHILD; i++) {
            h->step[k].off[i] = off;
            off += c[i]->nparams;
        }
    }
    h->base.nparams = off;
    return NF_OK;
}

static nf_status check_shapes(nf_shape in, nf_shape cond) {
    if (in.c < 2)
        return nf_fail(NF_ERR_SHAPE,
                       "cond_hint_conv: x needs at least 2 channels to split, got %d (cond_hint takes single-channel "
                       "images as vectors)", in.c);
    if (cond.c < 2)
        return nf_fail(NF_ERR_SHAPE, "cond_hint_conv: the condition needs at least 2 channels to split, got %d", cond.c);
    if (in.c > 1 << 16 || cond.c > 1 << 16)
        return nf_fail(NF_ERR_SHAPE, "cond_hint_conv: at most %d channels, got %d (x) and %d (y)", 1 << 16, in.c,
                       cond.c);
    if (in.d <= 0 || in.h <= 0 || in.w <= 0 || cond.d != in.d || cond.h != in.h || cond.w != in.w)
        return nf_fail(NF_ERR_SHAPE,
                       "cond_hint_conv: conditions of %dx%dx%dx%d (c x d x h x w) but x is %dx%dx%dx%d: y needs x's "
                       "spatial size", cond.c, cond.d, cond.h, cond.w, in.c, in.d, in.h, in.w);
    return NF_OK;
}

nf_status nf_cond_hint_conv_create(nf_layer **out, nf_shape in, nf_shape cond, int hidden, int steps,
                                   double min_scale) {
    NF_CHECK_NULL(out);
    *out = NULL;
    NF_TRY(check_shapes(in, cond));
    if (steps < 1 || steps > 256) return nf_fail(NF_ERR_ARG, "cond_hint_conv: steps = %d, expected 1..256", steps);
    if (!(min_scale > 0 && min_scale < 1))
        return nf_fail(NF_ERR_ARG, "cond_hint_conv: the coupling scale floor must be in (0, 1), got %g", min_scale);
    cond_hint_conv *h = nf_calloc(1, sizeof *h);
    if (!h) return nf_fail(NF_ERR_NOMEM, "cond_hint_conv: out of memory");
    h->base.ops = &cond_hint_conv_ops;
    h->base.in = in;
    h->ys = (nf_shape){1, cond.c, cond.d, cond.h, cond.w};
    h->base.cond = (nf_shape){1, (int)nf_shape_sample_count(h->ys), 1, 1, 1}; /* as the sequential flow passes y */
    h->steps = steps;
    h->step = nf_calloc((size_t)steps, sizeof *h->step);
    nf_status s = h->step ? build(h, in, hidden, min_scale)
                          : nf_fail(NF_ERR_NOMEM, "cond_hint_conv: out of memory");
    if (s != NF_OK) {
        chc_destroy(&h->base);
        return s;
    }
    *out = &h->base;
    return NF_OK;
}

nf_status nf_cond_hint_conv_encode_y(nf_layer *l, const nf_tensor *y, nf_tensor *zy, double *logdet) {
    NF_CHECK_NULL(l);
    NF_CHECK_NULL(y);
    NF_CHECK_NULL(zy);
    NF_CHECK_NULL(logdet);
    if (l->ops != &cond_hint_conv_ops)
        return nf_fail(NF_ERR_ARG, "nf_cond_hint_conv_encode_y: layer is %s, not cond_hint_conv",
                       l->ops ? l->ops->name : "?");
    cond_hint_conv *h = (cond_hint_conv *)l;
    size_t S = nf_shape_sample_count(h->ys);
    if (nf_tensor_sample_count(y) != S || nf_tensor_sample_count(zy) != S || zy->n != y->n)
        return nf_fail(NF_ERR_SHAPE, "nf_cond_hint_conv_encode_y: y and zy need %zu values per sample and one batch size",
                       S);
    if (!l->param) return nf_fail(NF_ERR_STATE, "nf_cond_hint_conv_encode_y: parameters are not bound (nf_params_bind)");
    if (!l->initialized)
        return nf_fail(NF_ERR_STATE, "nf_cond_hint_conv_encode_y: before the first forward (ActNorm not initialised)");
    bind(h);
    nf_ctx ctx = {0};
    nf_shape in = l->in;
    in.n = y->n;
    NF_TRY(nf_ctx_reserve(&ctx, chc_workspace(l, in)));
    nf_ylane w = nf_ylane_take(&ctx, h->ys, y->n);
    nf_status s = y_forward(h, y, logdet, &w);
    if (s == NF_OK) memcpy(zy->data, w.y.data, sizeof(nf_real) * nf_tensor_count(&w.y));
    nf_ctx_free(&ctx);
    return s;
}

nf_status nf_cond_hint_conv_part(const nf_layer *l, int k, int part, size_t *off, size_t *count) {
    if (!l || l->ops != &cond_hint_conv_ops) return nf_fail(NF_ERR_ARG, "nf_cond_hint_conv_part: not a cond_hint_conv");
    const cond_hint_conv *h = (const cond_hint_conv *)l;
    if (k < 0 || k >= h->steps || part < 0 || part >= NCHILD)
        return nf_fail(NF_ERR_ARG, "nf_cond_hint_conv_part: step %d part %d out of range", k, part);
    *off = h->step[k].off[part];
    *count = h->step[k].l[part]->nparams;
    return NF_OK;
}
