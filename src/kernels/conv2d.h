/* 2-D convolution, stride 1, "same" zero padding, square kernel k in {1, 3}.
 * Fast kernels use im2col + GEMM; the _ref kernels are plain loops kept as the
 * reference the fast ones are tested against. */
#ifndef NF_CONV2D_H
#define NF_CONV2D_H

#include "nflow.h"

/* Elements of scratch the fast kernels need for a batch of n images. */
size_t nf_conv2d_work_count(int n, int cin, int cout, int h, int w, int k);

/* out (n, cout, h, w) = conv(x (n, cin, h, w), weight (cout, cin, k, k)) + bias (cout).
 * bias may be NULL. */
void nf_conv2d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                       int n, int cin, int cout, int h, int w, int k, nf_real *work);
/* dx (n, cin, h, w) = conv^T(dout (n, cout, h, w), weight); overwrites dx. */
void nf_conv2d_backward_data(nf_real *dx, const nf_real *dout, const nf_real *weight,
                             int n, int cin, int cout, int h, int w, int k, nf_real *work);
/* dweight (cout, cin, k, k) += sum over batch and pixels of dout * x patches;
 * dbias (cout) += sum of dout (dbias may be NULL). */
void nf_conv2d_backward_weights(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                int n, int cin, int cout, int h, int w, int k, nf_real *work);

void nf_conv2d_forward_ref(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                           int n, int cin, int cout, int h, int w, int k);
void nf_conv2d_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *weight,
                                 int n, int cin, int cout, int h, int w, int k);
void nf_conv2d_backward_weights_ref(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                    int n, int cin, int cout, int h, int w, int k);

#endif
