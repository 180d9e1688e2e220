/* Which layers have range calls (range.h): looked up by the ops name, which is unique
 * per layer kind. */
#include "layers/range.h"

#include <string.h>

const nf_range_ops *nf_layer_range_ops(const nf_layer *l) {
    static const struct {
        const char *name;
        const nf_range_ops *range;
    } table[] = {
        {"actnorm", &nf_actnorm_range},           {"conv1x1", &nf_conv1x1_range},
        {"coupling_affine", &nf_coupling_range},  {"coupling_additive", &nf_coupling_range},
        {"squeeze", &nf_block2x2_range},          {"haar", &nf_block2x2_range},
    };
    if (!l || !l->ops || !l->ops->name) return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(l->ops->name, table[i].name)) return table[i].range;
    return NULL;
}
