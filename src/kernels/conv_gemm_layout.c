/* The chunk rule and reorders both im2col convolutions share (conv_gemm_layout.h).
 * Each output element is written by exactly one OpenMP thread in a fixed order, so the
 * results do not depend on the thread count. */
#include "conv_gemm_layout.h"

#include <string.h>

/* Reorder loops touching fewer elements than this stay on one thread: forking costs more. */
#define OMP_MIN_ELEMS 32768

int nf_conv_chunk(int n, size_t per_sample) {
    if (n <= 1) return 1;
    size_t nb = per_sample ? NF_CONV2D_WORK_TARGET / per_sample : (size_t)n;
    if (nb < 1) nb = 1;
    if (nb > (size_t)n) nb = (size_t)n;
    size_t nchunks = ((size_t)n + nb - 1) / nb;
    return (int)(((size_t)n + nchunks - 1) / nchunks); /* equal chunks, no small remainder */
}

void nf_conv_swap_leading(nf_real *dst, const nf_real *src, int n0, int n1, size_t s, const nf_real *bias) {
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n0 * n1 * s > OMP_MIN_ELEMS)
    for (int a = 0; a < n0; a++)
        for (int b = 0; b < n1; b++) {
            const nf_real *sp = src + ((size_t)a * n1 + b) * s;
            nf_real *dp = dst + ((size_t)b * n0 + a) * s;
            if (!bias) {
                memcpy(dp, sp, s * sizeof(nf_real));
                continue;
            }
            nf_real ba = bias[a];
            for (size_t p = 0; p < s; p++) dp[p] = sp[p] + ba;
        }
}

void nf_conv_bias_grad(nf_real *dbias, const nf_real *dout, int n, int cout, size_t s) {
#pragma omp parallel for schedule(static) if ((size_t)n * cout * s > OMP_MIN_ELEMS)
    for (int co = 0; co < cout; co++) {
        double acc = 0;
        for (int b = 0; b < n; b++) {
            const nf_real *p = dout + ((size_t)b * cout + co) * s;
            for (size_t q = 0; q < s; q++) acc += p[q];
        }
        dbias[co] += (nf_real)acc;
    }
}
