#define _POSIX_C_SOURCE 200809L
/* Conditional vector flows through the contract, float build: the condition is checked
 * wherever it enters (flows, layers, the sequential builder), it changes the output, a
 * model file brings the flow back with its condition shape and summary network, training
 * lowers -log p(x | y), and Glow refuses a conditional layer instead of running it
 * without its condition. */
#include "nftest.h"

#include <stdlib.h>
#include <unistd.h>

static const char *SPEC = "summary(hidden=8x2,out=4), (cond_realnvp(hidden=16x2), cond_spline(bins=6,bound=3,hidden=16x2), "
                          "reverse)*2";

static nf_flow *make_flow(void) {
    nf_shape in = {1, 2, 1, 1, 1}, cs = {1, 3, 1, 1, 1};
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, in, cs, SPEC, 2));
    nf_rng r;
    nf_rng_seed(&r, 4);
    for (size_t i = 0; i < f->params.count; i++) /* the nets' last layers start at zero */
        if (!f->params.frozen[i]) f->params.value[i] += (nf_real)(0.1 * nf_rng_normal(&r));
    return f;
}

static void test_condition_checked(void **state) {
    nf_flow *f = make_flow();
    assert_true(nf_flow_is_conditional(f));
    nf_tensor x = nftest_randn(4, 2, 1, 1, 1, 1), y = nftest_randn(4, 3, 1, 1, 1, 2), z = nftest_randn(4, 2, 1, 1, 1, 3);
    nf_tensor y5 = nftest_randn(5, 3, 1, 1, 1, 2), y2 = nftest_randn(4, 2, 1, 1, 1, 2);
    double ld[5];
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, NULL, &z, ld), NF_ERR_ARG);   /* no condition */
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, &y5, &z, ld), NF_ERR_SHAPE);  /* another batch */
    NF_ASSERT_FAILS(nf_flow_forward(f, &x, &y2, &z, ld), NF_ERR_SHAPE);  /* another size */
    NF_ASSERT_FAILS(nf_flow_inverse(f, &z, NULL, &x), NF_ERR_ARG);
    nf_loss_stats st;
    NF_ASSERT_FAILS(nf_flow_eval(f, &x, NULL, &st), NF_ERR_ARG);
    NF_ASSERT_OK(nf_flow_eval(f, &x, &y, &st));
    /* an unconditional flow refuses one */
    nf_flow *u;
    nf_shape in = {1, 2, 1, 1, 1};
    NF_ASSERT_OK(nf_sequential_from_spec(&u, in, "realnvp*2", 1));
    NF_ASSERT_FAILS(nf_flow_forward(u, &x, &y, &z, ld), NF_ERR_ARG);
    nf_flow_destroy(u);
    /* builder: conditional layers need a conditional flow, the summary comes first */
    assert_int_equal(nf_sequential_from_spec(&u, in, "cond_realnvp*2", 1), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "conditional"));
    nf_shape cs = {1, 3, 1, 1, 1};
    assert_int_equal(nf_sequential_from_spec_cond(&u, in, cs, "cond_realnvp, summary", 1), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "first layer"));
    /* a layer called directly without its condition */
    nf_layer *l;
    NF_ASSERT_OK(nf_cond_realnvp_create(&l, in, 3, nf_mlp_spec_uniform(8, 1, NF_ACT_RELU), 0, 0));
    nf_params p = {0};
    nf_rng r;
    nf_rng_seed(&r, 1);
    NF_ASSERT_OK(nf_params_bind(&p, &l, 1, &r));
    nf_ctx ctx = {0};
    nf_shape b = in;
    b.n = 4;
    NF_ASSERT_OK(nf_ctx_reserve(&ctx, nf_layer_workspace(l, b)));
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, &ctx), NF_ERR_ARG);
    ctx.cond = &y2;
    NF_ASSERT_FAILS(nf_layer_forward(l, &x, ld, &ctx), NF_ERR_SHAPE);
    ctx.cond = &y;
    NF_ASSERT_OK(nf_layer_forward(l, &x, ld, &ctx));
    nf_ctx_free(&ctx);
    nf_params_free(&p);
    nf_layer_destroy(l);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&z), nf_tensor_free(&y5), nf_tensor_free(&y2);
    nf_flow_destroy(f);
}

/* The same x under two conditions maps to different z; sampling is invertible per y. */
static void test_condition_used(void **state) {
    nf_flow *f = make_flow();
    nf_tensor x = nftest_randn(4, 2, 1, 1, 1, 1), y = nftest_randn(4, 3, 1, 1, 1, 2), y2 = nftest_randn(4, 3, 1, 1, 1, 9);
    nf_tensor z1 = nftest_randn(4, 2, 1, 1, 1, 3), z2 = nftest_randn(4, 2, 1, 1, 1, 3), xr = nftest_randn(4, 2, 1, 1, 1, 3);
    double ld[4];
    NF_ASSERT_OK(nf_flow_forward(f, &x, &y, &z1, ld));
    NF_ASSERT_OK(nf_flow_forward(f, &x, &y2, &z2, ld));
    assert_true(fc_rel_diff(z1.data, z2.data, 8) > 1e-3);
    NF_ASSERT_OK(nf_flow_inverse(f, &z1, &y, &xr));
    assert_true(fc_rel_diff(xr.data, x.data, 8) < 1e-5);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&y2), nf_tensor_free(&z1), nf_tensor_free(&z2),
        nf_tensor_free(&xr);
    nf_flow_destroy(f);
}

/* A model file keeps the condition shape and the summary network: the loaded flow gives
 * the same z for the same (x, y). */
static void test_model_file(void **state) {
    nf_flow *f = make_flow(), *g = NULL;
    char path[] = "/tmp/nflow_cond_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    NF_ASSERT_OK(nf_model_save(f, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    unlink(path);
    assert_int_equal(g->cond.c, 3);
    nf_tensor x = nftest_randn(4, 2, 1, 1, 1, 1), y = nftest_randn(4, 3, 1, 1, 1, 2);
    nf_tensor z1 = nftest_randn(4, 2, 1, 1, 1, 3), z2 = nftest_randn(4, 2, 1, 1, 1, 3);
    double ld[4], ld2[4];
    NF_ASSERT_OK(nf_flow_forward(f, &x, &y, &z1, ld));
    NF_ASSERT_OK(nf_flow_forward(g, &x, &y, &z2, ld2));
    assert_true(fc_rel_diff(z1.data, z2.data, 8) == 0);
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&z1), nf_tensor_free(&z2);
    nf_flow_destroy(f);
    nf_flow_destroy(g);
}

/* y ~ N(0, 4), x | y ~ N(y (1, -1), 0.3^2 I). Exactly, the loss (-log p without the
 * log 2 pi per value) is 1 + 2 log 0.3 = -1.41 given y; without y, x is spread along the
 * line with std 2 sqrt 2, and no flow of x alone can do better than about
 * 1 + log(2 sqrt 2 * 0.3) = 0.84. A loss below -1 is only reachable through y. */
static void test_training_learns_condition(void **state) {
    nf_shape in = {1, 2, 1, 1, 1}, cs = {1, 1, 1, 1, 1};
    nf_flow *f;
    NF_ASSERT_OK(nf_sequential_from_spec_cond(&f, in, cs, "cond_realnvp(hidden=16x2)*4", 1));
    nf_trainer_config tc = nf_trainer_config_default(300, 3e-3);
    nf_trainer *t;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    nf_tensor x, y;
    NF_ASSERT_OK(nf_tensor_alloc(&x, 128, 2, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&y, 128, 1, 1, 1, 1));
    nf_rng r;
    nf_rng_seed(&r, 3);
    nf_loss_stats st = {0};
    for (int s = 0; s < 300; s++) {
        for (int b = 0; b < 128; b++) {
            double c = 2 * nf_rng_normal(&r);
            y.data[b] = (nf_real)c;
            x.data[2 * b] = (nf_real)(c + 0.3 * nf_rng_normal(&r));
            x.data[2 * b + 1] = (nf_real)(-c + 0.3 * nf_rng_normal(&r));
        }
        NF_ASSERT_OK(nf_trainer_step(t, &x, &y, NULL));
    }
    NF_ASSERT_OK(nf_flow_eval(f, &x, &y, &st));
    print_message("conditional loss after 300 steps: %.3f (exact -1.41, best without y 0.84)\n", st.loss);
    assert_true(st.loss < -1.0);
    nf_trainer_destroy(t);
    nf_tensor_free(&x), nf_tensor_free(&y);
    nf_flow_destroy(f);
}

/* An unconditional Glow gives its layers no condition: a conditional layer among them
 * fails the pass before any work (glow_cond_check). */
static void test_glow_refuses_conditional_layer(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 4, c.levels = 1, c.steps = 1, c.multiscale = 0;
    nf_flow *g;
    NF_ASSERT_OK(nf_glow_create(&g, &c));
    nf_layer *cl;
    nf_shape in = g->layers[0]->in;
    NF_ASSERT_OK(nf_cond_realnvp_create(&cl, in, 2, nf_mlp_spec_uniform(4, 1, NF_ACT_RELU), 0, 0));
    nf_layer *keep = g->layers[0];
    g->layers[0] = cl;
    nf_tensor x = nftest_randn(2, 2, 1, 8, 8, 1), z = nftest_randn(2, 128, 1, 1, 1, 1);
    double ld[2];
    NF_ASSERT_FAILS(nf_flow_forward(g, &x, NULL, &z, ld), NF_ERR_STATE);
    assert_non_null(strstr(nf_last_error(), "conditional"));
    NF_ASSERT_FAILS(nf_flow_inverse(g, &z, NULL, &x), NF_ERR_STATE);
    g->layers[0] = keep;
    nf_layer_destroy(cl);
    nf_tensor_free(&x), nf_tensor_free(&z);
    nf_flow_destroy(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_condition_checked),
        cmocka_unit_test(test_condition_used),
        cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_training_learns_condition),
        cmocka_unit_test(test_glow_refuses_conditional_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
