/* Internal pieces of the invertible 1x1 convolution, y = W x at every voxel.
 * conv1x1_layer.c holds what both parametrisations of W share (batched GEMMs,
 * forward, inverse, backward, workspace); conv1x1_lu.c and conv1x1_householder.c
 * each supply a conv1x1_kind: how W is built from the parameters, how it is
 * inverted, and how dloss/dW flows back to the parameters. */
#ifndef NF_CONV1X1_H
#define NF_CONV1X1_H

#include "nf_internal.h"

typedef struct conv1x1_kind {
    /* Doubles of scratch that weight() and chain() need for c channels. */
    size_t (*scratch)(int c);
    /* W (c, c) in double from the parameters; *logabsdet = log|det W|.
     * Fails (with a message) when frozen parameters are corrupt. */
    nf_status (*weight)(const nf_layer *l, double *W, double *logabsdet, double *scratch);
    /* y (n, c, dhw) <- W^-1 y in place, given W (c, c) rounded to nf_real; work holds
     * n*c*dhw + c*c values. NULL when W is orthogonal: the shared code applies W^T. */
    void (*solve)(const nf_layer *l, nf_real *y, int n, size_t dhw, nf_real *work);
    /* l->grad += dloss/dparams, from G = dloss/dW (c, c) and dld = dloss/d log|det W|
     * summed over the batch (ctx->dlogdet * n * dhw). */
    void (*chain)(nf_layer *l, const double *G, double dld, double *scratch);
} conv1x1_kind;

typedef struct conv1x1 {
    nf_layer base;
    const conv1x1_kind *kind;
    uint64_t seed; /* init_params draws from this seed when has_seed, else from its rng */
    int has_seed;
} conv1x1;

/* Allocates the layer and checks the shape; rng (may be NULL) gives the layer its own seed. */
nf_status conv1x1_new(nf_layer **out, nf_shape in, nf_rng *rng, const nf_layer_ops *ops, const conv1x1_kind *kind,
                      size_t nparams, const char *who);
/* The rng init_params should draw from: the layer's own seed if it has one. */
nf_rng *conv1x1_init_rng(const nf_layer *l, nf_rng *given, nf_rng *own);

/* The nf_layer_ops entries both kinds share. */
nf_status conv1x1_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx);
nf_status conv1x1_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx);
nf_status conv1x1_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx);
size_t conv1x1_workspace(const nf_layer *l, nf_shape in);
void conv1x1_destroy(nf_layer *l);

/* x (n, c, dhw) <- T^-1 x at every voxel, T (c, c) triangular (BLAS trsm); x is one
 * (n, c) matrix when dhw == 1, else n matrices (c, dhw). */
void conv1x1_trsm(nf_real *x, const nf_real *T, int lower, int unit_diag, int n, int c, size_t dhw);

nf_status nf_conv1x1_lu_create(nf_layer **out, nf_shape in, nf_rng *rng);
nf_status nf_conv1x1_householder_create(nf_layer **out, nf_shape in, nf_rng *rng);

#endif
