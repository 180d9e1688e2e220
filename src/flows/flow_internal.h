/* What flow implementations share: base clean-up and the trainer's buffers. */
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
/* Store mode, after the inverse of layer `layer` in a plain inverse pass: records in
 * f->layer_rebuild[layer] the relative error of its rebuilt input x (errors of the
 * layers above included; nothing is restored). */
void nf_flow_note_rebuild(nf_flow *f, int layer, const nf_real *x, const nf_real *stored, size_t cnt);
/* Store mode, at the start of a backward: no drift seen yet. */
void nf_flow_drift_reset(nf_flow *f);
/* Frees the z/dz/logdet buffers nf_train_step keeps in f->train (train/trainer.c). */
void nf_train_buffers_free(nf_flow *f);

#endif
