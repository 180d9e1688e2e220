/* 2-D convolution, stride 1, "same" zero padding, square kernel k in {1, 3}, NCHW.
 * Convention (cross-correlation, as in every deep-learning library):
 *   out[b, co, i, j] = bias[co] + sum_{ci, ki, kj} weight[co, ci, ki, kj] * x[b, ci, i+ki-k/2, j+kj-k/2]
 * with x = 0 outside the image.
 *
 * Fast kernels use im2col + GEMM, batched over a chunk of nb images: the chunk is laid
 * out as columns col (cin*k*k, nb*h*w), one GEMM gives (cout, nb*h*w), which is then
 * reordered into NCHW. Images of one pixel (h = w = 1, vectors) skip all of that: the
 * whole batch is one GEMM on the centre taps of the kernel, the only ones a 1x1 image sees.
 * The _ref kernels are plain loops kept as the reference the fast ones are tested against.
 *
 * Chunk rule (nf_conv2d_chunk), a function of the sizes only so results are reproducible:
 *   per_image = (cin*k*k + cout) * h * w         scratch elements one image needs
 *   nb        = clamp(NF_CONV2D_WORK_TARGET / per_image, 1, n)
 *   then the batch is split into ceil(n / nb) chunks of equal size (up to one image),
 *   nb = ceil(n / ceil(n / nb)), so the last chunk is not a small remainder.
 * Scratch therefore stays under NF_CONV2D_WORK_TARGET elements unless a single image
 * needs more, in which case nb = 1. For h = w = 1 the scratch is cout*cin (k = 3; the
 * gathered centre taps) or 0 (k = 1), independent of n.
 * Why 1 Mi elements (4 MB in float) and not more: the column matrix is written by im2col
 * and read straight back by the GEMM, and while it fits in cache that costs little;
 * measured on one core of an EPYC (32 MB L3), n=64 32->64 16x16 k=3 took 24 ms for
 * forward + both backwards with 1 Mi-element chunks and 39 ms with 32 Mi (the whole
 * batch), and 1 Mi was faster than 32 Mi on every shape tried (2x2 to 64x64, k = 1 and 3).
 * Small images still get wide GEMMs (2x2 images, 12->64 channels: 1500 images a chunk).
 *
 * The kernels do not check their arguments (they are called on the hot path by layers that
 * have); nf_conv2d_check() is the check for callers to run once at creation. */
#ifndef NF_CONV2D_H
#define NF_CONV2D_H

#include "conv_gemm_layout.h" /* NF_CONV2D_WORK_TARGET, the chunk rule's code */
#include "nflow.h"

/* NF_OK if the kernels handle these sizes (all positive, k = 1 or 3, one chunk's GEMM
 * dimensions within int); otherwise NF_ERR_SHAPE with a message naming `who`. */
nf_status nf_conv2d_check(const char *who, int n, int cin, int cout, int h, int w, int k);

/* Images per GEMM chunk for a batch of n (the rule above); n itself when h = w = 1. */
int nf_conv2d_chunk(int n, int cin, int cout, int h, int w, int k);

/* Elements of scratch the fast kernels need for a batch of n images
 * (= nf_conv2d_work_count_nb(nf_conv2d_chunk(n, ...), ...)). */
size_t nf_conv2d_work_count(int n, int cin, int cout, int h, int w, int k);

/* out (n, cout, h, w) = conv(x (n, cin, h, w), weight (cout, cin, k, k)) + bias (cout).
 * bias may be NULL. work: nf_conv2d_work_count elements. */
void nf_conv2d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                       int n, int cin, int cout, int h, int w, int k, nf_real *work);
/* dx (n, cin, h, w) = conv^T(dout (n, cout, h, w), weight); overwrites dx. */
void nf_conv2d_backward_data(nf_real *dx, const nf_real *dout, const nf_real *weight,
                             int n, int cin, int cout, int h, int w, int k, nf_real *work);
/* dweight (cout, cin, k, k) += sum over batch and pixels of dout * x patches;
 * dbias (cout) += sum of dout (dbias may be NULL). */
void nf_conv2d_backward_weights(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                int n, int cin, int cout, int h, int w, int k, nf_real *work);

/* The same kernels with the chunk size nb (>= 1) given instead of chosen by the rule;
 * the public ones above call these. Exposed so tests can force many chunks and a last
 * chunk smaller than nb. work: nf_conv2d_work_count_nb(nb, ...) elements. */
size_t nf_conv2d_work_count_nb(int nb, int cin, int cout, int h, int w, int k);
void nf_conv2d_forward_nb(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                          int n, int cin, int cout, int h, int w, int k, int nb, nf_real *work);
void nf_conv2d_backward_data_nb(nf_real *dx, const nf_real *dout, const nf_real *weight,
                                int n, int cin, int cout, int h, int w, int k, int nb, nf_real *work);
void nf_conv2d_backward_weights_nb(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                   int n, int cin, int cout, int h, int w, int k, int nb, nf_real *work);

void nf_conv2d_forward_ref(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                           int n, int cin, int cout, int h, int w, int k);
void nf_conv2d_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *weight,
                                 int n, int cin, int cout, int h, int w, int k);
void nf_conv2d_backward_weights_ref(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                    int n, int cin, int cout, int h, int w, int k);

#endif
