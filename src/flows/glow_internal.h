/* The multiscale Glow flow: its structure, shared by construction (glow_build.c)
 * and the passes (glow.c). */
#ifndef NF_GLOW_INTERNAL_H
#define NF_GLOW_INTERNAL_H

#include "flow_internal.h"

#define NF_GLOW_MAX_LEVELS 16

typedef struct glow_level {
    nf_layer *squeeze;  /* NULL without multiscale */
    int first, count;   /* the level's flow-step layers: base.layers[first .. first+count) */
    nf_shape shape;     /* per-sample shape inside the level (after its squeeze) */
    int split;          /* 1: the last c - c/2 channels are factored out after the level */
    size_t zoff;        /* per-sample offset of the level's factored latents in z */
    int prior;          /* learned prior: its layer index (first + count), after the flow
                           steps and before the split; -1 without one */
    nf_layer *cond_squeeze; /* conditional: squeezes the condition at the level's start as
                               squeeze does x (not a flow layer: no parameters); NULL without */
    nf_shape cond;      /* conditional: per-sample shape of the condition inside the level */
} glow_level;

typedef struct glow {
    nf_flow base;
    nf_glow_config cfg;
    int nlevels;
    glow_level level[NF_GLOW_MAX_LEVELS];
    /* working buffers for a batch of up to cap samples, each (cap, D) */
    int cap;
    nf_real *work, *grad, *part;
    nf_ctx ctx;
    /* conditional Glow (cfg.cond_channels > 0), glow_cond.c: the condition's ActNorm (layer 0)
     * and, during a pass, the processed condition of the current level and its gradient,
     * each (cap, |y|), which g->ctx.cond / dcond view */
    nf_layer *cond_norm;
    nf_real *cond, *dcond;
    double *cond_logdet; /* (cap) the condition's ActNorm's logdet, not part of the flow's */
    nf_tensor cond_view, dcond_view;
    /* store-activations mode: the input of every layer from the last forward */
    int store;
    int store_n;      /* the batch the stored inputs hold; 0 when none is valid */
    int store_cap;    /* the batch the buffers are allocated for */
    nf_real **stored; /* (nlayers) each (store_cap, layer input size) */
} glow;

/* Makes the working buffers and workspace fit a batch of n. */
nf_status glow_reserve(glow *g, int n);
/* Frees what glow_reserve and the store mode allocated. */
void glow_buffers_free(glow *g);

nf_status glow_forward(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet);
nf_status glow_inverse(nf_flow *f, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x);
nf_status glow_backward(nf_flow *f, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond, double dlogdet,
                        nf_tensor *x, nf_tensor *dx);
nf_status glow_set_store_activations(nf_flow *f, int on);

/* Whole-level passes on threads (glow_levels.c). ready: the level can run that way for a
 * batch of n with the current workspace (images, ActNorm initialised). The passes move
 * h (and dh) through the level like the layer loops in glow.c do; in store mode the
 * forward stores each layer's input and the backward restores it (noting the drift). */
size_t glow_levels_workspace(const glow *g, int n);
/* The condition of a conditional Glow (glow_cond.c); every call is a no-op for an
 * unconditional one.
 *   build(s, -1):  the condition's ActNorm, as the next layer (before the levels);
 *   build(s, l):   level l's condition shape and squeeze (levels in order);
 *   reserve, free: the condition buffers of a batch of n; destroy: those and the squeezes;
 *   check:         before any work of a pass, every conditional layer (l->cond.c > 0) must
 *                  take the condition its level hands it (enter sets g->ctx.cond to exactly
 *                  that; the threaded range calls cannot check): NF_ERR_STATE naming the
 *                  layer otherwise, so no layer runs without its condition, in an
 *                  unconditional Glow included;
 *   begin:         g->cond = ActNorm_y(cond) for a batch of n, nothing for the layers yet;
 *   enter(l):      squeezes it into level l's shape (levels in order from 0) and hands it
 *                  to the layers (g->ctx.cond, and g->ctx.dcond in backward);
 *   top:           enters every level, for the passes that go down;
 *   leave(l):      going down, undoes level l's squeeze, in backward carrying dloss/dcond;
 *   finish:        backward, after level 0: the ActNorm's gradients (dlogdet 0);
 *   end:           the layers get no condition again. */
nf_status glow_cond_build(glow *g, nf_shape s, int level);
nf_status glow_cond_check(const glow *g);
size_t glow_cond_workspace(const glow *g, int n);
nf_status glow_cond_reserve(glow *g, int n);
void glow_cond_free(glow *g);
void glow_cond_destroy(glow *g);
nf_status glow_cond_begin(glow *g, const nf_tensor *cond, int n, int backward);
nf_status glow_cond_enter(glow *g, int l);
nf_status glow_cond_top(glow *g);
nf_status glow_cond_leave(glow *g, int l);
nf_status glow_cond_finish(glow *g);
void glow_cond_end(glow *g);
int glow_level_ready(const glow *g, const glow_level *lv, int n);
nf_status glow_level_forward(glow *g, const glow_level *lv, nf_tensor *h, double *logdet);
nf_status glow_level_inverse(glow *g, const glow_level *lv, nf_tensor *h);
nf_status glow_level_backward(glow *g, const glow_level *lv, nf_tensor *h, nf_tensor *dh);

#endif
