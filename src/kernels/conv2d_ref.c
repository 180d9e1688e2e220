/* Reference 2-D convolution: direct loops, no tricks. The fast kernels in
 * conv2d.c are tested against these. */
#include "conv2d.h"

#include <string.h>

void nf_conv2d_forward_ref(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                           int n, int cin, int cout, int h, int w, int k) {
    int pad = k / 2;
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < cin; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int ii = i + ki - pad, jj = j + kj - pad;
                                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                                acc += (double)weight[((co * cin + ci) * k + ki) * k + kj] *
                                       x[(((size_t)b * cin + ci) * h + ii) * w + jj];
                            }
                    out[(((size_t)b * cout + co) * h + i) * w + j] = (nf_real)acc;
                }
}

void nf_conv2d_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *weight,
                                 int n, int cin, int cout, int h, int w, int k) {
    int pad = k / 2;
    memset(dx, 0, sizeof(nf_real) * (size_t)n * cin * h * w);
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    nf_real g = dout[(((size_t)b * cout + co) * h + i) * w + j];
                    for (int ci = 0; ci < cin; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int ii = i + ki - pad, jj = j + kj - pad;
                                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                                dx[(((size_t)b * cin + ci) * h + ii) * w + jj] +=
                                    g * weight[((co * cin + ci) * k + ki) * k + kj];
                            }
                }
}

void nf_conv2d_backward_weights_ref(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                    int n, int cin, int cout, int h, int w, int k) {
    int pad = k / 2;
    for (int co = 0; co < cout; co++) {
        if (dbias) {
            double acc = 0;
            for (int b = 0; b < n; b++)
                for (int p = 0; p < h * w; p++) acc += dout[((size_t)b * cout + co) * h * w + p];
            dbias[co] += (nf_real)acc;
        }
        for (int ci = 0; ci < cin; ci++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    double acc = 0;
                    for (int b = 0; b < n; b++)
                        for (int i = 0; i < h; i++)
                            for (int j = 0; j < w; j++) {
                                int ii = i + ki - pad, jj = j + kj - pad;
                                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                                acc += (double)dout[(((size_t)b * cout + co) * h + i) * w + j] *
                                       x[(((size_t)b * cin + ci) * h + ii) * w + jj];
                            }
                    dweight[((co * cin + ci) * k + ki) * k + kj] += (nf_real)acc;
                }
    }
}
