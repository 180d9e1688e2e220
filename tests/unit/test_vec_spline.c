/* The rational-quadratic spline coupling in float: the spline itself (monotone,
 * continuous, identity tails, inverse), the layer's invertibility and rebuild with
 * values inside and outside the bound, the identity start, and bad input. */
#include "test_vec_common.h"

#include "layers/rq_spline.h"

static void random_raw(nf_real *raw, int K, uint64_t seed) {
    nf_rng r;
    nf_rng_seed(&r, seed);
    for (int i = 0; i < nf_rqs_raw_count(K); i++) raw[i] = (nf_real)(1.5 * nf_rng_normal(&r));
}

static void test_spline_function(void **state) {
    int K = 8;
    double B = 3;
    nf_real raw[3 * NF_SPLINE_MAX_BINS];
    random_raw(raw, K, 1);
    double prev = -INFINITY;
    for (int i = -500; i <= 500; i++) {
        double x = i * 0.01, y, ld;
        nf_rqs_forward(raw, K, B, x, &y, &ld);
        assert_true(y > prev);                                 /* monotone */
        if (fabs(x) > B) assert_true(y == x && ld == 0);       /* identity tails */
        if (i > -500) assert_true(y - prev < 0.01 * 200);      /* no jumps */
        assert_true(fabs(nf_rqs_inverse(raw, K, B, y) - x) < 1e-9);
        prev = y;
    }
    double y, ld;
    nf_rqs_forward(raw, K, B, -B, &y, &ld);
    assert_true(fabs(y + B) < 1e-12); /* the ends are fixed */
    nf_rqs_forward(raw, K, B, B, &y, &ld);
    assert_true(fabs(y - B) < 1e-12);
    nf_real zero[3 * 8] = {0}; /* raw zeros: the identity */
    for (double x = -2.9; x < 3; x += 0.37) {
        nf_rqs_forward(zero, K, B, x, &y, &ld);
        assert_true(fabs(y - x) < 1e-12 && fabs(ld) < 1e-12);
    }
}

static void test_invertible(void **state) {
    nf_shape shapes[] = {{9, 2, 1, 1, 1}, {6, 5, 1, 1, 1}};
    nf_mlp_spec net = {3, {16, 16, 16}, NF_ACT_LEAKY_RELU};
    for (int s = 0; s < 2; s++)
        for (int parity = 0; parity < 2; parity++) {
            nf_layer *l;
            NF_ASSERT_OK(nf_spline_create(&l, shapes[s], net, 8, 2.0, parity)); /* inputs ~N(0, 1.5^2) pass the bound */
            fc_layer_target lt;
            vt_target(&lt, l, shapes[s], 0.25, 10 * s + parity); /* larger gives slopes of e^-10, ill-conditioned in float */
            vt_invertible_on(&lt, 10 * s + parity);
            nf_tensor x = vt_input(&lt, 1.5, 7), y = vt_input(&lt, 1.0, 8);
            double ld[9];
            NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
            assert_true(fc_rel_diff(y.data, x.data, nf_tensor_count(&x)) > 0.05); /* far from the identity */
            nf_tensor_free(&x), nf_tensor_free(&y);
            fc_layer_target_free(&lt);
        }
}

static void test_identity_start(void **state) {
    nf_shape in = {5, 4, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_spline_create(&l, in, nf_mlp_spec_uniform(16, 3, NF_ACT_LEAKY_RELU), 8, 3, 1));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 3));
    nf_tensor x = vt_batch(5, 4, 1.0, 1), y = vt_batch(5, 4, 1.0, 2);
    double ld[5];
    NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    assert_true(fc_rel_diff(y.data, x.data, 20) < 1e-6 && fabs(ld[0]) < 1e-5);
    /* 2 conditioners -> 16 -> 16 -> 16 -> 2 values x 23 raw */
    assert_int_equal(l->nparams, 16 * 3 + 2 * 16 * 17 + 46 * 17);
    nf_tensor_free(&x), nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape in = {3, 4, 1, 1, 1}, one = {1, 1, 1, 1, 1};
    nf_mlp_spec net = nf_mlp_spec_uniform(8, 2, NF_ACT_TANH);
    NF_ASSERT_FAILS(nf_spline_create(&l, in, net, 1, 3, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_spline_create(&l, in, net, NF_SPLINE_MAX_BINS + 1, 3, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_spline_create(&l, in, net, 8, 0, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_spline_create(&l, in, net, 8, INFINITY, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_spline_create(&l, in, net, 8, 3, -1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_spline_create(&l, one, net, 8, 3, 0), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_spline_create(NULL, in, net, 8, 3, 0), NF_ERR_ARG);
    NF_ASSERT_OK(nf_spline_create(&l, in, net, 8, 3, 0));
    vt_check_bad_tensors(l, in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spline_function),
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_identity_start),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
