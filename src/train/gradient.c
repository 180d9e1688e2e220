/* The gradient of a batch with the rebuild guard, the plain training step, evaluation,
 * sampling, clipping and the rebuild profile of any flow. */
#include "flows/flow_internal.h"
#include "threads.h"

#include <math.h>
#include <string.h>

static nf_tensor latent(nf_flow *f, nf_real *data, int n) {
    return nf_tensor_view(data, n, (int)nf_shape_sample_count(f->in), 1, 1, 1);
}

static nf_status check(const char *fn, nf_flow *f, const nf_tensor *x) {
    if (!f) return nf_fail(NF_ERR_ARG, "%s: flow is NULL", fn);
    if (!x || !x->data) return nf_fail(NF_ERR_ARG, "%s: batch is NULL", fn);
    if (x->n <= 0) return nf_fail(NF_ERR_SHAPE, "%s: empty batch", fn);
    return NF_OK;
}

/* max_b |xr_b - x_b| / |x_b|; NaN if any rebuilt value is NaN. */
static double rebuild_error(const nf_real *xr, const nf_tensor *x) {
    size_t D = nf_tensor_sample_count(x);
    double worst = 0;
    for (int b = 0; b < x->n; b++) {
        double e = nf_flow_relative_error(xr + (size_t)b * D, x->data + (size_t)b * D, D);
        if (isnan(e)) return e;
        if (e > worst) worst = e;
    }
    return worst;
}

/* Data parallelism (f->sum): whether any process's flag is set, agreed by all. */
static nf_status any_process(nf_flow *f, int flag, int *any) {
    double v = flag != 0;
    NF_TRY(f->sum(f->sum_user, &v, 1));
    *any = v > 0;
    return NF_OK;
}

/* Forward, loss and backward; the rebuilt batch goes to f->scratch->xr. With a sum hook,
 * no process runs the backward when one's loss failed (peer_failed on the others). */
static nf_status gradient_pass(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_loss_stats *st,
                               int *peer_failed) {
    nf_tensor z = latent(f, f->scratch->z, x->n), dz = latent(f, f->scratch->dz, x->n);
    nf_tensor xr = *x;
    xr.data = f->scratch->xr;
    double dlogdet;
    NF_TRY(nf_flow_forward(f, x, cond, &z, f->scratch->logdet));
    nf_status s = nf_loss_nll(&z, f->scratch->logdet, &dz, &dlogdet, st);
    if (f->sum) {
        int any = 0;
        NF_TRY(any_process(f, s != NF_OK, &any));
        if (any && s == NF_OK) {
            *peer_failed = 1;
            return nf_fail(NF_ERR_NUMERIC, "another process's loss was not finite");
        }
    }
    NF_TRY(s);
    nf_flow_zero_grad(f);
    return nf_flow_backward(f, &z, &dz, cond, dlogdet, &xr, NULL);
}

/* Store mode, after a forward of x: an inverse of its latents (in f->scratch->z) that
 * records every layer's rebuilt-input error in f->layer_rebuild. */
static nf_status profile_inverse(nf_flow *f, const nf_tensor *x, const nf_tensor *cond) {
    nf_tensor z = latent(f, f->scratch->z, x->n), xr = *x;
    xr.data = f->scratch->xr;
    return nf_flow_inverse(f, &z, cond, &xr);
}

/* After a store-mode pass: the layer whose inverse amplified the rebuild error most,
 * from an inverse of the latents that records each layer's error (f->layer_rebuild). */
static nf_status worst_inverse(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_grad_report *r) {
    if (!f->layer_rebuild) return NF_OK;
    NF_TRY(profile_inverse(f, x, cond));
    const double floor = 1e-7; /* float32 round-off: no layer is blamed for amplifying less */
    for (int i = 0; i < f->nlayers; i++) {
        double out = i + 1 < f->nlayers ? f->layer_rebuild[i + 1] : 0;
        double gain = f->layer_rebuild[i] / fmax(out, floor);
        if (r->worst_layer < 0 || gain > r->worst_gain) r->worst_layer = i, r->worst_gain = gain;
    }
    return NF_OK;
}

/* The frozen parameters as they were before the step (a training forward moves some:
 * batch norm's running averages), so that a recomputed step moves them once. */
static nf_status frozen_save(nf_flow *f) {
    struct nf_flow_scratch *t = f->scratch;
    const nf_params *p = &f->params;
    if (!t->frozen_known) {
        for (size_t k = 0; k < p->count; k++) t->nfrozen += p->frozen[k] != 0;
        t->frozen = t->nfrozen ? nf_alloc(t->nfrozen * sizeof(nf_real)) : NULL;
        if (t->nfrozen && !t->frozen) return nf_fail(NF_ERR_NOMEM, "%s flow: out of memory", f->ops->name);
        t->frozen_known = 1;
    }
    for (size_t k = 0, j = 0; j < t->nfrozen; k++)
        if (p->frozen[k]) t->frozen[j++] = p->value[k];
    return NF_OK;
}

static void frozen_restore(nf_flow *f) {
    const struct nf_flow_scratch *t = f->scratch;
    for (size_t k = 0, j = 0; j < t->nfrozen; k++)
        if (f->params.frozen[k]) f->params.value[k] = t->frozen[j++];
}

/* The same step from stored layer inputs: the exact gradient, and which inverse amplified. */
static nf_status recompute(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_loss_stats *st,
                           nf_grad_report *r) {
    if (!f->ops->set_store_activations)
        return nf_fail(NF_ERR_NUMERIC,
                       "rebuilt inputs are off by %.3g (relative) and %s flows cannot store activations to "
                       "recompute the step",
                       r->rebuild_error, f->ops->name);
    size_t before = nf_mem_current();
    NF_TRY(nf_flow_set_store_activations(f, 1));
    frozen_restore(f);
    /* the recomputed gradient is not announced: sums started from the first pass are
     * discarded (data parallelism sums the recomputed one after the backward) */
    nf_grads_ready_fn ready = f->grads_ready;
    void *ready_user = f->grads_ready_user;
    nf_flow_set_grads_ready(f, NULL, NULL);
    nf_status s = gradient_pass(f, x, cond, st, &r->peer_failed);
    nf_flow_set_grads_ready(f, ready, ready_user);
    size_t held = nf_mem_current(); /* the stored inputs, until store mode ends */
    r->recompute_bytes = held > before ? held - before : 0;
    r->recomputed = 1;
    if (s == NF_OK) s = worst_inverse(f, x, cond, r);
    nf_flow_set_store_activations(f, 0); /* frees the stored inputs */
    return s;
}

nf_status nf_flow_gradient(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double rebuild_tol,
                           nf_loss_stats *st, nf_grad_report *rep) {
    nf_grad_report r = {0, 0, -1, 0, 0, 0};
    if (rep) *rep = r;
    NF_TRY(check(__func__, f, x));
    nf_threads_init(); /* one owner of the cores before any pool starts (threads.h) */
    NF_TRY(nf_flow_scratch_reserve(f, x->n));
    nf_loss_stats s = {0};
    if (rebuild_tol >= 0) NF_TRY(frozen_save(f));
    nf_status status = gradient_pass(f, x, cond, &s, &r.peer_failed);
    int stored = f->drift_layer >= 0; /* the flow is in store mode: the gradient is exact */
    int need = 0;
    if (status == NF_OK) {
        r.rebuild_error = rebuild_error(f->scratch->xr, x);
        need = !stored && rebuild_tol >= 0 && !(r.rebuild_error <= rebuild_tol);
    }
    /* processes recompute together: the recompute's passes may sum over them */
    if (f->sum && !stored && rebuild_tol >= 0) {
        nf_status a = any_process(f, need, &need);
        if (status == NF_OK) status = a;
    }
    if (status == NF_OK && need) status = recompute(f, x, cond, &s, &r);
    if (st) *st = s;
    if (rep) *rep = r;
    return status;
}

nf_status nf_flow_rebuild_profile(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double *err) {
    NF_TRY(check(__func__, f, x));
    NF_CHECK_NULL(err);
    if (!f->ops->set_store_activations)
        return nf_fail(NF_ERR_STATE, "nf_flow_rebuild_profile: %s flows cannot store activations", f->ops->name);
    if (f->layer_rebuild)
        return nf_fail(NF_ERR_STATE, "nf_flow_rebuild_profile: the flow is in store mode already");
    nf_threads_init();
    NF_TRY(nf_flow_scratch_reserve(f, x->n));
    NF_TRY(frozen_save(f)); /* batch norm's running averages do not move */
    NF_TRY(nf_flow_set_store_activations(f, 1));
    /* this process's picture of its own batch: no sums over processes */
    nf_sum_fn sum = f->sum;
    void *sum_user = f->sum_user;
    nf_flow_set_sum(f, NULL, NULL);
    nf_tensor z = latent(f, f->scratch->z, x->n);
    nf_status s = nf_flow_forward(f, x, cond, &z, f->scratch->logdet);
    if (s == NF_OK) s = profile_inverse(f, x, cond);
    if (s == NF_OK) memcpy(err, f->layer_rebuild, sizeof(double) * (size_t)f->nlayers);
    nf_flow_set_sum(f, sum, sum_user);
    nf_flow_set_store_activations(f, 0);
    frozen_restore(f);
    return s;
}

nf_status nf_train_step(nf_flow *f, nf_adam *opt, const nf_tensor *x, const nf_tensor *cond, nf_loss_stats *st) {
    NF_CHECK_NULL(opt);
    NF_TRY(nf_flow_gradient(f, x, cond, NF_REBUILD_TOL_DEFAULT, st, NULL));
    return nf_adam_step(opt, &f->params);
}

nf_status nf_flow_eval(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_loss_stats *st) {
    NF_TRY(check(__func__, f, x));
    NF_CHECK_NULL(st);
    NF_TRY(nf_flow_scratch_reserve(f, x->n));
    nf_tensor z = latent(f, f->scratch->z, x->n);
    NF_TRY(nf_flow_forward(f, x, cond, &z, f->scratch->logdet));
    return nf_loss_nll(&z, f->scratch->logdet, NULL, NULL, st);
}

nf_status nf_flow_sample(nf_flow *f, nf_tensor *x, const nf_tensor *cond, double temperature, nf_rng *rng) {
    NF_TRY(check(__func__, f, x));
    NF_CHECK_NULL(rng);
    if (!(temperature >= 0) || !isfinite(temperature))
        return nf_fail(NF_ERR_ARG, "nf_flow_sample: temperature must be >= 0, got %g", temperature);
    NF_TRY(nf_flow_scratch_reserve(f, x->n));
    nf_tensor z = latent(f, f->scratch->z, x->n);
    nf_rng_fill_normal(rng, z.data, nf_tensor_count(&z), temperature);
    return nf_flow_inverse(f, &z, cond, x);
}

nf_status nf_clip_grad_norm(nf_params *p, double max_norm, double *norm) {
    NF_CHECK_NULL(p);
    if (!(max_norm > 0)) return nf_fail(NF_ERR_ARG, "nf_clip_grad_norm: max norm must be > 0, got %g", max_norm);
    double sq = 0;
    for (size_t i = 0; i < p->count; i++) sq += (double)p->grad[i] * p->grad[i];
    double nrm = sqrt(sq);
    if (norm) *norm = nrm;
    if (!isfinite(nrm)) return nf_fail(NF_ERR_NUMERIC, "nf_clip_grad_norm: the gradient is not finite");
    if (nrm > max_norm) {
        nf_real scale = (nf_real)(max_norm / nrm);
        for (size_t i = 0; i < p->count; i++) p->grad[i] *= scale;
    }
    return NF_OK;
}
