/* Conditional Glow (p(x | y), y squeezed with x, read by every coupling) in the double
 * build, on images, volumes and vectors: with a fixed condition y, FD gradients in x and
 * in every parameter, then in the parameters that see the loss only through y's path —
 * y's own ActNorm (layer 0: dloss/dy of every coupling, unsqueezed level by level) and
 * the weights of each coupling's first conv on y's channels — each caught when halved;
 * logdet against the brute-force Jacobian, inverse and rebuild errors. The FD checks run
 * the first forward layer by layer (ActNorm's init) and the rest on the threaded level
 * passes, so both paths are covered. */
#include "nftest.h"

static void check_block(fc_target *t, const nf_tensor *x, const char *what) {
    fc_grad_report ok = fc_check_gradients(t, x, 4, 1e-6, FC_CORRUPT_NONE, 21);
    fc_grad_report bad = fc_check_gradients(t, x, 3, 1e-6, FC_CORRUPT_HALF, 21);
    if (!(ok.dparam_err <= 1e-3) || !(bad.dparam_err > 1e-3))
        fail_msg("%s: gradient error %g, with the gradient halved %g", what, ok.dparam_err, bad.dparam_err);
}

/* Narrows t to the first conv's weights on the condition's channels for hidden unit o
 * of the coupling l (conv1.weight is (hidden, cb + cc, taps...): a contiguous row part). */
static fc_target y_weights(const fc_target *t, const nf_layer *l, int o) {
    nf_param_block b[16];
    int nb = l->ops->param_blocks(l, b, 16);
    assert_true(nb >= 1 && !strcmp(b[0].name, "conv1.weight"));
    size_t taps = b[0].rank == 5 ? 27 : 9;
    int cin = b[0].dims[1], cb = cin - l->cond.c;
    fc_target n = *t;
    n.param = l->param + b[0].offset + ((size_t)o * cin + cb) * taps;
    n.grad = l->grad + b[0].offset + ((size_t)o * cin + cb) * taps;
    n.nparams = (size_t)l->cond.c * taps;
    n.frozen = NULL;
    return n;
}

/* Every hidden unit's weights on y right; halving them caught for at least one unit (a
 * unit whose ReLU is off on the whole batch, as happens on 1x1 top levels, has none). */
static void check_y_weights(const fc_target *t, const nf_layer *l, const nf_tensor *x, const char *what) {
    double caught = 0;
    nf_param_block b[16];
    l->ops->param_blocks(l, b, 16);
    for (int o = 0; o < b[0].dims[0]; o++) {
        fc_target tw = y_weights(t, l, o);
        fc_grad_report ok = fc_check_gradients(&tw, x, 3, 1e-6, FC_CORRUPT_NONE, 21);
        fc_grad_report bad = fc_check_gradients(&tw, x, 3, 1e-6, FC_CORRUPT_HALF, 21);
        if (!(ok.dparam_err <= 1e-3)) fail_msg("%s, unit %d: gradient error %g", what, o, ok.dparam_err);
        if (bad.dparam_err > caught) caught = bad.dparam_err;
    }
    if (!(caught > 1e-3)) fail_msg("%s: halving them was not caught (%g)", what, caught);
}

static void check_cond_glow(nf_glow_config c, int n) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    assert_true(nf_flow_is_conditional(f));
    assert_int_equal(f->cond.c, c.cond_channels);
    assert_int_equal(f->cond.h, c.height);
    nf_tensor x = nftest_randn(n, c.channels, c.volume_depth, c.height, c.width, 3);
    nf_tensor y = nftest_randn(n, c.cond_channels, c.volume_depth, c.height, c.width, 4);
    for (size_t i = 0; i < nf_tensor_count(&y); i++) y.data[i] = 2 * y.data[i] + 1; /* ActNorm has work to do */
    fc_cond_flow cf = {f, &y};
    fc_target t;
    fc_cond_flow_target_init(&t, &cf, n);
    nf_rng rng;
    nf_rng_seed(&rng, 7);
    /* warm-up (ActNorm init), then random parameters: zero last convs would hide y */
    fc_grad_report r = fc_check_gradients(&t, &x, 1, 1e-6, FC_CORRUPT_NONE, 21);
    fc_perturb_params(&t, &rng, 0.2);
    r = fc_check_gradients(&t, &x, 4, 1e-6, FC_CORRUPT_NONE, 21);
    double le = fc_logdet_error(&t, &x, 1e-6), ei = fc_inverse_error(&t, &x), er = fc_rebuild_error(&t, &x);
    if (r.dx_err > 1e-3 || r.dparam_err > 1e-3 || le > 1e-4 || ei > 1e-5 || er > 1e-5)
        fail_msg("(%d, %d, %d, %d | %d): dx err %g, dparam err %g, logdet err %g, inverse %g, rebuild %g",
                 c.channels, c.volume_depth, c.height, c.width, c.cond_channels, r.dx_err, r.dparam_err, le, ei, er);
    r = fc_check_gradients(&t, &x, 2, 1e-6, FC_CORRUPT_HALF, 21);
    assert_true(r.dx_err > 1e-3 && r.dparam_err > 1e-3);

    fc_target tn = t; /* y's ActNorm alone: it sees the loss only through dloss/dy */
    nf_layer *norm = f->layers[0];
    assert_int_equal(norm->in.c, c.cond_channels);
    tn.param = norm->param, tn.grad = norm->grad, tn.nparams = norm->nparams, tn.frozen = NULL;
    check_block(&tn, &x, "the condition's ActNorm");

    /* the couplings' weights on y's channels: the first coupling's and the last's on more
     * than one pixel (on a 1x1 level the gradients of a few live units are too small for
     * central differences to judge) */
    int first = -1, last = -1;
    for (int i = 0; i < f->nlayers; i++) {
        const nf_layer *l = f->layers[i];
        if (l->cond.c <= 0) continue;
        if (first < 0) first = i;
        if (nf_shape_sample_count(l->in) > (size_t)l->in.c || last < 0) last = i;
    }
    assert_true(first > 0);
    check_y_weights(&t, f->layers[first], &x, "the first coupling's weights on y");
    check_y_weights(&t, f->layers[last], &x, "the last coupling's weights on y");

    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_flow_destroy(f);
}

static void test_cond_glow_images(void **state) {
    nf_glow_config c = nf_glow_config_default(2, 8, 8);
    c.hidden = 4, c.levels = 2, c.steps = 2, c.cond_channels = 1;
    check_cond_glow(c, 2);
    c.height = c.width = 4;
    c.channels = 1, c.cond_channels = 3, c.squeeze = NF_SQUEEZE_HAAR, c.coupling = NF_COUPLING_ADDITIVE;
    c.conv1x1 = NF_CONV1X1_HOUSEHOLDER, c.learn_prior = 1;
    check_cond_glow(c, 2);
}

/* Volumes: y squeezed 2x2x2 with x, 3x3x3 convs on concat(xb, y). */
static void test_cond_glow_volume(void **state) {
    nf_glow_config c = nf_glow_config_default(1, 4, 4);
    c.volume_depth = 4, c.hidden = 3, c.levels = 2, c.steps = 1, c.cond_channels = 2;
    check_cond_glow(c, 2);
}

/* Without multiscale (vectors as 1x1 images): no squeeze, the layer-by-layer path. */
static void test_cond_glow_vectors(void **state) {
    nf_glow_config c = nf_glow_config_default(3, 1, 1);
    c.hidden = 5, c.levels = 2, c.steps = 2, c.multiscale = 0, c.cond_channels = 2;
    check_cond_glow(c, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_glow_images),
        cmocka_unit_test(test_cond_glow_volume),
        cmocka_unit_test(test_cond_glow_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
