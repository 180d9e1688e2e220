/* ActNorm (Glow): y = exp(logs_c) * x + b_c per channel.
 * logdet = d*h*w * sum_c logs_c. On the first forward, logs and b are set from the
 * batch so that y has zero mean and unit variance per channel (a channel constant over
 * the batch is only centred: logs 0). */
#include "layers/range.h"

#include <math.h>

typedef struct actnorm {
    nf_layer base;
} actnorm;

/* parameter view: logs (c), bias (c) */
static nf_real *logs_of(nf_layer *l) { return l->param; }
static nf_real *bias_of(nf_layer *l) { return l->param + l->in.c; }

/* Per channel c: out[c] += the sum over the batch of (x - centre[c])^p, p = 1 or 2. */
static void channel_sums(const nf_tensor *x, const double *centre, int p, double *out) {
    size_t hw = (size_t)x->d * x->h * x->w;
    for (int c = 0; c < x->c; c++) {
        double acc = 0, m = centre ? centre[c] : 0;
        for (int n = 0; n < x->n; n++) {
            const nf_real *q = x->data + ((size_t)n * x->c + c) * hw;
            for (size_t i = 0; i < hw; i++) acc += p == 1 ? q[i] - m : (q[i] - m) * (q[i] - m);
        }
        out[c] = acc;
    }
}

/* logs and b such that the batch comes out with zero mean and unit variance per channel;
 * with ctx->sum, the statistics are those of the global batch (every process's share). */
static nf_status data_init(nf_layer *l, const nf_tensor *x, const nf_ctx *ctx) {
    int C = x->c;
    double *st = nf_alloc(sizeof(double) * (2 * (size_t)C + 1));
    if (!st) return nf_fail(NF_ERR_NOMEM, "actnorm: out of memory");
    double *mean = st, *sq = st + C;
    channel_sums(x, NULL, 1, mean);
    mean[C] = (double)x->n * x->d * x->h * x->w; /* the count rides along */
    nf_status s = ctx && ctx->sum ? ctx->sum(ctx->sum_user, mean, (size_t)C + 1) : NF_OK;
    double cnt = mean[C];
    if (s == NF_OK) {
        for (int c = 0; c < C; c++) mean[c] /= cnt;
        channel_sums(x, mean, 2, sq);
        if (ctx && ctx->sum) s = ctx->sum(ctx->sum_user, sq, (size_t)C);
    }
    if (s == NF_OK) {
        for (int c = 0; c < C; c++) {
            /* A channel constant over the batch (a condition's one-hot or padding channel)
             * is only centred: 1/(0 + 1e-6) would scale its later values by a million. */
            double sd0 = sqrt(sq[c] / cnt), sd = sd0 > 1e-6 * (1 + fabs(mean[c])) ? sd0 + 1e-6 : 1.0;
            logs_of(l)[c] = (nf_real)(-log(sd));
            bias_of(l)[c] = (nf_real)(-mean[c] / sd);
        }
        l->initialized = 1;
    }
    nf_free(st);
    return s;
}

/* ---------------------------------------------------------------- range calls */

/* y = s x + b per channel, s = exp(logs); logdet[b] += d*h*w * sum_c logs_c. */
static void an_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *slot) {
    int C = x->c;
    size_t hw = (size_t)x->d * x->h * x->w;
    const nf_real *logs = logs_of(l), *b = bias_of(l);
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < C; c++) {
            nf_real s = (nf_real)exp(logs[c]), bc = b[c];
            nf_real *restrict p = x->data + ((size_t)n * C + c) * hw;
#pragma omp simd
            for (size_t i = 0; i < hw; i++) p[i] = s * p[i] + bc;
        }
    double ld = 0;
    for (int c = 0; c < C; c++) ld += logs[c];
    for (int n = 0; n < x->n; n++) logdet[n] += ld * (double)hw;
}

/* x = (y - b) / s */
static void an_inverse(nf_layer *l, nf_tensor *y, nf_ctx *slot) {
    int C = y->c;
    size_t hw = (size_t)y->d * y->h * y->w;
    const nf_real *logs = logs_of(l), *b = bias_of(l);
    for (int n = 0; n < y->n; n++)
        for (int c = 0; c < C; c++) {
            nf_real inv = (nf_real)exp(-logs[c]), bc = b[c];
            nf_real *restrict p = y->data + ((size_t)n * C + c) * hw;
#pragma omp simd
            for (size_t i = 0; i < hw; i++) p[i] = (p[i] - bc) * inv;
        }
}

/* x = (y - b) / s, dx = s dy; partial (2C) += (sum dy * s x, sum dy) per channel. */
static void an_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *slot, nf_real *partial) {
    int C = y->c;
    size_t hw = (size_t)y->d * y->h * y->w;
    const nf_real *logs = logs_of(l), *b = bias_of(l);
    for (int c = 0; c < C; c++) {
        nf_real s = (nf_real)exp(logs[c]), inv = (nf_real)exp(-logs[c]), bc = b[c];
        double gs = 0, gb = 0;
        for (int n = 0; n < y->n; n++) {
            nf_real *restrict py = y->data + ((size_t)n * C + c) * hw, *restrict pd = dy->data + ((size_t)n * C + c) * hw;
#pragma omp simd reduction(+ : gs, gb)
            for (size_t i = 0; i < hw; i++) {
                nf_real yc = py[i] - bc;
                gs += (double)pd[i] * yc; /* dy * s * x */
                gb += pd[i];
                py[i] = yc * inv;
                pd[i] *= s;
            }
        }
        partial[c] += (nf_real)gs;
        partial[C + c] += (nf_real)gb;
    }
}

/* The -logdet term: dloss/dlogs_c += dlogdet * n * d*h*w for a batch of n. */
static void logdet_grad(nf_layer *l, int n, double dlogdet) {
    double hw = (double)l->in.d * l->in.h * l->in.w;
    for (int c = 0; c < l->in.c; c++) l->grad[c] += (nf_real)(dlogdet * (double)n * hw);
}

/* grad += the summed partial, then the -logdet term. */
static void an_finish(nf_layer *l, const nf_real *partial, int n, double dlogdet, nf_ctx *slot) {
    for (int i = 0; i < 2 * l->in.c; i++) l->grad[i] += partial[i];
    logdet_grad(l, n, dlogdet);
}

static size_t an_slot_bytes(const nf_layer *l, nf_shape in) { return 0; }
static size_t an_partial_count(const nf_layer *l) { return 2 * (size_t)l->in.c; }

const nf_range_ops nf_actnorm_range = {
    .slot_bytes = an_slot_bytes,
    .partial_count = an_partial_count,
    .forward = an_forward,
    .inverse = an_inverse,
    .backward = an_backward,
    .finish = an_finish,
};

/* ---------------------------------------------------------------- layer calls */

/* The whole batch is one range on the calling thread: the pass is memory-bound and
 * flows that run many images at once use the range calls on their own threads. */
static nf_status actnorm_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    if (!l->initialized) NF_TRY(data_init(l, x, ctx));
    an_forward(l, x, logdet, ctx);
    return NF_OK;
}

static nf_status actnorm_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    if (!l->initialized) return nf_fail(NF_ERR_STATE, "actnorm: inverse before the first forward (not initialised)");
    an_inverse(l, y, ctx);
    return NF_OK;
}

static nf_status actnorm_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    if (!l->initialized) return nf_fail(NF_ERR_STATE, "actnorm: backward before the first forward (not initialised)");
    an_backward(l, y, dy, ctx, l->grad); /* one range: its partial is the gradient itself */
    logdet_grad(l, y->n, ctx->dlogdet);
    return NF_OK;
}

static void actnorm_init_params(nf_layer *l, nf_rng *rng) {
    for (int c = 0; c < 2 * l->in.c; c++) l->param[c] = 0;
}

static int actnorm_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block blocks[2] = {{"logscale", 0, 1, {l->in.c}}, {"bias", (size_t)l->in.c, 1, {l->in.c}}};
    for (int i = 0; i < 2 && i < max; i++) out[i] = blocks[i];
    return 2;
}

static void actnorm_destroy(nf_layer *l) { nf_free(l); }

static const nf_layer_ops actnorm_ops = {
    .name = "actnorm",
    .forward = actnorm_forward,
    .inverse = actnorm_inverse,
    .backward = actnorm_backward,
    .init_params = actnorm_init_params,
    .param_blocks = actnorm_param_blocks,
    .destroy = actnorm_destroy,
};

nf_status nf_actnorm_create(nf_layer **out, nf_shape in) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (in.c <= 0 || in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "actnorm: input shape (%d, %d, %d, %d) has a non-positive size", in.c, in.d,
                       in.h, in.w);
    actnorm *a = nf_calloc(1, sizeof *a);
    if (!a) return nf_fail(NF_ERR_NOMEM, "actnorm: out of memory");
    a->base.ops = &actnorm_ops;
    a->base.in = in;
    a->base.nparams = 2 * (size_t)in.c;
    *out = &a->base;
    return NF_OK;
}
