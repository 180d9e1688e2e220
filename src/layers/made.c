/* MADE masks and the autoregressive affine map (see made.h). */
#include "made.h"

#include "vec_layer.h"

#include <math.h>
#include <string.h>

/* Degree of hidden unit k. */
static int hidden_degree(int D, int k) { return D > 1 ? k % (D - 1) : 0; }

nf_status nf_made_setup(nf_made *m, const char *who, int D, nf_mlp_spec spec, int reverse) {
    memset(m, 0, sizeof *m);
    m->D = D, m->reverse = reverse != 0;
    NF_TRY(nf_mlp_setup(&m->net, who, D, spec, 2 * D));
    size_t total = 0;
    for (int j = 0; j < m->net.nlin; j++) total += (size_t)m->net.size[j] * m->net.size[j + 1];
    m->masks = nf_alloc(total * sizeof(nf_real));
    if (!m->masks) return nf_fail(NF_ERR_NOMEM, "%s: out of memory for the MADE masks", who);
    nf_real *mk = m->masks;
    for (int j = 0; j < m->net.nlin; j++) {
        int in = m->net.size[j], out = m->net.size[j + 1], last = j == m->net.nlin - 1;
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                int din = j == 0 ? nf_made_degree(m, i) : hidden_degree(D, i);
                int connect = last ? din < nf_made_degree(m, o % D) : din <= hidden_degree(D, o);
                mk[(size_t)o * in + i] = (nf_real)connect;
            }
        m->net.mask[j] = mk;
        mk += (size_t)in * out;
    }
    return NF_OK;
}

void nf_made_free(nf_made *m) {
    nf_free(m->masks);
    m->masks = NULL;
}

size_t nf_made_work_bytes(const nf_made *m, int n) {
    return nf_work_bytes(nf_mlp_acts_count(&m->net, n)) + nf_work_bytes(nf_mlp_scratch_count(&m->net, n)) +
           nf_work_bytes(2 * (size_t)n * m->D) + 3 * nf_work_bytes((size_t)n * m->D);
}

nf_made_work nf_made_take(const nf_made *m, nf_ctx *ctx, int n) {
    size_t off = 0;
    nf_made_work w;
    w.acts = nf_ctx_take(ctx, &off, nf_mlp_acts_count(&m->net, n));
    w.scratch = nf_ctx_take(ctx, &off, nf_mlp_scratch_count(&m->net, n));
    w.dst = nf_ctx_take(ctx, &off, 2 * (size_t)n * m->D);
    w.a = nf_ctx_take(ctx, &off, (size_t)n * m->D);
    w.g = nf_ctx_take(ctx, &off, (size_t)n * m->D);
    w.x = nf_ctx_take(ctx, &off, (size_t)n * m->D);
    return w;
}

static void add_logdet(const nf_made *m, const nf_real *st, int n, double *logdet, double sign) {
    if (!logdet) return;
    for (int b = 0; b < n; b++) {
        double acc = 0;
        for (int i = 0; i < m->D; i++) acc += st[(size_t)b * 2 * m->D + i];
        logdet[b] += sign * acc;
    }
}

const nf_real *nf_made_apply(const nf_made *m, const nf_real *param, const nf_real *u, nf_real *v, int n,
                             double *logdet, double sign, nf_made_work *w) {
    int D = m->D;
    const nf_real *st = nf_mlp_forward(&m->net, param, u, n, w->acts, w->scratch);
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < n; b++)
        for (int i = 0; i < D; i++) {
            const nf_real *r = st + (size_t)b * 2 * D;
            v[(size_t)b * D + i] = u[(size_t)b * D + i] * (nf_real)exp(r[i]) + r[D + i];
        }
    add_logdet(m, st, n, logdet, sign);
    return st;
}

const nf_real *nf_made_solve(const nf_made *m, const nf_real *param, const nf_real *v, nf_real *u, int n,
                             double *logdet, double sign, nf_made_work *w) {
    int D = m->D;
    memset(u, 0, (size_t)n * D * sizeof(nf_real));
    const nf_real *st = NULL;
    for (int k = 0; k < D; k++) {
        int i = m->reverse ? D - 1 - k : k; /* the input of degree k */
        st = nf_mlp_forward(&m->net, param, u, n, w->acts, w->scratch);
        for (int b = 0; b < n; b++) {
            const nf_real *r = st + (size_t)b * 2 * D;
            u[(size_t)b * D + i] = (v[(size_t)b * D + i] - r[D + i]) * (nf_real)exp(-r[i]);
        }
    }
    add_logdet(m, st, n, logdet, sign);
    return st;
}

/* ---------------------------------------------------------------- the MAF/IAF layer */

nf_status nf_ar_layer_new(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, const nf_layer_ops *ops,
                          const char *who) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (parity != 0 && parity != 1) return nf_fail(NF_ERR_ARG, "%s: parity must be 0 or 1, got %d", who, parity);
    NF_TRY(nf_vec_layer_new(out, sizeof(nf_ar_layer), ops, in, 0, who));
    nf_ar_layer *a = (nf_ar_layer *)*out;
    a->parity = parity;
    a->spec = net;
    nf_status s = nf_made_setup(&a->made, who, nf_vec_dim(*out), net, parity);
    if (s != NF_OK) {
        nf_ar_layer_destroy(*out);
        *out = NULL;
        return s;
    }
    a->base.nparams = nf_mlp_nparams(&a->made.net);
    return NF_OK;
}

size_t nf_ar_layer_workspace(const nf_layer *l, nf_shape in) {
    return nf_made_work_bytes(&((const nf_ar_layer *)l)->made, in.n);
}

/* The last layer starts at zero: s = t = 0, the identity. */
void nf_ar_layer_init_params(nf_layer *l, nf_rng *rng) { nf_mlp_init(&((nf_ar_layer *)l)->made.net, l->param, rng, 1); }

int nf_ar_layer_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("made", 0, l->nparams, 0);
    return nf_vec_blocks(&b, 1, out, max);
}

void nf_ar_layer_destroy(nf_layer *l) {
    nf_made_free(&((nf_ar_layer *)l)->made);
    nf_free(l);
}
