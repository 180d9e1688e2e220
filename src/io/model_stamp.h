/* The stamp of a model or checkpoint file: the first 512 bytes of the file (an HDF5
 * user block, which HDF5 and h5py skip) hold the file's size and the CRC-32 of
 * everything after them. Loading checks the stamp before HDF5 reads a byte, so a
 * truncated or corrupted file is refused with a precise message, and HDF5 never parses
 * damaged metadata (HDF5 1.10 leaks internal objects when it meets a bad header
 * checksum, and its data checksum, Fletcher-32, misses some byte flips). */
#ifndef NF_MODEL_STAMP_H
#define NF_MODEL_STAMP_H

#include "nf_internal.h"

#define MODEL_STAMP_BYTES 512 /* the HDF5 user block size the files are created with */

/* Writes the stamp into the user block (the first MODEL_STAMP_BYTES) of the complete
 * file image of size bytes (nothing for an image shorter than the user block). */
void model_stamp_fill(unsigned char *image, size_t size);
/* Checks path against its stamp: NF_OK if it matches or if the file has no stamp
 * (written by another program, or its stamp cleared after an edit); NF_ERR_FORMAT for
 * a size or checksum mismatch; NF_ERR_IO if it cannot be read. */
nf_status model_stamp_check(const char *path);
/* The same for the size bytes of a file image in memory. */
nf_status model_stamp_check_image(const unsigned char *image, size_t size);

/* Zeroes the stamp of path if it has one (what anyone editing a model file must do;
 * tests use it after their edits). */
nf_status model_stamp_clear(const char *path);

/* CRC-32 (the zlib/PNG one: reflected 0xEDB88320, so Python's zlib.crc32 agrees) of
 * n bytes, continuing from crc (0 to start). */
uint32_t model_crc32(uint32_t crc, const void *data, size_t n);

#endif
