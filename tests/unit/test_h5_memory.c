/* Reading by hyperslab keeps memory flat: streaming a dataset 8x larger than another,
 * both larger than the memory budget, peaks at exactly the same number of bytes, and
 * that peak stays within the budget plus the prefetch slot. */
#include "test_h5_files.h"

static const char *dir;

static double byte_value(long long s, size_t e) { return (double)((s * 29 + e * 3) % 256); }
static double float_value(long long s, size_t e) { return 100.0 + (double)((s * 29 + e * 3) % 1000) / 7.0; }

enum { BATCH = 32, SIDE = 32 };
static const size_t budget = 256 * 1024;

/* Peak bytes above the baseline while opening, streaming `epochs` epochs and closing. */
static size_t stream_peak(const char *spec, nf_norm_mode norm, double epochs) {
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, BATCH, 1, 1, SIDE, SIDE));
    nf_rng rng;
    nf_rng_seed(&rng, 1);
    size_t base = nf_mem_current();
    nf_mem_reset_peak();
    nf_dataset_options o = nf_dataset_options_default();
    o.batch = BATCH;
    o.memory_budget = budget;
    o.normalize = norm;
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, spec, &o));
    long long n = nf_dataset_size(ds), batches = (long long)(epochs * (double)n) / BATCH;
    for (long long b = 0; b < batches; b++) NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, &rng));
    nf_dataset_close(ds);
    assert_int_equal(nf_mem_current(), base); /* everything given back */
    size_t peak = nf_mem_peak() - base;
    nf_tensor_free(&x);
    return peak;
}

/* Streams a small and an 8x larger dataset of the same samples, both larger than the
 * budget: the peaks must be equal and within the budget plus the prefetch slot. */
static void check_flat(const char *name, hid_t type, h5t_value_fn f, long long n, long long chunk_n,
                       nf_norm_mode norm, double epochs) {
    const char *file = h5t_path(dir, name, 0);
    h5t_write4(file, "/small", type, n, 1, SIDE, SIDE, chunk_n, f, 1);
    h5t_write4(file, "/large", type, 8 * n, 1, SIDE, SIDE, chunk_n, f, 0);
    size_t small = stream_peak(h5t_spec(file, "/small"), norm, epochs);
    size_t large = stream_peak(h5t_spec(file, "/large"), norm, epochs);
    size_t slot = (size_t)BATCH * SIDE * SIDE * sizeof(nf_real), bytes = H5Tget_size(type) * SIDE * SIDE;
    print_message("%s: peak above baseline %zu bytes (%lld KiB file), %zu bytes (%lld KiB file), budget %zu\n", name,
                  small, n * (long long)bytes / 1024, large, 8 * n * (long long)bytes / 1024, budget);
    assert_int_equal(small, large);
    assert_true(large <= budget + slot + 16384);
    assert_true((long long)large < n * (long long)bytes); /* below even the small file */
}

static void test_flat_memory_uint8(void **state) {
    check_flat("u8.h5", H5T_NATIVE_UCHAR, byte_value, 2048, 64, NF_NORM_AUTO, 1.2); /* 2 and 16 MiB */
}

/* float data normalised by a statistics pass over the whole range at open */
static void test_flat_memory_computed_stats(void **state) {
    check_flat("f32.h5", H5T_NATIVE_FLOAT, float_value, 1024, 0, NF_NORM_COMPUTE, 0.5); /* 4 and 32 MiB */
}

int main(void) {
    dir = h5t_dir("h5memory");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_memory_uint8),
        cmocka_unit_test(test_flat_memory_computed_stats),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
