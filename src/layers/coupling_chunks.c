/* The threaded passes of the image couplings (nf_coupling_run, see coupling_subnet.h).
 *
 * One OpenMP region per pass. Thread t of T takes images [n t/T, n (t+1)/T) and walks
 * them in chunks of at most nb images; each chunk runs NN forward, the coupling's
 * element-wise step and, in backward, NN backward, all on the thread's own slot of the
 * workspace. Nothing is shared until the backward's final step: every thread's parameter
 * gradients (its slot's partial sums) are added to the layer's in thread order, each
 * thread summing one slice of the parameters. Results are therefore deterministic for a
 * given thread count, and a pass meets one barrier (backward) or none.
 *
 * GEMMs run on the calling thread; under NF_THREADS_BLAS the region has one thread and
 * OpenBLAS's pool threads each GEMM, so chunks are made wider to give it room. */
#include "layers/coupling_subnet.h"

#include "layers/range.h"
#include "threads.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Columns (pixels) a chunk aims for per GEMM-running thread: wide enough for OpenBLAS to
 * run near its peak, small enough that a chunk's activations stay in L2/L3. */
#ifndef NF_COUPLING_CHUNK_COLS
#define NF_COUPLING_CHUNK_COLS 512
#endif

static _Thread_local unsigned long forward_count;

unsigned long nf_subnet_forward_count(void) { return forward_count; }

/* Bytes of one thread's slot: the chunk's activations and a partial gradient. */
static size_t slot_bytes(const nf_coupling *cp, int nb, int h, int w) {
    return nf_subnet_work_bytes(&cp->net, nb, h, w) + nf_work_bytes(cp->base.nparams);
}

/* Images a chunk aims for: NF_COUPLING_CHUNK_COLS pixels (voxels) per GEMM-running
 * thread, at least one image, at most the m images the thread has. The sample's depth
 * comes from the net: h*w pixels per slice, net->d slices. */
static int chunk_want(const nf_coupling *cp, int m, int h, int w) {
    int gemm_threads = nf_threads_count() / nf_threads_omp();
    size_t want = (size_t)NF_COUPLING_CHUNK_COLS * (gemm_threads > 0 ? gemm_threads : 1);
    int b = (int)(want / ((size_t)cp->net.d * h * w));
    if (b < 1) b = 1;
    return b > m ? m : b;
}

/* Threads and chunk size for a batch of n within avail bytes of workspace: the
 * policy's thread count and chunk width, then narrower chunks and fewer threads until
 * the slots fit. Returns 0 if not even one image on one thread fits. */
static int plan(const nf_coupling *cp, int n, int h, int w, size_t avail, int *threads, int *nb) {
    nf_threads_init();
    int T = nf_threads_omp();
    if (T > n) T = n;
    int b = chunk_want(cp, (n + T - 1) / T, h, w);
    while (T >= 1) {
        while (b >= 1 && (size_t)T * slot_bytes(cp, b, h, w) > avail) b /= 2;
        if (b >= 1) break;
        T--;
        b = 1;
    }
    *threads = T;
    *nb = b;
    return T >= 1;
}

size_t nf_coupling_workspace(const nf_layer *l, nf_shape in) {
    const nf_coupling *cp = (const nf_coupling *)l;
    int T, nb, n = in.n > 0 ? in.n : 1;
    plan(cp, n, in.h, in.w, SIZE_MAX, &T, &nb);
    return (size_t)T * slot_bytes(cp, nb, in.h, in.w);
}

/* NN's input of images [b0, b0 + nb) -> dst (cb + cc, nb*hw), channel-major: xb of x
 * (n, c, hw), then the condition cond (n, cc, hw) of a conditional coupling. */
static void gather_input(nf_real *dst, const nf_coupling *cp, const nf_tensor *x, const nf_tensor *cond, int b0,
                         int nb, size_t hw) {
    for (int ch = 0; ch < cp->cb + cp->cc; ch++)
        for (int i = 0; i < nb; i++) {
            const nf_real *src = ch < cp->cb ? x->data + ((size_t)(b0 + i) * x->c + cp->ca + ch) * hw
                                             : cond->data + ((size_t)(b0 + i) * cp->cc + ch - cp->cb) * hw;
            memcpy(dst + ((size_t)ch * nb + i) * hw, src, hw * sizeof(nf_real));
        }
}

/* dy's xb part of images [b0, b0 + nb) += src's first cb rows (dxb = dyb + NN^T(dNN)), and
 * dcond (when not NULL) += its last cc rows. src is (cb + cc, nb*hw). */
static void add_dinput(nf_tensor *dy, nf_tensor *dcond, const nf_coupling *cp, const nf_real *src, int b0, int nb,
                       size_t hw) {
    int rows = dcond ? cp->cb + cp->cc : cp->cb;
    for (int ch = 0; ch < rows; ch++)
        for (int i = 0; i < nb; i++) {
            nf_real *restrict d = ch < cp->cb ? dy->data + ((size_t)(b0 + i) * dy->c + cp->ca + ch) * hw
                                              : dcond->data + ((size_t)(b0 + i) * cp->cc + ch - cp->cb) * hw;
            const nf_real *restrict s = src + ((size_t)ch * nb + i) * hw;
#pragma omp simd
            for (size_t p = 0; p < hw; p++) d[p] += s[p];
        }
}

/* One thread's share: its images, chunk by chunk. partial (nparams) gets its gradients.
 * cond, dcond: the condition and its gradient, indexed like x (NULL when unused). */
static void run_images(nf_coupling *cp, nf_coupling_pass pass, nf_tensor *x, nf_tensor *dy, const nf_tensor *cond,
                       nf_tensor *dcond, double *logdet, double dlogdet, nf_ctx *slot, int b_lo, int b_hi, int nb,
                       nf_real *partial) {
    size_t hw = (size_t)x->d * x->h * x->w, off = 0; /* values per channel of a sample */
    nf_subnet_acts a = nf_subnet_take(&cp->net, slot, &off, nb, x->h, x->w);
    int m = b_hi - b_lo, nchunks = (m + nb - 1) / nb;
    for (int k = 0; k < nchunks; k++) {
        /* near-equal chunks: no short remainder */
        int b0 = b_lo + (int)((long)m * k / nchunks), b1 = b_lo + (int)((long)m * (k + 1) / nchunks);
        a.nb = b1 - b0;
        gather_input(a.x, cp, x, cond, b0, a.nb, hw);
        nf_subnet_forward(&cp->net, cp->base.param, &a);
        nf_coupling_chunk ch = {b0, a.nb, hw, a.out};
        cp->step(cp, pass, &ch, x, dy, logdet, dlogdet);
        if (pass != NF_COUPLING_BACKWARD) continue;
        nf_subnet_backward(&cp->net, cp->base.param, partial, &a);
        add_dinput(dy, dcond, cp, a.x, b0, a.nb, hw);
    }
}

nf_status nf_coupling_run(nf_coupling *cp, nf_coupling_pass pass, nf_tensor *x, nf_tensor *dy, double *logdet,
                          nf_ctx *ctx) {
    int T, nb, n = x->n;
    if (!plan(cp, n, x->h, x->w, ctx->work_bytes, &T, &nb))
        return nf_fail(NF_ERR_STATE, "%s: workspace of %zu bytes is too small for one image", cp->base.ops->name,
                       ctx->work_bytes);
    size_t slot = slot_bytes(cp, nb, x->h, x->w), np = cp->base.nparams;
    size_t partial_off = nf_subnet_work_bytes(&cp->net, nb, x->h, x->w);
    char *base = ctx->work;
    double dlogdet = ctx->dlogdet;
    const nf_tensor *cond = cp->cc ? ctx->cond : NULL;
    nf_tensor *dcond = cp->cc && pass == NF_COUPLING_BACKWARD ? ctx->dcond : NULL;
#pragma omp parallel num_threads(T)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        nf_ctx mine = {base + (size_t)t * slot, slot, dlogdet};
        nf_real *partial = (nf_real *)(base + (size_t)t * slot + partial_off);
        if (pass == NF_COUPLING_BACKWARD) memset(partial, 0, np * sizeof(nf_real));
        run_images(cp, pass, x, dy, cond, dcond, logdet, dlogdet, &mine, (int)((long)n * t / nt),
                   (int)((long)n * (t + 1) / nt), nb, partial);
        if (pass == NF_COUPLING_BACKWARD) {
#pragma omp barrier
            /* grad += the threads' partial sums, in thread order, one slice per thread */
            size_t lo = np * t / nt, hi = np * (t + 1) / nt;
            for (int u = 0; u < nt; u++) {
                const nf_real *pu = (const nf_real *)(base + (size_t)u * slot + partial_off);
                for (size_t i = lo; i < hi; i++) cp->base.grad[i] += pu[i];
            }
        }
    }
    forward_count++;
    return NF_OK;
}

nf_status nf_coupling_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    return nf_coupling_run((nf_coupling *)l, NF_COUPLING_FORWARD, x, NULL, logdet, ctx);
}

nf_status nf_coupling_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    return nf_coupling_run((nf_coupling *)l, NF_COUPLING_INVERSE, y, NULL, NULL, ctx);
}

nf_status nf_coupling_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    return nf_coupling_run((nf_coupling *)l, NF_COUPLING_BACKWARD, y, dy, NULL, ctx);
}

/* ---------------------------------------------------------------- range calls */

/* A thread's slot: the activations of one chunk (the partial lives with the caller). */
static size_t cr_slot_bytes(const nf_layer *l, nf_shape in) {
    const nf_coupling *cp = (const nf_coupling *)l;
    nf_threads_init();
    return nf_subnet_work_bytes(&cp->net, chunk_want(cp, in.n > 0 ? in.n : 1, in.h, in.w), in.h, in.w);
}

static size_t cr_partial_count(const nf_layer *l) { return l->nparams; }

/* The widest chunk of the view x that the slot holds (the slot fits at least one image). */
static int slot_chunk(const nf_coupling *cp, const nf_tensor *x, const nf_ctx *slot) {
    int nb = chunk_want(cp, x->n, x->h, x->w);
    while (nb > 1 && nf_subnet_work_bytes(&cp->net, nb, x->h, x->w) > slot->work_bytes) nb--;
    return nb;
}

static void cr_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *slot) {
    nf_coupling *cp = (nf_coupling *)l;
    run_images(cp, NF_COUPLING_FORWARD, x, NULL, slot->cond, NULL, logdet, slot->dlogdet, slot, 0, x->n,
               slot_chunk(cp, x, slot), NULL);
    forward_count++;
}

static void cr_inverse(nf_layer *l, nf_tensor *y, nf_ctx *slot) {
    nf_coupling *cp = (nf_coupling *)l;
    run_images(cp, NF_COUPLING_INVERSE, y, NULL, slot->cond, NULL, NULL, slot->dlogdet, slot, 0, y->n,
               slot_chunk(cp, y, slot), NULL);
    forward_count++;
}

static void cr_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *slot, nf_real *partial) {
    nf_coupling *cp = (nf_coupling *)l;
    run_images(cp, NF_COUPLING_BACKWARD, y, dy, slot->cond, slot->dcond, NULL, slot->dlogdet, slot, 0, y->n,
               slot_chunk(cp, y, slot), partial);
    forward_count++;
}

static void cr_finish(nf_layer *l, const nf_real *partial, int n, double dlogdet, nf_ctx *slot) {
    for (size_t i = 0; i < l->nparams; i++) l->grad[i] += partial[i];
}

const nf_range_ops nf_coupling_range = {
    .slot_bytes = cr_slot_bytes,
    .partial_count = cr_partial_count,
    .forward = cr_forward,
    .inverse = cr_inverse,
    .backward = cr_backward,
    .finish = cr_finish,
};
