/* The stamp in a model file's user block (see model_stamp.h):
 *     "NFLOW-STAMP 1\nbytes <file size>\ncrc32 <8 hex digits>\n", NUL-padded to 512 bytes,
 * the CRC taken over bytes [512, file size). */
#include "io/model_stamp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define STAMP_MAGIC "NFLOW-STAMP 1\n"
#define EDIT_HINT "if it was changed on purpose, zero its first 512 bytes"

uint32_t model_crc32(uint32_t crc, const void *data, size_t n) {
    static const uint32_t poly = 0xEDB88320u;
    uint32_t table[256]; /* built per call (microseconds): no shared state between threads */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (poly & (0u - (c & 1u)));
        table[i] = c;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = (crc >> 8) ^ table[(crc ^ p[i]) & 255u];
    return ~crc;
}

/* CRC-32 of fp from offset MODEL_STAMP_BYTES to its end; *size receives the file size. */
static nf_status crc_of_body(FILE *fp, uint32_t *crc, uint64_t *size) {
    unsigned char buf[1 << 16];
    *crc = 0;
    *size = MODEL_STAMP_BYTES;
    if (fseek(fp, MODEL_STAMP_BYTES, SEEK_SET) != 0) return nf_fail(NF_ERR_IO, "cannot seek: %s", strerror(errno));
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, fp)) > 0) {
        *crc = model_crc32(*crc, buf, got);
        *size += got;
    }
    if (ferror(fp)) return nf_fail(NF_ERR_IO, "cannot read the file: %s", strerror(errno));
    return NF_OK;
}

void model_stamp_fill(unsigned char *image, size_t size) {
    if (size < MODEL_STAMP_BYTES) return;
    uint32_t crc = model_crc32(0, image + MODEL_STAMP_BYTES, size - MODEL_STAMP_BYTES);
    char stamp[MODEL_STAMP_BYTES] = {0};
    snprintf(stamp, sizeof stamp, STAMP_MAGIC "bytes %" PRIu64 "\ncrc32 %08" PRIx32 "\n", (uint64_t)size, crc);
    memcpy(image, stamp, sizeof stamp);
}

/* The stamp's recorded size and CRC from the first got bytes of head (NUL-terminated):
 * *has = 0 when they hold no stamp; NF_ERR_FORMAT when the stamp is damaged. */
static nf_status stamp_parse(const char *head, size_t got, int *has, uint64_t *want_size, uint32_t *want_crc) {
    *has = got >= MODEL_STAMP_BYTES && !strncmp(head, STAMP_MAGIC, strlen(STAMP_MAGIC));
    if (!*has) return NF_OK; /* no stamp: HDF5's own checks are all there is */
    if (sscanf(head + strlen(STAMP_MAGIC), "bytes %" SCNu64 " crc32 %" SCNx32, want_size, want_crc) != 2)
        return nf_fail(NF_ERR_FORMAT, "the file's stamp is damaged (corrupted file)");
    return NF_OK;
}

static nf_status stamp_compare(uint64_t size, uint32_t crc, uint64_t want_size, uint32_t want_crc) {
    if (size < want_size)
        return nf_fail(NF_ERR_FORMAT, "truncated file: %" PRIu64 " bytes, it was written with %" PRIu64, size,
                       want_size);
    if (size != want_size || crc != want_crc)
        return nf_fail(NF_ERR_FORMAT, "corrupted file: %" PRIu64 " bytes with CRC-32 %08" PRIx32 ", it was written "
                       "with %" PRIu64 " and %08" PRIx32 " (" EDIT_HINT ")", size, crc, want_size, want_crc);
    return NF_OK;
}

nf_status model_stamp_check(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return nf_fail(NF_ERR_IO, "cannot open the file: %s", strerror(errno));
    char stamp[MODEL_STAMP_BYTES + 1] = {0};
    size_t got = fread(stamp, 1, MODEL_STAMP_BYTES, fp);
    uint64_t want_size, size;
    uint32_t want_crc, crc;
    int has;
    nf_status st = stamp_parse(stamp, got, &has, &want_size, &want_crc);
    if (st == NF_OK && has && (st = crc_of_body(fp, &crc, &size)) == NF_OK)
        st = stamp_compare(size, crc, want_size, want_crc);
    fclose(fp);
    return st;
}

nf_status model_stamp_check_image(const unsigned char *image, size_t size) {
    char stamp[MODEL_STAMP_BYTES + 1] = {0};
    size_t got = size < MODEL_STAMP_BYTES ? size : MODEL_STAMP_BYTES;
    memcpy(stamp, image, got);
    uint64_t want_size;
    uint32_t want_crc;
    int has;
    NF_TRY(stamp_parse(stamp, got, &has, &want_size, &want_crc));
    if (!has) return NF_OK;
    uint32_t crc = model_crc32(0, image + MODEL_STAMP_BYTES, size - MODEL_STAMP_BYTES);
    return stamp_compare(size, crc, want_size, want_crc);
}

nf_status model_stamp_clear(const char *path) {
    FILE *fp = fopen(path, "r+b");
    if (!fp) return nf_fail(NF_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char head[sizeof STAMP_MAGIC] = "";
    static const char zeros[MODEL_STAMP_BYTES];
    nf_status st = NF_OK;
    if (fread(head, 1, strlen(STAMP_MAGIC), fp) == strlen(STAMP_MAGIC) && !memcmp(head, STAMP_MAGIC, strlen(STAMP_MAGIC)) &&
        (fseek(fp, 0, SEEK_SET) != 0 || fwrite(zeros, 1, sizeof zeros, fp) != sizeof zeros))
        st = nf_fail(NF_ERR_IO, "cannot clear the stamp of '%s': %s", path, strerror(errno));
    if (fclose(fp) != 0 && st == NF_OK) st = nf_fail(NF_ERR_IO, "cannot close '%s': %s", path, strerror(errno));
    return st;
}
