/* Batch-normalisation flow (Dinh et al. 2017, RealNVP section 3.7; the TF tutorial's
 * BatchNormalization bijector):
 *   y = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta,
 *   logdet = sum_i log_gamma_i - 0.5 log(v_i + eps), the same for every sample.
 * Training mode: m, v are the batch mean and (biased) variance, so every output
 * depends on the whole batch; the running averages r <- momentum r + (1 - momentum) b
 * are updated on each training forward. Evaluation mode: m, v are the running
 * averages and samples are independent (sampling and held-out evaluation).
 * The batch statistics cannot be recovered from y, so a training forward keeps them
 * (2 D numbers, not activations) for the inverse and backward of that batch. */
#include "vec_layer.h"

#include <math.h>
#include <string.h>

typedef struct batchnorm {
    nf_layer base;
    double momentum, eps;
    int training;     /* 1: batch statistics (the default), 0: running averages */
    int batch_n;      /* samples of the last training forward, 0 before the first */
    double global_n;  /* samples of the global batch (all processes' shares) of that forward */
    double *mean;     /* (D) batch mean of the last training forward */
    double *var;      /* (D) its biased variance */
    double *sums;     /* (2 D + 1) scratch for the sums over the batch */
} batchnorm;

/* parameter view: log_gamma (D), beta (D), running_mean (D, frozen), running_var (D, frozen) */
static nf_real *lg_of(const nf_layer *l) { return l->param; }
static nf_real *beta_of(const nf_layer *l) { return l->param + nf_vec_dim(l); }
static nf_real *rmean_of(const nf_layer *l) { return l->param + 2 * (size_t)nf_vec_dim(l); }
static nf_real *rvar_of(const nf_layer *l) { return l->param + 3 * (size_t)nf_vec_dim(l); }

/* The statistics the current mode uses for feature i. */
static void stats(const batchnorm *bn, int i, double *m, double *v) {
    if (bn->training) {
        *m = bn->mean[i], *v = bn->var[i];
    } else {
        *m = rmean_of(&bn->base)[i], *v = rvar_of(&bn->base)[i];
    }
}

/* Per feature i: out[i] = the sum over the batch of x (centre NULL) or (x - centre[i])^2. */
static void feature_sums(const nf_tensor *x, int D, const double *centre, double *out) {
    int n = x->n;
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int i = 0; i < D; i++) {
        double acc = 0;
        for (int b = 0; b < n; b++) {
            double d = x->data[(size_t)b * D + i] - (centre ? centre[i] : 0);
            acc += centre ? d * d : d;
        }
        out[i] = acc;
    }
}

/* The batch statistics, and the running averages moved towards them. With ctx->sum (data
 * parallelism) they are the global batch's: every process's share summed, the count too. */
static nf_status batch_stats(batchnorm *bn, const nf_tensor *x, const nf_ctx *ctx) {
    nf_layer *l = &bn->base;
    int D = nf_vec_dim(l);
    double *sum = bn->sums;
    feature_sums(x, D, NULL, sum);
    sum[D] = x->n; /* the count rides along */
    if (ctx && ctx->sum) NF_TRY(ctx->sum(ctx->sum_user, sum, (size_t)D + 1));
    double N = sum[D];
    if (N < 2)
        return nf_fail(NF_ERR_SHAPE, "batchnorm: training mode needs a batch of at least 2 samples, got %g "
                                     "(use evaluation mode for single samples)", N);
    for (int i = 0; i < D; i++) bn->mean[i] = sum[i] / N;
    feature_sums(x, D, bn->mean, bn->var);
    if (ctx && ctx->sum) NF_TRY(ctx->sum(ctx->sum_user, bn->var, (size_t)D));
    for (int i = 0; i < D; i++) {
        bn->var[i] /= N;
        rmean_of(l)[i] = (nf_real)(bn->momentum * rmean_of(l)[i] + (1 - bn->momentum) * bn->mean[i]);
        rvar_of(l)[i] = (nf_real)(bn->momentum * rvar_of(l)[i] + (1 - bn->momentum) * bn->var[i]);
    }
    bn->batch_n = x->n;
    bn->global_n = N;
    return NF_OK;
}

static nf_status bn_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    batchnorm *bn = (batchnorm *)l;
    int D = nf_vec_dim(l), n = x->n;
    if (bn->training) NF_TRY(batch_stats(bn, x, ctx));
    double ld = 0;
    for (int i = 0; i < D; i++) {
        double m, v;
        stats(bn, i, &m, &v);
        if (!(v + bn->eps > 0)) return nf_fail(NF_ERR_NUMERIC, "batchnorm: variance %g of feature %d + eps is not positive", v, i);
        ld += lg_of(l)[i] - 0.5 * log(v + bn->eps);
    }
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < n; b++) {
        nf_real *p = x->data + (size_t)b * D;
        for (int i = 0; i < D; i++) {
            double m, v;
            stats(bn, i, &m, &v);
            p[i] = (nf_real)((p[i] - m) / sqrt(v + bn->eps) * exp(lg_of(l)[i]) + beta_of(l)[i]);
        }
        logdet[b] += ld;
    }
    return NF_OK;
}

static nf_status check_batch(const batchnorm *bn, int n, const char *what) {
    if (!bn->training) return NF_OK;
    if (!bn->batch_n)
        return nf_fail(NF_ERR_STATE, "batchnorm: %s in training mode before a training forward (no batch statistics)",
                       what);
    if (bn->batch_n != n)
        return nf_fail(NF_ERR_STATE, "batchnorm: %s in training mode of %d samples, the last forward had %d", what, n,
                       bn->batch_n);
    return NF_OK;
}

/* x = (y - beta) exp(-log_gamma) sqrt(v + eps) + m */
static nf_status bn_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    batchnorm *bn = (batchnorm *)l;
    NF_TRY(check_batch(bn, y->n, "inverse"));
    int D = nf_vec_dim(l);
#pragma omp parallel for schedule(static) if ((size_t)y->n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < y->n; b++) {
        nf_real *p = y->data + (size_t)b * D;
        for (int i = 0; i < D; i++) {
            double m, v;
            stats(bn, i, &m, &v);
            p[i] = (nf_real)((p[i] - beta_of(l)[i]) * exp(-lg_of(l)[i]) * sqrt(v + bn->eps) + m);
        }
    }
    return NF_OK;
}

/* With xh = (x - m)/sigma, sigma = sqrt(v + eps), g = exp(log_gamma), c = dlogdet:
 *   dlog_gamma += sum_b dy g xh + c n,  dbeta += sum_b dy,
 *   evaluation:  dx = dy g / sigma,
 *   training:    dx = (dxh - mean_b dxh - xh mean_b(dxh xh)) / sigma - c xh / sigma,
 * with dxh = dy g; the last term is the batch logdet's dependence on x through v.
 * Data parallelism (ctx->sum): the means are over the global batch of N samples of the
 * global loss. Each process's dy is the gradient of its own mean loss over its n_r
 * samples, n_r / N times the global loss's scale, and its dx must be on that scale too
 * (the trainer weighs each process's gradients by n_r / N), so
 *   dx = (dxh - sum_r n_r A_r / (N n_r) - xh sum_r n_r B_r / (N n_r)) / sigma - c xh / sigma,
 * A_r = sum over process r's samples of dxh, B_r of dxh xh (one sum of 2 D + 1 values);
 * with one process it is the formula above. */
static nf_status bn_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    batchnorm *bn = (batchnorm *)l;
    NF_TRY(check_batch(bn, y->n, "backward"));
    int D = nf_vec_dim(l), n = y->n;
    double c = ctx->dlogdet;
    double *A = bn->sums, *B = bn->sums + D; /* per feature: mean_b dxh, mean_b dxh xh */
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int i = 0; i < D; i++) {
        double g = exp(lg_of(l)[i]), be = beta_of(l)[i];
        double sum_d = 0, sum_dxh = 0, gbeta = 0;
        for (int b = 0; b < n; b++) {
            size_t k = (size_t)b * D + i;
            double xh = (y->data[k] - be) / g, dxh = dy->data[k] * g;
            gbeta += dy->data[k];
            sum_d += dxh;
            sum_dxh += dxh * xh;
        }
        l->grad[i] += (nf_real)(sum_dxh + c * n);
        l->grad[D + i] += (nf_real)gbeta;
        A[i] = sum_d, B[i] = sum_dxh;
    }
    if (bn->training && ctx->sum) {
        for (int i = 0; i < 2 * D; i++) bn->sums[i] *= n;
        bn->sums[2 * D] = n;
        NF_TRY(ctx->sum(ctx->sum_user, bn->sums, 2 * (size_t)D + 1));
        double N = bn->sums[2 * D];
        for (int i = 0; i < 2 * D; i++) bn->sums[i] /= N * n;
    } else {
        for (int i = 0; i < 2 * D; i++) bn->sums[i] /= n;
    }
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int i = 0; i < D; i++) {
        double m, v;
        stats(bn, i, &m, &v);
        double sigma = sqrt(v + bn->eps), g = exp(lg_of(l)[i]), be = beta_of(l)[i];
        for (int b = 0; b < n; b++) {
            size_t k = (size_t)b * D + i;
            double xh = (y->data[k] - be) / g, dxh = dy->data[k] * g;
            if (bn->training) dy->data[k] = (nf_real)((dxh - A[i] - xh * B[i] - c * xh) / sigma);
            else dy->data[k] = (nf_real)(dxh / sigma);
            y->data[k] = (nf_real)(xh * sigma + m);
        }
    }
    return NF_OK;
}

static void bn_init_params(nf_layer *l, nf_rng *rng) {
    int D = nf_vec_dim(l);
    for (int i = 0; i < D; i++) lg_of(l)[i] = beta_of(l)[i] = rmean_of(l)[i] = 0, rvar_of(l)[i] = 1;
}

static int bn_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    size_t D = (size_t)nf_vec_dim(l);
    nf_param_block blocks[4] = {nf_vec_block("loggamma", 0, D, 0), nf_vec_block("beta", D, D, 0),
                                nf_vec_block("running_mean", 2 * D, D, 1), nf_vec_block("running_var", 3 * D, D, 1)};
    return nf_vec_blocks(blocks, 4, out, max);
}

static void bn_destroy(nf_layer *l) {
    nf_free(((batchnorm *)l)->mean);
    nf_free(l);
}

static const nf_layer_ops batchnorm_ops = {
    .name = "batchnorm",
    .forward = bn_forward,
    .inverse = bn_inverse,
    .backward = bn_backward,
    .init_params = bn_init_params,
    .param_blocks = bn_param_blocks,
    .destroy = bn_destroy,
};

nf_status nf_batchnorm_create(nf_layer **out, nf_shape in, double momentum, double eps) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (!(momentum >= 0 && momentum < 1))
        return nf_fail(NF_ERR_ARG, "batchnorm: momentum must be in [0, 1), got %g", momentum);
    if (!(eps > 0) || !isfinite(eps)) return nf_fail(NF_ERR_ARG, "batchnorm: eps must be > 0, got %g", eps);
    size_t D = nf_shape_sample_count(in);
    NF_TRY(nf_vec_layer_new(out, sizeof(batchnorm), &batchnorm_ops, in, 4 * D, "batchnorm"));
    batchnorm *bn = (batchnorm *)*out;
    bn->momentum = momentum, bn->eps = eps, bn->training = 1;
    bn->mean = nf_calloc(4 * D + 1, sizeof(double));
    if (!bn->mean) {
        nf_free(bn);
        *out = NULL;
        return nf_fail(NF_ERR_NOMEM, "batchnorm: out of memory");
    }
    bn->var = bn->mean + D;
    bn->sums = bn->mean + 2 * D;
    return NF_OK;
}

int nf_layer_is_batchnorm(const nf_layer *l) { return l && l->ops == &batchnorm_ops; }

nf_status nf_batchnorm_set_training(nf_layer *l, int training) {
    if (!nf_layer_is_batchnorm(l))
        return nf_fail(NF_ERR_ARG, "nf_batchnorm_set_training: layer '%s' is not a batchnorm",
                       l && l->ops ? l->ops->name : "(NULL)");
    batchnorm *bn = (batchnorm *)l;
    bn->training = training != 0;
    if (!bn->training) bn->batch_n = 0;
    return NF_OK;
}
