/* Haar wavelet squeeze: (c, h, w) -> (4c, h/2, w/2), logdet 0, no parameters.
 * The orthonormal 2x2 Haar transform of every 2x2 block (x00 x01 / x10 x11) of a
 * channel, channel blocks in the order (approximation, horizontal, vertical, diagonal):
 *   a = (x00 + x01 + x10 + x11) / 2
 *   h = (x00 + x01 - x10 - x11) / 2   top row minus bottom row: horizontal edges
 *   v = (x00 - x01 + x10 - x11) / 2   left column minus right column: vertical edges
 *   d = (x00 - x01 - x10 + x11) / 2
 * The matrix is orthogonal (and symmetric), so the norm is preserved.
 * Volumes (d > 1): (c, d, h, w) -> (8c, d/2, h/2, w/2), the separable 3-D Haar transform
 * of every 2x2x2 block: channel blocks 0..3 are the 2-D transform above of the sum of the
 * two depth slices over sqrt 2 (block 0: all eight voxels / (2 sqrt 2)), blocks 4..7 of
 * their difference (front minus back) over sqrt 2. */
#include "squeeze.h"

static const nf_layer_ops haar_ops = NF_BLOCK2X2_OPS("haar");

nf_status nf_haar_create(nf_layer **out, nf_shape in) {
    /* rows act on the pixels (x00, x01, x10, x11) */
    static const nf_real haar[4][4] = {{0.5, 0.5, 0.5, 0.5},
                                       {0.5, 0.5, -0.5, -0.5},
                                       {0.5, -0.5, 0.5, -0.5},
                                       {0.5, -0.5, -0.5, 0.5}};
    /* the 1-D Haar step along depth: (front + back, front - back) / sqrt 2 */
    static const nf_real depth_haar[2][2] = {{0.70710678118654752440, 0.70710678118654752440},
                                             {0.70710678118654752440, -0.70710678118654752440}};
    return nf_block2x2_create(out, in, &haar_ops, haar, depth_haar);
}
