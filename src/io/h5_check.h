/* How nflow calls HDF5: the checking macros, the quiet scope, the attribute helpers,
 * per-channel statistics and layouts are public (nflow/h5.h, for the converters and
 * front ends too); this adds what only the library uses. Internal, not installed. */
#ifndef NF_H5_CHECK_H
#define NF_H5_CHECK_H

#include "nf_internal.h"
#include "nflow/h5.h"

/* Splits "file.h5:/path/to/dataset" at the last ":/" into file (up to file_cap bytes) and
 * path (a pointer into spec). NF_ERR_ARG naming the spec when it has no ":/". */
nf_status nf_h5_split_spec(const char *spec, char *file, size_t file_cap, const char **path);

#endif
