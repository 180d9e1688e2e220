/* Model files: Glow, learned-prior and sequential round trips give bit-identical
 * parameters and outputs; a failed save leaves nothing behind; a kind registered from
 * outside round-trips through the public attribute accessors. Bad files:
 * test_model_file_damage.c. */
#define _POSIX_C_SOURCE 200809L /* access, glob */
#include "test_model_file.h"

#include "io/model_kinds.h"

#include <glob.h>

/* ---------------------------------------------------------------- round trips */

static void test_roundtrip_multiscale(void **state) {
    nf_glow_config c = image_config();
    check_roundtrip(c, 3); /* LU, affine, space squeeze */
    c.conv1x1 = NF_CONV1X1_HOUSEHOLDER, c.coupling = NF_COUPLING_ADDITIVE, c.squeeze = NF_SQUEEZE_HAAR;
    c.channels = 2;
    check_roundtrip(c, 3);
}

static void test_roundtrip_vectors(void **state) {
    nf_glow_config c = vector_config();
    check_roundtrip(c, 3);
    c.conv1x1 = NF_CONV1X1_HOUSEHOLDER, c.channels = 5, c.seed = UINT64_MAX; /* the seed survives as uint64 */
    check_roundtrip(c, 2);
}

/* Learned priors: the split priors' convs and the top prior's mean and log scale come
 * back (trained away from their zero start), and with them the same log-likelihood. */
static void test_roundtrip_learned_prior(void **state) {
    nf_glow_config c = image_config();
    c.learn_prior = 1;
    check_roundtrip(c, 3);
    c = vector_config();
    c.learn_prior = 1;
    check_roundtrip(c, 3);
}

/* Before any forward ActNorm is not initialised; the file says so and the loaded flow
 * initialises itself from its first batch exactly as the original does. */
static void test_roundtrip_untrained(void **state) {
    nf_glow_config c = vector_config();
    check_roundtrip(c, 0);
}

/* The generic sequential model: its spec and input shape rebuild it, every layer kind's
 * blocks (frozen permutations and batch-norm statistics included) come back exactly. */
static void test_roundtrip_sequential(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "sequential");
    size_t mem0 = nf_mem_current();
    nf_shape v = {1, 4, 1, 1, 1};
    const char *spec = "prior=diagonal, (actnorm, linear(lu=1), realnvp(hidden=8x2), permute, batchnorm, "
                       "spline(bins=4,bound=3,hidden=8x2), maf(hidden=8x2), nice, hint(hidden=8x2), leakyrelu)*2";
    nf_flow *f = NULL, *g = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec(&f, v, spec, 5));
    nf_adam opt;
    NF_ASSERT_OK(nf_adam_init(&opt, nf_flow_num_params(f), 1e-2));
    for (int s = 0; s < 3; s++) {
        nf_tensor x = nftest_randn(16, 4, 1, 1, 1, 200 + (uint64_t)s);
        NF_ASSERT_OK(nf_train_step(f, &opt, &x, NULL, NULL));
        nf_tensor_free(&x);
    }
    nf_adam_free(&opt);
    NF_ASSERT_OK(nf_model_save(f, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    assert_true(nf_flow_is_sequential(g));
    assert_string_equal(nf_sequential_spec(f), nf_sequential_spec(g));
    assert_int_equal(f->nlayers, g->nlayers);
    assert_int_equal(f->params.count, g->params.count);
    assert_memory_equal(f->params.value, g->params.value, f->params.count * sizeof(nf_real));
    assert_memory_equal(f->params.frozen, g->params.frozen, f->params.count);
    for (int i = 0; i < f->nlayers; i++) assert_int_equal(f->layers[i]->initialized, g->layers[i]->initialized);
    NF_ASSERT_OK(nf_sequential_set_training(f, 0)); /* running averages: a pure function of the file */
    NF_ASSERT_OK(nf_sequential_set_training(g, 0));
    assert_same_forward(f, g);
    nf_flow_destroy(f), nf_flow_destroy(g);
    /* built by hand: no spec to rebuild it from */
    nf_layer *l;
    NF_ASSERT_OK(nf_sequential_create(&f, v, NF_PRIOR_STANDARD));
    NF_ASSERT_OK(nf_actnorm_create(&l, v));
    NF_ASSERT_OK(nf_sequential_add(f, l, NULL));
    NF_ASSERT_OK(nf_sequential_build(f, 1));
    NF_ASSERT_FAILS(nf_model_save(f, path), NF_ERR_ARG);
    assert_non_null(strstr(nf_last_error(), "nf_sequential_from_spec"));
    nf_flow_destroy(f);
    assert_int_equal(nf_mem_current(), mem0);
    unlink(path);
}

/* No "<path>.tmp-*" file is left next to path. */
static void assert_no_temporary(const char *path) {
    char pattern[160];
    snprintf(pattern, sizeof pattern, "%s.tmp-*", path);
    glob_t g;
    int r = glob(pattern, 0, NULL, &g);
    if (r == 0) fail_msg("temporary file left behind: %s", g.gl_pathv[0]);
    globfree(&g);
}

/* A failed save leaves no file and no temporary behind. */
static void test_save_errors(void **state) {
    nf_flow *f = trained_glow(vector_config(), 1);
    NF_ASSERT_FAILS(nf_model_save(f, "no_such_dir/model.h5"), NF_ERR_WRITE);
    assert_non_null(strstr(nf_last_error(), "no_such_dir/model.h5"));
    NF_ASSERT_FAILS(nf_model_save(f, ""), NF_ERR_ARG);
    /* a flow kind model files do not know */
    nf_flow_ops fake = *f->ops;
    fake.name = "mystery";
    const nf_flow_ops *real = f->ops;
    f->ops = &fake;
    char path[128];
    tmp_path(path, sizeof path, "kind");
    NF_ASSERT_FAILS(nf_model_save(f, path), NF_ERR_FORMAT);
    assert_non_null(strstr(nf_last_error(), "unsupported flow kind 'mystery'"));
    assert_int_equal(access(path, F_OK), -1);
    assert_no_temporary(path);
    f->ops = real;
    nf_flow_destroy(f);
}

/* A flow kind added from outside: "mystery" flows are Glows under another name whose
 * save_arch adds attributes of every type through the public accessors. */
static const nf_flow_ops *glow_ops_real;

static nf_status mystery_save(const nf_flow *f, nf_model_attrs *a) {
    nf_flow *g = (nf_flow *)f;
    const nf_flow_ops *fake = g->ops;
    g->ops = glow_ops_real; /* nf_glow_get_config recognises Glows by their ops */
    nf_status s = model_kind_glow.save_arch(g, a);
    g->ops = fake;
    NF_TRY(s);
    NF_TRY(nf_model_attrs_put_int(a, "answer", -42));
    NF_TRY(nf_model_attrs_put_u64(a, "big", UINT64_MAX));
    NF_TRY(nf_model_attrs_put_double(a, "pi", 3.25));
    return nf_model_attrs_put_string(a, "note", "twelve chars");
}

static nf_status mystery_create(nf_flow **out, const nf_model_attrs *a) {
    long long answer;
    uint64_t big;
    double pi;
    char note[16], tiny[4];
    NF_TRY(nf_model_attrs_get_int(a, "answer", &answer));
    NF_TRY(nf_model_attrs_get_u64(a, "big", &big));
    NF_TRY(nf_model_attrs_get_double(a, "pi", &pi));
    NF_TRY(nf_model_attrs_get_string(a, "note", note, sizeof note));
    assert_true(answer == -42 && big == UINT64_MAX && pi == 3.25 && !strcmp(note, "twelve chars"));
    NF_ASSERT_FAILS(nf_model_attrs_get_string(a, "note", tiny, sizeof tiny), NF_ERR_FORMAT); /* too long */
    NF_ASSERT_FAILS(nf_model_attrs_get_int(a, "note", &answer), NF_ERR_FORMAT);             /* not an integer */
    NF_ASSERT_FAILS(nf_model_attrs_get_double(a, "absent", &pi), NF_ERR_FORMAT);
    return model_kind_glow.create(out, a);
}

static void test_registered_kind(void **state) {
    static const nf_model_kind mystery = {"mystery", mystery_save, mystery_create};
    nf_model_kind broken = {"broken", NULL, NULL};
    NF_ASSERT_FAILS(nf_model_register_kind(NULL), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_model_register_kind(&broken), NF_ERR_ARG);
    NF_ASSERT_OK(nf_model_register_kind(&mystery));
    nf_flow *f = trained_glow(vector_config(), 1), *g = NULL;
    nf_flow_ops fake = *f->ops;
    fake.name = "mystery";
    glow_ops_real = f->ops;
    f->ops = &fake;
    char path[128];
    tmp_path(path, sizeof path, "mystery");
    NF_ASSERT_OK(nf_model_save(f, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    f->ops = glow_ops_real;
    assert_same_flow(f, g);
    nf_flow_destroy(f);
    nf_flow_destroy(g);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_multiscale),
        cmocka_unit_test(test_roundtrip_vectors),
        cmocka_unit_test(test_roundtrip_untrained),
        cmocka_unit_test(test_roundtrip_learned_prior),
        cmocka_unit_test(test_roundtrip_sequential),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_registered_kind), /* last: the kind stays registered */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
