/* HDF5 datasets: opening and its failures (one clear message, nothing on stderr),
 * streamed batches equal to direct reads, ranges, conditioning data kept aligned. */
#include "test_h5_files.h"

static const char *dir;

/* element 0 of sample s is s itself, so every batch says which samples it holds */
static double index_value(long long s, size_t e) { return e == 0 ? (double)s : (double)((s * 31 + e * 17) % 1000) / 10; }
static double label_value(long long s, size_t e) { return (double)(3 * s); }
static double byte_value(long long s, size_t e) { return (double)((s * 7 + e) % 256); }
static double nan_at_37(long long s, size_t e) { return s == 37 && e == 5 ? NAN : index_value(s, e); }

static nf_dataset_options plain(int batch) {
    nf_dataset_options o = {0};
    o.batch = batch;
    o.normalize = NF_NORM_NONE;
    return o;
}

static void expect_open_fails(const char *spec, const nf_dataset_options *o, nf_status status, const char *needle) {
    nf_dataset *ds = (nf_dataset *)1;
    NF_ASSERT_FAILS(nf_dataset_open(&ds, spec, o), status);
    assert_null(ds);
    if (needle && !strstr(nf_last_error(), needle)) fail_msg("message '%s' lacks '%s'", nf_last_error(), needle);
}

static void test_open_errors(void **state) {
    const char *f = h5t_path(dir, "err.h5", 0);
    hsize_t d4[4] = {4, 1, 2, 2}, d0[4] = {0, 1, 2, 2};
    hsize_t d1[1] = {4};
    h5t_write(f, "/rank1", H5T_NATIVE_FLOAT, 1, d1, 0, 0, index_value, 1);
    h5t_write(f, "/int32", H5T_NATIVE_INT, 4, d4, 0, 0, index_value, 0);
    h5t_write(f, "/empty", H5T_NATIVE_FLOAT, 4, d0, 0, 0, index_value, 0);
    h5t_write(f, "/good", H5T_NATIVE_FLOAT, 4, d4, 0, 0, index_value, 0);
    hsize_t d5[1] = {5};
    h5t_write(f, "/labels5", H5T_NATIVE_INT, 1, d5, 0, 0, label_value, 0);
    const char *text = h5t_path(dir, "text.h5", 1);
    FILE *t = fopen(text, "w");
    fputs("not an HDF5 file\n", t);
    fclose(t);
    nf_dataset_options o = plain(2);
    expect_open_fails(h5t_spec(h5t_path(dir, "missing.h5", 2), "/x"), &o, NF_ERR_IO, "missing.h5");
    expect_open_fails(h5t_spec(text, "/x"), &o, NF_ERR_IO, "not an HDF5 file");
    expect_open_fails(h5t_spec(f, "/nope"), &o, NF_ERR_FORMAT, "/nope");
    expect_open_fails(h5t_spec(f, "/deep/er/nope"), &o, NF_ERR_FORMAT, "/deep/er/nope");
    expect_open_fails(h5t_spec(f, "/rank1"), &o, NF_ERR_FORMAT, "rank 1");
    expect_open_fails(h5t_spec(f, "/int32"), &o, NF_ERR_FORMAT, "not supported");
    expect_open_fails(h5t_spec(f, "/empty"), &o, NF_ERR_FORMAT, "empty");
    expect_open_fails(f, &o, NF_ERR_ARG, "FILE:/PATH");
    o.cond = "/labels5";
    expect_open_fails(h5t_spec(f, "/good"), &o, NF_ERR_FORMAT, "5 samples");
    o = plain(2);
    o.start = 4;
    expect_open_fails(h5t_spec(f, "/good"), &o, NF_ERR_ARG, "past");
    o.start = 1, o.count = 4;
    expect_open_fails(h5t_spec(f, "/good"), &o, NF_ERR_ARG, "runs past");
    o = plain(-1);
    expect_open_fails(h5t_spec(f, "/good"), &o, NF_ERR_ARG, "batch");
    o = plain(2);
    o.memory_budget = 10;
    expect_open_fails(h5t_spec(f, "/good"), &o, NF_ERR_ARG, "budget");
    NF_ASSERT_FAILS(nf_dataset_open(NULL, "x:/y", NULL), NF_ERR_ARG);
}

static void open_missing_things(void *arg) {
    nf_dataset *ds;
    nf_dataset_options o = plain(2);
    (void)nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "missing.h5", 0), "/x"), &o);
    (void)nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "err.h5", 0), "/nope/deeper"), &o);
    (void)nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "err.h5", 0), "/int32"), &o);
    (void)nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "text.h5", 0), "/x"), &o);
    (void)nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "trunc.h5", 0), "/x"), &o);
}

static void test_errors_print_nothing(void **state) {
    test_open_errors(state); /* makes the files */
    const char *full = h5t_path(dir, "full.h5", 0);
    h5t_write4(full, "/x", H5T_NATIVE_FLOAT, 512, 1, 8, 8, 0, index_value, 1);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "head -c 20000 '%.1000s' > '%.1000s/trunc.h5'", full, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(h5t_stderr_bytes(open_missing_things, NULL), 0);
    /* and HDF5's own printing is back on afterwards: the scope restored it */
    H5E_auto2_t func = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    assert_non_null(func);
}

static void test_truncated_file(void **state) {
    const char *full = h5t_path(dir, "full2.h5", 0);
    h5t_write4(full, "/x", H5T_NATIVE_FLOAT, 512, 1, 8, 8, 0, index_value, 1);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "head -c 65536 '%.1000s' > '%.1000s/trunc2.h5'", full, dir);
    assert_int_equal(system(cmd), 0);
    nf_dataset *ds;
    nf_dataset_options o = plain(8);
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "trunc2.h5", 1), "/x"), &o), NF_ERR_IO);
    assert_non_null(strstr(nf_last_error(), "trunc2.h5"));
}

/* Overwrites the middle of the first stored chunk of file:path with garbage. */
static void corrupt_first_chunk(const char *file, const char *path) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, path, H5P_DEFAULT);
    hsize_t off[4] = {0};
    unsigned mask;
    haddr_t addr;
    hsize_t size;
    assert_true(H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    FILE *fp = fopen(file, "r+b");
    fseek(fp, (long)(addr + size / 4), SEEK_SET);
    for (hsize_t i = 0; i < size / 2; i++) fputc((int)(i * 151 % 256), fp);
    fclose(fp);
}

static void read_corrupted(void *arg) {
    nf_dataset *ds;
    nf_dataset_options o = plain(16);
    o.prefetch = *(int *)arg;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "corrupt.h5", 0), "/x"), &o));
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 16, 1, 1, 16, 16));
    NF_ASSERT_FAILS(nf_dataset_next_batch(ds, &x, NULL, NULL), NF_ERR_IO);
    assert_non_null(strstr(nf_last_error(), "corrupt"));
    assert_int_equal(nf_dataset_position(ds), 0); /* a failed read does not advance */
    NF_ASSERT_FAILS(nf_dataset_next_batch(ds, &x, NULL, NULL), NF_ERR_IO);
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

static void test_corrupted_chunk(void **state) {
    const char *f = h5t_path(dir, "corrupt.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_FLOAT, 256, 1, 16, 16, 64, index_value, 1);
    corrupt_first_chunk(f, "/x");
    for (int prefetch = 0; prefetch <= 1; prefetch++) assert_int_equal(h5t_stderr_bytes(read_corrupted, &prefetch), 0);
}

static void test_nan_names_sample(void **state) {
    const char *f = h5t_path(dir, "nan.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_DOUBLE, 100, 2, 2, 2, 0, nan_at_37, 1);
    for (int prefetch = 0; prefetch <= 1; prefetch++) {
        nf_dataset *ds;
        nf_dataset_options o = plain(10);
        o.prefetch = prefetch;
        NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
        nf_tensor x;
        NF_ASSERT_OK(nf_tensor_alloc(&x, 10, 2, 1, 2, 2));
        for (int b = 0; b < 3; b++) NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, NULL));
        NF_ASSERT_FAILS(nf_dataset_next_batch(ds, &x, NULL, NULL), NF_ERR_NUMERIC);
        assert_non_null(strstr(nf_last_error(), "sample 37"));
        assert_non_null(strstr(nf_last_error(), "NaN"));
        nf_tensor_free(&x);
        nf_dataset_close(ds);
        o.normalize = NF_NORM_COMPUTE; /* the statistics pass meets it first */
        NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o), NF_ERR_NUMERIC);
        assert_non_null(strstr(nf_last_error(), "sample 37"));
    }
}

/* The stream without shuffling equals direct reads of the same rows, across epochs. */
static void test_stream_equals_direct_read(void **state) {
    const char *f = h5t_path(dir, "stream.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_FLOAT, 300, 3, 4, 5, 32, index_value, 1);
    nf_dataset *ds;
    nf_dataset_options o = plain(48);
    o.memory_budget = 20 * (3 * 4 * 5 * 4 + 32); /* 20 samples: many groups */
    o.start = 10;
    o.count = 250;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
    nf_shape s = nf_dataset_shape(ds);
    assert_int_equal(s.n, 48);
    assert_int_equal(s.c, 3);
    assert_int_equal(s.h, 4);
    assert_int_equal(s.w, 5);
    assert_int_equal(nf_dataset_size(ds), 250);
    nf_tensor x, one;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 48, 3, 1, 4, 5));
    NF_ASSERT_OK(nf_tensor_alloc(&one, 1, 3, 1, 4, 5));
    size_t per = 60;
    for (int b = 0; b < 12; b++) { /* 576 samples: 2.3 epochs */
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, NULL));
        for (int i = 0; i < 48; i++) {
            long long k = ((long long)b * 48 + i) % 250;
            NF_ASSERT_OK(nf_dataset_read(ds, k, &one, NULL, NULL));
            assert_memory_equal(one.data, x.data + i * per, per * sizeof(nf_real));
            assert_true(x.data[i * per] == (nf_real)(10 + k));
            for (size_t e = 0; e < per; e++) assert_true(one.data[e] == (nf_real)index_value(10 + k, e));
        }
    }
    assert_int_equal(nf_dataset_epoch(ds), 576 / 250);
    NF_ASSERT_FAILS(nf_dataset_read(ds, 249, &x, NULL, NULL), NF_ERR_ARG);
    nf_tensor bad;
    NF_ASSERT_OK(nf_tensor_alloc(&bad, 48, 3, 1, 5, 4));
    NF_ASSERT_FAILS(nf_dataset_next_batch(ds, &bad, NULL, NULL), NF_ERR_SHAPE);
    nf_tensor_free(&bad);
    nf_tensor_free(&one);
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

/* Labels follow their samples through the shuffle: label = 3 * (element 0 of x). */
static void test_cond_aligned_under_shuffle(void **state) {
    const char *f = h5t_path(dir, "cond.h5", 0);
    h5t_write4(f, "/train/x", H5T_NATIVE_FLOAT, 500, 2, 3, 3, 25, index_value, 1);
    hsize_t dl[1] = {500}, dy[4] = {500, 1, 3, 3};
    h5t_write(f, "/train/y", H5T_STD_I64LE, 1, dl, 0, 0, label_value, 0);
    h5t_write(f, "/train/img", H5T_NATIVE_UCHAR, 4, dy, 50, 1, byte_value, 0);
    for (int prefetch = 0; prefetch <= 1; prefetch++) {
        const char *conds[2] = {"/train/y", NULL};
        char other[2048];
        snprintf(other, sizeof other, "%.1000s:/train/img", f); /* conditioning by full spec */
        conds[1] = other;
        for (int which = 0; which < 2; which++) {
            nf_dataset *ds;
            nf_dataset_options o = plain(64);
            o.cond = conds[which];
            o.shuffle = 1;
            o.seed = 5;
            o.prefetch = prefetch;
            o.memory_budget = 100 * (18 * 4 + 9 + 32 + 8);
            NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/train/x"), &o));
            nf_shape cs = nf_dataset_cond_shape(ds);
            assert_int_equal(cs.n, 64);
            assert_int_equal(cs.c, 1);
            assert_int_equal(cs.h, which ? 3 : 1);
            nf_tensor x, y;
            NF_ASSERT_OK(nf_tensor_alloc(&x, 64, 2, 1, 3, 3));
            NF_ASSERT_OK(nf_tensor_alloc(&y, cs.n, cs.c, cs.d, cs.h, cs.w));
            for (int b = 0; b < 20; b++) {
                NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, &y, NULL));
                for (int i = 0; i < 64; i++) {
                    long long s = (long long)x.data[i * 18];
                    if (which == 0) assert_true(y.data[i] == (nf_real)(3 * s));
                    else
                        for (int e = 0; e < 9; e++) assert_true(y.data[i * 9 + e] == (nf_real)byte_value(s, e));
                }
            }
            nf_tensor_free(&y);
            nf_tensor_free(&x);
            nf_dataset_close(ds);
        }
    }
}

int main(void) {
    dir = h5t_dir("h5dataset");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_errors_print_nothing),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_corrupted_chunk),
        cmocka_unit_test(test_nan_names_sample),
        cmocka_unit_test(test_stream_equals_direct_read),
        cmocka_unit_test(test_cond_aligned_under_shuffle),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
