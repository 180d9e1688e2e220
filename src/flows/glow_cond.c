/* The condition of a conditional Glow (InvertibleNetworks.jl's NetworkConditionalGlow):
 * y (n, Cy, D, H, W), the same spatial size as x, goes once through its own ActNorm
 * (data-initialised like x's, layer 0; its logdet is not part of the flow's, y being an
 * input) and is then squeezed alongside x at the start of every level, never split; every
 * coupling of a level reads the level's y through g->ctx.cond.
 *
 * Going down (inverse, backward) the condition is squeezed to the top level once and
 * unsqueezed level by level, so one buffer of y's size holds it whatever L and K. In
 * backward the couplings add dloss/dy_l to g->dcond, which is unsqueezed with y and
 * finally taken back through the ActNorm (its gradients, dlogdet 0). */
#include "glow_internal.h"

#include <string.h>

static int conditional(const glow *g) { return g->cfg.cond_channels > 0; }

nf_status glow_cond_build(glow *g, nf_shape s, int level) {
    if (!conditional(g)) return NF_OK;
    if (level < 0) { /* before the levels: the ActNorm, layer 0 */
        nf_shape y = {1, g->cfg.cond_channels, s.d, s.h, s.w};
        g->base.cond = y;
        NF_TRY(nf_actnorm_create(&g->base.layers[g->base.nlayers], y));
        g->cond_norm = g->base.layers[g->base.nlayers++];
        return NF_OK;
    }
    glow_level *lv = &g->level[level];
    nf_shape c = level ? g->level[level - 1].cond : g->base.cond;
    if (g->cfg.multiscale) {
        NF_TRY(g->cfg.squeeze == NF_SQUEEZE_HAAR ? nf_haar_create(&lv->cond_squeeze, c)
                                                  : nf_squeeze_create(&lv->cond_squeeze, c));
        NF_TRY(nf_layer_out_shape(lv->cond_squeeze, c, &c));
    }
    lv->cond = c;
    return NF_OK;
}

nf_status glow_cond_check(const glow *g) {
    for (int l = 0; l < g->nlevels; l++) {
        const glow_level *lv = &g->level[l];
        int lo = lv->squeeze ? lv->first - 1 : lv->first, hi = lv->prior >= 0 ? lv->prior + 1 : lv->first + lv->count;
        nf_shape want = conditional(g) ? lv->cond : (nf_shape){0};
        for (int i = lo; i < hi; i++) {
            const nf_shape c = g->base.layers[i]->cond;
            if (c.c <= 0 || (c.c == want.c && c.d == want.d && c.h == want.h && c.w == want.w)) continue;
            return nf_fail(NF_ERR_STATE, "glow: layer %d (%s) is conditional on (%d, %d, %d, %d) per sample and its "
                           "level hands its layers %s", i, g->base.layers[i]->ops->name, c.c, c.d, c.h, c.w,
                           want.c ? "a condition of another shape" : "no condition");
        }
    }
    return NF_OK;
}

size_t glow_cond_workspace(const glow *g, int n) {
    if (!conditional(g)) return 0;
    nf_shape y = g->base.cond;
    y.n = n;
    size_t most = nf_layer_workspace(g->cond_norm, y);
    for (int l = 0; l < g->nlevels; l++) {
        const glow_level *lv = &g->level[l];
        if (!lv->cond_squeeze) continue;
        nf_shape in = lv->cond_squeeze->in;
        in.n = n;
        size_t w = nf_layer_workspace(lv->cond_squeeze, in);
        if (w > most) most = w;
    }
    return most;
}

nf_status glow_cond_reserve(glow *g, int n) {
    if (!conditional(g)) return NF_OK;
    size_t cnt = nf_shape_sample_count(g->base.cond) * (size_t)n;
    nf_free(g->cond);
    nf_free(g->dcond);
    nf_free(g->cond_logdet);
    g->cond = nf_alloc(cnt * sizeof(nf_real));
    g->dcond = nf_alloc(cnt * sizeof(nf_real));
    g->cond_logdet = nf_alloc((size_t)n * sizeof(double));
    if (!g->cond || !g->dcond || !g->cond_logdet)
        return nf_fail(NF_ERR_NOMEM, "glow: out of memory for the conditions of a batch of %d", n);
    return NF_OK;
}

void glow_cond_free(glow *g) {
    nf_free(g->cond);
    nf_free(g->dcond);
    nf_free(g->cond_logdet);
    g->cond = g->dcond = NULL;
    g->cond_logdet = NULL;
}

void glow_cond_destroy(glow *g) {
    glow_cond_free(g);
    for (int l = 0; l < g->nlevels; l++) {
        nf_layer_destroy(g->level[l].cond_squeeze);
        g->level[l].cond_squeeze = NULL;
    }
}

/* The whole-batch ctx of the condition's own layers: no condition, no logdet weight. */
static nf_ctx plain_ctx(const glow *g) {
    nf_ctx c = g->ctx;
    c.dlogdet = 0;
    c.cond = NULL;
    c.dcond = NULL;
    return c;
}

static void set_shape(nf_tensor *t, nf_shape s) { t->c = s.c, t->d = s.d, t->h = s.h, t->w = s.w; }

nf_status glow_cond_begin(glow *g, const nf_tensor *cond, int n, int backward) {
    g->ctx.cond = NULL;
    g->ctx.dcond = NULL;
    if (!conditional(g)) return NF_OK;
    if (!cond) return nf_fail(NF_ERR_ARG, "glow: the flow is conditional and was given no condition");
    nf_shape y = g->base.cond;
    if (cond->c != y.c || cond->d != y.d || cond->h != y.h || cond->w != y.w)
        return nf_fail(NF_ERR_SHAPE,
                       "glow: the condition is (%d, %d, %d, %d) per sample, the flow takes (%d, %d, %d, %d): y has x's "
                       "spatial size and its own channels", cond->c, cond->d, cond->h, cond->w, y.c, y.d, y.h, y.w);
    g->cond_view = nf_tensor_view(g->cond, n, y.c, y.d, y.h, y.w);
    g->dcond_view = nf_tensor_view(backward ? g->dcond : NULL, n, y.c, y.d, y.h, y.w);
    memcpy(g->cond, cond->data, nf_tensor_count(&g->cond_view) * sizeof(nf_real));
    if (backward) memset(g->dcond, 0, nf_tensor_count(&g->cond_view) * sizeof(nf_real));
    nf_ctx c = plain_ctx(g);
    return nf_layer_forward(g->cond_norm, &g->cond_view, g->cond_logdet, &c);
}

nf_status glow_cond_enter(glow *g, int l) {
    if (!conditional(g)) return NF_OK;
    const glow_level *lv = &g->level[l];
    nf_ctx c = plain_ctx(g);
    if (lv->cond_squeeze) NF_TRY(nf_layer_forward(lv->cond_squeeze, &g->cond_view, g->cond_logdet, &c));
    set_shape(&g->dcond_view, lv->cond); /* zeros so far: only its shape follows */
    g->ctx.cond = &g->cond_view;
    g->ctx.dcond = g->dcond_view.data ? &g->dcond_view : NULL;
    return NF_OK;
}

nf_status glow_cond_top(glow *g) {
    for (int l = 0; l < g->nlevels; l++) NF_TRY(glow_cond_enter(g, l));
    return NF_OK;
}

nf_status glow_cond_leave(glow *g, int l) {
    if (!conditional(g) || !g->level[l].cond_squeeze) return NF_OK;
    nf_layer *sq = g->level[l].cond_squeeze;
    nf_ctx c = plain_ctx(g);
    if (g->dcond_view.data) return nf_layer_backward(sq, &g->cond_view, &g->dcond_view, &c);
    return nf_layer_inverse(sq, &g->cond_view, &c);
}

nf_status glow_cond_finish(glow *g) {
    if (!conditional(g)) return NF_OK;
    nf_ctx c = plain_ctx(g);
    return nf_layer_backward(g->cond_norm, &g->cond_view, &g->dcond_view, &c);
}

void glow_cond_end(glow *g) {
    g->ctx.cond = NULL;
    g->ctx.dcond = NULL;
}
