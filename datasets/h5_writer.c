/* The converters' output files and arrays (see h5_writer.h). */
#include "h5_writer.h"

#include <stdio.h>
#include <string.h>

nf_status nfd_out_create(nfd_out *o, const char *path) {
    o->file = H5I_INVALID_HID;
    if (!path || !path[0]) return nf_fail(NF_ERR_ARG, "no output file given");
    if (strlen(path) >= sizeof o->path) return nf_fail(NF_ERR_ARG, "output file name too long");
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->partial, sizeof o->partial, "%s.partial", path);
    o->file = H5Fcreate(o->partial, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) return nf_h5_fail(NF_ERR_IO, "cannot create '%s'", o->partial);
    return NF_OK;
}

nf_status nfd_out_finish(nfd_out *o, nf_status st) {
    if (o->file < 0) return st;
    if (st == NF_OK && H5Fflush(o->file, H5F_SCOPE_GLOBAL) < 0) st = nf_h5_fail(NF_ERR_IO, "cannot flush '%s'", o->partial);
    if (H5Fclose(o->file) < 0 && st == NF_OK) st = nf_h5_fail(NF_ERR_IO, "cannot close '%s'", o->partial);
    o->file = H5I_INVALID_HID;
    if (st == NF_OK && rename(o->partial, o->path) != 0)
        st = nf_fail(NF_ERR_IO, "cannot rename '%s' to '%s'", o->partial, o->path);
    if (st != NF_OK) remove(o->partial);
    return st;
}

nf_status nfd_array_create(nfd_array *a, hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                           const hsize_t *dims) {
    nf_status st = NF_OK;
    hid_t space = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    memset(a, 0, sizeof *a);
    a->dset = H5I_INVALID_HID;
    a->mtype = mtype;
    a->rank = rank;
    memcpy(a->dims, dims, sizeof(hsize_t) * (size_t)rank);
    size_t per = H5Tget_size(ftype);
    for (int r = 1; r < rank; r++) per *= dims[r];
    /* chunks of whole samples, about 256 KiB: small enough for HDF5's 1 MiB chunk cache */
    hsize_t chunk[5];
    chunk[0] = (hsize_t)((256 << 10) / per > 0 ? (256 << 10) / per : 1);
    if (chunk[0] > dims[0]) chunk[0] = dims[0] > 0 ? dims[0] : 1;
    for (int r = 1; r < rank; r++) chunk[r] = dims[r];
    a->chunk_n = (long long)chunk[0];
    NF_H5_CHECK(space = H5Screate_simple(rank, dims, NULL), NF_ERR_IO, "%s: dataspace", path);
    NF_H5_CHECK(lcpl = H5Pcreate(H5P_LINK_CREATE), NF_ERR_IO, "%s: properties", path);
    NF_H5_CHECK(H5Pset_create_intermediate_group(lcpl, 1), NF_ERR_IO, "%s: properties", path);
    NF_H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), NF_ERR_IO, "%s: properties", path);
    NF_H5_CHECK(H5Pset_chunk(dcpl, rank, chunk), NF_ERR_IO, "%s: chunking", path);
    NF_H5_CHECK(H5Pset_shuffle(dcpl), NF_ERR_IO, "%s: shuffle filter", path);
    NF_H5_CHECK(H5Pset_deflate(dcpl, 4), NF_ERR_IO, "%s: gzip filter", path);
    NF_H5_CHECK(a->dset = H5Dcreate2(file, path, ftype, space, lcpl, dcpl, H5P_DEFAULT), NF_ERR_IO,
                "cannot create dataset %s", path);
cleanup:
    NF_H5_CLOSE(H5Pclose, dcpl);
    NF_H5_CLOSE(H5Pclose, lcpl);
    NF_H5_CLOSE(H5Sclose, space);
    return st;
}

nf_status nfd_array_append(nfd_array *a, long long n, const void *data) {
    nf_status st = NF_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t start[5] = {(hsize_t)a->written}, count[5];
    if (n <= 0) return NF_OK;
    if (a->written + n > (long long)a->dims[0])
        return nf_fail(NF_ERR_STATE, "nfd_array_append: %lld samples past the end of %llu", a->written + n,
                       (unsigned long long)a->dims[0]);
    count[0] = (hsize_t)n;
    for (int r = 1; r < a->rank; r++) count[r] = a->dims[r];
    NF_H5_CHECK(fspace = H5Dget_space(a->dset), NF_ERR_IO, "append: dataspace");
    NF_H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), NF_ERR_IO, "append: selection");
    NF_H5_CHECK(mspace = H5Screate_simple(a->rank, count, NULL), NF_ERR_IO, "append: dataspace");
    NF_H5_CHECK(H5Dwrite(a->dset, a->mtype, mspace, fspace, H5P_DEFAULT, data), NF_ERR_IO,
                "cannot write samples [%lld, %lld)", a->written, a->written + n);
    a->written += n;
cleanup:
    NF_H5_CLOSE(H5Sclose, mspace);
    NF_H5_CLOSE(H5Sclose, fspace);
    return st;
}

void nfd_array_close(nfd_array *a) { NF_H5_CLOSE(H5Dclose, a->dset); }

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
