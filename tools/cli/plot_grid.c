/* Grids of images (samples of an image flow): a mosaic with 2-pixel white gutters,
 * written as PNG with libpng, or into an RGBA buffer for a GIF frame. */
#include "plot.h"

#include <png.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GUTTER = 2 };

void plot_grid_size(const nf_tensor *x, int cols, int scale, int *width, int *height) {
    int rows = (x->n + cols - 1) / cols;
    *width = cols * (x->w * scale + GUTTER) + GUTTER;
    *height = rows * (x->h * scale + GUTTER) + GUTTER;
}

/* v in [lo, hi] -> 0..255 */
static unsigned char level(double v, double lo, double hi) {
    double u = (v - lo) / (hi - lo);
    if (!(u > 0)) u = 0; /* NaN too */
    if (u > 1) u = 1;
    return (unsigned char)lrint(255 * u);
}

static void fill_mosaic(unsigned char *rgba, int W, const nf_tensor *x, int cols, int scale, double lo, double hi) {
    size_t plane = (size_t)x->h * x->w;
    for (int k = 0; k < x->n; k++) {
        int r = k / cols, c = k % cols;
        int ox = GUTTER + c * (x->w * scale + GUTTER), oy = GUTTER + r * (x->h * scale + GUTTER);
        const nf_real *img = x->data + (size_t)k * x->c * plane;
        for (int i = 0; i < x->h * scale; i++)
            for (int j = 0; j < x->w * scale; j++) {
                size_t src = (size_t)(i / scale) * x->w + (size_t)(j / scale);
                unsigned char *px = rgba + 4 * ((size_t)(oy + i) * W + (size_t)(ox + j));
                for (int ch = 0; ch < 3; ch++) px[ch] = level(img[(x->c == 3 ? ch : 0) * plane + src], lo, hi);
                px[3] = 255;
            }
    }
}

static int write_png(const char *path, const unsigned char *rgba, int W, int H, char *err, size_t errn) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errn, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        snprintf(err, errn, "cannot write %s: libpng failed", path);
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < H; y++) png_write_row(png, (png_const_bytep)(rgba + 4 * (size_t)y * W));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) {
        snprintf(err, errn, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int plot_image_grid(const plot_target *t, const nf_tensor *x, int cols, int scale, double lo, double hi, char *err,
                    size_t errn) {
    if ((x->c != 1 && x->c != 3) || x->d != 1) {
        snprintf(err, errn, "an image grid needs 1 or 3 channels and depth 1, got %d channels, depth %d", x->c, x->d);
        return -1;
    }
    if (!(hi > lo)) hi = lo + 1;
    int W, H;
    plot_grid_size(x, cols, scale, &W, &H);
    unsigned char *rgba = t->png ? malloc(4 * (size_t)W * H) : t->rgba;
    if (!rgba) {
        snprintf(err, errn, "out of memory for a %dx%d grid", W, H);
        return -1;
    }
    memset(rgba, 255, 4 * (size_t)W * H);
    fill_mosaic(rgba, W, x, cols, scale, lo, hi);
    int rc = t->png ? write_png(t->png, rgba, W, H, err, errn) : 0;
    if (t->png) free(rgba);
    return rc;
}
