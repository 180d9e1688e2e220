/* Channel split (factor-out) of multiscale flows, in place.
 * nf_split_forward: x (n, c, d, h, w) keeps its first c/2 channels (rounded down),
 * compacted so that x becomes a contiguous (n, c/2, d, h, w) tensor at the same address;
 * z (n, c - c/2, d, h, w) receives the rest.
 * nf_split_inverse: x (n, c/2, ...) is expanded back to (n, c/2 + z->c, ...) in place,
 * so x->data must have room for n * (c/2 + z->c) * d*h*w values (the buffer it had
 * before the forward split). Samples are moved one after the other in the order that
 * never overwrites data not yet moved. */
#include "nf_internal.h"

#include <string.h>

/* z must be (n, zc, d, h, w) like x apart from its channel count. */
static nf_status check_pair(const char *who, const nf_tensor *x, const nf_tensor *z, int zc) {
    if (!x->data || !z->data) return nf_fail(NF_ERR_ARG, "%s: %s has no data", who, x->data ? "z" : "x");
    if (x->n <= 0 || x->c <= 0 || x->d <= 0 || x->h <= 0 || x->w <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: x shape (%d, %d, %d, %d, %d) has a non-positive size", who, x->n, x->c,
                       x->d, x->h, x->w);
    if (z->n != x->n || z->c != zc || z->d != x->d || z->h != x->h || z->w != x->w)
        return nf_fail(NF_ERR_SHAPE, "%s: z is (%d, %d, %d, %d, %d), expected (%d, %d, %d, %d, %d)", who, z->n, z->c,
                       z->d, z->h, z->w, x->n, zc, x->d, x->h, x->w);
    return NF_OK;
}

nf_status nf_split_forward(nf_tensor *x, nf_tensor *z) {
    NF_CHECK_NULL(x);
    NF_CHECK_NULL(z);
    if (x->c == 1)
        return nf_fail(NF_ERR_SHAPE, "nf_split_forward: x has 1 channel; splitting needs at least 2");
    int keep = x->c / 2, out = x->c - keep;
    NF_TRY(check_pair(__func__, x, z, out));
    size_t dhw = (size_t)x->d * x->h * x->w, per = (size_t)x->c * dhw;
    size_t nkeep = (size_t)keep * dhw, nout = (size_t)out * dhw;
    /* z_b = channels keep.. of x_b; then x_b's first channels move down to b * nkeep,
     * which never reaches samples b' > b (they start at b' * per >= (b + 1) * nkeep) */
    for (int b = 0; b < x->n; b++) {
        nf_real *xb = x->data + b * per;
        memcpy(z->data + b * nout, xb + nkeep, nout * sizeof(nf_real));
        memmove(x->data + b * nkeep, xb, nkeep * sizeof(nf_real));
    }
    x->c = keep;
    return NF_OK;
}

nf_status nf_split_inverse(nf_tensor *x, const nf_tensor *z) {
    NF_CHECK_NULL(x);
    NF_CHECK_NULL(z);
    /* the forward split leaves z with as many channels as x or one more */
    if (z->c != x->c && z->c != x->c + 1)
        return nf_fail(NF_ERR_SHAPE,
                       "nf_split_inverse: x has %d channels and z %d; a split leaves z with %d or %d channels", x->c,
                       z->c, x->c, x->c + 1);
    NF_TRY(check_pair(__func__, x, z, z->c));
    int keep = x->c, c = keep + z->c;
    size_t dhw = (size_t)x->d * x->h * x->w, per = (size_t)c * dhw;
    size_t nkeep = (size_t)keep * dhw, nout = (size_t)z->c * dhw;
    /* last sample first: x_b moves up to b * per; what is still unmoved lies below b * nkeep <= b * per */
    for (int b = x->n - 1; b >= 0; b--) {
        nf_real *xb = x->data + b * per;
        memmove(xb, x->data + b * nkeep, nkeep * sizeof(nf_real));
        memcpy(xb + nkeep, z->data + b * nout, nout * sizeof(nf_real));
    }
    x->c = c;
    return NF_OK;
}
