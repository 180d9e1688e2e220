/* 3-D convolution (stride 1, same zero padding, k in {1, 3}) on channel-major chunks,
 * the volume counterpart of conv2d_cm.h for the coupling sub-network: a chunk of nb
 * volumes of d x h x w voxels is a matrix (C, P), P = nb*d*h*w, column p = voxel
 * (b, z, i, j) in that order. Same convention as conv3d.h (cross-correlation, weight
 * (cout, cin, k, k, k)):
 *   out[co, (b,z,i,j)] = bias[co] + sum weight[co,ci,kz,ki,kj] x[ci, (b, z+kz-k/2, i+ki-k/2, j+kj-k/2)].
 * A 1x1x1 conv is one GEMM on x; a 3x3x3 conv is one GEMM on the 27-tap column matrix
 * (nf_vol2col3), and its backward one GEMM for the weights and one for the columns'
 * gradient, added back by nf_col2vol3.
 *
 * The kernels run on the calling thread's GEMM (callers give chunks to threads) and do
 * not check their arguments; nf_conv3d_check is the check to run once. */
#ifndef NF_CONV3D_CM_H
#define NF_CONV3D_CM_H

#include "nflow.h"

#include <stddef.h>

/* Elements of scratch the forward and backward need for a chunk of nb volumes. */
size_t nf_cm_conv3d_work_count(int nb, int cin, int cout, int d, int h, int w, int k);

/* out (cout, P) = conv(x (cin, P)) + bias (cout, may be NULL), then max(out, 0) if relu.
 * out and x do not overlap. work: nf_cm_conv3d_work_count elements. */
void nf_cm_conv3d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu,
                          int nb, int cin, int cout, int d, int h, int w, int k, nf_real *work);

/* From dout (cout, P) = dloss/dout and the forward input x (cin, P):
 * dweight (cout, cin, k, k, k) += dloss/dweight, dbias (cout) += row sums of dout (may be
 * NULL), and, if dx is not NULL, dx (cin, P) = conv^T(dout), then dx *= [x > 0] if
 * relu_in (x was a ReLU output). Without relu_in dx may be x itself (x is read before dx
 * is written); dout is not modified. */
void nf_cm_conv3d_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                           const nf_real *weight, int relu_in, int nb, int cin, int cout, int d, int h, int w, int k,
                           nf_real *work);

#endif
