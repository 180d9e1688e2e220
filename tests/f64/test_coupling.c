/* Affine and additive image couplings in the double build: finite-difference
 * gradients in x and in every parameter block, brute-force logdet, on even,
 * odd-channel and 1x1 shapes and on volumes (3-D convs). */
#include "nftest.h"

typedef nf_status (*create_fn)(nf_layer **out, nf_shape in, int hidden);
static const create_fn creators[2] = {nf_coupling_affine_create, nf_coupling_additive_create};

/* A layer target with random parameters (the last conv non-zero). */
static void make_target(fc_layer_target *lt, int k, nf_shape in, int hidden) {
    nf_layer *l;
    NF_ASSERT_OK(creators[k](&l, in, hidden));
    NF_ASSERT_OK(fc_layer_target_init(lt, l, in, 1));
    nf_rng rng;
    nf_rng_seed(&rng, 9);
    fc_perturb_params(&lt->t, &rng, 0.3);
}

static void test_gradients_and_logdet(void **state) {
    nf_shape shapes[5] = {{2, 4, 1, 4, 4}, {2, 3, 1, 3, 3}, {5, 2, 1, 1, 1}, {2, 4, 3, 2, 3}, {2, 3, 2, 2, 2}};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 5; s++) {
            nf_shape in = shapes[s];
            fc_layer_target lt;
            make_target(&lt, k, in, 4);
            nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5 + s);
            fc_grad_report r = fc_check_gradients(&lt.t, &x, 6, 1e-6, FC_CORRUPT_NONE, 11);
            double le = fc_logdet_error(&lt.t, &x, 1e-6);
            if (r.dx_err > 1e-3 || r.dparam_err > 1e-3 || le > 1e-4)
                fail_msg("%s on (%d, %d, %d, %d, %d): dx %g, dparam %g, logdet %g", lt.layer->ops->name, in.n, in.c,
                         in.d, in.h, in.w, r.dx_err, r.dparam_err, le);
            nf_tensor_free(&x);
            fc_layer_target_free(&lt);
        }
}

/* Each parameter block alone: a wrong gradient in a small block (a bias) cannot
 * hide behind the large ones. The check must also fail when the block's gradient
 * is halved, so every block really reaches the loss. */
static void check_gradients_per_block(nf_shape in) {
    for (int k = 0; k < 2; k++) {
        fc_layer_target lt;
        make_target(&lt, k, in, 3);
        nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 3);
        nf_param_block blocks[16];
        int nb = lt.layer->ops->param_blocks(lt.layer, blocks, 16);
        assert_int_equal(nb, 6);
        for (int b = 0; b < nb; b++) {
            size_t cnt = 1;
            for (int r = 0; r < blocks[b].rank; r++) cnt *= (size_t)blocks[b].dims[r];
            fc_target t = lt.t; /* the same layer, parameters narrowed to one block */
            t.param += blocks[b].offset;
            t.grad += blocks[b].offset;
            t.nparams = cnt;
            fc_grad_report ok = fc_check_gradients(&t, &x, 3, 1e-6, FC_CORRUPT_NONE, 13);
            fc_grad_report bad = fc_check_gradients(&t, &x, 3, 1e-6, FC_CORRUPT_HALF, 13);
            if (ok.dparam_err > 1e-3 || bad.dparam_err <= 1e-3)
                fail_msg("%s block %s: error %g, with halved gradient %g", lt.layer->ops->name, blocks[b].name,
                         ok.dparam_err, bad.dparam_err);
        }
        nf_tensor_free(&x);
        fc_layer_target_free(&lt);
    }
}

static void test_gradients_per_block(void **state) {
    check_gradients_per_block((nf_shape){2, 5, 1, 3, 4});
    check_gradients_per_block((nf_shape){2, 5, 3, 3, 2}); /* a volume: every 3-D conv block */
}

/* The check must catch wrong gradients of the coupling: zero, halved, flipped. */
static void test_check_catches_corrupted_gradient(void **state) {
    nf_shape in = {2, 3, 1, 3, 3};
    fc_corruption kinds[] = {FC_CORRUPT_ZERO, FC_CORRUPT_HALF, FC_CORRUPT_FLIP};
    for (int k = 0; k < 2; k++) {
        fc_layer_target lt;
        make_target(&lt, k, in, 3);
        nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 5);
        for (int c = 0; c < 3; c++) {
            fc_grad_report r = fc_check_gradients(&lt.t, &x, 3, 1e-6, kinds[c], 11);
            assert_true(r.dx_err > 1e-3);
            assert_true(r.dparam_err > 1e-3);
        }
        nf_tensor_free(&x);
        fc_layer_target_free(&lt);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_and_logdet),
        cmocka_unit_test(test_gradients_per_block),
        cmocka_unit_test(test_check_catches_corrupted_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
