/* The worked example at the top of include/nflow.h, compiled and run as written
 * (only the printing is dropped), so the documentation cannot rot. */
#include "nftest.h"

static void test_worked_example(void **state) {
    nf_glow_config cfg = nf_glow_config_default(2, 1, 1);
    cfg.hidden = 16; cfg.levels = 1; cfg.steps = 10; cfg.multiscale = 0;
    nf_flow *g = NULL;
    NF_ASSERT_OK(nf_glow_create(&g, &cfg));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(g), 9e-4));
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 150, 2, 1, 1, 1));
    nf_rng rng; nf_rng_seed(&rng, 1);
    nf_loss_stats st, first = {0};
    for (int it = 0; it < 400; it++) {
        nf_sample_banana(&rng, x.data, x.n);
        NF_ASSERT_OK(nf_train_step(g, &opt, &x, &st));
        if (it == 0) first = st;
    }
    assert_true(st.loss < first.loss);
    NF_ASSERT_OK(nf_flow_sample(g, &x, 1.0, &rng));
    for (size_t i = 0; i < nf_tensor_count(&x); i++) assert_true(isfinite(x.data[i]));
    nf_adam_free(&opt); nf_tensor_free(&x); nf_flow_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_worked_example)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
