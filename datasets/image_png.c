/* PNG files -> 8-bit RGB through libpng's simplified API (palettes, 16-bit, gray and
 * alpha handled by libpng; nothing printed, errors come back in the png_image). */
#include "image.h"

#include <png.h>
#include <string.h>

nf_status nfd_png_read(FILE *f, nfd_image *im) {
    memset(im, 0, sizeof *im);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&img, f))
        return nf_fail(NF_ERR_FORMAT, "not a readable PNG (libpng: %s)", img.message);
    if ((long long)img.width * img.height > NFD_IMAGE_MAX_PIXELS || img.width == 0 || img.height == 0) {
        png_image_free(&img);
        return nf_fail(NF_ERR_FORMAT, "PNG of %ux%u pixels is empty or too large", img.width, img.height);
    }
    img.format = PNG_FORMAT_RGB;
    /* 16-bit files without gAMA/sRGB: sRGB-encoded values scaled to 8 bits (as PIL), not
     * libpng's default of linear light converted to sRGB, which brightens them */
    img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    im->h = (int)img.height, im->w = (int)img.width;
    im->px = nf_alloc(PNG_IMAGE_SIZE(img));
    if (!im->px) {
        png_image_free(&img);
        return nf_fail(NF_ERR_NOMEM, "out of memory for a %dx%d PNG", im->w, im->h);
    }
    png_color black = {0, 0, 0};
    if (!png_image_finish_read(&img, &black, im->px, 0, NULL)) {
        nf_status st = nf_fail(NF_ERR_FORMAT, "corrupt or truncated PNG (libpng: %s)", img.message);
        nfd_image_free(im);
        return st;
    }
    png_image_free(&img);
    return NF_OK;
}
