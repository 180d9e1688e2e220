/* Thread ownership (threads.h): one pool at a time runs on the cores. */
#include "threads.h"

#include "nf_internal.h"

#include <stdatomic.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static atomic_int policy_set;      /* 0 until the policy was applied */
static nf_threads_owner owner_now; /* valid once policy_set */
static int count_now;

/* OpenMP's thread count as it was before nflow first changed it (OMP_NUM_THREADS or the
 * number of cores), so that n < 1 keeps meaning the same after a switch of owner. */
static int default_count(void) {
    static atomic_int first;
    int n = atomic_load(&first);
    if (n) return n;
#ifdef _OPENMP
    n = omp_get_max_threads();
#else
    n = 1;
#endif
    atomic_store(&first, n);
    return n;
}

void nf_threads_set(int n, nf_threads_owner owner) {
    int def = default_count(); /* captured before the first change below */
    if (n < 1) n = def;
    owner_now = owner;
    count_now = n;
#ifdef _OPENMP
    omp_set_num_threads(owner == NF_THREADS_OPENMP ? n : 1);
#endif
    openblas_set_num_threads(owner == NF_THREADS_BLAS ? n : 1);
    atomic_store(&policy_set, 1);
}

void nf_threads_init(void) {
    if (!atomic_load_explicit(&policy_set, memory_order_acquire)) nf_threads_set(0, NF_THREADS_OPENMP);
}

void nf_set_threads(int n) { nf_threads_set(n, NF_THREADS_OPENMP); }

int nf_get_threads(void) {
    nf_threads_init();
    return nf_threads_count();
}

/* OpenBLAS's buffer pool (weak: absent with another BLAS). Its buffers are BUFFER_SIZE
 * (128 MiB on x86-64) plus a page, kept in a table once mapped and reused by later
 * calls, so a buffer taken and given back here is there for the GEMMs that follow. */
extern void *blas_memory_alloc(int procpos) __attribute__((weak));
extern void blas_memory_free(void *buffer) __attribute__((weak));
#define BLAS_BUFFER_PROBE ((size_t)129 << 20)
#define BLAS_RESERVE_MAX 256

nf_status nf_threads_reserve(void) {
    static int reserved; /* buffers already taken; callers are single-threaded (between passes) */
    nf_threads_init();
    int want = count_now < BLAS_RESERVE_MAX ? count_now : BLAS_RESERVE_MAX;
    if (!blas_memory_alloc || !blas_memory_free || want <= reserved) return NF_OK;
    void *held[BLAS_RESERVE_MAX];
    int n = 0;
    nf_status st = NF_OK;
    for (; n < want; n++) {
        void *probe = malloc(BLAS_BUFFER_PROBE); /* not nf_alloc: not nflow's memory */
        if (!probe) {
            st = nf_fail(NF_ERR_NOMEM, "out of memory: the BLAS work buffer for thread %d of %d (%zu MiB of address "
                         "space each) cannot be mapped", n + 1, want, BLAS_BUFFER_PROBE >> 20);
            break;
        }
        free(probe);
        held[n] = blas_memory_alloc(0);
    }
    for (int i = 0; i < n; i++) blas_memory_free(held[i]);
    if (st == NF_OK) reserved = want;
    return st;
}

nf_threads_owner nf_threads_owner_now(void) { return owner_now; }
int nf_threads_count(void) { return count_now; }
int nf_threads_omp(void) { return owner_now == NF_THREADS_OPENMP ? count_now : 1; }

/* Below this many multiply-adds a GEMM is not worth splitting. */
#define NF_GEMM_SPLIT_MIN ((double)(1 << 21))

void nf_gemm_owned(int trans_a, int trans_b, int M, int N, int K, nf_real alpha, const nf_real *A, int lda,
                   const nf_real *B, int ldb, nf_real beta, nf_real *C, int ldc) {
    CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    nf_threads_init();
    int T = nf_threads_omp();
#ifdef _OPENMP
    if (omp_in_parallel()) T = 1;
#endif
    if (T <= 1 || (double)M * N * K < NF_GEMM_SPLIT_MIN) {
        nf_gemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int by_cols = N >= M;
#pragma omp parallel num_threads(T)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        int len = by_cols ? N : M, lo = (int)((long)len * t / nt), hi = (int)((long)len * (t + 1) / nt);
        if (hi > lo && by_cols) /* C[:, lo:hi) = op(A) op(B)[:, lo:hi) */
            nf_gemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, trans_b ? B + (size_t)lo * ldb : B + lo, ldb,
                    beta, C + lo, ldc);
        else if (hi > lo) /* C[lo:hi, :) = op(A)[lo:hi, :) op(B) */
            nf_gemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, trans_a ? A + lo : A + (size_t)lo * lda, lda, B, ldb,
                    beta, C + (size_t)lo * ldc, ldc);
    }
}
