/* Affine and additive image couplings in float32: invertibility and rebuild by
 * backward (even, odd and 1x1 shapes), the identity-like start, one sub-network
 * forward per call, no allocation in the hot path, parameter blocks, bad input. */
#include "nftest.h"

#include "layers/coupling_subnet.h" /* nf_subnet_forward_count */

typedef nf_status (*create_fn)(nf_layer **out, nf_shape in, int hidden);
static const create_fn creators[2] = {nf_coupling_affine_create, nf_coupling_additive_create};

static void test_invertible(void **state) {
    nf_shape shapes[5] = {{4, 4, 1, 8, 8}, {2, 3, 1, 4, 4}, {150, 2, 1, 1, 1},
                          {3, 4, 4, 4, 4}, {2, 3, 3, 2, 5}}; /* volumes: 3-D convs */
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 5; s++) {
            nf_shape in = shapes[s];
            nf_layer *l;
            NF_ASSERT_OK(creators[k](&l, in, 8));
            fc_layer_target lt;
            NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
            nf_rng rng;
            nf_rng_seed(&rng, 3);
            fc_perturb_params(&lt.t, &rng, 0.1); /* a non-zero last conv: a real transform */
            nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 7 + s), y;
            NF_ASSERT_OK(nf_tensor_alloc(&y, in.n, in.c, in.d, in.h, in.w));
            double *ld = calloc((size_t)in.n, sizeof(double));
            NF_ASSERT_OK(lt.t.forward(lt.t.self, &x, &y, ld));
            assert_true(fc_rel_diff(y.data, x.data, nf_tensor_count(&x)) > 0.05);
            double ei = fc_inverse_error(&lt.t, &x), er = fc_rebuild_error(&lt.t, &x);
            if (ei > 1e-5 || er > 1e-5)
                fail_msg("%s on (%d, %d, %d, %d, %d): inverse error %g, rebuild error %g", l->ops->name, in.n, in.c,
                         in.d, in.h, in.w, ei, er);
            free(ld);
            nf_tensor_free(&x);
            nf_tensor_free(&y);
            fc_layer_target_free(&lt);
        }
}

/* With the last conv zero, NN = 0: affine scales xa by eps + (1 - eps) sigmoid(2),
 * additive is the identity. */
static void test_initial_step(void **state) {
    nf_shape in = {3, 5, 1, 4, 3};
    int ca = 2, hw = 12;
    for (int k = 0; k < 2; k++) {
        nf_layer *l;
        NF_ASSERT_OK(creators[k](&l, in, 6));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor x = nftest_randn(3, 5, 1, 4, 3, 2), y;
        NF_ASSERT_OK(nf_tensor_alloc(&y, 3, 5, 1, 4, 3));
        double ld[3];
        NF_ASSERT_OK(lt.t.forward(lt.t.self, &x, &y, ld));
        double eps = NF_COUPLING_MIN_SCALE;
        double s = k == 0 ? eps + (1 - eps) / (1.0 + exp(-2.0)) : 1.0;
        for (int b = 0; b < 3; b++) {
            for (int i = 0; i < 5 * hw; i++) {
                double want = (i < ca * hw ? s : 1.0) * x.data[b * 5 * hw + i];
                assert_true(fabs(y.data[b * 5 * hw + i] - want) <= 1e-6);
            }
            assert_true(fabs(ld[b] - ca * hw * log(s)) <= 1e-4);
        }
        nf_tensor_free(&x);
        nf_tensor_free(&y);
        fc_layer_target_free(&lt);
    }
}

/* forward, inverse and backward each run the sub-network exactly once, and none allocates. */
static void test_one_subnet_forward_no_alloc(void **state) {
    nf_shape in = {2, 4, 1, 5, 5};
    for (int k = 0; k < 2; k++) {
        nf_layer *l;
        NF_ASSERT_OK(creators[k](&l, in, 4));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor x = nftest_randn(2, 4, 1, 5, 5, 4), dy = nftest_randn(2, 4, 1, 5, 5, 5);
        double ld[2] = {0, 0};
        lt.ctx.dlogdet = -0.5;
        size_t before = nf_mem_current();
        nf_mem_reset_peak();
        unsigned long c0 = nf_subnet_forward_count();
        NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &lt.ctx));
        assert_int_equal(nf_subnet_forward_count() - c0, 1);
        NF_ASSERT_OK(nf_layer_backward(l, &x, &dy, &lt.ctx));
        assert_int_equal(nf_subnet_forward_count() - c0, 2);
        NF_ASSERT_OK(nf_layer_inverse(l, &x, &lt.ctx));
        assert_int_equal(nf_subnet_forward_count() - c0, 3);
        assert_true(nf_mem_peak() == before);
        nf_tensor_free(&x);
        nf_tensor_free(&dy);
        fc_layer_target_free(&lt);
    }
}

static size_t block_size(const nf_param_block *b) {
    size_t n = 1;
    for (int r = 0; r < b->rank; r++) n *= (size_t)b->dims[r];
    return n;
}

/* Volumes have rank-5 conv weights: (out, in, 3, 3, 3) and (out, in, 1, 1, 1). */
static void check_param_blocks(nf_shape in) {
    int vol = in.d > 1, rank = vol ? 5 : 4;
    for (int k = 0; k < 2; k++) {
        nf_layer *l;
        NF_ASSERT_OK(creators[k](&l, in, 6));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        int cout = k == 0 ? 4 : 2;
        nf_param_block want[6] = {{"conv1.weight", 0, rank, {6, 3, 3, 3, 3}}, {"conv1.bias", 0, 1, {6}},
                                  {"conv2.weight", 0, rank, {6, 6, 1, 1, 1}}, {"conv2.bias", 0, 1, {6}},
                                  {"conv3.weight", 0, rank, {cout, 6, 3, 3, 3}}, {"conv3.bias", 0, 1, {cout}}};
        nf_param_block got[16];
        assert_int_equal(l->ops->param_blocks(l, got, 16), 6);
        size_t off = 0;
        for (int b = 0; b < 6; b++) {
            assert_string_equal(got[b].name, want[b].name);
            assert_int_equal(got[b].rank, want[b].rank);
            for (int r = 0; r < want[b].rank; r++) assert_int_equal(got[b].dims[r], want[b].dims[r]);
            assert_int_equal(got[b].offset, off);
            assert_int_equal(got[b].frozen, 0);
            double sq = 0;
            for (size_t i = 0; i < block_size(&got[b]); i++) sq += l->param[off + i] * l->param[off + i];
            /* weights of conv1, conv2 random; biases and all of conv3 zero */
            if (b == 0 || b == 2) assert_true(sq > 0);
            else assert_true(sq == 0);
            off += block_size(&got[b]);
        }
        assert_int_equal(off, l->nparams);
        fc_layer_target_free(&lt);
    }
}

static void test_param_blocks(void **state) {
    check_param_blocks((nf_shape){1, 5, 1, 4, 4}); /* ca = 2, cb = 3 */
    check_param_blocks((nf_shape){1, 5, 2, 4, 4}); /* a volume */
}

static void test_bad_input(void **state) {
    for (int k = 0; k < 2; k++) {
        nf_layer *l = (nf_layer *)&l;
        NF_ASSERT_FAILS(creators[k](&l, (nf_shape){1, 1, 1, 4, 4}, 8), NF_ERR_SHAPE);
        assert_null(l);
        NF_ASSERT_FAILS(creators[k](&l, (nf_shape){1, 4, 0, 4, 4}, 8), NF_ERR_SHAPE);
        assert_non_null(strstr(nf_last_error(), "not positive"));
        NF_ASSERT_FAILS(creators[k](&l, (nf_shape){1, 4, 1, 0, 4}, 8), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(creators[k](&l, (nf_shape){1, 4, 1, 4, 4}, 0), NF_ERR_ARG);
        NF_ASSERT_FAILS(creators[k](&l, (nf_shape){1, 4, 1, 4, 4}, -3), NF_ERR_ARG);
        NF_ASSERT_FAILS(creators[k](NULL, (nf_shape){1, 4, 1, 4, 4}, 8), NF_ERR_ARG);

        nf_shape in = {2, 4, 1, 4, 4};
        NF_ASSERT_OK(creators[k](&l, in, 8));
        fc_layer_target lt;
        NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
        nf_tensor wrong = nftest_randn(2, 3, 1, 4, 4, 1), x = nftest_randn(2, 4, 1, 4, 4, 1);
        nf_tensor dy = nftest_randn(2, 4, 1, 4, 4, 2), big = nftest_randn(3, 4, 1, 4, 4, 1);
        double ld[3];
        NF_ASSERT_FAILS(nf_layer_forward(l, &wrong, ld, &lt.ctx), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(nf_layer_inverse(l, &wrong, &lt.ctx), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(nf_layer_backward(l, &x, &wrong, &lt.ctx), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(nf_layer_forward(l, NULL, ld, &lt.ctx), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_forward(l, &x, NULL, &lt.ctx), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, NULL), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_backward(l, &x, NULL, &lt.ctx), NF_ERR_ARG);
        /* the workspace was sized for 2 samples: 3 do not fit */
        NF_ASSERT_FAILS(nf_layer_forward(l, &big, ld, &lt.ctx), NF_ERR_ARG);
        nf_tensor_free(&wrong);
        nf_tensor_free(&x);
        nf_tensor_free(&dy);
        nf_tensor_free(&big);
        fc_layer_target_free(&lt);
    }
}

/* A scale driven far below the floor still inverts: without the floor sigmoid(-198)
 * is 0 in float32 and the inverse divides by zero. */
static void test_saturated_scale_still_inverts(void **state) {
    nf_shape in = {3, 4, 1, 4, 4};
    nf_layer *l;
    NF_ASSERT_OK(nf_coupling_affine_create(&l, in, 5));
    fc_layer_target lt;
    NF_ASSERT_OK(fc_layer_target_init(&lt, l, in, 1));
    nf_param_block blocks[8];
    int nb = l->ops->param_blocks(l, blocks, 8);
    int found = 0;
    for (int i = 0; i < nb; i++)
        if (strcmp(blocks[i].name, "conv3.bias") == 0) {
            for (int c = 0; c < 2; c++) l->param[blocks[i].offset + c] = -200.0f; /* log_s_raw channels */
            found = 1;
        }
    assert_true(found);
    nf_tensor x = nftest_randn(3, 4, 1, 4, 4, 8);
    double inv = fc_inverse_error(&lt.t, &x), reb = fc_rebuild_error(&lt.t, &x);
    if (!(inv <= 1e-5 && reb <= 1e-5)) fail_msg("inverse error %g, rebuild error %g", inv, reb);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_initial_step),
        cmocka_unit_test(test_one_subnet_forward_no_alloc),
        cmocka_unit_test(test_param_blocks),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_saturated_scale_still_inverts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
