/* Reference dense-layer kernels: the plain loops the GEMM versions are tested against. */
#include "dense.h"

void nf_dense_forward_ref(nf_real *out, const nf_real *x, const nf_real *W, const nf_real *b, int n, int k, int m) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double s = b ? b[j] : 0; /* out_ij = b_j + sum_q x_iq W_jq */
            for (int q = 0; q < k; q++) s += (double)x[(size_t)i * k + q] * W[(size_t)j * k + q];
            out[(size_t)i * m + j] = (nf_real)s;
        }
}

void nf_dense_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *W, int n, int k, int m,
                                int accumulate) {
    for (int i = 0; i < n; i++)
        for (int q = 0; q < k; q++) {
            double s = accumulate ? dx[(size_t)i * k + q] : 0; /* dx_iq = sum_j dout_ij W_jq */
            for (int j = 0; j < m; j++) s += (double)dout[(size_t)i * m + j] * W[(size_t)j * k + q];
            dx[(size_t)i * k + q] = (nf_real)s;
        }
}

void nf_dense_backward_weights_ref(nf_real *dW, nf_real *db, const nf_real *dout, const nf_real *x, int n, int k,
                                   int m) {
    for (int j = 0; j < m; j++) {
        for (int q = 0; q < k; q++) {
            double s = 0; /* dW_jq += sum_i dout_ij x_iq */
            for (int i = 0; i < n; i++) s += (double)dout[(size_t)i * m + j] * x[(size_t)i * k + q];
            dW[(size_t)j * k + q] += (nf_real)s;
        }
        if (db) {
            double s = 0;
            for (int i = 0; i < n; i++) s += dout[(size_t)i * m + j];
            db[j] += (nf_real)s;
        }
    }
}
