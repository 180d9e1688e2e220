/* Bringing decoded pictures to one size and channel count (see image.h). */
#include "image.h"

#include <math.h>
#include <string.h>

nfd_image_kind nfd_image_sniff(FILE *f) {
    unsigned char b[8] = {0};
    size_t n = fread(b, 1, sizeof b, f);
    rewind(f);
    if (n == 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return NFD_PNG;
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return NFD_JPEG;
    return NFD_NOT_IMAGE;
}

void nfd_image_free(nfd_image *im) {
    nf_free(im->px);
    im->px = NULL;
}

/* The source pixels and weights behind each of n_out outputs along one axis: output o
 * sits at source coordinate (o + 0.5) / scale + offset; a triangle of half-width
 * max(1, 1/scale) source pixels, cut to the image and renormalised. */
typedef struct taps {
    int *first, *count; /* (n_out) */
    float *w;           /* (n_out, width) */
    int width;
} taps;

static nf_status taps_make(taps *t, int n_src, int n_out, double scale, double offset) {
    double support = scale < 1 ? 1 / scale : 1;
    t->width = (int)ceil(2 * support) + 2;
    t->first = nf_alloc(sizeof(int) * (size_t)n_out * 2);
    t->w = nf_alloc(sizeof(float) * (size_t)n_out * (size_t)t->width);
    if (!t->first || !t->w) return nf_fail(NF_ERR_NOMEM, "out of memory for resampling");
    t->count = t->first + n_out;
    for (int o = 0; o < n_out; o++) {
        double c = (o + 0.5) / scale + offset;
        int lo = (int)floor(c - support), hi = (int)ceil(c + support);
        if (lo < 0) lo = 0;
        if (hi > n_src - 1) hi = n_src - 1;
        float *w = t->w + (size_t)o * (size_t)t->width;
        double sum = 0;
        int k = 0;
        for (int i = lo; i <= hi && k < t->width; i++) {
            double v = 1 - fabs(i + 0.5 - c) / support;
            if (v <= 0 && k == 0) {
                lo = i + 1;
                continue;
            }
            w[k++] = (float)(v > 0 ? v : 0);
            sum += v > 0 ? v : 0;
        }
        for (int j = 0; j < k; j++) w[j] = (float)(w[j] / sum);
        t->first[o] = lo;
        t->count[o] = k;
    }
    return NF_OK;
}

static void taps_free(taps *t) {
    nf_free(t->first);
    nf_free(t->w);
}

static unsigned char to_byte(float v) { return (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : lrintf(v)); }

/* out (3, H, W) planar: the window [y0, y0 + H) x [x0, x0 + W) of im, or im resampled. */
static nf_status rgb_planes(const nfd_image *im, int H, int W, nfd_fit fit, unsigned char *out) {
    size_t plane = (size_t)H * (size_t)W;
    if (fit == NFD_FIT_CROP || (im->h == H && im->w == W)) {
        if (im->h < H || im->w < W)
            return nf_fail(NF_ERR_FORMAT, "%dx%d is smaller than %dx%d (centre crop; --fit resize scales it)", im->w,
                           im->h, W, H);
        int y0 = (im->h - H) / 2, x0 = (im->w - W) / 2;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const unsigned char *p = im->px + ((size_t)(y + y0) * (size_t)im->w + (size_t)(x + x0)) * 3;
                for (int c = 0; c < 3; c++) out[(size_t)c * plane + (size_t)y * W + x] = p[c];
            }
        return NF_OK;
    }
    /* cover H x W, then the centre: one scale for both axes */
    double s = fmax((double)H / im->h, (double)W / im->w);
    taps ty = {0}, tx = {0};
    float *rows = NULL; /* (im->h, W, 3) after the horizontal pass */
    nf_status st = taps_make(&ty, im->h, H, s, (im->h - H / s) / 2);
    if (st == NF_OK) st = taps_make(&tx, im->w, W, s, (im->w - W / s) / 2);
    if (st == NF_OK && !(rows = nf_alloc(sizeof(float) * (size_t)im->h * (size_t)W * 3)))
        st = nf_fail(NF_ERR_NOMEM, "out of memory for resampling a %dx%d image", im->w, im->h);
    if (st == NF_OK) {
        for (int y = 0; y < im->h; y++)
            for (int x = 0; x < W; x++) {
                const float *w = tx.w + (size_t)x * (size_t)tx.width;
                const unsigned char *p = im->px + ((size_t)y * (size_t)im->w + (size_t)tx.first[x]) * 3;
                float acc[3] = {0, 0, 0};
                for (int k = 0; k < tx.count[x]; k++)
                    for (int c = 0; c < 3; c++) acc[c] += w[k] * p[3 * k + c];
                memcpy(rows + ((size_t)y * W + x) * 3, acc, sizeof acc);
            }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float *w = ty.w + (size_t)y * (size_t)ty.width;
                float acc[3] = {0, 0, 0};
                for (int k = 0; k < ty.count[y]; k++) {
                    const float *r = rows + ((size_t)(ty.first[y] + k) * W + x) * 3;
                    for (int c = 0; c < 3; c++) acc[c] += w[k] * r[c];
                }
                for (int c = 0; c < 3; c++) out[(size_t)c * plane + (size_t)y * W + x] = to_byte(acc[c]);
            }
    }
    nf_free(rows);
    taps_free(&ty);
    taps_free(&tx);
    return st;
}

nf_status nfd_image_fit(const nfd_image *im, int H, int W, int channels, nfd_fit fit, unsigned char *out) {
    if (channels == 3) return rgb_planes(im, H, W, fit, out);
    size_t plane = (size_t)H * (size_t)W;
    unsigned char *rgb = nf_alloc(3 * plane);
    if (!rgb) return nf_fail(NF_ERR_NOMEM, "out of memory for a %dx%d image", W, H);
    nf_status st = rgb_planes(im, H, W, fit, rgb);
    for (size_t i = 0; st == NF_OK && i < plane; i++)
        out[i] = (unsigned char)((299u * rgb[i] + 587u * rgb[plane + i] + 114u * rgb[2 * plane + i] + 500u) / 1000u);
    nf_free(rgb);
    return st;
}
