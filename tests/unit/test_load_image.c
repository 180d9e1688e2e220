/* The loaders on files held in memory (io/load_image.h, what the fuzz harnesses call):
 * a model, a checkpoint and a dataset read from the bytes of a file give what the
 * path-taking calls give, and a damaged image fails the same checks with a message. */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include "nftest.h"

#include "io/load_image.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp_path(char *buf, size_t size, const char *tag) {
    snprintf(buf, size, "test_load_image_%ld_%s.h5", (long)getpid(), tag);
    return buf;
}

/* The whole file at path (malloc'd), its length in *size. */
static unsigned char *slurp(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(*size);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *size, fp), *size);
    fclose(fp);
    return b;
}

static void assert_same_params(const nf_flow *a, const nf_flow *b) {
    assert_int_equal(nf_flow_num_params(a), nf_flow_num_params(b));
    assert_memory_equal(a->params.value, b->params.value, sizeof(nf_real) * nf_flow_num_params(a));
}

static void test_model_and_checkpoint(void **state) {
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "ckpt");
    nf_flow *f = nftest_small_glow();
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-3));
    nf_train_state ts = {.iteration = 17};
    nf_rng_seed(&ts.rng, 5);
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));
    size_t size;
    unsigned char *img = slurp(path, &size);

    nf_flow *g = NULL;
    NF_ASSERT_OK(nf_model_load_image(&g, img, size)); /* a checkpoint is a model file too */
    assert_same_params(f, g);
    nf_flow_destroy(g);
    nf_adam og;
    nf_train_state tg;
    NF_ASSERT_OK(nf_checkpoint_load_image(&g, &og, &tg, img, size));
    assert_same_params(f, g);
    assert_int_equal(tg.iteration, 17);
    assert_int_equal(og.count, opt.count);
    nf_adam_free(&og);
    nf_flow_destroy(g);

    /* the stamp is checked on the image as on the file */
    img[size / 2] ^= 0x40;
    NF_ASSERT_FAILS(nf_model_load_image(&g, img, size), NF_ERR_FORMAT);
    assert_null(g);
    assert_non_null(strstr(nf_last_error(), "nf_model_load('" NF_IMAGE_NAME "'): corrupted file"));
    img[size / 2] ^= 0x40;
    NF_ASSERT_FAILS(nf_checkpoint_load_image(&g, &og, &tg, img, size - 100), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "truncated file"));
    /* without its stamp HDF5 reads it, and finds the damage itself or not at all */
    memset(img, 0, 512);
    NF_ASSERT_OK(nf_model_load_image(&g, img, size));
    nf_flow_destroy(g);
    NF_ASSERT_FAILS(nf_model_load_image(&g, img + 512, 600), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "not an HDF5 file"));
    NF_ASSERT_FAILS(nf_model_load_image(&g, NULL, 10), NF_ERR_ARG);

    free(img);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
    unlink(path);
}

/* /x: 10 samples of 3 floats (sample s holds s, s + 0.5, s + 0.25); /y: 10 labels. */
static void write_data(const char *path) {
    float x[10][3], y[10];
    for (int s = 0; s < 10; s++) x[s][0] = (float)s, x[s][1] = s + 0.5f, x[s][2] = s + 0.25f, y[s] = (float)(2 * s);
    hsize_t dx[2] = {10, 3}, dy[1] = {10};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, dy, NULL);
    hid_t a = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t b = H5Dcreate2(f, "y", H5T_IEEE_F32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0 && a >= 0 && b >= 0);
    assert_true(H5Dwrite(a, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    assert_true(H5Dwrite(b, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
    H5Dclose(b), H5Dclose(a), H5Sclose(sy), H5Sclose(sx), H5Fclose(f);
}

static void test_dataset(void **state) {
    (void)state;
    char path[128], spec[160];
    tmp_path(path, sizeof path, "data");
    write_data(path);
    snprintf(spec, sizeof spec, "%s:/x", path);
    size_t size;
    unsigned char *img = slurp(path, &size);
    nf_dataset_options o = nf_dataset_options_default();
    o.batch = 4, o.shuffle = 0, o.normalize = NF_NORM_NONE, o.cond = "/y";
    nf_dataset *a, *b;
    NF_ASSERT_OK(nf_dataset_open(&a, spec, &o));
    NF_ASSERT_OK(nf_dataset_open_image(&b, img, size, "/x", &o));
    assert_int_equal(nf_dataset_size(b), 10);
    nf_tensor xa, xb, ya, yb;
    NF_ASSERT_OK(nf_tensor_alloc(&xa, 4, 3, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&xb, 4, 3, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&ya, 4, 1, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&yb, 4, 1, 1, 1, 1));
    for (int k = 0; k < 3; k++) {
        NF_ASSERT_OK(nf_dataset_next_batch(a, &xa, &ya, NULL));
        NF_ASSERT_OK(nf_dataset_next_batch(b, &xb, &yb, NULL));
        assert_memory_equal(xa.data, xb.data, sizeof(nf_real) * 12);
        assert_memory_equal(ya.data, yb.data, sizeof(nf_real) * 4);
    }
    assert_true(xb.data[0] == 8.0f && yb.data[0] == 16.0f); /* the third batch starts at sample 8 */
    nf_dataset_close(b);
    nf_dataset_close(a);
    NF_ASSERT_FAILS(nf_dataset_open_image(&b, img, size, "/nosuch", &o), NF_ERR_FORMAT);
    assert_null(b);
    assert_non_null(strstr(nf_last_error(), "'" NF_IMAGE_NAME "' has no dataset '/nosuch'"));
    NF_ASSERT_FAILS(nf_dataset_open_image(&b, img, 700, "/x", &o), NF_ERR_IO);
    assert_non_null(strstr(nf_last_error(), "is not an HDF5 file, or a truncated or corrupted one"));
    nf_tensor_free(&xa), nf_tensor_free(&xb), nf_tensor_free(&ya), nf_tensor_free(&yb);
    free(img);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_and_checkpoint),
        cmocka_unit_test(test_dataset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
