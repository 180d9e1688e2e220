/* Writing a dataset file for the converters: the file is built as "<path>.partial" and
 * renamed over path only when complete; arrays are chunked (about 256 KiB per chunk, whole
 * samples) with shuffle + gzip, appended sample block by sample block. Internal to
 * nflow_datasets. */
#ifndef NFD_H5_WRITER_H
#define NFD_H5_WRITER_H

#include <nflow/h5.h> /* checked HDF5 calls, attributes, nf_chan_stats */

typedef struct nfd_out {
    hid_t file;
    char path[4096];      /* the target */
    char partial[4200];   /* written first */
} nfd_out;

/* Creates path.partial (replacing a stale one); NF_ERR_WRITE when it cannot (path is a
 * directory, the disk is full). */
nf_status nfd_out_create(nfd_out *o, const char *path);
/* st == NF_OK: flushes, closes and renames into place; otherwise (or when that fails)
 * removes the partial file and closes it. Returns st, or the failure to finish
 * (NF_ERR_WRITE). */
nf_status nfd_out_finish(nfd_out *o, nf_status st);

typedef struct nfd_array {
    hid_t dset;
    hid_t mtype;          /* memory type of appended data (not owned) */
    int rank;
    hsize_t dims[5];
    long long chunk_n;    /* samples per chunk: append this many at a time when possible */
    long long written;
    int growing;          /* created by nfd_array_create_growing: dims[0] follows the appends */
} nfd_array;

/* Creates dataset path (with missing groups) of file type ftype and shape dims. */
nf_status nfd_array_create(nfd_array *a, hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                           const hsize_t *dims);
/* The same for a dataset whose length is not known in advance: it starts empty
 * (dims[0] is ignored) and grows with each append, without limit. */
nf_status nfd_array_create_growing(nfd_array *a, hid_t file, const char *path, hid_t ftype, hid_t mtype, int rank,
                                   const hsize_t *dims);
/* Writes the next n samples from data (n, dims[1:]). */
nf_status nfd_array_append(nfd_array *a, long long n, const void *data);
/* Closes the array (safe on a closed one); returns st, or NF_ERR_WRITE when the samples
 * HDF5 still held could not be written. */
nf_status nfd_array_close(nfd_array *a, nf_status st);

/* Stores per-channel statistics as the nflow_mean / nflow_std attributes. */
nf_status nfd_array_put_stats(nfd_array *a, const nf_chan_stats *st);

#endif
