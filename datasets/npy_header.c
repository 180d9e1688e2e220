/* Parsing a .npy header (see npy.h): a few fixed bytes and a Python dict literal. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_HEADER = 1 << 20 };

/* The text just after key's ':' in the dict, or NULL. */
static const char *value_of(const char *dict, const char *key) {
    char quoted[32];
    for (int q = 0; q < 2; q++) {
        snprintf(quoted, sizeof quoted, q ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(dict, quoted);
        if (!p) continue;
        p += strlen(quoted);
        while (isspace((unsigned char)*p)) p++;
        if (*p++ != ':') return NULL;
        while (isspace((unsigned char)*p)) p++;
        return p;
    }
    return NULL;
}

static nf_status parse_descr(const char *p, const char *name, nfd_npy *h) {
    if (!p || (*p != '\'' && *p != '"'))
        return nf_fail(NF_ERR_FORMAT, "%s: the header has no 'descr' string (a structured array?)", name);
    char q = *p++;
    const char *end = strchr(p, q);
    if (!end || end - p >= (long)sizeof h->descr) return nf_fail(NF_ERR_FORMAT, "%s: bad 'descr' in the header", name);
    memcpy(h->descr, p, (size_t)(end - p));
    h->descr[end - p] = 0;
    const char *d = h->descr;
    int little_host = 1;
    little_host = *(unsigned char *)&little_host;
    char order = strchr("<>|=", d[0]) ? *d++ : '=';
    h->kind = d[0];
    char *rest;
    long size = d[0] ? strtol(d + 1, &rest, 10) : 0;
    int ok = d[0] && rest != d + 1 && !*rest;
    h->size = (int)size;
    h->big_endian = order == '>' || (order == '=' && !little_host);
    if (h->size == 1) h->big_endian = 0;
    ok = ok && ((h->kind == 'b' && size == 1) || ((h->kind == 'u' || h->kind == 'i') &&
               (size == 1 || size == 2 || size == 4 || size == 8)) || (h->kind == 'f' && (size == 2 || size == 4 || size == 8)));
    if (!ok)
        return nf_fail(NF_ERR_FORMAT, "%s: element type '%s' is not supported; use bool, integers (u1..u8, i1..i8) or "
                       "floats (f2, f4, f8)", name, h->descr);
    return NF_OK;
}

static nf_status parse_shape(const char *p, const char *name, nfd_npy *h) {
    if (!p || *p != '(') return nf_fail(NF_ERR_FORMAT, "%s: the header has no 'shape' tuple", name);
    p++;
    h->rank = 0;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || errno) return nf_fail(NF_ERR_FORMAT, "%s: bad 'shape' in the header", name);
        if (h->rank == 5) return nf_fail(NF_ERR_FORMAT, "%s: arrays of more than 5 axes are not supported", name);
        h->dims[h->rank++] = (hsize_t)v;
        p = end;
    }
    if (h->rank == 0) return nf_fail(NF_ERR_FORMAT, "%s holds a single value (shape ()); nflow needs an array of samples", name);
    if (h->dims[0] == 0) return nf_fail(NF_ERR_FORMAT, "%s is empty (0 samples)", name);
    return NF_OK;
}

size_t nfd_npy_sample_bytes(const nfd_npy *h) {
    size_t b = (size_t)h->size;
    for (int r = 1; r < h->rank; r++) b *= (size_t)h->dims[r];
    return b;
}

nf_status nfd_npy_read_header(FILE *f, const char *name, nfd_npy *h) {
    memset(h, 0, sizeof *h);
    unsigned char fixed[12];
    if (fread(fixed, 1, 10, f) != 10 || memcmp(fixed, "\x93NUMPY", 6) != 0)
        return nf_fail(NF_ERR_FORMAT, "%s is not a NumPy .npy file (no \\x93NUMPY magic)", name);
    int major = fixed[6];
    unsigned long len = fixed[8] | (unsigned long)fixed[9] << 8;
    long long offset = 10;
    if (major >= 2) {
        if (fread(fixed + 10, 1, 2, f) != 2) return nf_fail(NF_ERR_FORMAT, "%s: truncated header", name);
        len |= (unsigned long)fixed[10] << 16 | (unsigned long)fixed[11] << 24;
        offset = 12;
    }
    if (major < 1 || major > 3) return nf_fail(NF_ERR_FORMAT, "%s: .npy format version %d is not supported", name, major);
    if (len > MAX_HEADER) return nf_fail(NF_ERR_FORMAT, "%s: header of %lu bytes is too long", name, len);
    char *dict = malloc(len + 1);
    if (!dict) return nf_fail(NF_ERR_NOMEM, "%s: out of memory for the header", name);
    nf_status st = NF_OK;
    if (fread(dict, 1, len, f) != len) st = nf_fail(NF_ERR_FORMAT, "%s: truncated header", name);
    dict[len] = 0;
    const char *fo = st == NF_OK ? value_of(dict, "fortran_order") : NULL;
    if (st == NF_OK && (!fo || (strncmp(fo, "False", 5) && strncmp(fo, "True", 4))))
        st = nf_fail(NF_ERR_FORMAT, "%s: the header has no fortran_order True/False", name);
    if (st == NF_OK && !strncmp(fo, "True", 4))
        st = nf_fail(NF_ERR_FORMAT, "%s is stored in Fortran order; save it in C order "
                     "(numpy.save(path, numpy.ascontiguousarray(a)))", name);
    if (st == NF_OK) st = parse_descr(value_of(dict, "descr"), name, h);
    if (st == NF_OK) st = parse_shape(value_of(dict, "shape"), name, h);
    free(dict);
    if (st != NF_OK) return st;
    h->data_offset = offset + (long long)len;
    struct stat sb;
    double need = (double)h->data_offset + (double)nfd_npy_sample_bytes(h) * (double)h->dims[0];
    if (fstat(fileno(f), &sb) == 0 && (double)sb.st_size < need)
        return nf_fail(NF_ERR_FORMAT, "%s is truncated: the shape needs %.0f bytes, the file has %lld", name, need,
                       (long long)sb.st_size);
    return NF_OK;
}

/* A 2-byte IEEE half-precision type, built the way h5py builds its float16. */
static hid_t half_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

nf_status nfd_npy_types(const nfd_npy *h, hid_t *mem, hid_t *file) {
    hid_t base;
    int s = h->size;
    if (h->kind == 'f') base = s == 4 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    else if (h->kind == 'i') base = s == 1 ? H5T_STD_I8LE : s == 2 ? H5T_STD_I16LE : s == 4 ? H5T_STD_I32LE : H5T_STD_I64LE;
    else base = s == 1 ? H5T_STD_U8LE : s == 2 ? H5T_STD_U16LE : s == 4 ? H5T_STD_U32LE : H5T_STD_U64LE;
    *file = h->kind == 'f' && s == 2 ? half_type() : H5Tcopy(base);
    *mem = *file >= 0 ? H5Tcopy(*file) : H5I_INVALID_HID;
    if (*mem < 0 || H5Tset_order(*mem, h->big_endian ? H5T_ORDER_BE : H5T_ORDER_LE) < 0) {
        if (*mem >= 0) H5Tclose(*mem);
        if (*file >= 0) H5Tclose(*file);
        *mem = *file = H5I_INVALID_HID;
        return nf_h5_fail(NF_ERR_IO, "HDF5 type for .npy '%s'", h->descr);
    }
    return NF_OK;
}
