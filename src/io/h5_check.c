/* The pieces behind h5_check.h: HDF5 failures turned into one nflow message, the quiet
 * scope, dataset specs and the attribute reads every nflow HDF5 file uses. */
#include "io/h5_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* H5Ewalk2 callback: keeps the first (most specific, walking upward) description. */
static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *client) {
    char *desc = client;
    if (n == 0 && err->desc) snprintf(desc, 256, "%s", err->desc);
    return 0;
}

nf_status nf_h5_fail(nf_status s, const char *fmt, ...) {
    char msg[384], desc[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, desc);
    H5Eclear2(H5E_DEFAULT);
    if (desc[0]) return nf_fail(s, "%s (HDF5: %s)", msg, desc);
    return nf_fail(s, "%s", msg);
}

void nf_h5_quiet_begin(nf_h5_quiet *q) {
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void nf_h5_quiet_end(const nf_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

nf_status nf_h5_split_spec(const char *spec, char *file, size_t file_cap, const char **path) {
    NF_CHECK_NULL(spec);
    const char *sep = NULL;
    for (const char *p = strstr(spec, ":/"); p; p = strstr(p + 1, ":/")) sep = p;
    if (!sep || sep == spec)
        return nf_fail(NF_ERR_ARG, "dataset spec '%s' is not FILE:/PATH (e.g. data.h5:/train/x)", spec);
    size_t len = (size_t)(sep - spec);
    if (len >= file_cap) return nf_fail(NF_ERR_ARG, "dataset spec '%s': file name too long", spec);
    memcpy(file, spec, len);
    file[len] = '\0';
    *path = sep + 1;
    return NF_OK;
}

int nf_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t cap) {
    nf_status st = NF_OK;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    int found = 0;
    htri_t exists = H5Aexists(obj, name);
    NF_H5_CHECK(exists, NF_ERR_FORMAT, "cannot look up attribute '%s'", name);
    if (!exists) goto cleanup;
    NF_H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), NF_ERR_FORMAT, "cannot open attribute '%s'", name);
    NF_H5_CHECK(ftype = H5Aget_type(attr), NF_ERR_FORMAT, "attribute '%s': no type", name);
    if (H5Tget_class(ftype) != H5T_STRING) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' is not a string", name);
        goto cleanup;
    }
    NF_H5_CHECK(mtype = H5Tcopy(H5T_C_S1), NF_ERR_FORMAT, "attribute '%s': string type", name);
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
    found = 1;
cleanup:
    NF_H5_CLOSE(H5Tclose, mtype);
    NF_H5_CLOSE(H5Tclose, ftype);
    NF_H5_CLOSE(H5Aclose, attr);
    return st != NF_OK ? -1 : found;
}

int nf_h5_read_double_attr(hid_t obj, const char *name, double *out, size_t count) {
    nf_status st = NF_OK;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int found = 0;
    htri_t exists = H5Aexists(obj, name);
    NF_H5_CHECK(exists, NF_ERR_FORMAT, "cannot look up attribute '%s'", name);
    if (!exists) goto cleanup;
    NF_H5_CHECK(attr = H5Aopen(obj, name, H5P_DEFAULT), NF_ERR_FORMAT, "cannot open attribute '%s'", name);
    NF_H5_CHECK(space = H5Aget_space(attr), NF_ERR_FORMAT, "attribute '%s': no dataspace", name);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n != (hssize_t)count) {
        st = nf_fail(NF_ERR_FORMAT, "attribute '%s' has %lld values, expected %zu", name, (long long)n, count);
        goto cleanup;
    }
    NF_H5_CHECK(H5Aread(attr, H5T_NATIVE_DOUBLE, out), NF_ERR_FORMAT, "attribute '%s' is not numeric", name);
    found = 1;
cleanup:
    NF_H5_CLOSE(H5Sclose, space);
    NF_H5_CLOSE(H5Aclose, attr);
    return st != NF_OK ? -1 : found;
}
