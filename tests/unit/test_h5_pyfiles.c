/* Driven by tests/scripts/test_h5py_roundtrip.sh: reads the files h5py wrote there (every
 * element type including float16, channels-first and channels-last layouts of rank 2, 4 and 5, contiguous
 * or chunked with gzip+shuffle, little- and big-endian) and checks every value, then writes
 * converter outputs for the script to check with h5py. Without NFLOW_H5PY_DIR (plain
 * ctest) it skips: the script is the test. */
#include "test_h5_files.h"

#include "nflow_datasets.h"

static const char *pydir;

/* The value h5py stored at logical (n, c, d, h, w): see the script's value(). */
static double value_at(const char *type, int n, int c, int d, int h, int w) {
    double v = n * 31 + c * 17 + d * 7 + h * 5 + w * 3;
    if (!strcmp(type, "uint8")) return fmod(v, 256);
    if (!strcmp(type, "int16")) return v - 300;
    if (!strncmp(type, "float", 5)) return v * 0.25 - 100; /* exact in float16 too */
    return v;
}

/* What nflow delivers for it: levels at bin centres for integers, floats as stored. */
static double delivered(const char *type, double v) {
    if (!strcmp(type, "uint8")) return (v + 0.5) / 256 - 0.5;
    if (!strcmp(type, "uint16")) return (v + 0.5) / 65536 - 0.5;
    if (!strcmp(type, "int16")) return (v + 32768 + 0.5) / 65536 - 0.5;
    return v;
}

static const char *types[] = {"uint8", "uint16", "int16", "float16", "float32", "float64", "be_uint16", "be_float32"};
static const char *layouts[] = {"nchw_contig", "nchw_gzip", "nhwc_contig", "nhwc_gzip", "ncdhw_gzip",
                                "ndhwc_contig", "nc_gzip", "train/x"};
enum { N = 37 };

static void check_dataset(const char *file, const char *type, const char *layout, int shuffle) {
    const char *base = !strncmp(type, "be_", 3) ? type + 3 : type;
    nf_dataset_options o = {.batch = N, .shuffle = shuffle, .seed = 3, .prefetch = shuffle, .cond = "/labels",
                            .normalize = NF_NORM_NONE, .memory_budget = 10 * 1024};
    char path[64];
    snprintf(path, sizeof path, "/%s", layout);
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(file, path), &o));
    nf_shape s = nf_dataset_shape(ds);
    int rank5 = strstr(layout, "dhw") != NULL, vec = !strncmp(layout, "nc_", 3);
    assert_int_equal(s.n, N);
    assert_int_equal(s.c, vec ? 6 : rank5 ? 2 : 3);
    assert_int_equal(s.d, rank5 ? 3 : 1);
    assert_int_equal(s.h, vec ? 1 : rank5 ? 4 : 5);
    assert_int_equal(s.w, vec ? 1 : rank5 ? 5 : 4);
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, s.n, s.c, s.d, s.h, s.w));
    NF_ASSERT_OK(nf_tensor_alloc(&y, N, 1, 1, 1, 1));
    for (int epoch = 0; epoch < 2; epoch++) {
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, &y, NULL));
        int seen[N] = {0};
        for (int i = 0; i < N; i++) {
            int n = (int)y.data[i]; /* labels hold the row index */
            assert_true(n >= 0 && n < N && !seen[n]);
            seen[n] = 1;
            if (!shuffle) assert_int_equal(n, i);
            nf_real *p = x.data + (size_t)i * nf_shape_sample_count(s);
            for (int c = 0; c < s.c; c++)
                for (int d = 0; d < s.d; d++)
                    for (int h = 0; h < s.h; h++)
                        for (int w = 0; w < s.w; w++) {
                            double want = delivered(base, value_at(base, n, c, d, h, w));
                            double got = *p++;
                            if (fabs(got - want) > 1e-6 * (1 + fabs(want)))
                                fail_msg("%s:%s sample %d (%d,%d,%d,%d): got %.9g, want %.9g", file, layout, n, c, d, h,
                                         w, got, want);
                        }
        }
    }
    nf_tensor_free(&y);
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

static void test_h5py_files(void **state) {
    if (!pydir) {
        print_message("SKIPPED: run by tests/scripts/test_h5py_roundtrip.sh (needs NFLOW_H5PY_DIR)\n");
        skip();
    }
    char file[1100];
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        snprintf(file, sizeof file, "%.1000s/%s.h5", pydir, types[t]);
        for (size_t l = 0; l < sizeof layouts / sizeof *layouts; l++)
            for (int shuffle = 0; shuffle <= 1; shuffle++) check_dataset(file, types[t], layouts[l], shuffle);
    }
    /* what h5py users get wrong: a layout attribute that does not fit, a bool dataset */
    snprintf(file, sizeof file, "%.1000s/odd.h5", pydir);
    nf_dataset *ds;
    nf_dataset_options o = {.batch = 2};
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(file, "/bad_layout"), &o), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "nflow_layout"));
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(file, "/bools"), &o), NF_ERR_FORMAT);
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(file, "/strings"), &o), NF_ERR_FORMAT);
}

static void test_write_for_h5py(void **state) {
    if (!pydir) skip();
    char out[1100];
    snprintf(out, sizeof out, "%.1000s/out_toy.h5", pydir);
    NF_ASSERT_OK(nf_convert_toy(out, "moons", 1000, 5));
    nf_seismic_options o = nf_seismic_options_default();
    snprintf(out, sizeof out, "%.1000s/out_seis.h5", pydir);
    o.output = out;
    o.n = 8;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    snprintf(out, sizeof out, "%.1000s/out_cube.h5", pydir);
    o.cube = 1;
    o.nt = 16, o.ny = 8, o.nx = 12;
    NF_ASSERT_OK(nf_generate_seismic(&o));
}

int main(void) {
    pydir = getenv("NFLOW_H5PY_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5py_files),
        cmocka_unit_test(test_write_for_h5py),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
