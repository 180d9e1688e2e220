/* The training step, evaluation and sampling of any flow. */
#include "flows/flow_internal.h"
#include "threads.h"

#include <math.h>

struct nf_train_buffers {
    int cap;          /* samples the buffers hold */
    nf_real *z, *dz;  /* (cap, D) */
    double *logdet;   /* (cap) */
};

void nf_train_buffers_free(nf_flow *f) {
    if (!f->train) return;
    nf_free(f->train->z);
    nf_free(f->train->dz);
    nf_free(f->train->logdet);
    nf_free(f->train);
    f->train = NULL;
}

static nf_status reserve(nf_flow *f, int n) {
    if (!f->train) {
        f->train = nf_calloc(1, sizeof *f->train);
        if (!f->train) return nf_fail(NF_ERR_NOMEM, "trainer: out of memory");
    }
    struct nf_train_buffers *t = f->train;
    if (n <= t->cap) return NF_OK;
    size_t D = nf_shape_sample_count(f->in);
    nf_free(t->z);
    nf_free(t->dz);
    nf_free(t->logdet);
    t->z = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    t->dz = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    t->logdet = nf_alloc(sizeof(double) * (size_t)n);
    t->cap = (t->z && t->dz && t->logdet) ? n : 0;
    if (!t->cap) return nf_fail(NF_ERR_NOMEM, "trainer: out of memory for a batch of %d", n);
    return NF_OK;
}

static nf_tensor latent(nf_flow *f, nf_real *data, int n) {
    return nf_tensor_view(data, n, (int)nf_shape_sample_count(f->in), 1, 1, 1);
}

static nf_status check(const char *fn, nf_flow *f, const nf_tensor *x) {
    if (!f) return nf_fail(NF_ERR_ARG, "%s: flow is NULL", fn);
    if (!x || !x->data) return nf_fail(NF_ERR_ARG, "%s: batch is NULL", fn);
    if (x->n <= 0) return nf_fail(NF_ERR_SHAPE, "%s: empty batch", fn);
    return NF_OK;
}

nf_status nf_train_step(nf_flow *f, nf_adam *opt, const nf_tensor *x, nf_loss_stats *st) {
    NF_TRY(check(__func__, f, x));
    nf_threads_init(); /* one owner of the cores before any pool starts (threads.h) */
    NF_CHECK_NULL(opt);
    NF_TRY(reserve(f, x->n));
    nf_tensor z = latent(f, f->train->z, x->n), dz = latent(f, f->train->dz, x->n);
    nf_loss_stats s;
    double dlogdet;
    NF_TRY(nf_flow_forward(f, x, &z, f->train->logdet));
    NF_TRY(nf_loss_nll(&z, f->train->logdet, &dz, &dlogdet, &s));
    nf_flow_zero_grad(f);
    NF_TRY(nf_flow_backward(f, &z, &dz, dlogdet, NULL, NULL));
    NF_TRY(nf_adam_step(opt, &f->params));
    if (st) *st = s;
    return NF_OK;
}

nf_status nf_flow_eval(nf_flow *f, const nf_tensor *x, nf_loss_stats *st) {
    NF_TRY(check(__func__, f, x));
    NF_CHECK_NULL(st);
    NF_TRY(reserve(f, x->n));
    nf_tensor z = latent(f, f->train->z, x->n);
    NF_TRY(nf_flow_forward(f, x, &z, f->train->logdet));
    return nf_loss_nll(&z, f->train->logdet, NULL, NULL, st);
}

nf_status nf_flow_sample(nf_flow *f, nf_tensor *x, double temperature, nf_rng *rng) {
    NF_TRY(check(__func__, f, x));
    NF_CHECK_NULL(rng);
    if (!(temperature >= 0) || !isfinite(temperature))
        return nf_fail(NF_ERR_ARG, "nf_flow_sample: temperature must be >= 0, got %g", temperature);
    NF_TRY(reserve(f, x->n));
    nf_tensor z = latent(f, f->train->z, x->n);
    nf_rng_fill_normal(rng, z.data, nf_tensor_count(&z), temperature);
    return nf_flow_inverse(f, &z, x);
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
