/* Helpers shared by the model-file tests (test_model_file.c: round trips and saving;
 * test_model_file_damage.c: bad files): a trained Glow, temporary paths and
 * bit-for-bit comparisons. */
#ifndef TEST_MODEL_FILE_H
#define TEST_MODEL_FILE_H

#include "nftest.h"

#include <stdio.h>
#include <unistd.h>

static inline char *tmp_path(char *buf, size_t size, const char *tag) {
    snprintf(buf, size, "test_model_file_%ld_%s.h5", (long)getpid(), tag);
    return buf;
}

/* A Glow trained for `steps` Adam steps on N(0, 1) batches, so that ActNorm is
 * initialised and no parameter is at its initial value. */
static inline nf_flow *trained_glow(nf_glow_config c, int steps) {
    nf_flow *f = NULL;
    NF_ASSERT_OK(nf_glow_create(&f, &c));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-2));
    for (int s = 0; s < steps; s++) {
        nf_tensor x = nftest_randn(6, c.channels, 1, c.height, c.width, 100 + (uint64_t)s);
        NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, NULL));
        nf_tensor_free(&x);
    }
    nf_adam_free(&opt);
    return f;
}

/* z and logdet of a fixed batch. */
static inline void forward_of(nf_flow *f, nf_tensor *z, double *logdet) {
    nf_tensor x = nftest_randn(5, f->in.c, f->in.d, f->in.h, f->in.w, 77);
    NF_ASSERT_OK(nf_tensor_alloc(z, 5, (int)nf_shape_sample_count(f->in), 1, 1, 1));
    NF_ASSERT_OK(nf_flow_forward(f, &x, NULL, z, logdet));
    nf_tensor_free(&x);
}

/* Same architecture, parameters, frozen marks and initialised flags, bit for bit. */
static inline void assert_same_flow(const nf_flow *a, const nf_flow *b) {
    const nf_glow_config *ca = nf_glow_get_config(a), *cb = nf_glow_get_config(b);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_true(ca->channels == cb->channels && ca->volume_depth == cb->volume_depth && ca->height == cb->height &&
                ca->width == cb->width && ca->hidden == cb->hidden && ca->levels == cb->levels &&
                ca->steps == cb->steps && ca->multiscale == cb->multiscale && ca->squeeze == cb->squeeze &&
                ca->coupling == cb->coupling && ca->conv1x1 == cb->conv1x1 && ca->seed == cb->seed &&
                ca->coupling_min_scale == cb->coupling_min_scale && ca->learn_prior == cb->learn_prior);
    assert_int_equal(a->nlayers, b->nlayers);
    assert_int_equal(a->params.count, b->params.count);
    assert_memory_equal(a->params.value, b->params.value, a->params.count * sizeof(nf_real));
    assert_memory_equal(a->params.frozen, b->params.frozen, a->params.count);
    for (int i = 0; i < a->nlayers; i++) {
        assert_string_equal(a->layers[i]->ops->name, b->layers[i]->ops->name);
        assert_int_equal(a->layers[i]->initialized, b->layers[i]->initialized);
    }
}

/* The same z and logdet, bit for bit, for a fixed batch. */
static inline void assert_same_forward(nf_flow *f, nf_flow *g) {
    nf_tensor zf, zg;
    double ldf[5], ldg[5];
    forward_of(f, &zf, ldf);
    forward_of(g, &zg, ldg);
    assert_memory_equal(zf.data, zg.data, nf_tensor_count(&zf) * sizeof(nf_real));
    assert_memory_equal(ldf, ldg, sizeof ldf);
    nf_tensor_free(&zf);
    nf_tensor_free(&zg);
}

static inline void check_roundtrip(nf_glow_config c, int steps) {
    char path[128];
    tmp_path(path, sizeof path, "roundtrip");
    size_t mem0 = nf_mem_current();
    nf_flow *f = trained_glow(c, steps), *g = NULL;
    NF_ASSERT_OK(nf_model_save(f, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    assert_same_flow(f, g);
    assert_same_forward(f, g);
    assert_true(steps > 0 || g->layers[c.multiscale ? 1 : 0]->initialized); /* the forward just ran the init */
    nf_flow_destroy(f);
    nf_flow_destroy(g);
    assert_int_equal(nf_mem_current(), mem0);
    unlink(path);
}

static inline nf_glow_config image_config(void) {
    nf_glow_config c = nf_glow_config_default(3, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2, c.seed = 11;
    return c;
}

static inline nf_glow_config vector_config(void) {
    nf_glow_config c = nf_glow_config_default(4, 1, 1);
    c.hidden = 16, c.levels = 2, c.steps = 3, c.multiscale = 0, c.seed = 12;
    return c;
}

#endif
