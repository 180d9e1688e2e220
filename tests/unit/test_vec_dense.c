/* Dense kernels (float): the GEMM kernels agree with the reference loops, activations
 * and their output-based derivatives, and the MLP helper's shapes and initialisation. */
#include "nftest.h"

#include "kernels/dense.h"
#include "layers/mlp.h"

static nf_real *randn(size_t n, uint64_t seed) {
    nf_real *p = malloc(n * sizeof(nf_real));
    nf_rng r;
    nf_rng_seed(&r, seed);
    nf_rng_fill_normal(&r, p, n, 1.0);
    return p;
}

static void test_fast_matches_reference(void **state) {
    int shapes[][3] = {{1, 1, 1}, {7, 3, 5}, {128, 2, 24}, {64, 24, 24}, {33, 24, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
        nf_real *x = randn((size_t)n * k, 1), *W = randn((size_t)m * k, 2), *b = randn(m, 3);
        nf_real *dout = randn((size_t)n * m, 4);
        nf_real *o1 = randn((size_t)n * m, 5), *o2 = randn((size_t)n * m, 5);
        nf_dense_forward(o1, x, W, b, n, k, m);
        nf_dense_forward_ref(o2, x, W, b, n, k, m);
        assert_true(fc_rel_diff(o1, o2, (size_t)n * m) < 1e-5);
        nf_dense_forward(o1, x, W, NULL, n, k, m);
        nf_dense_forward_ref(o2, x, W, NULL, n, k, m);
        assert_true(fc_rel_diff(o1, o2, (size_t)n * m) < 1e-5);
        for (int acc = 0; acc < 2; acc++) {
            nf_real *d1 = randn((size_t)n * k, 6), *d2 = randn((size_t)n * k, 6);
            nf_dense_backward_data(d1, dout, W, n, k, m, acc);
            nf_dense_backward_data_ref(d2, dout, W, n, k, m, acc);
            assert_true(fc_rel_diff(d1, d2, (size_t)n * k) < 1e-5);
            free(d1);
            free(d2);
        }
        nf_real *g1 = randn((size_t)m * k, 7), *g2 = randn((size_t)m * k, 7);
        nf_real *b1 = randn(m, 8), *b2 = randn(m, 8);
        nf_dense_backward_weights(g1, b1, dout, x, n, k, m);
        nf_dense_backward_weights_ref(g2, b2, dout, x, n, k, m);
        assert_true(fc_rel_diff(g1, g2, (size_t)m * k) < 1e-5);
        assert_true(fc_rel_diff(b1, b2, m) < 1e-5);
        free(x), free(W), free(b), free(dout), free(o1), free(o2), free(g1), free(g2), free(b1), free(b2);
    }
}

static void test_activations(void **state) {
    nf_real x[5] = {-2, -0.5f, 0.25f, 1, 3};
    nf_real y[5], d[5];
    nf_activation acts[] = {NF_ACT_IDENTITY, NF_ACT_RELU, NF_ACT_LEAKY_RELU, NF_ACT_TANH};
    for (int a = 0; a < 4; a++) {
        memcpy(y, x, sizeof y);
        nf_act_forward(y, 5, acts[a]);
        for (int i = 0; i < 5; i++) d[i] = 1;
        nf_act_backward(d, y, 5, acts[a]);
        for (int i = 0; i < 5; i++) {
            double want, dwant;
            switch (acts[a]) {
            case NF_ACT_RELU: want = x[i] > 0 ? x[i] : 0, dwant = x[i] > 0; break;
            case NF_ACT_LEAKY_RELU: want = x[i] > 0 ? x[i] : 0.2 * x[i], dwant = x[i] > 0 ? 1 : 0.2; break;
            case NF_ACT_TANH: want = tanh(x[i]), dwant = 1 - tanh(x[i]) * tanh(x[i]); break;
            default: want = x[i], dwant = 1;
            }
            assert_true(fabs(y[i] - want) < 1e-6);
            assert_true(fabs(d[i] - dwant) < 1e-5);
        }
    }
    assert_string_equal(nf_activation_name(NF_ACT_LEAKY_RELU), "leakyrelu");
    assert_null(nf_activation_name((nf_activation)42));
}

static void test_mlp_shapes_and_init(void **state) {
    nf_mlp m;
    NF_ASSERT_OK(nf_mlp_setup(&m, "test", 1, nf_mlp_spec_uniform(24, 3, NF_ACT_LEAKY_RELU), 1));
    /* 1->24->24->24->1: the tutorials' net, 1249 parameters as in torch */
    assert_int_equal(nf_mlp_nparams(&m), 24 * 2 + 24 * 25 * 2 + 25);
    nf_real *p = calloc(nf_mlp_nparams(&m), sizeof(nf_real));
    nf_rng rng;
    nf_rng_seed(&rng, 3);
    nf_mlp_init(&m, p, &rng, 1);
    size_t last = nf_mlp_nparams(&m) - 25;
    for (size_t i = last; i < nf_mlp_nparams(&m); i++) assert_true(p[i] == 0);
    for (size_t i = 0; i < 48; i++) assert_true(fabs(p[i]) <= 1.0 && p[i] != 0); /* U(-1/sqrt(1), 1/sqrt(1)) */
    for (size_t i = 48; i < 48 + 600; i++) assert_true(fabs(p[i]) <= 1.0 / sqrt(24.0) + 1e-7);
    /* a zero last layer gives a zero output */
    nf_real x[3] = {0.5f, -1, 2}, *acts = malloc(nf_mlp_acts_count(&m, 3) * sizeof(nf_real));
    nf_real *scr = malloc(nf_mlp_scratch_count(&m, 3) * sizeof(nf_real));
    nf_real *out = nf_mlp_forward(&m, p, x, 3, acts, scr);
    for (int i = 0; i < 3; i++) assert_true(out[i] == 0);
    char buf[32];
    nf_mlp_spec_format(nf_mlp_spec_uniform(24, 3, NF_ACT_RELU), buf, sizeof buf);
    assert_string_equal(buf, "24x3");
    nf_mlp_spec s = {2, {8, 16}, NF_ACT_TANH};
    nf_mlp_spec_format(s, buf, sizeof buf);
    assert_string_equal(buf, "8-16");
    free(p), free(acts), free(scr);
}

static void test_mlp_bad_specs(void **state) {
    nf_mlp m;
    NF_ASSERT_FAILS(nf_mlp_setup(&m, "test", 2, nf_mlp_spec_uniform(24, NF_MLP_MAX_HIDDEN + 1, NF_ACT_RELU), 1),
                    NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_mlp_setup(&m, "test", 2, nf_mlp_spec_uniform(0, 2, NF_ACT_RELU), 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_mlp_setup(&m, "test", 2, nf_mlp_spec_uniform(4, 2, (nf_activation)9), 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_mlp_setup(&m, "test", 0, nf_mlp_spec_uniform(4, 2, NF_ACT_RELU), 1), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "test"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_matches_reference),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_mlp_shapes_and_init),
        cmocka_unit_test(test_mlp_bad_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
