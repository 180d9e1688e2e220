/* Who owns the cores: nflow's OpenMP threads or OpenBLAS's own pthreads pool.
 *
 * The pthreads OpenBLAS runs its own pool next to libgomp's. When both are active, the
 * idle threads of one pool spin on the cores the other needs (libgomp spins about a
 * millisecond after every parallel region, OpenBLAS much longer after every GEMM), and
 * on few cores the kernels can run several times slower. So only one pool works at a
 * time:
 *   NF_THREADS_OPENMP (default): OpenBLAS is single-threaded; nflow splits its GEMMs into
 *     per-thread column blocks and runs them, with the reorders around them, inside its
 *     own OpenMP regions.
 *   NF_THREADS_BLAS: nflow's loops run on one thread; every GEMM uses OpenBLAS's pool.
 * The default is set on first use (nf_threads_init, from the kernels) with as many
 * threads as OpenMP would use (OMP_NUM_THREADS or the number of cores). */
#ifndef NF_THREADS_H
#define NF_THREADS_H

#include "nflow.h"

typedef enum nf_threads_owner { NF_THREADS_OPENMP = 0, NF_THREADS_BLAS = 1 } nf_threads_owner;

/* Gives n >= 1 threads to owner's pool and one to the other (n < 1: the default count). */
void nf_threads_set(int n, nf_threads_owner owner);
/* Applies the default policy once, unless nf_threads_set ran first. Cheap after that. */
void nf_threads_init(void);
/* The current policy and thread count (after nf_threads_init). */
nf_threads_owner nf_threads_owner_now(void);
int nf_threads_count(void);
/* Threads nflow's own OpenMP regions use: nf_threads_count() under NF_THREADS_OPENMP, else 1. */
int nf_threads_omp(void);

/* C (M, N) = alpha op(A) op(B) + beta C, row-major (as cblas_?gemm), on whichever pool owns
 * the cores: under NF_THREADS_OPENMP, called outside a parallel region and large enough,
 * the columns (or rows, if there are more) of C are split over the OpenMP threads, one
 * single-threaded GEMM each (every element of C comes from one GEMM: deterministic);
 * otherwise one GEMM on the calling thread (OpenBLAS threads it under NF_THREADS_BLAS).
 * For code that calls a big GEMM outside the per-thread passes. */
void nf_gemm_owned(int trans_a, int trans_b, int M, int N, int K, nf_real alpha, const nf_real *A, int lda,
                   const nf_real *B, int ldb, nf_real beta, nf_real *C, int ldc);

#endif
