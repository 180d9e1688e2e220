/* Internal: layers that a flow can run on a range of images from inside its own parallel
 * region (flows/glow_levels.c). Every image of a batch goes through these layers
 * independently, so a thread can take whole images through a run of layers with no
 * synchronisation; only the parameter gradients need combining, and they do so through
 * per-thread partial sums that the flow adds up once all threads are past the layer.
 *
 * The calls run on the calling thread only (no OpenMP regions of their own, no
 * allocation) with the thread's own scratch slot:
 *   forward, inverse:  as nf_layer_ops, on x/y = a view of the thread's images;
 *   backward:          as nf_layer_ops, except that gradients go to partial (zeroed by the
 *                      caller) in the layer's own partial layout, without the terms that
 *                      need the whole batch (those of -logdet);
 *   finish:            l->grad += the partial summed over all threads, plus the whole-batch
 *                      terms (n images, dloss/dlogdet). slot is the caller's scratch slot.
 *   prepare:           optional, on the calling thread before a pass: reports, with a
 *                      message, what would make forward/inverse/backward fail (the range
 *                      calls themselves then cannot fail).
 * A conditional layer (l->cond.c > 0) reads the condition of the thread's images from
 * slot->cond and, in backward, adds dloss/dcond to slot->dcond (when not NULL): views
 * indexed like x, which the caller must set (the calls cannot fail, so cannot check).
 * A layer's own nf_layer_ops may be built from these (one range = the whole batch). */
#ifndef NF_RANGE_H
#define NF_RANGE_H

#include "nf_internal.h"

typedef struct nf_range_ops {
    /* Bytes of one thread's scratch slot for up to in.n images. */
    size_t (*slot_bytes)(const nf_layer *l, nf_shape in);
    /* Elements of one thread's partial gradient. */
    size_t (*partial_count)(const nf_layer *l);
    nf_status (*prepare)(nf_layer *l, nf_ctx *slot);
    void (*forward)(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *slot);
    void (*inverse)(nf_layer *l, nf_tensor *y, nf_ctx *slot);
    void (*backward)(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *slot, nf_real *partial);
    void (*finish)(nf_layer *l, const nf_real *partial, int n, double dlogdet, nf_ctx *slot);
} nf_range_ops;

/* The range calls of l (actnorm, conv1x1, image couplings, squeeze, haar), or NULL. */
const nf_range_ops *nf_layer_range_ops(const nf_layer *l);

/* The tables, defined next to each layer. */
extern const nf_range_ops nf_actnorm_range;
extern const nf_range_ops nf_conv1x1_range;
extern const nf_range_ops nf_coupling_range;
extern const nf_range_ops nf_block2x2_range;

#endif
