/* RealNVP affine coupling for vectors (ADCME's AffineHalfFlow, karpathy's
 * pytorch-normalizing-flows) and NICE's additive coupling:
 *     xa = x[i % 2 == parity], xb = the rest,
 *     yb = exp(s(xa)) * xb + t(xa) (RealNVP) or xb + t(xa) (NICE),  ya = xa,
 * with s, t MLPs (see affine_core.h). Alternating the parity between layers lets
 * every value be transformed. Both kinds share everything but the scale, so they
 * live in this file with one ops table each (their names differ in model files).
 * The conditional RealNVP ("cond_realnvp") is the same with s, t taking [xa, s(y)]:
 * the S features of the condition (ctx->cond) after xa in the nets' input. */
#include "affine_core.h"
#include "vec_layer.h"

#include <string.h>

typedef struct vec_coupling {
    nf_layer base;
    int parity;
    int S;        /* condition features after xa in the nets' input (0: unconditional) */
    nf_mlp_spec spec;
    nf_affine_core core; /* its da = the nets' input: xa's count + S */
} vec_coupling;

/* workspace: [xa, s] rows (n, da + S), xb (n, db), their gradients, then the core's work */
typedef struct halves {
    nf_real *xa, *xb, *dxa, *dxb, *work;
} halves;

static int db_of(const vec_coupling *v) { return v->core.db; }

static size_t vc_workspace(const nf_layer *l, nf_shape in) {
    const vec_coupling *v = (const vec_coupling *)l;
    size_t n = (size_t)in.n, ra = n * (size_t)v->core.da, rb = n * (size_t)db_of(v);
    return 2 * (nf_work_bytes(ra) + nf_work_bytes(rb)) + nf_work_bytes(nf_affine_core_work_count(&v->core, in.n));
}

static halves take(const vec_coupling *v, int n, nf_ctx *ctx) {
    size_t off = 0, ra = (size_t)n * v->core.da, rb = (size_t)n * db_of(v);
    halves h;
    h.xa = nf_ctx_take(ctx, &off, ra);
    h.xb = nf_ctx_take(ctx, &off, rb);
    h.dxa = nf_ctx_take(ctx, &off, ra);
    h.dxb = nf_ctx_take(ctx, &off, rb);
    h.work = nf_ctx_take(ctx, &off, nf_affine_core_work_count(&v->core, n));
    return h;
}

/* The nets' input rows [xa, s] and xb from t. */
static void split(const vec_coupling *v, const nf_tensor *t, const nf_ctx *ctx, halves *h) {
    int lda = v->core.da;
    nf_mask_split_rows(t->data, t->n, nf_vec_dim(&v->base), v->parity, h->xa, lda, h->xb);
    nf_cond_put(h->xa, t->n, lda, lda - v->S, ctx->cond);
}

static nf_status vc_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    vec_coupling *v = (vec_coupling *)l;
    int n = x->n, D = nf_vec_dim(l);
    halves h = take(v, n, ctx);
    split(v, x, ctx, &h);
    nf_affine_core_forward(&v->core, l->param, h.xa, h.xb, n, logdet, h.work);
    nf_mask_merge(x->data, n, D, v->parity, NULL, h.xb);
    return NF_OK;
}

static nf_status vc_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    vec_coupling *v = (vec_coupling *)l;
    int n = y->n, D = nf_vec_dim(l);
    halves h = take(v, n, ctx);
    split(v, y, ctx, &h);
    nf_affine_core_inverse(&v->core, l->param, h.xa, h.xb, n, h.work);
    nf_mask_merge(y->data, n, D, v->parity, NULL, h.xb);
    return NF_OK;
}

static nf_status vc_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    vec_coupling *v = (vec_coupling *)l;
    int n = y->n, D = nf_vec_dim(l), lda = v->core.da;
    halves h = take(v, n, ctx);
    split(v, y, ctx, &h);
    /* dxa starts as dya (ya = xa) and 0 for the features: the condition is not an output */
    memset(h.dxa, 0, (size_t)n * lda * sizeof(nf_real));
    nf_mask_split_rows(dy->data, n, D, v->parity, h.dxa, lda, h.dxb);
    nf_affine_core_backward(&v->core, l->param, l->grad, h.xa, h.xb, h.dxb, h.dxa, n, ctx->dlogdet, h.work);
    nf_cond_take(h.dxa, n, lda, lda - v->S, ctx->dcond);
    nf_mask_merge(y->data, n, D, v->parity, NULL, h.xb);
    nf_mask_merge_rows(dy->data, n, D, v->parity, h.dxa, lda, h.dxb);
    return NF_OK;
}

static void vc_init_params(nf_layer *l, nf_rng *rng) {
    nf_affine_core_init(&((vec_coupling *)l)->core, l->param, rng);
}

static int vc_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    const nf_affine_core *c = &((const vec_coupling *)l)->core;
    size_t to = nf_affine_core_t_offset(c);
    nf_param_block blocks[2];
    int nb = 0;
    if (c->scale) blocks[nb++] = nf_vec_block("s_net", 0, to, 0);
    blocks[nb++] = nf_vec_block("t_net", to, nf_mlp_nparams(&c->t_net), 0);
    return nf_vec_blocks(blocks, nb, out, max);
}

/* The kinds differ only in name (and what vc_create sets up). */
#define VC_OPS(layer_name)                                                                                       \
    {                                                                                                            \
        .name = (layer_name), .forward = vc_forward, .inverse = vc_inverse, .backward = vc_backward,             \
        .workspace = vc_workspace, .init_params = vc_init_params, .param_blocks = vc_param_blocks,               \
        .destroy = nf_vec_layer_free                                                                             \
    }
static const nf_layer_ops realnvp_ops = VC_OPS("realnvp");
static const nf_layer_ops nice_ops = VC_OPS("nice");
static const nf_layer_ops cond_realnvp_ops = VC_OPS("cond_realnvp");

static nf_status vc_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, int scale, double clamp, int S) {
    const char *who = S ? "cond_realnvp" : scale ? "realnvp" : "nice";
    const nf_layer_ops *ops = S ? &cond_realnvp_ops : scale ? &realnvp_ops : &nice_ops;
    NF_CHECK_NULL(out);
    *out = NULL;
    if (parity != 0 && parity != 1) return nf_fail(NF_ERR_ARG, "%s: parity must be 0 or 1, got %d", who, parity);
    size_t D = nf_shape_sample_count(in);
    if (in.c > 0 && in.d > 0 && in.h > 0 && in.w > 0 && D < 2)
        return nf_fail(NF_ERR_SHAPE, "%s: a coupling needs at least 2 values per sample, got %zu", who, D);
    if (S < 0) return nf_fail(NF_ERR_ARG, "%s: %d condition features", who, S);
    NF_TRY(nf_vec_layer_new(out, sizeof(vec_coupling), ops, in, 0, who));
    vec_coupling *v = (vec_coupling *)*out;
    v->parity = parity;
    v->S = S;
    v->spec = net;
    v->base.cond = nf_cond_shape(S);
    int da = nf_mask_count_a((int)D, parity);
    nf_status s = nf_affine_core_setup(&v->core, who, da + S, (int)D - da, net, scale, clamp);
    if (s != NF_OK) {
        nf_free(v);
        *out = NULL;
        return s;
    }
    v->base.nparams = nf_affine_core_nparams(&v->core);
    return NF_OK;
}

nf_status nf_realnvp_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, double clamp) {
    return vc_create(out, in, net, parity, 1, clamp, 0);
}

nf_status nf_cond_realnvp_create(nf_layer **out, nf_shape in, int features, nf_mlp_spec net, int parity, double clamp) {
    if (features < 1) {
        if (out) *out = NULL;
        return nf_fail(NF_ERR_ARG, "cond_realnvp: the condition must have at least 1 feature, got %d", features);
    }
    return vc_create(out, in, net, parity, 1, clamp, features);
}

nf_status nf_nice_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity) {
    return vc_create(out, in, net, parity, 0, 0, 0);
}
