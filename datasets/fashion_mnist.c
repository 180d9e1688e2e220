/* Fashion-MNIST IDX files (Debian's dataset-fashion-mnist) -> HDF5, streamed 1000
 * images at a time. IDX: big-endian magic 0x00000803 (ubyte, 3 dims) for images,
 * 0x00000801 for labels, then the dims as big-endian uint32, then the bytes. */
#include "h5_writer.h"
#include "nflow_datasets.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

enum { PIECE = 1000, CLASSES = 10 };

typedef struct idx_file {
    gzFile gz;
    char name[4200];
    long long n;         /* items */
    int rows, cols;      /* images only */
} idx_file;

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Opens dir/base.gz, else dir/base (gzread reads plain files too), and its header. */
static nf_status idx_open(idx_file *f, const char *dir, const char *base, int images) {
    snprintf(f->name, sizeof f->name, "%s/%s.gz", dir, base);
    f->gz = gzopen(f->name, "rb");
    if (!f->gz) {
        snprintf(f->name, sizeof f->name, "%s/%s", dir, base);
        f->gz = gzopen(f->name, "rb");
    }
    if (!f->gz)
        return nf_fail(NF_ERR_IO, "Fashion-MNIST: cannot open %s/%s[.gz] (is dataset-fashion-mnist installed?)", dir,
                       base);
    unsigned char head[16];
    int want = images ? 16 : 8;
    if (gzread(f->gz, head, (unsigned)want) != want)
        return nf_fail(NF_ERR_FORMAT, "Fashion-MNIST: %s is too short for an IDX header", f->name);
    uint32_t magic = be32(head);
    if (magic != (images ? 0x803u : 0x801u))
        return nf_fail(NF_ERR_FORMAT, "Fashion-MNIST: %s has magic 0x%08x, expected an IDX %s file", f->name,
                       (unsigned)magic, images ? "image (0x00000803)" : "label (0x00000801)");
    f->n = be32(head + 4);
    f->rows = images ? (int)be32(head + 8) : 1;
    f->cols = images ? (int)be32(head + 12) : 1;
    if (f->n <= 0 || f->rows <= 0 || f->cols <= 0 || f->rows > 4096 || f->cols > 4096)
        return nf_fail(NF_ERR_FORMAT, "Fashion-MNIST: %s has implausible dims (%lld, %d, %d)", f->name, f->n, f->rows,
                       f->cols);
    return NF_OK;
}

static nf_status idx_read(idx_file *f, unsigned char *buf, long long items, long long done) {
    size_t bytes = (size_t)items * (size_t)f->rows * (size_t)f->cols;
    if (gzread(f->gz, buf, (unsigned)bytes) != (int)bytes)
        return nf_fail(NF_ERR_FORMAT, "Fashion-MNIST: %s ends within item %lld of %lld (truncated?)", f->name, done,
                       f->n);
    return NF_OK;
}

/* One split: dir/<prefix>-images/labels -> /<group>/x and /<group>/y. */
static nf_status convert_split(hid_t file, const char *dir, const char *prefix, const char *group, int pad) {
    nf_status st = NF_OK;
    idx_file img = {0}, lab = {0};
    nfd_array ax = {.dset = H5I_INVALID_HID}, ay = {.dset = H5I_INVALID_HID};
    unsigned char *raw = NULL, *out = NULL, *labels = NULL;
    char name[256], path[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    NF_H5_TRY(idx_open(&img, dir, name, 1));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    NF_H5_TRY(idx_open(&lab, dir, name, 0));
    if (img.n != lab.n) {
        st = nf_fail(NF_ERR_FORMAT, "Fashion-MNIST: %s has %lld images but %s has %lld labels", img.name, img.n,
                     lab.name, lab.n);
        goto cleanup;
    }
    int h = img.rows + 2 * pad, w = img.cols + 2 * pad;
    hsize_t dx[4] = {(hsize_t)img.n, 1, (hsize_t)h, (hsize_t)w}, dy[1] = {(hsize_t)img.n};
    snprintf(path, sizeof path, "/%s/x", group);
    NF_H5_TRY(nfd_array_create(&ax, file, path, H5T_STD_U8LE, H5T_NATIVE_UCHAR, 4, dx));
    NF_H5_TRY(nf_h5_write_i64_attr(ax.dset, "padding", pad));
    snprintf(path, sizeof path, "/%s/y", group);
    NF_H5_TRY(nfd_array_create(&ay, file, path, H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, dy));
    NF_H5_TRY(nf_h5_write_string_attr(ay.dset, "classes",
                                      "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"));
    size_t in_px = (size_t)img.rows * img.cols, out_px = (size_t)h * w;
    raw = nf_alloc(PIECE * in_px);
    out = nf_calloc(PIECE * out_px, 1); /* the border stays zero */
    labels = nf_alloc(PIECE);
    if (!raw || !out || !labels) {
        st = nf_fail(NF_ERR_NOMEM, "Fashion-MNIST: out of memory");
        goto cleanup;
    }
    for (long long done = 0; done < img.n; done += PIECE) {
        long long k = img.n - done < PIECE ? img.n - done : PIECE;
        NF_H5_TRY(idx_read(&img, raw, k, done));
        NF_H5_TRY(idx_read(&lab, labels, k, done));
        for (long long i = 0; i < k; i++) {
            if (labels[i] >= CLASSES) {
                st = nf_fail(NF_ERR_FORMAT, "Fashion-MNIST: %s item %lld has label %d", lab.name, done + i, labels[i]);
                goto cleanup;
            }
            for (int r = 0; r < img.rows; r++)
                memcpy(out + (size_t)i * out_px + (size_t)(r + pad) * w + pad, raw + (size_t)i * in_px + (size_t)r * img.cols,
                       (size_t)img.cols);
        }
        NF_H5_TRY(nfd_array_append(&ax, k, out));
        NF_H5_TRY(nfd_array_append(&ay, k, labels));
    }
cleanup:
    nf_free(labels);
    nf_free(out);
    nf_free(raw);
    st = nfd_array_close(&ay, st);
    st = nfd_array_close(&ax, st);
    if (lab.gz) gzclose(lab.gz);
    if (img.gz) gzclose(img.gz);
    return st;
}

nf_status nf_convert_fashion_mnist(const char *idx_dir, const char *out_path, int pad32) {
    NF_CHECK_NULL(out_path);
    const char *dir = idx_dir ? idx_dir : NF_FASHION_MNIST_DIR;
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nfd_out out;
    nf_status st = nfd_out_create(&out, out_path);
    if (st == NF_OK) st = nf_h5_write_string_attr(out.file, "source", "Fashion-MNIST (Zalando Research), IDX files");
    if (st == NF_OK) st = convert_split(out.file, dir, "train", "train", pad32 ? 2 : 0);
    if (st == NF_OK) st = convert_split(out.file, dir, "t10k", "test", pad32 ? 2 : 0);
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    return st;
}
