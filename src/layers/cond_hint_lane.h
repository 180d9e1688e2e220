/* Internal: what the conditional HINT layers (cond_hint.c for vectors, cond_hint_conv.c
 * for images and volumes) share: the y lane's buffers in the workspace and y's density. */
#ifndef NF_COND_HINT_LANE_H
#define NF_COND_HINT_LANE_H

#include "nf_internal.h"

typedef struct nf_ylane {
    nf_tensor y, dy;   /* (n, ys) the y lane and its gradient */
    double *ld;        /* (n) logdet sink of y passes whose logdet is not wanted */
    nf_ctx sub;        /* the children's context: the scratch after the lane's, no condition */
} nf_ylane;

/* Workspace bytes of nf_ylane_take for n samples of shape ys. */
size_t nf_ylane_bytes(nf_shape ys, int n);
/* Carves the lane from the front of ctx's workspace; sub gets the rest. */
nf_ylane nf_ylane_take(nf_ctx *ctx, nf_shape ys, int n);
/* The y lane's loss is dlogdet * (log|det dzy/dy| - |zy|^2 / 2): w->dy <- its gradient at
 * zy (w->y), -dlogdet * zy; the lane's layers take the logdet weight from the ctx. */
void nf_ylane_seed_grad(nf_ylane *w, double dlogdet);
/* After the backward walked the lane to y: dcond += dloss/dy (w->dy), when dcond is asked for. */
void nf_ylane_add_dcond(const nf_ylane *w, nf_tensor *dcond);
/* logdet[b] += log N(z_b; 0, I), the 2 pi term included. */
void nf_add_log_normal(const nf_tensor *z, double *logdet);

#endif
