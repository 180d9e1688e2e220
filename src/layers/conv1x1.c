/* nf_conv1x1_create: picks the parametrisation of W (conv1x1_lu.c, conv1x1_householder.c).
 * rng may be NULL. When given, one number is drawn from it here and seeds the layer's
 * init_params, so the initial W does not depend on the order in which layers are bound;
 * when NULL, init_params draws from the rng given to nf_params_bind. */
#include "conv1x1.h"

nf_status nf_conv1x1_create(nf_layer **out, nf_shape in, nf_conv1x1_kind kind, nf_rng *rng) {
    NF_CHECK_NULL(out);
    *out = NULL;
    switch (kind) {
    case NF_CONV1X1_LU: return conv1x1_new(out, in, rng, &conv1x1_lu);
    case NF_CONV1X1_HOUSEHOLDER: return conv1x1_new(out, in, rng, &conv1x1_householder);
    }
    return nf_fail(NF_ERR_ARG, "nf_conv1x1_create: unknown kind %d (NF_CONV1X1_LU or NF_CONV1X1_HOUSEHOLDER)",
                   (int)kind);
}
