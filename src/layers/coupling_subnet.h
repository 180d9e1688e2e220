/* The conv sub-network of the image couplings and the wiring they share.
 *
 * NN(xb) = conv3x3(cin -> hidden) + b1 -> ReLU -> conv1x1(hidden -> hidden) + b2 -> ReLU
 *          -> conv3x3(hidden -> cout) + b3,
 * the last conv zero-initialised so a coupling starts as (nearly) the identity.
 * Parameter view, in this order: conv1.weight (hidden, cin, 3, 3), conv1.bias (hidden),
 * conv2.weight (hidden, hidden, 1, 1), conv2.bias (hidden), conv3.weight (cout, hidden, 3, 3),
 * conv3.bias (cout).
 *
 * Volumes (d > 1) use the same network with 3x3x3 and 1x1x1 convolutions
 * (kernels/conv3d_cm.h; weights (., ., 3, 3, 3) and (., ., 1, 1, 1)); a chunk then has
 * nb*d*h*w columns.
 *
 * A coupling splits x (n, c, d, h, w) into xa = channels [0, ca) and xb = [ca, c), ca =
 * c/2; NN reads xb and its output changes xa. A conditional coupling (cc > 0, the
 * conditional Glow's) reads concat(xb, y) instead, y = ctx->cond (n, cc, d, h, w): NN's
 * first conv takes cb + cc channels, and backward adds NN^T's rows of y to ctx->dcond.
 * Every image is independent, so a pass (coupling_chunks.c) hands each thread whole images
 * and runs, chunk by chunk: NN forward on the chunk's xb, the coupling's element-wise
 * step, and in backward NN's backward at once, from the same single forward. Activations
 * are channel-major (C, nb*h*w) chunk matrices (kernels/conv2d_cm.h) that live in the
 * thread's part of the workspace, so they stay cache-sized and never need reordering. */
#ifndef NF_COUPLING_SUBNET_H
#define NF_COUPLING_SUBNET_H

#include "nf_internal.h"

typedef struct nf_subnet {
    int cin, hidden, cout;
    int d; /* depth of the samples: 1 for images (2-D convs), > 1 for volumes (3-D convs) */
} nf_subnet;

/* One NN evaluation on a chunk of nb images (volumes), P = nb*d*h*w columns. */
typedef struct nf_subnet_acts {
    nf_real *x;    /* (cin, P) input; dloss/dx after nf_subnet_backward */
    nf_real *h1;   /* (hidden, P) relu(conv1(x)) */
    nf_real *h2;   /* (hidden, P) relu(conv2(h1)); gradient scratch in backward */
    nf_real *out;  /* (cout, P) NN(x); the caller puts dloss/dout here before backward */
    nf_real *dh;   /* (hidden, P) gradient scratch */
    nf_real *work; /* (nf_subnet_conv_work) for the conv kernels */
    int nb, h, w;
} nf_subnet_acts;

size_t nf_subnet_nparams(const nf_subnet *net);
/* Writes up to max of the 6 blocks (offsets from base), returns 6. */
int nf_subnet_param_blocks(const nf_subnet *net, size_t base, nf_param_block *out, int max);
/* conv1, conv2 weights ~ N(0, 2/fan_in) (He, for ReLU), their biases 0; conv3 all 0. */
void nf_subnet_init(const nf_subnet *net, nf_real *param, nf_rng *rng);
/* Workspace bytes of nf_subnet_take for a chunk of nb (h, w) images. */
size_t nf_subnet_work_bytes(const nf_subnet *net, int nb, int h, int w);
/* Carves the activation buffers from ctx->work at *off. */
nf_subnet_acts nf_subnet_take(const nf_subnet *net, nf_ctx *ctx, size_t *off, int nb, int h, int w);
/* a->out = NN(a->x); keeps h1, h2 for the backward. Runs on the calling thread. */
void nf_subnet_forward(const nf_subnet *net, const nf_real *param, nf_subnet_acts *a);
/* From the activations of the last forward and a->out = dloss/dout: grad (a parameter
 * view) += dloss/dparams, a->x = dloss/dx. h2, dh are clobbered. Calling thread only. */
void nf_subnet_backward(const nf_subnet *net, const nf_real *param, nf_real *grad, nf_subnet_acts *a);
/* Coupling passes run on this thread so far, one NN forward each (tests prove backward
 * runs one). */
unsigned long nf_subnet_forward_count(void);

/* ---------------------------------------------------------------- coupling wiring */

typedef enum nf_coupling_pass { NF_COUPLING_FORWARD, NF_COUPLING_INVERSE, NF_COUPLING_BACKWARD } nf_coupling_pass;

/* A chunk of images [b0, b0 + nb) of the batch, as the element-wise step sees it. */
typedef struct nf_coupling_chunk {
    int b0, nb;
    size_t hw;
    nf_real *out; /* (cout, nb*hw) NN(xb): channel ch of image b0 + i at out + (ch*nb + i)*hw;
                     the backward step overwrites it with dloss/dNN */
} nf_coupling_chunk;

typedef struct nf_coupling nf_coupling;

/* The element-wise step of a coupling kind on one chunk:
 *  forward:  x's xa <- ya, logdet[b] += log|det| of each image b;
 *  inverse:  x (holding y) has ya <- xa;
 *  backward: x (holding y) has ya <- xa, dy's xa part <- dloss/dxa, ch->out <- dloss/dNN
 *            (dloss/dlogdet = dlogdet); dy's xb part is left to the shared code. */
typedef void (*nf_coupling_step)(const nf_coupling *cp, nf_coupling_pass pass, const nf_coupling_chunk *ch,
                                 nf_tensor *x, nf_tensor *dy, double *logdet, double dlogdet);

struct nf_coupling {
    nf_layer base;
    int ca, cb;    /* channels of xa (changed) and xb (conditioner) */
    int cc;        /* channels of the condition y that NN also reads; 0: unconditional */
    nf_subnet net; /* cb + cc -> cout = out_per_ca * ca */
    nf_coupling_step step;
    double min_scale; /* affine: the floor eps of s (nf_coupling_affine_create_bounded) */
};

/* Checks the shape (c >= 2), cond_channels (>= 0) and hidden, and builds a coupling whose
 * NN reads xb and cond_channels channels of the condition (of x's d, h, w; 0: none) and
 * outputs out_per_ca * ca channels. who names the layer in messages. */
nf_status nf_coupling_new(nf_layer **out, nf_shape in, int cond_channels, int hidden, int out_per_ca,
                          const nf_layer_ops *ops, nf_coupling_step step, const char *who);
/* The same with xa = all of x and no xb (cb = 0): NN reads the condition alone, which
 * must have >= 1 channel (conditional HINT's x lane given y, cond_hint_conv.c). */
nf_status nf_coupling_new_all(nf_layer **out, nf_shape in, int cond_channels, int hidden, int out_per_ca,
                              const nf_layer_ops *ops, nf_coupling_step step, const char *who);
/* The affine coupling (coupling_affine.c) built by nf_coupling_new_all: x <- s(y) x + t(y). */
nf_status nf_coupling_affine_create_all(nf_layer **out, nf_shape in, int cond_channels, int hidden,
                                        double min_scale);
size_t nf_coupling_workspace(const nf_layer *l, nf_shape in);
void nf_coupling_init_params(nf_layer *l, nf_rng *rng);
int nf_coupling_param_blocks(const nf_layer *l, nf_param_block *out, int max);
void nf_coupling_destroy(nf_layer *l);
/* One pass over the batch x (n, c, d, h, w) (coupling_chunks.c): threads take whole
 * images, each chunk runs NN on its xb and then cp->step; the backward then runs NN's
 * backward on the chunk, adds NN^T's dloss/dxb into dy's xb part, and finally adds the
 * parameter gradients of all threads to cp->base.grad in a fixed order. dy and logdet
 * may be NULL where the pass does not use them. */
nf_status nf_coupling_run(nf_coupling *cp, nf_coupling_pass pass, nf_tensor *x, nf_tensor *dy, double *logdet,
                          nf_ctx *ctx);
/* The nf_layer_ops calls of every image coupling: nf_coupling_run with its pass (backward
 * runs the only NN forward; inverse conditions on yb = xb). */
nf_status nf_coupling_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx);
nf_status nf_coupling_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx);
nf_status nf_coupling_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx);
/* The ops table of an image coupling kind: only the name differs (the kind's element-wise
 * step is given to nf_coupling_new). */
#define NF_COUPLING_OPS(layer_name)                                                                    \
    {                                                                                                  \
        .name = (layer_name), .forward = nf_coupling_forward, .inverse = nf_coupling_inverse,          \
        .backward = nf_coupling_backward, .workspace = nf_coupling_workspace,                          \
        .init_params = nf_coupling_init_params, .param_blocks = nf_coupling_param_blocks,              \
        .destroy = nf_coupling_destroy                                                                 \
    }

#endif
