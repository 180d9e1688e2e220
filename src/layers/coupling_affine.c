/* Glow affine coupling on images: x = (xa, xb), (log_s_raw, t) = NN(xb),
 * s = sigmoid(log_s_raw + 2), ya = s * xa + t, yb = xb; logdet = sum log s.
 * The +2 starts s near 0.88 so early training neither explodes nor vanishes.
 * Backward runs NN once on yb (= xb) and uses its output both to rebuild xa
 * and to backpropagate. */
#include "layers/coupling_subnet.h"

#include <math.h>

/* s = sigmoid(z) */
static nf_real sigmoid(double z) { return (nf_real)(1.0 / (1.0 + exp(-z))); }

/* log sigmoid(z) = -log(1 + exp(-z)), written so exp never overflows */
static double log_sigmoid(double z) { return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)); }

static nf_status affine_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_acts a = nf_coupling_condition(cp, x, ctx);
    size_t hw = (size_t)x->h * x->w, m = (size_t)cp->ca * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < x->n; b++) {
        nf_real *xa = x->data + (size_t)b * x->c * hw;  /* (ca, h, w) of sample b */
        const nf_real *raw = a.out + 2 * m * b, *t = raw + m; /* (ca, h, w) each */
        double ld = 0;
        for (size_t i = 0; i < m; i++) {
            double z = (double)raw[i] + 2.0;
            xa[i] = sigmoid(z) * xa[i] + t[i]; /* ya = s * xa + t */
            ld += log_sigmoid(z);
        }
        logdet[b] += ld;
    }
    return NF_OK;
}

static nf_status affine_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_acts a = nf_coupling_condition(cp, y, ctx); /* yb = xb */
    size_t hw = (size_t)y->h * y->w, m = (size_t)cp->ca * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < y->n; b++) {
        nf_real *ya = y->data + (size_t)b * y->c * hw;
        const nf_real *raw = a.out + 2 * m * b, *t = raw + m;
        for (size_t i = 0; i < m; i++) ya[i] = (ya[i] - t[i]) / sigmoid((double)raw[i] + 2.0); /* xa = (ya - t) / s */
    }
    return NF_OK;
}

static nf_status affine_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_acts a = nf_coupling_condition(cp, y, ctx); /* the only NN forward */
    size_t hw = (size_t)y->h * y->w, m = (size_t)cp->ca * hw;
    nf_real dld = (nf_real)ctx->dlogdet;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < y->n; b++) {
        nf_real *ya = y->data + (size_t)b * y->c * hw, *dya = dy->data + (size_t)b * dy->c * hw;
        nf_real *raw = a.out + 2 * m * b, *t = raw + m; /* overwritten in place by dloss/d(raw, t) */
        for (size_t i = 0; i < m; i++) {
            nf_real s = sigmoid((double)raw[i] + 2.0), g = dya[i];
            nf_real xa = (ya[i] - t[i]) / s;
            ya[i] = xa;
            /* ds/draw = s (1 - s), dlog s/draw = 1 - s */
            raw[i] = g * xa * s * (1 - s) + dld * (1 - s);
            t[i] = g;
            dya[i] = g * s;
        }
    }
    nf_coupling_backprop(cp, &a, dy); /* dxb = dyb + NN^T(d(raw, t)) */
    return NF_OK;
}

static const nf_layer_ops affine_ops = {
    .name = "coupling_affine",
    .forward = affine_forward,
    .inverse = affine_inverse,
    .backward = affine_backward,
    .workspace = nf_coupling_workspace,
    .init_params = nf_coupling_init_params,
    .param_blocks = nf_coupling_param_blocks,
    .destroy = nf_coupling_destroy,
};

nf_status nf_coupling_affine_create(nf_layer **out, nf_shape in, int hidden) {
    /* NN outputs log_s_raw and t: 2 * ca channels */
    return nf_coupling_new(out, in, hidden, 2, &affine_ops, "coupling_affine");
}
