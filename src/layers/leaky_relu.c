/* LeakyReLU flow (the JAX tutorial's): y = x for x > 0, a x otherwise, with a learned
 * slope a = exp(log_a) > 0 so the map stays invertible. log|det J| = log a times the
 * number of negative entries: piecewise constant in x, so it only has a parameter
 * gradient. The sign of y is the sign of x, which makes the inverse exact. */
#include "vec_layer.h"

#include <math.h>

static nf_status lr_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    int D = nf_vec_dim(l);
    double loga = l->param[0];
    nf_real a = (nf_real)exp(loga);
#pragma omp parallel for schedule(static) if ((size_t)x->n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < x->n; b++) {
        nf_real *p = x->data + (size_t)b * D;
        int neg = 0;
        for (int i = 0; i < D; i++)
            if (p[i] < 0) p[i] *= a, neg++;
        logdet[b] += neg * loga;
    }
    return NF_OK;
}

static nf_status lr_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    size_t cnt = nf_tensor_count(y);
    nf_real inv = (nf_real)exp(-(double)l->param[0]);
#pragma omp parallel for schedule(static) if (cnt > NF_VEC_OMP_MIN)
    for (size_t i = 0; i < cnt; i++)
        if (y->data[i] < 0) y->data[i] *= inv;
    return NF_OK;
}

static nf_status lr_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    size_t cnt = nf_tensor_count(y);
    nf_real a = (nf_real)exp((double)l->param[0]), inv = (nf_real)exp(-(double)l->param[0]);
    double g = 0; /* d loss / d log_a = sum over y < 0 of dy * y, plus dlogdet per negative entry */
    long neg = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (y->data[i] >= 0) continue;
        g += (double)dy->data[i] * y->data[i];
        neg++;
        y->data[i] *= inv;
        dy->data[i] *= a;
    }
    l->grad[0] += (nf_real)(g + ctx->dlogdet * (double)neg);
    return NF_OK;
}

typedef struct leaky_relu {
    nf_layer base;
    double alpha; /* initial slope */
} leaky_relu;

static void lr_init_params(nf_layer *l, nf_rng *rng) { l->param[0] = (nf_real)log(((leaky_relu *)l)->alpha); }

static int lr_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("logslope", 0, 1, 0);
    return nf_vec_blocks(&b, 1, out, max);
}

static const nf_layer_ops leaky_relu_ops = {
    .name = "leakyrelu",
    .forward = lr_forward,
    .inverse = lr_inverse,
    .backward = lr_backward,
    .init_params = lr_init_params,
    .param_blocks = lr_param_blocks,
    .destroy = nf_vec_layer_free,
};

nf_status nf_leaky_relu_create(nf_layer **out, nf_shape in, double alpha) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (!(alpha > 0) || !isfinite(alpha))
        return nf_fail(NF_ERR_ARG, "leakyrelu: the slope must be > 0 to be invertible, got %g", alpha);
    NF_TRY(nf_vec_layer_new(out, sizeof(leaky_relu), &leaky_relu_ops, in, 1, "leakyrelu"));
    ((leaky_relu *)*out)->alpha = alpha;
    return NF_OK;
}
