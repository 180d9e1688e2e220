/* Volumes as pictures: each (c, d, h, w) sample becomes one flat panel of its three
 * middle slices side by side, so the image grids of pictures.c draw volumes too. For a
 * seismic cube (time, line, trace) the panel is
 *
 *     [ inline section (d x w) | crossline section (d x h) | time slice (h x w) ]
 *
 * sections with time downwards, separated by one voxel of the fill value. */
#include "pictures.h"

#include <math.h>
#include <stdlib.h>

enum { SLICE_GAP = 1 };

nf_tensor pictures_panel_shape(int n, int c, int d, int h, int w) {
    if (d <= 1) return (nf_tensor){NULL, n, c, d, h, w};
    return (nf_tensor){NULL, n, c, 1, d > h ? d : h, w + SLICE_GAP + h + SLICE_GAP + w};
}

nf_status pictures_slices(const nf_tensor *x, double fill, nf_tensor *out) {
    nf_tensor s = pictures_panel_shape(x->n, x->c, x->d, x->h, x->w);
    nf_status st = nf_tensor_alloc(out, s.n, s.c, s.d, s.h, s.w);
    if (st != NF_OK) return st;
    size_t plane = (size_t)x->h * x->w, vol = plane * x->d, pp = (size_t)s.h * s.w;
    int mh = x->h / 2, mw = x->w / 2, md = x->d / 2, o2 = x->w + SLICE_GAP, o3 = o2 + x->h + SLICE_GAP;
    for (size_t i = 0; i < nf_tensor_count(out); i++) out->data[i] = (nf_real)fill;
    for (int k = 0; k < x->n * x->c; k++) {
        const nf_real *v = x->data + (size_t)k * vol;
        nf_real *p = out->data + (size_t)k * pp;
        for (int t = 0; t < x->d; t++) {
            for (int j = 0; j < x->w; j++) p[(size_t)t * s.w + j] = v[t * plane + (size_t)mh * x->w + j];
            for (int i = 0; i < x->h; i++) p[(size_t)t * s.w + o2 + i] = v[t * plane + (size_t)i * x->w + mw];
        }
        for (int i = 0; i < x->h; i++)
            for (int j = 0; j < x->w; j++) p[(size_t)i * s.w + o3 + j] = v[md * plane + (size_t)i * x->w + j];
    }
    return NF_OK;
}

static int cmp_real(const void *a, const void *b) {
    nf_real x = *(const nf_real *)a, y = *(const nf_real *)b;
    return (x > y) - (x < y);
}

void pictures_robust_range(const nf_tensor *x, double *lo, double *hi) {
    enum { MAX_KEPT = 1 << 16 };
    size_t n = nf_tensor_count(x), step = n > MAX_KEPT ? (n + MAX_KEPT - 1) / MAX_KEPT : 1, m = 0;
    nf_real *v = malloc(sizeof(nf_real) * (n / step + 1));
    *lo = -0.5, *hi = 0.5;
    if (!v) return;
    for (size_t i = 0; i < n; i += step)
        if (isfinite(x->data[i])) v[m++] = x->data[i];
    if (m > 0) {
        qsort(v, m, sizeof(nf_real), cmp_real);
        *lo = v[(size_t)(0.005 * (double)(m - 1))];
        *hi = v[(size_t)(0.995 * (double)(m - 1))];
    }
    free(v);
    if (!(*hi > *lo)) *hi = *lo + 1;
}
