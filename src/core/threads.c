/* Thread ownership (threads.h): one pool at a time runs on the cores. */
#include "threads.h"

#include "nf_internal.h"

#include <stdatomic.h>

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
