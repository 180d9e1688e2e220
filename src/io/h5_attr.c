/* Reading and writing attributes (declared in nflow/h5.h). */
#include "io/h5_check.h"

#include <stdio.h>

/* Opens attribute name of obj: 1 opened (*attr set), 0 absent, -1 failed (message set). */
static int open_attr(hid_t obj, const char *name, hid_t *attr) {
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0) {
        nf_h5_fail(NF_ERR_FORMAT, "cannot look up attribute '%s'", name);
        return -1;
    }
    if (!exists) return 0;
    *attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (*attr < 0) {
        nf_h5_fail(NF_ERR_FORMAT, "cannot open attribute '%s'", name);
        return -1;
    }
    return 1;
}

int nf_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t cap) {
    nf_status st = NF_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    int found = open_attr(obj, name, &attr);
    if (found <= 0) return found;
    NF_H5_CHECK(ftype = H5Aget_type(attr), NF_ERR_FORMAT, "attribute '%s': no type", name);
    if (H5Tget_class(ftype) != H5T_STRING) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' is not a string", name);
        goto cleanup;
    }
    NF_H5_CHECK(mtype = H5Tcopy(H5T_C_S1), NF_ERR_FORMAT, "attribute '%s': string type", name);
    /* HDF5 does not convert between character sets: read UTF-8 (h5py's str) as UTF-8 */
    NF_H5_CHECK(H5Tset_cset(mtype, H5Tget_cset(ftype)), NF_ERR_FORMAT, "attribute '%s': character set", name);
    if (H5Tis_variable_str(ftype) > 0) {
        char *s = NULL;
        NF_H5_CHECK(H5Tset_size(mtype, H5T_VARIABLE), NF_ERR_FORMAT, "attribute '%s'", name);
        NF_H5_CHECK(H5Aread(attr, mtype, &s), NF_ERR_FORMAT, "cannot read attribute '%s'", name);
        snprintf(buf, cap, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        size_t n = H5Tget_size(ftype);
        char tmp[256] = "";
        if (n == 0 || n >= sizeof tmp) {
            st = nf_fail(NF_ERR_FORMAT, "attribute '%s': string of %zu bytes", name, n);
            goto cleanup;
        }
        NF_H5_CHECK(H5Tset_size(mtype, n + 1), NF_ERR_FORMAT, "attribute '%s'", name);
        NF_H5_CHECK(H5Aread(attr, mtype, tmp), NF_ERR_FORMAT, "cannot read attribute '%s'", name);
        snprintf(buf, cap, "%s", tmp);
    }
cleanup:
    NF_H5_CLOSE(H5Tclose, mtype);
    NF_H5_CLOSE(H5Tclose, ftype);
    NF_H5_CLOSE(H5Aclose, attr);
    return st != NF_OK ? -1 : found;
}

int nf_h5_read_double_attr(hid_t obj, const char *name, double *out, size_t count) {
    nf_status st = NF_OK;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int found = open_attr(obj, name, &attr);
    if (found <= 0) return found;
    NF_H5_CHECK(space = H5Aget_space(attr), NF_ERR_FORMAT, "attribute '%s': no dataspace", name);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n != (hssize_t)count) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' has %lld values, expected %zu", name, (long long)n, count);
        goto cleanup;
    }
    NF_H5_CHECK(H5Aread(attr, H5T_NATIVE_DOUBLE, out), NF_ERR_FORMAT, "attribute '%s' is not numeric", name);
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    NF_H5_CLOSE(H5Aclose, attr);
    return st != NF_OK ? -1 : found;
}

/* Writes one attribute of type ftype over space from memory type mtype. */
static nf_status write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hid_t space, const void *v) {
    nf_status st = NF_OK;
    hid_t attr = H5I_INVALID_HID;
    NF_H5_CHECK(attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT), NF_ERR_IO,
                "cannot create attribute '%s'", name);
    NF_H5_CHECK(H5Awrite(attr, mtype, v), NF_ERR_IO, "cannot write attribute '%s'", name);
cleanup:
    NF_H5_CLOSE(H5Aclose, attr);
    return st;
}

nf_status nf_h5_write_string_attr(hid_t obj, const char *name, const char *value) {
    nf_status st = NF_OK;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    NF_H5_CHECK(type = H5Tcopy(H5T_C_S1), NF_ERR_IO, "attribute '%s': string type", name);
    NF_H5_CHECK(H5Tset_size(type, H5T_VARIABLE), NF_ERR_IO, "attribute '%s': string type", name);
    NF_H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8), NF_ERR_IO, "attribute '%s': string type", name);
    NF_H5_CHECK(space = H5Screate(H5S_SCALAR), NF_ERR_IO, "attribute '%s': dataspace", name);
    NF_H5_TRY(write_attr(obj, name, type, type, space, &value));
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    NF_H5_CLOSE(H5Tclose, type);
    return st;
}

nf_status nf_h5_write_double_attr(hid_t obj, const char *name, const double *v, size_t count) {
    nf_status st = NF_OK;
    hid_t space = H5I_INVALID_HID;
    hsize_t n = count;
    NF_H5_CHECK(space = count ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR), NF_ERR_IO,
                "attribute '%s': dataspace", name);
    NF_H5_TRY(write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, v));
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    return st;
}

nf_status nf_h5_write_i64_attr(hid_t obj, const char *name, long long v) {
    nf_status st = NF_OK;
    hid_t space = H5I_INVALID_HID;
    NF_H5_CHECK(space = H5Screate(H5S_SCALAR), NF_ERR_IO, "attribute '%s': dataspace", name);
    NF_H5_TRY(write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, space, &v));
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    return st;
}
