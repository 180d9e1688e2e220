/* One HDF5 dataset read by hyperslab: what it holds (shape, element type, layout) and
 * the two operations streaming needs, "read these blocks of samples into a buffer" and
 * "turn sample k of that buffer into NCDHW floats". Internal, not installed. */
#ifndef NF_H5_SOURCE_H
#define NF_H5_SOURCE_H

#include "io/h5_check.h" /* attributes, layouts (nflow/h5.h) */
#include "io/h5_image.h"

/* Element types of the samples as they sit in a read buffer. */
typedef enum nf_h5_elem {
    NF_H5_U8 = 0,
    NF_H5_U16 = 1,
    NF_H5_I16 = 2,
    NF_H5_F32 = 3,
    NF_H5_F64 = 4
} nf_h5_elem;

typedef enum nf_h5_role {
    NF_H5_DATA = 0, /* training data: rank 2 to 5; u8, u16, i16, f32, f64 stored as is, other
                       floats (float16, bfloat16) converted to f32 by HDF5 */
    NF_H5_COND = 1  /* labels/conditioning: rank 1 to 5; any number, read as float */
} nf_h5_role;

typedef struct nf_h5_source {
    hid_t file, dset;
    hid_t mtype;           /* memory type of the buffer (an H5T_NATIVE_* id, not owned) */
    nf_h5_elem elem;       /* element type in the buffer */
    int is_integer;        /* the file holds integers (data role: scaled as b-bit levels) */
    int bits;              /* integer data: levels are [0, 2^bits); nflow_bits overrides */
    nf_h5_layout layout;   /* which stored axis holds the channels */
    char layout_note[600]; /* the guess, for the user ("" when there is nothing to say) */
    int rank;
    hsize_t dims[5];       /* as stored */
    long long n;           /* samples (dims[0]) */
    nf_shape sample;       /* per-sample NCDHW shape (n unused) */
    size_t sample_elems;   /* c*d*h*w */
    size_t sample_bytes;   /* in the buffer */
    long long chunk_n;     /* samples per chunk along N (1 when contiguous) */
    char name[320];        /* "file.h5:/path", for messages */
} nf_h5_source;

/* Opens dataset path of file (a path or a file image in memory) for reading and inspects
 * it; want: the caller's layout (data role; the conditioning role reads its attribute or
 * channels first). On failure nothing stays open. */
nf_status nf_h5_source_open(nf_h5_source *s, const h5_input *file, const char *path, nf_h5_role role,
                            nf_layout want);
void nf_h5_source_close(nf_h5_source *s);
/* Re-records the current message as "<name>: <message>" with status st (for failures of
 * helpers that do not know which dataset they were working on). */
nf_status nf_h5_source_failed(const nf_h5_source *s, nf_status st);

/* Reads nblocks runs of samples, first[i] .. first[i] + len[i] - 1 (absolute indices),
 * into buf, runs concatenated in order. */
nf_status nf_h5_source_read(const nf_h5_source *s,
                            const long long *first, /* (nblocks) */
                            const long long *len,   /* (nblocks) */
                            int nblocks, void *buf);

/* out (c, d, h, w) = sample k of buf as stored numbers (no scaling), transposed from
 * channels-last when the layout says so. */
void nf_h5_source_sample(const nf_h5_source *s, const void *buf, size_t k, nf_real *out);

#endif
