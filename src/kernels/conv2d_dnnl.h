/* The coupling sub-network's 3x3 convolutions through oneDNN (build option NFLOW_DNNL),
 * on the same channel-major chunks and with the same meaning as conv2d_cm.h:
 *   x (cin, P), out (cout, P), P = nb*h*w, column p = pixel (image b, row i, column j);
 *   weight (cout, cin, 3, 3), cross-correlation, "same" zero padding.
 * oneDNN's direct convolutions want blocked layouts (nChw16c on AVX-512), so each call
 * reorders its operands into the layout the primitive chose and back; bias and ReLU are
 * fused into the forward. Primitives, reorders and their buffers are made once per shape
 * and per thread (a thread's plans and one arena for their buffers, grown only when a new
 * shape needs more), so after the first call of a shape nothing is allocated.
 *
 * Threads: oneDNN runs on OpenMP here (Debian's build), the runtime nflow's threads use.
 * The callers are nflow's threads, each on its own chunk, so every oneDNN primitive is
 * made and run with one thread (the calling one), as OpenBLAS runs single-threaded inside
 * them (core/threads.h): oneDNN never starts a nested team.
 *
 * Only 3x3 convolutions of images larger than one pixel go through oneDNN; 1x1 convs are
 * one GEMM in this layout already (conv2d_cm.c). The float build only: the double build
 * (NFLOW_DOUBLE) and builds without NFLOW_DNNL have the stubs, which always decline. */
#ifndef NF_CONV2D_DNNL_H
#define NF_CONV2D_DNNL_H

#include "nflow.h"

/* 1 if oneDNN takes these sizes (k = 3, h*w > 1, float build with NFLOW_DNNL). */
int nf_dnnl_conv_takes(int nb, int cin, int cout, int h, int w, int k);

/* out (cout, P) = conv(x (cin, P)) + bias (cout, may be NULL), then max(out, 0) if relu.
 * NF_ERR_SHAPE where oneDNN is not asked (see nf_dnnl_conv_takes), NF_ERR_STATE (or
 * NF_ERR_NOMEM) where oneDNN fails or is not built in; out is then unspecified. */
nf_status nf_dnnl_conv_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu,
                               int nb, int cin, int cout, int h, int w, int k);

/* As nf_cm_conv_backward: dweight += dloss/dweight, dbias += row sums of dout (may be
 * NULL), and, if dx is not NULL, dx (cin, P) = conv^T(dout), masked by [x > 0] if relu_in.
 * dx may be x itself (without relu_in). Errors as the forward's; on an error nothing has
 * been added to dweight or dbias, and dx is unspecified. */
nf_status nf_dnnl_conv_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                const nf_real *weight, int relu_in, int nb, int cin, int cout, int h, int w, int k);

/* The name oneDNN gives the implementation it picked for the forward of these sizes
 * ("jit:avx512_core", "gemm:jit", ...), for benchmarks; "" where it declines. */
const char *nf_dnnl_conv_impl(int nb, int cin, int cout, int h, int w, int k);

#endif
