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
/* Glow passes no condition to its layers, on threads or not: a conditional layer among
 * them (l->cond.c > 0) fails every pass with NF_ERR_STATE naming it, before any work,
 * rather than being run without its condition or skipped. */
nf_status glow_refuse_conditional(const glow *g);
int glow_level_ready(const glow *g, const glow_level *lv, int n);
nf_status glow_level_forward(glow *g, const glow_level *lv, nf_tensor *h, double *logdet);
nf_status glow_level_inverse(glow *g, const glow_level *lv, nf_tensor *h);
nf_status glow_level_backward(glow *g, const glow_level *lv, nf_tensor *h, nf_tensor *dh);

#endif
