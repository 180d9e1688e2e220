/* nf_sequential: a prior and a sequence of any layers, as an nf_flow (ADCME's
 * NormalizingFlowModel). The passes keep one working tensor and one gradient tensor
 * of the input's size; backward walks the layers in reverse, each rebuilding its
 * input, so activation memory does not depend on the number of layers.
 * A diagonal-Gaussian prior N(mu, diag sigma^2) is folded into the flow as a final
 * affine layer z' = (z - mu) / sigma (learned), after which the latent is N(0, I):
 * the trainer, sampling and the loss then need no knowledge of the prior.
 * A conditional flow (nf_sequential_set_condition) models p(x | y): every pass gets y,
 * turns it into the S features its conditional layers take (a summary network, which
 * is then the first layer, or y itself) and hands them to every layer as ctx.cond; the
 * backward collects dloss/ds from the layers in ctx.dcond and backpropagates it into
 * the summary network. y is an input of every pass, never rebuilt. */
#include "sequential.h"

#include "layers/vec_layer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct seq_model {
    nf_flow base;
    nf_prior_kind prior;
    int built;
    int has_prior_layer; /* the last layer is the diagonal prior */
    int cap_layers;
    char **labels;       /* (nlayers) names in the diagram */
    nf_shape *out;       /* (nlayers) per-sample output shape of each layer */
    char *spec;          /* canonical spec, or NULL when built by hand */
    int cap;             /* samples the buffers hold */
    nf_real *work;       /* (cap, D) the tensor being transformed */
    nf_real *grad;       /* (cap, D) its gradient */
    nf_ctx ctx;
    int store, store_n;
    nf_real *stored;     /* (nlayers, store_n, D) layer inputs in store mode */
    int features;        /* conditional: S, the condition's values the layers take; 0: none */
    nf_real *cs, *dcs;   /* summary network: (cap, S) its output and dloss/d(output) */
    nf_tensor cs_view, dcs_view; /* what ctx.cond / ctx.dcond point at during a pass */
} seq_model;

static const nf_flow_ops model_ops;

int nf_flow_is_sequential(const nf_flow *f) { return f && f->ops == &model_ops; }

static size_t sample_size(const seq_model *m) { return nf_shape_sample_count(m->base.in); }

static nf_shape shape_before(const seq_model *m, int i) { return i == 0 ? m->base.in : m->out[i - 1]; }

nf_shape nf_sequential_current_shape(const nf_flow *f) {
    const seq_model *m = (const seq_model *)f;
    return shape_before(m, m->base.nlayers);
}

static nf_tensor view(nf_real *data, int n, nf_shape s) { return nf_tensor_view(data, n, s.c, s.d, s.h, s.w); }

static nf_layer *summary_of(const seq_model *m);

/* ---------------------------------------------------------------- buffers */

static void free_buffers(seq_model *m) {
    nf_free(m->work);
    nf_free(m->grad);
    nf_free(m->stored);
    nf_free(m->cs);
    nf_free(m->dcs);
    m->work = m->grad = m->stored = m->cs = m->dcs = NULL;
    m->cap = m->store_n = 0;
}

static nf_status reserve(seq_model *m, int n) {
    if (n <= m->cap) return NF_OK;
    size_t D = sample_size(m), ws = 0;
    for (int i = 0; i < m->base.nlayers; i++) {
        nf_shape in = shape_before(m, i);
        in.n = n;
        size_t w = nf_layer_workspace(m->base.layers[i], in);
        ws = w > ws ? w : ws;
    }
    free_buffers(m);
    m->work = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    m->grad = nf_alloc(sizeof(nf_real) * D * (size_t)n);
    m->cap = (m->work && m->grad) ? n : 0;
    if (summary_of(m)) {
        m->cs = nf_alloc(sizeof(nf_real) * (size_t)m->features * (size_t)n);
        m->dcs = nf_alloc(sizeof(nf_real) * (size_t)m->features * (size_t)n);
        if (!m->cs || !m->dcs) m->cap = 0;
    }
    if (!m->cap || nf_ctx_reserve(&m->ctx, ws) != NF_OK)
        return nf_fail(NF_ERR_NOMEM, "model: out of memory for a batch of %d", n);
    return NF_OK;
}

/* The summary network (the first layer), or NULL. */
static nf_layer *summary_of(const seq_model *m) {
    nf_layer *l = m->base.nlayers ? m->base.layers[0] : NULL;
    return l && l->ops->cond_forward ? l : NULL;
}

/* y (n, f->cond) as one row of values per sample. */
static nf_tensor cond_rows(const seq_model *m, const nf_tensor *cond) {
    return nf_tensor_view(cond->data, cond->n, (int)nf_shape_sample_count(m->base.cond), 1, 1, 1);
}

/* Before a pass: ctx.cond = the S features of cond for the layers (the summary network's
 * output, or y itself), NULL for an unconditional flow. */
static nf_status condition_in(seq_model *m, const nf_tensor *cond) {
    m->ctx.cond = NULL;
    m->ctx.dcond = NULL;
    if (!cond) return NF_OK;
    nf_layer *sm = summary_of(m);
    nf_tensor y = cond_rows(m, cond);
    m->cs_view = nf_tensor_view(sm ? m->cs : y.data, y.n, m->features, 1, 1, 1);
    if (sm) NF_TRY(sm->ops->cond_forward(sm, &y, &m->cs_view, &m->ctx));
    m->ctx.cond = &m->cs_view;
    return NF_OK;
}

static nf_status check_built(const seq_model *m, const char *what) {
    if (!m->built) return nf_fail(NF_ERR_STATE, "model: %s before nf_sequential_build", what);
    return NF_OK;
}

/* ---------------------------------------------------------------- passes */

static nf_status model_forward(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet) {
    seq_model *m = (seq_model *)f;
    NF_TRY(check_built(m, "forward"));
    int n = x->n;
    size_t cnt = (size_t)n * sample_size(m);
    NF_TRY(reserve(m, n));
    m->ctx.sum = f->sum, m->ctx.sum_user = f->sum_user;
    if (m->store && m->store_n != n) {
        nf_free(m->stored);
        m->stored = nf_alloc(sizeof(nf_real) * cnt * (size_t)(f->nlayers ? f->nlayers : 1));
        m->store_n = m->stored ? n : 0;
        if (!m->stored) return nf_fail(NF_ERR_NOMEM, "model: out of memory in store mode (%d layers)", f->nlayers);
    }
    NF_TRY(condition_in(m, cond));
    memcpy(m->work, x->data, cnt * sizeof(nf_real));
    memset(logdet, 0, sizeof(double) * (size_t)n);
    nf_tensor h = view(m->work, n, f->in);
    for (int i = 0; i < f->nlayers; i++) {
        if (m->store) memcpy(m->stored + (size_t)i * cnt, m->work, cnt * sizeof(nf_real));
        NF_TRY(nf_layer_forward(f->layers[i], &h, logdet, &m->ctx));
    }
    memcpy(z->data, m->work, cnt * sizeof(nf_real));
    return NF_OK;
}

static nf_status model_inverse(nf_flow *f, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x) {
    seq_model *m = (seq_model *)f;
    NF_TRY(check_built(m, "inverse"));
    int n = z->n;
    size_t cnt = (size_t)n * sample_size(m);
    NF_TRY(reserve(m, n));
    NF_TRY(condition_in(m, cond));
    memcpy(m->work, z->data, cnt * sizeof(nf_real));
    nf_tensor h = view(m->work, n, nf_sequential_current_shape(f));
    for (int i = f->nlayers - 1; i >= 0; i--) {
        NF_TRY(nf_layer_inverse(f->layers[i], &h, &m->ctx));
        if (m->store && m->store_n == n) nf_flow_note_rebuild(f, i, m->work, m->stored + (size_t)i * cnt, cnt);
    }
    memcpy(x->data, m->work, cnt * sizeof(nf_real));
    return NF_OK;
}

static nf_status model_backward(nf_flow *f, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond,
                                double dlogdet, nf_tensor *x, nf_tensor *dx) {
    seq_model *m = (seq_model *)f;
    NF_TRY(check_built(m, "backward"));
    int n = z->n;
    size_t cnt = (size_t)n * sample_size(m);
    NF_TRY(reserve(m, n));
    if (m->store && m->store_n != n)
        return nf_fail(NF_ERR_STATE, "model: store mode backward needs a forward of the same batch first");
    NF_TRY(condition_in(m, cond));
    nf_layer *sm = cond ? summary_of(m) : NULL;
    if (sm) {
        m->dcs_view = nf_tensor_view(m->dcs, n, m->features, 1, 1, 1);
        memset(m->dcs, 0, sizeof(nf_real) * (size_t)n * m->features);
        m->ctx.dcond = &m->dcs_view;
    }
    memcpy(m->work, z->data, cnt * sizeof(nf_real));
    memcpy(m->grad, dz->data, cnt * sizeof(nf_real));
    m->ctx.dlogdet = dlogdet;
    nf_flow_drift_reset(f);
    nf_shape top = nf_sequential_current_shape(f);
    nf_tensor h = view(m->work, n, top), dh = view(m->grad, n, top);
    for (int i = f->nlayers - 1; i >= 0; i--) {
        NF_TRY(nf_layer_backward(f->layers[i], &h, &dh, &m->ctx));
        if (m->store) nf_flow_restore_input(f, i, m->work, m->stored + (size_t)i * cnt, cnt);
        if (!(i == 0 && sm)) nf_flow_grads_ready(f, i); /* the summary's are final only below */
    }
    if (sm) {
        nf_tensor y = cond_rows(m, cond);
        NF_TRY(sm->ops->cond_backward(sm, &y, &m->dcs_view, &m->ctx));
        nf_flow_grads_ready(f, 0);
    }
    if (x) memcpy(x->data, m->work, cnt * sizeof(nf_real));
    if (dx) memcpy(dx->data, m->grad, cnt * sizeof(nf_real));
    return NF_OK;
}

static nf_status model_set_store(nf_flow *f, int on) {
    seq_model *m = (seq_model *)f;
    m->store = on != 0;
    nf_free(m->stored);
    m->stored = NULL;
    m->store_n = 0;
    return NF_OK;
}

static void model_destroy(nf_flow *f) {
    seq_model *m = (seq_model *)f;
    for (int i = 0; i < f->nlayers; i++) nf_free(m->labels[i]);
    nf_free(m->labels);
    nf_free(m->out);
    nf_free(m->spec);
    free_buffers(m);
    nf_ctx_free(&m->ctx);
    nf_flow_base_free(f);
    nf_free(m);
}

static const nf_flow_ops model_ops = {
    .name = "sequential",
    .forward = model_forward,
    .inverse = model_inverse,
    .backward = model_backward,
    .set_store_activations = model_set_store,
    .destroy = model_destroy,
};

/* ---------------------------------------------------------------- construction */

static nf_status as_model(nf_flow *f, const char *fn, seq_model **m) {
    if (!nf_flow_is_sequential(f)) return nf_fail(NF_ERR_ARG, "%s: not a sequential model (nf_sequential_create)", fn);
    *m = (seq_model *)f;
    return NF_OK;
}

nf_status nf_sequential_create(nf_flow **out, nf_shape in, nf_prior_kind prior) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (in.c <= 0 || in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "nf_sequential_create: sample shape (%d, %d, %d, %d) has a non-positive size", in.c,
                       in.d, in.h, in.w);
    if (prior != NF_PRIOR_STANDARD && prior != NF_PRIOR_DIAGONAL)
        return nf_fail(NF_ERR_ARG, "nf_sequential_create: unknown prior %d (NF_PRIOR_STANDARD or NF_PRIOR_DIAGONAL)",
                       (int)prior);
    seq_model *m = nf_calloc(1, sizeof *m);
    if (!m) return nf_fail(NF_ERR_NOMEM, "nf_sequential_create: out of memory");
    m->base.ops = &model_ops;
    in.n = 1;
    m->base.in = in;
    m->prior = prior;
    *out = &m->base;
    return NF_OK;
}

/* A summary network only first in a conditional flow; conditional layers only in one,
 * taking its S features. */
static nf_status check_condition(const seq_model *m, const nf_layer *layer) {
    const nf_flow *f = &m->base;
    if (layer->ops->cond_forward) {
        if (!nf_flow_is_conditional(f))
            return nf_fail(NF_ERR_ARG, "nf_sequential_add: a %s network needs a conditional flow "
                           "(nf_sequential_set_condition first)", layer->ops->name);
        if (f->nlayers)
            return nf_fail(NF_ERR_ARG, "nf_sequential_add: the %s network must be the first layer, not layer %d",
                           layer->ops->name, f->nlayers);
        return NF_OK;
    }
    if (layer->cond.c <= 0) return NF_OK;
    if (!nf_flow_is_conditional(f))
        return nf_fail(NF_ERR_ARG, "nf_sequential_add: layer %d (%s) is conditional but the flow has no condition "
                       "(nf_sequential_set_condition first)", f->nlayers, layer->ops->name);
    if (nf_shape_sample_count(layer->cond) != (size_t)m->features)
        return nf_fail(NF_ERR_SHAPE, "nf_sequential_add: layer %d (%s) takes %zu condition features, the flow hands "
                       "its layers %d", f->nlayers, layer->ops->name, nf_shape_sample_count(layer->cond), m->features);
    return NF_OK;
}

static nf_status append(seq_model *m, nf_layer *layer, const char *label) {
    nf_flow *f = &m->base;
    nf_shape cur = nf_sequential_current_shape(f), lin = layer->in, next;
    if (lin.c != cur.c || lin.d != cur.d || lin.h != cur.h || lin.w != cur.w)
        return nf_fail(NF_ERR_SHAPE, "nf_sequential_add: layer %d (%s) takes (%d, %d, %d, %d) per sample, the model "
                       "carries (%d, %d, %d, %d) there", f->nlayers, layer->ops->name, lin.c, lin.d, lin.h, lin.w,
                       cur.c, cur.d, cur.h, cur.w);
    NF_TRY(nf_layer_out_shape(layer, cur, &next));
    NF_TRY(check_condition(m, layer));
    if (f->nlayers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 16;
        nf_layer **layers = nf_calloc((size_t)cap, sizeof *layers);
        char **labels = nf_calloc((size_t)cap, sizeof *labels);
        nf_shape *outs = nf_calloc((size_t)cap, sizeof *outs);
        if (!layers || !labels || !outs) {
            nf_free(layers), nf_free(labels), nf_free(outs);
            return nf_fail(NF_ERR_NOMEM, "nf_sequential_add: out of memory for %d layers", cap);
        }
        if (f->nlayers) {
            memcpy(layers, f->layers, sizeof *layers * (size_t)f->nlayers);
            memcpy(labels, m->labels, sizeof *labels * (size_t)f->nlayers);
            memcpy(outs, m->out, sizeof *outs * (size_t)f->nlayers);
        }
        nf_free(f->layers), nf_free(m->labels), nf_free(m->out);
        f->layers = layers, m->labels = labels, m->out = outs, m->cap_layers = cap;
    }
    const char *name = label && *label ? label : layer->ops->name;
    char *copy = nf_alloc(strlen(name) + 1);
    if (!copy) return nf_fail(NF_ERR_NOMEM, "nf_sequential_add: out of memory");
    memcpy(copy, name, strlen(name) + 1);
    if (layer->ops->cond_forward) m->features = layer->ops->cond_features(layer);
    f->layers[f->nlayers] = layer;
    m->labels[f->nlayers] = copy;
    m->out[f->nlayers] = next;
    f->nlayers++;
    return NF_OK;
}

nf_status nf_sequential_add(nf_flow *f, nf_layer *layer, const char *label) {
    seq_model *m = NULL;
    nf_status s = as_model(f, __func__, &m);
    if (s == NF_OK && !layer) s = nf_fail(NF_ERR_ARG, "nf_sequential_add: layer is NULL");
    if (s == NF_OK && m->built) s = nf_fail(NF_ERR_STATE, "nf_sequential_add: the model is already built");
    if (s == NF_OK) s = append(m, layer, label);
    if (s != NF_OK) nf_layer_destroy(layer); /* the model owns the layer from the call on */
    return s;
}

nf_status nf_sequential_set_condition(nf_flow *f, nf_shape cond) {
    seq_model *m = NULL;
    NF_TRY(as_model(f, __func__, &m));
    if (m->built || f->nlayers)
        return nf_fail(NF_ERR_STATE, "nf_sequential_set_condition: only before the first layer is added");
    if (cond.c <= 0 || cond.d <= 0 || cond.h <= 0 || cond.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "nf_sequential_set_condition: condition shape (%d, %d, %d, %d) has a non-positive "
                       "size", cond.c, cond.d, cond.h, cond.w);
    cond.n = 1;
    f->cond = cond;
    m->features = (int)nf_shape_sample_count(cond);
    return NF_OK;
}

int nf_sequential_cond_features(const nf_flow *f) {
    return nf_flow_is_sequential(f) ? ((const seq_model *)f)->features : 0;
}

nf_status nf_sequential_build(nf_flow *f, uint64_t seed) {
    seq_model *m = NULL;
    NF_TRY(as_model(f, __func__, &m));
    if (m->built) return nf_fail(NF_ERR_STATE, "nf_sequential_build: the model is already built");
    if (m->prior == NF_PRIOR_DIAGONAL) {
        nf_layer *p;
        NF_TRY(nf_affine_constant_create(&p, nf_sequential_current_shape(f), 1, 1));
        NF_TRY(nf_sequential_add(f, p, "prior"));
        m->has_prior_layer = 1;
    }
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    NF_TRY(nf_params_bind(&f->params, f->layers, f->nlayers, &rng));
    m->built = 1;
    return NF_OK;
}

nf_status nf_sequential_set_training(nf_flow *f, int training) {
    seq_model *m = NULL;
    NF_TRY(as_model(f, __func__, &m));
    for (int i = 0; i < f->nlayers; i++)
        if (nf_layer_is_batchnorm(f->layers[i])) NF_TRY(nf_batchnorm_set_training(f->layers[i], training));
    return NF_OK;
}

nf_status nf_sequential_log_prob(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double *logp) {
    seq_model *m = NULL;
    NF_TRY(as_model(f, __func__, &m));
    NF_CHECK_NULL(x);
    NF_CHECK_NULL(logp);
    NF_TRY(check_built(m, "log_prob"));
    NF_TRY(reserve(m, x->n > 0 ? x->n : 1));
    size_t D = sample_size(m);
    nf_tensor z = nf_tensor_view(m->grad, x->n, (int)D, 1, 1, 1); /* the gradient buffer is free here */
    NF_TRY(nf_flow_forward(f, x, cond, &z, logp));
    for (int b = 0; b < x->n; b++) {
        double sq = 0;
        for (size_t i = 0; i < D; i++) sq += (double)z.data[(size_t)b * D + i] * z.data[(size_t)b * D + i];
        logp[b] += -0.5 * sq - 0.5 * (double)D * log(2 * M_PI);
    }
    return NF_OK;
}

nf_status nf_sequential_set_spec(nf_flow *f, const char *spec) {
    seq_model *m = (seq_model *)f;
    char *copy = nf_alloc(strlen(spec) + 1);
    if (!copy) return nf_fail(NF_ERR_NOMEM, "model: out of memory for the spec");
    memcpy(copy, spec, strlen(spec) + 1);
    nf_free(m->spec);
    m->spec = copy;
    return NF_OK;
}

const char *nf_sequential_spec(const nf_flow *f) {
    return nf_flow_is_sequential(f) && ((const seq_model *)f)->spec ? ((const seq_model *)f)->spec : NULL;
}

/* ---------------------------------------------------------------- diagram */

/* Appends printf-style text at *used, counting what does not fit. */
static void put(char *buf, size_t size, size_t *used, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*used < size ? buf + *used : NULL, *used < size ? size - *used : 0, fmt, ap);
    va_end(ap);
    if (w > 0) *used += (size_t)w;
}

nf_status nf_sequential_describe(const nf_flow *f, char *buf, size_t size, size_t *needed) {
    if (!nf_flow_is_sequential(f)) return nf_fail(NF_ERR_ARG, "nf_sequential_describe: not a sequential model");
    if (!buf && size) return nf_fail(NF_ERR_ARG, "nf_sequential_describe: buf is NULL");
    const seq_model *m = (const seq_model *)f;
    int nl = f->nlayers - m->has_prior_layer;
    size_t used = 0, total = 0;
    if (nf_flow_is_conditional(f))
        put(buf, size, &used, "( condition y: %zu values per sample; the layers take %d features of it )\n",
            nf_shape_sample_count(f->cond), m->features);
    if (m->has_prior_layer)
        put(buf, size, &used, "( diagonal Gaussian, learned mean and scale: %zu parameters )\n",
            f->layers[nl]->nparams);
    else
        put(buf, size, &used, "( standard Gaussian )\n");
    for (int i = 0; i < nl; i++) {
        put(buf, size, &used, "\xe2\x86\x93\n%s  [%zu parameters]\n", m->labels[i], f->layers[i]->nparams);
    }
    for (int i = 0; i < f->nlayers; i++) total += f->layers[i]->nparams;
    put(buf, size, &used, "%d layers, %zu parameters\n", nl, total);
    if (needed) *needed = used + 1;
    if (used + 1 > size) {
        if (size) buf[size - 1] = 0;
        return nf_fail(NF_ERR_ARG, "nf_sequential_describe: the diagram needs %zu bytes, the buffer holds %zu", used + 1,
                       size);
    }
    return NF_OK;
}
