/* Checkpoints: training N steps in one go equals k steps + checkpoint + load into fresh
 * objects + N-k steps, bit for bit; a process killed while writing a checkpoint leaves
 * the previous one intact and loadable; bad checkpoints give clear errors. */
#define _POSIX_C_SOURCE 200809L /* fork, kill, glob */
#include "nftest.h"

#include "io/atomic_file.h"
#include "io/model_stamp.h"

#include <glob.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BATCH = 8 };

static char *tmp_path(char *buf, size_t size, const char *tag) {
    snprintf(buf, size, "test_checkpoint_%ld_%s.h5", (long)getpid(), tag);
    return buf;
}

/* `steps` training steps whose batches come from the state's generator, advancing the
 * state as a training loop would (iteration, and the data position as a batch counter). */
static void train(nf_flow *f, nf_adam *opt, nf_train_state *ts, int steps) {
    nf_tensor x;
    NF_ASSERT_OK(nf_tensor_alloc(&x, BATCH, f->in.c, f->in.d, f->in.h, f->in.w));
    for (int s = 0; s < steps; s++) {
        nf_rng_fill_normal(&ts->rng, x.data, nf_tensor_count(&x), 1.0);
        NF_ASSERT_OK(nf_train_step(f, opt, &x, NULL, NULL));
        ts->iteration++;
        ts->data_pos[0]++;
    }
    nf_tensor_free(&x);
}

/* A small vector Glow of c channels. */
static nf_glow_config small_vector(int c) {
    nf_glow_config cfg = nf_glow_config_default(c, 1, 1);
    cfg.hidden = 8, cfg.levels = 1, cfg.steps = 2, cfg.multiscale = 0;
    return cfg;
}

static void start(nf_glow_config c, nf_flow **f, nf_adam *opt, nf_train_state *ts) {
    NF_ASSERT_OK(nf_glow_create(f, &c));
    NF_ASSERT_OK(nf_adam_init(opt, nf_flow_num_params(*f), 3e-3));
    opt->weight_decay = 1e-4, opt->beta2 = 0.99; /* non-defaults must survive the file */
    *ts = (nf_train_state){.epoch = 2, .ndata_pos = 2, .data_pos = {0, 0xfeedfacecafebeefULL}};
    nf_rng_seed(&ts->rng, 42);
}

/* N steps in one go vs k steps, checkpoint, everything freed, load, N-k steps. */
static void check_resume(nf_glow_config c, int N, int k) {
    char path[128];
    tmp_path(path, sizeof path, "resume");
    size_t mem0 = nf_mem_current();
    nf_flow *a, *b;
    nf_adam oa, ob;
    nf_train_state ta, tb;
    start(c, &a, &oa, &ta);
    train(a, &oa, &ta, N);

    start(c, &b, &ob, &tb);
    train(b, &ob, &tb, k);
    NF_ASSERT_OK(nf_checkpoint_save(b, &ob, &tb, path));
    nf_flow_destroy(b);
    nf_adam_free(&ob);
    memset(&tb, 0xab, sizeof tb); /* nothing survives but the file */
    NF_ASSERT_OK(nf_checkpoint_load(&b, &ob, &tb, path));
    assert_int_equal(tb.iteration, k);
    assert_int_equal(tb.epoch, 2);
    assert_int_equal(tb.ndata_pos, 2);
    assert_true(tb.data_pos[0] == (uint64_t)k && tb.data_pos[1] == 0xfeedfacecafebeefULL);
    assert_true(ob.step == k && ob.weight_decay == 1e-4 && ob.beta2 == 0.99 && ob.lr == 3e-3);
    train(b, &ob, &tb, N - k);

    assert_int_equal(a->params.count, b->params.count);
    assert_memory_equal(a->params.value, b->params.value, a->params.count * sizeof(nf_real));
    assert_memory_equal(oa.m, ob.m, oa.count * sizeof(nf_real));
    assert_memory_equal(oa.v, ob.v, oa.count * sizeof(nf_real));
    assert_memory_equal(ta.rng.s, tb.rng.s, sizeof ta.rng.s);
    assert_int_equal(oa.step, ob.step);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
    nf_adam_free(&oa);
    nf_adam_free(&ob);
    assert_int_equal(nf_mem_current(), mem0);
    unlink(path);
}

static void test_resume_vectors(void **state) {
    nf_glow_config c = nf_glow_config_default(4, 1, 1);
    c.hidden = 16, c.levels = 2, c.steps = 3, c.multiscale = 0;
    check_resume(c, 7, 3);
    check_resume(c, 4, 0); /* before the first step: ActNorm not yet initialised */
}

static void test_resume_multiscale(void **state) {
    nf_glow_config c = nf_glow_config_default(3, 8, 8);
    c.hidden = 8, c.levels = 2, c.steps = 2, c.conv1x1 = NF_CONV1X1_HOUSEHOLDER;
    check_resume(c, 6, 2);
}

/* ---------------------------------------------------------------- crash safety */

static const char *crash_stage;

static void die_at(const char *stage, const char *tmp, const char *path) {
    if (!strcmp(stage, crash_stage)) kill(getpid(), SIGKILL); /* the simulated crash */
}

/* Temporary files left next to path by a killed writer (removed here). */
static int remove_temporaries(const char *path) {
    char pattern[160];
    snprintf(pattern, sizeof pattern, "%s.tmp-*", path);
    glob_t g;
    int n = 0;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) n += unlink(g.gl_pathv[i]) == 0;
        globfree(&g);
    }
    return n;
}

/* A child process changes the model and starts writing a checkpoint over path, and is
 * killed with SIGKILL at stage. Returns after checking it died that way. No OpenMP or
 * BLAS runs in the child: saving needs neither. */
static void crash_while_saving(nf_flow *f, nf_adam *opt, nf_train_state *ts, const char *path, const char *stage) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (size_t i = 0; i < f->params.count; i++) f->params.value[i] += 1;
        ts->iteration += 1000;
        crash_stage = stage;
        atomic_file_set_test_hook(die_at);
        nf_checkpoint_save(f, opt, ts, path);
        _exit(3); /* not reached when the hook fires */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) fail_msg("the writer was not killed at '%s'", stage);
}

static void test_kill_during_save(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "crash");
    nf_flow *f, *g;
    nf_adam opt, og;
    nf_train_state ts, tg;
    start(small_vector(4), &f, &opt, &ts);
    train(f, &opt, &ts, 2);
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));

    /* killed before the rename, with the new file empty or complete: the old one stays */
    const char *before[] = {"created", "synced"};
    for (int i = 0; i < 2; i++) {
        crash_while_saving(f, &opt, &ts, path, before[i]);
        assert_int_equal(remove_temporaries(path), 1); /* the dead writer's temporary file */
        NF_ASSERT_OK(nf_checkpoint_load(&g, &og, &tg, path));
        assert_memory_equal(f->params.value, g->params.value, f->params.count * sizeof(nf_real));
        assert_int_equal(tg.iteration, ts.iteration);
        nf_flow_destroy(g);
        nf_adam_free(&og);
    }
    /* killed just after the rename: the new checkpoint is complete */
    crash_while_saving(f, &opt, &ts, path, "renamed");
    assert_int_equal(remove_temporaries(path), 0);
    NF_ASSERT_OK(nf_checkpoint_load(&g, &og, &tg, path));
    assert_int_equal(tg.iteration, ts.iteration + 1000);
    assert_true(g->params.value[0] == f->params.value[0] + 1);
    nf_flow_destroy(g);
    nf_adam_free(&og);
    /* after a crash the next save works as usual */
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));
    NF_ASSERT_OK(nf_checkpoint_load(&g, &og, &tg, path));
    assert_memory_equal(f->params.value, g->params.value, f->params.count * sizeof(nf_real));
    nf_flow_destroy(g);
    nf_adam_free(&og);
    nf_flow_destroy(f);
    nf_adam_free(&opt);
    unlink(path);
}

/* ---------------------------------------------------------------- bad input */

/* Deletes link name in path (an edit: the stamp is cleared). */
static void delete_link(const char *path, const char *name) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(h >= 0 && H5Ldelete(h, name, H5P_DEFAULT) >= 0);
    H5Fclose(h);
    NF_ASSERT_OK(model_stamp_clear(path));
}

static void assert_ckpt_fails(const char *path, const char *needle) {
    size_t mem0 = nf_mem_current();
    nf_flow *g = (nf_flow *)1;
    nf_adam o;
    nf_train_state t;
    NF_ASSERT_FAILS(nf_checkpoint_load(&g, &o, &t, path), NF_ERR_FORMAT);
    if (!strstr(nf_last_error(), needle)) fail_msg("message '%s' lacks '%s'", nf_last_error(), needle);
    assert_null(g);
    assert_null(o.m);
    assert_null(o.v);
    assert_int_equal(nf_mem_current(), mem0);
}

static void test_bad_checkpoints(void **state) {
    char path[128];
    tmp_path(path, sizeof path, "bad");
    nf_flow *f, *g;
    nf_adam opt, o2;
    nf_train_state ts;
    start(small_vector(2), &f, &opt, &ts);
    train(f, &opt, &ts, 1);

    NF_ASSERT_FAILS(nf_checkpoint_save(NULL, &opt, &ts, path), NF_ERR_ARG);
    NF_ASSERT_FAILS(nf_checkpoint_load(&g, NULL, &ts, path), NF_ERR_ARG);
    ts.ndata_pos = NF_DATA_POS_MAX + 1;
    NF_ASSERT_FAILS(nf_checkpoint_save(f, &opt, &ts, path), NF_ERR_ARG);
    ts.ndata_pos = 0;
    NF_ASSERT_OK(nf_adam_init(&o2, 3, 1e-3)); /* moments for another model */
    NF_ASSERT_FAILS(nf_checkpoint_save(f, &o2, &ts, path), NF_ERR_SHAPE);
    nf_adam_free(&o2);

    /* a model file is not a checkpoint, but a checkpoint holds a model */
    NF_ASSERT_OK(nf_model_save(f, path));
    assert_ckpt_fails(path, "not a checkpoint");
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));
    NF_ASSERT_OK(nf_model_load(&g, path));
    assert_memory_equal(f->params.value, g->params.value, f->params.count * sizeof(nf_real));
    nf_flow_destroy(g);

    delete_link(path, "train_state");
    assert_ckpt_fails(path, "group 'train_state' is missing");
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));
    delete_link(path, "optimizer/v");
    assert_ckpt_fails(path, "dataset 'v' is missing");
    NF_ASSERT_OK(nf_checkpoint_save(f, &opt, &ts, path));
    assert_int_equal(truncate(path, 1000), 0);
    assert_ckpt_fails(path, "truncated");
    nf_flow_destroy(f);
    nf_adam_free(&opt);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_during_save),
        cmocka_unit_test(test_resume_vectors),
        cmocka_unit_test(test_resume_multiscale),
        cmocka_unit_test(test_bad_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
