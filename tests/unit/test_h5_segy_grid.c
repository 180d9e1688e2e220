/* SEG-Y 3-D surveys written by libsegyio itself (its own text, binary and trace header
 * writers, not test_h5_segy.c's hand-made bytes): a regular inline- or crossline-sorted
 * cube becomes (N, 1, pt, pil, pxl) patches with every value checked, and surveys whose
 * geometry is irregular (a missing trace, two traces swapped, a trace written twice, two
 * offsets per location, no line numbers) are refused with one message saying what is wrong,
 * leaving no output. Skipped when nflow was built without libsegyio. */
#include "test_h5_files.h"

#include "nflow_datasets.h"

#ifdef NFLOW_HAVE_SEGYIO
#include <segyio/segy.h>

enum { NIL = 5, NXL = 7, NS = 24, IL0 = 1001, XL0 = 20, XL_STEP = 2 };

typedef enum defect { NONE, MISSING, SWAPPED, TWICE, OFFSETS, NO_LINES } defect;

static const char *dir;

static double amp(int i, int j, int t) { return 0.5 * i - 0.25 * j + 0.01 * t * (t % 3 - 1); }

/* A post-stack survey of NIL x NXL traces (IEEE floats), inline-sorted or (crossline)
 * crossline-sorted, with one defect. Returns the path. */
static const char *write_survey(const char *name, int crossline, defect d) {
    const char *path = h5t_path(dir, name, 0);
    segy_file *fp = segy_open(path, "w+b");
    assert_non_null(fp);
    char text[SEGY_TEXT_HEADER_SIZE + 1], bin[SEGY_BINARY_HEADER_SIZE] = {0}, th[SEGY_TRACE_HEADER_SIZE];
    memset(text, ' ', SEGY_TEXT_HEADER_SIZE);
    text[SEGY_TEXT_HEADER_SIZE] = 0;
    memcpy(text, "C 1 nflow test survey", 21);
    assert_int_equal(segy_write_textheader(fp, 0, text), SEGY_OK);
    assert_int_equal(segy_set_bfield(bin, SEGY_BIN_INTERVAL, 4000), SEGY_OK);
    assert_int_equal(segy_set_bfield(bin, SEGY_BIN_SAMPLES, NS), SEGY_OK);
    assert_int_equal(segy_set_bfield(bin, SEGY_BIN_FORMAT, SEGY_IEEE_FLOAT_4_BYTE), SEGY_OK);
    assert_int_equal(segy_write_binheader(fp, bin), SEGY_OK);
    long trace0 = segy_trace0(bin);
    int trsize = segy_trsize(SEGY_IEEE_FLOAT_4_BYTE, NS), offsets = d == OFFSETS ? 2 : 1, k = 0;
    float data[NS];
    for (int a = 0; a < (crossline ? NXL : NIL); a++)
        for (int b = 0; b < (crossline ? NIL : NXL); b++)
            for (int off = 0; off < offsets; off++) {
                int n = a * (crossline ? NIL : NXL) + b, src = n; /* the grid point written n-th */
                if (d == MISSING && n == 12) continue;
                if (d == SWAPPED && (n == 9 || n == 10)) src = 19 - n;
                if (d == TWICE && n == 16) src = 15;
                int i = crossline ? src % NIL : src / NXL, j = crossline ? src / NIL : src % NXL;
                memset(th, 0, sizeof th);
                if (d != NO_LINES) {
                    assert_int_equal(segy_set_field(th, SEGY_TR_INLINE, IL0 + i), SEGY_OK);
                    assert_int_equal(segy_set_field(th, SEGY_TR_CROSSLINE, XL0 + XL_STEP * j), SEGY_OK);
                }
                assert_int_equal(segy_set_field(th, SEGY_TR_OFFSET, 100 * (off + 1)), SEGY_OK);
                assert_int_equal(segy_set_field(th, SEGY_TR_SAMPLE_COUNT, NS), SEGY_OK);
                assert_int_equal(segy_write_traceheader(fp, k, th, trace0, trsize), SEGY_OK);
                for (int t = 0; t < NS; t++) data[t] = (float)amp(i, j, t);
                assert_int_equal(segy_from_native(SEGY_IEEE_FLOAT_4_BYTE, NS, data), SEGY_OK);
                assert_int_equal(segy_writetrace(fp, k++, data, trace0, trsize), SEGY_OK);
            }
    assert_int_equal(segy_close(fp), SEGY_OK);
    return path;
}

static float *read_x(const char *file, hsize_t *dims, int32_t **org) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "/x", H5P_DEFAULT);
    hid_t o = H5Dopen2(f, "/origin", H5P_DEFAULT), s = H5Dget_space(d);
    assert_int_equal(H5Sget_simple_extent_dims(s, dims, NULL), 5);
    float *x = malloc(sizeof(float) * (size_t)H5Sget_simple_extent_npoints(s));
    *org = malloc(sizeof(int32_t) * 3 * dims[0]);
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    assert_true(H5Dread(o, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, *org) >= 0);
    H5Sclose(s);
    H5Dclose(o);
    H5Dclose(d);
    H5Fclose(f);
    return x;
}

/* Patches (time 8, inline 2, crossline 3) with strides (8, 1, 2): 3 x 4 x 3 of them. */
static void check_regular(int crossline) {
    const char *out = h5t_path(dir, "cube.h5", 1);
    nf_segy_options o = {.input = write_survey("regular.sgy", crossline, NONE), .output = out, .cube = 1,
                         .patch = {8, 2, 3}, .stride = {8, 1, 2}};
    NF_ASSERT_OK(nf_convert_segy(&o));
    hsize_t dims[5];
    int32_t *org;
    float *x = read_x(out, dims, &org);
    assert_true(dims[0] == 3 * 4 * 3 && dims[1] == 1 && dims[2] == 8 && dims[3] == 2 && dims[4] == 3);
    int seen[3][4][3] = {{{0}}};
    for (hsize_t p = 0; p < dims[0]; p++) {
        int t0 = org[3 * p], i0 = org[3 * p + 1], j0 = org[3 * p + 2];
        assert_true(t0 % 8 == 0 && t0 < NS && i0 < 4 && j0 % 2 == 0 && j0 < 5);
        seen[t0 / 8][i0][j0 / 2]++;
        for (int t = 0; t < 8; t++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    assert_true(x[((p * 8 + t) * 2 + i) * 3 + j] == (float)amp(i0 + i, j0 + j, t0 + t));
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 3; c++) assert_int_equal(seen[a][b][c], 1);
    free(org);
    free(x);
}

static void test_regular_inline_sorted(void **state) { check_regular(0); }

static void test_regular_crossline_sorted(void **state) { check_regular(1); }

/* A survey with defect d is refused as a cube, naming the problem (want), and leaves nothing. */
static void refused(defect d, const char *want) {
    const char *out = h5t_path(dir, "bad.h5", 1);
    nf_segy_options o = {.input = write_survey("bad.sgy", d == SWAPPED, d), .output = out, .cube = 1,
                         .patch = {8, 2, 2}};
    NF_ASSERT_FAILS(nf_convert_segy(&o), NF_ERR_FORMAT);
    print_message("%s\n", nf_last_error());
    assert_non_null(strstr(nf_last_error(), "no regular post-stack inline/crossline geometry"));
    assert_non_null(strstr(nf_last_error(), want));
    assert_true(access(out, F_OK) != 0);
    assert_true(access(h5t_path(dir, "bad.h5.partial", 1), F_OK) != 0);
}

static void test_missing_trace(void **state) { refused(MISSING, "do not fill a grid of"); }

static void test_swapped_traces(void **state) { refused(SWAPPED, "where a regular 5 x 7 grid has"); }

static void test_trace_twice(void **state) { refused(TWICE, "(missing, duplicated or unsorted traces)"); }

static void test_two_offsets(void **state) { refused(OFFSETS, "2 offsets per inline/crossline location"); }

static void test_no_line_numbers(void **state) { refused(NO_LINES, "sorted by neither inline (byte 189)"); }

int main(void) {
    dir = h5t_dir("h5segygrid");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_inline_sorted), cmocka_unit_test(test_regular_crossline_sorted),
        cmocka_unit_test(test_missing_trace),         cmocka_unit_test(test_swapped_traces),
        cmocka_unit_test(test_trace_twice),           cmocka_unit_test(test_two_offsets),
        cmocka_unit_test(test_no_line_numbers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}

#else

int main(void) {
    print_message("SKIPPED: nflow was built without libsegyio (install libsegyio-dev)\n");
    return 0;
}

#endif
