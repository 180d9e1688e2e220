/* Conditional vector flows in double: with a fixed condition y, FD gradients in x and in
 * every parameter (couplings, summary network, conditional HINT's two lanes), then in the
 * summary network's parameters alone (they see the loss only through dloss/ds, which every
 * conditional coupling adds to ctx->dcond), each caught when corrupted; invertibility and
 * the logdet against the brute-force Jacobian. With and without a summary network.
 * Conditional HINT's logdet is checked in its two parts: log|det dzx/dx| against the
 * brute-force Jacobian of x |-> zx once the y lane's log p(y) (from
 * nf_cond_hint_encode_y) is taken off, and the y lane's log|det dzy/dy| against the
 * brute-force Jacobian of y |-> zy; its dloss/dy (ctx->dcond) against differences in y. */
#include "nftest.h"

#include <nflow/extend.h>

#include <math.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct cond_case {
    const char *spec;
    int D, C; /* x's and y's values per sample */
} cond_case;

static const cond_case CASES[] = {
    {"summary(hidden=6x2,act=tanh,out=3), (cond_realnvp(hidden=8x2), cond_spline(bins=4,bound=2,hidden=6x2), "
     "reverse)*2",
     3, 5},
    {"prior=diagonal, cond_realnvp(hidden=8x2,clamp=2)*2, linear(lu=1), cond_spline(bins=5,bound=2,hidden=6x2)*2", 4, 2},
    {"cond_hint(hidden=6x2,act=tanh,steps=2)", 5, 3},
    {"actnorm, cond_hint(hidden=8x1,steps=3), reverse", 3, 6},
};

/* A flow with y fixed whose logdet is less the y lane's log p(y): log|det dzx/dx| alone. */
typedef struct x_lane {
    fc_target inner;
    nf_layer *chint;
    const nf_tensor *y;
} x_lane;

static nf_status x_lane_forward(void *self, const nf_tensor *x, nf_tensor *z, double *logdet) {
    x_lane *p = self;
    NF_TRY(p->inner.forward(p->inner.self, x, z, logdet));
    const nf_tensor *y = p->y;
    nf_tensor zy;
    NF_TRY(nf_tensor_alloc(&zy, y->n, y->c, 1, 1, 1));
    double ly[64] = {0};
    nf_status s = nf_cond_hint_encode_y(p->chint, y, &zy, ly);
    for (int b = 0; s == NF_OK && b < y->n; b++) {
        double sq = 0;
        for (int i = 0; i < y->c; i++) sq += zy.data[b * y->c + i] * zy.data[b * y->c + i];
        logdet[b] -= ly[b] - 0.5 * sq - 0.5 * y->c * log(2 * M_PI);
    }
    nf_tensor_free(&zy);
    return s;
}

/* y |-> zy with logdet log|det dzy/dy| (forward only: what fc_logdet_error uses). */
static nf_status y_lane_forward(void *self, const nf_tensor *y, nf_tensor *zy, double *logdet) {
    for (int b = 0; b < y->n; b++) logdet[b] = 0;
    return nf_cond_hint_encode_y(self, y, zy, logdet);
}

static nf_layer *find_cond_hint(nf_flow *f) {
    for (int i = 0; i < f->nlayers; i++)
        if (!strcmp(f->layers[i]->ops->name, "cond_hint")) return f->layers[i];
    return NULL;
}

/* The logdet error: against the brute-force Jacobian of x, and with a cond_hint layer also
 * of its y lane (the larger of the two). */
static double logdet_error(fc_target *t, const nf_tensor *x, const nf_tensor *y) {
    nf_layer *l = find_cond_hint(((fc_cond_flow *)t->self)->f);
    if (!l) return fc_logdet_error(t, x, 1e-6);
    x_lane xl = {*t, l, y};
    fc_target tx = *t, ty = *t;
    tx.self = &xl, tx.forward = x_lane_forward;
    ty.self = l, ty.forward = y_lane_forward, ty.in = nf_tensor_shape(y), ty.out = ty.in;
    double ex = fc_logdet_error(&tx, x, 1e-6), ey = fc_logdet_error(&ty, y, 1e-6);
    return ex > ey ? ex : ey;
}

static void check_params(fc_target *t, const nf_tensor *x, const char *what) {
    fc_grad_report r = fc_check_gradients(t, x, 6, 1e-6, FC_CORRUPT_NONE, 8);
    if (!(r.dx_err <= 1e-3 && r.dparam_err <= 1e-3))
        fail_msg("%s: gradient errors dx %g, dparam %g", what, r.dx_err, r.dparam_err);
    fc_grad_report c = fc_check_gradients(t, x, 3, 1e-6, FC_CORRUPT_HALF, 8);
    if (!(c.dparam_err > 1e-3)) fail_msg("%s: a halved parameter gradient passed (%g)", what, c.dparam_err);
}

static void test_cond_flows(void **state) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const cond_case *cc = &CASES[k];
        int n = 5;
        nf_shape in = {1, cc->D, 1, 1, 1}, cs = {1, cc->C, 1, 1, 1};
        nf_flow *f;
        NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, in, cs, cc->spec, 3));
        nf_tensor x = nftest_randn(n, cc->D, 1, 1, 1, 6), y = nftest_randn(n, cc->C, 1, 1, 1, 7);
        fc_cond_flow cf = {f, &y};
        fc_target t;
        fc_cond_flow_target_init(&t, &cf, n);
        nf_rng rng;
        nf_rng_seed(&rng, 5);
        fc_perturb_params(&t, &rng, 0.3); /* zero-initialised last layers would hide the condition */
        check_params(&t, &x, cc->spec);
        if (f->layers[0]->ops->cond_forward) { /* the summary network's block alone */
            fc_target ts = t;
            ts.param = f->layers[0]->param, ts.grad = f->layers[0]->grad, ts.nparams = f->layers[0]->nparams;
            ts.frozen = NULL;
            check_params(&ts, &x, "summary network");
        }
        double ei = fc_inverse_error(&t, &x), er = fc_rebuild_error(&t, &x), el = logdet_error(&t, &x, &y);
        if (!(ei <= 1e-5 && er <= 1e-5 && el <= 1e-4))
            fail_msg("%s: inverse %g, rebuild %g, logdet %g", cc->spec, ei, er, el);
        nf_tensor_free(&x), nf_tensor_free(&y);
        nf_flow_destroy(f);
    }
}

/* cond_hint's dloss/dy (added to ctx->dcond, through both lanes and y's density) against
 * central differences in y, and caught when halved. */
static void test_cond_hint_dcond(void **state) {
    int n = 4, D = 5, C = 6;
    nf_shape in = {1, D, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_cond_hint_create(&l, in, C, nf_mlp_spec_uniform(6, 2, NF_ACT_TANH), 2));
    nf_params p;
    nf_rng rng;
    nf_rng_seed(&rng, 2);
    NF_ASSERT_OK(nf_params_bind(&p, &l, 1, &rng));
    for (size_t i = 0; i < p.count; i++) p.value[i] += 0.3 * nf_rng_normal(&rng);
    nf_tensor x = nftest_randn(n, D, 1, 1, 1, 3), y = nftest_randn(n, C, 1, 1, 1, 4);
    double err = fc_layer_dcond_error(l, &x, &y, 1e-6, 1.0, 5), bad = fc_layer_dcond_error(l, &x, &y, 1e-6, 0.5, 5);
    if (!(err <= 1e-3 && bad > 1e-3)) fail_msg("cond_hint dloss/dy: error %g (halved: %g)", err, bad);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_params_free(&p);
    nf_layer_destroy(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_flows),
        cmocka_unit_test(test_cond_hint_dcond),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
