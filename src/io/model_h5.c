/* HDF5 helpers of the model and checkpoint files (see model_h5.h). Each function
 * closes what it opened through a single cleanup path, in reverse order. */
#include "io/model_h5.h"

#include "io/h5_image.h"
#include "io/model_stamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

nf_status model_h5_prefix(nf_status s, const char *who, const char *path) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", nf_last_error());
    return nf_fail(s, "%s('%s'): %s", who, path ? path : "(null)", msg);
}

/* ---------------------------------------------------------------- files */

/* Keeps a group's attributes and links compact, in its checksummed object header:
 * dense storage would put them in a heap whose blocks carry no checksum. */
static herr_t keep_compact(hid_t gcpl) {
    if (H5Pset_obj_track_times(gcpl, 0) < 0) return -1; /* no clock in the file: same model, same bytes */
    if (H5Pset_attr_phase_change(gcpl, 65535, 0) < 0) return -1;
    return H5Pset_link_phase_change(gcpl, 65535, 0);
}

hid_t model_h5_create_fcpl(void) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE); /* also the root group's creation list */
    if (fcpl >= 0 && (keep_compact(fcpl) < 0 || H5Pset_userblock(fcpl, MODEL_STAMP_BYTES) < 0)) {
        H5Pclose(fcpl);
        return -1;
    }
    return fcpl;
}

hid_t model_h5_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    /* The 1.10 file format: every metadata block (superblock, object headers, B-tree
     * nodes) carries a checksum, and a one-chunk dataset is indexed from its
     * checksummed object header rather than a B-tree node without one. Readable by
     * HDF5 1.10 and later (h5py >= 2.7). Strong close: closing the file closes
     * whatever an error path left open. */
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

nf_status model_h5_open(const h5_input *src, hid_t *file) {
    *file = -1;
    /* the stamp before HDF5 parses anything */
    NF_TRY(src->data ? model_stamp_check_image(src->data, src->size) : model_stamp_check(src->path));
    hid_t fapl = model_h5_fapl();
    if (fapl < 0) return nf_h5_fail(NF_ERR_IO, "cannot set up HDF5 file access");
    nf_status st = NF_OK;
    if (src->data) st = h5_image_open(src->data, src->size, fapl, file);
    else if ((*file = H5Fopen(src->path, H5F_ACC_RDONLY, fapl)) < 0)
        st = nf_h5_fail(NF_ERR_FORMAT, "not an HDF5 file, or a truncated or corrupted one");
    H5Pclose(fapl);
    return st;
}

void model_h5_close(hid_t file) {
    if (file >= 0) H5Fclose(file);
}

/* ---------------------------------------------------------------- attributes */

/* n < 0: a scalar; else a 1-D array of n values. */
static nf_status attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype, int n, const void *v) {
    nf_status st = NF_OK;
    hsize_t dim = (hsize_t)(n < 0 ? 0 : n);
    hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID;
    NF_H5_CHECK(space = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL), NF_ERR_IO,
                "attribute '%s': no dataspace", name);
    NF_H5_CHECK(a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT), NF_ERR_IO,
                "cannot create attribute '%s'", name);
    NF_H5_CHECK(H5Awrite(a, mtype, v), NF_ERR_IO, "cannot write attribute '%s'", name);
cleanup:
    NF_H5_CLOSE(H5Aclose, a);
    NF_H5_CLOSE(H5Sclose, space);
    return st;
}

nf_status model_attr_put_i64(hid_t obj, const char *name, long long v) {
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, -1, &v);
}
nf_status model_attr_put_u64(hid_t obj, const char *name, uint64_t v) {
    return attr_write(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, -1, &v);
}
nf_status model_attr_put_f64(hid_t obj, const char *name, double v) {
    return attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, -1, &v);
}
nf_status model_attr_put_i64v(hid_t obj, const char *name, const long long *v, int n) {
    return attr_write(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, n, v);
}
nf_status model_attr_put_u64v(hid_t obj, const char *name, const uint64_t *v, int n) {
    return attr_write(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, n, v);
}

nf_status model_attr_put_str(hid_t obj, const char *name, const char *s) {
    size_t len = strlen(s);
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
        if (t >= 0) H5Tclose(t);
        return nf_h5_fail(NF_ERR_IO, "cannot make a string type for attribute '%s'", name);
    }
    char one = 0;
    nf_status st = attr_write(obj, name, t, t, -1, len ? s : &one);
    H5Tclose(t);
    return st;
}

int model_attr_exists(hid_t obj, const char *name) {
    htri_t e = H5Aexists(obj, name);
    if (e < 0) nf_h5_fail(NF_ERR_FORMAT, "cannot look up attribute '%s'", name);
    return e < 0 ? -1 : e > 0;
}

/* Opens attribute name with its type and dataspace; fails if it is missing. */
static nf_status attr_open(hid_t obj, const char *name, hid_t *a, hid_t *type, hid_t *space) {
    int e = model_attr_exists(obj, name);
    if (e <= 0) return e < 0 ? NF_ERR_FORMAT : nf_fail(NF_ERR_FORMAT, "attribute '%s' is missing", name);
    if ((*a = H5Aopen(obj, name, H5P_DEFAULT)) < 0) return nf_h5_fail(NF_ERR_FORMAT, "cannot open attribute '%s'", name);
    if ((*type = H5Aget_type(*a)) < 0 || (*space = H5Aget_space(*a)) < 0)
        return nf_h5_fail(NF_ERR_FORMAT, "cannot read the type and shape of attribute '%s'", name);
    return NF_OK;
}

/* Reads count integers (count 1 also accepts a scalar) as mtype after checking the
 * attribute exists, holds integers and has that many values. */
static nf_status int_attr_read(hid_t obj, const char *name, hid_t mtype, int count, void *v) {
    nf_status st = NF_OK;
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, space = H5I_INVALID_HID;
    NF_H5_TRY(attr_open(obj, name, &a, &t, &space));
    hssize_t npts = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(t) != H5T_INTEGER) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' should hold integers", name);
    } else if (npts != count || H5Sget_simple_extent_ndims(space) > 1) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' holds %lld values, expected %d", name, (long long)npts, count);
    } else {
        NF_H5_CHECK(H5Aread(a, mtype, v), NF_ERR_FORMAT, "cannot read attribute '%s'", name);
    }
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    NF_H5_CLOSE(H5Tclose, t);
    NF_H5_CLOSE(H5Aclose, a);
    return st;
}

nf_status model_attr_get_i64(hid_t obj, const char *name, long long *v) {
    return int_attr_read(obj, name, H5T_NATIVE_LLONG, 1, v);
}
nf_status model_attr_get_u64(hid_t obj, const char *name, uint64_t *v) {
    return int_attr_read(obj, name, H5T_NATIVE_UINT64, 1, v);
}
nf_status model_attr_get_i64v(hid_t obj, const char *name, long long *v, int n) {
    return int_attr_read(obj, name, H5T_NATIVE_LLONG, n, v);
}
nf_status model_attr_get_u64v(hid_t obj, const char *name, uint64_t *v, int n) {
    return int_attr_read(obj, name, H5T_NATIVE_UINT64, n, v);
}

/* Fixed or variable length, ASCII or UTF-8 (h5py writes a Python str as variable-length
 * UTF-8): the memory type takes the file's character set, since HDF5 does not convert
 * between character sets. */
nf_status model_attr_get_str(hid_t obj, const char *name, char *buf, size_t size) {
    nf_status st = NF_OK;
    hid_t a = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID, space = H5I_INVALID_HID;
    char *vs = NULL;
    NF_H5_TRY(attr_open(obj, name, &a, &ftype, &space));
    if (H5Tget_class(ftype) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' should hold one string", name);
        goto cleanup;
    }
    NF_H5_CHECK(mtype = H5Tcopy(H5T_C_S1), NF_ERR_FORMAT, "attribute '%s': string type", name);
    NF_H5_CHECK(H5Tset_cset(mtype, H5Tget_cset(ftype)), NF_ERR_FORMAT, "attribute '%s': character set", name);
    size_t len;
    if (H5Tis_variable_str(ftype) > 0) {
        NF_H5_CHECK(H5Tset_size(mtype, H5T_VARIABLE), NF_ERR_FORMAT, "attribute '%s': string type", name);
        NF_H5_CHECK(H5Aread(a, mtype, &vs), NF_ERR_FORMAT, "cannot read attribute '%s'", name);
        len = vs ? strlen(vs) : 0;
        if (len < size) memcpy(buf, vs ? vs : "", len + 1);
    } else {
        len = H5Tget_size(ftype);
        if (len < size) {
            memset(buf, 0, size);
            NF_H5_CHECK(H5Tset_size(mtype, len), NF_ERR_FORMAT, "attribute '%s': string type", name);
            NF_H5_CHECK(H5Tset_strpad(mtype, H5T_STR_NULLPAD), NF_ERR_FORMAT, "attribute '%s'", name);
            NF_H5_CHECK(H5Aread(a, mtype, buf), NF_ERR_FORMAT, "cannot read attribute '%s'", name);
        }
    }
    if (len >= size) st = nf_fail(NF_ERR_FORMAT, "attribute '%s' is longer than %zu characters", name, size - 1);
cleanup:
    if (vs) H5free_memory(vs);
    NF_H5_CLOSE(H5Tclose, mtype);
    NF_H5_CLOSE(H5Sclose, space);
    NF_H5_CLOSE(H5Tclose, ftype);
    NF_H5_CLOSE(H5Aclose, a);
    return st;
}

nf_status model_attr_get_f64(hid_t obj, const char *name, double *v) {
    int r = nf_h5_read_double_attr(obj, name, v, 1); /* 1 read, 0 absent, -1 failed with a message */
    if (r == 0) return nf_fail(NF_ERR_FORMAT, "attribute '%s' is missing", name);
    return r < 0 ? NF_ERR_FORMAT : NF_OK;
}

/* ---------------------------------------------------------------- groups and datasets */

/* 1 if loc has a link called name, 0 if not; failure recorded as "what: ...". */
static nf_status link_exists(hid_t loc, const char *name, const char *kind, const char *what, int *yes) {
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e < 0) return nf_h5_fail(NF_ERR_FORMAT, "%s: cannot look up %s '%s'", what, kind, name);
    *yes = e > 0;
    if (!*yes) return nf_fail(NF_ERR_FORMAT, "%s: %s '%s' is missing", what, kind, name);
    H5O_info_t info;
    if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return nf_h5_fail(NF_ERR_FORMAT, "%s: cannot read the header of %s '%s'", what, kind, name);
    return NF_OK;
}

nf_status model_group_create(hid_t loc, const char *name, hid_t *group) {
    nf_status st = NF_OK;
    hid_t gcpl = H5I_INVALID_HID;
    *group = H5I_INVALID_HID;
    NF_H5_CHECK(gcpl = H5Pcreate(H5P_GROUP_CREATE), NF_ERR_IO, "group '%s': no property list", name);
    NF_H5_CHECK(keep_compact(gcpl), NF_ERR_IO, "group '%s': property list", name);
    NF_H5_CHECK(*group = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT), NF_ERR_IO, "cannot create group '%s'",
                name);
cleanup:
    NF_H5_CLOSE(H5Pclose, gcpl);
    return st;
}

nf_status model_group_open(hid_t loc, const char *name, const char *what, hid_t *group) {
    int yes;
    *group = H5I_INVALID_HID;
    NF_TRY(link_exists(loc, name, "group", what, &yes));
    *group = H5Gopen2(loc, name, H5P_DEFAULT);
    if (*group < 0) return nf_h5_fail(NF_ERR_FORMAT, "%s: cannot open group '%s'", what, name);
    return NF_OK;
}

void model_shape_str(char *buf, size_t size, int rank, const hsize_t *dims) {
    size_t k = (size_t)snprintf(buf, size, "(");
    for (int r = 0; r < rank && k < size; r++)
        k += (size_t)snprintf(buf + k, size - k, "%s%llu", r ? ", " : "", (unsigned long long)dims[r]);
    if (k < size) snprintf(buf + k, size - k, rank == 1 ? ",)" : ")");
}

nf_status model_dset_write(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data,
                           hid_t *dset_out) {
    nf_status st = NF_OK;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, d = H5I_INVALID_HID;
    int empty = 0;
    for (int r = 0; r < rank; r++) empty |= dims[r] == 0;
    NF_H5_CHECK(space = H5Screate_simple(rank, dims, NULL), NF_ERR_IO, "dataset '%s': no dataspace", name);
    NF_H5_CHECK(dcpl = H5Pcreate(H5P_DATASET_CREATE), NF_ERR_IO, "dataset '%s': no property list", name);
    NF_H5_CHECK(H5Pset_obj_track_times(dcpl, 0), NF_ERR_IO, "dataset '%s': property list", name);
    if (!empty) { /* one chunk holding the whole block: Fletcher-32 is a filter, filters need chunks */
        NF_H5_CHECK(H5Pset_chunk(dcpl, rank, dims), NF_ERR_IO, "dataset '%s': cannot chunk", name);
        NF_H5_CHECK(H5Pset_fletcher32(dcpl), NF_ERR_IO, "dataset '%s': no checksum filter", name);
    }
    NF_H5_CHECK(d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), NF_ERR_IO,
                "cannot create dataset '%s'", name);
    if (!empty)
        NF_H5_CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), NF_ERR_IO,
                    "cannot write dataset '%s'", name);
    if (dset_out) {
        *dset_out = d;
        d = H5I_INVALID_HID;
    }
cleanup:
    NF_H5_CLOSE(H5Dclose, d);
    NF_H5_CLOSE(H5Pclose, dcpl);
    NF_H5_CLOSE(H5Sclose, space);
    return st;
}

/* Fails unless space has exactly shape dims; what and name make the message. */
static nf_status check_shape(hid_t space, int rank, const hsize_t *dims, const char *what, const char *name) {
    hsize_t got[H5S_MAX_RANK];
    int grank = H5Sget_simple_extent_ndims(space);
    int same = grank == rank && H5Sget_simple_extent_dims(space, got, NULL) == rank;
    for (int r = 0; same && r < rank; r++) same = got[r] == dims[r];
    if (same) return NF_OK;
    char want_s[96], got_s[96] = "(unreadable)";
    model_shape_str(want_s, sizeof want_s, rank, dims);
    if (grank >= 0 && H5Sget_simple_extent_dims(space, got, NULL) == grank) model_shape_str(got_s, sizeof got_s, grank, got);
    return nf_fail(NF_ERR_FORMAT, "%s: dataset '%s' has shape %s, the rebuilt layer expects %s", what, name, got_s,
                   want_s);
}

nf_status model_dset_read(hid_t loc, const char *name, int rank, const hsize_t *dims, float *data,
                          const char *what) {
    nf_status st = NF_OK;
    hid_t d = H5I_INVALID_HID, t = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int yes;
    NF_H5_TRY(link_exists(loc, name, "dataset", what, &yes));
    NF_H5_CHECK(d = H5Dopen2(loc, name, H5P_DEFAULT), NF_ERR_FORMAT, "%s: '%s' is not a readable dataset", what, name);
    NF_H5_CHECK(t = H5Dget_type(d), NF_ERR_FORMAT, "%s: dataset '%s' has no type", what, name);
    NF_H5_CHECK(space = H5Dget_space(d), NF_ERR_FORMAT, "%s: dataset '%s' has no shape", what, name);
    if (H5Tget_class(t) != H5T_FLOAT) {
        st = nf_fail(NF_ERR_FORMAT, "%s: dataset '%s' does not hold floating-point values", what, name);
        goto cleanup;
    }
    NF_H5_TRY(check_shape(space, rank, dims, what, name));
    if (H5Sget_simple_extent_npoints(space) > 0)
        NF_H5_CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), NF_ERR_FORMAT,
                    "%s: cannot read dataset '%s' (corrupted file?)", what, name);
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    NF_H5_CLOSE(H5Tclose, t);
    NF_H5_CLOSE(H5Dclose, d);
    return st;
}
