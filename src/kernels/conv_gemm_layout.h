/* What the im2col convolutions (conv2d.c, conv3d.c) share: the rule that splits a batch
 * into GEMM chunks, the reorder between GEMM columns and batch-major tensors, and the
 * bias gradient. A chunk of nb samples of s pixels (or voxels) each is a GEMM operand
 * (C, nb*s); a batch-major tensor holds the same chunk as (nb, C, s).
 *
 * Chunk rule (nf_conv_chunk), a function of the sizes only so results are reproducible:
 *   nb = clamp(NF_CONV2D_WORK_TARGET / per_sample, 1, n), then the batch is split into
 *   ceil(n / nb) chunks of equal size (up to one sample), nb = ceil(n / ceil(n / nb)),
 *   so the last chunk is not a small remainder. conv2d.h says why the target is 1 Mi. */
#ifndef NF_CONV_GEMM_LAYOUT_H
#define NF_CONV_GEMM_LAYOUT_H

#include "nflow.h"

#include <stddef.h>

/* Scratch elements one chunk aims for, an upper bound when one sample fits (see above). */
#define NF_CONV2D_WORK_TARGET ((size_t)1 << 20)

/* Samples per GEMM chunk for a batch of n when one sample needs per_sample scratch elements. */
int nf_conv_chunk(int n, size_t per_sample);

/* dst (n1, n0, s) = src (n0, n1, s) + bias[a]: swaps the two leading axes, i.e. moves
 * between GEMM columns (c, nb*s) and a batch-major chunk (nb, c, s). bias (n0) may be NULL. */
void nf_conv_swap_leading(nf_real *dst, const nf_real *src, int n0, int n1, size_t s, const nf_real *bias);

/* dbias (cout) += sum over batch and pixels of dout (n, cout, s); summed in double. */
void nf_conv_bias_grad(nf_real *dbias, const nf_real *dout, int n, int cout, size_t s);

#endif
