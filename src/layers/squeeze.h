/* Internal: the machinery both squeezes share (squeeze.c; the Haar squeeze in haar.c).
 * Images (d = 1): each 2x2 pixel block p = (x[2i][2j], x[2i][2j+1], x[2i+1][2j],
 * x[2i+1][2j+1]) of channel ch becomes the values of channels k*c + ch (k = 0..3) at
 * (i, j): y_k = sum_m mix[k][m] p_m, (c, 1, h, w) -> (4c, 1, h/2, w/2).
 * Volumes (d > 1): each 2x2x2 voxel block, m = 4*mz + (the 2-D index above) with mz the
 * depth offset, becomes channels k*c + ch (k = 0..7) at (z, i, j), (c, d, h, w) ->
 * (8c, d/2, h/2, w/2), with the 8x8 mix = depth_mix (x) mix (Kronecker product):
 * mix8[4*kz + k][4*mz + m] = depth_mix[kz][mz] * mix[k][m].
 * The mixes are orthogonal, so the inverse and the backward use mix^T and logdet = 0. */
#ifndef NF_SQUEEZE_H
#define NF_SQUEEZE_H

#include "nf_internal.h"

/* Allocates the layer (ops->name names it in messages). h and w must be even, and d
 * too when d > 1; depth_mix is used for volumes only. */
nf_status nf_block2x2_create(nf_layer **out, nf_shape in, const nf_layer_ops *ops, const nf_real mix[4][4],
                             const nf_real depth_mix[2][2]);

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
