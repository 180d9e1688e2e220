/* Convolutional conditional HINT (cond_hint_conv) in double, on images (a recursive tree:
 * 5 channels -> 2 + 3; leaves of 2 and 3) and volumes, alone and behind an ActNorm in a
 * sequential flow, with a fixed condition y: FD gradients in x and in every parameter,
 * caught when halved; then each part of each step alone (ActNorm, 1x1, HINT tree of each
 * lane and x's coupling on y), each right and each caught when halved — the y lane's
 * parts see the loss only through y's density and through x's coupling on y;
 * invertibility, the rebuild of backward, and the logdet in its two parts: log|det dzx/dx|
 * against the brute-force Jacobian of x once log p(y) (from nf_cond_hint_conv_encode_y)
 * is taken off, and log|det dzy/dy| against the brute-force Jacobian of y |-> zy; the
 * layer's dloss/dy (ctx->dcond) against differences in y. And the refusals. */
#include "nftest.h"

#include "layers/hint_conv.h" /* nf_cond_hint_conv_part */

#include <nflow/extend.h>

typedef struct chc_case {
    const char *spec;
    nf_shape x, y; /* per-sample shapes */
} chc_case;

static const chc_case CASES[] = {
    {"cond_hint_conv(hidden=3,steps=2)", {1, 5, 1, 3, 3}, {1, 3, 1, 3, 3}},
    {"actnorm, cond_hint_conv(hidden=4,steps=1)", {1, 2, 1, 4, 3}, {1, 2, 1, 4, 3}},
    {"cond_hint_conv(hidden=2,steps=1)", {1, 2, 2, 3, 2}, {1, 3, 2, 3, 2}},
};

static nf_layer *find_chc(nf_flow *f) {
    for (int i = 0; i < f->nlayers; i++)
        if (!strcmp(f->layers[i]->ops->name, "cond_hint_conv")) return f->layers[i];
    return NULL;
}

/* zy and log|det dzy/dy| + log N(zy) of y (logdet overwritten). */
static nf_status y_density(nf_layer *l, const nf_tensor *y, nf_tensor *zy, double *logp) {
    for (int b = 0; b < y->n; b++) logp[b] = 0;
    NF_TRY(nf_cond_hint_conv_encode_y(l, y, zy, logp));
    size_t S = nf_tensor_sample_count(y);
    for (int b = 0; b < y->n; b++) {
        double sq = 0;
        for (size_t i = 0; i < S; i++) sq += zy->data[b * S + i] * zy->data[b * S + i];
        logp[b] += -0.5 * sq - 0.5 * (double)S * log(2 * M_PI);
    }
    return NF_OK;
}

/* The flow with y fixed whose logdet is less log p(y): log|det dzx/dx| alone. */
typedef struct x_lane {
    fc_target inner;
    nf_layer *chc;
    const nf_tensor *y;
} x_lane;

static nf_status x_lane_forward(void *self, const nf_tensor *x, nf_tensor *z, double *logdet) {
    x_lane *p = self;
    NF_TRY(p->inner.forward(p->inner.self, x, z, logdet));
    nf_tensor zy;
    NF_TRY(nf_tensor_alloc(&zy, p->y->n, p->y->c, p->y->d, p->y->h, p->y->w));
    double lp[16];
    nf_status s = y_density(p->chc, p->y, &zy, lp);
    for (int b = 0; s == NF_OK && b < p->y->n; b++) logdet[b] -= lp[b];
    nf_tensor_free(&zy);
    return s;
}

/* y |-> zy, logdet log|det dzy/dy| (forward only: what fc_logdet_error uses). */
static nf_status y_lane_forward(void *self, const nf_tensor *y, nf_tensor *zy, double *logdet) {
    for (int b = 0; b < y->n; b++) logdet[b] = 0;
    return nf_cond_hint_conv_encode_y(self, y, zy, logdet);
}

static void check_block(fc_target *t, const nf_tensor *x, const char *what, int k, int part) {
    fc_grad_report ok = fc_check_gradients(t, x, 4, 1e-6, FC_CORRUPT_NONE, 21);
    fc_grad_report bad = fc_check_gradients(t, x, 3, 1e-6, FC_CORRUPT_HALF, 21);
    if (!(ok.dparam_err <= 1e-3) || !(bad.dparam_err > 1e-3))
        fail_msg("%s, step %d part %d: gradient error %g, with the gradient halved %g", what, k, part, ok.dparam_err,
                 bad.dparam_err);
}

static void check_case(const chc_case *cc) {
    int n = 3;
    nf_flow *f;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, cc->x, cc->y, cc->spec, 3));
    nf_layer *l = find_chc(f);
    assert_non_null(l);
    nf_tensor x = nftest_randn(n, cc->x.c, cc->x.d, cc->x.h, cc->x.w, 6);
    nf_tensor y = nftest_randn(n, cc->y.c, cc->y.d, cc->y.h, cc->y.w, 7);
    for (size_t i = 0; i < nf_tensor_count(&y); i++) y.data[i] = 2 * y.data[i] + 1; /* ActNorm has work to do */
    fc_cond_flow cf = {f, &y};
    fc_target t;
    fc_cond_flow_target_init(&t, &cf, n);
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    fc_check_gradients(&t, &x, 1, 1e-6, FC_CORRUPT_NONE, 21); /* warm-up: the ActNorms' init */
    fc_perturb_params(&t, &rng, 0.15); /* zero last convs would hide y; at 0.3 scales reach the floor and FD fails */
    fc_grad_report r = fc_check_gradients(&t, &x, 6, 1e-6, FC_CORRUPT_NONE, 8);
    if (!(r.dx_err <= 1e-3 && r.dparam_err <= 1e-3))
        fail_msg("%s: gradient errors dx %g, dparam %g", cc->spec, r.dx_err, r.dparam_err);
    fc_grad_report c = fc_check_gradients(&t, &x, 3, 1e-6, FC_CORRUPT_HALF, 8);
    if (!(c.dx_err > 1e-3 && c.dparam_err > 1e-3))
        fail_msg("%s: a halved gradient passed (dx %g, dparam %g)", cc->spec, c.dx_err, c.dparam_err);
    for (int k = 0; k < 8; k++)
        for (int part = 0; part < NF_CHC_PARTS; part++) {
            size_t off, cnt;
            if (nf_cond_hint_conv_part(l, k, part, &off, &cnt) != NF_OK) break;
            fc_target tp = t;
            tp.param = l->param + off, tp.grad = l->grad + off, tp.nparams = cnt, tp.frozen = NULL;
            check_block(&tp, &x, cc->spec, k, part);
        }
    x_lane xl = {t, l, &y};
    fc_target tx = t, ty = t;
    tx.self = &xl, tx.forward = x_lane_forward;
    ty.self = l, ty.forward = y_lane_forward, ty.in = nf_tensor_shape(&y), ty.out = ty.in;
    double ex = fc_logdet_error(&tx, &x, 1e-6), ey = fc_logdet_error(&ty, &y, 1e-6);
    double ei = fc_inverse_error(&t, &x), er = fc_rebuild_error(&t, &x);
    printf("%s: inverse %g, rebuild %g, logdet of x %g, of y %g\n", cc->spec, ei, er, ex, ey);
    if (!(ei <= 1e-5 && er <= 1e-5 && ex <= 1e-4 && ey <= 1e-4))
        fail_msg("%s: inverse %g, rebuild %g, logdet of x %g, of y %g", cc->spec, ei, er, ex, ey);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
}

static void test_cond_hint_conv_flows(void **state) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) check_case(&CASES[k]);
}

/* The layer's dloss/dy (added to ctx->dcond: both lanes and y's density) against central
 * differences in y (as the flow passes it: rows), and caught when halved. */
static void test_cond_hint_conv_dcond(void **state) {
    int n = 3, C = 3, CY = 2, H = 3, W = 4;
    nf_shape in = {1, C, 1, H, W}, cs = {1, CY, 1, H, W};
    nf_layer *l;
    NF_ASSERT_OK(nf_cond_hint_conv_create(&l, in, cs, 3, 2, NF_COUPLING_MIN_SCALE));
    nf_params p;
    nf_rng rng;
    nf_rng_seed(&rng, 2);
    NF_ASSERT_OK(nf_params_bind(&p, &l, 1, &rng));
    nf_tensor x = nftest_randn(n, C, 1, H, W, 3), y = nftest_randn(n, CY * H * W, 1, 1, 1, 4);
    fc_layer_dcond_error(l, &x, &y, 1e-6, 1.0, 5); /* its first forward: the ActNorms' init */
    for (size_t i = 0; i < p.count; i++) p.value[i] += 0.15 * nf_rng_normal(&rng);
    double err = fc_layer_dcond_error(l, &x, &y, 1e-6, 1.0, 5), bad = fc_layer_dcond_error(l, &x, &y, 1e-6, 0.5, 5);
    if (!(err <= 1e-3 && bad > 1e-3)) fail_msg("cond_hint_conv dloss/dy: error %g (halved: %g)", err, bad);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_params_free(&p);
    nf_layer_destroy(l);
}

/* The smallest log|det dzx/dx| over a batch once the x lane's ActNorm is the identity and
 * the couplings' weights are large (many scales pinned at a bound): each coupling's s is
 * at least the spec's floor, so this is at least (values scaled) * log(floor). */
static double pinned_x_logdet(const char *spec) {
    nf_shape xs = {1, 2, 1, 4, 4}, ys = {1, 2, 1, 4, 4};
    int n = 4;
    nf_flow *f;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, xs, ys, spec, 3));
    nf_layer *l = find_chc(f);
    assert_non_null(l);
    nf_tensor x = nftest_randn(n, 2, 1, 4, 4, 6), y = nftest_randn(n, 2, 1, 4, 4, 7), z;
    NF_ASSERT_OK(nf_tensor_alloc(&z, n, 2, 1, 4, 4));
    fc_cond_flow cf = {f, &y};
    fc_target t;
    fc_cond_flow_target_init(&t, &cf, n);
    x_lane xl = {t, l, &y};
    double ld[4];
    NF_ASSERT_OK(x_lane_forward(&xl, &x, &z, ld)); /* the ActNorms' init */
    nf_rng rng;
    nf_rng_seed(&rng, 9);
    size_t off, cnt;
    NF_ASSERT_OK(nf_cond_hint_conv_part(l, 0, NF_CHC_ANX, &off, &cnt));
    for (size_t i = 0; i < cnt; i++) l->param[off + i] = 0;
    for (int part = NF_CHC_HX; part <= NF_CHC_A; part++) {
        NF_ASSERT_OK(nf_cond_hint_conv_part(l, 0, part, &off, &cnt));
        for (size_t i = 0; i < cnt; i++) l->param[off + i] += 3 * nf_rng_normal(&rng);
    }
    NF_ASSERT_OK(x_lane_forward(&xl, &x, &z, ld));
    double lo = ld[0];
    for (int b = 1; b < n; b++) lo = fmin(lo, ld[b]);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&z);
    nf_flow_destroy(f);
    return lo;
}

/* The spec's floor reaches every coupling of both trees and of x's coupling on y: with
 * floor=0.5 no value of x is scaled below 1/2 (the 16 values of channel 0 in the tree's
 * coupling and all 32 in A: 48 scales), while the default floor 0.001 lets the same
 * weights go far below that bound (so the check can fail). */
static void test_cond_hint_conv_floor(void **state) {
    double bound = 48 * log(0.5);
    double half = pinned_x_logdet("cond_hint_conv(hidden=2,steps=1,floor=0.5)");
    double deflt = pinned_x_logdet("cond_hint_conv(hidden=2,steps=1)");
    printf("pinned log|det dzx/dx|: floor 0.5 %g, default floor %g, bound %g\n", half, deflt, bound);
    if (!(half >= bound - 1e-9 && deflt < bound - 10))
        fail_msg("floor 0.5: %g (bound %g), floor 0.001: %g", half, bound, deflt);
    nf_flow *f = NULL;
    nf_shape xs = {1, 2, 1, 4, 4};
    NF_ASSERT_FAILS(nf_sequential_from_spec_cond(&f, xs, xs, "cond_hint_conv(floor=1)", 3), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "floor must be in (0, 1)"));
    NF_ASSERT_FAILS(nf_sequential_from_spec_cond(&f, xs, xs, "cond_hint_conv(floor=0)", 3), NF_ERR_ARG);
    assert_null(f);
}

/* One clear message for each shape that cannot work. */
static void test_cond_hint_conv_refusals(void **state) {
    nf_layer *l = NULL;
    nf_shape x1 = {1, 1, 1, 4, 4}, x2 = {1, 2, 1, 4, 4}, y1 = {1, 1, 1, 4, 4}, y2 = {1, 2, 1, 4, 4},
             yo = {1, 2, 1, 2, 2};
    NF_ASSERT_FAILS(nf_cond_hint_conv_create(&l, x1, y2, 4, 2, 0.1), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "x needs at least 2 channels"));
    NF_ASSERT_FAILS(nf_cond_hint_conv_create(&l, x2, y1, 4, 2, 0.1), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "condition needs at least 2 channels"));
    NF_ASSERT_FAILS(nf_cond_hint_conv_create(&l, x2, yo, 4, 2, 0.1), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "y needs x's spatial size"));
    NF_ASSERT_FAILS(nf_cond_hint_conv_create(&l, x2, y2, 4, 0, 0.1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_cond_hint_conv_create(&l, x2, y2, 0, 2, 0.1), NF_ERR_ARG);
    assert_null(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_hint_conv_flows),
        cmocka_unit_test(test_cond_hint_conv_dcond),
        cmocka_unit_test(test_cond_hint_conv_floor),
        cmocka_unit_test(test_cond_hint_conv_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
