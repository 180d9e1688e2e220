/* Epoch order: the keyed permutation is a bijection, every sample comes exactly once per
 * epoch whatever the chunking and budget, epochs and seeds differ, a saved position
 * (with the rng) gives the same next batches, and the prefetch thread changes nothing. */
#include "test_h5_files.h"

#include "io/h5_shuffle.h"

static const char *dir;

static double index_value(long long s, size_t e) { return e == 0 ? (double)s : (double)(e % 7); }
static double byte_value(long long s, size_t e) { return (double)((s * 13 + e * 5) % 256); }

static void test_perm_is_bijection(void **state) {
    const uint64_t sizes[] = {1, 2, 3, 7, 64, 1000, 4097};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        uint64_t n = sizes[k];
        unsigned char *seen = calloc(n, 1);
        nf_perm p, q;
        nf_perm_init(&p, n, 11);
        nf_perm_init(&q, n, 12);
        uint64_t fixed = 0, differ = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t j = nf_perm_at(&p, i);
            assert_true(j < n);
            assert_false(seen[j]);
            seen[j] = 1;
            fixed += j == i;
            differ += j != nf_perm_at(&q, i);
        }
        if (n >= 64) {
            assert_true(fixed < n / 8);    /* not the identity */
            assert_true(differ > n / 2);   /* another key, another order */
        }
        free(seen);
    }
}

/* Reads `epochs` epochs of the stream; order[e * n + k] = sample index at offset k. */
static void read_order(const char *spec, nf_dataset_options o, int n, int epochs, long long *order) {
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, spec, &o));
    nf_shape s = nf_dataset_shape(ds);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, s.n, s.c, s.d, s.h, s.w));
    size_t per = nf_shape_sample_count(s);
    long long total = (long long)n * epochs;
    for (long long got = 0; got < total; got += o.batch) {
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, NULL));
        for (int i = 0; i < o.batch && got + i < total; i++) order[got + i] = (long long)x.data[i * per];
    }
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

static void test_every_sample_once_per_epoch(void **state) {
    const int n = 1000, epochs = 3;
    const char *f = h5t_path(dir, "order.h5", 0);
    h5t_write4(f, "/chunked", H5T_NATIVE_FLOAT, n, 1, 2, 2, 10, index_value, 1);
    h5t_write4(f, "/contig", H5T_NATIVE_FLOAT, n, 1, 2, 2, 0, index_value, 0);
    const char *paths[2] = {"/chunked", "/contig"};
    const size_t budgets[3] = {200 * (16 + 32), 7 * (16 + 32), 0 /* default: all in one buffer */};
    long long *a = malloc(sizeof(long long) * n * epochs), *b = malloc(sizeof(long long) * n * epochs);
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < 3; k++) {
            nf_dataset_options o = {.batch = 64, .shuffle = 1, .seed = 3, .memory_budget = budgets[k],
                                    .normalize = NF_NORM_NONE};
            char spec[2048];
            snprintf(spec, sizeof spec, "%s", h5t_spec(f, paths[p]));
            read_order(spec, o, n, epochs, a);
            for (int e = 0; e < epochs; e++) {
                unsigned char seen[1000] = {0};
                long long inplace = 0;
                for (int i = 0; i < n; i++) {
                    long long v = a[e * n + i];
                    assert_true(v >= 0 && v < n);
                    assert_false(seen[v]);
                    seen[v] = 1;
                    inplace += v == i;
                }
                assert_true(inplace < n / 10); /* shuffled, not file order */
                if (e) assert_memory_not_equal(a + e * n, a + (e - 1) * n, sizeof(long long) * n);
            }
            /* the same seed gives the same stream; another seed another one */
            read_order(spec, o, n, epochs, b);
            assert_memory_equal(a, b, sizeof(long long) * n * epochs);
            o.seed = 4;
            read_order(spec, o, n, 1, b);
            assert_memory_not_equal(a, b, sizeof(long long) * n);
            /* and without shuffling, file order */
            o.shuffle = 0;
            read_order(spec, o, n, 2, b);
            for (int i = 0; i < 2 * n; i++) assert_int_equal(b[i], i % n);
        }
    free(b);
    free(a);
}

/* The first samples of an epoch come from all over the file, not one stretch of it. */
static void test_shuffle_spreads_over_file(void **state) {
    const int n = 4000;
    const char *f = h5t_path(dir, "spread.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_FLOAT, n, 1, 1, 1, 20, index_value, 1);
    nf_dataset_options o = {.batch = 100, .shuffle = 1, .seed = 9, .memory_budget = 400 * (4 + 32),
                            .normalize = NF_NORM_NONE};
    long long order[4000];
    read_order(h5t_spec(f, "/x"), o, n, 1, order);
    int tenths[10] = {0};
    for (int i = 0; i < 400; i++) tenths[order[i] * 10 / n]++; /* the first buffer's worth */
    int covered = 0;
    for (int t = 0; t < 10; t++) covered += tenths[t] > 0;
    assert_true(covered >= 7);
}

/* Batches of uint8 data (dequantised with the caller's rng) from a dataset with and
 * without prefetch, with seeks in the middle; all must agree bit for bit. */
static void run_batches(const char *spec, int prefetch, int nb, uint64_t seek_to, int seek_at, nf_real *out) {
    nf_dataset_options o = nf_dataset_options_default();
    o.batch = 24;
    o.seed = 77;
    o.prefetch = prefetch;
    o.memory_budget = 60 * (3 * 8 * 8 + 32);
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, spec, &o));
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 24, 3, 1, 8, 8));
    size_t per = nf_tensor_count(&x);
    for (int b = 0; b < nb; b++) {
        if (b == seek_at) NF_ASSERT_OK(nf_dataset_seek(ds, seek_to));
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, &rng));
        memcpy(out + b * per, x.data, per * sizeof(nf_real));
    }
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

static void test_prefetch_same_batches(void **state) {
    const char *f = h5t_path(dir, "prefetch.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_UCHAR, 333, 3, 8, 8, 16, byte_value, 1);
    const int nb = 40; /* ~2.9 epochs */
    size_t per = 24 * 192;
    nf_real *a = malloc(sizeof(nf_real) * per * nb), *b = malloc(sizeof(nf_real) * per * nb);
    run_batches(h5t_spec(f, "/x"), 0, nb, 0, -1, a);
    run_batches(h5t_spec(f, "/x"), 1, nb, 0, -1, b);
    assert_memory_equal(a, b, sizeof(nf_real) * per * nb);
    for (size_t i = 0; i < per * nb; i++) assert_true(a[i] >= -0.5f && a[i] < 0.5f);
    /* with a seek backwards in the middle, still the same in both modes */
    run_batches(h5t_spec(f, "/x"), 0, nb, 100, 20, a);
    run_batches(h5t_spec(f, "/x"), 1, nb, 100, 20, b);
    assert_memory_equal(a, b, sizeof(nf_real) * per * nb);
    free(b);
    free(a);
}

/* A checkpoint stores (position, rng); a fresh dataset restored from them continues with
 * exactly the batches the uninterrupted run saw. */
static void test_position_restore(void **state) {
    const char *f = h5t_path(dir, "resume.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_UCHAR, 333, 3, 8, 8, 16, byte_value, 1);
    for (int prefetch = 0; prefetch <= 1; prefetch++) {
        nf_dataset_options o = nf_dataset_options_default();
        o.batch = 24;
        o.prefetch = prefetch;
        o.memory_budget = 60 * (3 * 8 * 8 + 32);
        nf_dataset *ds;
        NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
        nf_rng rng;
        nf_rng_seed(&rng, 8);
        nf_tensor x, y;
        NF_ASSERT_OK(nf_tensor_alloc(&x, 24, 3, 1, 8, 8));
        NF_ASSERT_OK(nf_tensor_alloc(&y, 24, 3, 1, 8, 8));
        for (int b = 0; b < 17; b++) NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, &rng));
        uint64_t pos = nf_dataset_position(ds);
        assert_int_equal(pos, 17 * 24);
        assert_int_equal(nf_dataset_epoch(ds), 1);
        nf_rng saved = rng;
        const int later = 12;
        nf_real *want = malloc(sizeof(nf_real) * nf_tensor_count(&x) * later);
        for (int b = 0; b < later; b++) {
            NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, &rng));
            memcpy(want + b * nf_tensor_count(&x), x.data, nf_tensor_count(&x) * sizeof(nf_real));
        }
        nf_dataset_close(ds);
        o.prefetch = !prefetch; /* resuming in the other mode must not matter either */
        NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
        NF_ASSERT_OK(nf_dataset_seek(ds, pos));
        rng = saved;
        for (int b = 0; b < later; b++) {
            NF_ASSERT_OK(nf_dataset_next_batch(ds, &y, NULL, &rng));
            assert_memory_equal(y.data, want + b * nf_tensor_count(&y), nf_tensor_count(&y) * sizeof(nf_real));
        }
        free(want);
        nf_tensor_free(&y);
        nf_tensor_free(&x);
        nf_dataset_close(ds);
    }
}

int main(void) {
    dir = h5t_dir("h5shuffle");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perm_is_bijection),
        cmocka_unit_test(test_every_sample_once_per_epoch),
        cmocka_unit_test(test_shuffle_spreads_over_file),
        cmocka_unit_test(test_prefetch_same_batches),
        cmocka_unit_test(test_position_restore),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
