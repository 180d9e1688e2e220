/* AffineConstantFlow (ADCME, karpathy/pytorch-normalizing-flows): y = exp(s) * x + t
 * element-wise with learned s, t (D each); logdet = sum_i s_i. Either part can be
 * switched off (NICE ends with a scale-only one). */
#include "vec_layer.h"

#include <math.h>

typedef struct affine_constant {
    nf_layer base;
    int scale, shift; /* which parts exist */
} affine_constant;

/* parameter view: logscale (D) if scale, then shift (D) if shift */
static const nf_real *s_of(const nf_layer *l) { return ((const affine_constant *)l)->scale ? l->param : NULL; }
static const nf_real *t_of(const nf_layer *l) {
    const affine_constant *a = (const affine_constant *)l;
    return a->shift ? l->param + (a->scale ? nf_vec_dim(l) : 0) : NULL;
}

static nf_status ac_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    int D = nf_vec_dim(l);
    const nf_real *s = s_of(l), *t = t_of(l);
    double ld = 0;
    for (int i = 0; s && i < D; i++) ld += s[i];
#pragma omp parallel for schedule(static) if ((size_t)x->n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < x->n; b++) {
        nf_real *p = x->data + (size_t)b * D;
        for (int i = 0; i < D; i++) p[i] = (s ? (nf_real)exp(s[i]) * p[i] : p[i]) + (t ? t[i] : 0);
        logdet[b] += ld;
    }
    return NF_OK;
}

/* x = (y - t) * exp(-s) */
static void ac_invert(const nf_layer *l, nf_tensor *y) {
    int D = nf_vec_dim(l);
    const nf_real *s = s_of(l), *t = t_of(l);
#pragma omp parallel for schedule(static) if ((size_t)y->n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < y->n; b++) {
        nf_real *p = y->data + (size_t)b * D;
        for (int i = 0; i < D; i++) {
            nf_real v = p[i] - (t ? t[i] : 0);
            p[i] = s ? v * (nf_real)exp(-s[i]) : v;
        }
    }
}

static nf_status ac_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    ac_invert(l, y);
    return NF_OK;
}

static nf_status ac_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    int D = nf_vec_dim(l), n = y->n;
    const nf_real *s = s_of(l), *t = t_of(l);
    affine_constant *a = (affine_constant *)l;
    nf_real *ds = a->scale ? l->grad : NULL, *dt = a->shift ? l->grad + (a->scale ? D : 0) : NULL;
    for (int i = 0; i < D; i++) {
        double gs = 0, gt = 0;
        for (int b = 0; b < n; b++) {
            nf_real dv = dy->data[(size_t)b * D + i], yv = y->data[(size_t)b * D + i];
            gs += (double)dv * (yv - (t ? t[i] : 0)); /* dy * exp(s) x */
            gt += dv;
        }
        if (ds) ds[i] += (nf_real)(gs + ctx->dlogdet * n);
        if (dt) dt[i] += (nf_real)gt;
    }
    ac_invert(l, y);
    if (s) {
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
        for (int b = 0; b < n; b++)
            for (int i = 0; i < D; i++) dy->data[(size_t)b * D + i] *= (nf_real)exp(s[i]); /* dx = dy exp(s) */
    }
    return NF_OK;
}

static void ac_init_params(nf_layer *l, nf_rng *rng) {
    for (size_t i = 0; i < l->nparams; i++) l->param[i] = 0;
}

static int ac_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    const affine_constant *a = (const affine_constant *)l;
    size_t D = (size_t)nf_vec_dim(l);
    nf_param_block blocks[2];
    int nb = 0;
    if (a->scale) blocks[nb++] = nf_vec_block("logscale", 0, D, 0);
    if (a->shift) blocks[nb++] = nf_vec_block("shift", a->scale ? D : 0, D, 0);
    return nf_vec_blocks(blocks, nb, out, max);
}

static const nf_layer_ops affine_constant_ops = {
    .name = "affine",
    .forward = ac_forward,
    .inverse = ac_inverse,
    .backward = ac_backward,
    .init_params = ac_init_params,
    .param_blocks = ac_param_blocks,
    .destroy = nf_vec_layer_free,
};

nf_status nf_affine_constant_create(nf_layer **out, nf_shape in, int scale, int shift) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (!scale && !shift) return nf_fail(NF_ERR_ARG, "affine: needs a scale, a shift or both (both are off)");
    size_t D = nf_shape_sample_count(in);
    NF_TRY(nf_vec_layer_new(out, sizeof(affine_constant), &affine_constant_ops, in,
                            (size_t)(scale != 0) * D + (size_t)(shift != 0) * D, "affine"));
    affine_constant *a = (affine_constant *)*out;
    a->scale = scale != 0;
    a->shift = shift != 0;
    return NF_OK;
}
