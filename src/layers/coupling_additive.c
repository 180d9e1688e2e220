/* NICE additive coupling on images: x = (xa, xb), ya = xa + NN(xb), yb = xb;
 * volume preserving (logdet 0). Backward runs NN once on yb (= xb) and uses it
 * both to rebuild xa and to backpropagate. */
#include "layers/coupling_subnet.h"

static nf_status additive_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_acts a = nf_coupling_condition(cp, x, ctx);
    size_t hw = (size_t)x->h * x->w, m = (size_t)cp->ca * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < x->n; b++) {
        nf_real *xa = x->data + (size_t)b * x->c * hw; /* (ca, h, w) of sample b */
        const nf_real *t = a.out + m * b;              /* (ca, h, w) */
        for (size_t i = 0; i < m; i++) xa[i] += t[i];  /* ya = xa + t */
    }
    return NF_OK;
}

static nf_status additive_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_acts a = nf_coupling_condition(cp, y, ctx); /* yb = xb */
    size_t hw = (size_t)y->h * y->w, m = (size_t)cp->ca * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < y->n; b++) {
        nf_real *ya = y->data + (size_t)b * y->c * hw;
        const nf_real *t = a.out + m * b;
        for (size_t i = 0; i < m; i++) ya[i] -= t[i]; /* xa = ya - t */
    }
    return NF_OK;
}

static nf_status additive_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_acts a = nf_coupling_condition(cp, y, ctx); /* the only NN forward */
    size_t hw = (size_t)y->h * y->w, m = (size_t)cp->ca * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < y->n; b++) {
        nf_real *ya = y->data + (size_t)b * y->c * hw;
        const nf_real *dya = dy->data + (size_t)b * dy->c * hw; /* dxa = dya: unchanged */
        nf_real *t = a.out + m * b; /* overwritten in place by dloss/dt = dya */
        for (size_t i = 0; i < m; i++) {
            ya[i] -= t[i];
            t[i] = dya[i];
        }
    }
    nf_coupling_backprop(cp, &a, dy); /* dxb = dyb + NN^T(dya) */
    return NF_OK;
}

static const nf_layer_ops additive_ops = {
    .name = "coupling_additive",
    .forward = additive_forward,
    .inverse = additive_inverse,
    .backward = additive_backward,
    .workspace = nf_coupling_workspace,
    .init_params = nf_coupling_init_params,
    .param_blocks = nf_coupling_param_blocks,
    .destroy = nf_coupling_destroy,
};

nf_status nf_coupling_additive_create(nf_layer **out, nf_shape in, int hidden) {
    /* NN outputs the shift t: ca channels */
    return nf_coupling_new(out, in, hidden, 1, &additive_ops, "coupling_additive");
}
