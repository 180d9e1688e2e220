/* Internal: HINT over the channels of images and volumes (hint_conv.c), the x and y lanes
 * of the convolutional conditional HINT (cond_hint_conv.c). */
#ifndef NF_HINT_CONV_H
#define NF_HINT_CONV_H

#include "nf_internal.h"

/* A HINT tree over in's c >= 2 channels whose couplings are image affine couplings
 * (conv sub-networks hidden wide, scale floor min_scale). One parameter block "nets": the
 * couplings' parameters in the tree's pre-order. who names the layer in messages. */
nf_status nf_hint_conv_create(nf_layer **out, nf_shape in, int hidden, double min_scale, const char *who);

/* The parts of a cond_hint_conv step, in the order of its parameter view. */
enum { NF_CHC_ANX, NF_CHC_CX, NF_CHC_HX, NF_CHC_A, NF_CHC_ANY, NF_CHC_CY, NF_CHC_HY, NF_CHC_PARTS };
/* Where part (NF_CHC_*) of step k of the cond_hint_conv layer l lies in its parameter
 * view: *off and *count; fails for another layer or out-of-range k, part. For tests that
 * check each part's gradients alone. */
nf_status nf_cond_hint_conv_part(const nf_layer *l, int k, int part, size_t *off, size_t *count);

#endif
