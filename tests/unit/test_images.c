/* nflow data images, through nf_convert_images: folders of PNG and JPEG pictures written
 * here with libpng and libjpeg become the expected arrays (exact for PNG at its own size,
 * under a centre crop and for gray; within JPEG's loss otherwise), labels follow the
 * sub-folders, broken files are skipped, reported and counted, and a folder without
 * pictures fails without leaving a file. */
#include "test_h5_files.h"

#include "nflow_datasets.h"

#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>

static const char *dir;

/* pixel (y, x, c) of the test pictures: a pattern that differs in every channel and pixel */
static unsigned char pattern(int y, int x, int c) { return (unsigned char)((y * 37 + x * 11 + c * 85) % 256); }

typedef unsigned char (*pixel_fn)(int y, int x, int c);
static unsigned char const100(int y, int x, int c) { return (unsigned char)(100 + 40 * c); }
static unsigned char const20(int y, int x, int c) { return (unsigned char)(20 + 40 * c); }
static unsigned char ramp(int y, int x, int c) { return (unsigned char)(4 * x); }

/* channels 1 (gray), 3 (RGB) or 4 (RGBA, opaque) */
static void write_png(const char *path, int h, int w, int channels, pixel_fn fn) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w, img.height = (png_uint_32)h;
    img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    unsigned char *px = malloc((size_t)h * w * channels);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) px[((size_t)y * w + x) * channels + c] = c == 3 ? 255 : fn(y, x, c);
    assert_true(png_image_write_to_file(&img, path, 0, px, 0, NULL));
    free(px);
}

/* left half one colour, right half another: JPEG keeps such blocks close */
static void write_jpeg(const char *path, int h, int w, int gray) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c.input_components; k++) row[x * c.input_components + k] = x < w / 2 ? (k ? 60 : 200) : 30 + 50 * k;
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* the first n bytes of src, as a new file */
static void truncate_copy(const char *src, const char *dst, double fraction) {
    FILE *f = fopen(src, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    write_bytes(dst, b, (size_t)(n * fraction));
    free(b);
}

static const char *sub(const char *name) {
    static char buf[8][1200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%.1000s/%s", dir, name);
    return buf[k];
}

/* reads out:/path (all of it) as uint8 or int */
static void *read_all(const char *file, const char *path, hid_t mtype, size_t elem, hsize_t *dims, int *rank) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, path, H5P_DEFAULT), s = H5Dget_space(d);
    assert_true(d >= 0);
    *rank = H5Sget_simple_extent_ndims(s);
    H5Sget_simple_extent_dims(s, dims, NULL);
    size_t n = 1;
    for (int r = 0; r < *rank; r++) n *= dims[r];
    void *buf = malloc(n * elem + 1);
    assert_true(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return buf;
}

static char **read_strings(const char *file, const char *path, hsize_t *n) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, path, H5P_DEFAULT), s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, n, NULL);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char **v = malloc(sizeof(char *) * (size_t)*n);
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

typedef struct skips {
    int n;
    char what[8][600];
} skips;

static void on_skip(void *ctx, const char *path, const char *why) {
    skips *s = ctx;
    if (s->n < 8) snprintf(s->what[s->n], sizeof s->what[0], "%.300s: %.290s", path, why);
    s->n++;
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void test_png_exact_and_labels(void **state) {
    mkdir(sub("a"), 0755);
    mkdir(sub("a/cats"), 0755);
    mkdir(sub("a/cats/deeper"), 0755);
    mkdir(sub("a/dogs"), 0755);
    mkdir(sub("a/.hidden"), 0755);
    write_png(sub("a/cats/1.png"), 12, 10, 3, pattern);
    write_png(sub("a/cats/deeper/2.png"), 12, 10, 1, pattern); /* gray -> R = G = B */
    write_png(sub("a/dogs/3.PNG"), 12, 10, 4, pattern);        /* opaque RGBA */
    write_png(sub("a/top.png"), 16, 14, 3, pattern);           /* larger: centre crop (resize at scale 1 crops) */
    write_png(sub("a/.hidden/4.png"), 12, 10, 3, pattern);
    write_bytes(sub("a/notes.txt"), "not a picture", 13);
    nf_images_options o = {.dir = sub("a"), .output = sub("a.h5"), .height = 12, .width = 10, .crop = 1};
    nf_images_result r;
    NF_ASSERT_OK(nf_convert_images(&o, &r));
    assert_int_equal(r.written, 4);
    assert_int_equal(r.skipped, 0);
    assert_int_equal(r.ignored, 1);
    assert_int_equal(r.classes, 3);
    hsize_t d[5];
    int rank;
    unsigned char *x = read_all(sub("a.h5"), "/x", H5T_NATIVE_UCHAR, 1, d, &rank);
    assert_int_equal(rank, 4);
    assert_true(d[0] == 4 && d[1] == 3 && d[2] == 12 && d[3] == 10);
    /* walk order: a/cats/1.png, a/cats/deeper/2.png, a/dogs/3.PNG, a/top.png */
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 12; y++)
                for (int xx = 0; xx < 10; xx++) {
                    int want = i == 1 ? pattern(y, xx, 0) : i == 3 ? pattern(y + 2, xx + 2, c) : pattern(y, xx, c);
                    int got = x[(((size_t)i * 3 + c) * 12 + y) * 10 + xx];
                    if (got != want) fail_msg("picture %d (%d,%d,%d): got %d, want %d", i, c, y, xx, got, want);
                }
    free(x);
    int *y = read_all(sub("a.h5"), "/y", H5T_NATIVE_INT, sizeof(int), d, &rank);
    assert_true(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 2);
    free(y);
    hsize_t n;
    char **names = read_strings(sub("a.h5"), "/names", &n);
    assert_int_equal(n, 4);
    assert_string_equal(names[1], "cats/deeper/2.png");
    assert_string_equal(names[3], "top.png");
    for (hsize_t i = 0; i < n; i++) H5free_memory(names[i]);
    free(names);
    char **classes = read_strings(sub("a.h5"), "/class_names", &n);
    assert_int_equal(n, 3);
    assert_string_equal(classes[0], "cats");
    assert_string_equal(classes[1], "dogs");
    assert_string_equal(classes[2], ".");
    for (hsize_t i = 0; i < n; i++) H5free_memory(classes[i]);
    free(classes);
    /* and nflow reads it as a dataset with its labels */
    nf_dataset *ds;
    nf_dataset_options dopt = {.batch = 4, .cond = "/y"};
    char spec[1300];
    snprintf(spec, sizeof spec, "%s:/x", sub("a.h5"));
    NF_ASSERT_OK(nf_dataset_open(&ds, spec, &dopt));
    assert_int_equal(nf_dataset_shape(ds).c, 3);
    nf_dataset_close(ds);
}

static void test_gray_resize_and_jpeg(void **state) {
    mkdir(sub("b"), 0755);
    write_png(sub("b/const_small.png"), 5, 7, 3, const100);  /* upscaled */
    write_png(sub("b/const_large.png"), 50, 31, 3, const20); /* downscaled, other aspect ratio */
    write_png(sub("b/pattern.png"), 8, 8, 3, pattern);       /* its own size: unchanged */
    write_jpeg(sub("b/halves.jpg"), 64, 64, 0);
    write_jpeg(sub("b/halves_gray.jpeg"), 32, 32, 1);
    nf_images_options o = {.dir = sub("b"), .output = sub("b.h5"), .height = 8, .width = 8, .gray = 1};
    nf_images_result r;
    NF_ASSERT_OK(nf_convert_images(&o, &r));
    assert_int_equal(r.written, 5);
    assert_int_equal(r.channels, 1);
    hsize_t d[5];
    int rank;
    unsigned char *x = read_all(sub("b.h5"), "/x", H5T_NATIVE_UCHAR, 1, d, &rank);
    assert_true(d[0] == 5 && d[1] == 1 && d[2] == 8 && d[3] == 8);
    int luma_large = (299 * 20 + 587 * 60 + 114 * 100 + 500) / 1000, luma_small = (299 * 100 + 587 * 140 + 114 * 180 + 500) / 1000;
    int luma_left = (299 * 200 + 587 * 60 + 114 * 60 + 500) / 1000, luma_right = (299 * 30 + 587 * 80 + 114 * 130 + 500) / 1000;
    /* order: const_large, const_small, halves.jpg, halves_gray.jpeg, pattern */
    for (int p = 0; p < 64; p++) {
        int yy = p / 8, xx = p % 8;
        assert_int_equal(x[p], luma_large);
        assert_int_equal(x[64 + p], luma_small);
        int pat = (299 * pattern(yy, xx, 0) + 587 * pattern(yy, xx, 1) + 114 * pattern(yy, xx, 2) + 500) / 1000;
        assert_int_equal(x[4 * 64 + p], pat);
        if (xx == 3 || xx == 4) continue; /* the blurred edge */
        if (abs(x[2 * 64 + p] - (xx < 4 ? luma_left : luma_right)) > 3)
            fail_msg("jpeg (%d,%d): %d, want %d", yy, xx, x[2 * 64 + p], xx < 4 ? luma_left : luma_right);
        if (abs(x[3 * 64 + p] - (xx < 4 ? 200 : 30)) > 3) fail_msg("gray jpeg (%d,%d): %d", yy, xx, x[3 * 64 + p]);
    }
    free(x);
}

/* Scaling geometry on a ramp v = 4x (linear, so the symmetric filter returns the ramp at
 * each output's centre away from the borders): halving gives 8o + 2, doubling 2o - 1, and
 * a 16x8 picture fitted to 4x4 keeps the middle columns of its halved self. */
static void expect_ramp(const char *name, int h, int w, int H, int W, int lo, int hi, int a, int b) {
    char d[64], out[64];
    snprintf(d, sizeof d, "r_%s", name);
    snprintf(out, sizeof out, "r_%s.h5", name);
    mkdir(sub(d), 0755);
    char png[80];
    snprintf(png, sizeof png, "%s/ramp.png", d);
    write_png(sub(png), h, w, 3, ramp);
    nf_images_options o = {.dir = sub(d), .output = sub(out), .height = H, .width = W, .gray = 1};
    nf_images_result r;
    NF_ASSERT_OK(nf_convert_images(&o, &r));
    hsize_t dims[5];
    int rank;
    unsigned char *x = read_all(sub(out), "/x", H5T_NATIVE_UCHAR, 1, dims, &rank);
    for (int y = 0; y < H; y++)
        for (int o2 = lo; o2 <= hi; o2++)
            if (x[y * W + o2] != a * o2 + b) fail_msg("%s (%d,%d): got %d, want %d", name, y, o2, x[y * W + o2], a * o2 + b);
    free(x);
}

static void test_resize_geometry(void **state) {
    expect_ramp("half", 4, 16, 2, 8, 1, 6, 8, 2);
    expect_ramp("double", 4, 8, 8, 16, 1, 14, 2, -1);
    expect_ramp("cover", 8, 16, 4, 4, 0, 3, 8, 18);
}

static void test_broken_files_skipped_and_counted(void **state) {
    mkdir(sub("c"), 0755);
    write_png(sub("c/good.png"), 9, 9, 3, pattern);
    write_jpeg(sub("c/good.jpg"), 40, 40, 0);
    truncate_copy(sub("c/good.png"), sub("c/cut.png"), 0.6);
    truncate_copy(sub("c/good.jpg"), sub("c/cut.jpg"), 0.9); /* inside the scan: a libjpeg warning */
    write_bytes(sub("c/text.jpg"), "hello, not a jpeg", 17);
    write_bytes(sub("c/empty.png"), "", 0);
    write_png(sub("c/small.png"), 4, 4, 3, pattern); /* smaller than 9x9 under --fit crop */
    skips s = {0};
    nf_images_options o = {.dir = sub("c"), .output = sub("c.h5"), .crop = 1, .on_skip = on_skip, .ctx = &s};
    nf_images_result r;
    NF_ASSERT_OK(nf_convert_images(&o, &r));
    /* sorted: cut.jpg cut.png empty.png good.jpg good.png small.png text.jpg; good.jpg is the
     * first readable picture, so 40x40 is the size, and good.png (9x9) is too small to crop */
    assert_int_equal(r.written, 1);
    assert_int_equal(r.skipped, 6);
    assert_int_equal(s.n, 6);
    const char *expect[] = {"cut.jpg: corrupt or truncated JPEG", "cut.png: corrupt or truncated PNG",
                            "empty.png: not a PNG or JPEG file", "good.png: 9x9 is smaller than 40x40",
                            "small.png: 4x4 is smaller than", "text.jpg: not a PNG or JPEG file"};
    for (int i = 0; i < 6; i++)
        if (!strstr(s.what[i], expect[i])) fail_msg("skip %d: '%s' lacks '%s'", i, s.what[i], expect[i]);
    assert_string_equal(r.size_from, "good.jpg");
    assert_int_equal(r.height, 40);
}

static void test_nothing_readable_fails_cleanly(void **state) {
    mkdir(sub("d"), 0755);
    write_bytes(sub("d/x.png"), "junk", 4);
    nf_images_options o = {.dir = sub("d"), .output = sub("d.h5")};
    nf_images_result r;
    NF_ASSERT_FAILS(nf_convert_images(&o, &r), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "no readable PNG or JPEG pictures"));
    assert_false(exists(sub("d.h5")));
    assert_false(exists(sub("d.h5.partial")));
    o.dir = sub("missing");
    NF_ASSERT_FAILS(nf_convert_images(&o, &r), NF_ERR_IO);
    o.dir = sub("d"), o.height = 5, o.width = 0;
    NF_ASSERT_FAILS(nf_convert_images(&o, &r), NF_ERR_ARG);
}

static int setup(void **state) {
    dir = h5t_dir("images");
    return 0;
}

static int teardown(void **state) {
    h5t_rmdir(dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_exact_and_labels),
        cmocka_unit_test(test_gray_resize_and_jpeg),
        cmocka_unit_test(test_resize_geometry),
        cmocka_unit_test(test_broken_files_skipped_and_counted),
        cmocka_unit_test(test_nothing_readable_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
