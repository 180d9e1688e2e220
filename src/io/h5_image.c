/* HDF5 files built in memory (see h5_image.h). */
#include "io/h5_image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The core driver allocates, grows and, when the file closes, frees its buffer through
 * these; the free at close hands the buffer to us instead. */
static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    h5_image *img = udata;
    void *p = malloc(size);
    if (p && op == H5FD_FILE_IMAGE_OP_FILE_OPEN) img->capacity = size;
    return p;
}

static void *image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op;
    (void)udata;
    return memcpy(dest, src, size);
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op;
    h5_image *img = udata;
    void *p = realloc(ptr, size);
    if (p) img->capacity = size;
    return p;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    h5_image *img = udata;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && !img->data) img->data = ptr;
    else free(ptr);
    return 0;
}

/* The property list copies udata by pointer: img is the caller's. */
static void *udata_copy(void *udata) { return udata; }
static herr_t udata_free(void *udata) {
    (void)udata;
    return 0;
}

nf_status h5_image_fapl(hid_t fapl, h5_image *img) {
    memset(img, 0, sizeof *img);
    H5FD_file_image_callbacks_t cb = {image_malloc, image_memcpy, image_realloc, image_free, udata_copy, udata_free,
                                      img};
    if (H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 || H5Pset_file_image_callbacks(fapl, &cb) < 0)
        return nf_h5_fail(NF_ERR_IO, "cannot set up an in-memory HDF5 file");
    return NF_OK;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

nf_status h5_image_finish(h5_image *img, size_t user_block) {
    /* superblock v2/v3: signature 8, version 1, sizes of offsets and lengths 1 + 1,
     * flags 1, then 8-byte addresses: base, extension, end of file, root group */
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    const unsigned char *sb = img->data ? img->data + user_block : NULL;
    if (!sb || img->capacity < user_block + 48 || memcmp(sb, signature, 8))
        return nf_fail(NF_ERR_STATE, "the in-memory HDF5 file has no superblock after its %zu-byte user block",
                       user_block);
    if ((sb[8] != 2 && sb[8] != 3) || sb[9] != 8)
        return nf_fail(NF_ERR_STATE, "the in-memory HDF5 file has superblock version %d with %d-byte addresses",
                       sb[8], sb[9]);
    uint64_t eof = le64(sb + 28);
    if (eof < user_block + 48 || eof > img->capacity)
        return nf_fail(NF_ERR_STATE, "the in-memory HDF5 file ends at %llu, outside its %zu bytes",
                       (unsigned long long)eof, img->capacity);
    img->size = (size_t)eof;
    return NF_OK;
}

nf_status h5_image_open(const void *data, size_t size, hid_t fapl, hid_t *file) {
    /* HDF5's core driver opens a file image under a name that must not exist on disk
     * (it checks), and takes two files of one name open at once for the same file: the
     * name is made from the image's address and size, in a directory that cannot exist */
    *file = H5I_INVALID_HID;
    if (!data || size == 0) return nf_fail(NF_ERR_FORMAT, "not an HDF5 file (%zu bytes)", size);
    nf_status st = NF_OK;
    hid_t access = H5I_INVALID_HID;
    char name[96];
    snprintf(name, sizeof name, "/nonexistent/nflow-image-%p-%zu.h5", data, size);
    NF_H5_CHECK(access = fapl == H5P_DEFAULT ? H5Pcreate(H5P_FILE_ACCESS) : H5Pcopy(fapl), NF_ERR_IO,
                "cannot set up HDF5 file access");
    NF_H5_CHECK(H5Pset_fapl_core(access, (size_t)1 << 16, 0), NF_ERR_IO, "cannot set up an in-memory HDF5 file");
    NF_H5_CHECK(H5Pset_file_image(access, (void *)(uintptr_t)data, size), NF_ERR_IO,
                "cannot give HDF5 a file image of %zu bytes", size);
    NF_H5_CHECK(*file = H5Fopen(name, H5F_ACC_RDONLY, access), NF_ERR_FORMAT,
                "not an HDF5 file, or a truncated or corrupted one");
cleanup:
    NF_H5_CLOSE(H5Pclose, access);
    return st;
}

void h5_image_free(h5_image *img) {
    free(img->data);
    memset(img, 0, sizeof *img);
}
