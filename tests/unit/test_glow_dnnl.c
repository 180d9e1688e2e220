/* A Glow with the oneDNN backend (NFLOW_DNNL builds only) against the same Glow with
 * the im2col kernels, in one process: latents, logdet, the rebuilt input, dx and every
 * parameter gradient agree on 1 and 2 threads, without and with a condition y (the
 * conditional Glow's sub-networks take y's channels too); and the gradients pass a finite-difference
 * check (float: central differences of step 1e-3 on a small flow, tolerance 1e-2, and
 * the check is shown to fail on halved gradients). */
#include "nftest.h"

#include "threads.h"

static const int N = 5; /* not a multiple of the thread count */

typedef struct run {
    nf_tensor z, x, dx;
    double logdet[8];
    nf_real *grad;
} run;

/* A Glow on (2, hw, hw) images (conditioned on cond_channels channels of y if > 0), levels
 * 2 steps 2, its parameters moved off their init. */
static nf_flow *make_flow(int hw, int hidden, int n, int cond_channels) {
    nf_glow_config c = nf_glow_config_default(2, hw, hw);
    c.hidden = hidden, c.levels = 2, c.steps = 2, c.cond_channels = cond_channels;
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    fc_target t;
    fc_flow_target_init(&t, f, n);
    nf_tensor x = nftest_randn(n, 2, 1, hw, hw, 1), z;
    nf_tensor y = nftest_randn(n, cond_channels ? cond_channels : 1, 1, hw, hw, 9);
    double ld[8];
    NF_ASSERT_OK(nf_tensor_alloc(&z, n, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    NF_ASSERT_OK(nf_flow_forward(f, &x, cond_channels ? &y : NULL, &z, ld)); /* ActNorm's data-dependent init */
    nf_rng r;
    nf_rng_seed(&r, 5);
    fc_perturb_params(&t, &r, 0.1); /* the zero-initialised last convs too */
    nf_tensor_free(&x), nf_tensor_free(&y), nf_tensor_free(&z);
    return f;
}

/* forward, then backward of dz = z (dlogdet -1/N) with the backend b; y may be NULL */
static run one_pass(nf_flow *f, nf_conv_backend b, const nf_tensor *y) {
    NF_ASSERT_OK(nf_set_conv_backend(b));
    run r;
    nf_tensor x = nftest_randn(N, 2, 1, 8, 8, 2);
    NF_ASSERT_OK(nf_tensor_alloc(&r.z, N, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&r.x, N, 2, 1, 8, 8));
    NF_ASSERT_OK(nf_tensor_alloc(&r.dx, N, 2, 1, 8, 8));
    r.grad = malloc(f->params.count * sizeof(nf_real));
    NF_ASSERT_OK(nf_flow_forward(f, &x, y, &r.z, r.logdet));
    nf_flow_zero_grad(f);
    NF_ASSERT_OK(nf_flow_backward(f, &r.z, &r.z, y, -1.0 / N, &r.x, &r.dx));
    memcpy(r.grad, f->params.grad, f->params.count * sizeof(nf_real));
    nf_tensor_free(&x);
    return r;
}

static void free_run(run *r) { nf_tensor_free(&r->z), nf_tensor_free(&r->x), nf_tensor_free(&r->dx), free(r->grad); }

static void expect_backends_agree(int cond_channels) {
    nf_flow *f = make_flow(8, 12, N, cond_channels);
    nf_tensor y = nftest_randn(N, cond_channels ? cond_channels : 1, 1, 8, 8, 4);
    const nf_tensor *cond = cond_channels ? &y : NULL;
    for (int threads = 1; threads <= 2; threads++) {
        nf_threads_set(threads, NF_THREADS_OPENMP);
        run a = one_pass(f, NF_CONV_IM2COL, cond), b = one_pass(f, NF_CONV_DNNL, cond);
        double ld = 0;
        for (int i = 0; i < N; i++) ld = fmax(ld, fabs(a.logdet[i] - b.logdet[i]) / (1 + fabs(a.logdet[i])));
        double e[5] = {fc_rel_diff(b.z.data, a.z.data, nf_tensor_count(&a.z)), ld,
                       fc_rel_diff(b.x.data, a.x.data, nf_tensor_count(&a.x)),
                       fc_rel_diff(b.dx.data, a.dx.data, nf_tensor_count(&a.dx)),
                       fc_rel_diff(b.grad, a.grad, f->params.count)};
        for (int i = 0; i < 5; i++)
            if (!(e[i] <= 1e-5))
                fail_msg("%d threads, %d condition channels, oneDNN vs im2col: z %g logdet %g x %g dx %g grad %g",
                         threads, cond_channels, e[0], e[1], e[2], e[3], e[4]);
        /* oneDNN did run (a silent fall-back to im2col would give the same bits) */
        assert_true(memcmp(b.grad, a.grad, f->params.count * sizeof(nf_real)) != 0);
        /* and the comparison can fail: a sign error in half the gradient is far off */
        for (size_t i = 0; i < f->params.count / 2; i++) b.grad[i] = -b.grad[i];
        assert_true(fc_rel_diff(b.grad, a.grad, f->params.count) > 1e-3);
        free_run(&a), free_run(&b);
    }
    nf_threads_set(2, NF_THREADS_OPENMP);
    NF_ASSERT_OK(nf_set_conv_backend(NF_CONV_DNNL));
    nf_tensor_free(&y);
    nf_flow_destroy(f);
}

static void test_backends_agree(void **state) { expect_backends_agree(0); }

static void test_backends_agree_conditional(void **state) { expect_backends_agree(3); }

/* The float check runs on a small batch of small images, where float round-off in the
 * loss stays well below the differences (the double build cannot run oneDNN). */
static void test_gradient_check_with_dnnl(void **state) {
    nf_threads_set(2, NF_THREADS_OPENMP);
    nf_flow *f = make_flow(4, 6, 2, 0);
    fc_target t;
    fc_flow_target_init(&t, f, 2);
    nf_tensor x = nftest_randn(2, 2, 1, 4, 4, 3);
    NF_ASSERT_OK(nf_set_conv_backend(NF_CONV_DNNL));
    /* step 1e-3: truncation and round-off both near 1e-3 here (im2col: the same errors) */
    fc_grad_report r = fc_check_gradients(&t, &x, 4, 1e-3, FC_CORRUPT_NONE, 21);
    if (r.dx_err > 1e-2 || r.dparam_err > 1e-2) fail_msg("dx err %g, dparam err %g", r.dx_err, r.dparam_err);
    r = fc_check_gradients(&t, &x, 2, 1e-3, FC_CORRUPT_HALF, 21);
    assert_true(r.dx_err > 0.2 && r.dparam_err > 0.2);
    nf_tensor_free(&x);
    nf_flow_destroy(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backends_agree),
        cmocka_unit_test(test_backends_agree_conditional),
        cmocka_unit_test(test_gradient_check_with_dnnl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
