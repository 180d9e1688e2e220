/* Reference 3-D convolution: direct loops, no tricks. The fast kernels in conv3d.c are
 * tested against these. */
#include "conv3d.h"

#include <string.h>

/* Index of x[b, c, z, i, j] in a (., C, d, h, w) tensor, and of a tap in a k^3 kernel. */
#define VOX(b, C, c, z, i, j) (((((size_t)(b) * (C) + (c)) * d + (z)) * h + (i)) * w + (j))
#define TAP(co, ci, kz, ki, kj) (((((size_t)(co) * cin + (ci)) * k + (kz)) * k + (ki)) * k + (kj))

/* 1 if (z, i, j) lies inside the d x h x w volume. */
static int inside(int z, int i, int j, int d, int h, int w) {
    return z >= 0 && z < d && i >= 0 && i < h && j >= 0 && j < w;
}

void nf_conv3d_forward_ref(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                           int cin, int cout, int d, int h, int w, int k) {
    int p = k / 2;
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int z = 0; z < d; z++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++) {
                        double acc = bias ? bias[co] : 0.0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int kz = 0; kz < k; kz++)
                                for (int ki = 0; ki < k; ki++)
                                    for (int kj = 0; kj < k; kj++) {
                                        int zz = z + kz - p, ii = i + ki - p, jj = j + kj - p;
                                        if (!inside(zz, ii, jj, d, h, w)) continue;
                                        acc += (double)weight[TAP(co, ci, kz, ki, kj)] * x[VOX(b, cin, ci, zz, ii, jj)];
                                    }
                        out[VOX(b, cout, co, z, i, j)] = (nf_real)acc;
                    }
}

void nf_conv3d_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin,
                                 int cout, int d, int h, int w, int k) {
    int p = k / 2;
    memset(dx, 0, sizeof(nf_real) * (size_t)n * cin * d * h * w);
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int z = 0; z < d; z++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++) {
                        nf_real g = dout[VOX(b, cout, co, z, i, j)];
                        for (int ci = 0; ci < cin; ci++)
                            for (int kz = 0; kz < k; kz++)
                                for (int ki = 0; ki < k; ki++)
                                    for (int kj = 0; kj < k; kj++) {
                                        int zz = z + kz - p, ii = i + ki - p, jj = j + kj - p;
                                        if (!inside(zz, ii, jj, d, h, w)) continue;
                                        dx[VOX(b, cin, ci, zz, ii, jj)] += g * weight[TAP(co, ci, kz, ki, kj)];
                                    }
                    }
}

void nf_conv3d_backward_weights_ref(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                    int n, int cin, int cout, int d, int h, int w, int k) {
    int p = k / 2;
    size_t dhw = (size_t)d * h * w;
    for (int co = 0; co < cout; co++) {
        if (dbias) {
            double acc = 0;
            for (int b = 0; b < n; b++)
                for (size_t v = 0; v < dhw; v++) acc += dout[((size_t)b * cout + co) * dhw + v];
            dbias[co] += (nf_real)acc;
        }
        for (int ci = 0; ci < cin; ci++)
            for (int kz = 0; kz < k; kz++)
                for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++) {
                        double acc = 0;
                        for (int b = 0; b < n; b++)
                            for (int z = 0; z < d; z++)
                                for (int i = 0; i < h; i++)
                                    for (int j = 0; j < w; j++) {
                                        int zz = z + kz - p, ii = i + ki - p, jj = j + kj - p;
                                        if (!inside(zz, ii, jj, d, h, w)) continue;
                                        acc += (double)dout[VOX(b, cout, co, z, i, j)] * x[VOX(b, cin, ci, zz, ii, jj)];
                                    }
                        dweight[TAP(co, ci, kz, ki, kj)] += (nf_real)acc;
                    }
    }
}
