/* What flow implementations share: base clean-up and the trainer's buffers. */
#ifndef NF_FLOW_INTERNAL_H
#define NF_FLOW_INTERNAL_H

#include "nf_internal.h"

/* Destroys the layers, frees the parameters and the trainer's buffers. */
void nf_flow_base_free(nf_flow *f);
/* Store-activations mode, after layer backward: raises f->drift to the relative
 * distance |x - stored| / |stored| of the rebuilt input x (cnt values), then puts
 * the stored input in x so the backward continues from the truth. */
void nf_flow_restore_input(nf_flow *f, nf_real *x, const nf_real *stored, size_t cnt);
/* Frees the z/dz/logdet buffers nf_train_step keeps in f->train (train/trainer.c). */
void nf_train_buffers_free(nf_flow *f);

#endif
