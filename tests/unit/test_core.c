/* Core: status messages, accounted memory, RNG reproducibility, tensors. */
#include "nftest.h"

static void test_status_message(void **state) {
    NF_ASSERT_FAILS(nf_tensor_alloc(NULL, 1, 1, 1, 1, 1), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "NULL"));
    nf_tensor t;
    NF_ASSERT_FAILS(nf_tensor_alloc(&t, 1, 0, 1, 1, 1), NF_ERR_SHAPE);
    assert_string_equal(nf_status_name(NF_ERR_SHAPE), "NF_ERR_SHAPE");
}

static void test_memory_accounting(void **state) {
    size_t before = nf_mem_current();
    nf_mem_reset_peak();
    nf_tensor t;
    NF_ASSERT_OK(nf_tensor_alloc(&t, 10, 10, 1, 10, 10));
    assert_int_equal(nf_mem_current() - before, 10000 * sizeof(nf_real));
    nf_tensor_free(&t);
    assert_int_equal(nf_mem_current(), before);
    assert_int_equal(nf_mem_peak() - before, 10000 * sizeof(nf_real));
    nf_mem_reset_peak();
    assert_int_equal(nf_mem_peak(), before);
}

static void test_rng_reproducible_and_normal(void **state) {
    nf_rng a, b;
    nf_rng_seed(&a, 42);
    nf_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(nf_rng_u64(&a) == nf_rng_u64(&b));
    nf_rng_seed(&b, 43);
    assert_false(nf_rng_u64(&a) == nf_rng_u64(&b));
    double sum = 0, sq = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double v = nf_rng_normal(&a);
        sum += v;
        sq += v * v;
    }
    assert_true(fabs(sum / n) < 0.01);
    assert_true(fabs(sq / n - 1.0) < 0.02);
    for (int i = 0; i < 1000; i++) {
        double u = nf_rng_uniform(&a);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_message),
        cmocka_unit_test(test_memory_accounting),
        cmocka_unit_test(test_rng_reproducible_and_normal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
