/* Invertible 1x1 convolution (LU and Householder) in float32: invertibility and
 * reconstruction by backward on images, 1x1 "images" (vectors) and 3-D volumes; the
 * batched GEMMs against a plain loop; initial W a rotation; frozen LU blocks; bad input. */
#include "nftest.h"

static const nf_conv1x1_kind KINDS[2] = {NF_CONV1X1_LU, NF_CONV1X1_HOUSEHOLDER};

/* lt holds pointers to itself: it is filled in place. */
static void make(fc_layer_target *lt, nf_conv1x1_kind kind, nf_shape in, uint64_t seed) {
    nf_layer *l;
    NF_ASSERT_OK(nf_conv1x1_create(&l, in, kind, NULL));
    NF_ASSERT_OK(fc_layer_target_init(lt, l, in, seed));
}

/* Moves the trainable parameters away from their init (value += scale * N(0, 1)),
 * leaving LU's frozen permutation and signs valid. */
static void perturb_trainable(fc_layer_target *lt, uint64_t seed, double scale) {
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    for (size_t i = 0; i < lt->params.count; i++)
        if (!lt->params.frozen[i]) lt->params.value[i] += (nf_real)(scale * nf_rng_normal(&rng));
}

/* W (c, c) of the layer, read off its forward: sample j is e_j at every voxel, so
 * y of sample j is column j of W (at every voxel). */
static void read_weight(fc_layer_target *lt, double *W) {
    nf_shape in = lt->t.in;
    int c = in.c;
    size_t dhw = (size_t)in.d * in.h * in.w;
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, c, c, in.d, in.h, in.w));
    for (int j = 0; j < c; j++)
        for (size_t v = 0; v < dhw; v++) x.data[((size_t)j * c + j) * dhw + v] = 1;
    double *ld = calloc((size_t)c, sizeof(double));
    nf_ctx ctx = {0};
    NF_ASSERT_OK(nf_ctx_reserve(&ctx, nf_layer_workspace(lt->layer, nf_tensor_shape(&x))));
    NF_ASSERT_OK(nf_layer_forward(lt->layer, &x, ld, &ctx));
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) W[i * c + j] = x.data[((size_t)j * c + i) * dhw + dhw - 1];
    nf_ctx_free(&ctx);
    nf_tensor_free(&x);
    free(ld);
}

static void check_invertible(nf_conv1x1_kind kind, nf_shape in) {
    fc_layer_target lt;
    make(&lt, kind, in, 3);
    perturb_trainable(&lt, 5, 0.3 / sqrt(in.c)); /* small enough to keep W well conditioned */
    nf_tensor x = nftest_randn(in.n, in.c, in.d, in.h, in.w, 7);
    double e1 = fc_inverse_error(&lt.t, &x), e2 = fc_rebuild_error(&lt.t, &x);
    if (e1 > 1e-5 || e2 > 1e-5)
        fail_msg("kind %d shape (%d, %d, %d, %d, %d): inverse error %g, rebuild error %g", kind, in.n, in.c, in.d,
                 in.h, in.w, e1, e2);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

static void test_invertible(void **state) {
    nf_shape shapes[] = {
        {4, 6, 1, 5, 7},    /* images */
        {150, 2, 1, 1, 1},  /* 2-D points as 1x1 images: one GEMM */
        {300, 7, 1, 1, 1},  /* vectors, more channels */
        {3, 5, 2, 3, 4},    /* a 3-D volume (d = 2) */
        {2, 1, 1, 3, 3},    /* one channel */
        {2, 48, 1, 4, 4},   /* many channels (Glow's last level on RGB) */
    };
    for (int k = 0; k < 2; k++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) check_invertible(KINDS[k], shapes[s]);
}

/* The GEMM paths (vectors, images, volumes) all compute y = W x per voxel, and
 * the initial W is a rotation (W W^T = I, logdet 0). */
static void test_matches_plain_loop(void **state) {
    nf_shape shapes[] = {{9, 4, 1, 1, 1}, {3, 4, 1, 3, 5}, {2, 4, 3, 2, 2}};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 3; s++) {
            nf_shape in = shapes[s];
            int c = in.c;
            size_t dhw = (size_t)in.d * in.h * in.w;
            fc_layer_target lt;
    make(&lt, KINDS[k], in, 11);
            double W[16];
            read_weight(&lt, W);
            for (int i = 0; i < c; i++)
                for (int j = 0; j < c; j++) {
                    double g = 0;
                    for (int m = 0; m < c; m++) g += W[i * c + m] * W[j * c + m];
                    assert_true(fabs(g - (i == j)) < 1e-5);
                }
            nf_tensor x = nftest_randn(in.n, c, in.d, in.h, in.w, 13), y;
            NF_ASSERT_OK(nf_tensor_alloc(&y, in.n, c, in.d, in.h, in.w));
            double *ld = calloc((size_t)in.n, sizeof(double));
            NF_ASSERT_OK(lt.t.forward(lt.t.self, &x, &y, ld));
            double num = 0, den = 0;
            for (int b = 0; b < in.n; b++)
                for (int i = 0; i < c; i++)
                    for (size_t v = 0; v < dhw; v++) {
                        double want = 0;
                        for (int j = 0; j < c; j++) want += W[i * c + j] * x.data[((size_t)b * c + j) * dhw + v];
                        double got = y.data[((size_t)b * c + i) * dhw + v];
                        num += (got - want) * (got - want);
                        den += want * want;
                    }
            assert_true(sqrt(num / den) < 1e-6);
            for (int b = 0; b < in.n; b++) assert_true(fabs(ld[b]) < 1e-5);
            free(ld);
            nf_tensor_free(&x);
            nf_tensor_free(&y);
            fc_layer_target_free(&lt);
        }
}

/* Householder W is orthogonal whatever v: the norm of every voxel's vector is kept. */
static void test_householder_keeps_norm(void **state) {
    nf_shape in = {5, 6, 1, 4, 4};
    fc_layer_target lt;
    make(&lt, NF_CONV1X1_HOUSEHOLDER, in, 2);
    nf_rng rng;
    nf_rng_seed(&rng, 3);
    fc_perturb_params(&lt.t, &rng, 1.0);
    nf_tensor x = nftest_randn(5, 6, 1, 4, 4, 1), y;
    NF_ASSERT_OK(nf_tensor_alloc(&y, 5, 6, 1, 4, 4));
    double ld[5];
    NF_ASSERT_OK(lt.t.forward(lt.t.self, &x, &y, ld));
    double nx = 0, ny = 0;
    for (size_t i = 0; i < nf_tensor_count(&x); i++) nx += (double)x.data[i] * x.data[i], ny += (double)y.data[i] * y.data[i];
    assert_true(fabs(nx - ny) / nx < 1e-5);
    for (int b = 0; b < 5; b++) assert_true(ld[b] == 0);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    fc_layer_target_free(&lt);
}

/* LU: perm and sign are frozen (marked after binding, zero gradient) and hold a
 * permutation and +-1; a corrupted perm is refused, not used as an index. */
static void test_lu_frozen_blocks(void **state) {
    int c = 5;
    nf_shape in = {4, 5, 1, 3, 3};
    fc_layer_target lt;
    make(&lt, NF_CONV1X1_LU, in, 4);
    nf_param_block blocks[16];
    int nb = lt.layer->ops->param_blocks(lt.layer, blocks, 16);
    assert_int_equal(nb, 5);
    const char *names[5] = {"lower", "upper", "logscale", "perm", "sign"};
    size_t total = 0;
    for (int b = 0; b < nb; b++) {
        assert_string_equal(blocks[b].name, names[b]);
        assert_int_equal(blocks[b].frozen, b >= 3);
        size_t cnt = 1;
        for (int r = 0; r < blocks[b].rank; r++) cnt *= (size_t)blocks[b].dims[r];
        assert_int_equal(blocks[b].offset, total);
        for (size_t i = 0; i < cnt; i++) assert_int_equal(lt.params.frozen[blocks[b].offset + i], b >= 3);
        total += cnt;
    }
    assert_int_equal(total, lt.params.count);
    const nf_real *perm = lt.params.value + blocks[3].offset, *sign = lt.params.value + blocks[4].offset;
    int seen[5] = {0};
    for (int i = 0; i < c; i++) {
        assert_true(perm[i] == floorf(perm[i]) && perm[i] >= 0 && perm[i] < c);
        seen[(int)perm[i]]++;
        assert_true(sign[i] == 1 || sign[i] == -1);
    }
    for (int i = 0; i < c; i++) assert_int_equal(seen[i], 1);

    nf_tensor x = nftest_randn(4, 5, 1, 3, 3, 2);
    assert_true(fc_rebuild_error(&lt.t, &x) < 1e-5); /* accumulates gradients */
    double trained = 0;
    for (size_t i = 0; i < lt.params.count; i++) {
        if (lt.params.frozen[i]) assert_true(lt.params.grad[i] == 0);
        else trained += fabs(lt.params.grad[i]);
    }
    assert_true(trained > 0);

    lt.params.value[blocks[3].offset + 1] = lt.params.value[blocks[3].offset]; /* a repeated index */
    double ld[4];
    NF_ASSERT_FAILS(nf_layer_forward(lt.layer, &x, ld, &lt.ctx), NF_ERR_STATE);
    assert_non_null(strstr(nf_last_error(), "perm"));
    lt.params.value[blocks[3].offset + 1] = 1e9f; /* out of range */
    NF_ASSERT_FAILS(nf_layer_inverse(lt.layer, &x, &lt.ctx), NF_ERR_STATE);
    nf_tensor_free(&x);
    fc_layer_target_free(&lt);
}

/* A layer created with an rng draws its initial W from it, whatever rng binds it. */
static void test_create_rng_seeds_init(void **state) {
    nf_shape in = {2, 4, 1, 2, 2};
    for (int k = 0; k < 2; k++) {
        nf_real *vals[2];
        nf_params ps[2];
        nf_layer *ls[2];
        for (int t = 0; t < 2; t++) {
            nf_rng create, bind;
            nf_rng_seed(&create, 42);
            nf_rng_seed(&bind, 100 + t);
            NF_ASSERT_OK(nf_conv1x1_create(&ls[t], in, KINDS[k], &create));
            NF_ASSERT_OK(nf_params_bind(&ps[t], &ls[t], 1, &bind));
            vals[t] = ps[t].value;
        }
        assert_memory_equal(vals[0], vals[1], ps[0].count * sizeof(nf_real));
        for (int t = 0; t < 2; t++) {
            nf_layer_destroy(ls[t]);
            nf_params_free(&ps[t]);
        }
    }
}

static void test_bad_input(void **state) {
    nf_layer *l;
    nf_shape in = {2, 3, 1, 4, 4}, bad = {2, 0, 1, 4, 4};
    NF_ASSERT_FAILS(nf_conv1x1_create(NULL, in, NF_CONV1X1_LU, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_conv1x1_create(&l, in, (nf_conv1x1_kind)7, NULL), NF_ERR_ARG);
    assert_null(l);
    for (int k = 0; k < 2; k++) {
        NF_ASSERT_FAILS(nf_conv1x1_create(&l, bad, KINDS[k], NULL), NF_ERR_SHAPE);
        fc_layer_target lt;
    make(&lt, KINDS[k], in, 1);
        nf_tensor x = nftest_randn(2, 4, 1, 4, 4, 1), dy = nftest_randn(2, 3, 1, 4, 4, 1);
        double ld[2];
        NF_ASSERT_FAILS(nf_layer_forward(lt.layer, &x, ld, &lt.ctx), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(nf_layer_forward(lt.layer, NULL, ld, &lt.ctx), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_forward(lt.layer, &dy, NULL, &lt.ctx), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_inverse(lt.layer, &dy, NULL), NF_ERR_ARG);
        NF_ASSERT_FAILS(nf_layer_backward(lt.layer, &x, &dy, &lt.ctx), NF_ERR_SHAPE);
        NF_ASSERT_FAILS(nf_layer_backward(lt.layer, &dy, NULL, &lt.ctx), NF_ERR_ARG);
        nf_ctx small = {0};
        NF_ASSERT_OK(nf_ctx_reserve(&small, 16));
        NF_ASSERT_FAILS(nf_layer_forward(lt.layer, &dy, ld, &small), NF_ERR_ARG); /* workspace too small */
        nf_ctx_free(&small);
        nf_tensor_free(&x);
        nf_tensor_free(&dy);
        fc_layer_target_free(&lt);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invertible),
        cmocka_unit_test(test_matches_plain_loop),
        cmocka_unit_test(test_householder_keeps_norm),
        cmocka_unit_test(test_lu_frozen_blocks),
        cmocka_unit_test(test_create_rng_seeds_init),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
