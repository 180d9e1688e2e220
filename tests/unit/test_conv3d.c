/* Fast conv3d kernels (vol2col + GEMM) against the reference loops, in float: forward,
 * backward-data, backward-weights, with and without bias, k = 1 and 3, odd and unequal
 * sizes, flat volumes (d = 1, h = 1), several chunks with a short last one; scratch
 * stays within its count; a wrong kernel is caught. The channel-major kernels of the
 * coupling sub-network (conv3d_cm.h) against the same reference. */
#include "nftest.h"

#include <stdio.h>

#include "kernels/conv3d.h"
#include "kernels/conv3d_cm.h"

#define GUARD 64 /* elements past the scratch that must stay untouched */
#define SENTINEL 12345.0f

typedef struct conv_case {
    int n, cin, cout, d, h, w, k;
    int nb; /* volumes per chunk; 0 = the default chunk rule */
} conv_case;

static const conv_case CASES[] = {
    {2, 3, 5, 4, 4, 4, 3, 0}, {3, 4, 2, 3, 5, 7, 3, 0}, {4, 6, 6, 5, 3, 2, 1, 0}, /* odd sizes; cin != cout */
    {10, 3, 4, 3, 4, 5, 3, 4}, {7, 5, 3, 2, 6, 4, 1, 3},                       /* 3 chunks, last one short */
    {3, 2, 3, 1, 5, 6, 3, 0}, {3, 2, 3, 6, 1, 5, 3, 2}, {2, 2, 3, 5, 4, 1, 3, 0}, /* one-voxel-thick axes */
    {5, 2, 2, 1, 1, 1, 3, 0}, {4, 3, 3, 2, 2, 2, 3, 0},                          /* 1x1x1 and 2x2x2 volumes */
    {4, 8, 8, 8, 8, 8, 3, 3}, {3, 16, 16, 8, 8, 8, 1, 0},                        /* big enough for threads */
};

static size_t work_count(const conv_case *c) {
    return c->nb ? nf_conv3d_work_count_nb(c->nb, c->cin, c->cout, c->d, c->h, c->w, c->k)
                 : nf_conv3d_work_count(c->n, c->cin, c->cout, c->d, c->h, c->w, c->k);
}

static int chunk_of(const conv_case *c) {
    return c->nb ? c->nb : nf_conv3d_chunk(c->n, c->cin, c->cout, c->d, c->h, c->w, c->k);
}

static void check_case(const conv_case *c, int with_bias, uint64_t seed) {
    int n = c->n, cin = c->cin, cout = c->cout, d = c->d, h = c->h, w = c->w, k = c->k, nb = chunk_of(c);
    size_t nw = (size_t)cout * cin * k * k * k, nout = (size_t)n * cout * d * h * w, nin = (size_t)n * cin * d * h * w;
    nf_tensor x = nftest_randn(n, cin, d, h, w, seed), wt = nftest_randn(cout, cin, k, k, k, seed + 1);
    nf_tensor b = nftest_randn(1, cout, 1, 1, 1, seed + 2), g = nftest_randn(n, cout, d, h, w, seed + 3);
    const nf_real *bias = with_bias ? b.data : NULL;
    size_t count = work_count(c);
    nf_real *work = malloc((count + GUARD) * sizeof(nf_real));
    assert_non_null(work);
    for (size_t i = 0; i < count + GUARD; i++) work[i] = SENTINEL;
    char what[160];
    snprintf(what, sizeof what, "n=%d cin=%d cout=%d %dx%dx%d k=%d nb=%d bias=%d", n, cin, cout, d, h, w, k, nb,
             with_bias);

    /* forward: the output starts as garbage and must be overwritten */
    nf_tensor y = nftest_randn(n, cout, d, h, w, 99), yref = nftest_randn(n, cout, d, h, w, 98);
    if (c->nb) nf_conv3d_forward_nb(y.data, x.data, wt.data, bias, n, cin, cout, d, h, w, k, nb, work);
    else nf_conv3d_forward(y.data, x.data, wt.data, bias, n, cin, cout, d, h, w, k, work);
    nf_conv3d_forward_ref(yref.data, x.data, wt.data, bias, n, cin, cout, d, h, w, k);
    double e = fc_rel_diff(y.data, yref.data, nout);
    if (e > 1e-5) fail_msg("forward %s: rel err %g", what, e);

    nf_tensor dx = nftest_randn(n, cin, d, h, w, 97), dxref = nftest_randn(n, cin, d, h, w, 96);
    if (c->nb) nf_conv3d_backward_data_nb(dx.data, g.data, wt.data, n, cin, cout, d, h, w, k, nb, work);
    else nf_conv3d_backward_data(dx.data, g.data, wt.data, n, cin, cout, d, h, w, k, work);
    nf_conv3d_backward_data_ref(dxref.data, g.data, wt.data, n, cin, cout, d, h, w, k);
    e = fc_rel_diff(dx.data, dxref.data, nin);
    if (e > 1e-5) fail_msg("backward_data %s: rel err %g", what, e);

    /* weights: both start from the same non-zero values, must accumulate */
    nf_tensor dw = nftest_randn(cout, cin, k, k, k, 95), dwref = nftest_randn(cout, cin, k, k, k, 95);
    nf_tensor db = nftest_randn(1, cout, 1, 1, 1, 94), dbref = nftest_randn(1, cout, 1, 1, 1, 94);
    nf_real *dbp = with_bias ? db.data : NULL, *dbrefp = with_bias ? dbref.data : NULL;
    if (c->nb) nf_conv3d_backward_weights_nb(dw.data, dbp, g.data, x.data, n, cin, cout, d, h, w, k, nb, work);
    else nf_conv3d_backward_weights(dw.data, dbp, g.data, x.data, n, cin, cout, d, h, w, k, work);
    nf_conv3d_backward_weights_ref(dwref.data, dbrefp, g.data, x.data, n, cin, cout, d, h, w, k);
    e = fc_rel_diff(dw.data, dwref.data, nw);
    if (e > 1e-5) fail_msg("backward_weights %s: rel err %g", what, e);
    e = fc_rel_diff(db.data, dbref.data, (size_t)cout);
    if (e > 1e-5) fail_msg("backward bias %s: rel err %g", what, e);

    for (size_t i = count; i < count + GUARD; i++)
        if (work[i] != SENTINEL) fail_msg("%s: scratch written past its count at %zu", what, i - count);
    free(work);
    nf_tensor *all[] = {&x, &wt, &b, &g, &y, &yref, &dx, &dxref, &dw, &dwref, &db, &dbref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

static void test_matches_reference(void **state) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        check_case(&CASES[i], 1, 10 + 7 * i);
        check_case(&CASES[i], 0, 20 + 7 * i);
    }
}

/* The reference itself against the formula in conv3d.h at a few hand-picked voxels,
 * so a reference and a fast kernel that are wrong the same way cannot agree. */
static void test_reference_matches_formula(void **state) {
    int n = 2, cin = 2, cout = 3, d = 3, h = 4, w = 5, k = 3;
    nf_tensor x = nftest_randn(n, cin, d, h, w, 1), wt = nftest_randn(cout, cin, k, k, k, 2);
    nf_tensor b = nftest_randn(1, cout, 1, 1, 1, 3), y = nftest_randn(n, cout, d, h, w, 4);
    nf_conv3d_forward_ref(y.data, x.data, wt.data, b.data, n, cin, cout, d, h, w, k);
    const int at[][5] = {{0, 0, 0, 0, 0}, {1, 2, 1, 2, 3}, {1, 1, 2, 3, 4}, {0, 2, 1, 0, 2}};
    for (size_t s = 0; s < sizeof at / sizeof at[0]; s++) {
        int bb = at[s][0], co = at[s][1], z = at[s][2], i = at[s][3], j = at[s][4];
        double want = b.data[co];
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < 27; t++) {
                int zz = z + t / 9 - 1, ii = i + t / 3 % 3 - 1, jj = j + t % 3 - 1;
                if (zz < 0 || zz >= d || ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                want += (double)wt.data[(co * cin + ci) * 27 + t] *
                        x.data[((((size_t)bb * cin + ci) * d + zz) * h + ii) * w + jj];
            }
        double got = y.data[((((size_t)bb * cout + co) * d + z) * h + i) * w + j];
        assert_true(fabs(got - want) <= 1e-5 * (1 + fabs(want)));
    }
    nf_tensor *all[] = {&x, &wt, &b, &y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

/* The comparison can fail: a kernel flipped along depth only (a plausible indexing bug
 * that 2-D checks would miss) gives a large error. */
static void test_comparison_catches_depth_flip(void **state) {
    int n = 2, cin = 3, cout = 4, d = 4, h = 5, w = 3, k = 3;
    nf_tensor x = nftest_randn(n, cin, d, h, w, 1), wt = nftest_randn(cout, cin, k, k, k, 2);
    nf_tensor flip = nftest_randn(cout, cin, k, k, k, 2);
    for (int f = 0; f < cout * cin; f++)
        for (int t = 0; t < 27; t++) flip.data[f * 27 + t] = wt.data[f * 27 + (2 - t / 9) * 9 + t % 9];
    nf_tensor y = nftest_randn(n, cout, d, h, w, 3), yref = nftest_randn(n, cout, d, h, w, 4);
    nf_real *work = malloc(nf_conv3d_work_count(n, cin, cout, d, h, w, k) * sizeof(nf_real));
    nf_conv3d_forward(y.data, x.data, flip.data, NULL, n, cin, cout, d, h, w, k, work);
    nf_conv3d_forward_ref(yref.data, x.data, wt.data, NULL, n, cin, cout, d, h, w, k);
    assert_true(fc_rel_diff(y.data, yref.data, nf_tensor_count(&y)) > 0.1);
    free(work);
    nf_tensor *all[] = {&x, &wt, &flip, &y, &yref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

/* Channel-major chunk (C, nb*s) <-> batch-major (nb, C, s). */
static void to_cm(nf_real *cm, const nf_real *bm, int nb, int C, size_t s) { nf_conv_swap_leading(cm, bm, nb, C, s, NULL); }

/* conv3d_cm: forward (bias, optional ReLU) and backward (weights, bias, data, optional
 * ReLU mask of the input) equal the reference loops on the same chunk. */
static void check_channel_major(int nb, int cin, int cout, int d, int h, int w, int k, int relu, uint64_t seed) {
    size_t s = (size_t)d * h * w, P = (size_t)nb * s, nw = (size_t)cout * cin * k * k * k;
    nf_tensor x = nftest_randn(nb, cin, d, h, w, seed), wt = nftest_randn(cout, cin, k, k, k, seed + 1);
    nf_tensor b = nftest_randn(1, cout, 1, 1, 1, seed + 2), g = nftest_randn(nb, cout, d, h, w, seed + 3);
    if (relu) /* x as a ReLU output: about half of it zero */
        for (size_t i = 0; i < nf_tensor_count(&x); i++) x.data[i] = x.data[i] > 0 ? x.data[i] : 0;
    nf_tensor xcm = nftest_randn(nb, cin, d, h, w, 0), gcm = nftest_randn(nb, cout, d, h, w, 0);
    nf_tensor y = nftest_randn(nb, cout, d, h, w, 0), ycm = nftest_randn(nb, cout, d, h, w, 0);
    to_cm(xcm.data, x.data, nb, cin, s);
    to_cm(gcm.data, g.data, nb, cout, s);
    size_t count = nf_cm_conv3d_work_count(nb, cin, cout, d, h, w, k);
    nf_real *work = malloc((count + 1) * sizeof(nf_real));

    nf_cm_conv3d_forward(ycm.data, xcm.data, wt.data, b.data, relu, nb, cin, cout, d, h, w, k, work);
    nf_conv3d_forward_ref(y.data, x.data, wt.data, b.data, nb, cin, cout, d, h, w, k);
    if (relu)
        for (size_t i = 0; i < nf_tensor_count(&y); i++) y.data[i] = y.data[i] > 0 ? y.data[i] : 0;
    nf_tensor want = nftest_randn(nb, cout, d, h, w, 0);
    to_cm(want.data, y.data, nb, cout, s);
    double e = fc_rel_diff(ycm.data, want.data, (size_t)cout * P);
    if (e > 1e-5) fail_msg("cm forward k=%d relu=%d: rel err %g", k, relu, e);

    nf_tensor dw = nftest_randn(cout, cin, k, k, k, 5), dwref = nftest_randn(cout, cin, k, k, k, 5);
    nf_tensor db = nftest_randn(1, cout, 1, 1, 1, 6), dbref = nftest_randn(1, cout, 1, 1, 1, 6);
    nf_tensor dxcm = nftest_randn(nb, cin, d, h, w, 7), dx = nftest_randn(nb, cin, d, h, w, 8);
    nf_cm_conv3d_backward(dxcm.data, dw.data, db.data, gcm.data, xcm.data, wt.data, relu, nb, cin, cout, d, h, w, k,
                          work);
    nf_conv3d_backward_weights_ref(dwref.data, dbref.data, g.data, x.data, nb, cin, cout, d, h, w, k);
    nf_conv3d_backward_data_ref(dx.data, g.data, wt.data, nb, cin, cout, d, h, w, k);
    if (relu)
        for (size_t i = 0; i < nf_tensor_count(&dx); i++)
            if (!(x.data[i] > 0)) dx.data[i] = 0;
    nf_tensor dxwant = nftest_randn(nb, cin, d, h, w, 0);
    to_cm(dxwant.data, dx.data, nb, cin, s);
    double ew = fc_rel_diff(dw.data, dwref.data, nw), eb = fc_rel_diff(db.data, dbref.data, (size_t)cout);
    double ex = fc_rel_diff(dxcm.data, dxwant.data, (size_t)cin * P);
    if (ew > 1e-5 || eb > 1e-5 || ex > 1e-5)
        fail_msg("cm backward k=%d relu=%d: weights %g, bias %g, data %g", k, relu, ew, eb, ex);
    free(work);
    nf_tensor *all[] = {&x, &wt, &b, &g, &xcm, &gcm, &y, &ycm, &want, &dw, &dwref, &db, &dbref, &dxcm, &dx, &dxwant};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nf_tensor_free(all[i]);
}

static void test_channel_major_matches_reference(void **state) {
    for (int relu = 0; relu < 2; relu++) {
        check_channel_major(3, 3, 4, 3, 4, 5, 3, relu, 30 + relu);
        check_channel_major(2, 4, 2, 2, 3, 3, 1, relu, 40 + relu);
        check_channel_major(1, 2, 3, 4, 2, 2, 3, relu, 50 + relu); /* one volume */
    }
}

/* The chunk rule: scratch under the cap when a volume fits, otherwise one volume a chunk. */
static void test_chunk_rule(void **state) {
    /* (16*27 + 16) * 4096 = 1835008 elements a volume: over the 1 Mi cap -> one a chunk */
    assert_int_equal(nf_conv3d_chunk(8, 16, 16, 16, 16, 16, 3), 1);
    /* (4*27 + 8) * 512 = 59392 elements a volume, 17 fit 1 Mi -> 2 equal chunks of 15 */
    assert_int_equal(nf_conv3d_chunk(30, 4, 8, 8, 8, 8, 3), 15);
    assert_true(nf_conv3d_work_count(30, 4, 8, 8, 8, 8, 3) == 15 * (size_t)59392);
    assert_true(nf_conv3d_work_count(30, 4, 8, 8, 8, 8, 3) <= NF_CONV2D_WORK_TARGET);
    assert_int_equal(nf_conv3d_chunk(1, 4, 8, 8, 8, 8, 1), 1);
}

static void test_check_sizes(void **state) {
    NF_ASSERT_OK(nf_conv3d_check("test", 2, 2, 8, 4, 4, 4, 3));
    NF_ASSERT_OK(nf_conv3d_check("test", 2, 2, 8, 1, 1, 1, 1));
    NF_ASSERT_FAILS(nf_conv3d_check("test", 2, 2, 8, 4, 4, 4, 2), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv3d_check("test", 2, 2, 8, 0, 4, 4, 3), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv3d_check("test", 0, 2, 8, 4, 4, 4, 3), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_conv3d_check("test", 1, 512, 512, 128, 128, 128, 3), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "test"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_reference),
        cmocka_unit_test(test_reference_matches_formula),
        cmocka_unit_test(test_comparison_catches_depth_flip),
        cmocka_unit_test(test_channel_major_matches_reference),
        cmocka_unit_test(test_chunk_rule),
        cmocka_unit_test(test_check_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
