/* Layouts and element types as users write them: channels-last images without an
 * attribute (guessed and reported), (N, H, W) grayscale, (N, D, H, W) volumes when the
 * caller says so, ambiguous shapes refused, the option overriding the attribute, and
 * float16 / bfloat16 read like float32. Every value is checked against the NCHW truth. */
#include "test_h5_files.h"

static const char *dir;

enum { N = 50, C = 3, H = 8, W = 6, D = 5 };

/* the logical value at (n, c, d, h, w), a multiple of 1/4 below 64: exact in float16 and bfloat16 */
static double truth(long long n, int c, int d, int h, int w) {
    return (double)((n * 31 + c * 17 + d * 11 + h * 5 + w * 3) % 256) * 0.25;
}
/* element e of stored sample s, for each storage order of (C, H, W) or (D, H, W) */
static double nchw(long long s, size_t e) { return truth(s, (int)(e / (H * W)), 0, (int)(e / W % H), (int)(e % W)); }
static double nhwc(long long s, size_t e) { return truth(s, (int)(e % C), 0, (int)(e / (W * C)), (int)(e / C % W)); }
static double nhw(long long s, size_t e) { return truth(s, 0, 0, (int)(e / W), (int)(e % W)); }
static double ndhw(long long s, size_t e) { return truth(s, 0, (int)(e / (H * W)), (int)(e / W % H), (int)(e % W)); }
static double index_only(long long s, size_t e) { return (double)((s + e) % 7); }

static nf_dataset *open_ok(const char *path, nf_layout layout, int batch) {
    nf_dataset_options o = {.batch = batch, .normalize = NF_NORM_NONE, .layout = layout};
    nf_dataset *ds = NULL;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "l.h5", 0), path), &o));
    return ds;
}

static void expect_refused(const char *path, nf_layout layout, const char *needle, const char *needle2) {
    nf_dataset_options o = {.batch = 4, .layout = layout};
    nf_dataset *ds = NULL;
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "l.h5", 0), path), &o), NF_ERR_FORMAT);
    if (!strstr(nf_last_error(), needle) || (needle2 && !strstr(nf_last_error(), needle2)))
        fail_msg("%s: message '%s' lacks '%s'/'%s'", path, nf_last_error(), needle, needle2 ? needle2 : "");
}

/* Reads the first N samples in file order and compares each with truth(). */
static void expect_values(nf_dataset *ds, int c, int d, int h, int w) {
    nf_shape s = nf_dataset_shape(ds);
    assert_int_equal(s.c, c);
    assert_int_equal(s.d, d);
    assert_int_equal(s.h, h);
    assert_int_equal(s.w, w);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, N, c, d, h, w));
    NF_ASSERT_OK(nf_dataset_read(ds, 0, &x, NULL, NULL));
    const nf_real *p = x.data;
    for (int n = 0; n < N; n++)
        for (int ci = 0; ci < c; ci++)
            for (int di = 0; di < d; di++)
                for (int hi = 0; hi < h; hi++)
                    for (int wi = 0; wi < w; wi++, p++)
                        if (*p != truth(n, ci, d > 1 ? di : 0, hi, wi))
                            fail_msg("sample %d (%d,%d,%d,%d): got %g, want %g", n, ci, di, hi, wi, *p,
                                     truth(n, ci, d > 1 ? di : 0, hi, wi));
    nf_tensor_free(&x);
}

static hid_t float_type(int mantissa, int exponent, int bias) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE); /* how h5py builds its float16 */
    assert_true(H5Tset_fields(t, 15, 15 - exponent, exponent, 0, mantissa) >= 0);
    assert_true(H5Tset_size(t, 2) >= 0);
    assert_true(H5Tset_ebias(t, (size_t)bias) >= 0);
    return t;
}

static int setup(void **state) {
    dir = h5t_dir("h5layout");
    const char *f = h5t_path(dir, "l.h5", 0);
    hsize_t first[4] = {N, C, H, W}, last[4] = {N, H, W, C}, gray[3] = {N, H, W}, vol[4] = {N, D, H, W};
    hsize_t cube[4] = {N, 4, 4, 4}, maps[4] = {N, 64, 8, 8}, vec[4] = {N, 2, 1, 1}, vol5[5] = {N, 1, D, H, W};
    h5t_write(f, "/nchw", H5T_STD_U8LE, 4, first, 8, 1, nchw, 1);
    h5t_write(f, "/nhwc", H5T_STD_U8LE, 4, last, 8, 1, nhwc, 0);
    h5t_write(f, "/nhwc_attr", H5T_IEEE_F32LE, 4, last, 0, 0, nhwc, 0);
    h5t_attr_string(f, "/nhwc_attr", "nflow_layout", "nhwc");
    h5t_write(f, "/wrong_attr", H5T_IEEE_F32LE, 4, first, 0, 0, nchw, 0);
    h5t_attr_string(f, "/wrong_attr", "nflow_layout", "NHWC");
    h5t_write(f, "/gray", H5T_IEEE_F32LE, 3, gray, 8, 1, nhw, 0);
    h5t_write(f, "/volume", H5T_IEEE_F32LE, 4, vol, 0, 0, ndhw, 0);
    h5t_write(f, "/volume_attr", H5T_IEEE_F32LE, 4, vol, 0, 0, ndhw, 0);
    h5t_attr_string(f, "/volume_attr", "nflow_layout", "NDHW");
    h5t_write(f, "/volume5", H5T_IEEE_F32LE, 5, vol5, 0, 0, ndhw, 0);
    h5t_write(f, "/cube", H5T_IEEE_F32LE, 4, cube, 0, 0, index_only, 0);
    h5t_write(f, "/maps", H5T_IEEE_F32LE, 4, maps, 0, 0, index_only, 0);
    h5t_write(f, "/vectors", H5T_IEEE_F32LE, 4, vec, 0, 0, index_only, 0);
    hid_t f16 = float_type(10, 5, 15), bf16 = float_type(7, 8, 127);
    h5t_write(f, "/half", f16, 4, first, 8, 1, nchw, 0);
    h5t_write(f, "/bfloat", bf16, 4, first, 0, 0, nchw, 0);
    h5t_write(f, "/half_nhwc", f16, 4, last, 0, 0, nhwc, 0);
    H5Tclose(f16);
    H5Tclose(bf16);
    return 0;
}

static int teardown(void **state) {
    h5t_rmdir(dir);
    return 0;
}

static void test_channels_last_guessed_and_reported(void **state) {
    const char *note = NULL;
    nf_dataset *ds = open_ok("/nhwc", NF_LAYOUT_AUTO, 4);
    assert_string_equal(nf_dataset_layout(ds, &note), "NHWC");
    assert_non_null(note);
    assert_non_null(strstr(note, "(50, 8, 6, 3) read as NHWC"));
    assert_non_null(strstr(note, "--layout"));
    nf_dataset_close(ds);
    /* what stands as stored is not worth a line */
    ds = open_ok("/nchw", NF_LAYOUT_AUTO, 4);
    assert_string_equal(nf_dataset_layout(ds, &note), "NCHW");
    assert_null(note);
    nf_dataset_close(ds);
    /* an attribute decides without a note, and the values come out channels-first */
    ds = open_ok("/nhwc_attr", NF_LAYOUT_AUTO, 4);
    assert_string_equal(nf_dataset_layout(ds, &note), "NHWC");
    assert_null(note);
    expect_values(ds, C, 1, H, W);
    nf_dataset_close(ds);
}

/* The same pixels stored NHWC and NCHW give bit-identical batches, shuffled, prefetched
 * and dequantised with the same seeds. */
static void test_nhwc_twin_same_batches(void **state) {
    nf_dataset_options o = nf_dataset_options_default();
    o.batch = 16;
    o.seed = 7;
    nf_dataset *a, *b;
    NF_ASSERT_OK(nf_dataset_open(&a, h5t_spec(h5t_path(dir, "l.h5", 0), "/nchw"), &o));
    NF_ASSERT_OK(nf_dataset_open(&b, h5t_spec(h5t_path(dir, "l.h5", 0), "/nhwc"), &o));
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 16, C, 1, H, W));
    NF_ASSERT_OK(nf_tensor_alloc(&y, 16, C, 1, H, W));
    nf_rng ra, rb;
    nf_rng_seed(&ra, 3);
    nf_rng_seed(&rb, 3);
    for (int k = 0; k < 5; k++) { /* crosses an epoch boundary */
        NF_ASSERT_OK(nf_dataset_next_batch(a, &x, NULL, &ra));
        NF_ASSERT_OK(nf_dataset_next_batch(b, &y, NULL, &rb));
        assert_memory_equal(x.data, y.data, sizeof(nf_real) * nf_tensor_count(&x));
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_dataset_close(a);
    nf_dataset_close(b);
}

static void test_gray_and_volumes(void **state) {
    const char *note = NULL;
    nf_dataset *ds = open_ok("/gray", NF_LAYOUT_AUTO, 4);
    assert_string_equal(nf_dataset_layout(ds, &note), "NHW");
    assert_non_null(note);
    assert_non_null(strstr(note, "(N, 1, 8, 6)"));
    expect_values(ds, 1, 1, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/gray", NF_LAYOUT_NHWC, 4); /* no channel axis to place: still one channel */
    expect_values(ds, 1, 1, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/volume", NF_LAYOUT_NDHW, 4);
    assert_string_equal(nf_dataset_layout(ds, NULL), "NDHW");
    expect_values(ds, 1, D, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/volume_attr", NF_LAYOUT_AUTO, 4);
    expect_values(ds, 1, D, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/volume5", NF_LAYOUT_AUTO, 4);
    expect_values(ds, 1, D, H, W);
    nf_dataset_close(ds);
    expect_refused("/volume5", NF_LAYOUT_NDHW, "rank 5", "ndhw");
    expect_refused("/gray", NF_LAYOUT_NDHW, "rank 3", "ndhw");
}

static void test_ambiguous_refused_until_told(void **state) {
    expect_refused("/cube", NF_LAYOUT_AUTO, "--layout", "nflow_layout");
    expect_refused("/cube", NF_LAYOUT_AUTO, "(50, 4, 4, 4)", NULL);
    nf_dataset *ds = open_ok("/cube", NF_LAYOUT_NHWC, 4);
    assert_string_equal(nf_dataset_layout(ds, NULL), "NHWC");
    nf_dataset_close(ds);
    ds = open_ok("/cube", NF_LAYOUT_NCHW, 4);
    assert_string_equal(nf_dataset_layout(ds, NULL), "NCHW");
    nf_dataset_close(ds);
    /* many channels over maps of 8x8, and vectors stored as (N, C, 1, 1): channels first */
    ds = open_ok("/maps", NF_LAYOUT_AUTO, 4);
    assert_int_equal(nf_dataset_shape(ds).c, 64);
    nf_dataset_close(ds);
    ds = open_ok("/vectors", NF_LAYOUT_AUTO, 4);
    assert_int_equal(nf_dataset_shape(ds).c, 2);
    nf_dataset_close(ds);
    nf_dataset_options bad = {.batch = 4, .layout = (nf_layout)9};
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(h5t_path(dir, "l.h5", 0), "/nchw"), &bad), NF_ERR_ARG);
}

static void test_option_overrides_attribute(void **state) {
    nf_dataset *ds = open_ok("/wrong_attr", NF_LAYOUT_NCHW, 4);
    expect_values(ds, C, 1, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/wrong_attr", NF_LAYOUT_AUTO, 4);
    assert_int_equal(nf_dataset_shape(ds).c, W); /* the attribute, believed */
    nf_dataset_close(ds);
}

static void test_half_precision(void **state) {
    nf_dataset *ds = open_ok("/half", NF_LAYOUT_AUTO, 4);
    expect_values(ds, C, 1, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/bfloat", NF_LAYOUT_AUTO, 4);
    expect_values(ds, C, 1, H, W);
    nf_dataset_close(ds);
    ds = open_ok("/half_nhwc", NF_LAYOUT_AUTO, 4);
    expect_values(ds, C, 1, H, W);
    nf_dataset_close(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channels_last_guessed_and_reported),
        cmocka_unit_test(test_nhwc_twin_same_batches),
        cmocka_unit_test(test_gray_and_volumes),
        cmocka_unit_test(test_ambiguous_refused_until_told),
        cmocka_unit_test(test_option_overrides_attribute),
        cmocka_unit_test(test_half_precision),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
