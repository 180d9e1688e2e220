/* Glow affine coupling on images: x = (xa, xb), (log_s_raw, t) = NN(xb),
 * s = eps + (1 - eps) * sigmoid(log_s_raw + 2), ya = s * xa + t, yb = xb;
 * logdet = sum log s. The +2 starts s near 0.88 so early training neither explodes
 * nor vanishes. The floor eps (NF_COUPLING_MIN_SCALE) bounds what inverting one
 * coupling can amplify float32 round-off by: with plain sigmoid, training drove s to
 * 1e-10 (Fashion-MNIST, Glow L=2 K=4, step ~250), the rebuilt inputs of invertible
 * backprop became garbage and the gradients NaN although the loss stayed finite.
 * Backward runs NN once on yb (= xb) and uses its output both to rebuild xa
 * and to backpropagate (nf_coupling_run does the NN part, chunk by chunk). */
#include "layers/coupling_subnet.h"

#include <math.h>

/* sigmoid(z) = 1 / (1 + exp(-z)), for any z without overflow */
static double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* s = eps + (1 - eps) * sigmoid(z) */
static double scale_of(double eps, double sg) { return eps + (1.0 - eps) * sg; }

/* The element-wise step on images [b0, b0 + nb); NN's output is (log_s_raw, t), each
 * (ca, nb*hw) channel-major. */
static void affine_step(const nf_coupling *cp, nf_coupling_pass pass, const nf_coupling_chunk *ch, nf_tensor *x,
                        nf_tensor *dy, double *logdet, double dlogdet) {
    size_t hw = ch->hw;
    int ca = cp->ca, nb = ch->nb;
    nf_real dld = (nf_real)dlogdet;
    double eps = cp->min_scale;
    for (int i = 0; i < nb; i++) {
        int b = ch->b0 + i;
        double ld = 0;
        for (int c = 0; c < ca; c++) {
            nf_real *xa = x->data + ((size_t)b * x->c + c) * hw; /* (hw) channel c of xa, image b */
            nf_real *raw = ch->out + ((size_t)c * nb + i) * hw, *t = ch->out + ((size_t)(ca + c) * nb + i) * hw;
            if (pass == NF_COUPLING_FORWARD) {
                for (size_t p = 0; p < hw; p++) {
                    double sc = scale_of(eps, sigmoid((double)raw[p] + 2.0));
                    xa[p] = (nf_real)(sc * xa[p] + t[p]); /* ya = s * xa + t */
                    ld += log(sc);
                }
            } else if (pass == NF_COUPLING_INVERSE) {
                for (size_t p = 0; p < hw; p++) /* xa = (ya - t) / s */
                    xa[p] = (nf_real)((xa[p] - t[p]) / scale_of(eps, sigmoid((double)raw[p] + 2.0)));
            } else {
                nf_real *dya = dy->data + ((size_t)b * dy->c + c) * hw;
                for (size_t p = 0; p < hw; p++) { /* raw, t are overwritten by dloss/d(raw, t) */
                    double sg = sigmoid((double)raw[p] + 2.0), sc = scale_of(eps, sg), g = dya[p];
                    double xv = (xa[p] - t[p]) / sc;
                    /* ds/draw = (1 - eps) sg (1 - sg), dlog s/draw = ds/draw / s */
                    double ds = (1.0 - eps) * sg * (1.0 - sg);
                    xa[p] = (nf_real)xv;
                    raw[p] = (nf_real)(g * xv * ds + dld * ds / sc);
                    t[p] = (nf_real)g;
                    dya[p] = (nf_real)(g * sc);
                }
            }
        }
        if (pass == NF_COUPLING_FORWARD) logdet[b] += ld;
    }
}

static const nf_layer_ops affine_ops = NF_COUPLING_OPS("coupling_affine");

/* Either split (all: x changed as a whole, NN reads the condition alone); NN outputs
 * log_s_raw and t: 2 * ca channels. */
static nf_status affine_new(nf_layer **out, nf_shape in, int cond_channels, int hidden, double min_scale, int all) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (!(min_scale > 0 && min_scale < 1))
        return nf_fail(NF_ERR_ARG, "coupling_affine: the scale floor must be in (0, 1), got %g", min_scale);
    NF_TRY((all ? nf_coupling_new_all : nf_coupling_new)(out, in, cond_channels, hidden, 2, &affine_ops, affine_step,
                                                         "coupling_affine"));
    ((nf_coupling *)*out)->min_scale = min_scale;
    return NF_OK;
}

nf_status nf_coupling_affine_create_cond(nf_layer **out, nf_shape in, int cond_channels, int hidden,
                                        double min_scale) {
    return affine_new(out, in, cond_channels, hidden, min_scale, 0);
}

nf_status nf_coupling_affine_create_all(nf_layer **out, nf_shape in, int cond_channels, int hidden,
                                        double min_scale) {
    return affine_new(out, in, cond_channels, hidden, min_scale, 1);
}

nf_status nf_coupling_affine_create_bounded(nf_layer **out, nf_shape in, int hidden, double min_scale) {
    return nf_coupling_affine_create_cond(out, in, 0, hidden, min_scale);
}

nf_status nf_coupling_affine_create(nf_layer **out, nf_shape in, int hidden) {
    return nf_coupling_affine_create_bounded(out, in, hidden, NF_COUPLING_MIN_SCALE);
}
