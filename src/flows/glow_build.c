/* Glow construction: configuration checks, the layer stack, parameters. */
#include "glow_internal.h"

#include <string.h>

nf_glow_config nf_glow_config_default(int channels, int height, int width) {
    nf_glow_config c = {0};
    c.channels = channels;
    c.volume_depth = 1;
    c.height = height;
    c.width = width;
    c.hidden = 64;
    c.levels = 3;
    c.steps = 8;
    c.multiscale = 1;
    c.squeeze = NF_SQUEEZE_SPACE;
    c.coupling = NF_COUPLING_AFFINE;
    c.conv1x1 = NF_CONV1X1_LU;
    c.coupling_min_scale = NF_GLOW_MIN_SCALE_DEFAULT;
    c.seed = 1;
    return c;
}

nf_status nf_glow_config_check(const nf_glow_config *c) {
    NF_CHECK_NULL(c);
    if (c->channels < 1 || c->volume_depth < 1 || c->height < 1 || c->width < 1)
        return nf_fail(NF_ERR_SHAPE, "glow: input shape (%d, %d, %d, %d) has a non-positive size", c->channels,
                       c->volume_depth, c->height, c->width);
    if (c->hidden < 1) return nf_fail(NF_ERR_ARG, "glow: hidden width must be >= 1, got %d", c->hidden);
    if (c->coupling == NF_COUPLING_AFFINE && !(c->coupling_min_scale > 0 && c->coupling_min_scale < 1))
        return nf_fail(NF_ERR_ARG, "glow: the coupling scale floor must be in (0, 1), got %g", c->coupling_min_scale);
    if (c->levels < 1 || c->levels > NF_GLOW_MAX_LEVELS)
        return nf_fail(NF_ERR_ARG, "glow: levels (L) must be in 1..%d, got %d", NF_GLOW_MAX_LEVELS, c->levels);
    if (c->steps < 1) return nf_fail(NF_ERR_ARG, "glow: steps per level (K) must be >= 1, got %d", c->steps);
    if ((unsigned)c->squeeze > NF_SQUEEZE_HAAR || (unsigned)c->coupling > NF_COUPLING_ADDITIVE ||
        (unsigned)c->conv1x1 > NF_CONV1X1_HOUSEHOLDER)
        return nf_fail(NF_ERR_ARG, "glow: unknown squeeze, coupling or 1x1 convolution kind");
    if (c->cond_channels < 0 || c->cond_channels > 65536)
        return nf_fail(NF_ERR_ARG, "glow: condition channels must be in 0..65536, got %d", c->cond_channels);
    if (c->learn_prior != 0 && c->learn_prior != 1)
        return nf_fail(NF_ERR_ARG, "glow: learn_prior must be 0 or 1, got %d", c->learn_prior);
    if (c->multiscale) {
        int f = 1 << c->levels;
        if (c->height % f || c->width % f)
            return nf_fail(NF_ERR_SHAPE, "glow: %dx%d images cannot be squeezed %d times: height and width must be "
                           "divisible by 2^L = %d", c->height, c->width, c->levels, f);
        /* a volume is squeezed 2x2x2 at every level, so each squeeze must see d >= 2 */
        if (c->volume_depth > 1 && c->volume_depth % f)
            return nf_fail(NF_ERR_SHAPE, "glow: volumes of depth %d cannot be squeezed %d times: depth must be "
                           "divisible by 2^L = %d", c->volume_depth, c->levels, f);
    } else if (c->channels < 2) {
        return nf_fail(NF_ERR_SHAPE, "glow: without multiscale the couplings need at least 2 channels, got %d",
                       c->channels);
    }
    return NF_OK;
}

static void glow_destroy(nf_flow *f) {
    glow *g = (glow *)f;
    glow_buffers_free(g);
    glow_cond_destroy(g);
    nf_ctx_free(&g->ctx);
    nf_flow_base_free(f);
    nf_free(g);
}

static const nf_flow_ops glow_ops = {
    .name = "glow",
    .forward = glow_forward,
    .inverse = glow_inverse,
    .backward = glow_backward,
    .set_store_activations = glow_set_store_activations,
    .destroy = glow_destroy,
};

/* cc: the condition's channels at this level (0: unconditional). */
static nf_status make_step(glow *g, nf_shape s, int cc, nf_rng *rng, nf_layer **out) {
    NF_TRY(nf_actnorm_create(&out[0], s));
    NF_TRY(nf_conv1x1_create(&out[1], s, g->cfg.conv1x1, rng));
    if (g->cfg.coupling == NF_COUPLING_AFFINE)
        return nf_coupling_affine_create_cond(&out[2], s, cc, g->cfg.hidden, g->cfg.coupling_min_scale);
    return nf_coupling_additive_create_cond(&out[2], s, cc, g->cfg.hidden);
}

static nf_status build(glow *g) {
    const nf_glow_config *c = &g->cfg;
    int L = c->levels, K = c->steps;
    int total = L * 3 * K + (c->multiscale ? L : 0) + (c->learn_prior ? L : 0) + (c->cond_channels > 0);
    g->base.layers = nf_calloc((size_t)total, sizeof(nf_layer *));
    if (!g->base.layers) return nf_fail(NF_ERR_NOMEM, "glow: out of memory for %d layers", total);
    nf_rng rng;
    nf_rng_seed(&rng, c->seed);
    nf_shape s = {1, c->channels, c->volume_depth, c->height, c->width};
    size_t zoff = 0;
    g->nlevels = L;
    NF_TRY(glow_cond_build(g, s, -1));
    for (int l = 0; l < L; l++) {
        glow_level *lv = &g->level[l];
        NF_TRY(glow_cond_build(g, s, l));
        if (c->multiscale) {
            nf_layer **sq = &g->base.layers[g->base.nlayers++];
            NF_TRY(c->squeeze == NF_SQUEEZE_HAAR ? nf_haar_create(sq, s) : nf_squeeze_create(sq, s));
            lv->squeeze = *sq;
            NF_TRY(nf_layer_out_shape(lv->squeeze, s, &s));
        }
        lv->shape = s;
        lv->first = g->base.nlayers;
        lv->count = 3 * K;
        for (int k = 0; k < K; k++) {
            nf_layer **step = &g->base.layers[g->base.nlayers];
            g->base.nlayers += 3; /* counted first so a failure frees what was made */
            NF_TRY(make_step(g, s, lv->cond.c, &rng, step));
        }
        lv->split = c->multiscale && l < L - 1;
        lv->prior = -1;
        if (c->learn_prior) { /* conditioned on the kept half at a split, per channel at the top */
            lv->prior = g->base.nlayers++;
            NF_TRY(nf_prior_create(&g->base.layers[lv->prior], s, lv->split));
        }
        if (lv->split) {
            lv->zoff = zoff;
            int keep = s.c / 2;
            zoff += (size_t)(s.c - keep) * s.d * s.h * s.w;
            s.c = keep;
        } else {
            lv->zoff = zoff;
        }
    }
    return nf_params_bind(&g->base.params, g->base.layers, g->base.nlayers, &rng);
}

nf_status nf_glow_create(nf_flow **out, const nf_glow_config *cfg) {
    NF_CHECK_NULL(out);
    *out = NULL;
    NF_TRY(nf_glow_config_check(cfg));
    glow *g = nf_calloc(1, sizeof *g);
    if (!g) return nf_fail(NF_ERR_NOMEM, "glow: out of memory");
    g->base.ops = &glow_ops;
    g->cfg = *cfg;
    g->base.in = (nf_shape){1, cfg->channels, cfg->volume_depth, cfg->height, cfg->width};
    nf_status s = build(g);
    if (s != NF_OK) {
        glow_destroy(&g->base);
        return s;
    }
    *out = &g->base;
    return NF_OK;
}

const nf_glow_config *nf_glow_get_config(const nf_flow *f) {
    return (f && f->ops == &glow_ops) ? &((const glow *)f)->cfg : NULL;
}
