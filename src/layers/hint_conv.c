/* HINT for images and volumes (Kruse et al. 2021; InvertibleNetworks.jl's
 * CouplingLayerHINT for 4-D/5-D tensors): a recursive coupling tree over the channels.
 * A node over the m channels [off, off + m) of a sample splits them at ma = m/2 (rounded
 * down) into xa = [off, off + ma) and xb = the rest, and
 *     m > 4 (recursive):  C(xa; xb), then the node of xa, then the node of xb,
 *     m <= 4 (a leaf):    C(xa; xb),
 * with C the image affine coupling (coupling_affine.c: xa <- s(NN(xb)) xa + t(NN(xb)),
 * NN the conv sub-network of coupling_subnet.h, last conv zero-initialised).
 * InvertibleNetworks.jl's CouplingLayerHINT (and hint.c) run the changed half's subtree
 * first, yb = C(H(xb); xa), and keep no copy of xa because Julia's arrays are not changed
 * in place; here the coupling runs first, so it reads the node's original conditioner
 * without a copy. Both are HINT trees (block triangular, the same parts); which half
 * changes follows nflow's couplings (the first). Every node has its own
 * coupling (InvertibleNetworks.jl shares one per depth, needing halves of equal size), so
 * any c >= 2 works. The Jacobian is block triangular at every node: logdet is the sum of
 * the couplings'.
 * The tree is therefore a plain sequence of couplings on channel ranges, in pre-order:
 * forward walks it, inverse and backward walk it backwards, each coupling on its range
 * gathered into a contiguous tensor (the root works on x itself). Each coupling's passes
 * are the threaded image-coupling passes (coupling_chunks.c). */
#include "layers/hint_conv.h"

#include "layers/coupling_subnet.h"

#include <string.h>

typedef struct hc_node {
    int off, m;        /* channels [off, off + m) of a sample */
    nf_layer *cp;      /* the coupling on them: shape (m, d, h, w) */
    size_t poff;       /* its parameters in the layer's view */
} hc_node;

typedef struct hint_conv {
    nf_layer base;
    int nnodes;
    hc_node *node;     /* (nnodes) pre-order, node 0 the root */
} hint_conv;

static int count_nodes(int m) { return m <= 4 ? 1 : 1 + count_nodes(m / 2) + count_nodes(m - m / 2); }

static nf_status build(hint_conv *h, int off, int m, int hidden, double min_scale, size_t *poff, int *idx) {
    hc_node *nd = &h->node[(*idx)++];
    nf_shape in = h->base.in;
    in.c = m;
    nd->off = off, nd->m = m;
    NF_TRY(nf_coupling_affine_create_bounded(&nd->cp, in, hidden, min_scale));
    nd->poff = *poff;
    *poff += nd->cp->nparams;
    if (m <= 4) return NF_OK;
    NF_TRY(build(h, off, m / 2, hidden, min_scale, poff, idx));
    return build(h, off + m / 2, m - m / 2, hidden, min_scale, poff, idx);
}

/* The children's parameter views, set on every call (the layer's own view may be rebound). */
static void bind(hint_conv *h) {
    for (int i = 0; i < h->nnodes; i++) {
        hc_node *nd = &h->node[i];
        nd->cp->param = h->base.param + nd->poff;
        nd->cp->grad = h->base.grad ? h->base.grad + nd->poff : NULL;
    }
}

/* ---------------------------------------------------------------- workspace */

/* Values of the largest non-root node's channels (at most (c + 1)/2) for n samples. */
static size_t range_count(const hint_conv *h, int n) {
    nf_shape in = h->base.in;
    return (size_t)n * (size_t)((in.c + 1) / 2) * in.d * in.h * in.w;
}

/* A range tensor and its gradient, then the couplings' scratch. */
static size_t own_bytes(const hint_conv *h, int n) { return 2 * nf_work_bytes(range_count(h, n)); }

static size_t hc_workspace(const nf_layer *l, nf_shape in) {
    const hint_conv *h = (const hint_conv *)l;
    size_t child = 0;
    for (int i = 0; i < h->nnodes; i++) {
        nf_shape s = in;
        s.c = h->node[i].m;
        size_t w = nf_layer_workspace(h->node[i].cp, s);
        child = w > child ? w : child;
    }
    return own_bytes(h, in.n) + child;
}

typedef struct hc_work {
    nf_real *v, *dv;   /* (n, m, d, h, w) a node's channels and their gradient */
    nf_ctx sub;        /* the couplings' context: the scratch after ours */
} hc_work;

static hc_work take(const hint_conv *h, int n, nf_ctx *ctx) {
    size_t off = 0;
    hc_work w;
    w.v = nf_ctx_take(ctx, &off, range_count(h, n));
    w.dv = nf_ctx_take(ctx, &off, range_count(h, n));
    w.sub = *ctx;
    w.sub.work = (unsigned char *)ctx->work + off;
    w.sub.work_bytes = ctx->work_bytes - off;
    return w;
}

/* The node's channels of x as a tensor: x itself at the root, else dst <- them. */
static nf_tensor gather(const hc_node *nd, const nf_tensor *x, nf_real *dst) {
    if (nd->m == x->c) return *x;
    size_t vol = (size_t)x->d * x->h * x->w, len = (size_t)nd->m * vol;
    for (int b = 0; b < x->n; b++)
        memcpy(dst + b * len, x->data + ((size_t)b * x->c + nd->off) * vol, len * sizeof(nf_real));
    return nf_tensor_view(dst, x->n, nd->m, x->d, x->h, x->w);
}

/* x's node channels <- t (nothing at the root, where t is x). */
static void scatter(const hc_node *nd, nf_tensor *x, const nf_tensor *t) {
    if (t->data == x->data) return;
    size_t vol = (size_t)x->d * x->h * x->w, len = (size_t)nd->m * vol;
    for (int b = 0; b < x->n; b++)
        memcpy(x->data + ((size_t)b * x->c + nd->off) * vol, t->data + b * len, len * sizeof(nf_real));
}

/* ---------------------------------------------------------------- passes */

static nf_status hc_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    hint_conv *h = (hint_conv *)l;
    bind(h);
    hc_work w = take(h, x->n, ctx);
    for (int i = 0; i < h->nnodes; i++) {
        nf_tensor t = gather(&h->node[i], x, w.v);
        NF_TRY(nf_layer_forward(h->node[i].cp, &t, logdet, &w.sub));
        scatter(&h->node[i], x, &t);
    }
    return NF_OK;
}

static nf_status hc_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    hint_conv *h = (hint_conv *)l;
    bind(h);
    hc_work w = take(h, y->n, ctx);
    for (int i = h->nnodes - 1; i >= 0; i--) {
        nf_tensor t = gather(&h->node[i], y, w.v);
        NF_TRY(nf_layer_inverse(h->node[i].cp, &t, &w.sub));
        scatter(&h->node[i], y, &t);
    }
    return NF_OK;
}

static nf_status hc_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    hint_conv *h = (hint_conv *)l;
    bind(h);
    hc_work w = take(h, y->n, ctx);
    for (int i = h->nnodes - 1; i >= 0; i--) {
        nf_tensor t = gather(&h->node[i], y, w.v), dt = gather(&h->node[i], dy, w.dv);
        NF_TRY(nf_layer_backward(h->node[i].cp, &t, &dt, &w.sub));
        scatter(&h->node[i], y, &t);
        scatter(&h->node[i], dy, &dt);
    }
    return NF_OK;
}

/* ---------------------------------------------------------------- the rest */

static void hc_init_params(nf_layer *l, nf_rng *rng) {
    hint_conv *h = (hint_conv *)l;
    bind(h);
    for (int i = 0; i < h->nnodes; i++) h->node[i].cp->ops->init_params(h->node[i].cp, rng);
}

/* One flat block: the couplings' parameters in pre-order (MODEL_FORMAT.md, cond_hint_conv). */
static int hc_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    if (max >= 1) out[0] = (nf_param_block){"nets", 0, 1, {(int)l->nparams}, 0};
    return 1;
}

static void hc_destroy(nf_layer *l) {
    hint_conv *h = (hint_conv *)l;
    for (int i = 0; h->node && i < h->nnodes; i++) nf_layer_destroy(h->node[i].cp);
    nf_free(h->node);
    nf_free(l);
}

static const nf_layer_ops hint_conv_ops = {
    .name = "hint_conv",
    .forward = hc_forward,
    .inverse = hc_inverse,
    .backward = hc_backward,
    .workspace = hc_workspace,
    .init_params = hc_init_params,
    .param_blocks = hc_param_blocks,
    .destroy = hc_destroy,
};

nf_status nf_hint_conv_create(nf_layer **out, nf_shape in, int hidden, double min_scale, const char *who) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (in.c < 2 || in.c > 1 << 16)
        return nf_fail(NF_ERR_SHAPE, "%s: needs 2..%d channels to split, got %d", who, 1 << 16, in.c);
    if (in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: sample size %d x %d x %d is not positive", who, in.d, in.h, in.w);
    hint_conv *h = nf_calloc(1, sizeof *h);
    if (!h) return nf_fail(NF_ERR_NOMEM, "%s: out of memory", who);
    h->base.ops = &hint_conv_ops;
    h->base.in = in;
    h->nnodes = count_nodes(in.c);
    h->node = nf_calloc((size_t)h->nnodes, sizeof *h->node);
    size_t poff = 0;
    int idx = 0;
    nf_status s = h->node ? build(h, 0, in.c, hidden, min_scale, &poff, &idx)
                          : nf_fail(NF_ERR_NOMEM, "%s: out of memory", who);
    if (s != NF_OK) {
        hc_destroy(&h->base);
        return s;
    }
    h->base.nparams = poff;
    *out = &h->base;
    return NF_OK;
}
