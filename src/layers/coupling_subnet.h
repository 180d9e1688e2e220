/* The conv sub-network of the image couplings and the wiring they share.
 *
 * NN(xb) = conv3x3(cin -> hidden) + b1 -> ReLU -> conv1x1(hidden -> hidden) + b2 -> ReLU
 *          -> conv3x3(hidden -> cout) + b3,
 * the last conv zero-initialised so a coupling starts as (nearly) the identity.
 * Parameter view, in this order: conv1.weight (hidden, cin, 3, 3), conv1.bias (hidden),
 * conv2.weight (hidden, hidden, 1, 1), conv2.bias (hidden), conv3.weight (cout, hidden, 3, 3),
 * conv3.bias (cout).
 *
 * A coupling splits x (n, c, 1, h, w) into xa = channels [0, ca) and xb = [ca, c),
 * ca = c/2; NN reads xb and its output changes xa. The activations of one NN
 * forward live in the workspace so the coupling's backward can both invert and
 * backpropagate from a single forward. */
#ifndef NF_COUPLING_SUBNET_H
#define NF_COUPLING_SUBNET_H

#include "nf_internal.h"

typedef struct nf_subnet {
    int cin, hidden, cout;
} nf_subnet;

/* One NN evaluation for a batch, all carved from ctx->work. */
typedef struct nf_subnet_acts {
    nf_real *x;    /* (n, cin, h, w) input; dloss/dx after nf_subnet_backward */
    nf_real *h1;   /* (n, hidden, h, w) relu(conv1(x)) */
    nf_real *h2;   /* (n, hidden, h, w) relu(conv2(h1)); gradient scratch in backward */
    nf_real *out;  /* (n, cout, h, w) NN(x); the caller puts dloss/dout here before backward */
    nf_real *dh;   /* (n, hidden, h, w) gradient scratch */
    nf_real *work; /* (conv scratch) for the conv kernels */
    int n, h, w;
} nf_subnet_acts;

size_t nf_subnet_nparams(const nf_subnet *net);
/* Writes up to max of the 6 blocks (offsets from base), returns 6. */
int nf_subnet_param_blocks(const nf_subnet *net, size_t base, nf_param_block *out, int max);
/* conv1, conv2 weights ~ N(0, 2/fan_in) (He, for ReLU), their biases 0; conv3 all 0. */
void nf_subnet_init(const nf_subnet *net, nf_real *param, nf_rng *rng);
/* Workspace bytes of nf_subnet_take for a batch of n (h, w) images. */
size_t nf_subnet_work_bytes(const nf_subnet *net, int n, int h, int w);
/* Carves the activation buffers from ctx->work at *off. */
nf_subnet_acts nf_subnet_take(const nf_subnet *net, nf_ctx *ctx, size_t *off, int n, int h, int w);
/* a->out = NN(a->x); keeps h1, h2 for the backward. */
void nf_subnet_forward(const nf_subnet *net, const nf_real *param, nf_subnet_acts *a);
/* From the activations of the last forward and a->out = dloss/dout: grad (the
 * parameter view) += dloss/dparams, a->x = dloss/dx. h2, dh, out are clobbered. */
void nf_subnet_backward(const nf_subnet *net, const nf_real *param, nf_real *grad, nf_subnet_acts *a);
/* Sub-network forwards run on this thread so far (tests prove backward runs one). */
unsigned long nf_subnet_forward_count(void);

/* ---------------------------------------------------------------- coupling wiring */

typedef struct nf_coupling {
    nf_layer base;
    int ca, cb;    /* channels of xa (changed) and xb (conditioner) */
    nf_subnet net; /* cb -> cout = out_per_ca * ca */
} nf_coupling;

/* Checks the shape (c >= 2, d = 1) and hidden, and builds a coupling whose NN
 * outputs out_per_ca * ca channels. who names the layer in messages. */
nf_status nf_coupling_new(nf_layer **out, nf_shape in, int hidden, int out_per_ca, const nf_layer_ops *ops,
                          const char *who);
size_t nf_coupling_workspace(const nf_layer *l, nf_shape in);
void nf_coupling_init_params(nf_layer *l, nf_rng *rng);
int nf_coupling_param_blocks(const nf_layer *l, nf_param_block *out, int max);
void nf_coupling_destroy(nf_layer *l);
/* Copies xb of x (n, c, 1, h, w) into the workspace and runs NN on it. */
nf_subnet_acts nf_coupling_condition(nf_coupling *cp, const nf_tensor *x, nf_ctx *ctx);
/* With a.out = dloss/dNN: accumulates the NN parameter gradients and adds
 * NN^T's dloss/dxb into the xb channels of dy (n, c, 1, h, w). */
void nf_coupling_backprop(nf_coupling *cp, nf_subnet_acts *a, nf_tensor *dy);

#endif
