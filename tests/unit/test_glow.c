/* Glow in float32, on images, vectors and 3-D volumes: invertibility, rebuild by
 * backward, the training step, bad input. */
#include "nftest.h"

static nf_flow *make_glow(nf_glow_config c) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    return f;
}

/* Runs a forward to initialise ActNorm, randomises parameters (+= scale N(0, 1)), and
 * checks that inverse(forward(x)) and backward's rebuilt input both equal x. */
static void check_roundtrip_scaled(nf_glow_config c, int n, double scale) {
    nf_flow *f = make_glow(c);
    fc_target t;
    fc_flow_target_init(&t, f, n);
    nf_tensor x = nftest_randn(n, c.channels, c.volume_depth, c.height, c.width, 3);
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    assert_true(fc_inverse_error(&t, &x) <= 1e-5); /* first forward runs the ActNorm init */
    fc_perturb_params(&t, &rng, scale);
    double inv = fc_inverse_error(&t, &x), reb = fc_rebuild_error(&t, &x);
    if (inv > 1e-5 || reb > 1e-5)
        fail_msg("(%d, %d, %d, %d) L=%d: inverse error %g, rebuild error %g", c.channels, c.volume_depth, c.height, c.width,
                 c.levels, inv, reb);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

static void check_roundtrip(nf_glow_config c, int n) { check_roundtrip_scaled(c, n, 0.05); }

static void test_roundtrip_multiscale(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2;
    check_roundtrip(c, 4);
    c.channels = 3, c.squeeze = NF_SQUEEZE_HAAR, c.coupling = NF_COUPLING_ADDITIVE, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER;
    check_roundtrip(c, 3);
    c.levels = 3;
    check_roundtrip(c, 2);
}

static void test_roundtrip_vectors(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 1, 1);
    c.hidden = 16, c.levels = 1, c.steps = 10, c.multiscale = 0;
    check_roundtrip(c, 150);
    c.channels = 5, c.levels = 2, c.steps = 3;
    check_roundtrip(c, 7);
}

/* Volumes: every level squeezes 2x2x2 (or 3-D Haar), the couplings convolve in 3-D. */
static void test_roundtrip_volumes(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2;
    check_roundtrip(c, 3);
    c = nf_glow_config_default(2, 8, 4);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2;
    c.squeeze = NF_SQUEEZE_HAAR, c.coupling = NF_COUPLING_ADDITIVE, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER;
    check_roundtrip(c, 2);
    c = nf_glow_config_default(2, 2, 5); /* no multiscale: odd sizes, couplings on the whole volume */
    c.volume_depth = 3, c.hidden = 6, c.levels = 1, c.steps = 2, c.multiscale = 0;
    check_roundtrip(c, 3);
    /* L = 3 ends in 128 channels of 1x1x1: smaller parameter moves keep its 1x1 convs
     * well-conditioned, and a batch of 8 keeps ActNorm's data init from giving a channel a
     * huge scale (measured with 0.02: inverse error 3e-4 for a batch of 2, 2e-6 for 8) */
    c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 8, c.hidden = 6, c.levels = 3, c.steps = 2;
    check_roundtrip_scaled(c, 8, 0.02);
}

/* Learned priors (split priors and the top prior) keep the flow invertible and the
 * backward's rebuild exact, on images (threaded levels), vectors and volumes. */
static void test_roundtrip_learned_prior(void **state) {
    nf_glow_config c = nf_glow_config_default(3, 8, 8);
    c.hidden = 8, c.levels = 3, c.steps = 2, c.learn_prior = 1;
    check_roundtrip(c, 4);
    c = nf_glow_config_default(5, 1, 1);
    c.hidden = 8, c.levels = 1, c.steps = 3, c.multiscale = 0, c.learn_prior = 1;
    check_roundtrip(c, 6);
    c = nf_glow_config_default(1, 4, 4);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2, c.learn_prior = 1;
    check_roundtrip(c, 3);
}

/* Sampling inverts the flow from z ~ N(0, T^2): the forward of the samples gives back
 * the very z drawn (the same stream), with the learned priors moved off N(0, 1). */
static void test_sampling_consistent_with_learned_prior(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2, c.learn_prior = 1;
    nf_flow *f = make_glow(c);
    int n = 5, D = (int)nf_shape_sample_count(f->in);
    fc_target t;
    fc_flow_target_init(&t, f, n);
    nf_tensor x = nftest_randn(n, 2, 1, 8, 8, 3), z, zs;
    assert_true(fc_inverse_error(&t, &x) <= 1e-5); /* ActNorm init */
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    fc_perturb_params(&t, &rng, 0.05);
    NF_ASSERT_OK(nf_tensor_alloc(&z, n, D, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&zs, n, D, 1, 1, 1));
    double ld[5];
    const double temps[2] = {1.0, 0.6};
    for (int k = 0; k < 2; k++) {
        nf_rng_seed(&rng, 17);
        NF_ASSERT_OK(nf_flow_sample(f, &x, NULL, temps[k], &rng));
        nf_rng_seed(&rng, 17);
        nf_rng_fill_normal(&rng, zs.data, nf_tensor_count(&zs), temps[k]);
        NF_ASSERT_OK(nf_flow_forward(f, &x, NULL, &z, ld));
        double e = fc_rel_diff(z.data, zs.data, nf_tensor_count(&zs));
        if (!(e <= 1e-4)) fail_msg("T = %g: forward(sample) is %g from the z drawn", temps[k], e);
    }
    nf_tensor_free(&x), nf_tensor_free(&z), nf_tensor_free(&zs);
    nf_flow_destroy(f);
}

static void test_train_step_lowers_loss(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 1, 1);
    c.hidden = 16, c.levels = 1, c.steps = 4, c.multiscale = 0;
    nf_flow *f = make_glow(c);
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-2));
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 200, 2, 1, 1, 1));
    nf_rng rng;
    nf_rng_seed(&rng, 1);
    nf_loss_stats first = {0}, st = {0};
    for (int it = 0; it < 150; it++) {
        nf_sample_banana(&rng, x.data, x.n);
        NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, &st));
        if (it == 0) first = st;
    }
    nf_sample_banana(&rng, x.data, x.n);
    NF_ASSERT_OK(nf_flow_eval(f, &x, NULL, &st));
    if (!(st.loss < first.loss - 0.3)) fail_msg("loss went from %g to %g", first.loss, st.loss);
    assert_true(fabs(st.loss - (st.half_sq - st.logdet)) < 1e-9);
    nf_tensor_free(&x);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
}

static void test_bad_config_and_input(void **state) {
    nf_flow *f;
    nf_glow_config c = nf_glow_config_default(1, 12, 12);
    c.levels = 3; /* 12 is not divisible by 8 */
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_SHAPE);
    assert_non_null(strstr(nf_last_error(), "divisible"));
    c = nf_glow_config_default(1, 1, 1);
    c.multiscale = 0; /* one channel cannot be coupled without squeeze */
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_SHAPE);
    c = nf_glow_config_default(1, 8, 8);
    c.hidden = 0;
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_ARG);
    c.hidden = 4, c.steps = 0;
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_glow_create(NULL, &c), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_glow_create(&f, NULL), NF_ERR_ARG);

    c = nf_glow_config_default(1, 8, 8);
    c.hidden = 4, c.levels = 2, c.steps = 1;
    f = make_glow(c);
    nf_tensor x = nftest_randn(2, 2, 1, 8, 8, 1), z, zbad;
    NF_ASSERT_OK(nf_tensor_alloc(&z, 2, 64, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&zbad, 2, 128, 1, 1, 1));
    double ld[2];
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, NULL, &zbad, ld), NF_ERR_SHAPE); /* 2 channels, flow takes 1 */
    nf_tensor_free(&x);
    x = nftest_randn(2, 1, 1, 8, 8, 1);
    NF_ASSERT_OK(nf_flow_forward(f, &x, NULL, &z, ld));
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, NULL, &zbad, ld), NF_ERR_SHAPE); /* z holds 128 values per sample */
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, NULL, &z, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_flow_forward(f, NULL, NULL, &z, ld), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_flow_forward(NULL, &x, NULL, &z, ld), NF_ERR_ARG);
    nf_tensor_free(&x);
    nf_tensor_free(&z);
    nf_tensor_free(&zbad);
    nf_flow_destroy(f);
}

/* Volumes correlated along depth (each slice repeats slice 0 plus noise) train: the
 * loss falls in a few Adam steps. */
static void test_volume_training_lowers_loss(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.volume_depth = 4, c.hidden = 6, c.levels = 2, c.steps = 2;
    nf_flow *f = make_glow(c);
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 3e-3));
    nf_tensor x = nftest_randn(32, 1, 4, 4, 4, 9);
    for (int b = 0; b < 32; b++)
        for (int z = 1; z < 4; z++)
            for (int p = 0; p < 16; p++) {
                nf_real *v = x.data + (size_t)b * 64;
                v[z * 16 + p] = v[p] + 0.1f * v[z * 16 + p];
            }
    nf_loss_stats first = {0}, st = {0};
    for (int it = 0; it < 40; it++) {
        NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, &st));
        if (it == 0) first = st;
    }
    NF_ASSERT_OK(nf_flow_eval(f, &x, NULL, &st));
    if (!(st.loss < first.loss - 0.5)) fail_msg("loss went from %g to %g", first.loss, st.loss);
    nf_tensor_free(&x);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
}

/* A volume's depth must survive L 2x2x2 squeezes. */
static void test_bad_volume_depth(void **state) {
    nf_flow *f = (nf_flow *)&f;
    nf_glow_config c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 6, c.levels = 2; /* 6 is not divisible by 2^L = 4 */
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_SHAPE);
    assert_null(f);
    assert_non_null(strstr(nf_last_error(), "depth 6"));
    assert_non_null(strstr(nf_last_error(), "divisible"));
    c.volume_depth = 0;
    NF_ASSERT_FAILS(nf_glow_create(&f, &c), NF_ERR_SHAPE);
    c.volume_depth = 6, c.channels = 2, c.multiscale = 0, c.hidden = 4, c.steps = 1; /* without squeezes any depth works */
    f = make_glow(c);
    nf_flow_destroy(f);
}

static void test_nan_loss_is_reported(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 1, 1);
    c.hidden = 4, c.levels = 1, c.steps = 1, c.multiscale = 0;
    nf_flow *f = make_glow(c);
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-3));
    nf_tensor x = nftest_randn(4, 2, 1, 1, 1, 1);
    NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, NULL));
    x.data[3] = NAN;
    NF_ASSERT_FAILS(nf_train_step(f, &opt, &x, NULL, NULL), NF_ERR_NUMERIC);
    nf_tensor_free(&x);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_multiscale),
        cmocka_unit_test(test_roundtrip_vectors),
        cmocka_unit_test(test_roundtrip_volumes),
        cmocka_unit_test(test_roundtrip_learned_prior),
        cmocka_unit_test(test_sampling_consistent_with_learned_prior),
        cmocka_unit_test(test_train_step_lowers_loss),
        cmocka_unit_test(test_bad_config_and_input),
        cmocka_unit_test(test_volume_training_lowers_loss),
        cmocka_unit_test(test_bad_volume_depth),
        cmocka_unit_test(test_nan_loss_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
