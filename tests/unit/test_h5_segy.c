/* SEG-Y -> HDF5 patches: hand-written SEG-Y files (IEEE and IBM floats, 16-bit integers;
 * inline- and crossline-sorted 3-D surveys and a plain 2-D line) cut into 2-D and 3-D
 * patches whose every value and origin are checked, and the failures. Skipped when nflow
 * was built without libsegyio. */
#include "test_h5_files.h"

#include "nflow_datasets.h"

enum { NIL = 6, NXL = 5, NS = 40 };
enum { IEEE = 5, IBM = 1, INT16 = 3 };

static const char *dir;

/* The amplitude of inline index i, crossline index j, time sample t. */
static double amp(int i, int j, int t) { return i * 1000 + j * 10 + t - 17; }

static void put_be(unsigned char *p, uint32_t v, int bytes) {
    for (int b = 0; b < bytes; b++) p[b] = (unsigned char)(v >> (8 * (bytes - 1 - b)));
}

/* IBM System/360 single precision: sign, base-16 exponent biased by 64, 24-bit fraction. */
static uint32_t ibm_of(double v) {
    if (v == 0) return 0;
    uint32_t sign = v < 0 ? 0x80000000u : 0;
    double m = fabs(v);
    int e = 64;
    while (m >= 1) m /= 16, e++;
    while (m < 1.0 / 16) m *= 16, e--;
    return sign | (uint32_t)e << 24 | (uint32_t)(m * 16777216.0);
}

/* Writes a big-endian SEG-Y file. sorting: 2 inline-major, 1 crossline-major, 0 one line
 * of NIL*NXL traces without inline/crossline numbers. */
static void write_segy(const char *path, int format, int sorting) {
    FILE *fp = fopen(path, "wb");
    unsigned char text[3200], bin[400] = {0}, th[240], data[NS * 4];
    memset(text, 0x40, sizeof text); /* EBCDIC spaces */
    fwrite(text, 1, sizeof text, fp);
    put_be(bin + 16, 4000, 2); /* sample interval (us), byte 3217 */
    put_be(bin + 20, NS, 2);   /* samples, byte 3221 */
    put_be(bin + 24, (uint32_t)format, 2);
    fwrite(bin, 1, sizeof bin, fp);
    int bytes = format == INT16 ? 2 : 4;
    for (int k = 0; k < NIL * NXL; k++) {
        int i = sorting == 1 ? k % NIL : k / NXL, j = sorting == 1 ? k / NIL : k % NXL;
        memset(th, 0, sizeof th);
        if (sorting) {
            put_be(th + 188, (uint32_t)(100 + i), 4); /* inline, byte 189 */
            put_be(th + 192, (uint32_t)(200 + 3 * j), 4); /* crossline, byte 193 */
        }
        put_be(th + 114, NS, 2);
        fwrite(th, 1, sizeof th, fp);
        for (int t = 0; t < NS; t++) {
            double v = amp(i, j, t);
            float fv = (float)v;
            uint32_t u;
            memcpy(&u, &fv, 4);
            if (format == IBM) u = ibm_of(v);
            if (format == INT16) u = (uint16_t)(int16_t)v;
            put_be(data + bytes * t, u, bytes);
        }
        fwrite(data, 1, (size_t)bytes * NS, fp);
    }
    fclose(fp);
}

static float *read_all(const char *file, const char *path, hid_t type, size_t elem, int *rank, hsize_t *dims) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, path, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d);
    *rank = H5Sget_simple_extent_dims(s, dims, NULL);
    float *v = malloc(elem * (size_t)H5Sget_simple_extent_npoints(s));
    assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

/* /x and /origin of a converted file. */
static float *read_patches(const char *out, int *rank, hsize_t *dims, hsize_t *odims, int32_t **org) {
    int orank;
    *org = (int32_t *)read_all(out, "/origin", H5T_NATIVE_INT32, sizeof(int32_t), &orank, odims);
    assert_int_equal(orank, 2);
    return read_all(out, "/x", H5T_NATIVE_FLOAT, sizeof(float), rank, dims);
}

static int have(void) {
    if (nf_have_segyio()) return 1;
    print_message("SKIPPED: nflow was built without libsegyio (install libsegyio-dev)\n");
    nf_segy_options o = {.input = "x.sgy", .output = "x.h5"};
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_STATE);
    return 0;
}

/* 2-D patches (time 16, traces 4), time stride 8, trace stride 1, of every inline. */
static void check_sections(const char *segy, int line_geometry) {
    const char *out = h5t_path(dir, "sections.h5", 1);
    nf_segy_options o = {.input = segy, .output = out, .patch = {16, 4}, .stride = {8, 1}};
    NF_ASSERT_OK(nf_convert_segy(&o));
    int rank;
    hsize_t dims[5], odims[2];
    int32_t *org;
    float *x = read_patches(out, &rank, dims, odims, &org);
    int sections = line_geometry ? 1 : NIL, len = line_geometry ? NIL * NXL : NXL;
    long long n = (long long)sections * ((NS - 16) / 8 + 1) * (len - 4 + 1);
    assert_int_equal(rank, 4);
    assert_true(dims[0] == (hsize_t)n && dims[1] == 1 && dims[2] == 16 && dims[3] == 4);
    assert_true(odims[0] == (hsize_t)n && odims[1] == 3);
    unsigned char *seen = calloc((size_t)n, 1);
    for (long long p = 0; p < n; p++) {
        int sec = org[3 * p], t0 = org[3 * p + 1], x0 = org[3 * p + 2];
        assert_true(t0 % 8 == 0 && t0 + 16 <= NS && x0 + 4 <= len && sec < sections);
        long long slot = ((long long)sec * ((NS - 16) / 8 + 1) + t0 / 8) * (len - 3) + x0;
        assert_false(seen[slot]);
        seen[slot] = 1;
        for (int t = 0; t < 16; t++)
            for (int c = 0; c < 4; c++) {
                int k = x0 + c, i = line_geometry ? k / NXL : sec, j = line_geometry ? k % NXL : k;
                assert_true(x[(p * 16 + t) * 4 + c] == (float)amp(i, j, t0 + t));
            }
    }
    free(seen);
    free(org);
    free(x);
}

/* 3-D patches (time 16, inline 3, crossline 2) without overlap. */
static void check_cubes(const char *segy) {
    const char *out = h5t_path(dir, "cubes.h5", 1);
    nf_segy_options o = {.input = segy, .output = out, .cube = 1, .patch = {16, 3, 2}};
    NF_ASSERT_OK(nf_convert_segy(&o));
    int rank;
    hsize_t dims[5], odims[2];
    int32_t *org;
    float *x = read_patches(out, &rank, dims, odims, &org);
    long long n = 2 * 2 * 2; /* time 40/16, inlines 6/3, crosslines 5/2 (rounded down) */
    assert_int_equal(rank, 5);
    assert_true(dims[0] == (hsize_t)n && dims[2] == 16 && dims[3] == 3 && dims[4] == 2);
    for (long long p = 0; p < n; p++) {
        int t0 = org[3 * p], i0 = org[3 * p + 1], j0 = org[3 * p + 2];
        for (int t = 0; t < 16; t++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 2; j++)
                    assert_true(x[((p * 16 + t) * 3 + i) * 2 + j] == (float)amp(i0 + i, j0 + j, t0 + t));
    }
    free(org);
    free(x);
    /* the patches stream into training as (n, 1, 16, 3, 2) with the stored statistics */
    nf_dataset *ds;
    nf_dataset_options d = {.batch = 4, .normalize = NF_NORM_STORED};
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(out, "/x"), &d));
    nf_shape s = nf_dataset_shape(ds);
    assert_true(s.d == 16 && s.h == 3 && s.w == 2);
    nf_dataset_close(ds);
}

static void test_ieee_inline_sorted(void **state) {
    if (!have()) skip();
    const char *f = h5t_path(dir, "ieee.sgy", 0);
    write_segy(f, IEEE, 2);
    check_sections(f, 0);
    check_cubes(f);
}

static void test_ibm_crossline_sorted(void **state) {
    if (!have()) skip();
    const char *f = h5t_path(dir, "ibm.sgy", 0);
    write_segy(f, IBM, 1);
    check_sections(f, 0);
    check_cubes(f);
}

static void test_int16_line(void **state) {
    if (!have()) skip();
    const char *f = h5t_path(dir, "line.sgy", 0);
    write_segy(f, INT16, 0);
    check_sections(f, 1);
    nf_segy_options o = {.input = f, .output = h5t_path(dir, "no.h5", 1), .cube = 1, .patch = {16, 2, 2}};
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_FORMAT); /* a line has no cube */
    assert_non_null(strstr(nf_last_error(), "geometry"));
}

static void test_bad_input(void **state) {
    if (!have()) skip();
    nf_segy_options o = {.input = h5t_path(dir, "missing.sgy", 0), .output = h5t_path(dir, "bad.h5", 1),
                         .patch = {4, 4}};
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_IO);
    const char *f = h5t_path(dir, "short.sgy", 0);
    FILE *fp = fopen(f, "wb");
    fputs("too short to be SEG-Y", fp);
    fclose(fp);
    o.input = f;
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_FORMAT);
    f = h5t_path(dir, "ieee2.sgy", 0);
    write_segy(f, IEEE, 2);
    o.input = f;
    o.patch[0] = 41; /* longer than the traces */
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_ARG);
    o.patch[0] = 0;
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_ARG);
    /* a file cut inside a trace */
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "head -c 5000 '%.1000s' > '%.1000s/cut.sgy'", f, dir);
    assert_int_equal(system(cmd), 0);
    o.input = h5t_path(dir, "cut.sgy", 0);
    o.patch[0] = 4;
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_FORMAT);
    assert_true(access(h5t_path(dir, "bad.h5", 1), F_OK) != 0);
    assert_true(access(h5t_path(dir, "bad.h5.partial", 1), F_OK) != 0);
}

int main(void) {
    dir = h5t_dir("h5segy");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ieee_inline_sorted),
        cmocka_unit_test(test_ibm_crossline_sorted),
        cmocka_unit_test(test_int16_line),
        cmocka_unit_test(test_bad_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
