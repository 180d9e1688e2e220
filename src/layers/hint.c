/* HINT: hierarchical invertible coupling (Kruse et al. 2021; InvertibleNetworks.jl's
 * CouplingLayerHINT) for vectors of any size D >= 2. A node over m values splits
 * them into xa (the first m/2, rounded down) and xb (the rest):
 *   m > 4 (recursive):  ya = H(xa),  yb = C(H(xb); cond = xa),
 *   m <= 4 (a leaf):    ya = xa,     yb = C(xb; cond = xa),
 * with C the affine coupling step (s and t MLPs, see affine_core.h) and H the node
 * applied to each half. So the Jacobian is block triangular at every level and
 * logdet is the sum of the couplings' sum s. Unlike InvertibleNetworks.jl, which
 * shares one coupling per recursion depth (and so needs halves of equal size),
 * every node has its own coupling, so any D works.
 * Inverse: xa = H^-1(ya), then H(xb) = C^-1(yb; xa), then xb = H^-1 of that.
 * Backward follows the inverse: H_a's backward gives xa (and dxa through ya), the
 * coupling's backward adds its conditioner gradient to dxa, then H_b's backward. */
#include "affine_core.h"
#include "vec_layer.h"

#include <string.h>

typedef struct hint_node {
    int off, m, ma;       /* values [off, off + m) of a sample; xa = first ma of them */
    int a, b;             /* children (node indices) when recursive, else -1 */
    size_t poff;          /* the coupling's parameters in the layer's view */
    size_t stack;         /* (per sample) conditioner copies the forward keeps below this node */
    nf_affine_core core;  /* ma -> m - ma */
} hint_node;

typedef struct hint {
    nf_layer base;
    nf_mlp_spec spec;
    int nnodes;
    hint_node *node;      /* (nnodes) pre-order, node 0 the root */
    int maxa, maxb;       /* largest halves */
} hint;

/* ---------------------------------------------------------------- structure */

static nf_status build(hint *h, int off, int m, size_t *poff, int *idx) {
    int i = (*idx)++;
    hint_node *nd = &h->node[i];
    nd->off = off, nd->m = m, nd->ma = m / 2, nd->a = nd->b = -1;
    NF_TRY(nf_affine_core_setup(&nd->core, "hint", nd->ma, m - nd->ma, h->spec, 1, 0));
    nd->poff = *poff;
    *poff += nf_affine_core_nparams(&nd->core);
    h->maxa = nd->ma > h->maxa ? nd->ma : h->maxa;
    h->maxb = m - nd->ma > h->maxb ? m - nd->ma : h->maxb;
    nd->stack = 0;
    if (m <= 4) return NF_OK;
    int a = *idx;
    NF_TRY(build(h, off, nd->ma, poff, idx));
    int b = *idx;
    NF_TRY(build(h, off + nd->ma, m - nd->ma, poff, idx));
    nd = &h->node[i];
    nd->a = a, nd->b = b;
    size_t below = h->node[a].stack > h->node[b].stack ? h->node[a].stack : h->node[b].stack;
    nd->stack = (size_t)nd->ma + below;
    return NF_OK;
}

static int count_nodes(int m) { return m <= 4 ? 1 : 1 + count_nodes(m / 2) + count_nodes(m - m / 2); }

/* ---------------------------------------------------------------- workspace */

typedef struct hint_work {
    nf_real *stack;           /* (n, root stack) conditioner copies */
    nf_real *xa, *xb, *dxa, *dxb;
    nf_real *core;
} hint_work;

static size_t core_count(const hint *h, int n) {
    size_t c = 0;
    for (int i = 0; i < h->nnodes; i++) {
        size_t w = nf_affine_core_work_count(&h->node[i].core, n);
        c = w > c ? w : c;
    }
    return c;
}

static size_t hint_workspace(const nf_layer *l, nf_shape in) {
    const hint *h = (const hint *)l;
    size_t n = (size_t)in.n;
    return nf_work_bytes(n * h->node[0].stack + 1) + 2 * nf_work_bytes(n * h->maxa) +
           2 * nf_work_bytes(n * h->maxb) + nf_work_bytes(core_count(h, in.n));
}

static hint_work take(const hint *h, int n, nf_ctx *ctx) {
    size_t off = 0;
    hint_work w;
    w.stack = nf_ctx_take(ctx, &off, (size_t)n * h->node[0].stack + 1);
    w.xa = nf_ctx_take(ctx, &off, (size_t)n * h->maxa);
    w.dxa = nf_ctx_take(ctx, &off, (size_t)n * h->maxa);
    w.xb = nf_ctx_take(ctx, &off, (size_t)n * h->maxb);
    w.dxb = nf_ctx_take(ctx, &off, (size_t)n * h->maxb);
    w.core = nf_ctx_take(ctx, &off, core_count(h, n));
    return w;
}

/* dst (n, len) <- x[:, off .. off+len) of x (n, D), and back. */
static void gather(nf_real *dst, const nf_real *x, int n, int D, int off, int len) {
    for (int b = 0; b < n; b++) memcpy(dst + (size_t)b * len, x + (size_t)b * D + off, (size_t)len * sizeof(nf_real));
}
static void scatter(nf_real *x, const nf_real *src, int n, int D, int off, int len) {
    for (int b = 0; b < n; b++) memcpy(x + (size_t)b * D + off, src + (size_t)b * len, (size_t)len * sizeof(nf_real));
}

/* ---------------------------------------------------------------- passes */

static void node_forward(hint *h, int i, nf_real *x, int n, double *logdet, hint_work *w, nf_real *stack) {
    const hint_node *nd = &h->node[i];
    int D = nf_vec_dim(&h->base), mb = nd->m - nd->ma;
    nf_real *cond = w->xa;
    if (nd->a >= 0) { /* keep the original xa: it conditions the coupling after H changed it */
        cond = stack;
        gather(cond, x, n, D, nd->off, nd->ma);
        node_forward(h, nd->a, x, n, logdet, w, stack + (size_t)n * nd->ma);
        node_forward(h, nd->b, x, n, logdet, w, stack + (size_t)n * nd->ma);
    } else {
        gather(cond, x, n, D, nd->off, nd->ma);
    }
    gather(w->xb, x, n, D, nd->off + nd->ma, mb);
    nf_affine_core_forward(&nd->core, h->base.param + nd->poff, cond, w->xb, n, logdet, w->core);
    scatter(x, w->xb, n, D, nd->off + nd->ma, mb);
}

static void node_inverse(hint *h, int i, nf_real *y, int n, hint_work *w) {
    const hint_node *nd = &h->node[i];
    int D = nf_vec_dim(&h->base), mb = nd->m - nd->ma;
    if (nd->a >= 0) node_inverse(h, nd->a, y, n, w);
    gather(w->xa, y, n, D, nd->off, nd->ma);
    gather(w->xb, y, n, D, nd->off + nd->ma, mb);
    nf_affine_core_inverse(&nd->core, h->base.param + nd->poff, w->xa, w->xb, n, w->core);
    scatter(y, w->xb, n, D, nd->off + nd->ma, mb);
    if (nd->b >= 0) node_inverse(h, nd->b, y, n, w);
}

static void node_backward(hint *h, int i, nf_real *y, nf_real *dy, int n, double dlogdet, hint_work *w) {
    const hint_node *nd = &h->node[i];
    int D = nf_vec_dim(&h->base), mb = nd->m - nd->ma;
    if (nd->a >= 0) node_backward(h, nd->a, y, dy, n, dlogdet, w);
    gather(w->xa, y, n, D, nd->off, nd->ma);
    gather(w->xb, y, n, D, nd->off + nd->ma, mb);
    gather(w->dxa, dy, n, D, nd->off, nd->ma);
    gather(w->dxb, dy, n, D, nd->off + nd->ma, mb);
    nf_affine_core_backward(&nd->core, h->base.param + nd->poff, h->base.grad + nd->poff, w->xa, w->xb, w->dxb,
                            w->dxa, n, dlogdet, w->core);
    scatter(y, w->xb, n, D, nd->off + nd->ma, mb);
    scatter(dy, w->dxa, n, D, nd->off, nd->ma);
    scatter(dy, w->dxb, n, D, nd->off + nd->ma, mb);
    if (nd->b >= 0) node_backward(h, nd->b, y, dy, n, dlogdet, w);
}

static nf_status hint_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    hint *h = (hint *)l;
    hint_work w = take(h, x->n, ctx);
    node_forward(h, 0, x->data, x->n, logdet, &w, w.stack);
    return NF_OK;
}

static nf_status hint_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    hint *h = (hint *)l;
    hint_work w = take(h, y->n, ctx);
    node_inverse(h, 0, y->data, y->n, &w);
    return NF_OK;
}

static nf_status hint_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    hint *h = (hint *)l;
    hint_work w = take(h, y->n, ctx);
    node_backward(h, 0, y->data, dy->data, y->n, ctx->dlogdet, &w);
    return NF_OK;
}

static void hint_init_params(nf_layer *l, nf_rng *rng) {
    hint *h = (hint *)l;
    for (int i = 0; i < h->nnodes; i++) nf_affine_core_init(&h->node[i].core, l->param + h->node[i].poff, rng);
}

static int hint_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("nets", 0, l->nparams, 0);
    return nf_vec_blocks(&b, 1, out, max);
}

static void hint_destroy(nf_layer *l) {
    nf_free(((hint *)l)->node);
    nf_free(l);
}

static const nf_layer_ops hint_ops = {
    .name = "hint",
    .forward = hint_forward,
    .inverse = hint_inverse,
    .backward = hint_backward,
    .workspace = hint_workspace,
    .init_params = hint_init_params,
    .param_blocks = hint_param_blocks,
    .destroy = hint_destroy,
};

nf_status nf_hint_create(nf_layer **out, nf_shape in, nf_mlp_spec net) {
    NF_CHECK_NULL(out);
    *out = NULL;
    size_t D = nf_shape_sample_count(in);
    if (in.c > 0 && in.d > 0 && in.h > 0 && in.w > 0 && (D < 2 || D > 1 << 24))
        return nf_fail(NF_ERR_SHAPE, "hint: needs 2..%d values per sample, got %zu", 1 << 24, D);
    NF_TRY(nf_vec_layer_new(out, sizeof(hint), &hint_ops, in, 0, "hint"));
    hint *h = (hint *)*out;
    h->spec = net;
    h->nnodes = count_nodes((int)D);
    h->node = nf_calloc((size_t)h->nnodes, sizeof(hint_node));
    size_t poff = 0;
    int idx = 0;
    nf_status s = h->node ? build(h, 0, (int)D, &poff, &idx) : nf_fail(NF_ERR_NOMEM, "hint: out of memory");
    if (s != NF_OK) {
        hint_destroy(*out);
        *out = NULL;
        return s;
    }
    h->base.nparams = poff;
    return NF_OK;
}
