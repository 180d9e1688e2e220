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

static void test_flat_memory_uint8(void **state) {
    const char *f = h5t_path(dir, "u8.h5", 0);
    h5t_write4(f, "/small", H5T_NATIVE_UCHAR, 2048, 1, SIDE, SIDE, 64, byte_value, 1);  /* 2 MiB */
    h5t_write4(f, "/large", H5T_NATIVE_UCHAR, 16384, 1, SIDE, SIDE, 64, byte_value, 0); /* 16 MiB */
    size_t small = stream_peak(h5t_spec(f, "/small"), NF_NORM_AUTO, 1.2);
    size_t large = stream_peak(h5t_spec(f, "/large"), NF_NORM_AUTO, 1.2);
    size_t slot = (size_t)BATCH * SIDE * SIDE * sizeof(nf_real);
    print_message("peak above baseline: %zu bytes (2 MiB file), %zu bytes (16 MiB file), budget %zu\n", small, large,
                  budget);
    assert_int_equal(small, large);
    assert_true(large <= budget + slot + 16384);
    assert_true(large < 2048 * SIDE * SIDE); /* far below even the small file */
}

static void test_flat_memory_computed_stats(void **state) {
    const char *f = h5t_path(dir, "f32.h5", 0);
    h5t_write4(f, "/small", H5T_NATIVE_FLOAT, 1024, 1, SIDE, SIDE, 0, float_value, 1);  /* 4 MiB */
    h5t_write4(f, "/large", H5T_NATIVE_FLOAT, 8192, 1, SIDE, SIDE, 0, float_value, 0);  /* 32 MiB */
    size_t small = stream_peak(h5t_spec(f, "/small"), NF_NORM_COMPUTE, 0.5);
    size_t large = stream_peak(h5t_spec(f, "/large"), NF_NORM_COMPUTE, 0.5);
    size_t slot = (size_t)BATCH * SIDE * SIDE * sizeof(nf_real);
    print_message("with a statistics pass: %zu bytes (4 MiB file), %zu bytes (32 MiB file)\n", small, large);
    assert_int_equal(small, large);
    assert_true(large <= budget + slot + 16384);
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
