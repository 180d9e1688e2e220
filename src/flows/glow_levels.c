/* Glow's passes over a whole level in one OpenMP region (layers/range.h).
 *
 * Thread t of T takes images [n t/T, n (t+1)/T) through every layer of the level (the
 * squeeze and K flow steps): images never interact inside a level, so the forward and
 * the inverse meet no synchronisation at all, where per-layer parallel loops would meet
 * a fork and a join per layer. On a shared or busy machine every such meeting costs a
 * scheduler slice while an idle thread spins, so this is what keeps two threads faster
 * than one there.
 *
 * The backward needs the parameter gradients of all threads. Each thread writes its
 * share of a flow step into one of two partial-gradient sets (alternating by step) and
 * moves on; the last thread to finish a step adds the sets of all threads in thread
 * order (deterministic for a given T) and completes the layers' gradients (range.h
 * finish), while the others are already on the next step. A thread only waits when it
 * wants to reuse a set whose previous step has not been reduced yet, two steps later.
 *
 * Each thread's part of the workspace: its scratch slot (the largest any layer of the
 * level needs for its images) and the two partial sets. */
#include "glow_internal.h"

#include "layers/range.h"
#include "threads.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static int level_lo(const glow_level *lv) { return lv->squeeze ? lv->first - 1 : lv->first; }
static int level_hi(const glow_level *lv) { return lv->first + lv->count; }

/* The input shape of layer i for a batch of n. */
static nf_shape layer_in(const glow *g, int i, int n) {
    nf_shape s = g->base.layers[i]->in;
    s.n = n;
    return s;
}

/* Elements of one flow step's partial gradients (the same for every step of a level). */
static size_t step_partial(const glow *g, const glow_level *lv) {
    size_t cnt = 0;
    for (int j = 0; j < 3 && lv->first + j < level_hi(lv); j++) {
        const nf_layer *l = g->base.layers[lv->first + j];
        cnt += nf_layer_range_ops(l)->partial_count(l);
    }
    return cnt;
}

/* One thread's memory for up to m images: slot, then two partial sets. */
static size_t slot_bytes(const glow *g, const glow_level *lv, int m) {
    size_t most = 0;
    for (int i = level_lo(lv); i < level_hi(lv); i++) {
        const nf_layer *l = g->base.layers[i];
        size_t b = nf_layer_range_ops(l)->slot_bytes(l, layer_in(g, i, m));
        if (b > most) most = b;
    }
    return most;
}

static size_t thread_bytes(const glow *g, const glow_level *lv, int m) {
    return slot_bytes(g, lv, m) + 2 * nf_work_bytes(step_partial(g, lv));
}

/* Threads for a batch of n within avail bytes: the policy's count, fewer if the
 * slots do not fit. 0 if one thread does not fit either. */
static int level_threads(const glow *g, const glow_level *lv, int n, size_t avail) {
    nf_threads_init();
    int T = nf_threads_omp();
    if (T > n) T = n;
    while (T >= 1 && (size_t)T * thread_bytes(g, lv, (n + T - 1) / T) > avail) T--;
    return T;
}

size_t glow_levels_workspace(const glow *g, int n) {
    size_t most = 0;
    for (int l = 0; l < g->nlevels; l++) {
        const glow_level *lv = &g->level[l];
        for (int i = level_lo(lv); i < level_hi(lv); i++)
            if (!nf_layer_range_ops(g->base.layers[i])) return 0;
        int T = level_threads(g, lv, n, SIZE_MAX);
        size_t b = (size_t)T * thread_bytes(g, lv, (n + T - 1) / T);
        if (b > most) most = b;
    }
    return most;
}

int glow_level_ready(const glow *g, const glow_level *lv, int n) {
    if (lv->shape.h * lv->shape.w == 1) return 0; /* vectors: whole-batch GEMMs are better */
    for (int i = level_lo(lv); i < level_hi(lv); i++) {
        const nf_layer *l = g->base.layers[i];
        const nf_range_ops *r = nf_layer_range_ops(l);
        if (!r || (r == &nf_actnorm_range && !l->initialized)) return 0; /* ActNorm's init needs the batch */
    }
    return level_threads(g, lv, n, g->ctx.work_bytes) >= 1;
}

/* ---------------------------------------------------------------- passes */

typedef enum pass { FORWARD, INVERSE } pass;

/* Reports corrupt frozen parameters on this thread before the region (where nothing may
 * fail). A conditional layer's condition was checked by the pass (glow_cond_check). */
static nf_status prepare_level(glow *g, const glow_level *lv) {
    nf_ctx slot = {g->ctx.work, slot_bytes(g, lv, 1), g->ctx.dlogdet};
    for (int i = level_lo(lv); i < level_hi(lv); i++) {
        nf_layer *l = g->base.layers[i];
        const nf_range_ops *r = nf_layer_range_ops(l);
        if (r->prepare) NF_TRY(r->prepare(l, &slot));
    }
    return NF_OK;
}

/* The thread's images of t (n, ...) as a view, and its slot. */
typedef struct share {
    int t, nt, b0;
    nf_tensor v, dv;
    nf_tensor cv, dcv; /* conditional: the thread's images of g->ctx.cond, dcond (slot.cond, dcond) */
    nf_ctx slot;
    char *mine; /* the thread's part of the workspace */
} share;

/* The rows [b0, b0 + m) of t (n, ...) as a view; NULL for NULL. */
static nf_tensor *rows_of(nf_tensor *view, const nf_tensor *t, int b0, int m) {
    if (!t) return NULL;
    *view = *t;
    view->data = t->data + (size_t)b0 * nf_tensor_sample_count(t);
    view->n = m;
    return view;
}

static void my_share(share *out, glow *g, const nf_tensor *h, const nf_tensor *dh, size_t per_thread, size_t slot) {
    share s = {0, 1, 0, *h, {0}, {0}, {0}, {0}, NULL};
#ifdef _OPENMP
    s.t = omp_get_thread_num();
    s.nt = omp_get_num_threads();
#endif
    int n = h->n, b1 = (int)((long)n * (s.t + 1) / s.nt);
    size_t per = nf_tensor_sample_count(h);
    s.b0 = (int)((long)n * s.t / s.nt);
    s.v.data = h->data + s.b0 * per;
    s.v.n = b1 - s.b0;
    if (dh) {
        s.dv = *dh;
        s.dv.data = dh->data + s.b0 * per;
        s.dv.n = s.v.n;
    }
    s.mine = (char *)g->ctx.work + (size_t)s.t * per_thread;
    s.slot = (nf_ctx){s.mine, slot, g->ctx.dlogdet};
    *out = s;
    /* the slot's condition views live in *out, which stays put for the region */
    out->slot.cond = rows_of(&out->cv, g->ctx.cond, s.b0, s.v.n);
    out->slot.dcond = dh ? rows_of(&out->dcv, g->ctx.dcond, s.b0, s.v.n) : NULL;
}

static nf_status level_run(glow *g, const glow_level *lv, nf_tensor *h, double *logdet, pass p) {
    int n = h->n, T = level_threads(g, lv, n, g->ctx.work_bytes);
    NF_TRY(prepare_level(g, lv));
    size_t per_thread = thread_bytes(g, lv, (n + T - 1) / T), slot = slot_bytes(g, lv, (n + T - 1) / T);
    int lo = level_lo(lv), hi = level_hi(lv);
    size_t per = nf_tensor_sample_count(h); /* a level's layers keep the count per sample */
    int store = p == FORWARD && g->store;
#pragma omp parallel num_threads(T)
    {
        share s;
        my_share(&s, g, h, NULL, per_thread, slot);
        for (int k = 0; k < hi - lo && s.v.n > 0; k++) {
            int i = p == FORWARD ? lo + k : hi - 1 - k;
            nf_layer *l = g->base.layers[i];
            const nf_range_ops *r = nf_layer_range_ops(l);
            if (store) memcpy(g->stored[i] + (size_t)s.b0 * per, s.v.data, (size_t)s.v.n * per * sizeof(nf_real));
            if (p == FORWARD) r->forward(l, &s.v, logdet + s.b0, &s.slot);
            else r->inverse(l, &s.v, &s.slot);
        }
    }
    nf_shape to = p == FORWARD ? lv->shape : g->base.layers[lo]->in;
    h->c = to.c, h->d = to.d, h->h = to.h, h->w = to.w;
    return NF_OK;
}

nf_status glow_level_forward(glow *g, const glow_level *lv, nf_tensor *h, double *logdet) {
    return level_run(g, lv, h, logdet, FORWARD);
}

nf_status glow_level_inverse(glow *g, const glow_level *lv, nf_tensor *h) { return level_run(g, lv, h, NULL, INVERSE); }

/* The last thread to finish flow step (layers first .. first+2) adds all threads'
 * partials into thread 0's (in thread order) and completes the gradients. */
static void reduce_step(glow *g, int first, int nt, size_t per_thread, size_t part_off, size_t cnt, int n,
                        nf_ctx *slot) {
    nf_real *p0 = (nf_real *)((char *)g->ctx.work + part_off);
    for (int u = 1; u < nt; u++) {
        const nf_real *pu = (const nf_real *)((char *)g->ctx.work + (size_t)u * per_thread + part_off);
        for (size_t i = 0; i < cnt; i++) p0[i] += pu[i];
    }
    size_t off = 0;
    for (int j = 0; j < 3; j++) {
        nf_layer *l = g->base.layers[first + j];
        const nf_range_ops *r = nf_layer_range_ops(l);
        if (r->finish) r->finish(l, p0 + off, n, g->ctx.dlogdet, slot);
        off += r->partial_count(l);
    }
}

/* Store mode, after layer i's backward on a thread's share: adds the share's error
 * sums to the thread's row and puts the stored input back. */
static void restore_share(glow *g, const share *s, int i, size_t per, double *sums) {
    if (!sums || s->v.n <= 0) return;
    const nf_real *stored = g->stored[i] + (size_t)s->b0 * per;
    size_t cnt = (size_t)s->v.n * per;
    nf_flow_error_sums(s->v.data, stored, cnt, sums);
    memcpy(s->v.data, stored, cnt * sizeof(nf_real));
}

/* Store mode, after the region: each layer's error over all threads (in thread order,
 * so the result does not depend on timing), noted from the top layer down as the
 * layer-by-layer backward does. */
static void note_drift(glow *g, int lo, int hi, int nt, const double *sums) {
    for (int i = hi - 1; i >= lo; i--) {
        double tot[2] = {0, 0};
        for (int t = 0; t < nt; t++) {
            tot[0] += sums[2 * ((size_t)t * (hi - lo) + (i - lo))];
            tot[1] += sums[2 * ((size_t)t * (hi - lo) + (i - lo)) + 1];
        }
        nf_flow_note_drift(&g->base, i, nf_flow_error_of_sums(tot));
    }
}

nf_status glow_level_backward(glow *g, const glow_level *lv, nf_tensor *h, nf_tensor *dh) {
    int n = h->n, T = level_threads(g, lv, n, g->ctx.work_bytes), K = lv->count / 3;
    NF_TRY(prepare_level(g, lv));
    size_t slot = slot_bytes(g, lv, (n + T - 1) / T), per_thread = thread_bytes(g, lv, (n + T - 1) / T);
    size_t cnt = step_partial(g, lv), set_bytes = nf_work_bytes(cnt);
    size_t per = nf_tensor_sample_count(h);
    int lo = level_lo(lv), hi = level_hi(lv);
    double *sums = NULL; /* store mode: (T, hi - lo, 2) error sums */
    if (g->store) {
        sums = nf_calloc((size_t)T * (size_t)(hi - lo) * 2, sizeof(double));
        if (!sums) return nf_fail(NF_ERR_NOMEM, "glow: out of memory in store mode");
    }
    atomic_int arrived[2] = {0, 0}, reduced[2] = {0, 0};
#pragma omp parallel num_threads(T)
    {
        share s;
        my_share(&s, g, h, dh, per_thread, slot);
        double *mine = sums ? sums + 2 * (size_t)s.t * (size_t)(hi - lo) : NULL;
        for (int q = 0; q < K; q++) {
            int first = lv->first + 3 * (K - 1 - q), set = q & 1;
            /* set is free once its previous step (q - 2) has been reduced */
            while (atomic_load_explicit(&reduced[set], memory_order_acquire) < q / 2) sched_yield();
            size_t part_off = slot + (size_t)set * set_bytes;
            nf_real *part = (nf_real *)(s.mine + part_off);
            memset(part, 0, cnt * sizeof(nf_real));
            size_t off = cnt;
            for (int j = 2; j >= 0; j--) {
                nf_layer *l = g->base.layers[first + j];
                const nf_range_ops *r = nf_layer_range_ops(l);
                off -= r->partial_count(l);
                if (s.v.n > 0) r->backward(l, &s.v, &s.dv, &s.slot, part + off);
                restore_share(g, &s, first + j, per, mine ? mine + 2 * (first + j - lo) : NULL);
            }
            if (atomic_fetch_add_explicit(&arrived[set], 1, memory_order_acq_rel) == s.nt - 1) {
                atomic_store_explicit(&arrived[set], 0, memory_order_relaxed);
                reduce_step(g, first, s.nt, per_thread, part_off, cnt, n, &s.slot);
                atomic_fetch_add_explicit(&reduced[set], 1, memory_order_release);
            }
        }
        if (lv->squeeze && s.v.n > 0) {
            nf_layer_range_ops(lv->squeeze)->backward(lv->squeeze, &s.v, &s.dv, &s.slot, NULL);
            restore_share(g, &s, lo, per, mine);
        }
    }
    if (sums) {
        note_drift(g, lo, hi, T, sums);
        nf_free(sums);
    }
    nf_shape to = g->base.layers[level_lo(lv)]->in;
    h->c = dh->c = to.c, h->d = dh->d = to.d, h->h = dh->h = to.h, h->w = dh->w = to.w;
    return NF_OK;
}
