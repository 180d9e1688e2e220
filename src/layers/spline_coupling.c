/* Rational-quadratic neural spline coupling (Durkan et al. 2019; ADCME's
 * NeuralCouplingFlow, karpathy's NSF_CL): with the alternating mask of the RealNVP
 * couplings, every transformed value xb_i goes through its own monotone spline
 * (see rq_spline.h) whose 3K-1 raw parameters an MLP computes from xa:
 *     yb_i = spline(xb_i; NN(xa)_i),   ya = xa,   logdet = sum_i log spline'(xb_i).
 * Two layers of opposite parity make karpathy's NSF_CL on 2-D data. NN's last layer
 * starts at zero, so a fresh layer is the identity. Backward runs NN once on ya = xa:
 * its output both inverts the splines and is backpropagated. The conditional kind
 * ("cond_spline") feeds NN [xa, s(y)], the S features of the condition after xa. */
#include "mlp.h"
#include "rq_spline.h"
#include "vec_layer.h"

#include <math.h>
#include <string.h>

typedef struct spline_coupling {
    nf_layer base;
    int parity, bins, da, db;
    int S;      /* condition features after xa in NN's input (0: unconditional) */
    double bound;
    nf_mlp_spec spec;
    nf_mlp net; /* da + S -> db * (3 bins - 1), per transformed value its raw (w, h, d) */
} spline_coupling;

typedef struct sc_work {
    nf_real *xa, *xb, *dxa, *dxb; /* rows [xa, s] (n, da + S), (n, db), (n, da + S), (n, db) */
    nf_real *acts, *scratch, *draw;
} sc_work;

static size_t raw_count(const spline_coupling *sc, int n) { return (size_t)n * sc->db * nf_rqs_raw_count(sc->bins); }

static size_t sc_workspace(const nf_layer *l, nf_shape in) {
    const spline_coupling *sc = (const spline_coupling *)l;
    size_t ra = (size_t)in.n * (sc->da + sc->S), rb = (size_t)in.n * sc->db;
    return 2 * (nf_work_bytes(ra) + nf_work_bytes(rb)) + nf_work_bytes(nf_mlp_acts_count(&sc->net, in.n)) +
           nf_work_bytes(nf_mlp_scratch_count(&sc->net, in.n)) + nf_work_bytes(raw_count(sc, in.n));
}

static sc_work take(const spline_coupling *sc, int n, nf_ctx *ctx) {
    size_t off = 0, ra = (size_t)n * (sc->da + sc->S), rb = (size_t)n * sc->db;
    sc_work w;
    w.xa = nf_ctx_take(ctx, &off, ra);
    w.xb = nf_ctx_take(ctx, &off, rb);
    w.dxa = nf_ctx_take(ctx, &off, ra);
    w.dxb = nf_ctx_take(ctx, &off, rb);
    w.acts = nf_ctx_take(ctx, &off, nf_mlp_acts_count(&sc->net, n));
    w.scratch = nf_ctx_take(ctx, &off, nf_mlp_scratch_count(&sc->net, n));
    w.draw = nf_ctx_take(ctx, &off, raw_count(sc, n));
    return w;
}

/* Splits t into the work halves (the condition's features after xa) and runs NN on
 * [xa, s]; returns the raw parameters. */
static const nf_real *condition(spline_coupling *sc, const nf_tensor *t, const nf_ctx *ctx, sc_work *w) {
    int lda = sc->da + sc->S;
    nf_mask_split_rows(t->data, t->n, nf_vec_dim(&sc->base), sc->parity, w->xa, lda, w->xb);
    nf_cond_put(w->xa, t->n, lda, sc->da, ctx->cond);
    return nf_mlp_forward(&sc->net, sc->base.param, w->xa, t->n, w->acts, w->scratch);
}

static nf_status sc_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) {
    spline_coupling *sc = (spline_coupling *)l;
    int n = x->n, db = sc->db, R = nf_rqs_raw_count(sc->bins);
    sc_work w = take(sc, n, ctx);
    const nf_real *raw = condition(sc, x, ctx, &w);
#pragma omp parallel for schedule(static) if ((size_t)n * db * R > NF_VEC_OMP_MIN)
    for (int b = 0; b < n; b++) {
        double ld = 0;
        for (int i = 0; i < db; i++) {
            size_t k = (size_t)b * db + i;
            double y, lg;
            nf_rqs_forward(raw + k * R, sc->bins, sc->bound, w.xb[k], &y, &lg);
            w.xb[k] = (nf_real)y;
            ld += lg;
        }
        logdet[b] += ld;
    }
    nf_mask_merge(x->data, n, nf_vec_dim(l), sc->parity, NULL, w.xb);
    return NF_OK;
}

static nf_status sc_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) {
    spline_coupling *sc = (spline_coupling *)l;
    int n = y->n, R = nf_rqs_raw_count(sc->bins);
    sc_work w = take(sc, n, ctx);
    const nf_real *raw = condition(sc, y, ctx, &w);
    size_t cnt = (size_t)n * sc->db;
#pragma omp parallel for schedule(static) if (cnt * R > NF_VEC_OMP_MIN)
    for (size_t k = 0; k < cnt; k++) w.xb[k] = (nf_real)nf_rqs_inverse(raw + k * R, sc->bins, sc->bound, w.xb[k]);
    nf_mask_merge(y->data, n, nf_vec_dim(l), sc->parity, NULL, w.xb);
    return NF_OK;
}

/* xb = spline^-1(yb); per value, G = dyb * y + dlogdet * log y' gives dxb and the
 * raw parameters' gradient, which NN backpropagates into its weights and dxa. */
static nf_status sc_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    spline_coupling *sc = (spline_coupling *)l;
    int n = y->n, D = nf_vec_dim(l), R = nf_rqs_raw_count(sc->bins);
    sc_work w = take(sc, n, ctx);
    const nf_real *raw = condition(sc, y, ctx, &w);
    int lda = sc->da + sc->S;
    memset(w.dxa, 0, (size_t)n * lda * sizeof(nf_real)); /* the condition is not an output */
    nf_mask_split_rows(dy->data, n, D, sc->parity, w.dxa, lda, w.dxb);
    size_t cnt = (size_t)n * sc->db;
#pragma omp parallel for schedule(static) if (cnt * R > NF_VEC_OMP_MIN)
    for (size_t k = 0; k < cnt; k++) {
        double xv = nf_rqs_inverse(raw + k * R, sc->bins, sc->bound, w.xb[k]);
        w.dxb[k] = (nf_real)nf_rqs_backward(raw + k * R, sc->bins, sc->bound, xv, w.dxb[k], ctx->dlogdet,
                                            w.draw + k * R);
        w.xb[k] = (nf_real)xv;
    }
    nf_mlp_backward(&sc->net, l->param, l->grad, w.xa, n, w.acts, w.draw, w.dxa, w.scratch);
    nf_cond_take(w.dxa, n, lda, sc->da, ctx->dcond);
    nf_mask_merge(y->data, n, D, sc->parity, NULL, w.xb);
    nf_mask_merge_rows(dy->data, n, D, sc->parity, w.dxa, lda, w.dxb);
    return NF_OK;
}

static void sc_init_params(nf_layer *l, nf_rng *rng) { nf_mlp_init(&((spline_coupling *)l)->net, l->param, rng, 1); }

static int sc_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("net", 0, l->nparams, 0);
    return nf_vec_blocks(&b, 1, out, max);
}

/* The two kinds differ only in name (and whether sc_create gives the net condition inputs). */
#define SC_OPS(layer_name)                                                                                       \
    {                                                                                                            \
        .name = (layer_name), .forward = sc_forward, .inverse = sc_inverse, .backward = sc_backward,             \
        .workspace = sc_workspace, .init_params = sc_init_params, .param_blocks = sc_param_blocks,               \
        .destroy = nf_vec_layer_free                                                                             \
    }
static const nf_layer_ops spline_ops = SC_OPS("spline");
static const nf_layer_ops cond_spline_ops = SC_OPS("cond_spline");

static nf_status sc_create(nf_layer **out, nf_shape in, int S, nf_mlp_spec net, int bins, double bound, int parity) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (S < 0) return nf_fail(NF_ERR_ARG, "spline: %d condition features", S);
    if (parity != 0 && parity != 1) return nf_fail(NF_ERR_ARG, "spline: parity must be 0 or 1, got %d", parity);
    if (bins < 2 || bins > NF_SPLINE_MAX_BINS)
        return nf_fail(NF_ERR_ARG, "spline: bins must be in 2..%d, got %d", NF_SPLINE_MAX_BINS, bins);
    if (!(bound > 0) || !isfinite(bound)) return nf_fail(NF_ERR_ARG, "spline: bound must be > 0, got %g", bound);
    size_t D = nf_shape_sample_count(in);
    if (in.c > 0 && in.d > 0 && in.h > 0 && in.w > 0 && D < 2)
        return nf_fail(NF_ERR_SHAPE, "spline: a coupling needs at least 2 values per sample, got %zu", D);
    NF_TRY(nf_vec_layer_new(out, sizeof(spline_coupling), S ? &cond_spline_ops : &spline_ops, in, 0, "spline"));
    spline_coupling *sc = (spline_coupling *)*out;
    sc->parity = parity, sc->bins = bins, sc->bound = bound, sc->spec = net, sc->S = S;
    sc->base.cond = nf_cond_shape(S);
    sc->da = nf_mask_count_a((int)D, parity);
    sc->db = (int)D - sc->da;
    nf_status s = nf_mlp_setup(&sc->net, "spline", sc->da + S, net, sc->db * nf_rqs_raw_count(bins));
    if (s != NF_OK) {
        nf_free(sc);
        *out = NULL;
        return s;
    }
    sc->base.nparams = nf_mlp_nparams(&sc->net);
    return NF_OK;
}

nf_status nf_spline_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int bins, double bound, int parity) {
    return sc_create(out, in, 0, net, bins, bound, parity);
}

nf_status nf_cond_spline_create(nf_layer **out, nf_shape in, int features, nf_mlp_spec net, int bins, double bound,
                                int parity) {
    if (features < 1) {
        if (out) *out = NULL;
        return nf_fail(NF_ERR_ARG, "cond_spline: the condition must have at least 1 feature, got %d", features);
    }
    return sc_create(out, in, features, net, bins, bound, parity);
}
