/* Conditional HINT in double, inside a conditional sequential flow with y fixed: FD
 * gradients in x and every parameter (caught when halved), invertibility and the rebuild
 * by backward, and the logdet in its two parts: log|det dzx/dx| against the brute-force
 * Jacobian of x |-> zx (after taking off the y lane's log p(y), computed from
 * nf_cond_hint_encode_y), and the y lane's log|det dzy/dy| against the brute-force
 * Jacobian of y |-> zy. Odd and even sizes, x larger and smaller than y. */
#include "nftest.h"

#include <nflow/extend.h>

#include <math.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct chint_case {
    const char *spec;
    int D, C; /* x's and y's values per sample */
} chint_case;

static const chint_case CASES[] = {
    {"cond_hint(hidden=6x2,act=tanh,steps=2)", 5, 3},
    {"actnorm, cond_hint(hidden=8x1,steps=3), reverse", 3, 6},
};

/* The flow with y fixed, its logdet less the y lane's log p(y): log|det dzx/dx| alone. */
typedef struct x_part {
    fc_target inner;
    nf_layer *chint;
    const nf_tensor *y;
} x_part;

static nf_status x_part_forward(void *self, const nf_tensor *x, nf_tensor *z, double *logdet) {
    x_part *p = self;
    NF_TRY(p->inner.forward(p->inner.self, x, z, logdet));
    const nf_tensor *y = p->y;
    nf_tensor zy;
    NF_TRY(nf_tensor_alloc(&zy, y->n, y->c, 1, 1, 1));
    double ly[64] = {0};
    NF_TRY(nf_cond_hint_encode_y(p->chint, y, &zy, ly));
    for (int b = 0; b < y->n; b++) {
        double sq = 0;
        for (int i = 0; i < y->c; i++) sq += zy.data[b * y->c + i] * zy.data[b * y->c + i];
        logdet[b] -= ly[b] - 0.5 * sq - 0.5 * y->c * log(2 * M_PI);
    }
    nf_tensor_free(&zy);
    return NF_OK;
}

/* y |-> zy with logdet log|det dzy/dy| (forward only: what fc_logdet_error uses). */
static nf_status y_lane_forward(void *self, const nf_tensor *y, nf_tensor *zy, double *logdet) {
    for (int b = 0; b < y->n; b++) logdet[b] = 0;
    return nf_cond_hint_encode_y(self, y, zy, logdet);
}

static nf_layer *find_chint(nf_flow *f) {
    for (int i = 0; i < f->nlayers; i++)
        if (!strcmp(f->layers[i]->ops->name, "cond_hint")) return f->layers[i];
    return NULL;
}

static void test_cond_hint(void **state) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const chint_case *cc = &CASES[k];
        int n = 4;
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
        fc_grad_report r = fc_check_gradients(&t, &x, 6, 1e-6, FC_CORRUPT_NONE, 8);
        if (!(r.dx_err <= 1e-3 && r.dparam_err <= 1e-3))
            fail_msg("%s: gradient errors dx %g, dparam %g", cc->spec, r.dx_err, r.dparam_err);
        fc_grad_report c = fc_check_gradients(&t, &x, 3, 1e-6, FC_CORRUPT_HALF, 8);
        if (!(c.dparam_err > 1e-3)) fail_msg("%s: a halved parameter gradient passed (%g)", cc->spec, c.dparam_err);
        double ei = fc_inverse_error(&t, &x), er = fc_rebuild_error(&t, &x);
        if (!(ei <= 1e-5 && er <= 1e-5)) fail_msg("%s: inverse %g, rebuild %g", cc->spec, ei, er);

        nf_layer *l = find_chint(f);
        assert_non_null(l);
        x_part xp = {t, l, &y};
        fc_target tx = t;
        tx.self = &xp, tx.forward = x_part_forward;
        double ex = fc_logdet_error(&tx, &x, 1e-6);
        fc_target ty = t;
        ty.self = l, ty.forward = y_lane_forward, ty.in = nf_tensor_shape(&y), ty.out = ty.in;
        double ey = fc_logdet_error(&ty, &y, 1e-6);
        if (!(ex <= 1e-4 && ey <= 1e-4)) fail_msg("%s: logdet errors x lane %g, y lane %g", cc->spec, ex, ey);
        nf_tensor_free(&x), nf_tensor_free(&y);
        nf_flow_destroy(f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
