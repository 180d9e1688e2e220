/* 2-D convolution (stride 1, same zero padding, k in {1, 3}) on channel-major chunks:
 * a chunk of nb images of h x w pixels is a matrix (C, P), P = nb*h*w, whose column p is
 * the pixel (image b, row i, column j) in that order ("CNHW"). In this layout a 1x1 conv
 * is one GEMM with no reordering, and a 3x3 conv is one GEMM plus 9 shifted copies or
 * sums of rows, so a chain of convs (the coupling sub-network) never transposes its
 * activations. Same convention as conv2d.h (cross-correlation, weight (cout, cin, k, k)):
 *   out[co, (b,i,j)] = bias[co] + sum_{ci,ki,kj} weight[co,ci,ki,kj] x[ci, (b, i+ki-k/2, j+kj-k/2)].
 *
 * A 3x3 conv shifts on its narrower side, so the 9x-sized intermediate has
 * 9*min(cin, cout) rows:
 *   cin <= cout ("gather"): col = the 9 shifted copies of x (cin*9, P); out = W col.
 *   cin >  cout ("scatter"): Y = W' x with W' (cout*9, cin) the taps of W as rows;
 *                            out = the sum of Y's 9 rows per channel, each shifted.
 * The backward is the adjoint of whichever was used (shifted sums become shifted copies
 * and back), and one shifted copy serves both the data and the weight gradients.
 * 1x1 images (vectors) see only the centre taps of a 3x3 kernel: one GEMM on those.
 *
 * The kernels run on the calling thread (OpenBLAS may thread the GEMMs, see
 * core/threads.h); callers split a batch into chunks and give chunks to threads.
 * They do not check their arguments; nf_conv2d_check is the check to run once. */
#ifndef NF_CONV2D_CM_H
#define NF_CONV2D_CM_H

#include "nflow.h"

/* Elements of scratch the forward and backward need for a chunk of nb images. */
size_t nf_cm_conv_work_count(int nb, int cin, int cout, int h, int w, int k);

/* out (cout, P) = conv(x (cin, P)) + bias (cout, may be NULL), then max(out, 0) if relu.
 * out and x do not overlap. work: nf_cm_conv_work_count elements. */
void nf_cm_conv_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu,
                        int nb, int cin, int cout, int h, int w, int k, nf_real *work);

/* From dout (cout, P) = dloss/dout and the forward input x (cin, P):
 * dweight (cout, cin, k, k) += dloss/dweight, dbias (cout) += row sums of dout (may be NULL),
 * and, if dx is not NULL, dx (cin, P) = conv^T(dout), then dx *= [x > 0] if relu_in (x
 * was a ReLU output, so this is the ReLU's backward too). Without relu_in dx may be x
 * itself (x is read before dx is written); dout is not modified. */
void nf_cm_conv_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                         const nf_real *weight, int relu_in, int nb, int cin, int cout, int h, int w, int k,
                         nf_real *work);

/* dx *= [x > 0] over n values: the ReLU's backward, x being its output. */
void nf_cm_relu_backward(nf_real *dx, const nf_real *x, size_t n);

#endif
