/* LinearFlow (the PyTorch tutorial's): y = W x + b for each sample, W (D, D), b (D),
 * logdet = log|det W|, the same for every sample.
 *  NF_LINEAR_DENSE: W is free (it starts as the identity, as in the tutorial);
 *    log|det W| and W^-1 come from an LU factorisation with partial pivoting done in
 *    double on every call (D^3 / 3 flops: vector flows have small D).
 *  NF_LINEAR_LU: W = P L (U + diag(sign * exp(logs))) (Glow), starting as a random
 *    rotation. That parametrisation is the invertible 1x1 convolution on a
 *    (D, 1, 1, 1) "image", so this kind wraps a conv1x1 LU layer and adds the bias;
 *    its parameter view is the conv1x1's followed by b. */
#include "vec_layer.h"

#include "kernels/dense.h"
#include "kernels/lu.h"

#include <math.h>
#include <string.h>

typedef struct linear {
    nf_layer base;
    nf_linear_kind kind;
    nf_layer *inner; /* NF_LINEAR_LU: the conv1x1 holding W */
} linear;

static size_t w_count(const nf_layer *l) {
    const linear *li = (const linear *)l;
    return li->inner ? li->inner->nparams : (size_t)nf_vec_dim(l) * nf_vec_dim(l);
}
static nf_real *bias_of(const nf_layer *l) { return l->param + w_count(l); }

/* The wrapped layer views the first part of ours (re-pointed on every call, so a
 * re-bound parameter buffer is followed). */
static nf_layer *inner_of(nf_layer *l) {
    nf_layer *in = ((linear *)l)->inner;
    in->param = l->param;
    in->grad = l->grad;
    return in;
}

static nf_tensor as_vectors(const nf_layer *l, nf_tensor *t) {
    return nf_tensor_view(t->data, t->n, nf_vec_dim(l), 1, 1, 1);
}

static size_t doubles(size_t count) { return count * sizeof(double) / sizeof(nf_real); }

/* ---------------------------------------------------------------- LU in double */


/* ---------------------------------------------------------------- dense kind */

typedef struct dense_scratch {
    double *lu;   /* (D, D) */
    int *piv;     /* (D) */
    double *xd;   /* (n, D) */
    nf_real *out; /* (n, D) */
} dense_scratch;

static size_t dense_bytes(const nf_layer *l, int n) {
    size_t D = (size_t)nf_vec_dim(l);
    return nf_work_bytes(doubles(D * D)) + nf_work_bytes(doubles(D)) + nf_work_bytes(doubles((size_t)n * D)) +
           nf_work_bytes((size_t)n * D);
}

static void dense_layout(const nf_layer *l, int n, nf_ctx *ctx, dense_scratch *s) {
    size_t D = (size_t)nf_vec_dim(l), off = 0;
    s->lu = (double *)nf_ctx_take(ctx, &off, doubles(D * D));
    s->piv = (int *)nf_ctx_take(ctx, &off, doubles(D));
    s->xd = (double *)nf_ctx_take(ctx, &off, doubles((size_t)n * D));
    s->out = nf_ctx_take(ctx, &off, (size_t)n * D);
}

/* Factorises W into s->lu; *logabsdet = log|det W|. */
static nf_status dense_factor(const nf_layer *l, dense_scratch *s, double *logabsdet) {
    int D = nf_vec_dim(l);
    for (size_t k = 0; k < (size_t)D * D; k++) s->lu[k] = l->param[k];
    *logabsdet = nf_lu_factor(s->lu, s->piv, D);
    if (!isfinite(*logabsdet)) return nf_fail(NF_ERR_NUMERIC, "linear: W (%d x %d) is singular", D, D);
    return NF_OK;
}

/* y (n, D) <- W^-1 (y - b), through s->xd in double. */
static void dense_solve(const nf_layer *l, nf_real *y, int n, dense_scratch *s) {
    int D = nf_vec_dim(l);
    const nf_real *b = bias_of(l);
#pragma omp parallel for schedule(static) if ((size_t)n * D * D > NF_VEC_OMP_MIN)
    for (int r = 0; r < n; r++) {
        double *v = s->xd + (size_t)r * D;
        for (int i = 0; i < D; i++) v[i] = (double)y[(size_t)r * D + i] - b[i];
        nf_lu_solve(s->lu, s->piv, v, D);
        for (int i = 0; i < D; i++) y[(size_t)r * D + i] = (nf_real)v[i];
    }
}

static size_t li_workspace(const nf_layer *l, nf_shape in) {
    const linear *li = (const linear *)l;
    if (li->inner) {
        nf_shape v = {in.n, nf_vec_dim(l), 1, 1, 1};
        return nf_layer_workspace(li->inner, v);
    }
    return dense_bytes(l, in.n);
}

static nf_status li_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    int D = nf_vec_dim(l), n = x->n;
    const nf_real *b = bias_of(l);
    if (((linear *)l)->inner) {
        nf_tensor v = as_vectors(l, x);
        NF_TRY(nf_layer_forward(inner_of(l), &v, logdet, ctx));
        for (size_t k = 0; k < (size_t)n * D; k++) x->data[k] += b[k % (size_t)D];
        return NF_OK;
    }
    dense_scratch s;
    dense_layout(l, n, ctx, &s);
    double ld;
    NF_TRY(dense_factor(l, &s, &ld));
    nf_dense_forward(s.out, x->data, l->param, b, n, D, D); /* y = x W^T + b, row per sample */
    memcpy(x->data, s.out, (size_t)n * D * sizeof(nf_real));
    for (int r = 0; r < n; r++) logdet[r] += ld;
    return NF_OK;
}

static nf_status li_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    int D = nf_vec_dim(l), n = y->n;
    if (((linear *)l)->inner) {
        const nf_real *b = bias_of(l);
        for (size_t k = 0; k < (size_t)n * D; k++) y->data[k] -= b[k % (size_t)D];
        nf_tensor v = as_vectors(l, y);
        return nf_layer_inverse(inner_of(l), &v, ctx);
    }
    dense_scratch s;
    dense_layout(l, n, ctx, &s);
    double ld;
    NF_TRY(dense_factor(l, &s, &ld));
    dense_solve(l, y->data, n, &s);
    return NF_OK;
}

/* x = W^-1 (y - b); dW += dy^T x + c n W^-T (the -logdet term, c = dlogdet);
 * db += sum_b dy; dx = W^T dy. */
static nf_status li_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    int D = nf_vec_dim(l), n = y->n;
    nf_real *db = l->grad + w_count(l);
    for (int i = 0; i < D; i++) {
        double g = 0;
        for (int r = 0; r < n; r++) g += dy->data[(size_t)r * D + i];
        db[i] += (nf_real)g;
    }
    if (((linear *)l)->inner) {
        const nf_real *b = bias_of(l);
        for (size_t k = 0; k < (size_t)n * D; k++) y->data[k] -= b[k % (size_t)D];
        nf_tensor v = as_vectors(l, y), dv = as_vectors(l, dy);
        return nf_layer_backward(inner_of(l), &v, &dv, ctx);
    }
    dense_scratch s;
    dense_layout(l, n, ctx, &s);
    double ld;
    NF_TRY(dense_factor(l, &s, &ld));
    dense_solve(l, y->data, n, &s);
    nf_dense_backward_weights(l->grad, NULL, dy->data, y->data, n, D, D);
    double w = ctx->dlogdet * n;
    for (int j = 0; j < D; j++) { /* column j of W^-T is W^-T e_j */
        double *e = s.xd;
        memset(e, 0, (size_t)D * sizeof(double));
        e[j] = 1;
        nf_lu_solve_t(s.lu, s.piv, e, D);
        for (int i = 0; i < D; i++) l->grad[(size_t)i * D + j] += (nf_real)(w * e[i]);
    }
    nf_dense_backward_data(s.out, dy->data, l->param, n, D, D, 0);
    memcpy(dy->data, s.out, (size_t)n * D * sizeof(nf_real));
    return NF_OK;
}

static void li_init_params(nf_layer *l, nf_rng *rng) {
    int D = nf_vec_dim(l);
    if (((linear *)l)->inner) {
        nf_layer *in = inner_of(l);
        in->ops->init_params(in, rng);
    } else {
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++) l->param[(size_t)i * D + j] = i == j;
    }
    for (int i = 0; i < D; i++) bias_of(l)[i] = 0;
}

static int li_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    const linear *li = (const linear *)l;
    int D = nf_vec_dim(l);
    nf_param_block blocks[16];
    int nb = 0;
    if (li->inner) {
        nb = li->inner->ops->param_blocks(li->inner, blocks, 15);
        if (nb > 15) nb = 15;
    } else {
        blocks[nb++] = (nf_param_block){.name = "weight", .offset = 0, .rank = 2, .dims = {D, D}};
    }
    blocks[nb++] = nf_vec_block("bias", w_count(l), (size_t)D, 0);
    return nf_vec_blocks(blocks, nb, out, max);
}

static void li_destroy(nf_layer *l) {
    nf_layer_destroy(((linear *)l)->inner);
    nf_free(l);
}

static const nf_layer_ops linear_ops = {
    .name = "linear",
    .forward = li_forward,
    .inverse = li_inverse,
    .backward = li_backward,
    .workspace = li_workspace,
    .init_params = li_init_params,
    .param_blocks = li_param_blocks,
    .destroy = li_destroy,
};

nf_status nf_linear_create(nf_layer **out, nf_shape in, nf_linear_kind kind, nf_rng *rng) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (kind != NF_LINEAR_DENSE && kind != NF_LINEAR_LU)
        return nf_fail(NF_ERR_ARG, "linear: unknown kind %d (NF_LINEAR_DENSE or NF_LINEAR_LU)", (int)kind);
    size_t D = nf_shape_sample_count(in);
    NF_TRY(nf_vec_layer_new(out, sizeof(linear), &linear_ops, in, 0, "linear"));
    linear *li = (linear *)*out;
    li->kind = kind;
    if (kind == NF_LINEAR_LU) {
        nf_shape v = {1, (int)D, 1, 1, 1};
        nf_status s = nf_conv1x1_create(&li->inner, v, NF_CONV1X1_LU, rng);
        if (s != NF_OK) {
            nf_free(li);
            *out = NULL;
            return s;
        }
    }
    li->base.nparams = w_count(&li->base) + D;
    return NF_OK;
}
