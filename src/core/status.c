/* Status codes and the thread-local message behind nf_last_error(). */
#include "nf_internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

nf_status nf_fail(nf_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

const char *nf_last_error(void) { return last_error; }

const char *nf_status_name(nf_status s) {
    switch (s) {
    case NF_OK: return "NF_OK";
    case NF_ERR_ARG: return "NF_ERR_ARG";
    case NF_ERR_SHAPE: return "NF_ERR_SHAPE";
    case NF_ERR_NOMEM: return "NF_ERR_NOMEM";
    case NF_ERR_IO: return "NF_ERR_IO";
    case NF_ERR_FORMAT: return "NF_ERR_FORMAT";
    case NF_ERR_NUMERIC: return "NF_ERR_NUMERIC";
    case NF_ERR_STATE: return "NF_ERR_STATE";
    case NF_ERR_WRITE: return "NF_ERR_WRITE";
    }
    return "NF_ERR_UNKNOWN";
}
