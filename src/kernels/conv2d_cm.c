/* Channel-major 2-D convolution on chunks of images (conv2d_cm.h): GEMMs plus shifted
 * row copies/sums. A 3x3 tap t = (di, dj) is a constant shift s_t = di*w + dj of the
 * flattened chunk, so every shifted row is one long contiguous loop over the P columns;
 * a per-tap mask (9, P) zeroes the columns whose tap falls outside their own image (row
 * or column edge, or into the neighbouring image). Masks select, never multiply, so an
 * Inf next to the edge cannot leak a NaN into padding. */
#include "conv2d_cm.h"

#include "nf_internal.h"

#include <string.h>

/* The shifted copies and sums and the element-wise epilogues are a fifth of a Glow step
 * and vectorise well; the build targets baseline x86-64 (SSE2), so they are also built
 * for x86-64-v3 (AVX2, FMA) and picked at load time where the CPU has it (measured: B1
 * K=32, one thread, 0.757 -> 0.642 s/step). Not under ThreadSanitizer: it instruments
 * the load-time resolver, which runs before its runtime is set up (SIGSEGV at start). */
#if defined(__x86_64__) && defined(__has_attribute) && !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones) && defined(__ELF__)
#define NF_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef NF_VECTOR_CLONES
#define NF_VECTOR_CLONES
#endif

/* ---------------------------------------------------------------- taps */

/* Offset s_t of tap t (0..8, row-major over (ki, kj)) in a flattened chunk of w-wide images. */
static ptrdiff_t tap_shift(int t, int w) { return (ptrdiff_t)(t / 3 - 1) * w + (t % 3 - 1); }

/* mask (9, P): 1 where tap t of pixel p lands inside p's image, else 0. */
NF_VECTOR_CLONES static void tap_masks(nf_real *mask, int nb, int h, int w) {
    size_t hw = (size_t)h * w, P = (size_t)nb * hw;
    for (int t = 0; t < 9; t++) {
        int di = t / 3 - 1, dj = t % 3 - 1;
        nf_real *m = mask + (size_t)t * P;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                int ok = i + di >= 0 && i + di < h && j + dj >= 0 && j + dj < w;
                m[(size_t)i * w + j] = ok ? 1 : 0;
            }
        for (int b = 1; b < nb; b++) memcpy(m + b * hw, m, hw * sizeof(nf_real)); /* the same in every image */
    }
}

/* The columns [*lo, *hi) where p + s stays inside [0, P). */
static void shift_range(ptrdiff_t s, size_t P, size_t *lo, size_t *hi) {
    *lo = s < 0 ? (size_t)-s : 0;
    *hi = s > 0 ? P - (size_t)s : P;
    if (*hi < *lo) *hi = *lo;
}

/* col (C*9, P): row (c, t) = x[c] shifted by tap t, 0 where the tap leaves the image. */
NF_VECTOR_CLONES static void gather(nf_real *restrict col, const nf_real *restrict x, int C, size_t P, const nf_real *mask, int w) {
    for (int c = 0; c < C; c++)
        for (int t = 0; t < 9; t++) {
            ptrdiff_t s = tap_shift(t, w);
            size_t lo, hi;
            shift_range(s, P, &lo, &hi);
            nf_real *restrict d = col + ((size_t)c * 9 + t) * P;
            const nf_real *restrict src = x + (size_t)c * P + s;
            const nf_real *restrict m = mask + (size_t)t * P;
            memset(d, 0, lo * sizeof(nf_real));
#pragma omp simd
            for (size_t p = lo; p < hi; p++) d[p] = m[p] != 0 ? src[p] : 0;
            memset(d + hi, 0, (P - hi) * sizeof(nf_real));
        }
}

/* out (C, P) = bias + sum over taps of Y (C*9, P) row (c, t) shifted by tap u, masked by
 * tap u's mask, where u = t (flip = 0: the forward's sum) or u = 8 - t (flip = 1: the
 * adjoint of gather, i.e. col2im). The centre tap is never masked. bias may be NULL. */
NF_VECTOR_CLONES static void shift_sum(nf_real *restrict out, const nf_real *restrict Y, const nf_real *bias, int C, size_t P,
                      const nf_real *mask, int w, int flip) {
    for (int c = 0; c < C; c++) {
        nf_real *restrict o = out + (size_t)c * P, b = bias ? bias[c] : 0;
        const nf_real *restrict yc = Y + (size_t)c * 9 * P + 4 * P;
#pragma omp simd
        for (size_t p = 0; p < P; p++) o[p] = yc[p] + b;
        for (int t = 0; t < 9; t++) {
            if (t == 4) continue;
            int u = flip ? 8 - t : t;
            ptrdiff_t s = tap_shift(u, w);
            size_t lo, hi;
            shift_range(s, P, &lo, &hi);
            const nf_real *restrict src = Y + ((size_t)c * 9 + t) * P + s;
            const nf_real *restrict m = mask + (size_t)u * P;
#pragma omp simd
            for (size_t p = lo; p < hi; p++) o[p] += m[p] != 0 ? src[p] : 0;
        }
    }
}

/* ---------------------------------------------------------------- element-wise */

/* out (C, P) += bias per row (may be NULL), then max(out, 0) if relu. */
NF_VECTOR_CLONES static void epilogue(nf_real *restrict out, const nf_real *bias, int relu, int C, size_t P) {
    if (!bias && !relu) return;
    for (int c = 0; c < C; c++) {
        nf_real *restrict o = out + (size_t)c * P, b = bias ? bias[c] : 0;
        if (relu) {
#pragma omp simd
            for (size_t p = 0; p < P; p++) o[p] = o[p] + b > 0 ? o[p] + b : 0;
        } else {
#pragma omp simd
            for (size_t p = 0; p < P; p++) o[p] += b;
        }
    }
}

NF_VECTOR_CLONES void nf_cm_relu_backward(nf_real *restrict dx, const nf_real *restrict x, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? dx[i] : 0;
}

/* dbias (C) += row sums of dout (C, P), summed in double. */
NF_VECTOR_CLONES static void row_sums(nf_real *dbias, const nf_real *restrict dout, int C, size_t P) {
    if (!dbias) return;
    for (int c = 0; c < C; c++) {
        const nf_real *restrict d = dout + (size_t)c * P;
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (size_t p = 0; p < P; p++) acc += d[p];
        dbias[c] += (nf_real)acc;
    }
}

/* ---------------------------------------------------------------- GEMM */

/* C (M, N) = alpha op(A) op(B) + beta C, row-major, no transposition flags spelled out twice. */
static void mm(int ta, int tb, int M, int N, int K, const nf_real *A, int lda, const nf_real *B, int ldb, nf_real beta,
               nf_real *C, int ldc) {
    nf_gemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1, A, lda, B, ldb,
            beta, C, ldc);
}

/* The centre taps wc (cout, cin) of a 3x3 weight: all a 1x1 image sees. */
static void centre_taps(nf_real *wc, const nf_real *weight, int cout, int cin) {
    for (size_t i = 0; i < (size_t)cout * cin; i++) wc[i] = weight[i * 9 + 4];
}

/* ---------------------------------------------------------------- sizes */

/* 3x3 on images larger than one pixel shifts on the narrower side (see conv2d_cm.h). */
static int scatter_side(int cin, int cout) { return cin > cout; }

size_t nf_cm_conv_work_count(int nb, int cin, int cout, int h, int w, int k) {
    size_t P = (size_t)nb * h * w;
    if (k == 1) return 0;
    if (h == 1 && w == 1) return 2 * (size_t)cout * cin; /* centre taps and their gradient */
    size_t masks = 9 * P;
    if (scatter_side(cin, cout)) return masks + (size_t)cout * 9 * (P + cin); /* W' or G, and Y or D */
    return masks + 2 * (size_t)cin * 9 * P;                                  /* col and dcol */
}

/* ---------------------------------------------------------------- kernels */

void nf_cm_conv_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu, int nb,
                        int cin, int cout, int h, int w, int k, nf_real *work) {
    size_t P = (size_t)nb * h * w;
    int Pi = (int)P;
    if (k == 1 || (h == 1 && w == 1)) {
        const nf_real *wt = weight;
        if (k != 1) {
            centre_taps(work, weight, cout, cin);
            wt = work;
        }
        mm(0, 0, cout, Pi, cin, wt, cin, x, Pi, 0, out, Pi); /* out = W x */
        epilogue(out, bias, relu, cout, P);
        return;
    }
    if (!scatter_side(cin, cout)) {
        nf_real *col = work, *mask = col + (size_t)cin * 9 * P;
        tap_masks(mask, nb, h, w);
        gather(col, x, cin, P, mask, w);
        mm(0, 0, cout, Pi, cin * 9, weight, cin * 9, col, Pi, 0, out, Pi); /* out = W (cout, cin*9) col */
        epilogue(out, bias, relu, cout, P);
        return;
    }
    nf_real *wt = work, *Y = wt + (size_t)cout * 9 * cin, *mask = Y + (size_t)cout * 9 * P;
    /* W' (cout*9, cin): row (co, t) holds tap t of every input channel */
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < 9; t++) wt[((size_t)co * 9 + t) * cin + ci] = weight[((size_t)co * cin + ci) * 9 + t];
    mm(0, 0, cout * 9, Pi, cin, wt, cin, x, Pi, 0, Y, Pi); /* Y = W' x */
    tap_masks(mask, nb, h, w);
    shift_sum(out, Y, bias, cout, P, mask, w, 0); /* out[co, p] = bias + sum_t Y[(co, t), p + s_t] */
    epilogue(out, NULL, relu, cout, P);
}

/* 1x1 conv, or a 3x3 on 1x1 images through its centre taps. */
static void backward_pointwise(nf_real *dx, nf_real *dweight, const nf_real *dout, const nf_real *x,
                               const nf_real *weight, int P, int cin, int cout, int k, nf_real *work) {
    if (k == 1) {
        mm(0, 1, cout, cin, P, dout, P, x, P, 1, dweight, cin); /* dW += dout x^T */
        if (dx) mm(1, 0, cin, P, cout, weight, cin, dout, P, 0, dx, P); /* dx = W^T dout */
        return;
    }
    nf_real *wc = work, *gc = work + (size_t)cout * cin;
    mm(0, 1, cout, cin, P, dout, P, x, P, 0, gc, cin);
    for (size_t i = 0; i < (size_t)cout * cin; i++) dweight[i * 9 + 4] += gc[i]; /* only the centre taps move */
    if (!dx) return;
    centre_taps(wc, weight, cout, cin);
    mm(1, 0, cin, P, cout, wc, cin, dout, P, 0, dx, P);
}

void nf_cm_conv_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                         const nf_real *weight, int relu_in, int nb, int cin, int cout, int h, int w, int k,
                         nf_real *work) {
    size_t P = (size_t)nb * h * w;
    int Pi = (int)P;
    row_sums(dbias, dout, cout, P);
    if (k == 1 || (h == 1 && w == 1)) {
        backward_pointwise(dx, dweight, dout, x, weight, Pi, cin, cout, k, work);
    } else if (!scatter_side(cin, cout)) {
        nf_real *col = work, *dcol = col + (size_t)cin * 9 * P, *mask = dcol + (size_t)cin * 9 * P;
        tap_masks(mask, nb, h, w);
        gather(col, x, cin, P, mask, w);
        mm(0, 1, cout, cin * 9, Pi, dout, Pi, col, Pi, 1, dweight, cin * 9); /* dW += dout col^T */
        if (dx) {
            mm(1, 0, cin * 9, Pi, cout, weight, cin * 9, dout, Pi, 0, dcol, Pi); /* dcol = W^T dout */
            shift_sum(dx, dcol, NULL, cin, P, mask, w, 1);                      /* col2im */
        }
    } else {
        /* D (cout*9, P): row (co, t) = dout[co] shifted by tap t. Since tap 8-t is tap t
         * mirrored, dW[co, ci, t] = sum_q D[(co, 8-t), q] x[ci, q] and
         * dx[ci, q] = sum_{co, t} W[co, ci, 8-t] D[(co, t), q]. */
        nf_real *D = work, *G = D + (size_t)cout * 9 * P, *mask = G + (size_t)cout * 9 * cin;
        tap_masks(mask, nb, h, w);
        gather(D, dout, cout, P, mask, w);
        mm(0, 1, cout * 9, cin, Pi, D, Pi, x, Pi, 0, G, cin); /* G = D x^T */
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int t = 0; t < 9; t++)
                    dweight[((size_t)co * cin + ci) * 9 + t] += G[((size_t)co * 9 + 8 - t) * cin + ci];
        if (dx) {
            nf_real *A = G; /* (cin, cout*9), the mirrored taps */
            for (int ci = 0; ci < cin; ci++)
                for (int co = 0; co < cout; co++)
                    for (int t = 0; t < 9; t++)
                        A[(size_t)ci * cout * 9 + (size_t)co * 9 + t] = weight[((size_t)co * cin + ci) * 9 + 8 - t];
            mm(0, 0, cin, Pi, cout * 9, A, cout * 9, D, Pi, 0, dx, Pi); /* dx = A D */
        }
    }
    if (dx && relu_in) nf_cm_relu_backward(dx, x, (size_t)cin * P);
}
