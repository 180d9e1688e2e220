/* HINT in float: invertibility and rebuild for sizes that are and are not powers of
 * two (recursion depths 0 to 2), the number of couplings, identity start, bad input. */
#include "test_vec_common.h"

static const nf_mlp_spec NET = {2, {16, 16}, NF_ACT_LEAKY_RELU};

static void test_invertible_any_size(void **state) {
    int sizes[] = {2, 3, 4, 5, 7, 8, 13, 16};
    for (int s = 0; s < 8; s++) {
        nf_shape in = {6, sizes[s], 1, 1, 1};
        nf_layer *l;
        NF_ASSERT_OK(nf_hint_create(&l, in, NET));
        fc_layer_target lt;
        vt_target(&lt, l, in, 0.2, (uint64_t)s); /* at 0.3, D = 16 reaches logdet 15 and |y| 130: ill-conditioned in float */
        vt_invertible_on(&lt, (uint64_t)s);
        nf_tensor x = vt_input(&lt, 1.0, 3), y = vt_input(&lt, 1.0, 4);
        double ld[6];
        NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
        assert_true(fc_rel_diff(y.data, x.data, nf_tensor_count(&x)) > 0.05); /* not the identity */
        /* the last value is transformed at every level; the first passes through */
        for (int b = 0; b < 6; b++) assert_true(y.data[b * sizes[s]] == x.data[b * sizes[s]]);
        nf_tensor_free(&x), nf_tensor_free(&y);
        fc_layer_target_free(&lt);
    }
}

/* One coupling for D <= 4, then one per node: D = 5 -> 3 (a 2|3 root over 1|1 and 1|2
 * leaves), 8 -> 3, 16 -> 7; and a fresh layer is the identity. */
static void test_structure(void **state) {
    int sizes[] = {2, 4, 5, 8, 16};
    for (int s = 0; s < 5; s++) {
        nf_shape in = {1, sizes[s], 1, 1, 1};
        nf_layer *l;
        NF_ASSERT_OK(nf_hint_create(&l, in, (nf_mlp_spec){0, {0}, NF_ACT_IDENTITY}));
        /* with no hidden layer, a coupling ma -> mb has 2 (mb ma + mb) parameters */
        size_t want = 0;
        if (sizes[s] <= 4) want = 2 * (size_t)(sizes[s] - sizes[s] / 2) * (sizes[s] / 2 + 1);
        if (sizes[s] == 5) want = 2 * 3 * 3 + 2 * 1 * 2 + 2 * 2 * 2; /* 2|3 root, 1|1 leaf, 1|2 leaf */
        if (sizes[s] == 8) want = 2 * 4 * 5 + 2 * (2 * 2 * 3);
        if (sizes[s] == 16) want = 2 * 8 * 9 + 2 * (2 * 4 * 5) + 4 * (2 * 2 * 3);
        assert_int_equal(l->nparams, want);
        nf_layer_destroy(l);
    }
    nf_shape in = {3, 6, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_hint_create(&l, in, NET));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_tensor x = vt_batch(3, 6, 1.0, 1), y = vt_batch(3, 6, 1.0, 2);
    double ld[3];
    NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    assert_true(fc_rel_diff(y.data, x.data, 18) == 0 && ld[0] == 0); /* identity start */
    nf_tensor_free(&x), nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape one = {1, 1, 1, 1, 1}, in = {3, 9, 1, 1, 1};
    NF_ASSERT_FAILS(nf_hint_create(&l, one, NET), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_hint_create(&l, in, nf_mlp_spec_uniform(8, 99, NF_ACT_RELU)), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_hint_create(NULL, in, NET), NF_ERR_ARG);
    NF_ASSERT_OK(nf_hint_create(&l, in, NET));
    vt_check_bad_tensors(l, in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible_any_size),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
