/* The pieces behind h5_check.h: HDF5 failures turned into one nflow message, the quiet
 * scope, and dataset specs. */
#include "io/h5_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* H5Ewalk2 callback: keeps the first (most specific, walking upward) description, on
 * one line: HDF5's write errors carry ctime()'s newline, and a message is one line. */
static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *client) {
    char *desc = client;
    if (n != 0 || !err->desc) return 0;
    size_t k = 0;
    for (const char *p = err->desc; *p && k < 255; p++) {
        char c = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        if (c == ' ' && (k == 0 || desc[k - 1] == ' ')) continue; /* no runs of blanks */
        if (c == ',' && k > 0 && desc[k - 1] == ' ') k--;         /* "2026\n, filename" */
        desc[k++] = c;
    }
    desc[k] = 0;
    return 0;
}

nf_status nf_h5_fail(nf_status s, const char *fmt, ...) {
    char msg[384], desc[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, desc);
    H5Eclear2(H5E_DEFAULT);
    if (desc[0]) return nf_fail(s, "%s (HDF5: %s)", msg, desc);
    return nf_fail(s, "%s", msg);
}

void nf_h5_quiet_begin(nf_h5_quiet *q) {
    q->func = NULL;
    q->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void nf_h5_quiet_end(const nf_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

nf_status nf_h5_split_spec(const char *spec, char *file, size_t file_cap, const char **path) {
    NF_CHECK_NULL(spec);
    const char *sep = NULL;
    for (const char *p = strstr(spec, ":/"); p; p = strstr(p + 1, ":/")) sep = p;
    if (!sep || sep == spec)
        return nf_fail(NF_ERR_ARG, "dataset spec '%s' is not FILE:/PATH (e.g. data.h5:/train/x)", spec);
    size_t len = (size_t)(sep - spec);
    if (len >= file_cap) return nf_fail(NF_ERR_ARG, "dataset spec '%s': file name too long", spec);
    memcpy(file, spec, len);
    file[len] = '\0';
    *path = sep + 1;
    return NF_OK;
}
