/* Pre-processing: integer levels scaled and dequantised (uint8, uint16 with nflow_bits,
 * int16 offset), float data normalised by stored, computed or given statistics, the
 * log-likelihood offset for bits/dim, and denormalisation back to data units. */
#include "test_h5_files.h"

static const char *dir;

static double byte_value(long long s, size_t e) { return (double)((s * 37 + e * 11) % 256); }
static double level12_value(long long s, size_t e) { return (double)((s * 997 + e * 131) % 4096); }
static double short_value(long long s, size_t e) { return (double)((s * 997 + e * 131) % 65536) - 32768.0; }
/* channel c (of 2, 3x3 values each) has mean about 1000*(c+1) and a spread of a few units */
static double chan_value(long long s, size_t e) { return 1000.0 * (double)(e / 9 + 1) + (double)((s * 7 + e * 3) % 13) * 0.37; }

static nf_dataset *open_ds(const char *spec, int batch, int dequantize, nf_norm_mode norm, const double *mean,
                           const double *std) {
    nf_dataset_options o = {.batch = batch, .dequantize = dequantize, .normalize = norm, .mean = mean, .std = std};
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, spec, &o));
    return ds;
}

/* levels v of a b-bit integer dataset: bin centres without noise, inside the bin with */
static void check_levels(const char *spec, int bits, double offset, h5t_value_fn f, int c, int h, int w) {
    const int n = 40;
    double top = ldexp(1.0, bits);
    for (int dq = 0; dq <= 1; dq++) {
        nf_dataset *ds = open_ds(spec, n, dq, NF_NORM_AUTO, NULL, NULL);
        assert_true(fabs(nf_dataset_nll_offset(ds) - (double)c * h * w * bits * log(2.0)) < 1e-9);
        nf_tensor x;
        NF_ASSERT_OK(nf_tensor_alloc(&x, n, c, 1, h, w));
        nf_rng rng;
        nf_rng_seed(&rng, 2);
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, &rng));
        size_t per = (size_t)c * h * w;
        double mean_u = 0;
        for (int s = 0; s < n; s++)
            for (size_t e = 0; e < per; e++) {
                double v = f(s, e) + offset, xv = x.data[s * per + e];
                double u = (xv + 0.5) * top - v; /* the noise that was added */
                if (dq) assert_true(u >= -1e-3 && u < 1.0 + 1e-3);
                else assert_true(fabs(u - 0.5) < 1e-3);
                mean_u += u / (double)(n * per);
            }
        if (dq) assert_true(fabs(mean_u - 0.5) < 0.05);
        /* denormalise: back to the stored values (bin centres when not dequantised) */
        if (!dq) {
            NF_ASSERT_OK(nf_dataset_denormalize(ds, &x));
            for (int s = 0; s < n; s++)
                for (size_t e = 0; e < per; e++) assert_true(fabs(x.data[s * per + e] - f(s, e)) < 0.01 * top / 256);
        }
        nf_tensor_free(&x);
        nf_dataset_close(ds);
    }
}

static void test_integer_levels(void **state) {
    const char *f = h5t_path(dir, "ints.h5", 0);
    h5t_write4(f, "/u8", H5T_NATIVE_UCHAR, 64, 3, 4, 4, 0, byte_value, 1);
    h5t_write4(f, "/u16", H5T_NATIVE_USHORT, 64, 1, 4, 4, 8, level12_value, 0);
    h5t_write4(f, "/i16", H5T_STD_I16BE, 64, 2, 3, 3, 0, short_value, 0); /* big-endian on disk */
    double bits = 12;
    h5t_attr_doubles(f, "/u16", "nflow_bits", &bits, 1);
    check_levels(h5t_spec(f, "/u8"), 8, 0, byte_value, 3, 4, 4);
    check_levels(h5t_spec(f, "/u16"), 12, 0, level12_value, 1, 4, 4);
    check_levels(h5t_spec(f, "/i16"), 16, 32768, short_value, 2, 3, 3);
    /* dequantising without an rng is refused; normalising integers too */
    nf_dataset *ds = open_ds(h5t_spec(f, "/u8"), 4, 1, NF_NORM_AUTO, NULL, NULL);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 4, 3, 1, 4, 4));
    NF_ASSERT_FAILS(nf_dataset_next_batch(ds, &x, NULL, NULL), NF_ERR_ARG);
    nf_tensor_free(&x);
    nf_dataset_close(ds);
    nf_dataset_options o = {.batch = 4, .normalize = NF_NORM_COMPUTE};
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(f, "/u8"), &o), NF_ERR_ARG);
}

static void test_bits_attribute_enforced(void **state) {
    const char *f = h5t_path(dir, "bits.h5", 0);
    h5t_write4(f, "/x", H5T_NATIVE_USHORT, 64, 1, 4, 4, 0, level12_value, 1);
    double bits = 10; /* but the values use 12 bits */
    h5t_attr_doubles(f, "/x", "nflow_bits", &bits, 1);
    nf_dataset *ds = open_ds(h5t_spec(f, "/x"), 64, 0, NF_NORM_AUTO, NULL, NULL);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 64, 1, 1, 4, 4));
    NF_ASSERT_FAILS(nf_dataset_next_batch(ds, &x, NULL, NULL), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "10-bit"));
    assert_non_null(strstr(nf_last_error(), "sample "));
    nf_tensor_free(&x);
    nf_dataset_close(ds);
    h5t_write4(f, "/y", H5T_NATIVE_UCHAR, 8, 1, 2, 2, 0, byte_value, 0);
    bits = 9; /* more bits than a byte holds */
    h5t_attr_doubles(f, "/y", "nflow_bits", &bits, 1);
    nf_dataset_options o = {.batch = 4};
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(f, "/y"), &o), NF_ERR_FORMAT);
}

/* Two-pass double statistics over all samples, per channel. */
static void direct_stats(long long n, int c, size_t s, h5t_value_fn f, double *mean, double *std) {
    for (int k = 0; k < c; k++) {
        double sum = 0, sq = 0;
        for (long long i = 0; i < n; i++)
            for (size_t e = 0; e < s; e++) sum += (float)f(i, k * s + e);
        mean[k] = sum / (double)(n * s);
        for (long long i = 0; i < n; i++)
            for (size_t e = 0; e < s; e++) sq += ((float)f(i, k * s + e) - mean[k]) * ((float)f(i, k * s + e) - mean[k]);
        std[k] = sqrt(sq / (double)(n * s));
    }
}

static void check_normalised(nf_dataset *ds, const double *mean, const double *std) {
    double m[2], sd[2];
    NF_ASSERT_OK(nf_dataset_stats(ds, m, sd));
    for (int c = 0; c < 2; c++) {
        assert_true(fabs(m[c] - mean[c]) <= 1e-9 * fabs(mean[c]));
        assert_true(fabs(sd[c] - std[c]) <= 1e-7 * std[c]);
    }
    assert_true(fabs(nf_dataset_nll_offset(ds) - 9 * (log(std[0]) + log(std[1]))) < 1e-9);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 50, 2, 1, 3, 3));
    NF_ASSERT_OK(nf_dataset_read(ds, 0, &x, NULL, NULL));
    for (int s = 0; s < 50; s++)
        for (int e = 0; e < 18; e++) {
            double want = ((float)chan_value(s, e) - mean[e / 9]) / std[e / 9];
            assert_true(fabs(x.data[s * 18 + e] - want) < 1e-4);
        }
    NF_ASSERT_OK(nf_dataset_denormalize(ds, &x));
    for (int s = 0; s < 50; s++)
        for (int e = 0; e < 18; e++) assert_true(fabs(x.data[s * 18 + e] - chan_value(s, e)) < 1e-3);
    nf_tensor_free(&x);
}

static void test_float_normalisation(void **state) {
    const char *f = h5t_path(dir, "floats.h5", 0);
    const long long n = 3000;
    h5t_write4(f, "/x", H5T_NATIVE_FLOAT, n, 2, 3, 3, 100, chan_value, 1);
    double mean[2], std[2];
    direct_stats(n, 2, 9, chan_value, mean, std);
    /* computed by streaming through a small buffer */
    nf_dataset_options o = {.batch = 50, .normalize = NF_NORM_COMPUTE, .memory_budget = 64 * (72 + 32)};
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
    check_normalised(ds, mean, std);
    nf_dataset_close(ds);
    /* AUTO without attributes: values as stored */
    ds = open_ds(h5t_spec(f, "/x"), 50, 0, NF_NORM_AUTO, NULL, NULL);
    double m[2], sd[2];
    NF_ASSERT_OK(nf_dataset_stats(ds, m, sd));
    assert_true(m[0] == 0 && sd[0] == 1 && nf_dataset_nll_offset(ds) == 0);
    nf_dataset_close(ds);
    o.normalize = NF_NORM_STORED;
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "nflow_mean"));
    /* stored attributes (AUTO and STORED) and given statistics */
    h5t_attr_doubles(f, "/x", "nflow_mean", mean, 2);
    h5t_attr_doubles(f, "/x", "nflow_std", std, 2);
    ds = open_ds(h5t_spec(f, "/x"), 50, 0, NF_NORM_AUTO, NULL, NULL);
    check_normalised(ds, mean, std);
    nf_dataset_close(ds);
    ds = open_ds(h5t_spec(f, "/x"), 50, 0, NF_NORM_GIVEN, mean, std);
    check_normalised(ds, mean, std);
    nf_dataset_close(ds);
    double bad_std[2] = {1, 0};
    o = (nf_dataset_options){.batch = 4, .normalize = NF_NORM_GIVEN, .mean = mean, .std = bad_std};
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o), NF_ERR_FORMAT);
    o.std = NULL;
    NF_ASSERT_FAILS(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o), NF_ERR_ARG);
}

int main(void) {
    dir = h5t_dir("h5pre");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_levels),
        cmocka_unit_test(test_bits_attribute_enforced),
        cmocka_unit_test(test_float_normalisation),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
