/* Bad model files: not HDF5, plain HDF5, other version, other kind, bad architecture,
 * shape mismatch, missing data, truncated, corrupted or edited: each gives one clear error
 * naming the file and leaks nothing (memory or HDF5 ids). */
#define _POSIX_C_SOURCE 200809L /* truncate, access */
#include "test_model_file.h"

#include "io/model_stamp.h"

#include <hdf5.h>

/* ---------------------------------------------------------------- bad files */

/* Saves a trained model to path and returns it (for edits). */
static nf_flow *saved_model(const char *path) {
    nf_flow *f = trained_glow(vector_config(), 2);
    NF_ASSERT_OK(nf_model_save(f, path));
    return f;
}

/* Loading must fail with status and a message containing needle; nothing leaks,
 * neither memory nor HDF5 ids. */
static void assert_load_fails(const char *path, nf_status want, const char *needle) {
    size_t mem0 = nf_mem_current();
    nf_flow *g = (nf_flow *)1;
    nf_status s = nf_model_load(&g, path);
    if (s != want) fail_msg("expected %s, got %s: %s", nf_status_name(want), nf_status_name(s), nf_last_error());
    assert_null(g);
    if (!strstr(nf_last_error(), needle)) fail_msg("message '%s' lacks '%s'", nf_last_error(), needle);
    assert_non_null(strstr(nf_last_error(), path)); /* names the file */
    assert_int_equal(nf_mem_current(), mem0);
    assert_int_equal(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

/* Clears the stamp, as anyone editing a model file must. */
static void unstamp(const char *path) { NF_ASSERT_OK(model_stamp_clear(path)); }

/* Opens path for editing with HDF5's printing off (edits may probe missing names);
 * edit_close closes it and clears the stamp the edit invalidated. */
static hid_t edit_open(const char *path) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}
static void edit_close(hid_t f, const char *path) {
    assert_true(H5Fclose(f) >= 0);
    unstamp(path);
}

static void set_int_attr(const char *path, const char *obj, const char *name, long long v) {
    hid_t f = edit_open(path), o = H5Oopen(f, obj, H5P_DEFAULT), sp = H5Screate(H5S_SCALAR);
    H5Adelete(o, name);
    hid_t a = H5Acreate2(o, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0);
    H5Aclose(a), H5Sclose(sp), H5Oclose(o);
    edit_close(f, path);
}

/* Writes s as h5py does: a variable-length UTF-8 string (the reader must take both). */
static void set_str_attr(const char *path, const char *name, const char *s) {
    hid_t f = edit_open(path), sp = H5Screate(H5S_SCALAR), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    H5Adelete(f, name);
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, t, &s) >= 0);
    H5Aclose(a), H5Tclose(t), H5Sclose(sp);
    edit_close(f, path);
}

/* Replaces dataset name with a zero-filled float32 one of shape (n,). */
static void replace_dataset(const char *path, const char *name, hsize_t n) {
    hid_t f = edit_open(path);
    H5Ldelete(f, name, H5P_DEFAULT);
    if (n) {
        hid_t sp = H5Screate_simple(1, &n, NULL);
        hid_t d = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(d >= 0);
        H5Dclose(d), H5Sclose(sp);
    }
    edit_close(f, path);
}

static void delete_attr(const char *path, const char *name) {
    hid_t f = edit_open(path);
    assert_true(H5Adelete(f, name) >= 0);
    edit_close(f, path);
}

static void layer_block(char *buf, size_t size, const nf_flow *f, int i, const char *block) {
    snprintf(buf, size, "layers/%03d_%s/%s", i, f->layers[i]->ops->name, block);
}

static void test_not_a_model(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "plain");
    nf_flow *g;
    NF_ASSERT_FAILS(nf_model_load(NULL, path), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_model_load(&g, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_model_save(NULL, path), NF_ERR_ARG);
    assert_load_fails("no_such_dir/no_such_model.h5", NF_ERR_IO, "cannot open");
    FILE *t = fopen(path, "w"); /* a text file */
    fputs("layers: 3\nthis is not HDF5\n", t);
    fclose(t);
    assert_load_fails(path, NF_ERR_FORMAT, "not an HDF5 file");
    /* a plain HDF5 file with a dataset, as a user would write with h5py */
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 4;
    float x[4] = {1, 2, 3, 4};
    hid_t sp = H5Screate_simple(1, &n, NULL), d = H5Dcreate2(f, "x", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d), H5Sclose(sp), H5Fclose(f);
    assert_load_fails(path, NF_ERR_FORMAT, "not an nflow model file");
    set_str_attr(path, "format", "someone-else");
    assert_load_fails(path, NF_ERR_FORMAT, "format 'someone-else'");
    unlink(path);
}

static void test_wrong_version_and_kind(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "version");
    nf_flow *f = saved_model(path);
    set_int_attr(path, "/", "format_version", 2);
    assert_load_fails(path, NF_ERR_FORMAT, "format_version 2");
    set_int_attr(path, "/", "format_version", 1);
    set_str_attr(path, "flow_kind", "mystery");
    assert_load_fails(path, NF_ERR_FORMAT, "unsupported flow kind 'mystery' (model files know: glow, sequential)");
    set_str_attr(path, "flow_kind", "glow"); /* back, as h5py would write it: loads */
    nf_flow *g = NULL;
    NF_ASSERT_OK(nf_model_load(&g, path));
    assert_same_flow(f, g);
    nf_flow_destroy(g);
    set_str_attr(path, "conv1x1", "qr");
    assert_load_fails(path, NF_ERR_FORMAT, "'conv1x1' is 'qr'");
    set_str_attr(path, "conv1x1", "lu");
    set_int_attr(path, "/", "steps", 0);
    assert_load_fails(path, NF_ERR_FORMAT, "architecture in the file is invalid");
    nf_flow_destroy(f);
    unlink(path);
}

/* Files written before the learned prior have no learn_prior attribute: they load with
 * the standard normal prior. A file that says it has priors but lacks their layers, or
 * an attribute that is not 0 or 1, is refused. */
static void test_file_without_prior_attribute(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "noprior");
    nf_flow *f = saved_model(path), *g = NULL;
    delete_attr(path, "learn_prior");
    NF_ASSERT_OK(nf_model_load(&g, path));
    assert_int_equal(nf_glow_get_config(g)->learn_prior, 0);
    assert_same_flow(f, g);
    assert_same_forward(f, g);
    nf_flow_destroy(g);
    set_int_attr(path, "/", "learn_prior", 2);
    assert_load_fails(path, NF_ERR_FORMAT, "'learn_prior' = 2, expected 0 or 1");
    set_int_attr(path, "/", "learn_prior", 1);
    assert_load_fails(path, NF_ERR_FORMAT, "layers");
    nf_flow_destroy(f);
    unlink(path);
}

static void test_shape_mismatch_and_missing(void **state) {
    char path[128], name[160];
    tmp_path(path, sizeof path, "shape");
    nf_flow *f = saved_model(path);
    /* the attributes say hidden 17: the rebuilt couplings expect other weight shapes */
    set_int_attr(path, "/", "hidden", 17);
    assert_load_fails(path, NF_ERR_FORMAT, "the rebuilt layer expects");
    set_int_attr(path, "/", "hidden", 16);
    /* a block of the wrong shape, then a missing one */
    layer_block(name, sizeof name, f, 0, "bias");
    replace_dataset(path, name, 7);
    assert_load_fails(path, NF_ERR_FORMAT, "has shape (7,), the rebuilt layer expects (4,)");
    replace_dataset(path, name, 0);
    assert_load_fails(path, NF_ERR_FORMAT, "'bias' is missing");
    /* a whole layer group gone */
    NF_ASSERT_OK(nf_model_save(f, path));
    char group[96];
    snprintf(group, sizeof group, "layers/%03d_%s", 1, f->layers[1]->ops->name);
    replace_dataset(path, group, 0);
    assert_load_fails(path, NF_ERR_FORMAT, "is missing");
    /* a summary that disagrees with the architecture */
    NF_ASSERT_OK(nf_model_save(f, path));
    set_int_attr(path, "/", "nlayers", 5);
    assert_load_fails(path, NF_ERR_FORMAT, "layers");
    nf_flow_destroy(f);
    unlink(path);
}

static long file_size(const char *path) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

static void test_truncated(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "trunc");
    nf_flow *f = saved_model(path);
    long n = file_size(path);
    assert_int_equal(truncate(path, n / 2), 0);
    assert_load_fails(path, NF_ERR_FORMAT, "truncated file");
    NF_ASSERT_OK(nf_model_save(f, path));
    assert_int_equal(truncate(path, n - 1), 0); /* even one byte short */
    assert_load_fails(path, NF_ERR_FORMAT, "truncated file");
    /* without its stamp, HDF5 notices by itself */
    NF_ASSERT_OK(nf_model_save(f, path));
    unstamp(path);
    assert_int_equal(truncate(path, n / 2), 0);
    assert_load_fails(path, NF_ERR_FORMAT, "truncated or corrupted");
    nf_flow_destroy(f);
    unlink(path);
}

static unsigned char *read_file(const char *path, long *n) {
    *n = file_size(path);
    unsigned char *buf = malloc((size_t)*n);
    FILE *fp = fopen(path, "rb");
    assert_true(buf && fp && fread(buf, 1, (size_t)*n, fp) == (size_t)*n);
    fclose(fp);
    return buf;
}

/* Flips the bits of the byte at pos in place (twice restores it). */
static void flip_byte(const char *path, long pos) {
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
    int ch = fgetc(fp);
    assert_int_equal(fseek(fp, pos, SEEK_SET), 0);
    fputc(ch ^ 0xff, fp);
    fclose(fp);
}

/* Address and size of the stored bytes of dataset name (one chunk). */
static void chunk_of(const char *path, const char *name, long *addr, long *size) {
    hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(h, name, H5P_DEFAULT), sp = H5Dget_space(d);
    haddr_t a = 0;
    hsize_t sz = 0;
    assert_true(d >= 0 && H5Dget_chunk_info(d, sp, 0, NULL, NULL, &a, &sz) >= 0);
    H5Sclose(sp), H5Dclose(d), H5Fclose(h);
    *addr = (long)a, *size = (long)sz;
}

/* Flipping a byte anywhere in the file either makes loading fail with a message or,
 * where the byte is unused (the stamp's padding), loads the very same model: never a
 * silently different one. Every flip past the stamp is noticed. */
static void test_corrupted(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "corrupt");
    nf_flow *f = saved_model(path);
    long n;
    unsigned char *bytes = read_file(path, &n);
    int missed = 0;
    size_t mem0 = nf_mem_current();
    for (long pos = 0; pos < n; pos += pos < 512 ? 5 : 41) {
        flip_byte(path, pos);
        nf_flow *g = NULL;
        nf_status s = nf_model_load(&g, path);
        flip_byte(path, pos);
        if (s == NF_OK) {
            if (memcmp(f->params.value, g->params.value, f->params.count * sizeof(nf_real)))
                fail_msg("a flipped byte at %ld of %ld loaded different parameters", pos, n);
            assert_same_flow(f, g);
            nf_flow_destroy(g);
            missed += pos >= 512;
        } else {
            if (s != NF_ERR_FORMAT) fail_msg("byte %ld: %s: %s", pos, nf_status_name(s), nf_last_error());
            assert_true(strlen(nf_last_error()) > 0);
            assert_null(g);
        }
    }
    assert_int_equal(missed, 0);
    assert_int_equal(nf_mem_current(), mem0);
    assert_int_equal(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    /* the middle of a coupling weight: the stamp notices; without the stamp, the
     * dataset's Fletcher-32 checksum does */
    char name[160];
    long addr, size;
    layer_block(name, sizeof name, f, 2, "conv1.weight");
    NF_ASSERT_OK(nf_model_save(f, path));
    long n2;
    unsigned char *again = read_file(path, &n2); /* no time stamps in the file: same model, same bytes */
    assert_int_equal(n2, n);
    assert_memory_equal(again, bytes, (size_t)n);
    free(again);
    chunk_of(path, name, &addr, &size);
    assert_true(size > 0 && addr + size <= n);
    flip_byte(path, addr + size / 2);
    assert_load_fails(path, NF_ERR_FORMAT, "corrupted file");
    unstamp(path);
    assert_load_fails(path, NF_ERR_FORMAT, "Fletcher32");
    free(bytes);
    nf_flow_destroy(f);
    unlink(path);
}

/* A file changed after nflow wrote it is refused until its stamp is cleared. */
static void test_edited_needs_unstamp(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "edited");
    nf_flow *f = saved_model(path), *g = NULL;
    hid_t h = edit_open(path);
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(h, "note", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int one = 1;
    H5Awrite(a, H5T_NATIVE_INT, &one);
    H5Aclose(a), H5Sclose(sp), H5Fclose(h);
    assert_load_fails(path, NF_ERR_FORMAT, "changed on purpose, zero its first 512 bytes");
    unstamp(path);
    NF_ASSERT_OK(nf_model_load(&g, path));
    assert_same_flow(f, g);
    nf_flow_destroy(g);
    nf_flow_destroy(f);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_without_prior_attribute),
        cmocka_unit_test(test_not_a_model),
        cmocka_unit_test(test_wrong_version_and_kind),
        cmocka_unit_test(test_shape_mismatch_and_missing),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_edited_needs_unstamp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
