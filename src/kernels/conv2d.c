/* Fast 2-D convolution. PLACEHOLDER until the im2col + GEMM kernels land:
 * forwards to the reference loops so the layers above can be built and tested. */
#include "conv2d.h"

size_t nf_conv2d_work_count(int n, int cin, int cout, int h, int w, int k) { return 1; }

void nf_conv2d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias,
                       int n, int cin, int cout, int h, int w, int k, nf_real *work) {
    nf_conv2d_forward_ref(out, x, weight, bias, n, cin, cout, h, w, k);
}

void nf_conv2d_backward_data(nf_real *dx, const nf_real *dout, const nf_real *weight,
                             int n, int cin, int cout, int h, int w, int k, nf_real *work) {
    nf_conv2d_backward_data_ref(dx, dout, weight, n, cin, cout, h, w, k);
}

void nf_conv2d_backward_weights(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                int n, int cin, int cout, int h, int w, int k, nf_real *work) {
    nf_conv2d_backward_weights_ref(dweight, dbias, dout, x, n, cin, cout, h, w, k);
}
