/* Implementation of the shared flow checks (see flowcheck.h). */
#include "flowcheck.h"
#include "kernels/lu.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static size_t count_of(nf_shape s) { return (size_t)s.n * nf_shape_sample_count(s); }

static nf_tensor make(nf_shape s) {
    nf_tensor t = {0};
    if (nf_tensor_alloc(&t, s.n, s.c, s.d, s.h, s.w) != NF_OK) abort();
    return t;
}

/* A failing call inside a check fails the running cmocka test with the library's message. */
static void must(nf_status s) {
    if (s != NF_OK) fail_msg("%s: %s", nf_status_name(s), nf_last_error());
}

/* ---------------------------------------------------------------- layer adaptor */

static nf_status layer_forward(void *self, const nf_tensor *x, nf_tensor *y, double *logdet) {
    fc_layer_target *lt = self;
    memcpy(y->data, x->data, nf_tensor_count(x) * sizeof(nf_real));
    nf_tensor io = *x;
    io.data = y->data;
    memset(logdet, 0, sizeof(double) * (size_t)x->n);
    nf_status s = nf_layer_forward(lt->layer, &io, logdet, &lt->ctx);
    if (s == NF_OK && nf_tensor_count(&io) != nf_tensor_count(y)) return NF_ERR_SHAPE;
    *y = io;
    return s;
}

static nf_status layer_inverse(void *self, const nf_tensor *y, nf_tensor *x) {
    fc_layer_target *lt = self;
    memcpy(x->data, y->data, nf_tensor_count(y) * sizeof(nf_real));
    nf_tensor io = *y;
    io.data = x->data;
    nf_status s = nf_layer_inverse(lt->layer, &io, &lt->ctx);
    *x = io;
    return s;
}

static nf_status layer_backward(void *self, const nf_tensor *y, const nf_tensor *dy, double dlogdet, nf_tensor *x,
                                nf_tensor *dx) {
    fc_layer_target *lt = self;
    memcpy(x->data, y->data, nf_tensor_count(y) * sizeof(nf_real));
    memcpy(dx->data, dy->data, nf_tensor_count(dy) * sizeof(nf_real));
    nf_tensor yi = *y, dyi = *dy;
    yi.data = x->data;
    dyi.data = dx->data;
    lt->ctx.dlogdet = dlogdet;
    nf_status s = nf_layer_backward(lt->layer, &yi, &dyi, &lt->ctx);
    *x = yi;
    *dx = dyi;
    return s;
}

nf_status fc_layer_target_init(fc_layer_target *lt, nf_layer *layer, nf_shape in, uint64_t seed) {
    memset(lt, 0, sizeof *lt);
    lt->layer = layer;
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_status s = nf_params_bind(&lt->params, &layer, 1, &rng);
    if (s != NF_OK) return s;
    s = nf_ctx_reserve(&lt->ctx, nf_layer_workspace(layer, in));
    if (s != NF_OK) return s;
    nf_shape out;
    s = nf_layer_out_shape(layer, in, &out);
    if (s != NF_OK) return s;
    out.n = in.n;
    lt->t = (fc_target){lt, layer_forward, layer_inverse, layer_backward, lt->params.value, lt->params.grad,
                        lt->params.count, lt->params.frozen, in, out};
    return NF_OK;
}

void fc_layer_target_free(fc_layer_target *lt) {
    nf_layer_destroy(lt->layer);
    nf_params_free(&lt->params);
    nf_ctx_free(&lt->ctx);
}

/* ---------------------------------------------------------------- flow adaptor */

static nf_status flow_forward(void *self, const nf_tensor *x, nf_tensor *z, double *logdet) {
    return nf_flow_forward(self, x, NULL, z, logdet);
}
static nf_status flow_inverse(void *self, const nf_tensor *z, nf_tensor *x) { return nf_flow_inverse(self, z, NULL, x); }
static nf_status flow_backward(void *self, const nf_tensor *z, const nf_tensor *dz, double dlogdet, nf_tensor *x,
                               nf_tensor *dx) {
    return nf_flow_backward(self, z, dz, NULL, dlogdet, x, dx);
}

void fc_flow_target_init(fc_target *t, nf_flow *f, int n) {
    nf_shape in = f->in, out = {n, (int)nf_shape_sample_count(f->in), 1, 1, 1};
    in.n = n;
    *t = (fc_target){f, flow_forward, flow_inverse, flow_backward, f->params.value, f->params.grad,
                     f->params.count, f->params.frozen, in, out};
}

static nf_status cond_forward(void *self, const nf_tensor *x, nf_tensor *z, double *logdet) {
    fc_cond_flow *cf = self;
    return nf_flow_forward(cf->f, x, cf->cond, z, logdet);
}
static nf_status cond_inverse(void *self, const nf_tensor *z, nf_tensor *x) {
    fc_cond_flow *cf = self;
    return nf_flow_inverse(cf->f, z, cf->cond, x);
}
static nf_status cond_backward(void *self, const nf_tensor *z, const nf_tensor *dz, double dlogdet, nf_tensor *x,
                               nf_tensor *dx) {
    fc_cond_flow *cf = self;
    return nf_flow_backward(cf->f, z, dz, cf->cond, dlogdet, x, dx);
}

void fc_cond_flow_target_init(fc_target *t, fc_cond_flow *cf, int n) {
    fc_flow_target_init(t, cf->f, n);
    t->self = cf;
    t->forward = cond_forward;
    t->inverse = cond_inverse;
    t->backward = cond_backward;
}

/* ---------------------------------------------------------------- checks */

void fc_perturb_params(fc_target *t, nf_rng *rng, double scale) {
    for (size_t i = 0; i < t->nparams; i++) {
        double e = scale * nf_rng_normal(rng);
        if (!(t->frozen && t->frozen[i])) t->param[i] += (nf_real)e;
    }
}

double fc_rel_diff(const nf_real *a, const nf_real *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num) / (sqrt(den) + 1e-300);
}

double fc_inverse_error(fc_target *t, const nf_tensor *x) {
    nf_tensor y = make(t->out), xr = make(t->in);
    double *ld = calloc((size_t)x->n, sizeof(double));
    must(t->forward(t->self, x, &y, ld));
    must(t->inverse(t->self, &y, &xr));
    double e = fc_rel_diff(xr.data, x->data, nf_tensor_count(x));
    nf_tensor_free(&y);
    nf_tensor_free(&xr);
    free(ld);
    return e;
}

double fc_rebuild_error(fc_target *t, const nf_tensor *x) {
    nf_tensor y = make(t->out), dy = make(t->out), xr = make(t->in), dx = make(t->in);
    double *ld = calloc((size_t)x->n, sizeof(double));
    must(t->forward(t->self, x, &y, ld));
    for (size_t i = 0; i < nf_tensor_count(&y); i++) dy.data[i] = y.data[i] / x->n;
    must(t->backward(t->self, &y, &dy, -1.0 / x->n, &xr, &dx));
    double e = fc_rel_diff(xr.data, x->data, nf_tensor_count(x));
    nf_tensor_free(&y);
    nf_tensor_free(&dy);
    nf_tensor_free(&xr);
    nf_tensor_free(&dx);
    free(ld);
    return e;
}

/* The test loss and, if dy is given, its gradient dy = (y + r) / n. */
static double test_loss(fc_target *t, const nf_tensor *x, const nf_real *r, nf_tensor *y, double *ld,
                        nf_tensor *dy) {
    must(t->forward(t->self, x, y, ld));
    size_t per = nf_tensor_sample_count(y);
    double loss = 0;
    for (int b = 0; b < x->n; b++) {
        double acc = 0;
        for (size_t i = 0; i < per; i++) {
            double v = y->data[b * per + i], rv = r[b * per + i];
            acc += 0.5 * v * v + rv * v;
        }
        loss += acc - ld[b];
    }
    if (dy)
        for (size_t i = 0; i < nf_tensor_count(y); i++) dy->data[i] = (y->data[i] + r[i]) / x->n;
    return loss / x->n;
}

static double corrupt(double v, fc_corruption c) {
    switch (c) {
    case FC_CORRUPT_ZERO: return 0.0;
    case FC_CORRUPT_HALF: return 0.5 * v;
    case FC_CORRUPT_FLIP: return -v;
    default: return v;
    }
}

static double rel_err(double analytic, double numeric) {
    double scale = fmax(fabs(analytic), fabs(numeric));
    return scale < 1e-12 ? 0.0 : fabs(analytic - numeric) / scale;
}

fc_grad_report fc_check_gradients(fc_target *t, const nf_tensor *x0, int ndir, double eps, fc_corruption c,
                                  uint64_t seed) {
    fc_grad_report rep = {0, 0};
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    size_t nin = count_of(t->in), nout = count_of(t->out);
    nf_tensor x = make(t->in), y = make(t->out), dy = make(t->out), xr = make(t->in), dx = make(t->in);
    nf_tensor xp = make(t->in);
    double *ld = calloc((size_t)t->in.n, sizeof(double));
    nf_real *r = malloc(nout * sizeof(nf_real)), *u = malloc(nin * sizeof(nf_real));
    nf_real *v = malloc((t->nparams + 1) * sizeof(nf_real)), *p0 = malloc((t->nparams + 1) * sizeof(nf_real));
    memcpy(x.data, x0->data, nin * sizeof(nf_real));
    nf_rng_fill_normal(&rng, r, nout, 1.0);

    /* warm-up: data-dependent initialisation happens here, not inside a difference */
    must(t->forward(t->self, &x, &y, ld));
    if (t->nparams) memset(t->grad, 0, t->nparams * sizeof(nf_real));
    test_loss(t, &x, r, &y, ld, &dy);
    must(t->backward(t->self, &y, &dy, -1.0 / x.n, &xr, &dx));
    if (t->nparams) memcpy(p0, t->param, t->nparams * sizeof(nf_real));

    for (int k = 0; k < ndir; k++) {
        /* along x */
        nf_rng_fill_normal(&rng, u, nin, 1.0);
        double an = 0;
        for (size_t i = 0; i < nin; i++) an += corrupt(dx.data[i], c) * u[i];
        for (size_t i = 0; i < nin; i++) xp.data[i] = x.data[i] + (nf_real)(eps * u[i]);
        double lp = test_loss(t, &xp, r, &y, ld, NULL);
        for (size_t i = 0; i < nin; i++) xp.data[i] = x.data[i] - (nf_real)(eps * u[i]);
        double lm = test_loss(t, &xp, r, &y, ld, NULL);
        rep.dx_err = fmax(rep.dx_err, rel_err(an, (lp - lm) / (2 * eps)));

        if (!t->nparams) continue;
        nf_rng_fill_normal(&rng, v, t->nparams, 1.0);
        for (size_t i = 0; t->frozen && i < t->nparams; i++)
            if (t->frozen[i]) v[i] = 0;
        an = 0;
        for (size_t i = 0; i < t->nparams; i++) an += corrupt(t->grad[i], c) * v[i];
        for (size_t i = 0; i < t->nparams; i++) t->param[i] = p0[i] + (nf_real)(eps * v[i]);
        lp = test_loss(t, &x, r, &y, ld, NULL);
        for (size_t i = 0; i < t->nparams; i++) t->param[i] = p0[i] - (nf_real)(eps * v[i]);
        lm = test_loss(t, &x, r, &y, ld, NULL);
        memcpy(t->param, p0, t->nparams * sizeof(nf_real));
        rep.dparam_err = fmax(rep.dparam_err, rel_err(an, (lp - lm) / (2 * eps)));
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_tensor_free(&dy);
    nf_tensor_free(&xr);
    nf_tensor_free(&dx);
    nf_tensor_free(&xp);
    free(ld);
    free(r);
    free(u);
    free(v);
    free(p0);
    return rep;
}

double fc_logdet_error(fc_target *t, const nf_tensor *x0, double eps) {
    size_t nin = count_of(t->in), per = nf_shape_sample_count(t->in);
    int m = (int)per, n = t->in.n;
    nf_tensor x = make(t->in), yp = make(t->out), ym = make(t->out);
    double *ld = calloc((size_t)n, sizeof(double)), *ld0 = calloc((size_t)n, sizeof(double));
    double *jac = malloc(sizeof(double) * (size_t)n * m * m);
    int *piv = malloc(sizeof(int) * (size_t)m);
    memcpy(x.data, x0->data, nin * sizeof(nf_real));
    must(t->forward(t->self, &x, &yp, ld0)); /* warm-up (data-dependent init) */
    must(t->forward(t->self, &x, &yp, ld0));
    /* perturbing coordinate j of every sample at once is fine: samples are independent */
    for (int j = 0; j < m; j++) {
        for (int b = 0; b < n; b++) x.data[b * per + j] = x0->data[b * per + j] + (nf_real)eps;
        must(t->forward(t->self, &x, &yp, ld));
        for (int b = 0; b < n; b++) x.data[b * per + j] = x0->data[b * per + j] - (nf_real)eps;
        must(t->forward(t->self, &x, &ym, ld));
        for (int b = 0; b < n; b++) x.data[b * per + j] = x0->data[b * per + j];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < m; i++)
                jac[(size_t)b * m * m + (size_t)i * m + j] = (yp.data[b * per + i] - ym.data[b * per + i]) / (2 * eps);
    }
    double worst = 0;
    for (int b = 0; b < n; b++) worst = fmax(worst, fabs(nf_lu_factor(jac + (size_t)b * m * m, piv, m) - ld0[b]));
    free(piv);
    nf_tensor_free(&x);
    nf_tensor_free(&yp);
    nf_tensor_free(&ym);
    free(ld);
    free(ld0);
    free(jac);
    return worst;
}

/* ---------------------------------------------------------------- conditions, files */

/* mean_b [0.5 |z_b|^2 - logdet_b] of the layer at (x, cond). */
static double layer_loss(nf_layer *l, const nf_tensor *x, const nf_tensor *cond, nf_ctx *ctx) {
    nf_tensor z = make(nf_tensor_shape(x));
    memcpy(z.data, x->data, sizeof(nf_real) * nf_tensor_count(x));
    double *ld = calloc((size_t)x->n, sizeof(double)), loss = 0;
    size_t D = nf_tensor_sample_count(x);
    ctx->cond = cond, ctx->dcond = NULL;
    must(nf_layer_forward(l, &z, ld, ctx));
    for (int b = 0; b < x->n; b++) {
        double sq = 0;
        for (size_t i = 0; i < D; i++) sq += (double)z.data[b * D + i] * z.data[b * D + i];
        loss += (0.5 * sq - ld[b]) / x->n;
    }
    free(ld);
    nf_tensor_free(&z);
    return loss;
}

double fc_layer_dcond_error(nf_layer *l, const nf_tensor *x, nf_tensor *cond, double eps, double scale,
                            uint64_t seed) {
    nf_shape sh = nf_tensor_shape(x);
    nf_ctx ctx = {0};
    must(nf_ctx_reserve(&ctx, nf_layer_workspace(l, sh)));
    size_t nc = nf_tensor_count(cond);
    nf_tensor z = make(sh), dz = make(sh), dcond = make(nf_tensor_shape(cond)), u = make(nf_tensor_shape(cond));
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_rng_fill_normal(&rng, u.data, nc, 1.0);
    memcpy(z.data, x->data, sizeof(nf_real) * nf_tensor_count(x));
    double *ld = calloc((size_t)x->n, sizeof(double));
    ctx.cond = cond;
    must(nf_layer_forward(l, &z, ld, &ctx));
    for (size_t i = 0; i < nf_tensor_count(&z); i++) dz.data[i] = z.data[i] / x->n;
    ctx.dcond = &dcond, ctx.dlogdet = -1.0 / x->n;
    must(nf_layer_backward(l, &z, &dz, &ctx));
    double analytic = 0;
    for (size_t i = 0; i < nc; i++) analytic += (double)dcond.data[i] * u.data[i];
    for (size_t i = 0; i < nc; i++) cond->data[i] += (nf_real)(eps * u.data[i]);
    double lp = layer_loss(l, x, cond, &ctx);
    for (size_t i = 0; i < nc; i++) cond->data[i] -= (nf_real)(2 * eps * u.data[i]);
    double lm = layer_loss(l, x, cond, &ctx), numeric = (lp - lm) / (2 * eps);
    for (size_t i = 0; i < nc; i++) cond->data[i] += (nf_real)(eps * u.data[i]);
    free(ld);
    nf_tensor_free(&z), nf_tensor_free(&dz), nf_tensor_free(&dcond), nf_tensor_free(&u);
    nf_ctx_free(&ctx);
    return fabs(scale * analytic - numeric) / fmax(1e-8, fabs(numeric));
}

void fc_flow_warm_and_move(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double scale, uint64_t seed) {
    nf_tensor z = make((nf_shape){x->n, (int)nf_shape_sample_count(f->in), 1, 1, 1});
    double *ld = calloc((size_t)x->n, sizeof(double));
    must(nf_flow_forward(f, x, cond, &z, ld));
    nf_rng r;
    nf_rng_seed(&r, seed);
    for (size_t i = 0; i < f->params.count; i++)
        if (!f->params.frozen[i]) f->params.value[i] += (nf_real)(scale * nf_rng_normal(&r));
    free(ld);
    nf_tensor_free(&z);
}

void fc_cond_flow_errors(nf_flow *f, const nf_tensor *x, const nf_tensor *y, const nf_tensor *y2, double *inverse,
                         double *rebuild, double *moved) {
    nf_shape zs = {x->n, (int)nf_shape_sample_count(f->in), 1, 1, 1};
    nf_tensor z = make(zs), z2 = make(zs), xr = make(nf_tensor_shape(x)), dx = make(nf_tensor_shape(x));
    double *ld = calloc((size_t)x->n, sizeof(double));
    must(nf_flow_forward(f, x, y, &z, ld));
    must(nf_flow_inverse(f, &z, y, &xr));
    *inverse = fc_rel_diff(xr.data, x->data, nf_tensor_count(x));
    must(nf_flow_backward(f, &z, &z, y, -1.0 / x->n, &xr, &dx));
    *rebuild = fc_rel_diff(xr.data, x->data, nf_tensor_count(x));
    must(nf_flow_forward(f, x, y2, &z2, ld));
    *moved = fc_rel_diff(z2.data, z.data, nf_tensor_count(&z));
    free(ld);
    nf_tensor_free(&z), nf_tensor_free(&z2), nf_tensor_free(&xr), nf_tensor_free(&dx);
}

double fc_flows_differ(nf_flow *f, nf_flow *g, const nf_tensor *x, const nf_tensor *cond) {
    nf_shape zs = {x->n, (int)nf_shape_sample_count(f->in), 1, 1, 1};
    nf_tensor zf = make(zs), zg = make(zs);
    double *lf = calloc((size_t)x->n, sizeof(double)), *lg = calloc((size_t)x->n, sizeof(double)), d = 0;
    must(nf_flow_forward(f, x, cond, &zf, lf));
    must(nf_flow_forward(g, x, cond, &zg, lg));
    for (size_t i = 0; i < nf_tensor_count(&zf); i++) d = fmax(d, fabs((double)zf.data[i] - zg.data[i]));
    for (int b = 0; b < x->n; b++) d = fmax(d, fabs(lf[b] - lg[b]));
    free(lf), free(lg);
    nf_tensor_free(&zf), nf_tensor_free(&zg);
    return d;
}
