/* Haar wavelet squeeze: (c, h, w) -> (4c, h/2, w/2), logdet 0, no parameters.
 * The orthonormal 2x2 Haar transform of every 2x2 block (x00 x01 / x10 x11) of a
 * channel, channel blocks in the order (approximation, horizontal, vertical, diagonal):
 *   a = (x00 + x01 + x10 + x11) / 2
 *   h = (x00 + x01 - x10 - x11) / 2   top row minus bottom row: horizontal edges
 *   v = (x00 - x01 + x10 - x11) / 2   left column minus right column: vertical edges
 *   d = (x00 - x01 - x10 + x11) / 2
 * The matrix is orthogonal (and symmetric), so the norm is preserved. Images only (d = 1). */
#include "squeeze.h"

static const nf_layer_ops haar_ops = NF_BLOCK2X2_OPS("haar");

nf_status nf_haar_create(nf_layer **out, nf_shape in) {
    /* rows act on the pixels (x00, x01, x10, x11) */
    static const nf_real haar[4][4] = {{0.5, 0.5, 0.5, 0.5},
                                       {0.5, 0.5, -0.5, -0.5},
                                       {0.5, -0.5, 0.5, -0.5},
                                       {0.5, -0.5, -0.5, 0.5}};
    return nf_block2x2_create(out, in, &haar_ops, haar);
}
