/* Conditional vector flows in double: with a fixed condition y, FD gradients in x and in
 * every parameter (couplings and summary network), then in the summary network's
 * parameters alone (they see the loss only through dloss/ds, which every conditional
 * coupling adds to ctx->dcond), each caught when corrupted; invertibility and the
 * logdet against the brute-force Jacobian. With and without a summary network. */
#include "nftest.h"

typedef struct cond_case {
    const char *spec;
    int D, C; /* x's and y's values per sample */
} cond_case;

static const cond_case CASES[] = {
    {"summary(hidden=6x2,act=tanh,out=3), (cond_realnvp(hidden=8x2), cond_spline(bins=4,bound=2,hidden=6x2), "
     "reverse)*2",
     3, 5},
    {"prior=diagonal, cond_realnvp(hidden=8x2,clamp=2)*2, linear(lu=1), cond_spline(bins=5,bound=2,hidden=6x2)*2", 4, 2},
};

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
        double ei = fc_inverse_error(&t, &x), er = fc_rebuild_error(&t, &x), el = fc_logdet_error(&t, &x, 1e-6);
        if (!(ei <= 1e-5 && er <= 1e-5 && el <= 1e-4))
            fail_msg("%s: inverse %g, rebuild %g, logdet %g", cc->spec, ei, er, el);
        nf_tensor_free(&x), nf_tensor_free(&y);
        nf_flow_destroy(f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
