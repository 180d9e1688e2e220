/* The Glow couplings' 3x3 convolutions alone, im2col (conv2d_cm.h) against oneDNN
 * (conv2d_dnnl.h), alternating in one process. Built by CMake (every tools/bench C file).
 *
 *   bench_coupling_convs [--channels 1] [--size 32] [--batch 64] [--hidden 64] [--L 3]
 *                        [--threads 2] [--rounds 21] [--reps 5] [--chunk-cols 512]
 *
 * For each Glow level (after its squeeze: c channels of s x s images, the coupling's
 * conv1 c/2 -> hidden and conv3 hidden -> 2*(c/2), affine) it does what one coupling
 * backward does with them: each of --threads OpenMP threads takes batch/threads images
 * in chunks of the size the coupling passes use (512 pixels; --chunk-cols) and runs conv1
 * forward (+ReLU), conv3 forward, conv3 backward (weights, bias, data masked by ReLU),
 * conv1 backward (weights, bias, data over the input). The 1x1 conv between them is the
 * same GEMM in both backends and is left out. One round = --reps of that on every level
 * with im2col, then the same with oneDNN; medians over --rounds rounds, per level and in
 * all, the ratio oneDNN / im2col, and executed GFLOP/s (forward 2*cin*cout*9 per pixel,
 * each backward as much again). Needs a build with NFLOW_DNNL. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_time.h"
#include "kernels/conv2d_cm.h"
#include "kernels/conv2d_dnnl.h"
#include "nf_internal.h"
#include "threads.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LEVELS 8
#define MAX_ROUNDS 101

typedef struct level {
    int cin, hidden, cout, s, nb; /* conv1 cin -> hidden, conv3 hidden -> cout, s x s images, nb a chunk */
} level;

/* One thread's buffers for one chunk of a level. */
typedef struct chunk_bufs {
    nf_real *x, *h1, *out, *dh, *w1, *b1, *w3, *b3, *dw1, *db1, *dw3, *db3, *work;
} chunk_bufs;

static nf_real *filled(size_t count, unsigned seed, double scale) {
    nf_real *p = malloc((count ? count : 1) * sizeof(nf_real));
    if (!p) exit(1);
    srand(seed);
    for (size_t i = 0; i < count; i++) p[i] = (nf_real)(scale * ((double)rand() / RAND_MAX - 0.5));
    return p;
}

static chunk_bufs bufs_make(const level *l, unsigned seed) {
    size_t P = (size_t)l->nb * l->s * l->s, w1 = (size_t)l->hidden * l->cin * 9, w3 = (size_t)l->cout * l->hidden * 9;
    size_t work1 = nf_cm_conv_work_count(l->nb, l->cin, l->hidden, l->s, l->s, 3);
    size_t work3 = nf_cm_conv_work_count(l->nb, l->hidden, l->cout, l->s, l->s, 3);
    chunk_bufs b = {filled(l->cin * P, seed, 2),  filled(l->hidden * P, seed + 1, 1),
                    filled(l->cout * P, seed + 2, 1), filled(l->hidden * P, seed + 3, 1),
                    filled(w1, seed + 4, 0.2),    filled(l->hidden, seed + 5, 0.2),
                    filled(w3, seed + 6, 0.2),    filled(l->cout, seed + 7, 0.2),
                    filled(w1, 0, 0),             filled(l->hidden, 0, 0),
                    filled(w3, 0, 0),             filled(l->cout, 0, 0),
                    filled(work1 > work3 ? work1 : work3, 0, 0)};
    return b;
}

static void bufs_free(chunk_bufs *b) {
    nf_real *all[] = {b->x, b->h1, b->out, b->dh, b->w1, b->b1, b->w3, b->b3, b->dw1, b->db1, b->dw3, b->db3, b->work};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

/* conv1 forward, conv3 forward, conv3 backward, conv1 backward on one chunk. */
static int chunk_pass(const level *l, chunk_bufs *b, int dnnl) {
    int nb = l->nb, s = l->s, ci = l->cin, hd = l->hidden, co = l->cout;
    if (!dnnl) {
        nf_cm_conv_forward(b->h1, b->x, b->w1, b->b1, 1, nb, ci, hd, s, s, 3, b->work);
        nf_cm_conv_forward(b->out, b->h1, b->w3, b->b3, 0, nb, hd, co, s, s, 3, b->work);
        nf_cm_conv_backward(b->dh, b->dw3, b->db3, b->out, b->h1, b->w3, 1, nb, hd, co, s, s, 3, b->work);
        nf_cm_conv_backward(b->x, b->dw1, b->db1, b->dh, b->x, b->w1, 0, nb, ci, hd, s, s, 3, b->work);
        return 1;
    }
    return nf_dnnl_conv_forward(b->h1, b->x, b->w1, b->b1, 1, nb, ci, hd, s, s, 3) == NF_OK &&
           nf_dnnl_conv_forward(b->out, b->h1, b->w3, b->b3, 0, nb, hd, co, s, s, 3) == NF_OK &&
           nf_dnnl_conv_backward(b->dh, b->dw3, b->db3, b->out, b->h1, b->w3, 1, nb, hd, co, s, s, 3) == NF_OK &&
           nf_dnnl_conv_backward(b->x, b->dw1, b->db1, b->dh, b->x, b->w1, 0, nb, ci, hd, s, s, 3) == NF_OK;
}

/* Seconds for reps passes over the level's batch on T threads (chunks per thread). */
static double time_level(const level *l, chunk_bufs *per_thread, int chunks, int T, int reps, int dnnl, int *ok) {
    double t0 = bench_now();
    int good = 1;
#pragma omp parallel num_threads(T) reduction(&& : good)
    {
        chunk_bufs *b = &per_thread[omp_get_thread_num()];
        for (int r = 0; r < reps; r++)
            for (int c = 0; c < chunks; c++) good = good && chunk_pass(l, b, dnnl);
    }
    *ok = *ok && good;
    return bench_now() - t0;
}

int main(int argc, char **argv) {
    /* chunk_cols: coupling_chunks.c's NF_COUPLING_CHUNK_COLS */
    int channels = 1, size = 32, batch = 64, hidden = 64, L = 3, threads = 2, rounds = 21, reps = 5, chunk_cols = 512;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--channels")) channels = v;
        else if (!strcmp(argv[i], "--size")) size = v;
        else if (!strcmp(argv[i], "--batch")) batch = v;
        else if (!strcmp(argv[i], "--hidden")) hidden = v;
        else if (!strcmp(argv[i], "--L")) L = v;
        else if (!strcmp(argv[i], "--threads")) threads = v;
        else if (!strcmp(argv[i], "--rounds")) rounds = v;
        else if (!strcmp(argv[i], "--reps")) reps = v;
        else if (!strcmp(argv[i], "--chunk-cols")) chunk_cols = v;
        else return fprintf(stderr, "bench_coupling_convs: unknown option %s\n", argv[i]), 2;
    }
    if (argc % 2 == 0 || L < 1 || L > MAX_LEVELS || threads < 1 || batch < threads || rounds < 1 ||
        rounds > MAX_ROUNDS || reps < 1 || size >> L < 1)
        return fprintf(stderr, "bench_coupling_convs: bad arguments\n"), 2;
    nf_threads_set(threads, NF_THREADS_OPENMP);

    level lv[MAX_LEVELS];
    int chunks[MAX_LEVELS];
    double flops = 0; /* executed per round and backend: forward + 2 backward per conv */
    for (int i = 0, c = channels, s = size; i < L; i++) {
        c *= 4, s /= 2;
        int per_thread = batch / threads, nb = chunk_cols / (s * s);
        nb = nb < 1 ? 1 : nb > per_thread ? per_thread : nb;
        lv[i] = (level){c - c / 2, hidden, 2 * (c / 2), s, nb};
        chunks[i] = (per_thread + nb - 1) / nb;
        double px = (double)threads * chunks[i] * nb * s * s;
        flops += 3.0 * 2.0 * 9 * (lv[i].cin + lv[i].cout) * hidden * px * reps;
        if (i < L - 1) c /= 2;
    }
    chunk_bufs *bufs = calloc((size_t)L * threads, sizeof *bufs);
    if (!bufs) return 1;
    for (int i = 0; i < L; i++)
        for (int t = 0; t < threads; t++) bufs[i * threads + t] = bufs_make(&lv[i], 10u * i + t);

    double tl[2][MAX_LEVELS][MAX_ROUNDS], tall[2][MAX_ROUNDS];
    int ok = 1;
    for (int i = 0; i < L; i++) /* warm-up: oneDNN's plans, OpenBLAS's buffers, the caches */
        for (int d = 0; d < 2; d++) time_level(&lv[i], &bufs[i * threads], chunks[i], threads, 1, d, &ok);
    if (!ok) return fprintf(stderr, "bench_coupling_convs: oneDNN: %s\n", nf_last_error()), 1;
    for (int r = 0; r < rounds; r++)
        for (int d = 0; d < 2; d++) {
            tall[d][r] = 0;
            for (int i = 0; i < L; i++) {
                tl[d][i][r] = time_level(&lv[i], &bufs[i * threads], chunks[i], threads, reps, d, &ok);
                tall[d][r] += tl[d][i][r];
            }
        }
    if (!ok) return fprintf(stderr, "bench_coupling_convs: oneDNN: %s\n", nf_last_error()), 1;

    printf("# couplings' 3x3 convs alone: batch %d, %dx%dx%d, hidden %d, L=%d, %d threads, %d rounds of %d reps,"
           " OpenBLAS core %s%s%s\n",
           batch, channels, size, size, hidden, L, threads, rounds, reps, openblas_get_corename(),
           getenv("OPENBLAS_CORETYPE") ? ", OPENBLAS_CORETYPE=" : "",
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
    printf("| level | conv1 | conv3 | images | chunk | oneDNN impl (conv1 / conv3) | im2col ms | oneDNN ms "
           "| oneDNN/im2col |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < L; i++) {
        const level *l = &lv[i];
        double a = bench_median(tl[0][i], rounds) / reps, b = bench_median(tl[1][i], rounds) / reps;
        char impl[160];
        snprintf(impl, sizeof impl, "%s / %s", nf_dnnl_conv_impl(l->nb, l->cin, hidden, l->s, l->s, 3),
                 nf_dnnl_conv_impl(l->nb, hidden, l->cout, l->s, l->s, 3));
        printf("| %d | %d->%d | %d->%d | %dx%d | %d | %s | %.3f | %.3f | %.2f |\n", i + 1, l->cin, hidden, hidden,
               l->cout, l->s, l->s, l->nb, impl, 1e3 * a, 1e3 * b, b / a);
    }
    double a = bench_median(tall[0], rounds), b = bench_median(tall[1], rounds);
    printf("| all | | | | | | %.3f | %.3f | %.2f |\n", 1e3 * a / reps, 1e3 * b / reps, b / a);
    printf("# executed GFLOP/s (forward + both backwards): im2col %.1f, oneDNN %.1f\n", flops / a * 1e-9,
           flops / b * 1e-9);
    for (int i = 0; i < L * threads; i++) bufs_free(&bufs[i]);
    free(bufs);
    return 0;
}
