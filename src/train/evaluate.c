/* Evaluation over held-out samples read batch by batch (validation, `nflow eval`). */
#include "nf_internal.h"

#include <math.h>

double nf_bits_per_dim(double loss, size_t D, double nll_offset) {
    double nll = loss + 0.5 * (double)D * log(2 * M_PI) + nll_offset;
    return nll / ((double)D * log(2.0));
}

nf_status nf_flow_eval_source(nf_flow *f, const nf_eval_source *src, nf_loss_stats *st) {
    NF_CHECK_NULL(f);
    NF_CHECK_NULL(src);
    NF_CHECK_NULL(src->read);
    NF_CHECK_NULL(st);
    if (src->count < 1 || src->batch < 1)
        return nf_fail(NF_ERR_ARG, "nf_flow_eval_source: %lld samples in batches of %d", src->count, src->batch);
    long long total = src->count;
    nf_shape s = f->in;
    int n = (int)(src->batch < total ? src->batch : total);
    nf_tensor x, y = {0}, *cond = NULL;
    NF_TRY(nf_tensor_alloc(&x, n, s.c, s.d, s.h, s.w));
    if (nf_flow_is_conditional(f)) {
        nf_shape c = f->cond;
        if (nf_tensor_alloc(&y, n, c.c, c.d, c.h, c.w) != NF_OK) {
            nf_tensor_free(&x);
            return nf_fail(NF_ERR_NOMEM, "nf_flow_eval_source: out of memory");
        }
        cond = &y;
    }
    double sum[3] = {0, 0, 0};
    nf_status rc = NF_OK;
    for (long long i = 0; i < total && rc == NF_OK; i += n) {
        x.n = y.n = (int)(total - i < n ? total - i : n);
        nf_loss_stats b;
        rc = src->read(src->user, i, &x, cond);
        if (rc == NF_OK) rc = nf_flow_eval(f, &x, cond, &b);
        if (rc != NF_OK) break;
        sum[0] += b.loss * x.n, sum[1] += b.half_sq * x.n, sum[2] += b.logdet * x.n;
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    if (rc != NF_OK) return rc;
    st->loss = sum[0] / (double)total;
    st->half_sq = sum[1] / (double)total;
    st->logdet = sum[2] / (double)total;
    st->bits_per_dim = nf_bits_per_dim(st->loss, nf_shape_sample_count(s), src->nll_offset);
    return NF_OK;
}
