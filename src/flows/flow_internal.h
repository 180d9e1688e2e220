/* What flow implementations share: base clean-up and the trainer's buffers. */
#ifndef NF_FLOW_INTERNAL_H
#define NF_FLOW_INTERNAL_H

#include "nf_internal.h"

/* Destroys the layers, frees the parameters and the trainer's buffers. */
void nf_flow_base_free(nf_flow *f);
/* Frees the z/dz/logdet buffers nf_train_step keeps in f->train (train/trainer.c). */
void nf_train_buffers_free(nf_flow *f);

#endif
