/* A small Glow (L=2, K=2) in the double build, on images, vectors and tiny 3-D volumes:
 * gradients against central differences, and logdet against the brute-force Jacobian. */
#include "nftest.h"

static void check_glow(nf_glow_config c, int n) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    fc_target t;
    fc_flow_target_init(&t, f, n);
    nf_tensor x = nftest_randn(n, c.channels, c.volume_depth, c.height, c.width, 3);
    double *ld = calloc((size_t)n, sizeof(double));
    nf_tensor z;
    NF_ASSERT_OK(nf_tensor_alloc(&z, n, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    NF_ASSERT_OK(nf_flow_forward(f, &x, NULL, &z, ld)); /* ActNorm init */
    nf_rng rng;
    nf_rng_seed(&rng, 7);
    fc_perturb_params(&t, &rng, 0.1);
    fc_grad_report r = fc_check_gradients(&t, &x, 4, 1e-6, FC_CORRUPT_NONE, 21);
    double le = fc_logdet_error(&t, &x, 1e-6);
    if (r.dx_err > 1e-3 || r.dparam_err > 1e-3 || le > 1e-4)
        fail_msg("(%d, %d, %d, %d): dx err %g, dparam err %g, logdet err %g", c.channels, c.volume_depth, c.height, c.width,
                 r.dx_err, r.dparam_err, le);
    r = fc_check_gradients(&t, &x, 2, 1e-6, FC_CORRUPT_HALF, 21);
    assert_true(r.dx_err > 1e-3 && r.dparam_err > 1e-3);
    free(ld);
    nf_tensor_free(&z);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

static void test_glow_multiscale(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.hidden = 4, c.levels = 2, c.steps = 2;
    check_glow(c, 2);
    c.channels = 2, c.squeeze = NF_SQUEEZE_HAAR, c.coupling = NF_COUPLING_ADDITIVE, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER;
    check_glow(c, 2);
}

/* Learned priors: the split priors' convs and the top prior's per-channel parameters
 * get their gradients through the whole flow (z1 feeds both the next level and the
 * prior of the half factored out beside it). */
static void test_glow_learned_prior(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.hidden = 4, c.levels = 2, c.steps = 2, c.learn_prior = 1;
    check_glow(c, 2);
    c = nf_glow_config_default(3, 1, 1); /* vectors: the top prior alone */
    c.hidden = 5, c.levels = 1, c.steps = 2, c.multiscale = 0, c.learn_prior = 1;
    check_glow(c, 3);
    c = nf_glow_config_default(1, 4, 4); /* volumes: 3x3x3 split prior */
    c.volume_depth = 4, c.hidden = 3, c.levels = 2, c.steps = 1, c.learn_prior = 1;
    check_glow(c, 2);
}

static void test_glow_vectors(void **state) {
    nf_glow_config c = nf_glow_config_default(3, 1, 1);
    c.hidden = 5, c.levels = 2, c.steps = 2, c.multiscale = 0;
    check_glow(c, 4);
}

/* Volumes: 2x2x2 squeezes (or 3-D Haar) and 3-D coupling convolutions. */
static void test_glow_volume(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.volume_depth = 4, c.hidden = 4, c.levels = 2, c.steps = 2; /* 64 values a sample */
    check_glow(c, 2);
    c = nf_glow_config_default(2, 4, 2);
    c.volume_depth = 2, c.hidden = 3, c.levels = 1, c.steps = 2;
    c.squeeze = NF_SQUEEZE_HAAR, c.coupling = NF_COUPLING_ADDITIVE, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER;
    check_glow(c, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glow_multiscale),
        cmocka_unit_test(test_glow_vectors),
        cmocka_unit_test(test_glow_learned_prior),
        cmocka_unit_test(test_glow_volume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
