/* RealNVP affine coupling for vectors (ADCME's AffineHalfFlow, karpathy's
 * pytorch-normalizing-flows) and NICE's additive coupling:
 *     xa = x[i % 2 == parity], xb = the rest,
 *     yb = exp(s(xa)) * xb + t(xa) (RealNVP) or xb + t(xa) (NICE),  ya = xa,
 * with s, t MLPs (see affine_core.h). Alternating the parity between layers lets
 * every value be transformed. Both kinds share everything but the scale, so they
 * live in this file with one ops table each (their names differ in model files). */
#include "affine_core.h"
#include "vec_layer.h"

typedef struct vec_coupling {
    nf_layer base;
    int parity;
    nf_mlp_spec spec;
    nf_affine_core core;
} vec_coupling;

/* workspace: xa (n, da), xb (n, db), dxa (n, da), dxb (n, db), then the core's work */
typedef struct halves {
    nf_real *xa, *xb, *dxa, *dxb, *work;
} halves;

static size_t vc_workspace(const nf_layer *l, nf_shape in) {
    const vec_coupling *v = (const vec_coupling *)l;
    size_t D = (size_t)nf_vec_dim(l), n = (size_t)in.n;
    return 2 * nf_work_bytes(n * D) + nf_work_bytes(nf_affine_core_work_count(&v->core, in.n));
}

static halves take(const vec_coupling *v, int n, nf_ctx *ctx) {
    size_t off = 0, D = (size_t)nf_vec_dim(&v->base);
    halves h;
    h.xa = nf_ctx_take(ctx, &off, (size_t)n * D);
    h.xb = h.xa + (size_t)n * v->core.da;
    h.dxa = nf_ctx_take(ctx, &off, (size_t)n * D);
    h.dxb = h.dxa + (size_t)n * v->core.da;
    h.work = nf_ctx_take(ctx, &off, nf_affine_core_work_count(&v->core, n));
    return h;
}

static nf_status vc_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    vec_coupling *v = (vec_coupling *)l;
    int n = x->n, D = nf_vec_dim(l);
    halves h = take(v, n, ctx);
    nf_mask_split(x->data, n, D, v->parity, h.xa, h.xb);
    nf_affine_core_forward(&v->core, l->param, h.xa, h.xb, n, logdet, h.work);
    nf_mask_merge(x->data, n, D, v->parity, NULL, h.xb);
    return NF_OK;
}

static nf_status vc_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    vec_coupling *v = (vec_coupling *)l;
    int n = y->n, D = nf_vec_dim(l);
    halves h = take(v, n, ctx);
    nf_mask_split(y->data, n, D, v->parity, h.xa, h.xb);
    nf_affine_core_inverse(&v->core, l->param, h.xa, h.xb, n, h.work);
    nf_mask_merge(y->data, n, D, v->parity, NULL, h.xb);
    return NF_OK;
}

static nf_status vc_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    vec_coupling *v = (vec_coupling *)l;
    int n = y->n, D = nf_vec_dim(l);
    halves h = take(v, n, ctx);
    nf_mask_split(y->data, n, D, v->parity, h.xa, h.xb);
    nf_mask_split(dy->data, n, D, v->parity, h.dxa, h.dxb); /* dxa starts as dya: ya = xa */
    nf_affine_core_backward(&v->core, l->param, l->grad, h.xa, h.xb, h.dxb, h.dxa, n, ctx->dlogdet, h.work);
    nf_mask_merge(y->data, n, D, v->parity, NULL, h.xb);
    nf_mask_merge(dy->data, n, D, v->parity, h.dxa, h.dxb);
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

static const nf_layer_ops realnvp_ops = {
    .name = "realnvp",
    .forward = vc_forward,
    .inverse = vc_inverse,
    .backward = vc_backward,
    .workspace = vc_workspace,
    .init_params = vc_init_params,
    .param_blocks = vc_param_blocks,
    .destroy = nf_vec_layer_free,
};

static const nf_layer_ops nice_ops = {
    .name = "nice",
    .forward = vc_forward,
    .inverse = vc_inverse,
    .backward = vc_backward,
    .workspace = vc_workspace,
    .init_params = vc_init_params,
    .param_blocks = vc_param_blocks,
    .destroy = nf_vec_layer_free,
};

static nf_status vc_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, int scale, double clamp) {
    const char *who = scale ? "realnvp" : "nice";
    NF_CHECK_NULL(out);
    *out = NULL;
    if (parity != 0 && parity != 1) return nf_fail(NF_ERR_ARG, "%s: parity must be 0 or 1, got %d", who, parity);
    size_t D = nf_shape_sample_count(in);
    if (in.c > 0 && in.d > 0 && in.h > 0 && in.w > 0 && D < 2)
        return nf_fail(NF_ERR_SHAPE, "%s: a coupling needs at least 2 values per sample, got %zu", who, D);
    NF_TRY(nf_vec_layer_new(out, sizeof(vec_coupling), scale ? &realnvp_ops : &nice_ops, in, 0, who));
    vec_coupling *v = (vec_coupling *)*out;
    v->parity = parity;
    v->spec = net;
    int da = nf_mask_count_a((int)D, parity);
    nf_status s = nf_affine_core_setup(&v->core, who, da, (int)D - da, net, scale, clamp);
    if (s != NF_OK) {
        nf_free(v);
        *out = NULL;
        return s;
    }
    v->base.nparams = nf_affine_core_nparams(&v->core);
    return NF_OK;
}

nf_status nf_realnvp_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, double clamp) {
    return vc_create(out, in, net, parity, 1, clamp);
}

nf_status nf_nice_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity) {
    return vc_create(out, in, net, parity, 0, 0);
}
