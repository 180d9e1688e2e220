/* What the benchmark programs of tools/bench share: a monotonic clock and medians. */
#ifndef NF_BENCH_TIME_H
#define NF_BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC (the including file defines _POSIX_C_SOURCE). */
static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t (n >= 1) and returns its median (the mean of the middle two for even n). */
static inline double bench_median(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), bench_cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

#endif
