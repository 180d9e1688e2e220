/* Writing small HDF5 test files from C, the way a user's converter would: any element
 * type, rank, chunking, gzip+shuffle, values from a formula of (sample, element), and the
 * attributes nflow reads. Shared by the tests/unit/test_h5_*.c binaries (header only). */
#ifndef TEST_H5_FILES_H
#define TEST_H5_FILES_H

/* include this first: mkdtemp, mkstemp, dup are POSIX */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "nftest.h"

#include <hdf5.h>
#include <stdio.h>
#include <unistd.h>

/* Value of element e (flat index within the sample) of sample s. */
typedef double (*h5t_value_fn)(long long s, size_t e);

/* A fresh directory for one test binary's files: /tmp/nflow_<tag>_XXXXXX. */
static inline const char *h5t_dir(const char *tag) {
    static char dir[256];
    snprintf(dir, sizeof dir, "/tmp/nflow_%s_XXXXXX", tag);
    if (!mkdtemp(dir)) abort();
    return dir;
}

static inline void h5t_rmdir(const char *dir) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static inline hid_t h5t_open_file(const char *file, int truncate) {
    hid_t f = truncate ? H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT) : H5Fopen(file, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

/* Writes file:path (rank, dims, file type ftype) with values f, chunked along N by
 * chunk_n samples when chunk_n > 0 (with gzip and shuffle when gzip), written in pieces
 * of 256 samples so large test files need little memory. truncate: start a new file. */
static inline void h5t_write(const char *file, const char *path, hid_t ftype, int rank, const hsize_t *dims,
                             long long chunk_n, int gzip, h5t_value_fn f, int truncate) {
    hid_t fid = h5t_open_file(file, truncate);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    size_t per = 1;
    for (int r = 1; r < rank; r++) per *= dims[r];
    if (chunk_n > 0) {
        hsize_t chunk[5];
        chunk[0] = (hsize_t)chunk_n;
        for (int r = 1; r < rank; r++) chunk[r] = dims[r];
        H5Pset_chunk(dcpl, rank, chunk);
        if (gzip) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 4);
        }
    }
    hid_t ds = H5Dcreate2(fid, path, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    long long n = (long long)dims[0];
    double *buf = malloc(256 * per * sizeof(double) + 1);
    for (long long s0 = 0; s0 < n; s0 += 256) {
        long long cnt = n - s0 < 256 ? n - s0 : 256;
        for (long long s = 0; s < cnt; s++)
            for (size_t e = 0; e < per; e++) buf[s * per + e] = f(s0 + s, e);
        hsize_t start[5] = {(hsize_t)s0}, count[5] = {(hsize_t)cnt};
        for (int r = 1; r < rank; r++) count[r] = dims[r];
        hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(rank, count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        assert_true(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) >= 0);
        H5Sclose(ms);
        H5Sclose(fs);
    }
    free(buf);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    H5Fclose(fid);
}

/* (n, c, h, w) float32, contiguous unless chunk_n > 0. */
static inline void h5t_write4(const char *file, const char *path, hid_t ftype, long long n, int c, int h, int w,
                              long long chunk_n, h5t_value_fn f, int truncate) {
    hsize_t dims[4] = {(hsize_t)n, (hsize_t)c, (hsize_t)h, (hsize_t)w};
    h5t_write(file, path, ftype, 4, dims, chunk_n, chunk_n > 0, f, truncate);
}

static inline void h5t_attr_string(const char *file, const char *path, const char *name, const char *value) {
    hid_t fid = h5t_open_file(file, 0), ds = H5Dopen2(fid, path, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(value));
    hid_t a = H5Acreate2(ds, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, t, value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(ds);
    H5Fclose(fid);
}

static inline void h5t_attr_doubles(const char *file, const char *path, const char *name, const double *v, int n) {
    hid_t fid = h5t_open_file(file, 0), ds = H5Dopen2(fid, path, H5P_DEFAULT);
    hsize_t dn = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dn, NULL);
    hid_t a = H5Acreate2(ds, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, H5T_NATIVE_DOUBLE, v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(fid);
}

/* "dir/name" in a static buffer (one at a time per slot). */
static inline const char *h5t_path(const char *dir, const char *name, int slot) {
    static char buf[4][1024];
    snprintf(buf[slot & 3], sizeof buf[0], "%.500s/%.500s", dir, name);
    return buf[slot & 3];
}

/* A spec "file:/path" in a static buffer. */
static inline const char *h5t_spec(const char *file, const char *path) {
    static char buf[2048];
    snprintf(buf, sizeof buf, "%.1000s:%.1000s", file, path);
    return buf;
}

/* Runs fn with stderr redirected to a file and returns how many bytes it printed there. */
static inline long h5t_stderr_bytes(void (*fn)(void *), void *arg) {
    fflush(stderr);
    char tmpl[] = "/tmp/nflow_stderr_XXXXXX";
    int fd = mkstemp(tmpl), saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(tmpl);
    return n;
}

#endif
