/* Synthetic seismic generator: the seismic is the reflectivity convolved with the stored
 * Ricker wavelet, flat layers give identical traces, a fault shifts the horizons across it
 * by the recorded throw (on every line of a cube), the spectrum peaks near f0, a seed fixes
 * the data, cubes vary along both lateral axes and come out as (n, 1, nt, ny, nx) that
 * nf_dataset reads, and impossible sizes are refused. */
#include "test_h5_files.h"

#include "nflow_datasets.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const char *dir;

/* Reads a whole float32 dataset (test sizes only). */
static float *read_all(const char *file, const char *path, size_t *count) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, path, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d);
    *count = (size_t)H5Sget_simple_extent_npoints(s);
    float *v = malloc(sizeof(float) * *count);
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

static nf_seismic_options small(const char *name, long long n) {
    nf_seismic_options o = nf_seismic_options_default();
    o.output = h5t_path(dir, name, 0);
    o.n = n;
    return o;
}

static void test_convolution_and_wavelet(void **state) {
    nf_seismic_options o = small("conv.h5", 20);
    NF_ASSERT_OK(nf_generate_seismic(&o));
    size_t nx, nr, nw;
    float *x = read_all(o.output, "/x", &nx), *r = read_all(o.output, "/reflectivity", &nr);
    float *w = read_all(o.output, "/wavelet", &nw);
    assert_int_equal(nx, 20 * 64 * 64);
    assert_int_equal(nr, nx);
    /* the Ricker formula, centred, long enough to have decayed */
    int half = (int)nw / 2;
    for (int j = 0; j < (int)nw; j++) {
        double a = M_PI * o.f0 * (j - half) * o.dt;
        assert_true(fabs(w[j] - (1 - 2 * a * a) * exp(-a * a)) < 1e-6);
    }
    assert_true(fabs(w[half] - 1) < 1e-7 && fabs(w[0]) < 1e-6);
    /* every trace: x(t) = sum_j w[half + j] r(t - j) */
    double maxerr = 0, rms = 0;
    for (int s = 0; s < 20; s++)
        for (int tr = 0; tr < 64; tr++)
            for (int t = 0; t < 64; t++) {
                double acc = 0;
                for (int j = -half; j <= half; j++)
                    if (t - j >= 0 && t - j < 64) acc += w[half + j] * r[(s * 64 + (t - j)) * 64 + tr];
                double got = x[(s * 64 + t) * 64 + tr];
                maxerr = fmax(maxerr, fabs(got - acc));
                rms += got * got;
            }
    rms = sqrt(rms / (double)nx);
    assert_true(rms > 1e-3);        /* something is there */
    assert_true(maxerr < 1e-5 * (1 + rms * 100));
    free(w);
    free(r);
    free(x);
}

static void test_flat_layers_identical_traces(void **state) {
    nf_seismic_options o = small("flat.h5", 5);
    o.fold_amp = 0;
    o.fault_prob = 0;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    size_t n;
    float *x = read_all(o.output, "/x", &n), *th = read_all(o.output, "/throw", &n);
    for (int s = 0; s < 5; s++) {
        assert_true(th[s] == 0);
        for (int t = 0; t < 64; t++)
            for (int tr = 1; tr < 64; tr++) assert_true(x[(s * 64 + t) * 64 + tr] == x[(s * 64 + t) * 64]);
    }
    free(th);
    free(x);
    /* with folds the traces differ */
    o = small("folded.h5", 5);
    o.fault_prob = 0;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    x = read_all(o.output, "/x", &n);
    int differ = 0;
    for (int t = 0; t < 64; t++) differ += x[t * 64 + 63] != x[t * 64];
    assert_true(differ > 10);
    free(x);
}

/* Trace 0 lies on the footwall and trace 63 on the hanging wall for any fault the
 * defaults draw (position 21..43 at mid depth, dip within 30 degrees over 32 samples; in
 * cubes of 4 lines a strike within 20 degrees moves it by less than a trace), so without
 * folds the right trace is the left one moved down by the throw, on every line. */
static void check_fault_shifts_by_throw(int cube) {
    nf_seismic_options o = small(cube ? "fault_cube.h5" : "fault.h5", 12);
    o.fold_amp = 0;
    o.fault_prob = 1;
    o.throw_min = o.throw_max = 6;
    o.cube = cube, o.ny = 4;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    size_t n;
    float *r = read_all(o.output, "/reflectivity", &n), *th = read_all(o.output, "/throw", &n);
    int down = 0, up = 0, lines = cube ? 4 : 1;
    for (int s = 0; s < 12; s++) {
        int T = (int)th[s];
        assert_true(T == 6 || T == -6);
        down += T > 0, up += T < 0;
        for (int y = 0; y < lines; y++) {
            double energy = 0;
            for (int t = 1; t < 63; t++) {
                if (t - T < 1 || t - T > 62) continue;
                size_t left = (((size_t)s * 64 + t - T) * lines + y) * 64;
                size_t right = (((size_t)s * 64 + t) * lines + y) * 64 + 63;
                assert_true(fabs(r[left] - r[right]) < 1e-6);
                energy += r[left] * r[left];
            }
            assert_true(energy > 0);
        }
    }
    assert_true(down > 0 && up > 0); /* both senses of throw occur */
    free(th);
    free(r);
}

static void test_fault_shifts_by_throw(void **state) {
    check_fault_shifts_by_throw(0);
    check_fault_shifts_by_throw(1);
}

/* Cubes are 3-D: flat unfaulted layers give one trace everywhere, folds make the traces
 * vary along both lateral axes (lines and traces). */
static void test_cube_varies_along_both_axes(void **state) {
    nf_seismic_options o = small("flat_cube.h5", 3);
    o.cube = 1, o.nt = 32, o.nx = 12, o.ny = 10;
    o.fold_amp = 0, o.fault_prob = 0;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    size_t n;
    float *x = read_all(o.output, "/x", &n);
    assert_int_equal(n, 3 * 32 * 10 * 12);
    for (size_t i = 0; i < n; i++) assert_true(x[i] == x[i - i % (10 * 12)]); /* = trace (0, 0) at that time */
    free(x);
    o = small("folded_cube.h5", 3);
    o.cube = 1, o.nt = 32, o.nx = 12, o.ny = 10, o.fault_prob = 0;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    x = read_all(o.output, "/x", &n);
    int along_x = 0, along_y = 0;
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < 32; t++) {
            const float *plane = x + ((size_t)s * 32 + t) * 120;
            along_x += plane[11] != plane[0];      /* line 0: trace 11 against trace 0 */
            along_y += plane[9 * 12] != plane[0];  /* trace 0: line 9 against line 0 */
        }
    assert_true(along_x > 20 && along_y > 20);
    free(x);
}

static void test_spectrum_peaks_near_f0(void **state) {
    nf_seismic_options o = small("spectrum.h5", 40);
    o.nt = 128;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    size_t n;
    float *x = read_all(o.output, "/x", &n);
    double power[65] = {0};
    for (int s = 0; s < 40; s++)
        for (int tr = 0; tr < 64; tr += 4)
            for (int k = 1; k <= 64; k++) { /* DFT bin k = k / (128 dt) Hz */
                double re = 0, im = 0;
                for (int t = 0; t < 128; t++) {
                    double v = x[(s * 128 + t) * 64 + tr];
                    re += v * cos(2 * M_PI * k * t / 128), im -= v * sin(2 * M_PI * k * t / 128);
                }
                power[k] += re * re + im * im;
            }
    int best = 1;
    for (int k = 1; k <= 64; k++)
        if (power[k] > power[best]) best = k;
    double fpeak = best / (128 * o.dt);
    print_message("spectral peak %.1f Hz (Ricker f0 %.1f Hz)\n", fpeak, o.f0);
    assert_true(fpeak > 0.7 * o.f0 && fpeak < 1.3 * o.f0);
    free(x);
}

static void test_seed_cube_and_reading(void **state) {
    nf_seismic_options o = small("a.h5", 6);
    o.noise = 0.1;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    o.output = h5t_path(dir, "b.h5", 0);
    NF_ASSERT_OK(nf_generate_seismic(&o));
    o.output = h5t_path(dir, "c.h5", 0);
    o.seed = 2;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    size_t n;
    float *a = read_all(h5t_path(dir, "a.h5", 1), "/x", &n), *b = read_all(h5t_path(dir, "b.h5", 1), "/x", &n);
    float *c = read_all(h5t_path(dir, "c.h5", 1), "/x", &n);
    assert_memory_equal(a, b, n * sizeof(float));
    assert_memory_not_equal(a, c, n * sizeof(float));
    free(c);
    free(b);
    free(a);
    /* a cube dataset, streamed with its stored statistics: standardised values */
    o = small("cube.h5", 10);
    o.cube = 1;
    o.nt = 32, o.nx = 16, o.ny = 8;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    nf_dataset_options d = {.batch = 10, .normalize = NF_NORM_STORED};
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(o.output, "/x"), &d));
    nf_shape s = nf_dataset_shape(ds);
    assert_true(s.c == 1 && s.d == 32 && s.h == 8 && s.w == 16);
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 10, 1, 32, 8, 16));
    NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, NULL));
    double m = 0, q = 0, cnt = (double)nf_tensor_count(&x);
    for (size_t i = 0; i < nf_tensor_count(&x); i++) m += x.data[i] / cnt, q += x.data[i] * x.data[i] / cnt;
    assert_true(fabs(m) < 1e-3 && fabs(q - 1) < 1e-3); /* the whole file is this one batch */
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

/* 10 log10(sum x^2 / sum (y - x)^2) of sample s (count values each) */
static double sample_snr_db(const float *x, const float *y, int s, size_t count) {
    double sx = 0, se = 0;
    for (size_t i = (size_t)s * count; i < (size_t)(s + 1) * count; i++)
        sx += (double)x[i] * x[i], se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    return 10 * log10(sx / se);
}

/* observe: /y = /x + white noise at snr_db in every sample (4096 values: the measured SNR
 * is within 0.3 dB, six standard errors), independent noise per sample, /x the same as
 * without /y, the SNR recorded on /y; no /y without observe. */
static void test_observation_at_snr(void **state) {
    nf_seismic_options o = small("obs.h5", 8);
    o.observe = 1, o.snr_db = 6;
    NF_ASSERT_OK(nf_generate_seismic(&o));
    nf_seismic_options plain = o;
    plain.observe = 0, plain.output = h5t_path(dir, "plain.h5", 1);
    NF_ASSERT_OK(nf_generate_seismic(&plain));
    size_t n, m;
    float *x = read_all(o.output, "/x", &n), *y = read_all(o.output, "/y", &m);
    float *x0 = read_all(plain.output, "/x", &m);
    assert_int_equal(m, n);
    assert_memory_equal(x, x0, n * sizeof(float));
    for (int s = 0; s < 8; s++) assert_true(fabs(sample_snr_db(x, y, s, n / 8) - 6) < 0.3);
    double c01 = 0; /* noise of samples 0 and 1: uncorrelated */
    for (size_t i = 0; i < n / 8; i++) c01 += ((double)y[i] - x[i]) * ((double)y[n / 8 + i] - x[n / 8 + i]);
    double e0 = 0;
    for (size_t i = 0; i < n / 8; i++) e0 += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    assert_true(fabs(c01) < 0.1 * e0);
    hid_t f = H5Fopen(o.output, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "/y", H5P_DEFAULT);
    double snr = 0;
    hid_t a = H5Aopen(d, "snr_db", H5P_DEFAULT);
    assert_true(a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, &snr) >= 0 && snr == 6);
    H5Aclose(a);
    H5Dclose(d);
    H5Fclose(f);
    f = H5Fopen(plain.output, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(H5Lexists(f, "/y", H5P_DEFAULT) == 0);
    H5Fclose(f);
    free(x0);
    free(y);
    free(x);
    o = small("obs_bad.h5", 2);
    o.observe = 1, o.snr_db = INFINITY;
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "SNR inf dB"));
}

static void test_bad_options(void **state) {
    nf_seismic_options o = small("bad.h5", 0);
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    o = small("bad.h5", 2);
    o.f0 = 200; /* above Nyquist for 4 ms */
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    o = small("bad.h5", 2);
    o.layers_min = 9, o.layers_max = 3;
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    o = small("bad.h5", 2);
    o.throw_min = 5, o.throw_max = 1;
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    o = small("bad.h5", 2); /* cubes: a line count below 2, a sample too large for a chunk */
    o.cube = 1, o.ny = 1;
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    o.ny = 1 << 20;
    NF_ASSERT_FAILS(nf_generate_seismic(&o), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "too large"));
    assert_true(access(o.output, F_OK) != 0 && access(h5t_path(dir, "bad.h5.partial", 0), F_OK) != 0);
    NF_ASSERT_FAILS(nf_generate_seismic(NULL), NF_ERR_ARG);
}

int main(void) {
    dir = h5t_dir("h5seis");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convolution_and_wavelet), cmocka_unit_test(test_flat_layers_identical_traces),
        cmocka_unit_test(test_fault_shifts_by_throw),   cmocka_unit_test(test_spectrum_peaks_near_f0),
        cmocka_unit_test(test_seed_cube_and_reading),   cmocka_unit_test(test_cube_varies_along_both_axes),
        cmocka_unit_test(test_observation_at_snr),      cmocka_unit_test(test_bad_options),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
