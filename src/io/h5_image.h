/* HDF5 files in memory, through the core driver without a backing store.
 * Writing: the driver's buffer is taken over when the file closes, so the bytes are
 * those of a closed file (superblock status flags cleared, checksums right) and no byte
 * reaches the disk through HDF5. A full disk then fails a plain write() that the caller
 * handles, never an HDF5 flush or close that would leave a file handle open for HDF5's
 * exit handler.
 * Reading: a file image (the bytes of a whole file) opened read-only, for the loaders'
 * in-memory entry points (io/load_image.h), which the fuzz harnesses use instead of
 * files. */
#ifndef NF_H5_IMAGE_H
#define NF_H5_IMAGE_H

#include "io/h5_check.h"

typedef struct h5_image {
    unsigned char *data; /* (size) the file's bytes once closed; malloc'd, owned here */
    size_t size;         /* the file's length (its end-of-file address) */
    size_t capacity;     /* bytes allocated in data */
} h5_image;

/* Sets the core driver and the image callbacks on fapl; img must outlive the file. */
nf_status h5_image_fapl(hid_t fapl, h5_image *img);
/* After H5Fclose of the file created with that fapl: checks that img holds a whole
 * HDF5 file (superblock version 2 or 3 after user_block bytes) and sets img->size to
 * its end-of-file address. */
nf_status h5_image_finish(h5_image *img, size_t user_block);
/* Where an HDF5 file is read from: the file at path or, when data is not NULL, the size
 * bytes of a whole file held in memory (path then only names it in messages). */
typedef struct h5_input {
    const char *path;
    const void *data;
    size_t size;
} h5_input;

/* Opens the size bytes at data read-only as an HDF5 file with the access properties of
 * fapl (H5P_DEFAULT or a list to copy; the driver is replaced by the core driver). HDF5
 * reads from its own copy of the bytes. On failure *file is negative and the message is
 * recorded (NF_ERR_FORMAT: not HDF5, truncated or corrupted). */
nf_status h5_image_open(const void *data, size_t size, hid_t fapl, hid_t *file);
/* Frees the bytes (safe on a zeroed or finished image). */
void h5_image_free(h5_image *img);

#endif
