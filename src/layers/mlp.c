/* MLP sub-networks over the dense kernels (see mlp.h). */
#include "mlp.h"

#include "kernels/dense.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

nf_mlp_spec nf_mlp_spec_uniform(int width, int depth, nf_activation act) {
    nf_mlp_spec s = {.nhidden = depth, .act = act};
    for (int i = 0; i < depth && i < NF_MLP_MAX_HIDDEN; i++) s.hidden[i] = width;
    return s;
}

const char *nf_activation_name(nf_activation act) {
    switch (act) {
    case NF_ACT_IDENTITY: return "identity";
    case NF_ACT_RELU: return "relu";
    case NF_ACT_LEAKY_RELU: return "leakyrelu";
    case NF_ACT_TANH: return "tanh";
    }
    return NULL;
}

nf_status nf_mlp_setup(nf_mlp *m, const char *who, int in, nf_mlp_spec spec, int out) {
    memset(m, 0, sizeof *m);
    if (spec.nhidden < 0 || spec.nhidden > NF_MLP_MAX_HIDDEN)
        return nf_fail(NF_ERR_ARG, "%s: the sub-network has %d hidden layers, allowed 0..%d", who, spec.nhidden,
                       NF_MLP_MAX_HIDDEN);
    if (!nf_activation_name(spec.act)) return nf_fail(NF_ERR_ARG, "%s: unknown activation %d", who, (int)spec.act);
    if (in <= 0 || out <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: sub-network maps %d -> %d values (both must be > 0)", who, in, out);
    for (int i = 0; i < spec.nhidden; i++)
        if (spec.hidden[i] <= 0 || spec.hidden[i] > 1 << 20)
            return nf_fail(NF_ERR_ARG, "%s: hidden layer %d has width %d (must be 1..%d)", who, i, spec.hidden[i],
                           1 << 20);
    m->nlin = spec.nhidden + 1;
    m->size[0] = in;
    for (int i = 0; i < spec.nhidden; i++) m->size[i + 1] = spec.hidden[i];
    m->size[m->nlin] = out;
    m->act = spec.act;
    return NF_OK;
}

static size_t layer_params(const nf_mlp *m, int j) { return (size_t)m->size[j + 1] * (m->size[j] + 1); }

size_t nf_mlp_nparams(const nf_mlp *m) {
    size_t cnt = 0;
    for (int j = 0; j < m->nlin; j++) cnt += layer_params(m, j);
    return cnt;
}

void nf_mlp_init(const nf_mlp *m, nf_real *param, nf_rng *rng, int zero_last) {
    for (int j = 0; j < m->nlin; j++) {
        size_t cnt = layer_params(m, j);
        double bound = 1.0 / sqrt((double)m->size[j]);
        int zero = zero_last && j == m->nlin - 1;
        for (size_t i = 0; i < cnt; i++) param[i] = zero ? 0 : (nf_real)(bound * (2 * nf_rng_uniform(rng) - 1));
        param += cnt;
    }
}

static int max_width(const nf_mlp *m) {
    int w = 0;
    for (int j = 0; j <= m->nlin; j++) w = m->size[j] > w ? m->size[j] : w;
    return w;
}

static int has_mask(const nf_mlp *m) {
    for (int j = 0; j < m->nlin; j++)
        if (m->mask[j]) return 1;
    return 0;
}

static size_t max_weights(const nf_mlp *m) {
    size_t w = 0;
    for (int j = 0; j < m->nlin; j++) {
        size_t c = (size_t)m->size[j + 1] * m->size[j];
        w = c > w ? c : w;
    }
    return w;
}

size_t nf_mlp_acts_count(const nf_mlp *m, int n) {
    size_t cnt = 0;
    for (int j = 1; j <= m->nlin; j++) cnt += (size_t)n * m->size[j];
    return cnt;
}

size_t nf_mlp_scratch_count(const nf_mlp *m, int n) {
    /* two gradient buffers (n, widest); masked weights and their gradient */
    return 2 * (size_t)n * max_width(m) + (has_mask(m) ? 2 * max_weights(m) : 0);
}

/* The weights dense layer j uses: W_j, or W_j * M_j written into wbuf. */
static const nf_real *weights(const nf_mlp *m, int j, const nf_real *W, nf_real *wbuf) {
    if (!m->mask[j]) return W;
    size_t cnt = (size_t)m->size[j + 1] * m->size[j];
    for (size_t i = 0; i < cnt; i++) wbuf[i] = W[i] * m->mask[j][i];
    return wbuf;
}

nf_real *nf_mlp_forward(const nf_mlp *m, const nf_real *param, const nf_real *x, int n, nf_real *acts,
                        nf_real *scratch) {
    nf_real *wbuf = scratch + 2 * (size_t)n * max_width(m);
    const nf_real *in = x;
    nf_real *out = acts;
    for (int j = 0; j < m->nlin; j++) {
        int k = m->size[j], o = m->size[j + 1];
        const nf_real *W = param, *b = param + (size_t)o * k;
        nf_dense_forward(out, in, weights(m, j, W, wbuf), b, n, k, o);
        if (j < m->nlin - 1) nf_act_forward(out, (size_t)n * o, m->act);
        param += layer_params(m, j);
        in = out;
        out += (size_t)n * o;
    }
    return (nf_real *)in;
}

void nf_mlp_backward(const nf_mlp *m, const nf_real *param, nf_real *grad, const nf_real *x, int n,
                     const nf_real *acts, const nf_real *dout, nf_real *dx, nf_real *scratch) {
    size_t wide = (size_t)n * max_width(m);
    nf_real *buf[2] = {scratch, scratch + wide};
    nf_real *wbuf = scratch + 2 * wide, *gbuf = wbuf + max_weights(m);
    /* where each dense layer's parameters and output activations start */
    size_t poff[NF_MLP_MAX_LINEAR], aoff[NF_MLP_MAX_LINEAR];
    size_t p = 0, a = 0;
    for (int j = 0; j < m->nlin; j++) {
        poff[j] = p;
        p += layer_params(m, j);
        aoff[j] = a;
        a += (size_t)n * m->size[j + 1];
    }
    const nf_real *d = dout;
    for (int j = m->nlin - 1; j >= 0; j--) {
        int k = m->size[j], o = m->size[j + 1];
        const nf_real *in = j == 0 ? x : acts + aoff[j - 1];
        const nf_real *W = param + poff[j];
        if (grad) {
            nf_real *dW = grad + poff[j], *db = dW + (size_t)o * k;
            if (m->mask[j]) {
                /* dloss/dW = (dout^T in) * M: masked entries keep a zero gradient */
                size_t cnt = (size_t)o * k;
                memset(gbuf, 0, cnt * sizeof(nf_real));
                nf_dense_backward_weights(gbuf, db, d, in, n, k, o);
                for (size_t i = 0; i < cnt; i++) dW[i] += gbuf[i] * m->mask[j][i];
            } else {
                nf_dense_backward_weights(dW, db, d, in, n, k, o);
            }
        }
        if (j == 0) {
            if (dx) nf_dense_backward_data(dx, d, weights(m, j, W, wbuf), n, k, o, 1);
            break;
        }
        nf_real *dn = buf[j & 1];
        nf_dense_backward_data(dn, d, weights(m, j, W, wbuf), n, k, o, 0);
        nf_act_backward(dn, in, (size_t)n * k, m->act); /* in = act(pre-activation) */
        d = dn;
    }
}

void nf_mlp_spec_format(nf_mlp_spec spec, char *buf, size_t size) {
    if (size == 0) return;
    buf[0] = 0;
    if (spec.nhidden <= 0) {
        snprintf(buf, size, "none");
        return;
    }
    int same = 1;
    for (int i = 1; i < spec.nhidden; i++) same &= spec.hidden[i] == spec.hidden[0];
    if (same) {
        snprintf(buf, size, "%dx%d", spec.hidden[0], spec.nhidden);
        return;
    }
    size_t used = 0;
    for (int i = 0; i < spec.nhidden && used < size; i++) {
        int w = snprintf(buf + used, size - used, i ? "-%d" : "%d", spec.hidden[i]);
        if (w < 0) return;
        used += (size_t)w;
    }
}
