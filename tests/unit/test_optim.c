/* Adam/AdamW against a hand-written update, frozen parameters, gradient clipping
 * and the loss. */
#include "nftest.h"

static nf_params make_params(size_t n) {
    nf_params p = {0};
    p.count = n;
    p.value = calloc(n, sizeof(nf_real));
    p.grad = calloc(n, sizeof(nf_real));
    p.frozen = calloc(n, 1);
    return p;
}
static void free_params(nf_params *p) {
    free(p->value);
    free(p->grad);
    free(p->frozen);
}

static void test_adam_matches_reference(void **state) {
    nf_params p = make_params(3);
    nf_adam a;
    NF_ASSERT_OK(nf_adam_init(&a, 3, 0.1));
    a.weight_decay = 0.01;
    p.frozen[2] = 1;
    double w[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
    p.value[0] = 1.0f, p.value[1] = -2.0f, p.value[2] = 5.0f;
    for (int t = 1; t <= 5; t++) {
        double g[2] = {0.5 * t, -0.25};
        p.grad[0] = (nf_real)g[0], p.grad[1] = (nf_real)g[1], p.grad[2] = 100.0f;
        NF_ASSERT_OK(nf_adam_step(&a, &p));
        for (int i = 0; i < 2; i++) {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t));
            w[i] = w[i] - 0.1 * mh / (sqrt(vh) + 1e-8) - 0.1 * 0.01 * w[i];
            assert_true(fabs(p.value[i] - w[i]) < 1e-5);
        }
        assert_true(p.value[2] == 5.0f); /* frozen: untouched, even by weight decay */
    }
    nf_adam_free(&a);
    free_params(&p);
}

static void test_adam_bad_input(void **state) {
    nf_adam a;
    NF_ASSERT_FAILS(nf_adam_init(&a, 3, 0.0), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_adam_init(&a, 3, NAN), NF_ERR_ARG);
    NF_ASSERT_OK(nf_adam_init(&a, 3, 0.1));
    nf_params p = make_params(4);
    NF_ASSERT_FAILS(nf_adam_step(&a, &p), NF_ERR_SHAPE);
    NF_ASSERT_FAILS(nf_adam_step(&a, NULL), NF_ERR_ARG);
    a.beta1 = 1.0;
    nf_params q = make_params(3);
    NF_ASSERT_FAILS(nf_adam_step(&a, &q), NF_ERR_ARG);
    nf_adam_free(&a);
    free_params(&p);
    free_params(&q);
}

static void test_clip_grad_norm(void **state) {
    nf_params p = make_params(2);
    p.grad[0] = 3, p.grad[1] = 4;
    double norm;
    NF_ASSERT_OK(nf_clip_grad_norm(&p, 1.0, &norm));
    assert_true(fabs(norm - 5.0) < 1e-6);
    assert_true(fabs(p.grad[0] - 0.6) < 1e-6 && fabs(p.grad[1] - 0.8) < 1e-6);
    NF_ASSERT_OK(nf_clip_grad_norm(&p, 10.0, &norm)); /* below the limit: unchanged */
    assert_true(fabs(p.grad[0] - 0.6) < 1e-6);
    NF_ASSERT_FAILS(nf_clip_grad_norm(&p, 0.0, NULL), NF_ERR_ARG);
    p.grad[1] = INFINITY;
    NF_ASSERT_FAILS(nf_clip_grad_norm(&p, 1.0, NULL), NF_ERR_NUMERIC);
    free_params(&p);
}

static void test_loss_and_bits_per_dim(void **state) {
    nf_tensor z, dz;
    NF_ASSERT_OK(nf_tensor_alloc(&z, 2, 2, 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&dz, 2, 2, 1, 1, 1));
    z.data[0] = 1, z.data[1] = 2, z.data[2] = 0, z.data[3] = -2;
    double ld[2] = {0.5, 1.5}, dld;
    nf_loss_stats st;
    NF_ASSERT_OK(nf_loss_nll(&z, ld, &dz, &dld, &st));
    /* 0.5*|z|^2 = 2.5 and 2.0, mean 2.25; mean logdet 1.0 */
    assert_true(fabs(st.half_sq - 2.25) < 1e-12);
    assert_true(fabs(st.logdet - 1.0) < 1e-12);
    assert_true(fabs(st.loss - 1.25) < 1e-12);
    assert_true(fabs(st.bits_per_dim - (1.25 / 2 + 0.5 * log(2 * 3.14159265358979323846)) / log(2.0)) < 1e-12);
    assert_true(fabs(dz.data[1] - 1.0) < 1e-7 && fabs(dz.data[3] + 1.0) < 1e-7);
    assert_true(dld == -0.5);
    ld[1] = NAN;
    NF_ASSERT_FAILS(nf_loss_nll(&z, ld, NULL, NULL, &st), NF_ERR_NUMERIC);
    nf_tensor_free(&z);
    nf_tensor_free(&dz);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_matches_reference),
        cmocka_unit_test(test_adam_bad_input),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_loss_and_bits_per_dim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
