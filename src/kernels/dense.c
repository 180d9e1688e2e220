/* Fast dense-layer kernels: one GEMM per call over the whole batch, run on whichever
 * pool owns the cores (nf_gemm_owned: large GEMMs split over the OpenMP threads, small
 * ones on the calling thread); the element-wise loops are split across OpenMP threads
 * with one writer per element (deterministic). */
#include "dense.h"

#include "nf_internal.h"
#include "threads.h"

#include <math.h>

/* Element-wise loops shorter than this stay on one thread: forking costs more. */
#define OMP_MIN_ELEMS 32768

void nf_dense_forward(nf_real *out, const nf_real *x, const nf_real *W, const nf_real *b, int n, int k, int m) {
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)n * m > OMP_MIN_ELEMS)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) out[(size_t)i * m + j] = b[j];
    }
    /* out = x W^T (+ out) */
    nf_gemm_owned(0, 1, n, m, k, 1, x, k, W, k, b ? 1 : 0, out, m);
}

void nf_dense_backward_data(nf_real *dx, const nf_real *dout, const nf_real *W, int n, int k, int m,
                            int accumulate) {
    /* dx = dout W (+ dx) */
    nf_gemm_owned(0, 0, n, k, m, 1, dout, m, W, k, accumulate ? 1 : 0, dx, k);
}

void nf_dense_backward_weights(nf_real *dW, nf_real *db, const nf_real *dout, const nf_real *x, int n, int k,
                               int m) {
    /* dW += dout^T x */
    nf_gemm_owned(1, 0, m, k, n, 1, dout, m, x, k, 1, dW, k);
    if (!db) return;
#pragma omp parallel for schedule(static) if ((size_t)n * m > OMP_MIN_ELEMS)
    for (int j = 0; j < m; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += dout[(size_t)i * m + j];
        db[j] += (nf_real)s;
    }
}

void nf_act_forward(nf_real *y, size_t count, nf_activation act) {
    const nf_real slope = (nf_real)NF_LEAKY_SLOPE;
    switch (act) {
    case NF_ACT_RELU:
        for (size_t i = 0; i < count; i++) y[i] = y[i] > 0 ? y[i] : 0; /* max(y, 0) */
        break;
    case NF_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) y[i] = y[i] > 0 ? y[i] : slope * y[i];
        break;
    case NF_ACT_TANH:
        for (size_t i = 0; i < count; i++) y[i] = (nf_real)tanh(y[i]);
        break;
    default: break;
    }
}

void nf_act_backward(nf_real *d, const nf_real *y, size_t count, nf_activation act) {
    const nf_real slope = (nf_real)NF_LEAKY_SLOPE;
    switch (act) {
    case NF_ACT_RELU:
        for (size_t i = 0; i < count; i++) d[i] = y[i] > 0 ? d[i] : 0;
        break;
    case NF_ACT_LEAKY_RELU:
        for (size_t i = 0; i < count; i++) d[i] = y[i] > 0 ? d[i] : slope * d[i];
        break;
    case NF_ACT_TANH:
        for (size_t i = 0; i < count; i++) d[i] *= 1 - y[i] * y[i]; /* tanh' = 1 - tanh^2 */
        break;
    default: break;
    }
}
