/* Fast 3-D convolution (stride 1, same zero padding, NCDHW) by vol2col + GEMM, built
 * like conv2d.c: a chunk of nb volumes becomes the columns of one GEMM; reorder loops
 * run on OpenMP threads, each output element written by one thread in a fixed order
 * (deterministic); GEMMs are called outside parallel regions (OpenBLAS runs its own). */
#include "conv3d.h"

#include "nf_internal.h"

#include <limits.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Reorder loops touching fewer elements than this stay on one thread: forking costs more. */
#define OMP_MIN_ELEMS 32768

/* 1 unless called from inside a parallel region (the coupling sub-network's chunks run on
 * threads that own them: the column loops then stay on the calling thread, even where
 * nested parallelism is enabled). */
#ifdef _OPENMP
static inline int may_fork(void) { return !omp_in_parallel(); }
#endif

/* ---------------------------------------------------------------- sizes */

nf_status nf_conv3d_check(const char *who, int n, int cin, int cout, int d, int h, int w, int k) {
    if (n <= 0 || cin <= 0 || cout <= 0 || d <= 0 || h <= 0 || w <= 0)
        return nf_fail(NF_ERR_SHAPE,
                       "%s: conv3d sizes must be positive (n=%d cin=%d cout=%d d=%d h=%d w=%d)", who, n, cin,
                       cout, d, h, w);
    if (k != 1 && k != 3) return nf_fail(NF_ERR_SHAPE, "%s: conv3d kernel size %d (must be 1 or 3)", who, k);
    /* GEMM dimensions and leading dimensions are ints: one volume's columns must fit. */
    if ((size_t)d * h * w * ((size_t)cin * k * k * k + cout) > INT_MAX)
        return nf_fail(NF_ERR_SHAPE, "%s: conv3d volume too large (%d x %d x %d with %d+%d channels)", who, d,
                       h, w, cin, cout);
    return NF_OK;
}

int nf_conv3d_chunk(int n, int cin, int cout, int d, int h, int w, int k) {
    return nf_conv_chunk(n, nf_conv3d_work_count_nb(1, cin, cout, d, h, w, k));
}

size_t nf_conv3d_work_count_nb(int nb, int cin, int cout, int d, int h, int w, int k) {
    /* col (cin*k^3, nb*d*h*w), then the GEMM result / reordered dout (cout, nb*d*h*w) */
    return ((size_t)cin * k * k * k + cout) * nb * d * h * w;
}

size_t nf_conv3d_work_count(int n, int cin, int cout, int d, int h, int w, int k) {
    return nf_conv3d_work_count_nb(nf_conv3d_chunk(n, cin, cout, d, h, w, k), cin, cout, d, h, w, k);
}

/* ---------------------------------------------------------------- vol2col */

/* The voxel rows of one tap: output row (z, i) reads input row (z+dz, i+di) at columns
 * [j0, j1) + dj, everything else of the row is zero padding. */
typedef struct tap {
    int dz, di, dj, j0, j1;
} tap;

static tap tap_of(int t, int w) { /* t = (kz*3 + ki)*3 + kj, 3x3x3 kernels only */
    tap a = {t / 9 - 1, t / 3 % 3 - 1, t % 3 - 1, 0, w};
    a.j0 = a.dj < 0 ? -a.dj : 0;
    a.j1 = a.dj > 0 ? w - a.dj : w;
    if (a.j1 < a.j0) a.j1 = a.j0;
    return a;
}

void nf_vol2col3(nf_real *col, const nf_real *x, int nb, int cin, int d, int h, int w, size_t sb, size_t sc) {
    size_t dhw = (size_t)d * h * w, ncol = (size_t)nb * dhw;
#pragma omp parallel for collapse(2) schedule(static) if (may_fork() && (size_t)cin * 27 * ncol > OMP_MIN_ELEMS)
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < cin; ci++) {
            const nf_real *xp = x + (size_t)b * sb + (size_t)ci * sc;
            for (int t = 0; t < 27; t++) {
                tap a = tap_of(t, w);
                nf_real *dst = col + ((size_t)ci * 27 + t) * ncol + (size_t)b * dhw;
                for (int z = 0; z < d; z++)
                    for (int i = 0; i < h; i++) {
                        nf_real *row = dst + ((size_t)z * h + i) * w;
                        int zz = z + a.dz, ii = i + a.di;
                        if (zz < 0 || zz >= d || ii < 0 || ii >= h) {
                            memset(row, 0, (size_t)w * sizeof(nf_real));
                            continue;
                        }
                        const nf_real *src = xp + ((size_t)zz * h + ii) * w + a.dj;
                        for (int j = 0; j < a.j0; j++) row[j] = 0;
                        memcpy(row + a.j0, src + a.j0, (size_t)(a.j1 - a.j0) * sizeof(nf_real));
                        for (int j = a.j1; j < w; j++) row[j] = 0;
                    }
            }
        }
}

void nf_col2vol3(nf_real *dx, const nf_real *col, int nb, int cin, int d, int h, int w, size_t sb, size_t sc) {
    size_t dhw = (size_t)d * h * w, ncol = (size_t)nb * dhw;
#pragma omp parallel for collapse(2) schedule(static) if (may_fork() && (size_t)cin * 27 * ncol > OMP_MIN_ELEMS)
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < cin; ci++) {
            nf_real *dp = dx + (size_t)b * sb + (size_t)ci * sc;
            memset(dp, 0, dhw * sizeof(nf_real));
            for (int t = 0; t < 27; t++) {
                tap a = tap_of(t, w);
                const nf_real *src = col + ((size_t)ci * 27 + t) * ncol + (size_t)b * dhw;
                for (int z = 0; z < d; z++)
                    for (int i = 0; i < h; i++) {
                        int zz = z + a.dz, ii = i + a.di;
                        if (zz < 0 || zz >= d || ii < 0 || ii >= h) continue;
                        nf_real *drow = dp + ((size_t)zz * h + ii) * w + a.dj;
                        const nf_real *srow = src + ((size_t)z * h + i) * w;
                        for (int j = a.j0; j < a.j1; j++) drow[j] += srow[j];
                    }
            }
        }
}

/* col (cin*k^3, nb*d*h*w) from x (nb, cin, d, h, w); k = 1 is a plain swap of batch and
 * channel axes. */
static void vol2col(nf_real *col, const nf_real *x, int nb, int cin, int d, int h, int w, int k) {
    size_t dhw = (size_t)d * h * w;
    if (k == 1) nf_conv_swap_leading(col, x, nb, cin, dhw, NULL);
    else nf_vol2col3(col, x, nb, cin, d, h, w, (size_t)cin * dhw, dhw);
}

/* dx (nb, cin, d, h, w) = the adjoint of vol2col applied to col; overwrites dx. */
static void col2vol(nf_real *dx, const nf_real *col, int nb, int cin, int d, int h, int w, int k) {
    size_t dhw = (size_t)d * h * w;
    if (k == 1) nf_conv_swap_leading(dx, col, cin, nb, dhw, NULL);
    else nf_col2vol3(dx, col, nb, cin, d, h, w, (size_t)cin * dhw, dhw);
}

/* ---------------------------------------------------------------- kernels */

/* A chunk's view of the scratch: col (cin*k^3, nb*dhw) first, then pix (cout, nb*dhw),
 * the chunk's output-side voxels as GEMM columns. */
typedef struct chunk_work {
    nf_real *col, *pix;
    size_t dhw;
    int kdim; /* cin*k^3, the GEMM inner dimension of the forward */
} chunk_work;

static chunk_work chunk_work_of(nf_real *work, int nb, int cin, int d, int h, int w, int k) {
    chunk_work c = {work, NULL, (size_t)d * h * w, cin * k * k * k};
    c.pix = work + (size_t)c.kdim * nb * c.dhw;
    return c;
}

/* Volumes in the chunk that starts at volume b0 (the last one may be short). */
static int chunk_len(int n, int b0, int nb) { return n - b0 < nb ? n - b0 : nb; }

void nf_conv3d_forward_nb(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n,
                          int cin, int cout, int d, int h, int w, int k, int nb, nf_real *work) {
    chunk_work c = chunk_work_of(work, nb, cin, d, h, w, k);
    for (int b0 = 0; b0 < n; b0 += nb) {
        int m = chunk_len(n, b0, nb), ncol = (int)(m * c.dhw);
        vol2col(c.col, x + (size_t)b0 * cin * c.dhw, m, cin, d, h, w, k);
        /* pix = weight (cout, cin*k^3) col */
        nf_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, ncol, c.kdim, 1, weight, c.kdim, c.col, ncol, 0,
                c.pix, ncol);
        nf_conv_swap_leading(out + (size_t)b0 * cout * c.dhw, c.pix, cout, m, c.dhw, bias);
    }
}

void nf_conv3d_backward_data_nb(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin,
                                int cout, int d, int h, int w, int k, int nb, nf_real *work) {
    chunk_work c = chunk_work_of(work, nb, cin, d, h, w, k);
    for (int b0 = 0; b0 < n; b0 += nb) {
        int m = chunk_len(n, b0, nb), ncol = (int)(m * c.dhw);
        nf_conv_swap_leading(c.pix, dout + (size_t)b0 * cout * c.dhw, m, cout, c.dhw, NULL);
        /* col = weight^T (cin*k^3, cout) pix */
        nf_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, c.kdim, ncol, cout, 1, weight, c.kdim, c.pix, ncol, 0,
                c.col, ncol);
        col2vol(dx + (size_t)b0 * cin * c.dhw, c.col, m, cin, d, h, w, k);
    }
}

void nf_conv3d_backward_weights_nb(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                   int n, int cin, int cout, int d, int h, int w, int k, int nb, nf_real *work) {
    if (n <= 0) return;
    if (dbias) nf_conv_bias_grad(dbias, dout, n, cout, (size_t)d * h * w);
    chunk_work c = chunk_work_of(work, nb, cin, d, h, w, k);
    for (int b0 = 0; b0 < n; b0 += nb) {
        int m = chunk_len(n, b0, nb), ncol = (int)(m * c.dhw);
        vol2col(c.col, x + (size_t)b0 * cin * c.dhw, m, cin, d, h, w, k);
        nf_conv_swap_leading(c.pix, dout + (size_t)b0 * cout * c.dhw, m, cout, c.dhw, NULL);
        /* dweight (cout, cin*k^3) += pix col^T */
        nf_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, c.kdim, ncol, 1, c.pix, ncol, c.col, ncol, 1,
                dweight, c.kdim);
    }
}

void nf_conv3d_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int n, int cin,
                       int cout, int d, int h, int w, int k, nf_real *work) {
    nf_conv3d_forward_nb(out, x, weight, bias, n, cin, cout, d, h, w, k,
                         nf_conv3d_chunk(n, cin, cout, d, h, w, k), work);
}

void nf_conv3d_backward_data(nf_real *dx, const nf_real *dout, const nf_real *weight, int n, int cin, int cout,
                             int d, int h, int w, int k, nf_real *work) {
    nf_conv3d_backward_data_nb(dx, dout, weight, n, cin, cout, d, h, w, k,
                               nf_conv3d_chunk(n, cin, cout, d, h, w, k), work);
}

void nf_conv3d_backward_weights(nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x, int n,
                                int cin, int cout, int d, int h, int w, int k, nf_real *work) {
    nf_conv3d_backward_weights_nb(dweight, dbias, dout, x, n, cin, cout, d, h, w, k,
                                  nf_conv3d_chunk(n, cin, cout, d, h, w, k), work);
}
