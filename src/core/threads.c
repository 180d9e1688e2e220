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

static int default_count(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void nf_threads_set(int n, nf_threads_owner owner) {
    if (n < 1) n = default_count();
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

nf_threads_owner nf_threads_owner_now(void) { return owner_now; }
int nf_threads_count(void) { return count_now; }
int nf_threads_omp(void) { return owner_now == NF_THREADS_OPENMP ? count_now : 1; }
