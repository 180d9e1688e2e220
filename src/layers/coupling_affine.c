/* Glow affine coupling on images: x = (xa, xb), (log_s_raw, t) = NN(xb),
 * s = sigmoid(log_s_raw + 2), ya = s * xa + t, yb = xb; logdet = sum log s.
 * The +2 starts s near 0.88 so early training neither explodes nor vanishes.
 * Backward runs NN once on yb (= xb) and uses its output both to rebuild xa
 * and to backpropagate (nf_coupling_run does the NN part, chunk by chunk). */
#include "layers/coupling_subnet.h"

#include <math.h>

/* s = sigmoid(z) */
static nf_real sigmoid(double z) { return (nf_real)(1.0 / (1.0 + exp(-z))); }

/* log sigmoid(z) = -log(1 + exp(-z)), written so exp never overflows */
static double log_sigmoid(double z) { return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)); }

/* The element-wise step on images [b0, b0 + nb); NN's output is (log_s_raw, t), each
 * (ca, nb*hw) channel-major. */
static void affine_step(const nf_coupling *cp, nf_coupling_pass pass, const nf_coupling_chunk *ch, nf_tensor *x,
                        nf_tensor *dy, double *logdet, double dlogdet) {
    size_t hw = ch->hw;
    int ca = cp->ca, nb = ch->nb;
    nf_real dld = (nf_real)dlogdet;
    for (int i = 0; i < nb; i++) {
        int b = ch->b0 + i;
        double ld = 0;
        for (int c = 0; c < ca; c++) {
            nf_real *xa = x->data + ((size_t)b * x->c + c) * hw; /* (hw) channel c of xa, image b */
            nf_real *raw = ch->out + ((size_t)c * nb + i) * hw, *t = ch->out + ((size_t)(ca + c) * nb + i) * hw;
            if (pass == NF_COUPLING_FORWARD) {
                for (size_t p = 0; p < hw; p++) {
                    double z = (double)raw[p] + 2.0;
                    xa[p] = sigmoid(z) * xa[p] + t[p]; /* ya = s * xa + t */
                    ld += log_sigmoid(z);
                }
            } else if (pass == NF_COUPLING_INVERSE) {
                for (size_t p = 0; p < hw; p++) xa[p] = (xa[p] - t[p]) / sigmoid((double)raw[p] + 2.0); /* xa = (ya - t) / s */
            } else {
                nf_real *dya = dy->data + ((size_t)b * dy->c + c) * hw;
                for (size_t p = 0; p < hw; p++) { /* raw, t are overwritten by dloss/d(raw, t) */
                    nf_real s = sigmoid((double)raw[p] + 2.0), g = dya[p];
                    nf_real xv = (xa[p] - t[p]) / s;
                    xa[p] = xv;
                    /* ds/draw = s (1 - s), dlog s/draw = 1 - s */
                    raw[p] = g * xv * s * (1 - s) + dld * (1 - s);
                    t[p] = g;
                    dya[p] = g * s;
                }
            }
        }
        if (pass == NF_COUPLING_FORWARD) logdet[b] += ld;
    }
}

static const nf_layer_ops affine_ops = NF_COUPLING_OPS("coupling_affine");

nf_status nf_coupling_affine_create(nf_layer **out, nf_shape in, int hidden) {
    /* NN outputs log_s_raw and t: 2 * ca channels */
    return nf_coupling_new(out, in, hidden, 2, &affine_ops, affine_step, "coupling_affine");
}
