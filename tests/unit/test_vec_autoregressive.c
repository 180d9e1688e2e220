/* MAF and IAF in float: invertibility and rebuild (both orders, several D), the
 * autoregressive structure of MADE (output i ignores inputs at or after i), the
 * identity start, and bad input. */
#include "test_vec_common.h"

#include "layers/made.h"

static const nf_mlp_spec NET = {3, {24, 24, 24}, NF_ACT_RELU};

static void test_invertible(void **state) {
    nf_shape shapes[] = {{9, 2, 1, 1, 1}, {6, 5, 1, 1, 1}, {5, 1, 1, 1, 1}};
    for (int s = 0; s < 3; s++)
        for (int parity = 0; parity < 2; parity++) {
            nf_layer *l;
            NF_ASSERT_OK(nf_maf_create(&l, shapes[s], NET, parity));
            vt_check_invertible(l, shapes[s], 0.2, 10 * s + parity);
            NF_ASSERT_OK(nf_iaf_create(&l, shapes[s], NET, parity));
            vt_check_invertible(l, shapes[s], 0.2, 10 * s + parity + 5);
        }
}

/* Changing input j changes (s_i, t_i) only for inputs after j in the order. */
static void test_made_is_autoregressive(void **state) {
    for (int reverse = 0; reverse < 2; reverse++) {
        nf_made m;
        int D = 5, n = 1;
        NF_ASSERT_OK(nf_made_setup(&m, "test", D, (nf_mlp_spec){2, {7, 9}, NF_ACT_TANH}, reverse));
        size_t np = nf_mlp_nparams(&m.net);
        nf_real *p = malloc(np * sizeof(nf_real));
        nf_rng rng;
        nf_rng_seed(&rng, 1);
        for (size_t i = 0; i < np; i++) p[i] = (nf_real)nf_rng_normal(&rng);
        nf_real *acts = malloc(nf_mlp_acts_count(&m.net, n) * sizeof(nf_real));
        nf_real *scr = malloc(nf_mlp_scratch_count(&m.net, n) * sizeof(nf_real));
        nf_real x[5] = {0.3f, -1, 0.7f, 2, -0.4f}, base[10];
        memcpy(base, nf_mlp_forward(&m.net, p, x, n, acts, scr), sizeof base);
        for (int j = 0; j < D; j++) {
            nf_real keep = x[j];
            x[j] += 1;
            const nf_real *out = nf_mlp_forward(&m.net, p, x, n, acts, scr);
            for (int i = 0; i < D; i++) {
                int after = nf_made_degree(&m, i) > nf_made_degree(&m, j);
                for (int h = 0; h < 2; h++) {
                    int changed = out[h * D + i] != base[h * D + i];
                    if (!after && changed) fail_msg("output %d (%d) reads input %d", i, h, j); /* never reads j */
                }
                if (after) assert_true(out[i] != base[i] || out[D + i] != base[D + i]); /* and does read it */
            }
            x[j] = keep;
        }
        free(p), free(acts), free(scr);
        nf_made_free(&m);
    }
}

static void test_identity_start_and_blocks(void **state) {
    nf_shape in = {4, 3, 1, 1, 1};
    nf_layer *l;
    NF_ASSERT_OK(nf_maf_create(&l, in, NET, 0));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 3));
    nf_tensor x = vt_batch(4, 3, 1.0, 1), y = vt_batch(4, 3, 1.0, 2);
    double ld[4];
    NF_ASSERT_OK(lt.t.forward(&lt, &x, &y, ld));
    assert_true(fc_rel_diff(y.data, x.data, 12) == 0 && ld[0] == 0);
    nf_param_block b[2];
    assert_int_equal(l->ops->param_blocks(l, b, 2), 1);
    assert_string_equal(b[0].name, "made");
    /* 3 -> 24 -> 24 -> 24 -> 6 */
    assert_int_equal(l->nparams, 24 * 4 + 2 * 24 * 25 + 6 * 25);
    nf_tensor_free(&x), nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape in = {3, 4, 1, 1, 1}, bad = {1, 4, 0, 1, 1};
    NF_ASSERT_FAILS(nf_maf_create(&l, in, NET, 3), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_iaf_create(&l, bad, NET, 0), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_maf_create(&l, in, nf_mlp_spec_uniform(-3, 1, NF_ACT_RELU), 0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_iaf_create(NULL, in, NET, 0), NF_ERR_ARG);
    NF_ASSERT_OK(nf_maf_create(&l, in, NET, 1));
    vt_check_bad_tensors(l, in);
    NF_ASSERT_OK(nf_iaf_create(&l, in, NET, 0));
    vt_check_bad_tensors(l, in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_made_is_autoregressive),
        cmocka_unit_test(test_identity_start_and_blocks),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
