/* Masked autoregressive flow (Papamakarios et al. 2017; karpathy's MAF):
 *     z = x * exp(s(x)) + t(x),   logdet = sum s(x),
 * (s, t) = MADE(x), so s_i, t_i depend on x before i. Density (forward) is one pass;
 * the inverse, and so the backward's rebuild of x, is sequential: D passes. The
 * last pass leaves the activations of MADE(x), which the backward then reuses. */
#include "made.h"
#include "vec_layer.h"

#include <math.h>
#include <string.h>

static nf_status maf_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    nf_ar_layer *a = (nf_ar_layer *)l;
    nf_made_work w = nf_made_take(&a->made, ctx, x->n);
    nf_made_apply(&a->made, l->param, x->data, x->data, x->n, logdet, 1.0, &w); /* element-wise after the net */
    return NF_OK;
}

static nf_status maf_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    nf_ar_layer *a = (nf_ar_layer *)l;
    nf_made_work w = nf_made_take(&a->made, ctx, y->n);
    nf_made_solve(&a->made, l->param, y->data, w.x, y->n, NULL, 0, &w);
    memcpy(y->data, w.x, nf_tensor_count(y) * sizeof(nf_real));
    return NF_OK;
}

/* x = solve(z); with z = x e^s + t: ds = dz (z - t) + dlogdet, dt = dz, and
 * dx = dz e^s + MADE's backprop of (ds, dt). */
static nf_status maf_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    nf_ar_layer *a = (nf_ar_layer *)l;
    int n = y->n, D = a->made.D;
    nf_made_work w = nf_made_take(&a->made, ctx, n);
    const nf_real *st = nf_made_solve(&a->made, l->param, y->data, w.x, n, NULL, 0, &w);
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < n; b++)
        for (int i = 0; i < D; i++) {
            size_t k = (size_t)b * D + i, r = (size_t)b * 2 * D;
            nf_real dz = dy->data[k];
            w.dst[r + i] = (nf_real)(dz * (y->data[k] - st[r + D + i]) + ctx->dlogdet);
            w.dst[r + D + i] = dz;
            w.g[k] = dz * (nf_real)exp(st[r + i]);
        }
    nf_mlp_backward(&a->made.net, l->param, l->grad, w.x, n, w.acts, w.dst, w.g, w.scratch);
    memcpy(y->data, w.x, (size_t)n * D * sizeof(nf_real));
    memcpy(dy->data, w.g, (size_t)n * D * sizeof(nf_real));
    return NF_OK;
}

static const nf_layer_ops maf_ops = {
    .name = "maf",
    .forward = maf_forward,
    .inverse = maf_inverse,
    .backward = maf_backward,
    .workspace = nf_ar_layer_workspace,
    .init_params = nf_ar_layer_init_params,
    .param_blocks = nf_ar_layer_param_blocks,
    .destroy = nf_ar_layer_destroy,
};

nf_status nf_maf_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity) {
    return nf_ar_layer_new(out, in, net, parity, &maf_ops, "maf");
}
