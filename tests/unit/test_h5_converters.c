/* Converters: toy densities and Fashion-MNIST (Debian's IDX files, when installed) into
 * HDF5 datasets that nf_dataset reads back; failures leave no file behind. */
#include "test_h5_files.h"

#include "nflow_datasets.h"

#include <sys/stat.h>
#include <zlib.h>

static const char *dir;

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Reads an integer attribute or scalar string from file:path with the HDF5 C API. */
static void dims_of(const char *file, const char *path, int *rank, hsize_t *dims, H5T_class_t *cls, size_t *size) {
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, path, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    *rank = H5Sget_simple_extent_dims(s, dims, NULL);
    *cls = H5Tget_class(t);
    *size = H5Tget_size(t);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_toy_file(void **state) {
    const char *f = h5t_path(dir, "banana.h5", 0);
    const long long n = 100000; /* two pieces */
    NF_ASSERT_OK(nf_convert_toy(f, "banana", n, 7));
    assert_false(exists(h5t_path(dir, "banana.h5.partial", 1)));
    int rank;
    hsize_t dims[5];
    H5T_class_t cls;
    size_t size;
    dims_of(f, "/x", &rank, dims, &cls, &size);
    assert_int_equal(rank, 4);
    assert_true(dims[0] == (hsize_t)n && dims[1] == 2 && dims[2] == 1 && dims[3] == 1);
    assert_true(cls == H5T_FLOAT && size == 4);
    /* read back raw: the banana's moments; then with the stored statistics: standardised */
    nf_dataset_options o = {.batch = 1000, .normalize = NF_NORM_NONE};
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 1000, 2, 1, 1, 1));
    double m[2] = {0, 0}, q[2] = {0, 0};
    for (int b = 0; b < 100; b++) {
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, NULL, NULL));
        for (int i = 0; i < 1000; i++)
            for (int c = 0; c < 2; c++) m[c] += x.data[2 * i + c] / (double)n, q[c] += x.data[2 * i + c] * x.data[2 * i + c] / (double)n;
    }
    assert_true(fabs(m[0]) < 0.02 && fabs(m[1] - 8.0) < 0.1);
    nf_dataset_close(ds);
    o.normalize = NF_NORM_STORED;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, "/x"), &o));
    double mean[2], sd[2];
    NF_ASSERT_OK(nf_dataset_stats(ds, mean, sd));
    for (int c = 0; c < 2; c++) {
        assert_true(fabs(mean[c] - m[c]) < 1e-4 * (1 + fabs(m[c])));
        assert_true(fabs(sd[c] - sqrt(q[c] - m[c] * m[c])) < 1e-3 * sd[c]);
    }
    nf_tensor_free(&x);
    nf_dataset_close(ds);
    /* every density by name; bad names and sizes fail without leaving a file */
    const char *names[] = {"moons", "swirl", "parabola", "gaussian"};
    for (int i = 0; i < 4; i++) NF_ASSERT_OK(nf_convert_toy(h5t_path(dir, "toy.h5", 2), names[i], 100, 1));
    NF_ASSERT_FAILS(nf_convert_toy(h5t_path(dir, "bad.h5", 2), "spiral", 100, 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_convert_toy(h5t_path(dir, "bad.h5", 2), "moons", 0, 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_convert_toy("/nonexistent-dir/x.h5", "moons", 10, 1), NF_ERR_WRITE);
    assert_false(exists(h5t_path(dir, "bad.h5", 2)));
    assert_false(exists(h5t_path(dir, "bad.h5.partial", 2)));
}

/* The raw bytes of IDX image `index` straight from the gzip file, for comparison. */
static void idx_image(const char *file, long long index, unsigned char *out) {
    gzFile gz = gzopen(file, "rb");
    assert_non_null(gz);
    assert_true(gzseek(gz, 16 + index * 784, SEEK_SET) >= 0);
    assert_int_equal(gzread(gz, out, 784), 784);
    gzclose(gz);
}

static void check_split(const char *f, const char *group, long long n, int side, const char *idx) {
    char path[64];
    int rank;
    hsize_t dims[5];
    H5T_class_t cls;
    size_t size;
    snprintf(path, sizeof path, "/%s/x", group);
    dims_of(f, path, &rank, dims, &cls, &size);
    assert_true(rank == 4 && dims[0] == (hsize_t)n && dims[1] == 1 && dims[2] == (hsize_t)side && dims[3] == (hsize_t)side);
    assert_true(cls == H5T_INTEGER && size == 1);
    /* labels: each of the 10 classes equally often; images: the IDX bytes, centred */
    nf_dataset_options o = {.batch = 500, .cond = NULL, .normalize = NF_NORM_AUTO};
    char ypath[64];
    snprintf(ypath, sizeof ypath, "/%s/y", group);
    o.cond = ypath;
    nf_dataset *ds;
    NF_ASSERT_OK(nf_dataset_open(&ds, h5t_spec(f, path), &o));
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 500, 1, 1, side, side));
    NF_ASSERT_OK(nf_tensor_alloc(&y, 500, 1, 1, 1, 1));
    long long count[10] = {0};
    for (long long b = 0; b < n / 500; b++) {
        NF_ASSERT_OK(nf_dataset_next_batch(ds, &x, &y, NULL));
        for (int i = 0; i < 500; i++) {
            assert_true(y.data[i] >= 0 && y.data[i] < 10);
            count[(int)y.data[i]]++;
        }
    }
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], n / 10);
    const long long probe[3] = {0, 1234, n - 1};
    unsigned char want[784];
    nf_tensor one;
    NF_ASSERT_OK(nf_tensor_alloc(&one, 1, 1, 1, side, side));
    int pad = (side - 28) / 2;
    for (int k = 0; k < 3; k++) {
        idx_image(idx, probe[k], want);
        NF_ASSERT_OK(nf_dataset_read(ds, probe[k], &one, NULL, NULL)); /* bin centres (v + 0.5)/256 - 0.5 */
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++) {
                int inside = r >= pad && r < pad + 28 && c >= pad && c < pad + 28;
                double v = inside ? want[(r - pad) * 28 + (c - pad)] : 0;
                assert_true(fabs(one.data[r * side + c] - ((v + 0.5) / 256 - 0.5)) < 1e-6);
            }
    }
    nf_tensor_free(&one);
    nf_tensor_free(&y);
    nf_tensor_free(&x);
    nf_dataset_close(ds);
}

static void test_fashion_mnist(void **state) {
    if (!exists(NF_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz")) {
        print_message("SKIPPED: %s not found (install the Debian package dataset-fashion-mnist)\n",
                      NF_FASHION_MNIST_DIR);
        skip();
    }
    const char *f = h5t_path(dir, "fmnist32.h5", 0);
    NF_ASSERT_OK(nf_convert_fashion_mnist(NULL, f, 1));
    check_split(f, "train", 60000, 32, NF_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz");
    check_split(f, "test", 10000, 32, NF_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz");
}

static void test_fashion_mnist_bad_input(void **state) {
    /* a directory without the files, and IDX files that are truncated or of the wrong kind */
    const char *out = h5t_path(dir, "fm_bad.h5", 0);
    NF_ASSERT_FAILS(nf_convert_fashion_mnist(dir, out, 0), NF_ERR_IO);
    assert_non_null(strstr(nf_last_error(), "train-images-idx3-ubyte"));
    const char *img = h5t_path(dir, "train-images-idx3-ubyte", 1);
    FILE *fp = fopen(img, "wb");
    const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28};
    fwrite(head, 1, 16, fp);
    for (int i = 0; i < 784 * 3; i++) fputc(i % 256, fp); /* 3 of the 10 images */
    fclose(fp);
    const char *lab = h5t_path(dir, "train-labels-idx1-ubyte", 2);
    fp = fopen(lab, "wb");
    const unsigned char lhead[8] = {0, 0, 8, 3, 0, 0, 0, 10}; /* image magic on a label file */
    fwrite(lhead, 1, 8, fp);
    fclose(fp);
    NF_ASSERT_FAILS(nf_convert_fashion_mnist(dir, out, 0), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "magic"));
    fp = fopen(lab, "wb");
    const unsigned char good[8] = {0, 0, 8, 1, 0, 0, 0, 10};
    fwrite(good, 1, 8, fp);
    for (int i = 0; i < 10; i++) fputc(i, fp);
    fclose(fp);
    NF_ASSERT_FAILS(nf_convert_fashion_mnist(dir, out, 0), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "truncated"));
    assert_false(exists(out));
    assert_false(exists(h5t_path(dir, "fm_bad.h5.partial", 3)));
}

int main(void) {
    dir = h5t_dir("h5conv");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toy_file),
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_fashion_mnist_bad_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    h5t_rmdir(dir);
    return rc;
}
