/* RealNVP and NICE vector couplings in float: invertibility and rebuild, the mask
 * (conditioner values pass unchanged, parities alternate), identity start, bad input. */
#include "test_vec_common.h"

static const nf_mlp_spec NET = {3, {24, 24, 24}, NF_ACT_LEAKY_RELU};

static void test_invertible(void **state) {
    nf_shape shapes[] = {{9, 2, 1, 1, 1}, {6, 5, 1, 1, 1}, {4, 2, 1, 2, 2}};
    for (int s = 0; s < 3; s++)
        for (int parity = 0; parity < 2; parity++) {
            nf_layer *l;
            NF_ASSERT_OK(nf_realnvp_create(&l, shapes[s], NET, parity, 0));
            vt_check_invertible(l, shapes[s], 0.3, 10 * s + parity);
            NF_ASSERT_OK(nf_nice_create(&l, shapes[s], NET, parity));
            vt_check_invertible(l, shapes[s], 0.3, 10 * s + parity + 5);
            NF_ASSERT_OK(nf_realnvp_create(&l, shapes[s], NET, parity, 1.5));
            vt_check_invertible(l, shapes[s], 0.5, 10 * s + parity + 7);
        }
}

/* The clamp bounds each value's log-scale by clamp: the logdet of a layer whose s net
 * is driven hard stays within D_b * clamp. */
static void test_clamp_bounds_the_scale(void **state) {
    nf_shape in = {8, 4, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_realnvp_create(&l, in, NET, 0, 0.5));
    fc_layer_target lt;
    vt_target(&lt, l, in, 3.0, 2); /* huge weights: s_raw far beyond the clamp */
    nf_tensor x = vt_batch(8, 4, 3.0, 1), y = vt_batch(8, 4, 1.0, 2);
    double ld[8], most = 0;
    NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    for (int b = 0; b < 8; b++) most = fmax(most, fabs(ld[b]));
    assert_true(most <= 2 * 0.5 + 1e-6 && most > 0.5); /* 2 transformed values */
    nf_tensor_free(&x), nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

/* Values with i % 2 == parity pass unchanged; the others change. Zero-initialised
 * last layers make a fresh coupling the identity. */
static void test_mask_and_identity_start(void **state) {
    nf_shape in = {4, 5, 1, 1, 1};
    for (int parity = 0; parity < 2; parity++) {
        nf_layer *l;
        NF_ASSERT_OK(nf_realnvp_create(&l, in, NET, parity, 0));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 3));
        nf_tensor x = vt_batch(4, 5, 1.0, 1), y = vt_batch(4, 5, 1.0, 2);
        double ld[4];
        NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
        assert_true(fc_rel_diff(y.data, x.data, 20) == 0 && ld[0] == 0);
        nf_rng rng;
        nf_rng_seed(&rng, 4);
        fc_perturb_params(&lt.t, &rng, 0.3);
        NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
        for (int b = 0; b < 4; b++)
            for (int i = 0; i < 5; i++) {
                int same = y.data[b * 5 + i] == x.data[b * 5 + i];
                assert_int_equal(same, i % 2 == parity);
            }
        assert_true(ld[0] != 0);
        nf_tensor_free(&x), nf_tensor_free(&y);
        fc_layer_target_free(&lt);
    }
}

static void test_parameter_count_and_blocks(void **state) {
    nf_shape in = {1, 2, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_realnvp_create(&l, in, NET, 0, 0));
    /* two 1 -> 24 -> 24 -> 24 -> 1 nets, as the tutorial's AffineHalfFlow on 2-D data */
    assert_int_equal(l->nparams, 2 * 1273);
    nf_param_block b[4];
    assert_int_equal(l->ops->param_blocks(l, b, 4), 2);
    assert_string_equal(b[0].name, "s_net");
    assert_string_equal(b[1].name, "t_net");
    assert_int_equal(b[1].offset, 1273);
    nf_layer_destroy(l);
    NF_ASSERT_OK(nf_nice_create(&l, in, NET, 1));
    assert_int_equal(l->nparams, 1273);
    assert_int_equal(l->ops->param_blocks(l, b, 4), 1);
    nf_layer_destroy(l);
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape one = {1, 1, 1, 1, 1}, in = {3, 4, 1, 1, 1};
    NF_ASSERT_FAILS(nf_realnvp_create(&l, one, NET, 0, 0), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_realnvp_create(&l, in, NET, 2, 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_realnvp_create(&l, in, NET, 0, -1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_realnvp_create(&l, in, NET, 0, NAN), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_nice_create(NULL, in, NET, 0), NF_ERR_ARG);
    nf_mlp_spec deep = nf_mlp_spec_uniform(4, NF_MLP_MAX_HIDDEN + 1, NF_ACT_RELU);
    NF_ASSERT_FAILS(nf_realnvp_create(&l, in, deep, 0, 0), NF_ERR_ARG);
    nf_mlp_spec zero = nf_mlp_spec_uniform(0, 2, NF_ACT_RELU);
    NF_ASSERT_FAILS(nf_nice_create(&l, in, zero, 0), NF_ERR_ARG);
    NF_ASSERT_OK(nf_realnvp_create(&l, in, NET, 1, 0));
    vt_check_bad_tensors(l, in);
    /* a workspace sized for a smaller batch is refused */
    NF_ASSERT_OK(nf_realnvp_create(&l, in, NET, 1, 0));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor big = vt_batch(30, 4, 1.0, 1);
    double ld[30];
    NF_ASSERT_FAILS(nf_layer_forward(l, &big, ld, &lt.ctx), NF_ERR_ARG);
    nf_tensor_free(&big);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_mask_and_identity_start),
        cmocka_unit_test(test_clamp_bounds_the_scale),
        cmocka_unit_test(test_parameter_count_and_blocks),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
