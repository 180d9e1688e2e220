/* Channel-major 3-D convolution on chunks of volumes (conv3d_cm.h): the column matrix of
 * conv3d.c in the chunk's layout, and GEMMs. */
#include "conv3d_cm.h"

#include "conv3d.h"
#include "nf_internal.h"

#include <string.h>

size_t nf_cm_conv3d_work_count(int nb, int cin, int cout, int d, int h, int w, int k) {
    return k == 1 ? 0 : (size_t)cin * 27 * nb * d * h * w; /* the column matrix */
}

/* The GEMM operand of x (cin, P): x itself for k = 1, else its 27-tap columns in work. */
static const nf_real *columns(const nf_real *x, int nb, int cin, int d, int h, int w, int k, nf_real *work) {
    if (k == 1) return x;
    size_t dhw = (size_t)d * h * w;
    nf_vol2col3(work, x, nb, cin, d, h, w, dhw, (size_t)nb * dhw);
    return work;
}

void nf_cm_conv3d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu,
                          int nb, int cin, int cout, int d, int h, int w, int k, nf_real *work) {
    int P = nb * d * h * w, kdim = cin * k * k * k;
    const nf_real *col = columns(x, nb, cin, d, h, w, k, work);
    nf_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, P, kdim, 1, weight, kdim, col, P, 0, out, P);
    for (int co = 0; co < cout; co++) {
        nf_real *o = out + (size_t)co * P, b = bias ? bias[co] : 0;
        if (relu)
            for (int p = 0; p < P; p++) o[p] = o[p] + b > 0 ? o[p] + b : 0;
        else
            for (int p = 0; p < P; p++) o[p] += b;
    }
}

void nf_cm_conv3d_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                           const nf_real *weight, int relu_in, int nb, int cin, int cout, int d, int h, int w, int k,
                           nf_real *work) {
    int P = nb * d * h * w, kdim = cin * k * k * k;
    if (dbias)
        for (int co = 0; co < cout; co++) {
            double acc = 0;
            const nf_real *g = dout + (size_t)co * P;
            for (int p = 0; p < P; p++) acc += g[p];
            dbias[co] += (nf_real)acc;
        }
    /* dweight (cout, kdim) += dout (cout, P) col^T */
    const nf_real *col = columns(x, nb, cin, d, h, w, k, work);
    nf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, kdim, P, 1, dout, P, col, P, 1, dweight, kdim);
    if (!dx) return;
    if (k == 1) { /* dx = W^T dout; x (possibly dx itself) is no longer read */
        nf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, cin, P, cout, 1, weight, cin, dout, P, 0, dx, P);
    } else { /* the columns' gradient W^T dout replaces the columns, then goes back to voxels */
        nf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, kdim, P, cout, 1, weight, kdim, dout, P, 0, work, P);
        size_t dhw = (size_t)d * h * w;
        nf_col2vol3(dx, work, nb, cin, d, h, w, dhw, (size_t)nb * dhw);
    }
    if (relu_in)
        for (size_t i = 0; i < (size_t)cin * P; i++)
            if (!(x[i] > 0)) dx[i] = 0;
}
