/* Pictures for `nflow data images`: decoding PNG and JPEG files into 8-bit RGB, fitting
 * them to one size (scale-and-centre-crop or centre-crop), and walking a folder tree in a
 * fixed order. Internal to nflow_datasets. */
#ifndef NFD_IMAGE_H
#define NFD_IMAGE_H

#include <nflow/extend.h>

#include <stdio.h>

/* Refused as too large to decode (a corrupt header or a decompression bomb). */
#define NFD_IMAGE_MAX_PIXELS (1LL << 28)

typedef struct nfd_image {
    unsigned char *px; /* (h, w, 3) RGB, rows top to bottom */
    int h, w;
} nfd_image;

typedef enum nfd_image_kind { NFD_NOT_IMAGE = 0, NFD_PNG = 1, NFD_JPEG = 2 } nfd_image_kind;

/* What the first bytes of f say it is (f is rewound). */
nfd_image_kind nfd_image_sniff(FILE *f);

/* Decoders: f positioned at the start. NF_ERR_FORMAT with the decoder's reason for a
 * corrupt, truncated or unsupported file (a JPEG with any decoder warning counts as corrupt),
 * NF_ERR_NOMEM. PNG alpha is composited on black; grayscale becomes R = G = B. */
nf_status nfd_png_read(FILE *f, nfd_image *im);
nf_status nfd_jpeg_read(FILE *f, nfd_image *im);
void nfd_image_free(nfd_image *im);

/* How an image of another size becomes H x W. */
typedef enum nfd_fit {
    NFD_FIT_RESIZE = 0, /* scale (keeping the aspect ratio) to cover H x W, then centre-crop */
    NFD_FIT_CROP = 1    /* centre-crop at the original scale; smaller images are refused */
} nfd_fit;

/* out (channels, H, W) planar uint8 from im: channels 3 (RGB) or 1 (gray, Y = (299 R +
 * 587 G + 114 B) / 1000 rounded, ITU-R 601 as libjpeg and PIL). Resizing uses a triangle
 * filter widened by the reduction factor (antialiased, as PIL's bilinear); an image of the
 * target size comes out unchanged. NF_ERR_FORMAT when crop needs a larger image. */
nf_status nfd_image_fit(const nfd_image *im, int H, int W, int channels, nfd_fit fit, unsigned char *out);

/* Calls fn(ctx, path, rel) for every regular file under dir (rel: the path below dir),
 * depth first, the entries of each folder in byte order of their names; names starting
 * with '.' are skipped and symbolic links to folders not followed. Stops at the first
 * status fn returns that is not NF_OK. Memory: one folder listing per level. */
typedef nf_status (*nfd_walk_fn)(void *ctx, const char *path, const char *rel);
nf_status nfd_walk(const char *dir, nfd_walk_fn fn, void *ctx);

/* The names of the sub-folders of dir (sorted, hidden ones and links skipped). *names is
 * one allocation of *count pointers and their strings; free it with nf_free. */
nf_status nfd_list_subdirs(const char *dir, char ***names, int *count);

#endif
