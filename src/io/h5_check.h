/* How nflow calls HDF5: every call through one checking macro, failures jump to a single
 * `cleanup:` label that closes ids in reverse order of opening (as HDF5's own tests do),
 * and HDF5's automatic error printing is silenced for the duration of a public call and
 * restored after it, so a bad file gives one line from nf_last_error() and nothing on
 * stderr. Internal, not installed. */
#ifndef NF_H5_CHECK_H
#define NF_H5_CHECK_H

#include "nf_internal.h"

#include <hdf5.h>

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

/* Splits "file.h5:/path/to/dataset" at the last ":/" into file (up to file_cap bytes) and
 * path (a pointer into spec). NF_ERR_ARG naming the spec when it has no ":/". */
nf_status nf_h5_split_spec(const char *spec, char *file, size_t file_cap, const char **path);

/* The attribute helpers (nf_h5_read_*_attr, nf_h5_write_*_attr) come with this header. */
#include "io/h5_attr.h"

#endif
