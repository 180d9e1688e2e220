/* NumPy .npy arrays -> HDF5, copied in pieces of whole samples (bounded memory), with the
 * element type kept (stored little-endian) and the layout recorded when the caller gives it. */
#include "h5_writer.h"
#include <nflow/h5.h> /* nf_h5_layout_decide */
#include "nflow_datasets.h"
#include "npy.h"

#include <errno.h>
#include <string.h>

enum { PIECE_BYTES = 4 << 20 };

/* Copies the array of an open .npy file into dataset path of out. */
static nf_status copy_array(FILE *f, const char *name, const nfd_npy *h, hid_t file, const char *path,
                            nf_layout layout) {
    nf_status st = NF_OK;
    hid_t mem = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    nfd_array a = {.dset = H5I_INVALID_HID};
    unsigned char *buf = NULL;
    nf_h5_layout l;
    NF_H5_TRY(nf_h5_layout_decide(&l, name, h->rank, h->dims, "", layout, 0));
    NF_H5_TRY(nfd_npy_types(h, &mem, &ftype));
    NF_H5_TRY(nfd_array_create(&a, file, path, ftype, mem, h->rank, h->dims));
    if (layout != NF_LAYOUT_AUTO) NF_H5_TRY(nf_h5_write_string_attr(a.dset, "nflow_layout", l.axes));
    size_t per = nfd_npy_sample_bytes(h);
    long long piece = a.chunk_n * (long long)(PIECE_BYTES / (per * (size_t)a.chunk_n) + 1);
    buf = nf_alloc((size_t)piece * per);
    if (!buf) NF_H5_TRY(nf_fail(NF_ERR_NOMEM, "%s: out of memory for %lld samples", name, piece));
    for (long long done = 0, n = (long long)h->dims[0]; done < n; done += piece) {
        long long k = n - done < piece ? n - done : piece;
        if (fread(buf, per, (size_t)k, f) != (size_t)k)
            NF_H5_TRY(nf_fail(NF_ERR_IO, "%s: cannot read samples [%lld, %lld): %s", name, done, done + k,
                              ferror(f) ? strerror(errno) : "unexpected end of file"));
        NF_H5_TRY(nfd_array_append(&a, k, buf));
    }
cleanup:
    nf_free(buf);
    st = nfd_array_close(&a, st);
    NF_H5_CLOSE(H5Tclose, mem);
    NF_H5_CLOSE(H5Tclose, ftype);
    return st;
}

static nf_status open_npy(FILE **f, const char *name, nfd_npy *h) {
    *f = fopen(name, "rb");
    if (!*f) return nf_fail(NF_ERR_IO, "cannot open '%s': %s", name, strerror(errno));
    nf_status st = nfd_npy_read_header(*f, name, h);
    if (st != NF_OK) {
        fclose(*f);
        *f = NULL;
    }
    return st;
}

nf_status nf_convert_npy(const nf_npy_options *o) {
    NF_CHECK_NULL(o);
    NF_CHECK_NULL(o->input);
    NF_CHECK_NULL(o->output);
    FILE *x = NULL, *y = NULL;
    nfd_npy hx, hy;
    NF_TRY(open_npy(&x, o->input, &hx));
    nf_status st = o->labels ? open_npy(&y, o->labels, &hy) : NF_OK;
    if (st == NF_OK && y && hy.dims[0] != hx.dims[0])
        st = nf_fail(NF_ERR_FORMAT, "%s has %llu samples but %s has %llu", o->labels, (unsigned long long)hy.dims[0],
                     o->input, (unsigned long long)hx.dims[0]);
    if (st != NF_OK) {
        fclose(x);
        if (y) fclose(y);
        return st;
    }
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nfd_out out;
    NF_H5_TRY(nfd_out_create(&out, o->output));
    NF_H5_TRY(copy_array(x, o->input, &hx, out.file, "/x", o->layout));
    if (y) NF_H5_TRY(copy_array(y, o->labels, &hy, out.file, "/y", NF_LAYOUT_AUTO));
    NF_H5_TRY(nf_h5_write_string_attr(out.file, "source", o->input));
cleanup:
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    fclose(x);
    if (y) fclose(y);
    return st;
}
