/* Thread ownership (core/threads.h): the policy switches both pools, and nf_gemm_owned
 * (split over OpenMP threads by columns or rows, or one GEMM) matches one plain GEMM
 * for every transposition, inside and outside a parallel region, under both owners. */
#include "nftest.h"

#include "threads.h"

#include "nf_internal.h" /* nf_gemm */

static void check_gemm(int ta, int tb, int M, int N, int K) {
    int lda = ta ? M : K, ldb = tb ? K : N;
    nf_tensor A = nftest_randn(1, 1, 1, M, K, 1), B = nftest_randn(1, 1, 1, K, N, 2);
    nf_tensor C = nftest_randn(1, 1, 1, M, N, 3), R = nftest_randn(1, 1, 1, M, N, 3);
    nf_gemm_owned(ta, tb, M, N, K, 0.5f, A.data, lda, B.data, ldb, 0.25f, C.data, N);
    nf_gemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 0.5f, A.data, lda,
            B.data, ldb, 0.25f, R.data, N);
    double e = fc_rel_diff(C.data, R.data, (size_t)M * N);
    if (e > 1e-6) fail_msg("gemm ta=%d tb=%d %dx%dx%d: rel err %g", ta, tb, M, N, K, e);
    nf_tensor_free(&A), nf_tensor_free(&B), nf_tensor_free(&C), nf_tensor_free(&R);
}

static void all_shapes(void) {
    /* wide (split by columns), tall (split by rows), too small to split, odd sizes */
    const int shapes[][3] = {{64, 1000, 80}, {1000, 64, 80}, {7, 9, 11}, {129, 131, 257}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2]);
}

static void test_gemm_owned_matches_gemm(void **state) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    assert_int_equal(nf_threads_owner_now(), NF_THREADS_OPENMP);
    assert_int_equal(nf_threads_omp(), 2);
    all_shapes();
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        all_shapes(); /* inside a region: one GEMM on the calling thread */
    }
    nf_threads_set(2, NF_THREADS_BLAS);
    assert_int_equal(nf_threads_owner_now(), NF_THREADS_BLAS);
    assert_int_equal(nf_threads_omp(), 1);
    assert_int_equal(nf_threads_count(), 2);
    all_shapes();
    nf_threads_set(0, NF_THREADS_OPENMP); /* 0: OpenMP's default count */
    assert_true(nf_threads_count() >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_owned_matches_gemm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
