/* Checked calls through a flow's ops table and the parts every flow shares. */
#include "flow_internal.h"

#include <math.h>
#include <string.h>

static nf_status check_data(const char *fn, const nf_flow *f, const nf_tensor *x, const char *what) {
    if (!x) return nf_fail(NF_ERR_ARG, "%s(%s): %s is NULL", fn, f->ops->name, what);
    if (!x->data) return nf_fail(NF_ERR_ARG, "%s(%s): %s has no data", fn, f->ops->name, what);
    nf_shape s = f->in;
    if (x->n <= 0 || x->c != s.c || x->d != s.d || x->h != s.h || x->w != s.w)
        return nf_fail(NF_ERR_SHAPE, "%s(%s): %s is (%d, %d, %d, %d, %d), the flow takes (n, %d, %d, %d, %d)", fn,
                       f->ops->name, what, x->n, x->c, x->d, x->h, x->w, s.c, s.d, s.h, s.w);
    return NF_OK;
}

static nf_status check_latent(const char *fn, const nf_flow *f, const nf_tensor *z, int n, const char *what) {
    if (!z) return nf_fail(NF_ERR_ARG, "%s(%s): %s is NULL", fn, f->ops->name, what);
    if (!z->data) return nf_fail(NF_ERR_ARG, "%s(%s): %s has no data", fn, f->ops->name, what);
    size_t want = nf_shape_sample_count(f->in);
    if (z->n != n || z->n <= 0 || nf_tensor_sample_count(z) != want)
        return nf_fail(NF_ERR_SHAPE, "%s(%s): %s has %d samples of %zu values, expected %d of %zu", fn,
                       f->ops->name, what, z->n, nf_tensor_sample_count(z), n, want);
    return NF_OK;
}

/* cond against the flow's condition shape: required (n samples) exactly when the flow
 * is conditional. */
static nf_status check_cond(const char *fn, const nf_flow *f, const nf_tensor *cond, int n) {
    if (!nf_flow_is_conditional(f)) {
        if (cond) return nf_fail(NF_ERR_ARG, "%s(%s): the flow is unconditional but was given a condition", fn, f->ops->name);
        return NF_OK;
    }
    size_t want = nf_shape_sample_count(f->cond);
    if (!cond || !cond->data)
        return nf_fail(NF_ERR_ARG, "%s(%s): the flow is conditional and needs a condition of %zu values per sample", fn,
                       f->ops->name, want);
    if (cond->n != n || nf_tensor_sample_count(cond) != want)
        return nf_fail(NF_ERR_SHAPE, "%s(%s): the condition has %d samples of %zu values, expected %d of %zu", fn,
                       f->ops->name, cond->n, nf_tensor_sample_count(cond), n, want);
    return NF_OK;
}

int nf_flow_is_conditional(const nf_flow *f) { return f && f->cond.c > 0; }

nf_status nf_flow_forward(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet) {
    if (!f || !f->ops) return nf_fail(NF_ERR_ARG, "nf_flow_forward: flow is NULL");
    NF_TRY(check_data(__func__, f, x, "x"));
    NF_TRY(check_latent(__func__, f, z, x->n, "z"));
    NF_TRY(check_cond(__func__, f, cond, x->n));
    if (!logdet) return nf_fail(NF_ERR_ARG, "nf_flow_forward(%s): logdet is NULL", f->ops->name);
    return f->ops->forward(f, x, cond, z, logdet);
}

nf_status nf_flow_inverse(nf_flow *f, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x) {
    if (!f || !f->ops) return nf_fail(NF_ERR_ARG, "nf_flow_inverse: flow is NULL");
    NF_TRY(check_data(__func__, f, x, "x"));
    NF_TRY(check_latent(__func__, f, z, x->n, "z"));
    NF_TRY(check_cond(__func__, f, cond, x->n));
    return f->ops->inverse(f, z, cond, x);
}

nf_status nf_flow_backward(nf_flow *f, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond,
                           double dlogdet, nf_tensor *x, nf_tensor *dx) {
    if (!f || !f->ops) return nf_fail(NF_ERR_ARG, "nf_flow_backward: flow is NULL");
    if (!z) return nf_fail(NF_ERR_ARG, "nf_flow_backward(%s): z is NULL", f->ops->name);
    NF_TRY(check_latent(__func__, f, z, z->n, "z"));
    NF_TRY(check_latent(__func__, f, dz, z->n, "dz"));
    NF_TRY(check_cond(__func__, f, cond, z->n));
    if (x) NF_TRY(check_data(__func__, f, x, "x"));
    if (dx) NF_TRY(check_data(__func__, f, dx, "dx"));
    if ((x && x->n != z->n) || (dx && dx->n != z->n))
        return nf_fail(NF_ERR_SHAPE, "nf_flow_backward(%s): x/dx batch differs from z's %d", f->ops->name, z->n);
    return f->ops->backward(f, z, dz, cond, dlogdet, x, dx);
}

nf_status nf_flow_set_store_activations(nf_flow *f, int on) {
    if (!f || !f->ops) return nf_fail(NF_ERR_ARG, "nf_flow_set_store_activations: flow is NULL");
    if (!f->ops->set_store_activations)
        return nf_fail(NF_ERR_STATE, "nf_flow_set_store_activations: %s flows have no store mode", f->ops->name);
    nf_free(f->layer_rebuild);
    f->layer_rebuild = NULL;
    if (on && f->nlayers > 0) {
        f->layer_rebuild = nf_calloc((size_t)f->nlayers, sizeof(double));
        if (!f->layer_rebuild) return nf_fail(NF_ERR_NOMEM, "nf_flow_set_store_activations: out of memory");
    }
    return f->ops->set_store_activations(f, on);
}

void nf_flow_set_sum(nf_flow *f, nf_sum_fn fn, void *user) {
    if (!f) return;
    f->sum = fn;
    f->sum_user = fn ? user : NULL;
}

void nf_flow_set_grads_ready(nf_flow *f, nf_grads_ready_fn fn, void *user) {
    if (!f) return;
    f->grads_ready = fn;
    f->grads_ready_user = fn ? user : NULL;
}

void nf_flow_grads_ready(nf_flow *f, int layer) {
    if (!f->grads_ready) return;
    size_t lo = f->params.count;
    for (int i = layer; i < f->nlayers; i++)
        if (f->layers[i]->nparams > 0) { /* the first layer from `layer` on that has any */
            lo = (size_t)(f->layers[i]->param - f->params.value);
            break;
        }
    f->grads_ready(f->grads_ready_user, lo);
}

void nf_flow_destroy(nf_flow *f) {
    if (f && f->ops && f->ops->destroy) f->ops->destroy(f);
}

size_t nf_flow_num_params(const nf_flow *f) { return f ? f->params.count : 0; }

void nf_flow_zero_grad(nf_flow *f) {
    if (f) nf_params_zero_grad(&f->params);
}

void nf_flow_error_sums(const nf_real *x, const nf_real *ref, size_t cnt, double sums[2]) {
    double num = 0, den = 0;
    for (size_t k = 0; k < cnt; k++) {
        double d = (double)x[k] - ref[k];
        num += d * d;
        den += (double)ref[k] * ref[k];
    }
    sums[0] += num;
    sums[1] += den;
}

double nf_flow_error_of_sums(const double sums[2]) { return sqrt(sums[0]) / (sqrt(sums[1]) + 1e-30); }

double nf_flow_relative_error(const nf_real *x, const nf_real *stored, size_t cnt) {
    double sums[2] = {0, 0};
    nf_flow_error_sums(x, stored, cnt, sums);
    return nf_flow_error_of_sums(sums);
}

void nf_flow_note_rebuild(nf_flow *f, int layer, const nf_real *x, const nf_real *stored, size_t cnt) {
    if (f->layer_rebuild) f->layer_rebuild[layer] = nf_flow_relative_error(x, stored, cnt);
}

void nf_flow_note_drift(nf_flow *f, int layer, double drift) {
    /* NaN counts as the worst and, once seen, stays (the first layer that produced it). */
    if (f->drift_layer < 0 || (!isnan(f->drift) && !(drift <= f->drift))) {
        f->drift = drift;
        f->drift_layer = layer;
    }
}

void nf_flow_restore_input(nf_flow *f, int layer, nf_real *x, const nf_real *stored, size_t cnt) {
    nf_flow_note_drift(f, layer, nf_flow_relative_error(x, stored, cnt));
    memcpy(x, stored, cnt * sizeof(nf_real));
}

void nf_flow_drift_reset(nf_flow *f) {
    f->drift = 0;
    f->drift_layer = -1;
}

static void scratch_free(nf_flow *f) {
    struct nf_flow_scratch *t = f->scratch;
    if (!t) return;
    nf_free(t->z);
    nf_free(t->dz);
    nf_free(t->xr);
    nf_free(t->logdet);
    nf_free(t->frozen);
    nf_free(t);
    f->scratch = NULL;
}

nf_status nf_flow_scratch_reserve(nf_flow *f, int n) {
    if (!f->scratch) {
        f->scratch = nf_calloc(1, sizeof *f->scratch);
        if (!f->scratch) return nf_fail(NF_ERR_NOMEM, "%s flow: out of memory", f->ops->name);
    }
    struct nf_flow_scratch *t = f->scratch;
    if (n <= t->cap) return NF_OK;
    size_t D = nf_shape_sample_count(f->in);
    nf_free(t->z);
    nf_free(t->dz);
    nf_free(t->xr);
    nf_free(t->logdet);
    t->z = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    t->dz = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    t->xr = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    t->logdet = nf_alloc(sizeof(double) * (size_t)n);
    t->cap = (t->z && t->dz && t->xr && t->logdet) ? n : 0;
    if (!t->cap) return nf_fail(NF_ERR_NOMEM, "%s flow: out of memory for a batch of %d", f->ops->name, n);
    return NF_OK;
}

void nf_flow_base_free(nf_flow *f) {
    for (int i = 0; i < f->nlayers; i++) nf_layer_destroy(f->layers[i]);
    nf_free(f->layers);
    f->layers = NULL;
    f->nlayers = 0;
    nf_params_free(&f->params);
    nf_free(f->layer_rebuild);
    f->layer_rebuild = NULL;
    scratch_free(f);
    nf_free(f->data);
    f->data = NULL;
}

nf_status nf_flow_set_data_identity(nf_flow *f, const nf_data_identity *id) {
    NF_CHECK_NULL(f);
    if (!id) {
        nf_free(f->data);
        f->data = NULL;
        return NF_OK;
    }
    if (!f->data && !(f->data = nf_alloc(sizeof *f->data)))
        return nf_fail(NF_ERR_NOMEM, "nf_flow_set_data_identity: out of memory");
    *f->data = *id;
    f->data->source[sizeof f->data->source - 1] = '\0';
    f->data->dtype[sizeof f->data->dtype - 1] = '\0';
    return NF_OK;
}

const nf_data_identity *nf_flow_data_identity(const nf_flow *f) { return f ? f->data : NULL; }
