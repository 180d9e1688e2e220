/* The learned prior layer in float32: its log-density is that of N(m, exp(ls)^2) with
 * (m, ls) computed by the reference convolution, its inverse draws from that Gaussian
 * (temperature scaling the spread), and bad shapes are refused. */
#include "nftest.h"

#include "kernels/conv2d.h"

/* A prior on in with its parameters set to scale * N(0, 1). */
static fc_layer_target make_prior(nf_shape in, int conditioned, double scale) {
    nf_layer *l;
    NF_ASSERT_OK(nf_prior_create(&l, in, conditioned));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_rng r;
    nf_rng_seed(&r, 3);
    for (size_t i = 0; i < l->nparams; i++) l->param[i] = (nf_real)(scale * nf_rng_normal(&r));
    return lt;
}

/* log N(xb; m, exp(ls)^2) summed per sample, with (m, ls) from conv2d_ref on xa, against
 * log N(yb; 0, I) + logdet from the layer; xa passes unchanged. */
static void test_log_density_is_the_gaussian(void **state) {
    nf_shape in = {3, 5, 1, 4, 4};
    fc_layer_target lt = make_prior(in, 1, 0.3);
    nf_layer *l = lt.layer;
    int ca = 2, cb = 3, hw = 16;
    nf_tensor x = nftest_randn(in.n, in.c, 1, 4, 4, 7), y = nftest_randn(in.n, in.c, 1, 4, 4, 7);
    double ld[3] = {0, 0, 0};
    NF_ASSERT_OK(nf_layer_forward(l, &y, ld, &lt.ctx));
    nf_real *xa = malloc(sizeof(nf_real) * in.n * ca * hw), *out = malloc(sizeof(nf_real) * in.n * 2 * cb * hw);
    for (int b = 0; b < in.n; b++) memcpy(xa + b * ca * hw, x.data + b * in.c * hw, sizeof(nf_real) * ca * hw);
    const nf_real *weight = l->param, *bias = l->param + 2 * cb * ca * 9;
    nf_conv2d_forward_ref(out, xa, weight, bias, in.n, ca, 2 * cb, 4, 4, 3);
    for (int b = 0; b < in.n; b++) {
        double want = 0, got = ld[b];
        for (int k = 0; k < ca * hw; k++) assert_true(y.data[b * in.c * hw + k] == x.data[b * in.c * hw + k]);
        for (int c = 0; c < cb; c++)
            for (int p = 0; p < hw; p++) {
                double m = out[(b * 2 * cb + c) * hw + p], ls = out[(b * 2 * cb + cb + c) * hw + p];
                double xv = x.data[(b * in.c + ca + c) * hw + p], yv = y.data[(b * in.c + ca + c) * hw + p];
                want += -0.5 * (xv - m) * (xv - m) * exp(-2 * ls) - ls;
                got += -0.5 * yv * yv;
            }
        if (fabs(got - want) > 1e-4 * (1 + fabs(want))) fail_msg("sample %d: layer %g, Gaussian %g", b, got, want);
    }
    free(xa), free(out);
    nf_tensor_free(&x), nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

/* inverse(T * eps), eps ~ N(0, I): per channel mean m and standard deviation T exp(ls). */
static void check_draws(int conditioned) {
    const int n = 4000, c = 4, cb = conditioned ? 2 : 4, T10 = 7;
    nf_shape in = {n, c, 1, 2, 2};
    fc_layer_target lt = make_prior(in, conditioned, 0);
    nf_layer *l = lt.layer;
    nf_real *bias = l->param + (conditioned ? 2 * cb * (c - cb) * 9 : 0);
    for (int k = 0; k < cb; k++) bias[k] = (nf_real)(k - 1.5), bias[cb + k] = (nf_real)(0.3 * k - 0.4);
    nf_tensor y = nftest_randn(n, c, 1, 2, 2, 11);
    for (size_t i = 0; i < nf_tensor_count(&y); i++) y.data[i] *= (nf_real)(T10 / 10.0);
    NF_ASSERT_OK(nf_layer_inverse(l, &y, &lt.ctx));
    for (int k = 0; k < cb; k++) {
        double s1 = 0, s2 = 0, cnt = (double)n * 4;
        for (int b = 0; b < n; b++)
            for (int p = 0; p < 4; p++) {
                double v = y.data[(b * c + (c - cb) + k) * 4 + p];
                s1 += v, s2 += v * v;
            }
        double mean = s1 / cnt, sd = sqrt(s2 / cnt - mean * mean), want_sd = T10 / 10.0 * exp(0.3 * k - 0.4);
        if (fabs(mean - (k - 1.5)) > 0.05 || fabs(sd / want_sd - 1) > 0.03)
            fail_msg("channel %d: mean %g (want %g), sd %g (want %g)", k, mean, k - 1.5, sd, want_sd);
    }
    nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

static void test_draws_follow_the_prior(void **state) {
    check_draws(0);
    check_draws(1);
}

static void test_bad_shapes(void **state) {
    nf_layer *l = NULL;
    NF_ASSERT_FAILS(nf_prior_create(NULL, (nf_shape){1, 2, 1, 2, 2}, 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_prior_create(&l, (nf_shape){1, 1, 1, 2, 2}, 1), NF_ERR_SHAPE); /* nothing to condition on */
    assert_null(l);
    NF_ASSERT_FAILS(nf_prior_create(&l, (nf_shape){1, 0, 1, 2, 2}, 0), NF_ERR_SHAPE);
    NF_ASSERT_OK(nf_prior_create(&l, (nf_shape){1, 1, 1, 2, 2}, 0)); /* a top prior of one channel is fine */
    assert_int_equal(l->nparams, 2);
    nf_layer_destroy(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_density_is_the_gaussian),
        cmocka_unit_test(test_draws_follow_the_prior),
        cmocka_unit_test(test_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
