/* The gradient summed over ranks while the backward runs (dist_step.h).
 *
 * The flat gradient is cut into buckets from its end (the backward finishes the last
 * layers first): bucket k holds values [count - (k+1) B, count - k B). When the flow says
 * that the gradients from lo on are final (nf_flow_grads_ready), every bucket inside
 * [lo, count) starts: its values, scaled by this rank's weight n_r / N, go to a send
 * buffer, and a non-blocking all-to-all gives rank r every rank's copy of the bucket's
 * block r (phase 1). Once that arrived, rank r sums its block in rank order in double
 * (the same sum as nf_dist_sum_real, so the result is the same bit for bit) and a
 * non-blocking all-gather spreads the summed blocks (phase 2, in place).
 *
 * MPI needs every rank to start collectives on a communicator in the same order. The
 * buckets are cut from the parameter count alone and start in bucket order; phase 2
 * starts in bucket order too, but when depends on timing, so each phase has its own
 * communicator. A rank whose backward failed half-way starts the buckets it did not reach
 * when the step is combined (their values are discarded), so no rank ever waits for a
 * collective that another will not start. MPI calls come from the calling thread only
 * (outside OpenMP regions), as MPI_THREAD_FUNNELED allows. */
#include "train/dist_internal.h"
#include "train/dist_step.h"

#include <limits.h>
#include <string.h>

#ifdef NFLOW_HAVE_MPI

typedef struct bucket {
    size_t lo, hi;   /* gradient values [lo, hi) */
    size_t mine;     /* values of this rank's block */
    size_t mlo;      /* its first value, relative to lo */
    nf_real *recv;   /* (R mine) every rank's copy of my block */
    int *cnt;        /* bytes: send counts, send displacements, receive counts, receive displacements (R each) */
    MPI_Request req;
    int phase;       /* 0 not started, 1 exchanging, 2 gathering, 3 done */
} bucket;

struct nf_overlap {
    MPI_Comm comm_send, comm_back; /* phase 1, phase 2 */
    size_t count, size;            /* gradient values; bucket size they were cut for */
    int nb;
    bucket *b;
    nf_real *send;   /* (count) weighted gradient, then the sums */
    nf_real *recv;   /* all buckets' recv */
    int *cnt;        /* all buckets' cnt */
    /* the step */
    int active;
    nf_flow *f;
    double w;        /* n_r / N */
    int started, gathering; /* buckets started in phase 1 / phase 2 so far (in order) */
    nf_status err;
};

static void release(struct nf_overlap *o) {
    nf_free(o->b);
    nf_free(o->send);
    nf_free(o->recv);
    nf_free(o->cnt);
    o->b = NULL, o->send = NULL, o->recv = NULL, o->cnt = NULL;
    o->count = 0, o->nb = 0;
}

void nf_dist_overlap_free(nf_dist *d) {
    struct nf_overlap *o = d->ov;
    if (!o) return;
    release(o);
    if (o->comm_send != MPI_COMM_NULL) MPI_Comm_free(&o->comm_send);
    if (o->comm_back != MPI_COMM_NULL) MPI_Comm_free(&o->comm_back);
    nf_free(o);
    d->ov = NULL;
}

/* Buffers and counts for count values in buckets of B (kept between steps). */
static nf_status cut(nf_dist *d, struct nf_overlap *o, size_t count, size_t B) {
    if (o->count == count && o->size == B && o->b) return NF_OK;
    release(o);
    int R = d->size;
    if ((B + (size_t)R) * sizeof(nf_real) > (size_t)INT_MAX) return nf_fail(NF_ERR_ARG, "bucket of %zu values", B);
    int nb = (int)((count + B - 1) / B);
    size_t recv_total = 0;
    for (int k = 0; k < nb; k++) {
        size_t hi = count - (size_t)k * B, lo = hi > B ? hi - B : 0, mlo, mhi;
        nf_dist_block_of(hi - lo, R, d->rank, &mlo, &mhi);
        recv_total += (size_t)R * (mhi - mlo);
    }
    o->b = nf_calloc((size_t)nb, sizeof(bucket));
    o->send = nf_alloc(count * sizeof(nf_real));
    o->recv = nf_alloc((recv_total + 1) * sizeof(nf_real));
    o->cnt = nf_alloc((size_t)nb * 4 * (size_t)R * sizeof(int));
    if (!o->b || !o->send || !o->recv || !o->cnt) {
        release(o);
        return nf_fail(NF_ERR_NOMEM, "overlapped gradient sum: out of memory for %zu values", count + recv_total);
    }
    nf_real *recv = o->recv;
    for (int k = 0; k < nb; k++) {
        bucket *b = &o->b[k];
        b->hi = count - (size_t)k * B, b->lo = b->hi > B ? b->hi - B : 0;
        size_t len = b->hi - b->lo, mhi;
        nf_dist_block_of(len, R, d->rank, &b->mlo, &mhi);
        b->mine = mhi - b->mlo;
        b->recv = recv;
        recv += (size_t)R * b->mine;
        b->cnt = o->cnt + (size_t)k * 4 * (size_t)R;
        int *scnt = b->cnt, *sdis = b->cnt + R, *rcnt = b->cnt + 2 * R, *rdis = b->cnt + 3 * R;
        for (int r = 0; r < R; r++) {
            size_t lo, hi;
            nf_dist_block_of(len, R, r, &lo, &hi);
            scnt[r] = (int)((hi - lo) * sizeof(nf_real));
            sdis[r] = (int)(lo * sizeof(nf_real));
            rcnt[r] = (int)(b->mine * sizeof(nf_real));
            rdis[r] = (int)((size_t)r * b->mine * sizeof(nf_real));
        }
    }
    o->count = count, o->size = B, o->nb = nb;
    return NF_OK;
}

static void note(struct nf_overlap *o, int rc, const char *what) {
    if (rc != MPI_SUCCESS && o->err == NF_OK) o->err = nf_dist_mpi_check(rc, what);
}

/* Phase 1 of the next bucket: its weighted gradient out to the ranks. */
static void start(nf_dist *d, struct nf_overlap *o) {
    bucket *b = &o->b[o->started++];
    const nf_real *g = o->f->params.grad;
    for (size_t k = b->lo; k < b->hi; k++) o->send[k] = (nf_real)((double)g[k] * o->w);
    int R = d->size, *c = b->cnt, rc_;
    double start_;
    rc_ = NF_DIST_TIMED(d, MPI_Ialltoallv(o->send + b->lo, c, c + R, MPI_BYTE, b->recv, c + 2 * R, c + 3 * R, MPI_BYTE,
                                          o->comm_send, &b->req));
    note(o, rc_, "MPI_Ialltoallv");
    b->phase = 1;
}

/* Whether the request is complete (wait: after waiting for it). */
static int finished(nf_dist *d, struct nf_overlap *o, MPI_Request *req, int wait) {
    int done = 1, rc_;
    double start_;
    if (wait)
        rc_ = NF_DIST_TIMED(d, MPI_Wait(req, MPI_STATUS_IGNORE));
    else
        rc_ = NF_DIST_TIMED(d, MPI_Test(req, &done, MPI_STATUS_IGNORE));
    note(o, rc_, wait ? "MPI_Wait" : "MPI_Test");
    return done;
}

/* Moves buckets on: phase 1 done -> my block summed, phase 2 started (in bucket order);
 * phase 2 done -> done. wait: block until every started bucket is done. */
static void progress(nf_dist *d, struct nf_overlap *o, int wait) {
    int R = d->size, rc_;
    double start_;
    while (o->gathering < o->started && o->err == NF_OK) {
        bucket *b = &o->b[o->gathering];
        if (!finished(d, o, &b->req, wait)) break;
        nf_real *mine = o->send + b->lo + b->mlo;
        for (size_t k = 0; k < b->mine; k++) {
            double acc = 0;
            for (int r = 0; r < R; r++) acc += b->recv[(size_t)r * b->mine + k];
            mine[k] = (nf_real)acc;
        }
        int *c = b->cnt;
        rc_ = NF_DIST_TIMED(d, MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_BYTE, o->send + b->lo, c, c + R, MPI_BYTE,
                                               o->comm_back, &b->req));
        note(o, rc_, "MPI_Iallgatherv");
        b->phase = 2;
        o->gathering++;
    }
    for (int k = 0; k < o->gathering && o->err == NF_OK; k++) {
        bucket *b = &o->b[k];
        if (b->phase == 2 && finished(d, o, &b->req, wait)) b->phase = 3;
    }
}

/* The flow's hook: the gradients from lo on are final. */
static void ready(void *user, size_t lo) {
    nf_dist *d = user;
    struct nf_overlap *o = d->ov;
    if (!o || !o->active || o->err != NF_OK) return;
    while (o->started < o->nb && o->b[o->started].lo >= lo) start(d, o);
    progress(d, o, 0);
}

nf_status nf_dist_overlap_begin(nf_dist *d, nf_flow *f, int n) {
    if (!d || d->size <= 1 || d->comm == MPI_COMM_NULL || d->bucket == 0) return NF_OK;
    nf_status s = NF_OK;
    if (!d->ov) {
        d->ov = nf_calloc(1, sizeof *d->ov);
        if (!d->ov) return nf_fail(NF_ERR_NOMEM, "overlapped gradient sum: out of memory");
        d->ov->comm_send = d->ov->comm_back = MPI_COMM_NULL;
        s = nf_dist_mpi_check(MPI_Comm_dup(d->comm, &d->ov->comm_send), "MPI_Comm_dup");
        if (s == NF_OK) s = nf_dist_mpi_check(MPI_Comm_dup(d->comm, &d->ov->comm_back), "MPI_Comm_dup");
    }
    struct nf_overlap *o = d->ov;
    if (s == NF_OK) s = cut(d, o, f->params.count, d->bucket);
    int ordered = 1; /* parameters bound in layer order (nf_flow_grads_ready relies on it) */
    const nf_real *last = f->params.value;
    for (int i = 0; i < f->nlayers && ordered; i++) {
        const nf_layer *l = f->layers[i];
        if (l->nparams == 0) continue;
        ordered = l->param >= last;
        last = l->param + l->nparams;
    }
    /* every rank's share and whether it can overlap: all or none do */
    double mine[2] = {n, s == NF_OK && ordered}, *all = nf_alloc(2 * (size_t)d->size * sizeof(double));
    if (!all) return nf_fail(NF_ERR_NOMEM, "overlapped gradient sum: out of memory");
    s = nf_dist_allgather(d, mine, all, sizeof mine);
    double N = 0;
    int ok = s == NF_OK;
    for (int r = 0; r < d->size && ok; r++) N += all[2 * r], ok = all[2 * r + 1] != 0;
    nf_free(all);
    NF_TRY(s);
    o->active = ok && N > 0;
    if (!o->active) return NF_OK; /* the sum after the backward, as without overlap */
    o->f = f, o->w = n / N, o->started = o->gathering = 0, o->err = NF_OK;
    for (int k = 0; k < o->nb; k++) o->b[k].phase = 0;
    nf_flow_set_grads_ready(f, ready, d);
    return NF_OK;
}

int nf_dist_overlap_active(const nf_dist *d) { return d && d->ov && d->ov->active; }

void nf_dist_overlap_flush(nf_dist *d) {
    struct nf_overlap *o = d ? d->ov : NULL;
    if (!o || !o->active) return;
    while (o->started < o->nb) start(d, o); /* what a failed backward did not reach */
}

nf_status nf_dist_overlap_end(nf_dist *d, int use) {
    struct nf_overlap *o = d ? d->ov : NULL;
    if (!o || !o->active) return NF_OK;
    nf_dist_overlap_flush(d);
    double before = d->wait;
    progress(d, o, 1);
    d->exposed += d->wait - before;
    nf_flow_set_grads_ready(o->f, NULL, NULL);
    o->active = 0;
    NF_TRY(o->err);
    if (use) memcpy(o->f->params.grad, o->send, o->count * sizeof(nf_real));
    return NF_OK;
}

#else /* one process only */

void nf_dist_overlap_free(nf_dist *d) { (void)d; }
nf_status nf_dist_overlap_begin(nf_dist *d, nf_flow *f, int n) {
    (void)d, (void)f, (void)n;
    return NF_OK;
}
int nf_dist_overlap_active(const nf_dist *d) {
    (void)d;
    return 0;
}
void nf_dist_overlap_flush(nf_dist *d) { (void)d; }
nf_status nf_dist_overlap_end(nf_dist *d, int use) {
    (void)d, (void)use;
    return NF_OK;
}

#endif
