/* Activation memory of a training step does not grow with depth K (invertible
 * backprop), for images and 3-D volumes, while the store-activations mode does —
 * proving the check can fail. */
#include "nftest.h"

/* Peak bytes of one training step of the Glow c with K steps on a batch of n, above what
 * the flow (its layers and parameters), its optimiser and the data held before the step:
 * the step's activations, workspace and scratch. */
static double config_peak(nf_glow_config c, int n, int K, int store) {
    c.steps = K;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    if (store) NF_ASSERT_OK(nf_flow_set_store_activations(f, 1));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-3));
    nf_tensor x = nftest_randn(n, c.channels, c.volume_depth, c.height, c.width, 1), y = {0};
    if (c.cond_channels) y = nftest_randn(n, c.cond_channels, c.volume_depth, c.height, c.width, 2);
    nf_mem_reset_peak();
    size_t base = nf_mem_current();
    NF_ASSERT_OK(nf_train_step(f, &opt, &x, c.cond_channels ? &y : NULL, NULL));
    double peak = (double)(nf_mem_peak() - base);
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
    return peak;
}

/* 16 images of 32x32, L = 2. */
static double step_peak(int K, int store) {
    nf_glow_config c = nf_glow_config_default(1, 32, 32);
    c.hidden = 16, c.levels = 2;
    return config_peak(c, 16, K, store);
}

static void test_memory_flat_in_depth(void **state) {
    double k4 = step_peak(4, 0), k64 = step_peak(64, 0);
    print_message("activation peak: K=4 %.0f bytes, K=64 %.0f bytes, ratio %.4f\n", k4, k64, k64 / k4);
    assert_true(k64 <= 1.05 * k4);
}

static void test_store_mode_grows(void **state) {
    double k4 = step_peak(4, 1), k64 = step_peak(64, 1);
    print_message("store mode: K=4 %.0f bytes, K=64 %.0f bytes, ratio %.2f\n", k4, k64, k64 / k4);
    assert_true(k64 > 4.0 * k4);
}

/* In store mode, backward measures how far rebuilt inputs drift from the stored
 * ones; for a freshly trained small flow the drift is at float32 round-off. */
static void test_store_mode_drift(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 8;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-3));
    nf_tensor x = nftest_randn(8, 1, 1, 8, 8, 2);
    for (int i = 0; i < 20; i++) NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, NULL));
    NF_ASSERT_OK(nf_flow_set_store_activations(f, 1));
    NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, NULL));
    print_message("max relative reconstruction drift over layers: %.3g\n", f->drift);
    assert_true(f->drift > 0.0 && f->drift < 1e-4);
    nf_tensor_free(&x);
    nf_adam_free(&opt);
    nf_flow_destroy(f);
}

/* The same for 8 volumes of 8x8x8 (3-D squeezes and coupling convolutions). */
static void test_volume_memory_flat_in_k(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 8, c.hidden = 6, c.levels = 2;
    double k4 = config_peak(c, 8, 4, 0), k32 = config_peak(c, 8, 32, 0);
    print_message("volume activation peak: K=4 %.0f bytes, K=32 %.0f bytes, ratio %.4f\n", k4, k32, k32 / k4);
    assert_true(k32 <= 1.05 * k4);
    double s32 = config_peak(c, 8, 32, 1); /* and the check can fail: store mode grows */
    assert_true(s32 > 4.0 * k4);
}

/* Conditional Glow: y, its ActNorm and the squeezes of y add buffers of y's size, not
 * per flow step; images and volumes. */
static void test_conditional_memory_flat_in_k(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 32, 32);
    c.hidden = 16, c.levels = 2, c.cond_channels = 2;
    double k4 = config_peak(c, 16, 4, 0), k64 = config_peak(c, 16, 64, 0);
    print_message("conditional activation peak: K=4 %.0f bytes, K=64 %.0f bytes, ratio %.4f\n", k4, k64, k64 / k4);
    assert_true(k64 <= 1.05 * k4);
    c = nf_glow_config_default(1, 8, 8);
    c.volume_depth = 8, c.hidden = 6, c.levels = 2, c.cond_channels = 1;
    k4 = config_peak(c, 8, 4, 0);
    double k32 = config_peak(c, 8, 32, 0), s32 = config_peak(c, 8, 32, 1);
    print_message("conditional volume peak: K=4 %.0f bytes, K=32 %.0f bytes, ratio %.4f; store mode K=32 %.0f\n", k4,
                  k32, k32 / k4, s32);
    assert_true(k32 <= 1.05 * k4);
    assert_true(s32 > 2.0 * k4); /* and the check can fail: store mode grows */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_flat_in_depth),
        cmocka_unit_test(test_store_mode_grows),
        cmocka_unit_test(test_volume_memory_flat_in_k),
        cmocka_unit_test(test_store_mode_drift),
        cmocka_unit_test(test_conditional_memory_flat_in_k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
