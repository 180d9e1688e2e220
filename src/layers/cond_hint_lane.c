/* The y lane's buffers and density, shared by the conditional HINT layers. */
#include "layers/cond_hint_lane.h"

#include <math.h>

static size_t ld_count(int n) { return (size_t)n * sizeof(double) / sizeof(nf_real) + 1; }

size_t nf_ylane_bytes(nf_shape ys, int n) {
    size_t count = (size_t)n * nf_shape_sample_count(ys);
    return 2 * nf_work_bytes(count) + nf_work_bytes(ld_count(n));
}

nf_ylane nf_ylane_take(nf_ctx *ctx, nf_shape ys, int n) {
    size_t off = 0, count = (size_t)n * nf_shape_sample_count(ys);
    nf_ylane w;
    w.y = nf_tensor_view(nf_ctx_take(ctx, &off, count), n, ys.c, ys.d, ys.h, ys.w);
    w.dy = nf_tensor_view(nf_ctx_take(ctx, &off, count), n, ys.c, ys.d, ys.h, ys.w);
    w.ld = (double *)nf_ctx_take(ctx, &off, ld_count(n));
    w.sub = *ctx;
    w.sub.work = (unsigned char *)ctx->work + off;
    w.sub.work_bytes = ctx->work_bytes - off;
    w.sub.cond = NULL, w.sub.dcond = NULL;
    return w;
}

void nf_ylane_seed_grad(nf_ylane *w, double dlogdet) {
    size_t ny = nf_tensor_count(&w->y);
    for (size_t i = 0; i < ny; i++) w->dy.data[i] = (nf_real)(-dlogdet * w->y.data[i]);
}

void nf_ylane_add_dcond(const nf_ylane *w, nf_tensor *dcond) {
    if (!dcond) return;
    size_t ny = nf_tensor_count(&w->dy);
    for (size_t i = 0; i < ny; i++) dcond->data[i] += w->dy.data[i];
}

void nf_add_log_normal(const nf_tensor *z, double *logdet) {
    size_t S = nf_tensor_sample_count(z);
    for (int b = 0; b < z->n; b++) {
        const nf_real *v = z->data + (size_t)b * S;
        double sq = 0;
        for (size_t i = 0; i < S; i++) sq += (double)v[i] * v[i];
        logdet[b] += -0.5 * sq - 0.5 * (double)S * log(2 * M_PI);
    }
}
