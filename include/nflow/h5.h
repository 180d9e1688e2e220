/*
 * nflow/h5.h — HDF5 helpers for code that writes or inspects nflow's dataset files from
 * outside the library (the converters of datasets/, front ends). Needs HDF5's headers
 * (<hdf5.h>) on the include path. Not included by nflow.h.
 *
 * Calling HDF5 the nflow way: every call through one checking macro, failures jump to a
 * single `cleanup:` label that closes ids in reverse order of opening, and HDF5's
 * automatic error printing is silenced for the duration of a public call, so a bad file
 * gives one line from nf_last_error() and nothing on stderr:
 *
 *     nf_status tag(const char *path) {
 *         nf_status st = NF_OK;
 *         hid_t f = H5I_INVALID_HID;
 *         nf_h5_quiet q;
 *         nf_h5_quiet_begin(&q);
 *         NF_H5_CHECK(f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), NF_ERR_IO, "cannot open '%s'", path);
 *         NF_H5_TRY(nf_h5_write_string_attr(f, "source", "my converter"));
 *     cleanup:
 *         NF_H5_CLOSE(H5Fclose, f);
 *         nf_h5_quiet_end(&q);
 *         return st;
 *     }
 *
 * The attributes nflow reads (nflow_layout, nflow_bits, nflow_mean, nflow_std, ...) are
 * documented in datasets/README.md.
 */
#ifndef NFLOW_H5_H
#define NFLOW_H5_H

#include "nflow.h"
#include "nflow/extend.h"

#include <hdf5.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- checked calls */

/* Records a failure whose message ends with HDF5's most specific error description
 * (when its error stack has one), clears that stack, and returns s. */
nf_status nf_h5_fail(nf_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* In a function with `nf_status st` and a `cleanup:` label: an HDF5 call returning a
 * negative value (herr_t, hid_t, htri_t) records the message and jumps to cleanup. */
#define NF_H5_CHECK(call, status, ...)                                                  \
    do {                                                                                \
        if ((call) < 0) {                                                               \
            st = nf_h5_fail((status), __VA_ARGS__);                                     \
            goto cleanup;                                                               \
        }                                                                               \
    } while (0)

/* The same for nflow calls returning nf_status. */
#define NF_H5_TRY(expr)                                                                 \
    do {                                                                                \
        if ((st = (expr)) != NF_OK) goto cleanup;                                       \
    } while (0)

/* Closes an id if it was opened and marks it closed (for cleanup blocks). */
#define NF_H5_CLOSE(fn, id)                                                             \
    do {                                                                                \
        if ((id) >= 0) fn(id);                                                          \
        (id) = H5I_INVALID_HID;                                                         \
    } while (0)

/* A scope in which HDF5 prints nothing: begin saves this thread's automatic error
 * handler and turns it off, end puts it back. */
typedef struct nf_h5_quiet {
    H5E_auto2_t func;
    void *data;
} nf_h5_quiet;

void nf_h5_quiet_begin(nf_h5_quiet *q);
void nf_h5_quiet_end(const nf_h5_quiet *q);

/* ---------------------------------------------------------------- attributes */

/* Read the way h5py writes them (fixed- or variable-length strings, any numeric type),
 * written the way h5py reads them best (variable-length UTF-8 strings, float64/int64). */

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

/* ---------------------------------------------------------------- per-channel statistics */

/* Per-channel mean and variance accumulated sample by sample (Chan et al.'s pairwise
 * update in double), so statistics of any N need one sample in memory: what the
 * converters store as nflow_mean / nflow_std and what normalisation uses. */
typedef struct nf_chan_stats {
    int c;
    double count;     /* values seen per channel */
    double *mean;     /* (c) */
    double *m2;       /* (c) sum of squared deviations */
} nf_chan_stats;

nf_status nf_chan_stats_init(nf_chan_stats *st, int c);
/* Adds one sample x (c, s). */
void nf_chan_stats_add(nf_chan_stats *st, const nf_real *x, size_t s);
/* mean (c) and population std (c); a constant channel gets std 1 so dividing by it is safe. */
void nf_chan_stats_result(const nf_chan_stats *st, double *mean, double *std);
void nf_chan_stats_free(nf_chan_stats *st);

/* ---------------------------------------------------------------- layouts */

/* Which axes of a stored array are what: the nflow_layout attribute, the caller's layout
 * option, or a guess from the shape when neither says (the rules of nf_dataset_open). */
typedef struct nf_h5_layout {
    char axes[8];      /* the stored axes: "NC", "NHW", "NCHW", "NHWC", "NDHW", "NCDHW" or "NDHWC" */
    int channels_last; /* C is the last stored axis */
    int guessed;       /* decided from the shape alone (no option, no attribute) */
    int worth_saying;  /* guessed, and not simply the axes as they stand (NHWC, NDHWC, NHW) */
} nf_h5_layout;

/* Decides the layout of an array of the given rank and dims named `name` (for messages).
 * attr: the nflow_layout attribute ("" when absent); want: the caller's choice, which
 * overrides the attribute; guess: 0 for conditioning data, which is channels-first unless
 * its attribute says otherwise. NF_ERR_FORMAT naming the option and the attribute for a
 * layout that does not fit the rank, an unknown attribute value, or a shape that could be
 * either channels-first or channels-last. */
nf_status nf_h5_layout_decide(nf_h5_layout *l, const char *name, int rank, const hsize_t *dims, const char *attr,
                              nf_layout want, int guess);

/* One line describing a guessed layout for the user, e.g. "f.h5:/x (100, 32, 32, 3) read
 * as NHWC (channels last), guessed from the shape; ...". */
void nf_h5_layout_note(const nf_h5_layout *l, const char *name, int rank, const hsize_t *dims, char *buf,
                       size_t cap);

#ifdef __cplusplus
}
#endif
#endif
