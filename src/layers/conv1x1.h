/* Internal pieces of the invertible 1x1 convolution, y = W x at every voxel.
 * conv1x1_layer.c holds the one nf_layer_ops table and what both parametrisations of
 * W share (batched GEMMs, forward, inverse, backward, workspace); conv1x1_lu.c and
 * conv1x1_householder.c each supply a conv1x1_kind: the parameters, how W is built
 * from them, how it is inverted, and how dloss/dW flows back to them. */
#ifndef NF_CONV1X1_H
#define NF_CONV1X1_H

#include "nf_internal.h"

typedef struct conv1x1_kind {
    const char *name; /* "lu", "householder": in messages */
    /* Elements of the parameter view for c channels. */
    size_t (*nparams)(int c);
    /* Writes the initial parameters (W orthogonal), drawing from rng. */
    void (*init_params)(nf_layer *l, nf_rng *rng);
    /* nf_layer_ops.param_blocks. */
    int (*param_blocks)(const nf_layer *l, nf_param_block *out, int max);
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

extern const conv1x1_kind conv1x1_lu;          /* conv1x1_lu.c */
extern const conv1x1_kind conv1x1_householder; /* conv1x1_householder.c */

/* Allocates the layer (ops name "conv1x1") and checks the shape. rng may be NULL; when
 * given, one number drawn from it seeds init_params (see conv1x1.c). */
nf_status conv1x1_new(nf_layer **out, nf_shape in, nf_rng *rng, const conv1x1_kind *kind);

/* x (n, c, dhw) <- T^-1 x at every voxel, T (c, c) triangular (BLAS trsm); x is one
 * (n, c) matrix when dhw == 1, else n matrices (c, dhw). */
void conv1x1_trsm(nf_real *x, const nf_real *T, int lower, int unit_diag, int n, int c, size_t dhw);

#endif
