/* The maximum-likelihood loss under a standard normal latent. */
#include "nf_internal.h"

#include <math.h>

nf_status nf_loss_nll(const nf_tensor *z, const double *logdet, nf_tensor *dz, double *dlogdet, nf_loss_stats *st) {
    NF_CHECK_NULL(z);
    NF_CHECK_NULL(logdet);
    if (!z->data || z->n <= 0) return nf_fail(NF_ERR_ARG, "nf_loss_nll: z is empty");
    if (dz && (dz->n != z->n || nf_tensor_count(dz) != nf_tensor_count(z)))
        return nf_fail(NF_ERR_SHAPE, "nf_loss_nll: dz does not have z's shape");
    int n = z->n;
    size_t D = nf_tensor_sample_count(z);
    double sq = 0, ld = 0;
    for (int b = 0; b < n; b++) {
        const nf_real *zb = z->data + (size_t)b * D;
        double acc = 0;
        for (size_t i = 0; i < D; i++) acc += (double)zb[i] * zb[i];
        sq += 0.5 * acc;
        ld += logdet[b];
    }
    sq /= n;
    ld /= n;
    double loss = sq - ld;
    if (!isfinite(loss)) return nf_fail(NF_ERR_NUMERIC, "nf_loss_nll: the loss is not finite (%g)", loss);
    if (st) {
        st->loss = loss;
        st->half_sq = sq;
        st->logdet = ld;
        /* full NLL per dimension, with the 0.5*log(2 pi) per value, in bits */
        st->bits_per_dim = (loss / (double)D + 0.5 * log(2.0 * M_PI)) / log(2.0);
    }
    if (dz) {
        nf_real inv = (nf_real)(1.0 / n);
        size_t cnt = nf_tensor_count(z);
        for (size_t i = 0; i < cnt; i++) dz->data[i] = z->data[i] * inv;
    }
    if (dlogdet) *dlogdet = -1.0 / n;
    return NF_OK;
}
