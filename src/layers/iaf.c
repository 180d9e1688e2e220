/* Inverse autoregressive flow (Kingma et al. 2016; karpathy's IAF = MAF reversed):
 * the data-to-latent direction solves x = z * exp(s(z)) + t(z) for z, sequentially
 * (D passes), logdet = -sum s(z); sampling is the cheap direction (one pass).
 *
 * Backward, from z and dz: x = z e^s + t is one pass. With G(z) = z e^s + t and the
 * loss's z-gradient h = dz + c d(-sum s)/dz (c = dlogdet), dloss/dx = a solves
 * J_G^T a = h: J_G = diag(e^s) + N with N strictly triangular in the MADE order, so
 * a is found one degree at a time, from the last down, each step one MADE
 * vector-Jacobian product with the a found so far (D products). The parameters get
 * MADE's backprop of (-c - a z e^s, -a). */
#include "made.h"

#include <math.h>
#include <string.h>

static nf_status iaf_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    nf_ar_layer *a = (nf_ar_layer *)l;
    nf_made_work w = nf_made_take(&a->made, ctx, x->n);
    nf_made_solve(&a->made, l->param, x->data, w.x, x->n, logdet, -1.0, &w);
    memcpy(x->data, w.x, nf_tensor_count(x) * sizeof(nf_real));
    return NF_OK;
}

static nf_status iaf_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    nf_ar_layer *a = (nf_ar_layer *)l;
    nf_made_work w = nf_made_take(&a->made, ctx, y->n);
    nf_made_apply(&a->made, l->param, y->data, y->data, y->n, NULL, 0, &w);
    return NF_OK;
}

/* w->g (n, D) = MADE's input-gradient for output gradients (us, ut) per element:
 * us = ks + kz * a * z * e^s, ut = kt * a (a may be NULL: treated as 0). */
static void vjp(nf_ar_layer *ar, const nf_real *z, const nf_real *st, const nf_real *a, double ks, double kz,
                double kt, nf_real *grad, nf_real *dx, int n, nf_made_work *w) {
    int D = ar->made.D;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < D; i++) {
            size_t k = (size_t)b * D + i, r = (size_t)b * 2 * D;
            double av = a ? a[k] : 0;
            w->dst[r + i] = (nf_real)(ks + kz * av * z[k] * exp(st[r + i]));
            w->dst[r + D + i] = (nf_real)(kt * av);
        }
    nf_mlp_backward(&ar->made.net, ar->base.param, grad, z, n, w->acts, w->dst, dx, w->scratch);
}

static nf_status iaf_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    nf_ar_layer *ar = (nf_ar_layer *)l;
    int n = y->n, D = ar->made.D;
    size_t cnt = (size_t)n * D;
    double c = ctx->dlogdet;
    const nf_real *z = y->data;
    nf_made_work w = nf_made_take(&ar->made, ctx, n);
    const nf_real *st = nf_made_apply(&ar->made, l->param, z, w.x, n, NULL, 0, &w);
    vjp(ar, z, st, NULL, -c, 0, 0, NULL, dy->data, n, &w); /* h = dz + c d(-sum s)/dz, in dy */
    memset(w.a, 0, cnt * sizeof(nf_real));
    for (int k = D - 1; k >= 0; k--) {
        int i = ar->made.reverse ? D - 1 - k : k; /* the input of degree k */
        memset(w.g, 0, cnt * sizeof(nf_real));
        if (k < D - 1) vjp(ar, z, st, w.a, 0, 1, 1, NULL, w.g, n, &w); /* (N^T a)_i from the later degrees */
        for (int b = 0; b < n; b++) {
            size_t q = (size_t)b * D + i;
            w.a[q] = (dy->data[q] - w.g[q]) * (nf_real)exp(-st[(size_t)b * 2 * D + i]);
        }
    }
    vjp(ar, z, st, w.a, -c, -1, -1, l->grad, NULL, n, &w);
    memcpy(y->data, w.x, cnt * sizeof(nf_real));
    memcpy(dy->data, w.a, cnt * sizeof(nf_real));
    return NF_OK;
}

static const nf_layer_ops iaf_ops = {
    .name = "iaf",
    .forward = iaf_forward,
    .inverse = iaf_inverse,
    .backward = iaf_backward,
    .workspace = nf_ar_layer_workspace,
    .init_params = nf_ar_layer_init_params,
    .param_blocks = nf_ar_layer_param_blocks,
    .destroy = nf_ar_layer_destroy,
};

nf_status nf_iaf_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity) {
    return nf_ar_layer_new(out, in, net, parity, &iaf_ops, "iaf");
}
