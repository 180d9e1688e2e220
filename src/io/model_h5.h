/* HDF5 helpers of the model and checkpoint files: typed attributes, and float32
 * datasets whose shape is checked on read and whose contents carry a checksum. Every helper returns an
 * nf_status with a message (no prefix: the public entry point adds file and call). */
#ifndef NF_MODEL_H5_H
#define NF_MODEL_H5_H

#include "io/h5_check.h" /* nf_h5_fail, the quiet scope, NF_H5_CHECK */
#include "io/h5_image.h" /* h5_input */

/* Model files hold float32; the I/O code is only built with nf_real = float. */
_Static_assert(sizeof(nf_real) == sizeof(float), "src/io is built in single precision only");

/* Re-records the current message as "<who>('<path>'): <message>" and returns s. */
nf_status model_h5_prefix(nf_status s, const char *who, const char *path);

/* Property lists of the files we create: the 1.10 format (checksummed metadata), a
 * 512-byte user block for the stamp (model_stamp.h), attributes and links kept in
 * checksummed object headers, strong close. */
hid_t model_h5_create_fcpl(void);
hid_t model_h5_fapl(void);

/* Checks the file's stamp, then opens it read-only: NF_ERR_IO when it cannot be read
 * at all, NF_ERR_FORMAT when it is truncated, corrupted or not HDF5. */
nf_status model_h5_open(const h5_input *src, hid_t *file);
/* Closes everything still open in file, then file. */
void model_h5_close(hid_t file);

/* Attributes of obj (a file, group or dataset). Strings are fixed-length ASCII,
 * arrays 1-D. Getters check presence, class and element count with a clear message;
 * they accept what h5py writes (variable-length strings, any integer width). */
nf_status model_attr_put_i64(hid_t obj, const char *name, long long v);
nf_status model_attr_put_u64(hid_t obj, const char *name, uint64_t v);
nf_status model_attr_put_f64(hid_t obj, const char *name, double v);
nf_status model_attr_put_str(hid_t obj, const char *name, const char *s);
nf_status model_attr_put_i64v(hid_t obj, const char *name, const long long *v, int n);
nf_status model_attr_put_u64v(hid_t obj, const char *name, const uint64_t *v, int n);
/* 1 if obj has attribute name, 0 if not, -1 if HDF5 cannot tell (message recorded). */
int model_attr_exists(hid_t obj, const char *name);
nf_status model_attr_get_i64(hid_t obj, const char *name, long long *v);
nf_status model_attr_get_u64(hid_t obj, const char *name, uint64_t *v);
nf_status model_attr_get_f64(hid_t obj, const char *name, double *v);
nf_status model_attr_get_str(hid_t obj, const char *name, char *buf, size_t size);
nf_status model_attr_get_i64v(hid_t obj, const char *name, long long *v, int n);
nf_status model_attr_get_u64v(hid_t obj, const char *name, uint64_t *v, int n);

/* Creates group name in loc with its links and attributes kept in its (checksummed)
 * object header, as the root group's are. */
nf_status model_group_create(hid_t loc, const char *name, hid_t *group);
/* Opens group name in loc, failing with "<what>: group '<name>' is missing" when absent. */
nf_status model_group_open(hid_t loc, const char *name, const char *what, hid_t *group);

/* A float32 dataset of shape dims (rank 1..4), chunked as one chunk with a Fletcher-32
 * checksum so that corrupted values fail to read instead of loading silently. */
nf_status model_dset_write(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *data,
                           hid_t *dset_out);
/* Reads name into data after checking it exists, holds floating-point values and has
 * exactly shape dims; what names it in messages. */
nf_status model_dset_read(hid_t loc, const char *name, int rank, const hsize_t *dims, float *data,
                          const char *what);

/* "(4, 4, 3, 3)" */
void model_shape_str(char *buf, size_t size, int rank, const hsize_t *dims);

#endif
