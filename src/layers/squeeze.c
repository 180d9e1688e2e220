/* Squeeze: 2x2 space-to-depth, (c, h, w) -> (4c, h/2, w/2), and for volumes (d > 1)
 * 2x2x2, (c, d, h, w) -> (8c, d/2, h/2, w/2); logdet 0, no parameters.
 * Channel blocks follow the PyTorch peer (/work/shared/peers/glow_torch.py, itself
 * InvertibleNetworks.jl's "checkerboard" order): block k holds x[:, :, dh::2, dw::2]
 * for offsets (dw, dh) = (0,0), (1,0), (0,1), (1,1), i.e. the pixels of each 2x2 block
 * in row-major order; for volumes block 4*dz + k holds x[:, :, dz::2, dh::2, dw::2]
 * (the voxels of each 2x2x2 block in row-major order). Also the shared machinery of
 * every squeeze (squeeze.h): squeeze is the case mix = I. */
#include "squeeze.h"

#include "layers/range.h"

#include <string.h>

/* Loops over fewer elements than this stay on one thread: forking costs more. */
#define OMP_MIN_ELEMS 32768

typedef struct block2x2 {
    nf_layer base;
    int nblk;          /* values per block: 4 (images) or 8 (volumes) */
    nf_real mix[8][8]; /* orthogonal (top-left nblk x nblk): channel block k = sum_m mix[k][m] value m */
} block2x2;

/* y (n, K c, d/2, h/2, w/2) from x (n, c, d, h, w): y_k = sum_m mix[k][m] p_m (transpose
 * = 0), or back: x from y, p_m = sum_k mix[k][m] y_k (transpose = 1); K = nblk is 4 for
 * images (d = 1 stays 1) and 8 for volumes. img and blk do not overlap; one is written. */
static void transform(nf_real *img, nf_real *blk, const block2x2 *s, int transpose, int n, nf_shape in) {
    int K = s->nblk, c = in.c, d = in.d, h = in.h, w = in.w;
    int dz = K == 8 ? d / 2 : 1, ho = h / 2, wo = w / 2;
    size_t plane = (size_t)dz * ho * wo, hw = (size_t)h * w;
#pragma omp parallel for schedule(static) if ((size_t)n * c * d * hw > OMP_MIN_ELEMS)
    for (int nc = 0; nc < n * c; nc++) {
        int b = nc / c, ch = nc % c;
        nf_real *xs = img + (size_t)nc * d * hw;
        nf_real *ys[8]; /* the K output channels of this input channel */
        for (int k = 0; k < K; k++) ys[k] = blk + ((size_t)(K * b + k) * c + ch) * plane;
        for (int z = 0; z < dz; z++)
            for (int i = 0; i < ho; i++)
                for (int j = 0; j < wo; j++) {
                    nf_real *p[8]; /* the block's values, m = 4*mz + 2*mi + mj */
                    for (int m = 0; m < K; m++)
                        p[m] = xs + (size_t)(2 * z + m / 4) * hw + (size_t)(2 * i + m / 2 % 2) * w + 2 * j + m % 2;
                    size_t o = ((size_t)z * ho + i) * wo + j;
                    for (int k = 0; k < K; k++) {
                        nf_real acc = 0;
                        for (int m = 0; m < K; m++)
                            acc += transpose ? s->mix[m][k] * ys[m][o] : s->mix[k][m] * *p[m];
                        if (transpose) *p[k] = acc;
                        else ys[k][o] = acc;
                    }
                }
    }
}

/* t (n, c, d, h, w) <- its squeeze (forward) or unsqueeze (back), in place via work. */
static void squeeze_in_place(const block2x2 *s, nf_tensor *t, int back, nf_real *work) {
    const nf_shape in = s->base.in;
    memcpy(work, t->data, nf_tensor_count(t) * sizeof(nf_real));
    if (back) transform(t->data, work, s, 1, t->n, in);
    else transform(work, t->data, s, 0, t->n, in);
    nf_shape to = in;
    if (!back) block2x2_out_shape(&s->base, in, &to);
    t->c = to.c, t->d = to.d, t->h = to.h, t->w = to.w;
}

nf_status block2x2_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    squeeze_in_place((const block2x2 *)l, x, 0, ctx->work); /* orthogonal: logdet += 0 */
    return NF_OK;
}

nf_status block2x2_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    squeeze_in_place((const block2x2 *)l, y, 1, ctx->work);
    return NF_OK;
}

nf_status block2x2_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    /* linear and orthogonal: x = M^T y and dx = M^T dy */
    squeeze_in_place((const block2x2 *)l, y, 1, ctx->work);
    squeeze_in_place((const block2x2 *)l, dy, 1, ctx->work);
    return NF_OK;
}

size_t block2x2_workspace(const nf_layer *l, nf_shape in) {
    return nf_work_bytes((size_t)(in.n > 0 ? in.n : 0) * nf_shape_sample_count(l->in));
}

/* ---------------------------------------------------------------- range calls */

/* One image at a time through a one-image slot. */
static size_t b2_slot_bytes(const nf_layer *l, nf_shape in) { return nf_work_bytes(nf_shape_sample_count(l->in)); }
static size_t b2_partial_count(const nf_layer *l) { return 0; }

/* t (n, ...) <- squeezed (back = 0) or unsqueezed (back = 1), image by image via the slot. */
static void b2_images(const block2x2 *s, nf_tensor *t, int back, nf_ctx *slot) {
    size_t per = nf_tensor_sample_count(t);
    nf_tensor one = *t;
    for (int b = 0; b < t->n; b++) {
        one = *t;
        one.n = 1;
        one.data = t->data + b * per;
        squeeze_in_place(s, &one, back, slot->work);
    }
    t->c = one.c, t->d = one.d, t->h = one.h, t->w = one.w;
}

static void b2_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *slot) {
    b2_images((const block2x2 *)l, x, 0, slot);
}

static void b2_inverse(nf_layer *l, nf_tensor *y, nf_ctx *slot) { b2_images((const block2x2 *)l, y, 1, slot); }

static void b2_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *slot, nf_real *partial) {
    b2_images((const block2x2 *)l, y, 1, slot);
    b2_images((const block2x2 *)l, dy, 1, slot);
}

const nf_range_ops nf_block2x2_range = {
    .slot_bytes = b2_slot_bytes,
    .partial_count = b2_partial_count,
    .forward = b2_forward,
    .inverse = b2_inverse,
    .backward = b2_backward,
};

/* The output shape, or NF_ERR_SHAPE naming the layer who. d = 1 is an image (2x2
 * blocks), d > 1 a volume (2x2x2 blocks). */
static nf_status squeezed_shape(const char *who, nf_shape in, nf_shape *out) {
    if (in.c <= 0 || in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: input shape (%d, %d, %d, %d) has a non-positive size", who, in.c, in.d,
                       in.h, in.w);
    if (in.d == 1) {
        if (in.h % 2 || in.w % 2)
            return nf_fail(NF_ERR_SHAPE, "%s: height %d and width %d must both be even to squeeze 2x2 blocks",
                           who, in.h, in.w);
        *out = (nf_shape){in.n, 4 * in.c, 1, in.h / 2, in.w / 2};
        return NF_OK;
    }
    if (in.d % 2 || in.h % 2 || in.w % 2)
        return nf_fail(NF_ERR_SHAPE,
                       "%s: depth %d, height %d and width %d must all be even to squeeze 2x2x2 blocks of a "
                       "volume", who, in.d, in.h, in.w);
    *out = (nf_shape){in.n, 8 * in.c, in.d / 2, in.h / 2, in.w / 2};
    return NF_OK;
}

nf_status block2x2_out_shape(const nf_layer *l, nf_shape in, nf_shape *out) {
    return squeezed_shape(l->ops->name, in, out);
}

void block2x2_destroy(nf_layer *l) { nf_free(l); }

nf_status nf_block2x2_create(nf_layer **out, nf_shape in, const nf_layer_ops *ops, const nf_real mix[4][4],
                             const nf_real depth_mix[2][2]) {
    NF_CHECK_NULL(out);
    *out = NULL;
    nf_shape shape;
    NF_TRY(squeezed_shape(ops->name, in, &shape));
    block2x2 *s = nf_calloc(1, sizeof *s);
    if (!s) return nf_fail(NF_ERR_NOMEM, "%s: out of memory", ops->name);
    s->base.ops = ops;
    s->base.in = in;
    s->nblk = in.d == 1 ? 4 : 8;
    for (int k = 0; k < s->nblk; k++) /* the Kronecker product; for images its top-left block, mix */
        for (int m = 0; m < s->nblk; m++)
            s->mix[k][m] = (s->nblk == 4 ? 1 : depth_mix[k / 4][m / 4]) * mix[k % 4][m % 4];
    *out = &s->base;
    return NF_OK;
}

static const nf_layer_ops squeeze_ops = NF_BLOCK2X2_OPS("squeeze");

nf_status nf_squeeze_create(nf_layer **out, nf_shape in) {
    /* the peer's block k is pixel (voxel) k of the block in row-major order: mix = I */
    static const nf_real identity[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    static const nf_real depth_identity[2][2] = {{1, 0}, {0, 1}};
    return nf_block2x2_create(out, in, &squeeze_ops, identity, depth_identity);
}
