/* 3-D convolution, stride 1, "same" zero padding, cubic kernel k in {1, 3}, NCDHW.
 * Convention (cross-correlation, as conv2d.h):
 *   out[b, co, z, i, j] = bias[co] + sum_{ci, kz, ki, kj} weight[co, ci, kz, ki, kj]
 *                         * x[b, ci, z+kz-k/2, i+ki-k/2, j+kj-k/2]
 * with x = 0 outside the volume.
 *
 * Fast kernels use vol2col (im2col over three axes) + GEMM, batched over a chunk of nb
 * volumes: the chunk is laid out as columns col (cin*k^3, nb*d*h*w), one GEMM gives
 * (cout, nb*d*h*w), which is reordered into NCDHW. The chunk rule is conv_gemm_layout.h's
 * with per_sample = (cin*k^3 + cout) * d*h*w scratch elements. The _ref kernels are plain
 * loops kept as the reference the fast ones are tested against.
 *
 * The kernels do not check their arguments (they are called on the hot path by layers
 * that have); nf_conv3d_check() is the check for callers to run once at creation. */
#ifndef NF_CONV3D_H
#define NF_CONV3D_H

#include "conv_gemm_layout.h"
#include "nflow.h"

/* NF_OK if the kernels handle these sizes (all positive, k = 1 or 3, one chunk's GEMM
 * dimensions within int); otherwise NF_ERR_SHAPE with a message naming `who`. */
nf_status nf_conv3d_check(const char *who, int n, int cin, int cout, int d, int h, int w, int k);

/* Volumes per GEMM chunk for a batch of n (the rule above). */
int nf_conv3d_chunk(int n, int cin, int cout, int d, int h, int w, int k);

/* Elements of scratch the fast kernels need for a batch of n volumes
 * (= nf_conv3d_work_count_nb(nf_conv3d_chunk(n, ...), ...)). */
size_t nf_conv3d_work_count(int n, int cin, int cout, int d, int h, int w, int k);

/* out (n, cout, d, h, w) = conv(x (n, cin, d, h, w), weight (cout, cin, k, k, k)) + bias (cout).
 * bias may be NULL. work: nf_conv3d_work_count elements. */
void nf_conv3d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                       int cin, int cout, int d, int h, int w, int k, nf_real *work);
/* dx (n, cin, d, h, w) = conv^T(dout (n, cout, d, h, w), weight); overwrites dx. */
void nf_conv3d_backward_data(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin, int cout,
                             int d, int h, int w, int k, nf_real *work);
/* dweight (cout, cin, k, k, k) += sum over batch and voxels of dout * x patches;
 * dbias (cout) += sum of dout (dbias may be NULL). */
void nf_conv3d_backward_weights(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x, int n,
                                int cin, int cout, int d, int h, int w, int k, nf_real *work);

/* The same kernels with the chunk size nb (>= 1) given instead of chosen by the rule;
 * the public ones above call these. Exposed so tests can force many chunks and a last
 * chunk smaller than nb. work: nf_conv3d_work_count_nb(nb, ...) elements. */
size_t nf_conv3d_work_count_nb(int nb, int cin, int cout, int d, int h, int w, int k);
void nf_conv3d_forward_nb(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                          int cin, int cout, int d, int h, int w, int k, int nb, nf_real *work);
void nf_conv3d_backward_data_nb(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin,
                                int cout, int d, int h, int w, int k, int nb, nf_real *work);
void nf_conv3d_backward_weights_nb(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                   int n, int cin, int cout, int d, int h, int w, int k, int nb, nf_real *work);

/* The 3x3x3 column matrix both layouts share. col (cin*27, nb*d*h*w): row (ci, kz, ki, kj),
 * column (b, z, i, j) = x_{b,ci}[z+kz-1, i+ki-1, j+kj-1], 0 outside the volume, where the
 * volume x_{b,ci} (d, h, w) starts at x + b*sb + ci*sc: sb = cin*d*h*w, sc = d*h*w for
 * NCDHW tensors; sb = d*h*w, sc = nb*d*h*w for channel-major chunks (conv3d_cm.h).
 * nf_col2vol3 is its adjoint (every column entry added back to the voxel it came from;
 * overwrites the volumes of dx). Each (b, ci) volume is one thread's, taps summed in a
 * fixed order. */
void nf_vol2col3(nf_real *col, const nf_real *x, int nb, int cin, int d, int h, int w, size_t sb, size_t sc);
void nf_col2vol3(nf_real *dx, const nf_real *col, int nb, int cin, int d, int h, int w, size_t sb, size_t sc);

void nf_conv3d_forward_ref(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                           int cin, int cout, int d, int h, int w, int k);
void nf_conv3d_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin,
                                 int cout, int d, int h, int w, int k);
void nf_conv3d_backward_weights_ref(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                    int n, int cin, int cout, int d, int h, int w, int k);

#endif
