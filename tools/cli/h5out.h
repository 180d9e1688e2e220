/* HDF5 output files of sample, encode and decode: arrays appended batch by batch
 * (memory stays one batch), written as "<file>.partial" and renamed when complete.
 * Built on the dataset converters' writer (datasets/h5_writer.h). */
#ifndef NFLOW_CLI_H5OUT_H
#define NFLOW_CLI_H5OUT_H

#include <nflow.h>

enum { H5OUT_MAX_ARRAYS = 4 };

typedef struct cli_h5out {
    void *impl; /* the writer's state */
    const char *cmd;
} cli_h5out;

/* "out.h5" or "out.h5:/path": the file name into file (size cap) and the dataset path
 * (default_path when the spec has none). */
void h5out_split(const char *spec, char *file, size_t cap, const char **path, const char *default_path);

/* Creates file. Each returns 0 or prints a message and returns an exit code. */
int h5out_open(cli_h5out *o, const char *cmd, const char *file);
/* Adds array index idx (0..H5OUT_MAX_ARRAYS-1) at path with shape dims (rank <= 5),
 * float32 (is_double 0, data nf_real) or float64 (is_double 1, data double). */
int h5out_array(cli_h5out *o, int idx, const char *path, int rank, const long long *dims, int is_double);
/* Appends n samples to array idx. */
int h5out_append(cli_h5out *o, int idx, long long n, const void *data);
/* A string attribute on array idx. */
int h5out_attr(cli_h5out *o, int idx, const char *name, const char *value);
/* ok: closes and renames into place; otherwise removes the partial file. Returns an
 * exit code (0 when ok and the file is in place). */
int h5out_close(cli_h5out *o, int ok);

/* The dims of n samples of shape s as written: (n, c, h, w) for d == 1, else
 * (n, c, d, h, w). Returns the rank. */
int h5out_sample_dims(nf_shape s, long long n, long long *dims);

#endif
