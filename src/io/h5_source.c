/* Opening, inspecting and reading one HDF5 dataset by hyperslab (see h5_source.h). */
#include "io/h5_source.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The buffer type for a file type, or -1 if the role does not accept it. */
static int elem_of(hid_t ftype, nf_h5_role role, int *is_integer) {
    H5T_class_t cls = H5Tget_class(ftype);
    size_t size = H5Tget_size(ftype);
    *is_integer = cls == H5T_INTEGER;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) return -1;
    if (role == NF_H5_COND) return NF_H5_F32;
    /* float16 and other floats HDF5 describes (a bfloat16 written as a custom type) are
     * converted to float by H5Dread; float32/float64 are read as they are */
    if (cls == H5T_FLOAT) return size == 8 ? NF_H5_F64 : size <= 4 ? NF_H5_F32 : -1;
    int is_signed = H5Tget_sign(ftype) == H5T_SGN_2;
    if (size == 1 && !is_signed) return NF_H5_U8;
    if (size == 2) return is_signed ? NF_H5_I16 : NF_H5_U16;
    return -1;
}

static const size_t elem_bytes[] = {1, 2, 2, 4, 8};

static hid_t native_of(nf_h5_elem e) {
    switch (e) {
    case NF_H5_U8: return H5T_NATIVE_UCHAR;
    case NF_H5_U16: return H5T_NATIVE_USHORT;
    case NF_H5_I16: return H5T_NATIVE_SHORT;
    case NF_H5_F32: return H5T_NATIVE_FLOAT;
    case NF_H5_F64: return H5T_NATIVE_DOUBLE;
    }
    return H5T_NATIVE_FLOAT;
}

#define SAMPLE_ELEMS_MAX (1ull << 32) /* elements in one sample (16 GiB of float) */

/* Per-sample NCDHW shape from the stored dims and the layout's axis names. */
static nf_status sample_shape(nf_h5_source *s, nf_h5_role role, nf_layout want) {
    int r = s->rank;
    if (role == NF_H5_DATA && r < 2)
        return nf_fail(NF_ERR_FORMAT, "%s has rank %d; expected (N, C), (N, H, W), (N, C, H, W), (N, H, W, C) or "
                       "(N, C, D, H, W)", s->name, r);
    char layout[32] = "";
    if (nf_h5_read_string_attr(s->dset, "nflow_layout", layout, sizeof layout) < 0)
        return nf_h5_source_failed(s, NF_ERR_FORMAT);
    NF_TRY(nf_h5_layout_decide(&s->layout, s->name, r, s->dims, layout, role == NF_H5_DATA ? want : NF_LAYOUT_AUTO,
                               role == NF_H5_DATA));
    if (s->layout.worth_saying)
        nf_h5_layout_note(&s->layout, s->name, r, s->dims, s->layout_note, sizeof s->layout_note);
    nf_shape sh = {0, 1, 1, 1, 1};
    /* a header may claim any size: a sample must fit nf_shape's ints and memory, or the
     * (int) below would wrap and the hyperslab reads run far past the buffers */
    unsigned long long elems = 1;
    for (int a = 1; a < r; a++) {
        if (s->dims[a] > (hsize_t)INT_MAX || (elems *= (unsigned long long)s->dims[a]) > SAMPLE_ELEMS_MAX)
            return nf_fail(NF_ERR_FORMAT, "%s: samples of %llu elements or more along axis %d are too large (at most "
                           "%llu elements per sample)", s->name, (unsigned long long)s->dims[a], a,
                           (unsigned long long)SAMPLE_ELEMS_MAX);
    }
    for (int a = 1; a < r; a++) {
        int v = (int)s->dims[a];
        switch (s->layout.axes[a]) {
        case 'C': sh.c = v; break;
        case 'D': sh.d = v; break;
        case 'H': sh.h = v; break;
        case 'W': sh.w = v; break;
        }
    }
    s->sample = sh;
    s->sample_elems = nf_shape_sample_count(sh);
    if (s->sample_elems == 0) return nf_fail(NF_ERR_FORMAT, "%s has samples of zero size", s->name);
    return NF_OK;
}

/* Opens the file read-only: NF_ERR_IO naming it when it is missing, not HDF5 or unreadable. */
static nf_status open_file(const h5_input *in, hid_t *file) {
    const char *name = in->path;
    if (in->data) {
        if (h5_image_open(in->data, in->size, H5P_DEFAULT, file) == NF_OK) return NF_OK;
        return nf_fail(NF_ERR_IO, "'%s' is not an HDF5 file, or a truncated or corrupted one", name);
    }
    FILE *probe = fopen(name, "rb");
    if (!probe) return nf_fail(NF_ERR_IO, "cannot open '%s': %s", name, strerror(errno));
    fclose(probe);
    if (H5Fis_hdf5(name) <= 0) return nf_h5_fail(NF_ERR_IO, "'%s' is not an HDF5 file", name);
    if ((*file = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return nf_h5_fail(NF_ERR_IO, "cannot open '%s' (truncated or corrupted?)", name);
    return NF_OK;
}

/* The bytes the dataset's storage takes in the file must be what its shape needs.
 * HDF5 1.10.8 allocates a buffer of the size recorded in the file and copies the size
 * the shape gives out of it: a corrupted file read past that buffer (CVE-2025-44904 for
 * unfiltered chunks; the same copy for compact data, whose recorded size it does not
 * check either). Checked at open: compact data must take exactly its bytes, contiguous
 * data its bytes or nothing (never written: read as fill values), unfiltered chunks
 * (stored whole) their count times the chunk's bytes (one pass over the chunk index;
 * wrong sizes that cancel out in the sum are not caught). Filtered chunks vary in size.
 * Storage larger than the file is corrupted whatever the layout (HDF5 allocated the 4 GB
 * that a fuzzed gzip chunk recorded, for a 10 KB file, before reading it).
 * A chunk longer than a fixed axis (HDF5 refuses to create one) is corrupted too: HDF5
 * allocates and fills a whole chunk for every read (a fuzzed file claimed 75 MB chunks
 * for a 10 KB dataset and each batch took seconds). */
static nf_status check_storage(const nf_h5_source *s, hid_t space, hid_t dcpl, hid_t ftype) {
    H5D_layout_t layout = H5Pget_layout(dcpl);
    unsigned long long bytes = H5Tget_size(ftype), count = 1;
    hsize_t stored = H5Dget_storage_size(s->dset), fsize = 0;
    if (H5Pget_external_count(dcpl) == 0 && H5Fget_filesize(s->file, &fsize) >= 0 && stored > fsize)
        return nf_fail(NF_ERR_FORMAT, "%s: its data take %llu bytes in a file of %llu (corrupted file)", s->name,
                       (unsigned long long)stored, (unsigned long long)fsize);
    if (layout == H5D_COMPACT || layout == H5D_CONTIGUOUS) {
        bytes *= (unsigned long long)H5Sget_simple_extent_npoints(space);
    } else if (layout == H5D_CHUNKED) {
        hsize_t chunk[5], dims[5], maxdims[5], n;
        int crank = H5Pget_chunk(dcpl, 5, chunk);
        if (crank != H5Sget_simple_extent_dims(space, dims, maxdims))
            return nf_h5_fail(NF_ERR_FORMAT, "%s: unreadable chunk shape", s->name);
        for (int r = 0; r < crank; r++)
            if (chunk[r] == 0 || (maxdims[r] != H5S_UNLIMITED && chunk[r] > maxdims[r]))
                return nf_fail(NF_ERR_FORMAT, "%s: chunks of %llu along axis %d, which holds at most %llu (corrupted "
                               "file)", s->name, (unsigned long long)chunk[r], r, (unsigned long long)maxdims[r]);
        int nfilters = H5Pget_nfilters(dcpl);
        if (nfilters != 0) return nfilters < 0 ? nf_h5_fail(NF_ERR_FORMAT, "%s: unreadable filters", s->name) : NF_OK;
        if (H5Dget_num_chunks(s->dset, space, &n) < 0)
            return nf_h5_fail(NF_ERR_FORMAT, "%s: unreadable chunk index", s->name);
        for (int r = 0; r < crank; r++) bytes *= chunk[r];
        count = n;
    } else {
        return NF_OK;
    }
    if (stored == (hsize_t)(count * bytes) || (layout == H5D_CONTIGUOUS && stored == 0)) return NF_OK;
    if (layout == H5D_CHUNKED)
        return nf_fail(NF_ERR_FORMAT, "%s: its %llu unfiltered chunks of %llu bytes take %llu bytes in the file "
                       "(corrupted file)", s->name, count, bytes, (unsigned long long)stored);
    return nf_fail(NF_ERR_FORMAT, "%s: its %llu bytes of data take %llu bytes in the file (corrupted file)", s->name,
                   bytes, (unsigned long long)stored);
}

nf_status nf_h5_source_open(nf_h5_source *s, const h5_input *in, const char *path, nf_h5_role role,
                            nf_layout want) {
    memset(s, 0, sizeof *s);
    s->file = s->dset = H5I_INVALID_HID;
    const char *file = in->path;
    snprintf(s->name, sizeof s->name, "%s:%s", file, path);
    nf_status st = NF_OK;
    hid_t space = H5I_INVALID_HID, ftype = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    NF_TRY(open_file(in, &s->file));
    htri_t there = H5Lexists(s->file, path, H5P_DEFAULT);
    NF_H5_CHECK(there, NF_ERR_FORMAT, "'%s' has no dataset '%s'", file, path);
    if (!there) {
        st = nf_fail(NF_ERR_FORMAT, "'%s' has no dataset '%s'", file, path);
        goto cleanup;
    }
    NF_H5_CHECK(s->dset = H5Dopen2(s->file, path, H5P_DEFAULT), NF_ERR_FORMAT, "'%s': '%s' is not a dataset", file,
                path);
    NF_H5_CHECK(space = H5Dget_space(s->dset), NF_ERR_FORMAT, "%s: no dataspace", s->name);
    s->rank = H5Sget_simple_extent_ndims(space);
    if (s->rank < 1 || s->rank > 5) {
        st = nf_fail(NF_ERR_FORMAT, "%s has rank %d; expected 2 to 5 axes, e.g. (N, C, H, W) or (N, H, W, C)", s->name,
                     s->rank);
        goto cleanup;
    }
    H5Sget_simple_extent_dims(space, s->dims, NULL);
    s->n = (long long)s->dims[0];
    NF_H5_CHECK(ftype = H5Dget_type(s->dset), NF_ERR_FORMAT, "%s: no element type", s->name);
    int elem = elem_of(ftype, role, &s->is_integer);
    if (elem < 0) {
        st = nf_fail(NF_ERR_FORMAT, "%s: element type (class %d, %zu bytes) is not supported; use %s", s->name,
                     (int)H5Tget_class(ftype), H5Tget_size(ftype),
                     role == NF_H5_DATA ? "uint8, uint16, int16, float16, float32 or float64" : "integers or floats");
        goto cleanup;
    }
    s->elem = (nf_h5_elem)elem;
    s->mtype = native_of(s->elem);
    NF_H5_TRY(sample_shape(s, role, want));
    s->sample_bytes = s->sample_elems * elem_bytes[s->elem];
    s->bits = s->elem == NF_H5_U8 ? 8 : 16;
    double bits;
    int has_bits = nf_h5_read_double_attr(s->dset, "nflow_bits", &bits, 1);
    if (has_bits < 0) {
        st = nf_h5_source_failed(s, NF_ERR_FORMAT);
        goto cleanup;
    }
    if (has_bits && role == NF_H5_DATA && s->is_integer) {
        if (!(bits >= 1 && bits <= s->bits && bits == (int)bits)) {
            st = nf_fail(NF_ERR_FORMAT, "%s: nflow_bits = %g, expected an integer in [1, %d]", s->name, bits, s->bits);
            goto cleanup;
        }
        s->bits = (int)bits;
    }
    s->chunk_n = 1;
    NF_H5_CHECK(dcpl = H5Dget_create_plist(s->dset), NF_ERR_FORMAT, "%s: no creation properties", s->name);
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunk[5];
        NF_H5_CHECK(H5Pget_chunk(dcpl, 5, chunk), NF_ERR_FORMAT, "%s: unreadable chunk shape", s->name);
        s->chunk_n = (long long)chunk[0];
    }
    NF_H5_TRY(check_storage(s, space, dcpl, ftype));
cleanup:
    NF_H5_CLOSE(H5Pclose, dcpl);
    NF_H5_CLOSE(H5Tclose, ftype);
    NF_H5_CLOSE(H5Sclose, space);
    if (st != NF_OK) nf_h5_source_close(s);
    return st;
}

nf_status nf_h5_source_failed(const nf_h5_source *s, nf_status st) {
    char why[512];
    snprintf(why, sizeof why, "%s", nf_last_error());
    return nf_fail(st, "%s: %s", s->name, why);
}

void nf_h5_source_close(nf_h5_source *s) {
    if (!s) return;
    NF_H5_CLOSE(H5Dclose, s->dset);
    NF_H5_CLOSE(H5Fclose, s->file);
}

nf_status nf_h5_source_read(const nf_h5_source *s, const long long *first, const long long *len, int nblocks,
                            void *buf) {
    nf_status st = NF_OK;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hsize_t start[5] = {0}, count[5];
    unsigned char *dst = buf;
    for (int r = 1; r < s->rank; r++) count[r] = s->dims[r];
    NF_H5_CHECK(fspace = H5Dget_space(s->dset), NF_ERR_IO, "%s: no dataspace", s->name);
    /* one read per block with a memory space of the block's own shape: HDF5 then copies
     * whole chunks, where a union of blocks into a flat buffer goes element by element
     * (measured 60x slower on a gzip-chunked dataset) */
    for (int b = 0; b < nblocks; b++) {
        start[0] = (hsize_t)first[b];
        count[0] = (hsize_t)len[b];
        NF_H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL), NF_ERR_IO,
                    "%s: cannot select samples [%lld, %lld)", s->name, first[b], first[b] + len[b]);
        NF_H5_CHECK(mspace = H5Screate_simple(s->rank, count, NULL), NF_ERR_IO, "%s: memory dataspace", s->name);
        NF_H5_CHECK(H5Dread(s->dset, s->mtype, mspace, fspace, H5P_DEFAULT, dst), NF_ERR_IO,
                    "%s: reading samples [%lld, %lld) failed (corrupted or truncated file?)", s->name, first[b],
                    first[b] + len[b]);
        NF_H5_CLOSE(H5Sclose, mspace);
        dst += (size_t)len[b] * s->sample_bytes;
    }
cleanup:
    NF_H5_CLOSE(H5Sclose, mspace);
    NF_H5_CLOSE(H5Sclose, fspace);
    return st;
}

/* out[i] = src[first + i*stride] for i < count, whatever the element type. */
static void convert_strided(nf_h5_elem e, const void *src, size_t first, size_t stride, size_t count, nf_real *out) {
    switch (e) {
    case NF_H5_U8: {
        const uint8_t *v = (const uint8_t *)src + first;
        for (size_t i = 0; i < count; i++) out[i] = (nf_real)v[i * stride];
    } break;
    case NF_H5_U16: {
        const uint16_t *v = (const uint16_t *)src + first;
        for (size_t i = 0; i < count; i++) out[i] = (nf_real)v[i * stride];
    } break;
    case NF_H5_I16: {
        const int16_t *v = (const int16_t *)src + first;
        for (size_t i = 0; i < count; i++) out[i] = (nf_real)v[i * stride];
    } break;
    case NF_H5_F32: {
        const float *v = (const float *)src + first;
        for (size_t i = 0; i < count; i++) out[i] = (nf_real)v[i * stride];
    } break;
    case NF_H5_F64: {
        const double *v = (const double *)src + first;
        for (size_t i = 0; i < count; i++) out[i] = (nf_real)v[i * stride];
    } break;
    }
}

void nf_h5_source_sample(const nf_h5_source *s, const void *buf, size_t k, nf_real *out) {
    const unsigned char *p = (const unsigned char *)buf + k * s->sample_bytes;
    size_t C = (size_t)s->sample.c, S = s->sample_elems / C;
    if (!s->layout.channels_last) {
        convert_strided(s->elem, p, 0, 1, s->sample_elems, out);
        return;
    }
    /* stored (d, h, w, c): channel c is every C-th element from c */
    for (size_t c = 0; c < C; c++) convert_strided(s->elem, p, c, C, S, out + c * S);
}
