/* A training step's results combined over ranks (dist_step.h). */
#include "train/dist_step.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { FAILED, NUMERIC, COUNT, LOSS, HALF_SQ, LOGDET, BPD, RECOMPUTED, REBUILD, NV };

nf_status nf_dist_combine_step(nf_dist *d, nf_flow *f, int n, nf_status s, nf_loss_stats *ls, nf_grad_report *g) {
    int R = nf_dist_size(d);
    if (R <= 1) return s;
    char mine_msg[512];
    snprintf(mine_msg, sizeof mine_msg, "%s", s != NF_OK ? nf_last_error() : "");
    int overlap = nf_dist_overlap_active(d);
    if (overlap) nf_dist_overlap_flush(d); /* every bucket in flight on every rank */
    double v[NV] = {0};
    v[FAILED] = s != NF_OK && s != NF_ERR_NUMERIC;
    v[NUMERIC] = s == NF_ERR_NUMERIC && !g->peer_failed; /* the process whose loss failed, not its peers */
    v[COUNT] = n;
    if (s == NF_OK) {
        v[LOSS] = n * ls->loss, v[HALF_SQ] = n * ls->half_sq, v[LOGDET] = n * ls->logdet, v[BPD] = n * ls->bits_per_dim;
        v[RECOMPUTED] = g->recomputed;
        v[REBUILD] = g->rebuild_error;
    }
    double *all = nf_alloc(sizeof(double) * NV * (size_t)R);
    nf_status c = all ? nf_dist_allgather(d, v, all, sizeof v) : nf_fail(NF_ERR_NOMEM, "data-parallel step: out of memory");
    if (c != NF_OK) {
        nf_free(all);
        nf_dist_overlap_end(d, 0);
        return c;
    }
    int failed = -1, numeric = -1;
    double tot[NV] = {0}, worst = 0;
    for (int r = 0; r < R; r++) { /* rank order: the same sums on every rank */
        const double *a = all + (size_t)r * NV;
        if (a[FAILED] != 0 && failed < 0) failed = r;
        if (a[NUMERIC] != 0 && numeric < 0) numeric = r;
        for (int k = COUNT; k <= RECOMPUTED; k++) tot[k] += a[k];
        if (isnan(a[REBUILD]) || a[REBUILD] > worst) worst = isnan(worst) ? worst : a[REBUILD];
    }
    nf_free(all);
    int me = nf_dist_rank(d);
    /* the sums in flight are the step's gradient unless a step failed or was recomputed
     * (its gradient came after them): then they are discarded */
    int use = overlap && failed < 0 && numeric < 0 && tot[RECOMPUTED] == 0;
    if (overlap) NF_TRY(nf_dist_overlap_end(d, use));
    if (failed >= 0)
        return failed == me ? nf_fail(s, "%s", mine_msg)
                            : nf_fail(NF_ERR_STATE, "rank %d failed in its training step (its own message says why)",
                                      failed);
    if (numeric < 0 && g->peer_failed) /* cannot happen: a peer failed, so some process did */
        return nf_fail(NF_ERR_NUMERIC, "%s", mine_msg);
    if (numeric >= 0)
        return numeric == me ? nf_fail(NF_ERR_NUMERIC, "rank %d: %s", me, mine_msg)
                             : nf_fail(NF_ERR_NUMERIC, "rank %d: the loss or gradient of its share was not finite",
                                       numeric);
    /* the global mean gradient: sum_r (n_r / N) g_r */
    double N = tot[COUNT];
    if (!use) {
        size_t np = f->params.count;
        nf_real *grad = f->params.grad;
        double w = n / N;
        for (size_t k = 0; k < np; k++) grad[k] = (nf_real)((double)grad[k] * w);
        NF_TRY(nf_dist_sum_real(d, grad, np));
    }
    ls->loss = tot[LOSS] / N, ls->half_sq = tot[HALF_SQ] / N, ls->logdet = tot[LOGDET] / N;
    ls->bits_per_dim = tot[BPD] / N;
    g->recomputed = tot[RECOMPUTED] > 0;
    g->rebuild_error = worst;
    return NF_OK;
}
