/* Internal: the machinery both 2x2 squeezes share (squeeze.c; the Haar squeeze in haar.c).
 * Each 2x2 pixel block p = (x[2i][2j], x[2i][2j+1], x[2i+1][2j], x[2i+1][2j+1]) of
 * channel ch becomes the values of channels k*c + ch (k = 0..3) at (i, j):
 * y_k = sum_m mix[k][m] p_m, (c, 1, h, w) -> (4c, 1, h/2, w/2). mix is orthogonal,
 * so the inverse and the backward use mix^T and logdet = 0. */
#ifndef NF_SQUEEZE_H
#define NF_SQUEEZE_H

#include "nf_internal.h"

/* Allocates the layer (ops->name names it in messages). d must be 1, h and w even. */
nf_status nf_block2x2_create(nf_layer **out, nf_shape in, const nf_layer_ops *ops, const nf_real mix[4][4]);

/* The nf_layer_ops entries both squeezes share. */
nf_status block2x2_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx);
nf_status block2x2_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx);
nf_status block2x2_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx);
size_t block2x2_workspace(const nf_layer *l, nf_shape in);
nf_status block2x2_out_shape(const nf_layer *l, nf_shape in, nf_shape *out);
void block2x2_destroy(nf_layer *l);

/* The ops table of a 2x2 block layer; only the name differs between squeeze and Haar. */
#define NF_BLOCK2X2_OPS(layer_name)                                                                    \
    {                                                                                                  \
        .name = (layer_name), .forward = block2x2_forward, .inverse = block2x2_inverse,                \
        .backward = block2x2_backward, .workspace = block2x2_workspace,                                \
        .out_shape = block2x2_out_shape, .destroy = block2x2_destroy                                   \
    }

#endif
