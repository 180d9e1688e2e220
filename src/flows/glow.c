/* Glow's passes. Only the final output and the factored-out latents (together the
 * size of the input) live between forward and backward; backward walks the layers
 * in reverse, each rebuilding its input, so memory does not grow with K. A level whose
 * layers can run on image ranges goes through one threaded pass (glow_levels.c);
 * otherwise (ActNorm's first batch, vectors) layer by layer. A level's learned prior
 * (after its flow steps, before its split) always runs on the whole batch. Store mode keeps every
 * layer's input from the forward and puts it back after each layer's backward (the
 * exact-gradient reference and the guard's recompute). A conditional Glow hands every
 * level's layers the condition at that level's shape through g->ctx (glow_cond.c), on
 * the threaded path too. */
#include "glow_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- buffers */

static void store_free(glow *g) {
    if (g->stored)
        for (int i = 0; i < g->base.nlayers; i++) nf_free(g->stored[i]);
    nf_free(g->stored);
    g->stored = NULL;
    g->store_n = g->store_cap = 0;
}

void glow_buffers_free(glow *g) {
    nf_free(g->work);
    nf_free(g->grad);
    nf_free(g->part);
    g->work = g->grad = g->part = NULL;
    g->cap = 0;
    glow_cond_free(g);
    store_free(g);
}

static size_t sample_size(const glow *g) { return nf_shape_sample_count(g->base.in); }

nf_status glow_reserve(glow *g, int n) {
    if (n <= g->cap) return NF_OK;
    size_t D = sample_size(g), ws = 0;
    for (int i = 0; i < g->base.nlayers; i++) {
        nf_shape in = g->base.layers[i]->in;
        in.n = n;
        size_t w = nf_layer_workspace(g->base.layers[i], in);
        if (w > ws) ws = w;
    }
    size_t wl = glow_levels_workspace(g, n), wc = glow_cond_workspace(g, n);
    if (wl > ws) ws = wl;
    if (wc > ws) ws = wc;
    nf_free(g->work);
    nf_free(g->grad);
    nf_free(g->part);
    g->work = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    g->grad = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    g->part = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    g->cap = (g->work && g->grad && g->part && glow_cond_reserve(g, n) == NF_OK) ? n : 0;
    if (!g->cap || nf_ctx_reserve(&g->ctx, ws) != NF_OK)
        return nf_fail(NF_ERR_NOMEM, "glow: out of memory for a batch of %d", n);
    return NF_OK;
}

/* ---------------------------------------------------------------- z layout */

/* Per sample b, z_b[off .. off+cnt) <-> t_b (cnt values). */
static void latent_put(nf_real *z, size_t D, size_t off, const nf_real *t, size_t cnt, int n) {
    for (int b = 0; b < n; b++) memcpy(z + (size_t)b * D + off, t + (size_t)b * cnt, cnt * sizeof(nf_real));
}
static void latent_get(nf_real *t, const nf_real *z, size_t D, size_t off, size_t cnt, int n) {
    for (int b = 0; b < n; b++) memcpy(t + (size_t)b * cnt, z + (size_t)b * D + off, cnt * sizeof(nf_real));
}

static nf_tensor level_tensor(nf_real *data, int n, nf_shape s) { return nf_tensor_view(data, n, s.c, s.d, s.h, s.w); }

/* Shape of the latents a level factors out, and of what it keeps. */
static nf_shape factored_shape(const glow_level *lv) {
    nf_shape s = lv->shape;
    s.c -= s.c / 2;
    return s;
}
static nf_shape output_shape(const glow_level *lv) {
    nf_shape s = lv->shape;
    if (lv->split) s.c /= 2;
    return s;
}

/* ---------------------------------------------------------------- store mode */

nf_status glow_set_store_activations(nf_flow *f, int on) {
    glow *g = (glow *)f;
    g->store = on != 0;
    if (!g->store) store_free(g);
    return NF_OK;
}

/* Makes every layer's stored input hold a batch of n (before a store-mode forward;
 * the threaded level passes fill their shares of these buffers). */
static nf_status store_reserve(glow *g, int n) {
    if (!g->stored) {
        g->stored = nf_calloc((size_t)g->base.nlayers, sizeof(nf_real *));
        if (!g->stored) return nf_fail(NF_ERR_NOMEM, "glow: out of memory in store mode");
        g->store_cap = 0;
    }
    g->store_n = 0; /* nothing valid until the forward ends */
    if (g->store_cap == n) return NF_OK;
    for (int i = 0; i < g->base.nlayers; i++) {
        nf_free(g->stored[i]);
        g->stored[i] = nf_alloc(nf_shape_sample_count(g->base.layers[i]->in) * (size_t)n * sizeof(nf_real));
        if (!g->stored[i]) {
            g->store_cap = -1;
            return nf_fail(NF_ERR_NOMEM, "glow: out of memory in store mode (layer %d)", i);
        }
    }
    g->store_cap = n;
    return NF_OK;
}

/* ---------------------------------------------------------------- one layer at a time */

/* Layer i forward on the whole batch h, its input kept first in store mode. */
static nf_status layer_forward(glow *g, int i, nf_tensor *h, double *logdet) {
    if (g->store) memcpy(g->stored[i], h->data, nf_tensor_count(h) * sizeof(nf_real));
    return nf_layer_forward(g->base.layers[i], h, logdet, &g->ctx);
}

/* Layer i inverse; in store mode after a forward of this batch, notes how far the
 * rebuilt input is from the stored one. */
static nf_status layer_inverse(glow *g, int i, nf_tensor *h) {
    NF_TRY(nf_layer_inverse(g->base.layers[i], h, &g->ctx));
    if (g->store && g->stored && g->stored[i] && g->store_n == h->n)
        nf_flow_note_rebuild(&g->base, i, h->data, g->stored[i], nf_tensor_count(h));
    return NF_OK;
}

/* Layer i backward; in store mode the stored input replaces the rebuilt one. The
 * gradients of layers i.. are then final. */
static nf_status layer_backward(glow *g, int i, nf_tensor *h, nf_tensor *dh) {
    NF_TRY(nf_layer_backward(g->base.layers[i], h, dh, &g->ctx));
    if (g->store) nf_flow_restore_input(&g->base, i, h->data, g->stored[i], nf_tensor_count(h));
    nf_flow_grads_ready(&g->base, i);
    return NF_OK;
}

/* ---------------------------------------------------------------- passes */

/* The passes below with the condition handed to the layers (glow_cond.c) and taken away
 * again whatever happens. */
static nf_status forward_pass(glow *g, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet);
static nf_status inverse_pass(glow *g, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x);
static nf_status backward_pass(glow *g, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond,
                               double dlogdet, nf_tensor *x, nf_tensor *dx);

nf_status glow_forward(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet) {
    glow *g = (glow *)f;
    nf_status s = forward_pass(g, x, cond, z, logdet);
    glow_cond_end(g);
    return s;
}

nf_status glow_inverse(nf_flow *f, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x) {
    glow *g = (glow *)f;
    nf_status s = inverse_pass(g, z, cond, x);
    glow_cond_end(g);
    return s;
}

nf_status glow_backward(nf_flow *f, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond, double dlogdet,
                        nf_tensor *x, nf_tensor *dx) {
    glow *g = (glow *)f;
    nf_status s = backward_pass(g, z, dz, cond, dlogdet, x, dx);
    glow_cond_end(g);
    return s;
}

static nf_status forward_pass(glow *g, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet) {
    nf_flow *f = &g->base;
    int n = x->n;
    size_t D = sample_size(g);
    NF_TRY(glow_cond_check(g));
    NF_TRY(glow_reserve(g, n));
    if (g->store) NF_TRY(store_reserve(g, n));
    g->ctx.sum = f->sum, g->ctx.sum_user = f->sum_user;
    NF_TRY(glow_cond_begin(g, cond, n, 0));
    memcpy(g->work, x->data, nf_tensor_count(x) * sizeof(nf_real));
    memset(logdet, 0, sizeof(double) * (size_t)n);
    nf_tensor h = *x;
    h.data = g->work;
    for (int l = 0; l < g->nlevels; l++) {
        const glow_level *lv = &g->level[l];
        int from = lv->squeeze ? lv->first - 1 : lv->first;
        NF_TRY(glow_cond_enter(g, l));
        if (glow_level_ready(g, lv, n)) {
            NF_TRY(glow_level_forward(g, lv, &h, logdet));
        } else {
            for (int i = from; i < lv->first + lv->count; i++) NF_TRY(layer_forward(g, i, &h, logdet));
        }
        if (lv->prior >= 0) NF_TRY(layer_forward(g, lv->prior, &h, logdet));
        if (lv->split) {
            nf_shape fs = factored_shape(lv);
            nf_tensor part = level_tensor(g->part, n, fs);
            NF_TRY(nf_split_forward(&h, &part));
            latent_put(z->data, D, lv->zoff, g->part, nf_shape_sample_count(fs), n);
        }
    }
    if (g->store) g->store_n = n;
    latent_put(z->data, D, g->level[g->nlevels - 1].zoff, g->work, nf_tensor_sample_count(&h), n);
    return NF_OK;
}

/* Loads the last level's output of z (and dz) into the working buffers. */
static nf_tensor load_top(glow *g, const nf_tensor *z, nf_real *dst, int n) {
    const glow_level *top = &g->level[g->nlevels - 1];
    nf_shape s = output_shape(top);
    latent_get(dst, z->data, sample_size(g), top->zoff, nf_shape_sample_count(s), n);
    return level_tensor(dst, n, s);
}

/* Puts a level's factored latents from z back beside h. */
static nf_status unsplit(glow *g, const glow_level *lv, const nf_tensor *z, nf_tensor *h) {
    nf_shape fs = factored_shape(lv);
    int n = h->n;
    latent_get(g->part, z->data, sample_size(g), lv->zoff, nf_shape_sample_count(fs), n);
    nf_tensor part = level_tensor(g->part, n, fs);
    return nf_split_inverse(h, &part);
}

static nf_status inverse_pass(glow *g, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x) {
    int n = z->n;
    NF_TRY(glow_cond_check(g));
    NF_TRY(glow_reserve(g, n));
    NF_TRY(glow_cond_begin(g, cond, n, 0));
    NF_TRY(glow_cond_top(g));
    nf_tensor h = load_top(g, z, g->work, n);
    for (int l = g->nlevels - 1; l >= 0; l--) {
        const glow_level *lv = &g->level[l];
        if (lv->split) NF_TRY(unsplit(g, lv, z, &h));
        if (lv->prior >= 0) NF_TRY(layer_inverse(g, lv->prior, &h));
        int from = lv->squeeze ? lv->first - 1 : lv->first;
        if (!g->store && glow_level_ready(g, lv, n)) { /* store mode: per-layer errors below */
            NF_TRY(glow_level_inverse(g, lv, &h));
        } else {
            for (int i = lv->first + lv->count - 1; i >= from; i--) NF_TRY(layer_inverse(g, i, &h));
        }
        NF_TRY(glow_cond_leave(g, l));
    }
    memcpy(x->data, h.data, nf_tensor_count(&h) * sizeof(nf_real));
    return NF_OK;
}

static nf_status backward_pass(glow *g, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond,
                               double dlogdet, nf_tensor *x, nf_tensor *dx) {
    nf_flow *f = &g->base;
    int n = z->n;
    NF_TRY(glow_cond_check(g));
    NF_TRY(glow_reserve(g, n));
    if (g->store && (!g->stored || g->store_n != n))
        return nf_fail(NF_ERR_STATE, "glow: store mode backward needs a forward of the same batch first");
    g->ctx.dlogdet = dlogdet;
    NF_TRY(glow_cond_begin(g, cond, n, 1));
    NF_TRY(glow_cond_top(g));
    nf_flow_drift_reset(&g->base);
    nf_tensor h = load_top(g, z, g->work, n);
    nf_tensor dh = load_top(g, dz, g->grad, n);
    for (int l = g->nlevels - 1; l >= 0; l--) {
        const glow_level *lv = &g->level[l];
        if (lv->split) {
            NF_TRY(unsplit(g, lv, z, &h));
            NF_TRY(unsplit(g, lv, dz, &dh));
        }
        if (lv->prior >= 0) NF_TRY(layer_backward(g, lv->prior, &h, &dh));
        int from = lv->squeeze ? lv->first - 1 : lv->first;
        if (glow_level_ready(g, lv, n)) {
            NF_TRY(glow_level_backward(g, lv, &h, &dh));
            nf_flow_grads_ready(f, from);
        } else {
            for (int i = lv->first + lv->count - 1; i >= from; i--) NF_TRY(layer_backward(g, i, &h, &dh));
        }
        NF_TRY(glow_cond_leave(g, l));
    }
    NF_TRY(glow_cond_finish(g)); /* the condition's ActNorm, layer 0 of a conditional Glow */
    nf_flow_grads_ready(f, 0);
    if (x) memcpy(x->data, h.data, nf_tensor_count(&h) * sizeof(nf_real));
    if (dx) memcpy(dx->data, dh.data, nf_tensor_count(&dh) * sizeof(nf_real));
    return NF_OK;
}
