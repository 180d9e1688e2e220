/* The converters' output files and arrays (see h5_writer.h). */
#define _POSIX_C_SOURCE 200809L
#include "h5_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Gives the partial file's disk space back (truncating it through a descriptor of our
 * own) and removes it. On a full disk this is what lets HDF5 write the metadata it still
 * holds when the file closes, instead of failing the close and leaving the file open for
 * its exit handler (which then crashes or loops). */
static void release_partial(const nfd_out *o) {
    int fd = open(o->partial, O_WRONLY | O_TRUNC);
    if (fd >= 0) close(fd);
    remove(o->partial);
}

nf_status nfd_out_create(nfd_out *o, const char *path) {
    o->file = H5I_INVALID_HID;
    if (!path || !path[0]) return nf_fail(NF_ERR_ARG, "no output file given");
    if (strlen(path) >= sizeof o->path) return nf_fail(NF_ERR_ARG, "output file name too long");
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->partial, sizeof o->partial, "%s.partial", path);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return nf_fail(NF_ERR_WRITE, "cannot write '%s': it is a directory", path);
    /* Room for HDF5's first writes, claimed before HDF5 makes them: an H5Fcreate that
     * fails to write its superblock leaves a file that HDF5's exit handler cannot close. */
    int fd = open(o->partial, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int err = fd < 0 ? errno : posix_fallocate(fd, 0, 1 << 16);
    if (err == EINVAL || err == EOPNOTSUPP) err = 0; /* file systems without fallocate */
    if (fd >= 0) close(fd);
    if (err) {
        if (fd >= 0) remove(o->partial);
        return nf_fail(NF_ERR_WRITE, "cannot create '%s': %s", o->partial, strerror(err));
    }
    /* strong close: closing the file also closes a dataset whose close failed */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return nf_h5_fail(NF_ERR_WRITE, "cannot set up '%s'", o->partial);
    }
    o->file = H5Fcreate(o->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (o->file < 0) {
        nf_status st = nf_h5_fail(NF_ERR_WRITE, "cannot create '%s'", o->partial);
        release_partial(o);
        return st;
    }
    return NF_OK;
}

nf_status nfd_out_finish(nfd_out *o, nf_status st) {
    if (o->file < 0) return st;
    if (st == NF_OK && H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0)
        st = nf_h5_fail(NF_ERR_WRITE, "cannot write '%s'", o->partial);
    if (st != NF_OK) release_partial(o); /* before the close, which needs the space */
    if (H5Fclose(o->file) < 0 && st == NF_OK) st = nf_h5_fail(NF_ERR_WRITE, "cannot close '%s'", o->partial);
    o->file = H5I_INVALID_HID;
    if (st == NF_OK && rename(o->partial, o->path) != 0)
        st = nf_fail(NF_ERR_WRITE, "cannot rename '%s' to '%s': %s", o->partial, o->path, strerror(errno));
    if (st != NF_OK) remove(o->partial);
    return st;
}

static nf_status create(nfd_array *a, hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                        const hsize_t *dims, int growing) {
    nf_status st = NF_OK;
    hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    memset(a, 0, sizeof *a);
    a->dset = H5I_INVALID_HID;
    a->mtype = mtype;
    a->rank = rank;
    memcpy(a->dims, dims, sizeof(hsize_t) * (size_t)rank);
    a->growing = growing;
    if (growing) a->dims[0] = 0;
    hsize_t maxdims[5];
    memcpy(maxdims, a->dims, sizeof maxdims);
    if (growing) maxdims[0] = H5S_UNLIMITED;
    size_t per = H5Tget_size(ftype);
    for (int r = 1; r < rank; r++) per *= dims[r];
    /* chunks of whole samples, about 256 KiB: small enough for HDF5's 1 MiB chunk cache */
    hsize_t chunk[5];
    chunk[0] = (hsize_t)((256 << 10) / per > 0 ? (256 << 10) / per : 1);
    if (!growing && chunk[0] > dims[0]) chunk[0] = dims[0] > 0 ? dims[0] : 1;
    for (int r = 1; r < rank; r++) chunk[r] = dims[r];
    a->chunk_n = (long long)chunk[0];
    NF_H5_CHECK(space = H5Screate_simple(rank, a->dims, maxdims), NF_ERR_WRITE, "%s: dataspace", path);
    NF_H5_CHECK(lcpl = H5Pcreate(H5P_LINK_CREATE), NF_ERR_WRITE, "%s: properties", path);
    NF_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1), NF_ERR_WRITE, "%s: properties", path);
    NF_H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), NF_ERR_WRITE, "%s: properties", path);
    NF_H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), NF_ERR_WRITE, "%s: chunking", path);
    NF_H5_CHECK(H5Pset_shuffle(dcpl), NF_ERR_WRITE, "%s: shuffle filter", path);
    NF_H5_CHECK(H5Pset_deflate(dcpl, 4), NF_ERR_WRITE, "%s: gzip filter", path);
    NF_H5_CHECK(a->dset = H5Dcreate2(file, path, ftype, space, lcpl, dcpl, H5P_DEFAULT), NF_ERR_WRITE,
                "cannot create dataset %s", path);
cleanup:
    NF_H5_CLOSE(H5Pclose, dcpl);
    NF_H5_CLOSE(H5Pclose, lcpl);
    NF_H5_CLOSE(H5Sclose, space);
    return st;
}

nf_status nfd_array_create(nfd_array *a, hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                           const hsize_t *dims) {
    return create(a, file, path, ftype, mtype, rank, dims, 0);
}

nf_status nfd_array_create_growing(nfd_array *a, hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                                   const hsize_t *dims) {
    return create(a, file, path, ftype, mtype, rank, dims, 1);
}

nf_status nfd_array_append(nfd_array *a, long long n, const void *data) {
    nf_status st = NF_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t start[5] = {(hsize_t)a->written}, count[5];
    if (n <= 0) return NF_OK;
    if (a->growing) {
        hsize_t grown[5];
        memcpy(grown, a->dims, sizeof grown);
        grown[0] = (hsize_t)(a->written + n);
        NF_H5_CHECK(H5Dset_extent(a->dset, grown), NF_ERR_WRITE, "cannot grow to %lld samples", a->written + n);
        a->dims[0] = grown[0];
    }
    if (a->written + n > (long long)a->dims[0])
        return nf_fail(NF_ERR_STATE, "nfd_array_append: %lld samples past the end of %llu", a->written + n,
                       (unsigned long long)a->dims[0]);
    count[0] = (hsize_t)n;
    for (int r = 1; r < a->rank; r++) count[r] = a->dims[r];
    NF_H5_CHECK(fspace = H5Dget_space(a->dset), NF_ERR_WRITE, "append: dataspace");
    NF_H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), NF_ERR_WRITE, "append: selection");
    NF_H5_CHECK(mspace = H5Screate_simple(a->rank, count, NULL), NF_ERR_WRITE, "append: dataspace");
    NF_H5_CHECK(H5Dwrite(a->dset, a->mtype, mspace, fspace, H5P_DEFAULT, data), NF_ERR_WRITE,
                "cannot write samples [%lld, %lld)", a->written, a->written + n);
    a->written += n;
cleanup:
    NF_H5_CLOSE(H5Sclose, mspace);
    NF_H5_CLOSE(H5Sclose, fspace);
    return st;
}

nf_status nfd_array_close(nfd_array *a, nf_status st) {
    /* the close writes the chunks still in HDF5's cache: a full disk shows here */
    if (a->dset >= 0 && H5Dclose(a->dset) < 0 && st == NF_OK)
        st = nf_h5_fail(NF_ERR_WRITE, "cannot write the last samples of an array");
    a->dset = H5I_INVALID_HID;
    return st;
}

nf_status nfd_array_put_stats(nfd_array *a, const nf_chan_stats *st) {
    double *mean = nf_alloc(sizeof(double) * (size_t)st->c), *std = nf_alloc(sizeof(double) * (size_t)st->c);
    nf_status s = NF_OK;
    if (!mean || !std) s = nf_fail(NF_ERR_NOMEM, "out of memory for %d channel statistics", st->c);
    if (s == NF_OK) {
        nf_chan_stats_result(st, mean, std);
        s = nf_h5_write_double_attr(a->dset, "nflow_mean", mean, (size_t)st->c);
        if (s == NF_OK) s = nf_h5_write_double_attr(a->dset, "nflow_std", std, (size_t)st->c);
    }
    nf_free(mean);
    nf_free(std);
    return s;
}
