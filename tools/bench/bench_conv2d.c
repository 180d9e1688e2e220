/* Micro benchmark: fast (im2col + GEMM) vs reference conv2d kernels, median of several runs.
 * Not built by CMake or run by ctest. Build and run from the repository root:
 *   gcc -O2 -fopenmp -Iinclude -Isrc -Isrc/core $(pkg-config --cflags openblas) \
 *       tools/bench/bench_conv2d.c src/kernels/conv2d.c src/kernels/conv2d_ref.c src/core/[a-z]*.c \
 *       $(pkg-config --libs openblas) -lm -o /tmp/bench_conv2d
 *   /tmp/bench_conv2d [n cin cout h w k [runs]]      (default 64 32 64 16 16 3 5) */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench_time.h"
#include "kernels/conv2d.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static nf_real *filled(size_t count, unsigned seed) {
    nf_real *p = malloc(count * sizeof(nf_real));
    if (!p) exit(1);
    srand(seed);
    for (size_t i = 0; i < count; i++) p[i] = (nf_real)rand() / RAND_MAX - 0.5f;
    return p;
}

enum { FWD, BWD_DATA, BWD_WEIGHTS, NOPS };
static const char *OP_NAMES[NOPS] = {"forward", "backward_data", "backward_weights"};

typedef struct bench {
    int n, cin, cout, h, w, k;
    nf_real *x, *wt, *bias, *out, *dout, *dx, *dw, *db, *work;
} bench;

static void run_op(bench *b, int op, int fast) {
    int n = b->n, cin = b->cin, cout = b->cout, h = b->h, w = b->w, k = b->k;
    if (op == FWD && fast) nf_conv2d_forward(b->out, b->x, b->wt, b->bias, n, cin, cout, h, w, k, b->work);
    if (op == FWD && !fast) nf_conv2d_forward_ref(b->out, b->x, b->wt, b->bias, n, cin, cout, h, w, k);
    if (op == BWD_DATA && fast) nf_conv2d_backward_data(b->dx, b->dout, b->wt, n, cin, cout, h, w, k, b->work);
    if (op == BWD_DATA && !fast) nf_conv2d_backward_data_ref(b->dx, b->dout, b->wt, n, cin, cout, h, w, k);
    if (op == BWD_WEIGHTS && fast)
        nf_conv2d_backward_weights(b->dw, b->db, b->dout, b->x, n, cin, cout, h, w, k, b->work);
    if (op == BWD_WEIGHTS && !fast) nf_conv2d_backward_weights_ref(b->dw, b->db, b->dout, b->x, n, cin, cout, h, w, k);
}

/* Median seconds of runs calls (after one warm-up call). */
static double median_time(bench *b, int op, int fast, int runs) {
    double t[64];
    run_op(b, op, fast);
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        run_op(b, op, fast);
        t[r] = bench_now() - t0;
    }
    qsort(t, (size_t)runs, sizeof(double), bench_cmp_double);
    return t[runs / 2];
}

int main(int argc, char **argv) {
    bench b = {.n = 64, .cin = 32, .cout = 64, .h = 16, .w = 16, .k = 3};
    int runs = 5;
    if (argc >= 7) {
        b.n = atoi(argv[1]), b.cin = atoi(argv[2]), b.cout = atoi(argv[3]);
        b.h = atoi(argv[4]), b.w = atoi(argv[5]), b.k = atoi(argv[6]);
    }
    if (argc >= 8) runs = atoi(argv[7]);
    if (runs < 1 || runs > 64) runs = 5;
    if (nf_conv2d_check("bench_conv2d", b.n, b.cin, b.cout, b.h, b.w, b.k) != NF_OK) {
        fprintf(stderr, "bench_conv2d: %s\n", nf_last_error());
        return 1;
    }
    size_t hw = (size_t)b.h * b.w, nw = (size_t)b.cout * b.cin * b.k * b.k;
    b.x = filled((size_t)b.n * b.cin * hw, 1);
    b.dx = filled((size_t)b.n * b.cin * hw, 2);
    b.out = filled((size_t)b.n * b.cout * hw, 3);
    b.dout = filled((size_t)b.n * b.cout * hw, 4);
    b.wt = filled(nw, 5);
    b.dw = filled(nw, 6);
    b.bias = filled((size_t)b.cout, 7);
    b.db = filled((size_t)b.cout, 8);
    b.work = filled(nf_conv2d_work_count(b.n, b.cin, b.cout, b.h, b.w, b.k) + 1, 9);
    double gflop = 2.0 * b.n * hw * nw * 1e-9;
    printf("n=%d cin=%d cout=%d %dx%d k=%d, chunk %d images, median of %d runs\n", b.n, b.cin, b.cout, b.h, b.w, b.k,
           nf_conv2d_chunk(b.n, b.cin, b.cout, b.h, b.w, b.k), runs);
    for (int op = 0; op < NOPS; op++) {
        double tf = median_time(&b, op, 1, runs), tr = median_time(&b, op, 0, runs);
        printf("%-17s fast %9.3f ms (%6.1f GFLOP/s)   ref %9.3f ms   speed-up %6.1fx\n", OP_NAMES[op], 1e3 * tf,
               gflop / tf, 1e3 * tr, tr / tf);
    }
    nf_real *all[] = {b.x, b.dx, b.out, b.dout, b.wt, b.dw, b.bias, b.db, b.work};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    return 0;
}
