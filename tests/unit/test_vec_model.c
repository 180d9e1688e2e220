/* The sequential flow (nf_sequential_*) in float: specs, the diagram, a mixed stack's invertibility and rebuild,
 * store mode, training through the shared trainer, and bad input. */
#include "test_vec_common.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const nf_shape V2 = {1, 2, 1, 1, 1};

static void test_spec_builds_the_tutorial_stack(void **state) {
    nf_flow *m;
    NF_ASSERT_OK(nf_sequential_from_spec(&m, V2, "realnvp(hidden=24x3,act=leakyrelu)*9", 1));
    assert_true(nf_flow_is_sequential(m));
    assert_int_equal(m->nlayers, 9);
    assert_int_equal(nf_flow_num_params(m), 9 * 2 * 1273);
    const char *canon = nf_sequential_spec(m);
    assert_non_null(strstr(canon, "prior=standard, realnvp(hidden=24x3,act=leakyrelu,clamp=0,parity=0), "
                                  "realnvp(hidden=24x3,act=leakyrelu,clamp=0,parity=1)"));
    /* the canonical spec rebuilds the same architecture */
    nf_flow *again;
    NF_ASSERT_OK(nf_sequential_from_spec(&again, V2, canon, 1));
    assert_string_equal(nf_sequential_spec(again), canon);
    assert_int_equal(nf_flow_num_params(again), nf_flow_num_params(m));
    nf_flow_destroy(again);

    char buf[4096];
    size_t need;
    NF_ASSERT_OK(nf_sequential_describe(m, buf, sizeof buf, &need));
    assert_int_equal(need, strlen(buf) + 1);
    const char *head = "( standard Gaussian )\n\xe2\x86\x93\nrealnvp(hidden=24x3,act=leakyrelu,clamp=0,parity=0)  "
                       "[2546 parameters]\n\xe2\x86\x93\n";
    assert_true(strncmp(buf, head, strlen(head)) == 0);
    assert_non_null(strstr(buf, "9 layers, 22914 parameters"));
    char small[40];
    NF_ASSERT_FAILS(nf_sequential_describe(m, small, sizeof small, &need), NF_ERR_ARG);
    assert_int_equal(strlen(small), sizeof small - 1);
    nf_flow_destroy(m);

    /* groups repeat, parities alternate per layer type across repetitions, and a
     * diagonal prior is drawn at the top */
    NF_ASSERT_OK(nf_sequential_from_spec(&m, V2, "prior=diagonal; (linear(lu=1), nice(hidden=8x1), reverse)*2", 3));
    assert_int_equal(m->nlayers, 7); /* 6 + the prior layer */
    canon = nf_sequential_spec(m);
    assert_non_null(strstr(canon, "nice(hidden=8x1,act=leakyrelu,parity=0), reverse, linear(lu=1), "
                                  "nice(hidden=8x1,act=leakyrelu,parity=1)"));
    NF_ASSERT_OK(nf_sequential_describe(m, buf, sizeof buf, NULL));
    assert_true(strncmp(buf, "( diagonal Gaussian", 19) == 0);
    assert_non_null(strstr(buf, "6 layers"));
    nf_flow_destroy(m);
}

static void test_spec_errors(void **state) {
    nf_flow *m = (nf_flow *)1;
    struct {
        const char *spec, *msg;
    } bad[] = {
        {"", "no layers"},
        {"realnpv*9", "unknown layer 'realnpv' at column 1"},
        {"realnvp(hiden=24x3)", "no option 'hiden'"},
        {"realnvp(hidden=24y3)", "hidden=24y3 is not sizes like"},
        {"realnvp(hidden=24x3,act=sigmoid)", "act=sigmoid is not identity, relu"},
        {"realnvp(parity=2)", "parity=2 is not 0 or 1"},
        {"realnvp*0", "repeat count"},
        {"(realnvp, reverse", "expected ')'"},
        {"realnvp)", "unbalanced ')'"},
        {"realnvp(hidden=24x3", "expected ',' or ')'"},
        {"prior=gaussian, realnvp", "prior=standard or prior=diagonal"},
        {"linear(lu=2)", "lu=2 is not an integer in 0..1"},
        {"batchnorm(momentum=1.5)", "momentum must be in [0, 1)"},
        {"leakyrelu(alpha=-1)", "slope must be > 0"},
        {"reverse(x=1)", "options: none"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nf_status s = nf_sequential_from_spec(&m, V2, bad[i].spec, 1);
        if (s != NF_ERR_ARG || !strstr(nf_last_error(), bad[i].msg))
            fail_msg("spec \"%s\": %s, \"%s\" (want \"%s\")", bad[i].spec, nf_status_name(s), nf_last_error(),
                     bad[i].msg);
        assert_null(m);
    }
    nf_shape one = {1, 1, 1, 1, 1};
    NF_ASSERT_FAILS(nf_sequential_from_spec(&m, one, "realnvp", 1), NF_ERR_SHAPE); /* D = 1 cannot be coupled */
    NF_ASSERT_FAILS(nf_sequential_from_spec(NULL, V2, "realnvp", 1), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_sequential_from_spec(&m, V2, NULL, 1), NF_ERR_ARG);
}

static void test_building_by_hand(void **state) {
    nf_flow *m;
    NF_ASSERT_FAILS(nf_sequential_create(&m, (nf_shape){1, 0, 1, 1, 1}, NF_PRIOR_STANDARD), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_sequential_create(&m, V2, (nf_prior_kind)5), NF_ERR_ARG);
    NF_ASSERT_OK(nf_sequential_create(&m, V2, NF_PRIOR_STANDARD));
    nf_layer *l;
    nf_shape v3 = {1, 3, 1, 1, 1};
    NF_ASSERT_OK(nf_affine_constant_create(&l, v3, 1, 1));
    NF_ASSERT_FAILS(nf_sequential_add(m, l, NULL), NF_ERR_SHAPE); /* destroyed by the model */
    NF_ASSERT_FAILS(nf_sequential_add(m, NULL, NULL), NF_ERR_ARG);
    nf_tensor x = vt_batch(4, 2, 1.0, 1), z = vt_batch(4, 2, 1.0, 2);
    double ld[4];
    NF_ASSERT_FAILS(nf_flow_forward(m, &x, NULL, &z, ld), NF_ERR_STATE); /* not built */
    NF_ASSERT_OK(nf_leaky_relu_create(&l, V2, 0.5));
    NF_ASSERT_OK(nf_sequential_add(m, l, "my leaky relu"));
    NF_ASSERT_OK(nf_sequential_build(m, 1));
    NF_ASSERT_FAILS(nf_sequential_build(m, 1), NF_ERR_STATE);
    NF_ASSERT_OK(nf_leaky_relu_create(&l, V2, 0.5));
    NF_ASSERT_FAILS(nf_sequential_add(m, l, NULL), NF_ERR_STATE);
    assert_null(nf_sequential_spec(m));
    char buf[256];
    NF_ASSERT_OK(nf_sequential_describe(m, buf, sizeof buf, NULL));
    assert_non_null(strstr(buf, "my leaky relu  [1 parameters]"));
    /* log p(x) = log N(f(x); 0, I) + logdet */
    double lp[4];
    NF_ASSERT_OK(nf_sequential_log_prob(m, &x, NULL, lp));
    NF_ASSERT_OK(nf_flow_forward(m, &x, NULL, &z, ld));
    for (int b = 0; b < 4; b++) {
        double want = ld[b] - log(2 * M_PI) - 0.5 * (z.data[2 * b] * z.data[2 * b] + z.data[2 * b + 1] * z.data[2 * b + 1]);
        assert_true(fabs(lp[b] - want) < 1e-5);
    }
    nf_flow *glowlike = NULL;
    NF_ASSERT_FAILS(nf_sequential_add(glowlike, NULL, NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_sequential_set_training(NULL, 0), NF_ERR_ARG);
    nf_tensor_free(&x), nf_tensor_free(&z);
    nf_flow_destroy(m);
}

static const char *MIXED = "prior=diagonal, (batchnorm, realnvp(hidden=16x2), linear(lu=1), leakyrelu(alpha=0.5), "
                           "reverse, nice(hidden=8x2,act=tanh), affine, permute, linear, actnorm, maf(hidden=8x2), iaf(hidden=8x2), spline(hidden=8x2,bound=2), hint(hidden=8x2))*2";

static void perturb(nf_flow *m, double scale, uint64_t seed) {
    fc_target t;
    fc_flow_target_init(&t, m, 1);
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    fc_perturb_params(&t, &rng, scale);
}

static void test_mixed_stack_invertible(void **state) {
    nf_shape v5 = {1, 5, 1, 1, 1};
    nf_flow *m;
    NF_ASSERT_OK(nf_sequential_from_spec(&m, v5, MIXED, 2));
    perturb(m, 0.2, 3);
    fc_target t;
    fc_flow_target_init(&t, m, 16);
    nf_tensor x = vt_batch(16, 5, 1.0, 4);
    assert_true(fc_inverse_error(&t, &x) <= 1e-5);
    assert_true(fc_rebuild_error(&t, &x) <= 1e-5);
    NF_ASSERT_OK(nf_sequential_set_training(m, 0)); /* evaluation: running averages */
    assert_true(fc_inverse_error(&t, &x) <= 1e-5);
    assert_true(fc_rebuild_error(&t, &x) <= 1e-5);
    /* store mode: backward continues from the stored inputs and reports the drift */
    NF_ASSERT_OK(nf_flow_set_store_activations(m, 1));
    assert_true(fc_rebuild_error(&t, &x) <= 1e-6);
    assert_true(m->drift > 0 && m->drift < 1e-5);
    nf_tensor_free(&x);
    nf_flow_destroy(m);
}

/* nf_train_step trains a model like any flow: the two-moons loss falls. */
static void test_trains_with_the_shared_trainer(void **state) {
    nf_flow *m;
    NF_ASSERT_OK(nf_sequential_from_spec(&m, V2, "realnvp(hidden=24x3)*4", 1));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(m), 1e-3));
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 128, 2, 1, 1, 1));
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    double first = 0, last = 0;
    for (int it = 0; it < 300; it++) {
        for (int b = 0; b < 128; b++) { /* a noisy circle of radius 2: far from N(0, I) */
            double a = 2 * M_PI * nf_rng_uniform(&rng);
            x.data[2 * b] = (nf_real)(2 * cos(a) + 0.1 * nf_rng_normal(&rng));
            x.data[2 * b + 1] = (nf_real)(2 * sin(a) + 0.1 * nf_rng_normal(&rng));
        }
        nf_loss_stats st;
        NF_ASSERT_OK(nf_train_step(m, &opt, &x, NULL, &st));
        if (it < 10) first += st.loss / 10;
        if (it >= 290) last += st.loss / 10;
    }
    assert_true(last < first - 0.5);
    nf_adam_free(&opt);
    nf_tensor_free(&x);
    nf_flow_destroy(m);
}

/* Memory of a training step besides the parameters and Adam's moments does not grow
 * with depth (every layer rebuilds its input), and after the first step no step
 * allocates. */
static size_t step_memory(const char *spec, size_t *steady_growth) {
    nf_flow *m;
    NF_ASSERT_OK(nf_sequential_from_spec(&m, (nf_shape){1, 6, 1, 1, 1}, spec, 1));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(m), 1e-3));
    nf_tensor x = vt_batch(64, 6, 1.0, 2);
    size_t before = nf_mem_current();
    nf_mem_reset_peak();
    nf_loss_stats st;
    NF_ASSERT_OK(nf_train_step(m, &opt, &x, NULL, &st));
    size_t used = nf_mem_peak() - before, after = nf_mem_current();
    nf_mem_reset_peak();
    for (int i = 0; i < 3; i++) NF_ASSERT_OK(nf_train_step(m, &opt, &x, NULL, &st));
    *steady_growth = nf_mem_peak() - after;
    nf_adam_free(&opt);
    nf_tensor_free(&x);
    nf_flow_destroy(m);
    return used;
}

static void test_memory_flat_in_depth(void **state) {
    size_t g4, g32;
    size_t m4 = step_memory("(realnvp(hidden=16x2), maf(hidden=16x2), spline(hidden=8x2), hint(hidden=8x2))*1", &g4);
    size_t m32 = step_memory("(realnvp(hidden=16x2), maf(hidden=16x2), spline(hidden=8x2), hint(hidden=8x2))*8", &g32);
    assert_true(m4 > 0);
    assert_int_equal(m4, m32);
    assert_int_equal(g4, 0);
    assert_int_equal(g32, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_builds_the_tutorial_stack),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_building_by_hand),
        cmocka_unit_test(test_mixed_stack_invertible),
        cmocka_unit_test(test_trains_with_the_shared_trainer),
        cmocka_unit_test(test_memory_flat_in_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
