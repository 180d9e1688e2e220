/* Attributes of nflow's HDF5 datasets (layout, bit depth, statistics, provenance): read
 * the way h5py writes them (fixed- or variable-length strings, any numeric type) and
 * written the way h5py reads them best (variable-length UTF-8 strings, float64/int64).
 * Internal, not installed. */
#ifndef NF_H5_ATTR_H
#define NF_H5_ATTR_H

#include "io/h5_check.h"

/* Reads a string attribute of obj into buf. Returns 1 if read, 0 if absent, -1 on error
 * (message recorded). */
int nf_h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t cap);
/* Reads a numeric attribute of exactly count elements as doubles. Same returns. */
int nf_h5_read_double_attr(hid_t obj, const char *name, double *out, size_t count);

/* Writers (replace nothing: the attribute must not exist yet). */
nf_status nf_h5_write_string_attr(hid_t obj, const char *name, const char *value);
/* count values as a 1-D float64 array; count 0 writes the scalar v[0]. */
nf_status nf_h5_write_double_attr(hid_t obj, const char *name, const double *v, size_t count);
nf_status nf_h5_write_i64_attr(hid_t obj, const char *name, long long v);

#endif
