/* HDF5 output files of the CLI over the converters' writer: the same chunking,
 * compression and write-then-rename as the datasets nflow makes. */
#include "h5out.h"

#include "cli.h"
#include "h5_writer.h"

#include <stdlib.h>
#include <string.h>

typedef struct h5out_impl {
    nfd_out out;
    nfd_array a[H5OUT_MAX_ARRAYS];
    nf_h5_quiet quiet;
} h5out_impl;

void h5out_split(const char *spec, char *file, size_t cap, const char **path, const char *default_path) {
    const char *sep = strstr(spec, ":/");
    for (const char *p = sep; p; p = strstr(p + 1, ":/")) sep = p; /* the last ":/" */
    if (!sep) {
        snprintf(file, cap, "%s", spec);
        *path = default_path;
        return;
    }
    snprintf(file, cap, "%.*s", (int)(sep - spec), spec);
    *path = sep + 1;
}

/* Output that cannot be written is a runtime failure (exit 1), whatever HDF5 says. */
static int fail(cli_h5out *o, nf_status s, const char *what) {
    (void)s;
    return cli_error(CLI_RUNTIME, o->cmd, "%s: %s", what, nf_last_error());
}

int h5out_open(cli_h5out *o, const char *cmd, const char *file) {
    o->cmd = cmd;
    h5out_impl *h = calloc(1, sizeof *h);
    if (!h) return cli_error(CLI_RUNTIME, cmd, "out of memory");
    for (int i = 0; i < H5OUT_MAX_ARRAYS; i++) h->a[i].dset = H5I_INVALID_HID;
    o->impl = h;
    nf_h5_quiet_begin(&h->quiet);
    nf_status s = nfd_out_create(&h->out, file);
    if (s != NF_OK) {
        nf_h5_quiet_end(&h->quiet);
        free(h);
        o->impl = NULL;
        return cli_error(CLI_RUNTIME, cmd, "%s", nf_last_error());
    }
    return CLI_OK;
}

int h5out_array(cli_h5out *o, int idx, const char *path, int rank, const long long *dims, int is_double) {
    h5out_impl *h = o->impl;
    hsize_t d[5];
    for (int r = 0; r < rank; r++) d[r] = (hsize_t)dims[r];
#ifdef NFLOW_DOUBLE
    hid_t real_type = H5T_NATIVE_DOUBLE;
#else
    hid_t real_type = H5T_NATIVE_FLOAT;
#endif
    nf_status s = nfd_array_create(&h->a[idx], h->out.file, path, is_double ? H5T_IEEE_F64LE : H5T_IEEE_F32LE,
                                   is_double ? H5T_NATIVE_DOUBLE : real_type, rank, d);
    return s == NF_OK ? CLI_OK : fail(o, s, path);
}

int h5out_append(cli_h5out *o, int idx, long long n, const void *data) {
    h5out_impl *h = o->impl;
    nf_status s = nfd_array_append(&h->a[idx], n, data);
    return s == NF_OK ? CLI_OK : fail(o, s, "writing");
}

int h5out_attr(cli_h5out *o, int idx, const char *name, const char *value) {
    h5out_impl *h = o->impl;
    nf_status s = nf_h5_write_string_attr(h->a[idx].dset, name, value);
    return s == NF_OK ? CLI_OK : fail(o, s, name);
}

int h5out_close(cli_h5out *o, int ok) {
    h5out_impl *h = o->impl;
    if (!h) return ok ? CLI_OK : CLI_RUNTIME;
    nf_status s = ok ? NF_OK : NF_ERR_WRITE;
    for (int i = 0; i < H5OUT_MAX_ARRAYS; i++) s = nfd_array_close(&h->a[i], s);
    s = nfd_out_finish(&h->out, s);
    nf_h5_quiet_end(&h->quiet);
    free(h);
    o->impl = NULL;
    if (!ok) return CLI_RUNTIME;
    return s == NF_OK ? CLI_OK : cli_error(CLI_RUNTIME, o->cmd, "%s", nf_last_error());
}

int h5out_sample_dims(nf_shape s, long long n, long long *dims) {
    dims[0] = n, dims[1] = s.c;
    if (s.d == 1) {
        dims[2] = s.h, dims[3] = s.w;
        return 4;
    }
    dims[2] = s.d, dims[3] = s.h, dims[4] = s.w;
    return 5;
}
