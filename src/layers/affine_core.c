/* The affine coupling step on gathered halves (see affine_core.h). */
#include "affine_core.h"
#include "vec_layer.h"

#include <math.h>
#include <string.h>

nf_status nf_affine_core_setup(nf_affine_core *c, const char *who, int da, int db, nf_mlp_spec spec, int scale,
                               double clamp) {
    memset(c, 0, sizeof *c);
    if (!(clamp >= 0) || !isfinite(clamp)) return nf_fail(NF_ERR_ARG, "%s: clamp must be >= 0, got %g", who, clamp);
    c->da = da, c->db = db, c->scale = scale != 0, c->clamp = clamp;
    if (c->scale) NF_TRY(nf_mlp_setup(&c->s_net, who, da, spec, db));
    return nf_mlp_setup(&c->t_net, who, da, spec, db);
}

size_t nf_affine_core_t_offset(const nf_affine_core *c) { return c->scale ? nf_mlp_nparams(&c->s_net) : 0; }

size_t nf_affine_core_nparams(const nf_affine_core *c) {
    return nf_affine_core_t_offset(c) + nf_mlp_nparams(&c->t_net);
}

void nf_affine_core_init(const nf_affine_core *c, nf_real *param, nf_rng *rng) {
    if (c->scale) nf_mlp_init(&c->s_net, param, rng, 1);
    nf_mlp_init(&c->t_net, param + nf_affine_core_t_offset(c), rng, 1);
}

/* work layout: s acts, t acts, ds (n, db), dt (n, db), shared MLP scratch */
typedef struct core_work {
    nf_real *s_acts, *t_acts, *ds, *dt, *scratch;
} core_work;

static size_t scratch_count(const nf_affine_core *c, int n) {
    size_t a = c->scale ? nf_mlp_scratch_count(&c->s_net, n) : 0, b = nf_mlp_scratch_count(&c->t_net, n);
    return a > b ? a : b;
}

size_t nf_affine_core_work_count(const nf_affine_core *c, int n) {
    return (c->scale ? nf_mlp_acts_count(&c->s_net, n) : 0) + nf_mlp_acts_count(&c->t_net, n) +
           2 * (size_t)n * c->db + scratch_count(c, n);
}

static core_work carve(const nf_affine_core *c, int n, nf_real *work) {
    core_work w;
    w.s_acts = work;
    w.t_acts = w.s_acts + (c->scale ? nf_mlp_acts_count(&c->s_net, n) : 0);
    w.ds = w.t_acts + nf_mlp_acts_count(&c->t_net, n);
    w.dt = w.ds + (size_t)n * c->db;
    w.scratch = w.dt + (size_t)n * c->db;
    return w;
}

/* Runs the nets on xa: *s (NULL without scale) and *t, each (n, db). The clamp
 * rewrites the s net's output in place: its backward never reads its own output. */
static void conditioner(const nf_affine_core *c, const nf_real *param, const nf_real *xa, int n, core_work *w,
                        const nf_real **s, const nf_real **t) {
    nf_real *sv = c->scale ? nf_mlp_forward(&c->s_net, param, xa, n, w->s_acts, w->scratch) : NULL;
    if (sv && c->clamp > 0)
        for (size_t k = 0; k < (size_t)n * c->db; k++) sv[k] = (nf_real)(c->clamp * tanh(sv[k] / c->clamp));
    *s = sv;
    *t = nf_mlp_forward(&c->t_net, param + nf_affine_core_t_offset(c), xa, n, w->t_acts, w->scratch);
}

void nf_affine_core_forward(const nf_affine_core *c, const nf_real *param, const nf_real *xa, nf_real *xb, int n,
                            double *logdet, nf_real *work) {
    core_work w = carve(c, n, work);
    const nf_real *s, *t;
    conditioner(c, param, xa, n, &w, &s, &t);
    int db = c->db;
#pragma omp parallel for schedule(static) if ((size_t)n * db > NF_VEC_OMP_MIN)
    for (int b = 0; b < n; b++) {
        double ld = 0;
        for (int i = 0; i < db; i++) {
            size_t k = (size_t)b * db + i;
            if (s) {
                xb[k] = (nf_real)exp(s[k]) * xb[k] + t[k];
                ld += s[k];
            } else {
                xb[k] += t[k];
            }
        }
        logdet[b] += ld;
    }
}

void nf_affine_core_inverse(const nf_affine_core *c, const nf_real *param, const nf_real *xa, nf_real *yb, int n,
                            nf_real *work) {
    core_work w = carve(c, n, work);
    const nf_real *s, *t;
    conditioner(c, param, xa, n, &w, &s, &t);
    size_t cnt = (size_t)n * c->db;
#pragma omp parallel for schedule(static) if (cnt > NF_VEC_OMP_MIN)
    for (size_t k = 0; k < cnt; k++) yb[k] = s ? (yb[k] - t[k]) * (nf_real)exp(-s[k]) : yb[k] - t[k];
}

/* With yb = e^s xb + t: dt = dyb, ds = dyb (yb - t) + dlogdet, dxb = dyb e^s; through
 * the clamp, ds_raw = ds (1 - (s / clamp)^2). */
void nf_affine_core_backward(const nf_affine_core *c, const nf_real *param, nf_real *grad, const nf_real *xa,
                             nf_real *yb, nf_real *dyb, nf_real *dxa, int n, double dlogdet, nf_real *work) {
    core_work w = carve(c, n, work);
    const nf_real *s, *t;
    conditioner(c, param, xa, n, &w, &s, &t);
    size_t cnt = (size_t)n * c->db;
#pragma omp parallel for schedule(static) if (cnt > NF_VEC_OMP_MIN)
    for (size_t k = 0; k < cnt; k++) {
        nf_real v = yb[k] - t[k];
        w.dt[k] = dyb[k];
        if (s) {
            nf_real e = (nf_real)exp(s[k]);
            double dsk = dyb[k] * v + dlogdet;
            if (c->clamp > 0) dsk *= 1 - (s[k] / c->clamp) * (s[k] / c->clamp);
            w.ds[k] = (nf_real)dsk;
            yb[k] = v / e;
            dyb[k] *= e;
        } else {
            yb[k] = v;
        }
    }
    if (s) nf_mlp_backward(&c->s_net, param, grad, xa, n, w.s_acts, w.ds, dxa, w.scratch);
    size_t to = nf_affine_core_t_offset(c);
    nf_mlp_backward(&c->t_net, param + to, grad + to, xa, n, w.t_acts, w.dt, dxa, w.scratch);
}
