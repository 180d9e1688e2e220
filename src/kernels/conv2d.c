/* Fast 2-D convolution (stride 1, same zero padding, NCHW) by im2col + GEMM.
 * A chunk of nb images becomes the columns of one GEMM, so small images still give
 * GEMMs wide enough for OpenBLAS to run at full speed; the chunk rule is in conv2d.h.
 * Reorder loops run on OpenMP threads (each output element written by exactly one
 * thread, in a fixed order: deterministic); GEMMs are called outside parallel regions
 * because OpenBLAS runs its own threads. With the pthreads OpenBLAS the two thread pools
 * take turns once or twice per chunk; libgomp's default spin-wait then keeps idle OpenMP
 * workers on the cores OpenBLAS needs, which can make the kernels several times slower
 * on few cores: run with OMP_WAIT_POLICY=passive. */
#include "conv2d.h"

#include "nf_internal.h"

#include <limits.h>
#include <string.h>

/* Reorder loops touching fewer elements than this stay on one thread: forking costs more. */
#define OMP_MIN_ELEMS 32768

/* ---------------------------------------------------------------- sizes */

nf_status nf_conv2d_check(const char *who, int n, int cin, int cout, int h, int w, int k) {
    if (n <= 0 || cin <= 0 || cout <= 0 || h <= 0 || w <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: conv2d sizes must be positive (n=%d cin=%d cout=%d h=%d w=%d)",
                       who, n, cin, cout, h, w);
    if (k != 1 && k != 3) return nf_fail(NF_ERR_SHAPE, "%s: conv2d kernel size %d (must be 1 or 3)", who, k);
    /* GEMM dimensions and leading dimensions are ints: one image's columns must fit. */
    if ((size_t)h * w * ((size_t)cin * k * k + cout) > INT_MAX)
        return nf_fail(NF_ERR_SHAPE, "%s: conv2d image too large (%d x %d with %d+%d channels)", who, h, w,
                       cin, cout);
    return NF_OK;
}

int nf_conv2d_chunk(int n, int cin, int cout, int h, int w, int k) {
    if (n <= 1) return 1;
    if (h == 1 && w == 1) return n; /* vectors: the whole batch is one GEMM, no chunk scratch */
    return nf_conv_chunk(n, ((size_t)cin * k * k + cout) * h * w);
}

size_t nf_conv2d_work_count_nb(int nb, int cin, int cout, int h, int w, int k) {
    if (h == 1 && w == 1) return k == 1 ? 0 : (size_t)cout * cin; /* gathered centre taps */
    /* col (cin*k*k, nb*h*w), then the GEMM result / reordered dout (cout, nb*h*w) */
    return ((size_t)cin * k * k + cout) * nb * h * w;
}

size_t nf_conv2d_work_count(int n, int cin, int cout, int h, int w, int k) {
    return nf_conv2d_work_count_nb(nf_conv2d_chunk(n, cin, cout, h, w, k), cin, cout, h, w, k);
}

/* For the tap at offset (di, dj) and output row i: the input row *ii = i + di and the
 * output columns [*j0, *j1) whose input column j + dj lies inside the image.
 * Returns 0 when the whole input row is outside (zero padding). */
static int tap_row(int i, int di, int dj, int h, int w, int *ii, int *j0, int *j1) {
    *ii = i + di;
    *j0 = dj < 0 ? -dj : 0;
    *j1 = dj > 0 ? w - dj : w;
    if (*j1 < *j0) *j1 = *j0;
    return *ii >= 0 && *ii < h;
}

/* col (cin*k*k, nb*h*w): row (ci, ki, kj), column (b, i, j) = x[b, ci, i+ki-pad, j+kj-pad],
 * 0 outside the image. x: (nb, cin, h, w).
 * Within one plane a tap is a constant shift s = di*w + dj of the flattened image, so the
 * valid rows are copied with one memcpy; the columns that wrapped around a row edge (and
 * the rows outside the image) are then zeroed. */
static void im2col(nf_real *col, const nf_real *x, int nb, int cin, int h, int w, int k) {
    size_t hw = (size_t)h * w, ncol = (size_t)nb * hw;
    if (k == 1) { /* one tap, no padding: col is x with batch and channel swapped */
        nf_conv_swap_leading(col, x, nb, cin, hw, NULL);
        return;
    }
    int pad = k / 2, kk = k * k;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)cin * kk * ncol > OMP_MIN_ELEMS)
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < cin; ci++) {
            const nf_real *xp = x + ((size_t)b * cin + ci) * hw;
            for (int t = 0; t < kk; t++) {
                int di = t / k - pad, dj = t % k - pad;
                nf_real *dst = col + ((size_t)ci * kk + t) * ncol + (size_t)b * hw;
                int i0 = di < 0 ? -di : 0, i1 = di > 0 ? h - di : h; /* rows whose source row is inside */
                if (i1 < i0) i1 = i0;
                memset(dst, 0, (size_t)i0 * w * sizeof(nf_real));
                memset(dst + (size_t)i1 * w, 0, (size_t)(h - i1) * w * sizeof(nf_real));
                /* [p0, p1) = the valid rows, trimmed so that p + s stays inside the plane */
                ptrdiff_t p0 = (ptrdiff_t)i0 * w + (dj < 0 ? -dj : 0), p1 = (ptrdiff_t)i1 * w - (dj > 0 ? dj : 0);
                ptrdiff_t shift = (ptrdiff_t)di * w + dj;
                if (p1 > p0) memcpy(dst + p0, xp + p0 + shift, (size_t)(p1 - p0) * sizeof(nf_real));
                if (dj == 0) continue;
                int j0 = dj < 0 ? 0 : w - dj, j1 = dj < 0 ? -dj : w; /* the wrapped columns */
                if (j0 < 0) j0 = 0;
                if (j1 > w) j1 = w;
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) dst[(size_t)i * w + j] = 0;
            }
        }
}

/* dx (nb, cin, h, w) = col2im(col (cin*k*k, nb*h*w)), the adjoint of im2col: every column
 * entry is added back to the pixel it was copied from. Overwrites dx. Each (b, ci) plane
 * is summed by one thread over the taps in a fixed order. */
static void col2im(nf_real *dx, const nf_real *col, int nb, int cin, int h, int w, int k) {
    size_t hw = (size_t)h * w, ncol = (size_t)nb * hw;
    if (k == 1) {
        nf_conv_swap_leading(dx, col, cin, nb, hw, NULL);
        return;
    }
    int pad = k / 2, kk = k * k;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)cin * kk * ncol > OMP_MIN_ELEMS)
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < cin; ci++) {
            nf_real *dp = dx + ((size_t)b * cin + ci) * hw;
            memset(dp, 0, hw * sizeof(nf_real));
            for (int t = 0; t < kk; t++) {
                int di = t / k - pad, dj = t % k - pad;
                const nf_real *src = col + ((size_t)ci * kk + t) * ncol + (size_t)b * hw;
                for (int i = 0; i < h; i++) {
                    int ii, j0, j1;
                    if (!tap_row(i, di, dj, h, w, &ii, &j0, &j1)) continue;
                    nf_real *drow = dp + (size_t)ii * w + dj;
                    const nf_real *srow = src + (size_t)i * w;
                    for (int j = j0; j < j1; j++) drow[j] += srow[j];
                }
            }
        }
}

/* ---------------------------------------------------------------- 1x1 images */

/* The centre taps wc (cout, cin) of weight (cout, cin, k, k): all a 1x1 image sees
 * (the other taps fall on the zero padding). For k = 1 that is weight itself. */
static const nf_real *centre_taps(nf_real *wc, const nf_real *weight, int cout, int cin, int k) {
    if (k == 1) return weight;
    size_t kk = (size_t)k * k, c = kk / 2;
    for (size_t i = 0; i < (size_t)cout * cin; i++) wc[i] = weight[i * kk + c];
    return wc;
}

/* out (n, cout) = x (n, cin) wc^T + bias: NCHW of 1x1 images is already a row-major matrix. */
static void forward_vectors(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                            int cin, int cout, int k, nf_real *work) {
    const nf_real *wc = centre_taps(work, weight, cout, cin, k);
    if (bias)
        for (int b = 0; b < n; b++) memcpy(out + (size_t)b * cout, bias, (size_t)cout * sizeof(nf_real));
    nf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, cout, cin, 1, x, cin, wc, cin, bias ? 1 : 0, out, cout);
}

/* dx (n, cin) = dout (n, cout) wc. */
static void backward_data_vectors(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin,
                                  int cout, int k, nf_real *work) {
    const nf_real *wc = centre_taps(work, weight, cout, cin, k);
    nf_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, cin, cout, 1, dout, cout, wc, cin, 0, dx, cin);
}

/* centre taps of dweight (cout, cin) += dout^T (cout, n) x (n, cin). */
static void backward_weights_vectors(nf_real *dweight, const nf_real *dout, const nf_real *x, int n, int cin,
                                     int cout, int k, nf_real *work) {
    if (k == 1) {
        nf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, cout, cin, n, 1, dout, cout, x, cin, 1, dweight, cin);
        return;
    }
    /* the centre taps are strided in dweight, so the GEMM writes to scratch first */
    nf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, cout, cin, n, 1, dout, cout, x, cin, 0, work, cin);
    size_t kk = (size_t)k * k, c = kk / 2;
    for (size_t i = 0; i < (size_t)cout * cin; i++) dweight[i * kk + c] += work[i];
}

/* ---------------------------------------------------------------- kernels */

/* A chunk's view of the scratch: col (cin*k*k, nb*hw) first, then pix (cout, nb*hw), the
 * chunk's output-side pixels as GEMM columns. */
typedef struct chunk_work {
    nf_real *col, *pix;
    size_t hw;
    int kdim; /* cin*k*k, the GEMM inner dimension of the forward */
} chunk_work;

static chunk_work chunk_work_of(nf_real *work, int nb, int cin, int h, int w, int k) {
    chunk_work c = {work, NULL, (size_t)h * w, cin * k * k};
    c.pix = work + (size_t)c.kdim * nb * c.hw;
    return c;
}

/* Images in the chunk that starts at image b0 (the last one may be short). */
static int chunk_len(int n, int b0, int nb) { return n - b0 < nb ? n - b0 : nb; }

void nf_conv2d_forward_nb(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                          int cin, int cout, int h, int w, int k, int nb, nf_real *work) {
    if (n <= 0) return;
    if (h == 1 && w == 1) {
        forward_vectors(out, x, weight, bias, n, cin, cout, k, work);
        return;
    }
    chunk_work c = chunk_work_of(work, nb, cin, h, w, k);
    for (int b0 = 0; b0 < n; b0 += nb) {
        int m = chunk_len(n, b0, nb), ncol = (int)(m * c.hw);
        im2col(c.col, x + (size_t)b0 * cin * c.hw, m, cin, h, w, k);
        /* pix = weight (cout, cin*k*k) col */
        nf_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, ncol, c.kdim, 1, weight, c.kdim, c.col, ncol, 0,
                c.pix, ncol);
        nf_conv_swap_leading(out + (size_t)b0 * cout * c.hw, c.pix, cout, m, c.hw, bias);
    }
}

void nf_conv2d_backward_data_nb(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin,
                                int cout, int h, int w, int k, int nb, nf_real *work) {
    if (n <= 0) return;
    if (h == 1 && w == 1) {
        backward_data_vectors(dx, dout, weight, n, cin, cout, k, work);
        return;
    }
    chunk_work c = chunk_work_of(work, nb, cin, h, w, k);
    for (int b0 = 0; b0 < n; b0 += nb) {
        int m = chunk_len(n, b0, nb), ncol = (int)(m * c.hw);
        nf_conv_swap_leading(c.pix, dout + (size_t)b0 * cout * c.hw, m, cout, c.hw, NULL);
        /* col = weight^T (cin*k*k, cout) pix */
        nf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, c.kdim, ncol, cout, 1, weight, c.kdim, c.pix, ncol, 0,
                c.col, ncol);
        col2im(dx + (size_t)b0 * cin * c.hw, c.col, m, cin, h, w, k);
    }
}

void nf_conv2d_backward_weights_nb(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                   int n, int cin, int cout, int h, int w, int k, int nb, nf_real *work) {
    if (n <= 0) return;
    if (dbias) nf_conv_bias_grad(dbias, dout, n, cout, (size_t)h * w);
    if (h == 1 && w == 1) {
        backward_weights_vectors(dweight, dout, x, n, cin, cout, k, work);
        return;
    }
    chunk_work c = chunk_work_of(work, nb, cin, h, w, k);
    for (int b0 = 0; b0 < n; b0 += nb) {
        int m = chunk_len(n, b0, nb), ncol = (int)(m * c.hw);
        im2col(c.col, x + (size_t)b0 * cin * c.hw, m, cin, h, w, k);
        nf_conv_swap_leading(c.pix, dout + (size_t)b0 * cout * c.hw, m, cout, c.hw, NULL);
        /* dweight (cout, cin*k*k) += pix col^T */
        nf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, c.kdim, ncol, 1, c.pix, ncol, c.col, ncol, 1,
                dweight, c.kdim);
    }
}

void nf_conv2d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n, int cin,
                       int cout, int h, int w, int k, nf_real *work) {
    nf_conv2d_forward_nb(out, x, weight, bias, n, cin, cout, h, w, k, nf_conv2d_chunk(n, cin, cout, h, w, k),
                         work);
}

void nf_conv2d_backward_data(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin, int cout,
                             int h, int w, int k, nf_real *work) {
    nf_conv2d_backward_data_nb(dx, dout, weight, n, cin, cout, h, w, k, nf_conv2d_chunk(n, cin, cout, h, w, k),
                               work);
}

void nf_conv2d_backward_weights(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x, int n,
                                int cin, int cout, int h, int w, int k, nf_real *work) {
    nf_conv2d_backward_weights_nb(dweight, dbias, dout, x, n, cin, cout, h, w, k,
                                  nf_conv2d_chunk(n, cin, cout, h, w, k), work);
}
