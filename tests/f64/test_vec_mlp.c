/* The MLP helper in double: finite-difference gradients in the input and the
 * parameters for every activation, dense and masked, and proof the check fails
 * when a gradient is wrong. */
#include "nftest.h"

#include "layers/mlp.h"

typedef struct net_case {
    nf_mlp m;
    nf_real *p, *g, *acts, *scr;
    int n;
} net_case;

/* loss = sum r * NN(x) */
static double loss_of(net_case *c, const nf_real *x, const nf_real *r) {
    nf_real *out = nf_mlp_forward(&c->m, c->p, x, c->n, c->acts, c->scr);
    double s = 0;
    for (int i = 0; i < c->n * c->m.size[c->m.nlin]; i++) s += r[i] * out[i];
    return s;
}

/* Max relative error of the directional derivatives (x and params); scale corrupts
 * the analytic gradients (1 = none). */
static double grad_error(nf_activation act, const nf_real *mask, double scale) {
    net_case c = {.n = 5};
    nf_mlp_spec spec = {2, {6, 4}, act};
    NF_ASSERT_OK(nf_mlp_setup(&c.m, "test", 3, spec, 3));
    if (mask) c.m.mask[1] = mask; /* (4, 6) */
    size_t np = nf_mlp_nparams(&c.m);
    c.p = calloc(np, sizeof(nf_real)), c.g = calloc(np, sizeof(nf_real));
    c.acts = calloc(nf_mlp_acts_count(&c.m, c.n), sizeof(nf_real));
    c.scr = calloc(nf_mlp_scratch_count(&c.m, c.n), sizeof(nf_real));
    nf_rng rng;
    nf_rng_seed(&rng, 5);
    nf_mlp_init(&c.m, c.p, &rng, 0);
    nf_real x[15], r[15], dx[15] = {0}, u[15], xp[15];
    nf_rng_fill_normal(&rng, x, 15, 1.0);
    nf_rng_fill_normal(&rng, r, 15, 1.0);
    loss_of(&c, x, r);
    nf_mlp_backward(&c.m, c.p, c.g, x, c.n, c.acts, r, dx, c.scr);
    double worst = 0, eps = 1e-6;
    for (int k = 0; k < 4; k++) {
        nf_rng_fill_normal(&rng, u, 15, 1.0);
        double an = 0;
        for (int i = 0; i < 15; i++) an += scale * dx[i] * u[i], xp[i] = x[i] + eps * u[i];
        double lp = loss_of(&c, xp, r);
        for (int i = 0; i < 15; i++) xp[i] = x[i] - eps * u[i];
        double num = (lp - loss_of(&c, xp, r)) / (2 * eps);
        worst = fmax(worst, fabs(an - num) / fmax(fabs(num), 1e-12));
        nf_real *v = malloc(np * sizeof(nf_real)), *p0 = malloc(np * sizeof(nf_real));
        nf_rng_fill_normal(&rng, v, np, 1.0);
        memcpy(p0, c.p, np * sizeof(nf_real));
        an = 0;
        for (size_t i = 0; i < np; i++) an += scale * c.g[i] * v[i], c.p[i] = p0[i] + eps * v[i];
        lp = loss_of(&c, x, r);
        for (size_t i = 0; i < np; i++) c.p[i] = p0[i] - eps * v[i];
        num = (lp - loss_of(&c, x, r)) / (2 * eps);
        memcpy(c.p, p0, np * sizeof(nf_real));
        worst = fmax(worst, fabs(an - num) / fmax(fabs(num), 1e-12));
        free(v), free(p0);
    }
    free(c.p), free(c.g), free(c.acts), free(c.scr);
    return worst;
}

static void test_mlp_gradients(void **state) {
    nf_activation acts[] = {NF_ACT_IDENTITY, NF_ACT_RELU, NF_ACT_LEAKY_RELU, NF_ACT_TANH};
    nf_real mask[24];
    for (int i = 0; i < 24; i++) mask[i] = (i * 7) % 3 != 0;
    for (int a = 0; a < 4; a++) {
        assert_true(grad_error(acts[a], NULL, 1.0) <= 1e-6);
        assert_true(grad_error(acts[a], mask, 1.0) <= 1e-6);
        assert_true(grad_error(acts[a], NULL, 0.5) > 1e-3); /* the check catches a wrong gradient */
        assert_true(grad_error(acts[a], mask, -1.0) > 1e-3);
    }
}

/* Masked weights have no influence and get no gradient. */
static void test_mask_blocks_weights(void **state) {
    nf_mlp m;
    NF_ASSERT_OK(nf_mlp_setup(&m, "test", 2, (nf_mlp_spec){0, {0}, NF_ACT_IDENTITY}, 2));
    nf_real mask[4] = {1, 0, 1, 1}; /* out0 ignores in1 */
    m.mask[0] = mask;
    nf_real p[6] = {1, 5, 2, 3, 0, 0}, g[6] = {0}, x[2] = {1, 1}, acts[2], scr[16], d[2] = {1, 1};
    nf_real *out = nf_mlp_forward(&m, p, x, 1, acts, scr);
    assert_true(fabs(out[0] - 1) < 1e-12 && fabs(out[1] - 5) < 1e-12);
    nf_mlp_backward(&m, p, g, x, 1, acts, d, NULL, scr);
    assert_true(g[1] == 0 && g[0] == 1 && g[3] == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_gradients),
        cmocka_unit_test(test_mask_blocks_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
