/* NICE additive coupling on images: x = (xa, xb), ya = xa + NN(xb), yb = xb;
 * volume preserving (logdet 0). Backward runs NN once on yb (= xb) and uses it
 * both to rebuild xa and to backpropagate (nf_coupling_run does the NN part). */
#include "layers/coupling_subnet.h"

/* The element-wise step on images [b0, b0 + nb); NN's output t is (ca, nb*hw) channel-major. */
static void additive_step(const nf_coupling *cp, nf_coupling_pass pass, const nf_coupling_chunk *ch, nf_tensor *x,
                          nf_tensor *dy, double *logdet, double dlogdet) {
    size_t hw = ch->hw;
    for (int i = 0; i < ch->nb; i++) {
        int b = ch->b0 + i;
        for (int c = 0; c < cp->ca; c++) {
            nf_real *restrict xa = x->data + ((size_t)b * x->c + c) * hw; /* (hw) channel c of xa, image b */
            nf_real *restrict t = ch->out + ((size_t)c * ch->nb + i) * hw;
            if (pass == NF_COUPLING_FORWARD) {
#pragma omp simd
                for (size_t p = 0; p < hw; p++) xa[p] += t[p]; /* ya = xa + t */
            } else if (pass == NF_COUPLING_INVERSE) {
#pragma omp simd
                for (size_t p = 0; p < hw; p++) xa[p] -= t[p]; /* xa = ya - t */
            } else {
                const nf_real *restrict dya = dy->data + ((size_t)b * dy->c + c) * hw; /* dxa = dya: unchanged */
#pragma omp simd
                for (size_t p = 0; p < hw; p++) {
                    xa[p] -= t[p];
                    t[p] = dya[p]; /* dloss/dt = dya */
                }
            }
        }
    }
}

static const nf_layer_ops additive_ops = NF_COUPLING_OPS("coupling_additive");

nf_status nf_coupling_additive_create_cond(nf_layer **out, nf_shape in, int cond_channels, int hidden) {
    /* NN outputs the shift t: ca channels */
    return nf_coupling_new(out, in, cond_channels, hidden, 1, &additive_ops, additive_step, "coupling_additive");
}

nf_status nf_coupling_additive_create(nf_layer **out, nf_shape in, int hidden) {
    return nf_coupling_additive_create_cond(out, in, 0, hidden);
}
