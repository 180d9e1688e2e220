/* JPEG files -> 8-bit RGB through libjpeg(-turbo). libjpeg's default error handler
 * exits the process and its messages go to stderr: here errors longjmp back and become
 * a status, and any warning (a truncated or damaged stream) marks the file corrupt. */
#include "image.h"

#include <jpeglib.h>
#include <setjmp.h>
#include <string.h>

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
    int warned;
} jerr;

static void on_error(j_common_ptr c) {
    jerr *e = (jerr *)c->err;
    c->err->format_message(c, e->message);
    longjmp(e->back, 1);
}

static void on_message(j_common_ptr c, int level) {
    jerr *e = (jerr *)c->err;
    if (level < 0 && !e->warned) { /* a warning: keep the first one */
        c->err->format_message(c, e->message);
        e->warned = 1;
    }
}

nf_status nfd_jpeg_read(FILE *f, nfd_image *im) {
    memset(im, 0, sizeof *im);
    struct jpeg_decompress_struct d;
    jerr e;
    memset(&e, 0, sizeof e);
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = on_error;
    e.mgr.emit_message = on_message;
    /* volatile: read after a longjmp */
    unsigned char *volatile px = NULL;
    if (setjmp(e.back)) {
        jpeg_destroy_decompress(&d);
        nf_free(px);
        return nf_fail(NF_ERR_FORMAT, "corrupt or unsupported JPEG (libjpeg: %s)", e.message);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    if ((long long)d.image_width * d.image_height > NFD_IMAGE_MAX_PIXELS) {
        jpeg_destroy_decompress(&d);
        return nf_fail(NF_ERR_FORMAT, "JPEG of %ux%u pixels is too large", d.image_width, d.image_height);
    }
    d.out_color_space = JCS_RGB; /* gray and YCbCr; CMYK fails in jpeg_start_decompress */
    jpeg_start_decompress(&d);
    int w = (int)d.output_width, h = (int)d.output_height;
    px = nf_alloc((size_t)w * (size_t)h * 3);
    if (!px) {
        jpeg_destroy_decompress(&d);
        return nf_fail(NF_ERR_NOMEM, "out of memory for a %dx%d JPEG", w, h);
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + (size_t)d.output_scanline * (size_t)w * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    if (e.warned) {
        nf_free(px);
        return nf_fail(NF_ERR_FORMAT, "corrupt or truncated JPEG (libjpeg: %s)", e.message);
    }
    im->px = px, im->w = w, im->h = h;
    return NF_OK;
}
