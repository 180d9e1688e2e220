/* What flow implementations share: base clean-up, store-mode bookkeeping and the
 * buffers of whole-flow passes. */
#ifndef NF_FLOW_INTERNAL_H
#define NF_FLOW_INTERNAL_H

#include "nf_internal.h"

/* Destroys the layers, frees the parameters and the trainer's buffers. */
void nf_flow_base_free(nf_flow *f);
/* Store-activations mode, after the backward of layer `layer`: raises f->drift to the
 * relative distance |x - stored| / |stored| of the rebuilt input x (cnt values), noting
 * the layer in f->drift_layer, then puts the stored input in x so the backward continues
 * from the truth. */
void nf_flow_restore_input(nf_flow *f, int layer, nf_real *x, const nf_real *stored, size_t cnt);
/* |x - ref| / |ref| (2-norms over cnt values, in double): how far a rebuilt tensor is
 * from the one it should equal. */
double nf_flow_relative_error(const nf_real *x, const nf_real *ref, size_t cnt);
/* The same in parts, for a tensor handled in pieces (threads): adds |x - ref|^2 and
 * |ref|^2 over cnt values to sums[0] and sums[1]; error_of_sums makes the error. */
void nf_flow_error_sums(const nf_real *x, const nf_real *ref, size_t cnt, double sums[2]);
double nf_flow_error_of_sums(const double sums[2]);
/* Store mode: raises f->drift to a layer's rebuilt-input error, as restore_input does. */
void nf_flow_note_drift(nf_flow *f, int layer, double drift);
/* Store mode, after the inverse of layer `layer` in a plain inverse pass: records in
 * f->layer_rebuild[layer] the relative error of its rebuilt input x (errors of the
 * layers above included; nothing is restored). */
void nf_flow_note_rebuild(nf_flow *f, int layer, const nf_real *x, const nf_real *stored, size_t cnt);
/* Store mode, at the start of a backward: no drift seen yet. */
void nf_flow_drift_reset(nf_flow *f);
/* Buffers for passes over a whole flow (gradient, evaluation, sampling: train/), kept
 * between calls in f->scratch and freed with the flow. */
struct nf_flow_scratch {
    int cap;              /* samples the buffers hold */
    nf_real *z, *dz, *xr; /* (cap, D); xr: the batch as a backward rebuilt it */
    double *logdet;       /* (cap) */
    int frozen_known;     /* nfrozen counted and frozen allocated */
    size_t nfrozen;       /* frozen parameters of the flow */
    nf_real *frozen;      /* (nfrozen) their values before the current step (train/gradient.c) */
};
/* Makes f->scratch hold at least n samples. */
nf_status nf_flow_scratch_reserve(nf_flow *f, int n);

#endif
