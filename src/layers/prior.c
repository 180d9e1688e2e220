/* Glow's learned priors (openai/glow's split prior and `learntop`) as an invertible layer
 * that standardises the latents it covers:
 *   split prior (conditioned): x = (xa, xb), xa = the first ca = c/2 channels (they go on to
 *     the next level), xb = the other cb = c - ca (factored out);
 *     (m, ls) = conv3x3(xa) + bias, 2*cb channels (m = the first cb, ls = the rest),
 *   top prior (unconditioned): ca = 0, xb = all c channels, m and ls per channel;
 *   yb = (xb - m) * exp(-ls), ya = xa;  logdet -= sum ls over xb's values.
 * With y ~ N(0, I) this says xb ~ N(m, exp(ls)^2): the log-likelihood of xb under the
 * learned Gaussian is log N(yb; 0, I) - sum ls, and sampling yb ~ N(0, T^2) draws
 * xb = m + exp(ls) * T * eps. All parameters start at 0 (the standard normal prior).
 * Backward rebuilds xb = m + exp(ls) * yb from the kept xa and sends the gradient of
 * (m, ls) into the conv and into xa. Volumes use the 3x3x3 convolution. The convolution
 * and the element-wise passes run on the whole batch (the kernels thread themselves). */
#include "nf_internal.h"

#include "kernels/conv2d.h"
#include "kernels/conv3d.h"

#include <math.h>
#include <string.h>

typedef struct prior {
    nf_layer base;
    int ca, cb; /* conditioning channels (0: top prior) and standardised channels */
} prior;

enum { PRIOR_OMP_MIN = 1 << 15 }; /* element-wise passes fork above this many values */

/* parameter view: weight (2cb, ca, 3, 3[, 3]) when ca > 0, then bias (2cb) */
static size_t weight_count(const prior *p) { return (size_t)2 * p->cb * p->ca * (p->base.in.d > 1 ? 27 : 9); }
static nf_real *bias_of(nf_real *view, const prior *p) { return view + weight_count(p); }
static size_t voxels(const nf_layer *l) { return (size_t)l->in.d * l->in.h * l->in.w; }

static size_t conv_work_count(const prior *p, int n) {
    const nf_shape s = p->base.in;
    if (!p->ca) return 0;
    return s.d > 1 ? nf_conv3d_work_count(n, p->ca, 2 * p->cb, s.d, s.h, s.w, 3)
                   : nf_conv2d_work_count(n, p->ca, 2 * p->cb, s.h, s.w, 3);
}

/* Scratch: xa gathered contiguous (n, ca, dhw), the conv output (n, 2cb, dhw), conv work. */
typedef struct prior_scratch {
    nf_real *xa, *out, *work;
} prior_scratch;

static size_t prior_workspace(const nf_layer *l, nf_shape in) {
    const prior *p = (const prior *)l;
    size_t dhw = voxels(l);
    return nf_work_bytes((size_t)in.n * p->ca * dhw) + nf_work_bytes((size_t)in.n * 2 * p->cb * dhw) +
           nf_work_bytes(conv_work_count(p, in.n));
}

static prior_scratch take(const prior *p, nf_ctx *ctx, int n) {
    size_t off = 0, dhw = voxels(&p->base);
    prior_scratch s;
    s.xa = nf_ctx_take(ctx, &off, (size_t)n * p->ca * dhw);
    s.out = nf_ctx_take(ctx, &off, (size_t)n * 2 * p->cb * dhw);
    s.work = nf_ctx_take(ctx, &off, conv_work_count(p, n));
    return s;
}

/* s->out (n, 2cb, dhw) = (m, ls) for the batch x (n, c, dhw), whose xa is the input. */
static void conditioner(const prior *p, const nf_tensor *x, prior_scratch *s) {
    const nf_shape in = p->base.in;
    const nf_real *param = p->base.param, *bias = bias_of(p->base.param, p);
    size_t dhw = voxels(&p->base), ncol = (size_t)2 * p->cb * dhw;
    int n = x->n;
    if (!p->ca) {
        for (int b = 0; b < n; b++)
            for (int co = 0; co < 2 * p->cb; co++)
                for (size_t q = 0; q < dhw; q++) s->out[(size_t)b * ncol + co * dhw + q] = bias[co];
        return;
    }
    size_t na = (size_t)p->ca * dhw;
    for (int b = 0; b < n; b++) memcpy(s->xa + b * na, x->data + (size_t)b * in.c * dhw, na * sizeof(nf_real));
    if (in.d > 1) nf_conv3d_forward(s->out, s->xa, param, bias, n, p->ca, 2 * p->cb, in.d, in.h, in.w, 3, s->work);
    else nf_conv2d_forward(s->out, s->xa, param, bias, n, p->ca, 2 * p->cb, in.h, in.w, 3, s->work);
}

typedef enum prior_pass { PRIOR_FORWARD, PRIOR_INVERSE, PRIOR_BACKWARD } prior_pass;

/* The element-wise step on xb of every image (x holds x for FORWARD, y otherwise):
 *  forward:  yb = (xb - m) exp(-ls), logdet[b] -= sum ls;
 *  inverse:  xb = m + exp(ls) yb;
 *  backward: xb rebuilt as in inverse, dy's xb part <- dloss/dxb = dyb exp(-ls),
 *            out <- dloss/d(m, ls) = (-dyb exp(-ls), -dyb yb - dlogdet). */
static void step(const prior *p, prior_pass pass, nf_tensor *x, nf_tensor *dy, double *logdet, double dlogdet,
                 nf_real *out) {
    size_t dhw = voxels(&p->base);
    int n = x->n, C = x->c, ca = p->ca, cb = p->cb;
#pragma omp parallel for schedule(static) if ((size_t)n * cb * dhw > PRIOR_OMP_MIN)
    for (int b = 0; b < n; b++) {
        double ld = 0;
        for (int c = 0; c < cb; c++) {
            nf_real *xb = x->data + ((size_t)b * C + ca + c) * dhw; /* (dhw) channel c of xb, image b */
            nf_real *m = out + ((size_t)b * 2 * cb + c) * dhw, *ls = out + ((size_t)b * 2 * cb + cb + c) * dhw;
            if (pass == PRIOR_FORWARD) {
                for (size_t q = 0; q < dhw; q++) {
                    xb[q] = (nf_real)((xb[q] - (double)m[q]) * exp(-(double)ls[q]));
                    ld -= ls[q];
                }
            } else if (pass == PRIOR_INVERSE) {
                for (size_t q = 0; q < dhw; q++) xb[q] = (nf_real)(m[q] + exp((double)ls[q]) * xb[q]);
            } else {
                nf_real *dyb = dy->data + ((size_t)b * C + ca + c) * dhw;
                for (size_t q = 0; q < dhw; q++) {
                    double e = exp((double)ls[q]), g = dyb[q], yv = xb[q];
                    xb[q] = (nf_real)(m[q] + e * yv);
                    dyb[q] = (nf_real)(g / e);
                    m[q] = (nf_real)(-g / e);
                    ls[q] = (nf_real)(-g * yv - dlogdet);
                }
            }
        }
        if (pass == PRIOR_FORWARD) logdet[b] += ld;
    }
}

static nf_status prior_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    prior *p = (prior *)l;
    prior_scratch s = take(p, ctx, x->n);
    conditioner(p, x, &s);
    step(p, PRIOR_FORWARD, x, NULL, logdet, 0, s.out);
    return NF_OK;
}

static nf_status prior_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    prior *p = (prior *)l;
    prior_scratch s = take(p, ctx, y->n);
    conditioner(p, y, &s);
    step(p, PRIOR_INVERSE, y, NULL, NULL, 0, s.out);
    return NF_OK;
}

/* One conditioner forward (ya = xa), used both to rebuild xb and to backpropagate. */
static nf_status prior_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    prior *p = (prior *)l;
    const nf_shape in = l->in;
    int n = y->n;
    size_t dhw = voxels(l), ncol = (size_t)2 * p->cb * dhw;
    prior_scratch s = take(p, ctx, n);
    conditioner(p, y, &s);
    step(p, PRIOR_BACKWARD, y, dy, NULL, ctx->dlogdet, s.out);
    nf_real *dbias = bias_of(l->grad, p);
    if (!p->ca) {
        for (int co = 0; co < 2 * p->cb; co++) {
            double acc = 0;
            for (int b = 0; b < n; b++)
                for (size_t q = 0; q < dhw; q++) acc += s.out[(size_t)b * ncol + co * dhw + q];
            dbias[co] += (nf_real)acc;
        }
        return NF_OK;
    }
    /* s.xa still holds xa: the weight gradient first, then it becomes conv^T(dout) */
    if (in.d > 1) {
        nf_conv3d_backward_weights(l->grad, dbias, s.out, s.xa, n, p->ca, 2 * p->cb, in.d, in.h, in.w, 3, s.work);
        nf_conv3d_backward_data(s.xa, s.out, l->param, n, p->ca, 2 * p->cb, in.d, in.h, in.w, 3, s.work);
    } else {
        nf_conv2d_backward_weights(l->grad, dbias, s.out, s.xa, n, p->ca, 2 * p->cb, in.h, in.w, 3, s.work);
        nf_conv2d_backward_data(s.xa, s.out, l->param, n, p->ca, 2 * p->cb, in.h, in.w, 3, s.work);
    }
    size_t na = (size_t)p->ca * dhw;
    for (int b = 0; b < n; b++) {
        nf_real *dya = dy->data + (size_t)b * in.c * dhw;
        const nf_real *g = s.xa + b * na;
        for (size_t k = 0; k < na; k++) dya[k] += g[k];
    }
    return NF_OK;
}

static void prior_init_params(nf_layer *l, nf_rng *rng) {
    (void)rng;
    memset(l->param, 0, l->nparams * sizeof(nf_real));
}

static int prior_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    const prior *p = (const prior *)l;
    int cb = p->cb, vol = l->in.d > 1;
    nf_param_block b[2];
    if (!p->ca) { /* top: the per-channel mean, then log scale */
        b[0] = (nf_param_block){.name = "mean", .offset = 0, .rank = 1, .dims = {cb}};
        b[1] = (nf_param_block){.name = "logscale", .offset = (size_t)cb, .rank = 1, .dims = {cb}};
    } else {
        b[0] = (nf_param_block){.name = "weight", .offset = 0, .rank = vol ? 5 : 4, .dims = {2 * cb, p->ca, 3, 3, 3}};
        b[1] = (nf_param_block){.name = "bias", .offset = weight_count(p), .rank = 1, .dims = {2 * cb}};
    }
    for (int i = 0; i < 2 && i < max; i++) out[i] = b[i];
    return 2;
}

static void prior_destroy(nf_layer *l) { nf_free(l); }

static const nf_layer_ops prior_ops = {
    .name = "prior",
    .forward = prior_forward,
    .inverse = prior_inverse,
    .backward = prior_backward,
    .workspace = prior_workspace,
    .init_params = prior_init_params,
    .param_blocks = prior_param_blocks,
    .destroy = prior_destroy,
};

nf_status nf_prior_create(nf_layer **out, nf_shape in, int conditioned) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (in.c < 1 || in.d < 1 || in.h < 1 || in.w < 1)
        return nf_fail(NF_ERR_SHAPE, "prior: input shape (%d, %d, %d, %d) has a non-positive size", in.c, in.d, in.h,
                       in.w);
    if (conditioned && in.c < 2)
        return nf_fail(NF_ERR_SHAPE, "prior: a split prior needs at least 2 channels (one kept, one factored), got %d",
                       in.c);
    int ca = conditioned ? in.c / 2 : 0, cb = in.c - ca;
    if (ca) {
        nf_status s = in.d > 1 ? nf_conv3d_check("prior", 1, ca, 2 * cb, in.d, in.h, in.w, 3)
                               : nf_conv2d_check("prior", 1, ca, 2 * cb, in.h, in.w, 3);
        if (s != NF_OK) return s;
    }
    prior *p = nf_calloc(1, sizeof *p);
    if (!p) return nf_fail(NF_ERR_NOMEM, "prior: out of memory");
    p->base.ops = &prior_ops;
    p->base.in = in;
    p->ca = ca;
    p->cb = cb;
    p->base.nparams = weight_count(p) + (size_t)2 * cb;
    *out = &p->base;
    return NF_OK;
}
