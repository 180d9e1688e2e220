/* The invertible 1x1 convolution, y = W x at every voxel, for any W parametrisation
 * (conv1x1.h). logdet = d*h*w * log|det W| per sample.
 * Products are batched GEMMs: vector data (1x1 images, dhw == 1) is one (n, c) matrix
 * and the whole batch is one GEMM, Y = X W^T, split over the threads that own the cores
 * (nf_gemm_owned); images are n GEMMs W (c, c) x X_b (c, dhw), on the calling thread: a
 * flow runs them image range by image range on its threads (range calls, range.h). The
 * sample loops accumulate in a fixed order, so results are deterministic. */
#include "conv1x1.h"

#include "layers/range.h"
#include "threads.h"

#include <limits.h>
#include <string.h>

typedef struct conv1x1 {
    nf_layer base;
    const conv1x1_kind *kind;
    uint64_t seed; /* init_params draws from this seed when has_seed, else from its rng */
    int has_seed;
} conv1x1;

/* ---------------------------------------------------------------- batched BLAS */

/* y (n, c, dhw) = op(W) x at every voxel, op(W) = W or W^T; y and x do not overlap. */
static void apply(nf_real *y, const nf_real *x, const nf_real *W, int trans, int n, int c, size_t dhw) {
    if (dhw == 1) {
        /* Y (n, c) = X (n, c) op(W)^T */
        nf_gemm_owned(0, !trans, n, c, c, 1, x, c, W, c, 0, y, c);
        return;
    }
    size_t per = (size_t)c * dhw;
    for (int b = 0; b < n; b++) /* Y_b (c, dhw) = op(W) X_b */
        nf_gemm(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, CblasNoTrans, c, (int)dhw, c, 1, W, c,
                x + b * per, (int)dhw, 0, y + b * per, (int)dhw);
}

/* G (c, c) = sum over samples and voxels of dy x^T (overwritten). */
static void outer(nf_real *G, const nf_real *dy, const nf_real *x, int n, int c, size_t dhw) {
    if (dhw == 1) {
        /* G = dY^T (c, n) X (n, c) */
        nf_gemm_owned(1, 0, c, c, n, 1, dy, c, x, c, 0, G, c);
        return;
    }
    size_t per = (size_t)c * dhw;
    for (int b = 0; b < n; b++) /* G += dY_b (c, dhw) X_b^T */
        nf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, c, (int)dhw, 1, dy + b * per, (int)dhw, x + b * per,
                (int)dhw, b ? 1 : 0, G, c);
}

#ifdef NFLOW_DOUBLE
#define nf_trsm cblas_dtrsm
#else
#define nf_trsm cblas_strsm
#endif

void conv1x1_trsm(nf_real *x, const nf_real *T, int lower, int unit_diag, int n, int c, size_t dhw) {
    CBLAS_UPLO uplo = lower ? CblasLower : CblasUpper;
    CBLAS_DIAG diag = unit_diag ? CblasUnit : CblasNonUnit;
    if (dhw == 1) {
        /* X (n, c) <- X T^-T: every row x_b solves T x_b = old x_b */
        nf_trsm(CblasRowMajor, CblasRight, uplo, CblasTrans, diag, n, c, 1, T, c, x, c);
        return;
    }
    size_t per = (size_t)c * dhw;
    for (int b = 0; b < n; b++) /* X_b (c, dhw) <- T^-1 X_b */
        nf_trsm(CblasRowMajor, CblasLeft, uplo, CblasNoTrans, diag, c, (int)dhw, 1, T, c, x + b * per, (int)dhw);
}

/* ---------------------------------------------------------------- workspace */

/* The scratch of one call, carved from ctx->work in this order. */
typedef struct scratch {
    nf_real *W;      /* (c, c) W rounded to nf_real */
    nf_real *G;      /* (c, c) dloss/dW */
    nf_real *data;   /* (n*c*dhw + c*c) copy of the batch; the kind's solve() work */
    double *Wd;      /* (c, c) W in double; reused for G in double */
    double *kind;    /* (kind->scratch(c)) */
} scratch;

/* nf_real slots that count doubles take (nf_ctx_take counts nf_real). */
static size_t doubles(size_t count) { return count * (sizeof(double) / sizeof(nf_real)); }

/* Bytes the layout below needs; with ctx, also carves the pointers. */
static size_t layout(const conv1x1 *cv, int n, nf_ctx *ctx, scratch *s) {
    const nf_shape in = cv->base.in;
    size_t c2 = (size_t)in.c * in.c, vals = (size_t)n * nf_shape_sample_count(in) + c2;
    size_t counts[5] = {c2, c2, vals, doubles(c2), doubles(cv->kind->scratch(in.c))};
    void **slots[5] = {(void **)&s->W, (void **)&s->G, (void **)&s->data, (void **)&s->Wd, (void **)&s->kind};
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        if (ctx) *slots[i] = nf_ctx_take(ctx, &off, counts[i]);
        else off += nf_work_bytes(counts[i]);
    }
    return off;
}

static size_t conv1x1_workspace(const nf_layer *l, nf_shape in) {
    scratch unused;
    return layout((const conv1x1 *)l, in.n, NULL, &unused);
}

/* Carves the scratch and builds W (double and nf_real); *logabsdet = log|det W|. */
static nf_status prepare(nf_layer *l, int n, nf_ctx *ctx, scratch *s, double *logabsdet) {
    const conv1x1 *cv = (const conv1x1 *)l;
    layout(cv, n, ctx, s);
    NF_TRY(cv->kind->weight(l, s->Wd, logabsdet, s->kind));
    size_t c2 = (size_t)l->in.c * l->in.c;
    for (size_t i = 0; i < c2; i++) s->W[i] = (nf_real)s->Wd[i];
    return NF_OK;
}

/* y (n, c, dhw) <- W^-1 y in place. */
static void solve(nf_layer *l, nf_real *y, int n, size_t dhw, const scratch *s) {
    const conv1x1 *cv = (const conv1x1 *)l;
    if (cv->kind->solve) {
        cv->kind->solve(l, y, n, dhw, s->data);
        return;
    }
    /* orthogonal W: x = W^T y */
    memcpy(s->data, y, (size_t)n * l->in.c * dhw * sizeof(nf_real));
    apply(y, s->data, s->W, 1, n, l->in.c, dhw);
}

/* ---------------------------------------------------------------- layer calls */

static nf_status conv1x1_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    scratch s;
    double lad;
    NF_TRY(prepare(l, x->n, ctx, &s, &lad));
    size_t dhw = (size_t)x->d * x->h * x->w;
    memcpy(s.data, x->data, nf_tensor_count(x) * sizeof(nf_real));
    apply(x->data, s.data, s.W, 0, x->n, x->c, dhw); /* y = W x */
    for (int b = 0; b < x->n; b++) logdet[b] += (double)dhw * lad;
    return NF_OK;
}

static nf_status conv1x1_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    scratch s;
    double lad;
    NF_TRY(prepare(l, y->n, ctx, &s, &lad));
    solve(l, y->data, y->n, (size_t)y->d * y->h * y->w, &s); /* x = W^-1 y */
    return NF_OK;
}

static nf_status conv1x1_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    const conv1x1 *cv = (const conv1x1 *)l;
    scratch s;
    double lad;
    NF_TRY(prepare(l, y->n, ctx, &s, &lad));
    int n = y->n, c = y->c;
    size_t dhw = (size_t)y->d * y->h * y->w, c2 = (size_t)c * c;
    solve(l, y->data, n, dhw, &s);            /* y now holds x = W^-1 y */
    outer(s.G, dy->data, y->data, n, c, dhw); /* dloss/dW = sum dy x^T */
    memcpy(s.data, dy->data, nf_tensor_count(dy) * sizeof(nf_real));
    apply(dy->data, s.data, s.W, 1, n, c, dhw); /* dx = W^T dy */
    for (size_t i = 0; i < c2; i++) s.Wd[i] = s.G[i];
    cv->kind->chain(l, s.Wd, ctx->dlogdet * (double)n * (double)dhw, s.kind);
    return NF_OK;
}

/* ---------------------------------------------------------------- range calls */

/* One image at a time: the slot holds the scratch of a batch of one (layout with n = 1). */
static size_t c1_slot_bytes(const nf_layer *l, nf_shape in) {
    scratch unused;
    return layout((const conv1x1 *)l, 1, NULL, &unused);
}

static size_t c1_partial_count(const nf_layer *l) { return (size_t)l->in.c * l->in.c; }

/* Builds W once on this thread to report corrupt frozen parameters before a pass. */
static nf_status c1_prepare(nf_layer *l, nf_ctx *slot) {
    scratch s;
    double lad;
    return prepare(l, 1, slot, &s, &lad);
}

static void c1_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *slot) {
    scratch s;
    double lad;
    prepare(l, 1, slot, &s, &lad); /* cannot fail after c1_prepare */
    size_t dhw = (size_t)x->d * x->h * x->w, per = (size_t)x->c * dhw;
    for (int b = 0; b < x->n; b++) {
        memcpy(s.data, x->data + b * per, per * sizeof(nf_real));
        apply(x->data + b * per, s.data, s.W, 0, 1, x->c, dhw); /* y_b = W x_b */
        logdet[b] += (double)dhw * lad;
    }
}

static void c1_inverse(nf_layer *l, nf_tensor *y, nf_ctx *slot) {
    scratch s;
    double lad;
    prepare(l, 1, slot, &s, &lad);
    size_t dhw = (size_t)y->d * y->h * y->w, per = (size_t)y->c * dhw;
    for (int b = 0; b < y->n; b++) solve(l, y->data + b * per, 1, dhw, &s); /* x_b = W^-1 y_b */
}

/* x_b = W^-1 y_b, partial G (c, c) += dy_b x_b^T, dx_b = W^T dy_b. */
static void c1_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *slot, nf_real *partial) {
    scratch s;
    double lad;
    prepare(l, 1, slot, &s, &lad);
    int c = y->c;
    size_t dhw = (size_t)y->d * y->h * y->w, per = (size_t)c * dhw;
    for (int b = 0; b < y->n; b++) {
        nf_real *yb = y->data + b * per, *db = dy->data + b * per;
        solve(l, yb, 1, dhw, &s);
        nf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, c, (int)dhw, 1, db, (int)dhw, yb, (int)dhw, 1, partial, c);
        memcpy(s.data, db, per * sizeof(nf_real));
        apply(db, s.data, s.W, 1, 1, c, dhw);
    }
}

/* dloss/dparams from G = the summed partial and the -logdet weight of n images. */
static void c1_finish(nf_layer *l, const nf_real *partial, int n, double dlogdet, nf_ctx *slot) {
    const conv1x1 *cv = (const conv1x1 *)l;
    scratch s;
    layout(cv, 1, slot, &s);
    size_t dhw = (size_t)l->in.d * l->in.h * l->in.w, c2 = (size_t)l->in.c * l->in.c;
    for (size_t i = 0; i < c2; i++) s.Wd[i] = partial[i];
    cv->kind->chain(l, s.Wd, dlogdet * (double)n * (double)dhw, s.kind);
}

const nf_range_ops nf_conv1x1_range = {
    .slot_bytes = c1_slot_bytes,
    .partial_count = c1_partial_count,
    .prepare = c1_prepare,
    .forward = c1_forward,
    .inverse = c1_inverse,
    .backward = c1_backward,
    .finish = c1_finish,
};

static void conv1x1_destroy(nf_layer *l) { nf_free(l); }

static void conv1x1_init_params(nf_layer *l, nf_rng *rng) {
    const conv1x1 *cv = (const conv1x1 *)l;
    nf_rng own;
    if (cv->has_seed) {
        nf_rng_seed(&own, cv->seed);
        rng = &own;
    }
    cv->kind->init_params(l, rng);
}

static int conv1x1_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    return ((const conv1x1 *)l)->kind->param_blocks(l, out, max);
}

static const nf_layer_ops conv1x1_ops = {
    .name = "conv1x1",
    .forward = conv1x1_forward,
    .inverse = conv1x1_inverse,
    .backward = conv1x1_backward,
    .workspace = conv1x1_workspace,
    .init_params = conv1x1_init_params,
    .param_blocks = conv1x1_param_blocks,
    .destroy = conv1x1_destroy,
};

/* ---------------------------------------------------------------- construction */

nf_status conv1x1_new(nf_layer **out, nf_shape in, nf_rng *rng, const conv1x1_kind *kind) {
    if (in.c <= 0 || in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "conv1x1(%s): input shape (%d, %d, %d, %d) has a non-positive size", kind->name,
                       in.c, in.d, in.h, in.w);
    /* BLAS sizes are ints: one sample's voxels must fit */
    if ((size_t)in.d * in.h * in.w > INT_MAX || (size_t)in.c * in.c > INT_MAX)
        return nf_fail(NF_ERR_SHAPE, "conv1x1(%s): input (%d, %d, %d, %d) is too large for BLAS int sizes",
                       kind->name, in.c, in.d, in.h, in.w);
    conv1x1 *cv = nf_calloc(1, sizeof *cv);
    if (!cv) return nf_fail(NF_ERR_NOMEM, "conv1x1(%s): out of memory", kind->name);
    cv->base.ops = &conv1x1_ops;
    cv->base.in = in;
    cv->base.nparams = kind->nparams(in.c);
    cv->kind = kind;
    if (rng) {
        cv->seed = nf_rng_u64(rng);
        cv->has_seed = 1;
    }
    *out = &cv->base;
    return NF_OK;
}
