/* Data parallelism over MPI ranks (run under mpirun with 2 or more ranks): the fixed-order
 * sums, failure agreement, and the trainer's data-parallel step, which must equal one
 * process training on the whole global batch: ActNorm set up from the global batch's
 * statistics, the gradient of the global mean loss, identical parameters on every rank,
 * and a rank whose share is not finite rolling every rank back. */
#include "nftest.h"

#include <stdio.h>

static nf_dist *dist;

static int rank_, size_;

/* ---------------------------------------------------------------- sums */

static void test_sums(void **state) {
    (void)state;
    assert_true(nf_dist_mpi_built());
    double v[3] = {rank_ + 1.0, 0.1 * rank_, rank_ == 1 ? NAN : -rank_};
    double m[3] = {v[0], v[1], v[2]};
    NF_ASSERT_OK(nf_dist_sum(dist, v, 2));
    assert_true(v[0] == size_ * (size_ + 1) / 2.0);
    double want = 0;
    for (int r = 0; r < size_; r++) want += 0.1 * r; /* rank order: exactly this double */
    assert_true(v[1] == want);
    NF_ASSERT_OK(nf_dist_max(dist, m, 3));
    assert_true(m[0] == size_ && isnan(m[2]));

    /* a gradient-sized array: block sums in rank order; n not divisible by the ranks */
    size_t n = 1000003;
    nf_real *g = malloc(n * sizeof(nf_real));
    for (size_t k = 0; k < n; k++) g[k] = (nf_real)((double)(k % 97) * (rank_ + 1) / 64.0);
    NF_ASSERT_OK(nf_dist_sum_real(dist, g, n));
    double tri = size_ * (size_ + 1) / 2.0;
    for (size_t k = 0; k < n; k += 9973) assert_true(g[k] == (nf_real)((double)(k % 97) * tri / 64.0));
    assert_true(g[n - 1] == (nf_real)((double)((n - 1) % 97) * tri / 64.0));
    free(g);

    int first = -2;
    NF_ASSERT_OK(nf_dist_first_failure(dist, rank_ >= 1, &first));
    assert_int_equal(first, 1);
    NF_ASSERT_OK(nf_dist_first_failure(dist, 0, &first));
    assert_int_equal(first, -1);
}

/* ---------------------------------------------------------------- the trainer */

/* This rank's share [B r / R, B (r+1) / R) of the global batch g (uneven when R does not
 * divide B). */
static nf_tensor share_of(const nf_tensor *g) {
    int lo = g->n * rank_ / size_, hi = g->n * (rank_ + 1) / size_;
    size_t per = nf_tensor_sample_count(g);
    nf_tensor t = *g;
    t.data = g->data + (size_t)lo * per;
    t.n = hi - lo;
    return t;
}

/* The whole parameter vector equals rank 0's, bit for bit. */
static void assert_same_on_all_ranks(const nf_real *v, size_t n) {
    nf_real *root = malloc(n * sizeof(nf_real));
    memcpy(root, v, n * sizeof(nf_real));
    NF_ASSERT_OK(nf_dist_bcast(dist, root, n * sizeof(nf_real), 0));
    assert_memory_equal(root, v, n * sizeof(nf_real));
    free(root);
}

static double max_rel_diff(const nf_real *a, const nf_real *b, size_t n) {
    double scale = 0, d = 0;
    for (size_t k = 0; k < n; k++) scale = fmax(scale, fabs((double)b[k]));
    for (size_t k = 0; k < n; k++) d = fmax(d, fabs((double)a[k] - b[k]));
    return d / (scale + 1e-30);
}

static void keep_loss(void *user, const nf_train_event *ev) {
    if (ev->kind == NF_EVENT_STEP) *(double *)user = ev->loss.loss;
}

static double norm_rel_diff(const nf_real *a, const nf_real *b, size_t n) {
    double d = 0, s = 0;
    for (size_t k = 0; k < n; k++) d += ((double)a[k] - b[k]) * ((double)a[k] - b[k]), s += (double)b[k] * b[k];
    return sqrt(d / (s + 1e-300));
}

/* 20 steps on 11-sample global batches shared unevenly: at every step the ranks' summed
 * gradient equals one process's gradient of the whole batch at the same parameters (up to
 * the order of float sums), the loss too, and every rank holds the same parameters. A
 * one-process trainer run alongside ends close but not as close: Adam's first steps move
 * each parameter by about the rate whatever its gradient's size, so a gradient within
 * round-off of zero whose sign the sum order flips moves its parameter by 2 lr. */
static void test_trainer_equals_one_process(void **state) {
    (void)state;
    nf_flow *par = nftest_small_glow(), *one = nftest_small_glow(), *ref = nftest_small_glow();
    size_t np = nf_flow_num_params(par);
    nf_trainer_config tc = nf_trainer_config_default(20, 1e-3);
    nf_trainer *tp = NULL, *tr = NULL;
    NF_ASSERT_OK(nf_trainer_create(&tr, ref, &tc));
    tc.dist = dist;
    NF_ASSERT_OK(nf_trainer_create(&tp, par, &tc));
    double loss_par = NAN, worst_grad = 0, worst_loss = 0;
    nf_trainer_set_callback(tp, keep_loss, &loss_par);
    for (int step = 0; step < 20; step++) {
        nf_tensor x = nftest_randn(11, 2, 1, 8, 8, 100 + step); /* the same global batch everywhere */
        nf_tensor mine = share_of(&x);
        memcpy(one->params.value, par->params.value, np * sizeof(nf_real)); /* the same parameters */
        nf_loss_stats ls;
        NF_ASSERT_OK(nf_flow_gradient(one, &x, NULL, NF_REBUILD_TOL_DEFAULT, &ls, NULL));
        int taken = 0;
        NF_ASSERT_OK(nf_trainer_step(tp, &mine, NULL, &taken));
        assert_int_equal(taken, 1);
        NF_ASSERT_OK(nf_trainer_step(tr, &x, NULL, &taken));
        worst_grad = fmax(worst_grad, max_rel_diff(par->params.grad, one->params.grad, np));
        worst_loss = fmax(worst_loss, fabs(loss_par - ls.loss) / fabs(ls.loss));
        assert_same_on_all_ranks(par->params.value, np);
        assert_same_on_all_ranks(par->params.grad, np);
        nf_tensor_free(&x);
    }
    double end = norm_rel_diff(par->params.value, ref->params.value, np);
    print_message("20 steps: gradient off by at most %.3g, loss by %.3g (relative); parameters of a one-process "
                  "run off by %.3g\n", worst_grad, worst_loss, end);
    assert_true(worst_grad < 1e-5);
    assert_true(worst_loss < 1e-6);
    assert_true(end < 2e-3);
    nf_trainer_destroy(tp);
    nf_trainer_destroy(tr);
    nf_flow_destroy(par);
    nf_flow_destroy(one);
    nf_flow_destroy(ref);
}

/* ActNorm's statistics are the global batch's even when the shares differ wildly. */
static void test_actnorm_global_init(void **state) {
    (void)state;
    nf_flow *par = nftest_small_glow(), *one = nftest_small_glow();
    nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 7);
    for (size_t k = 0; k < nf_tensor_count(&x) / 2; k++) x.data[k] = x.data[k] * 3 + 5; /* first half shifted */
    nf_tensor mine = share_of(&x);
    nf_flow_set_sum(par, nf_dist_sum_hook, dist);
    nf_tensor z1, zp;
    NF_ASSERT_OK(nf_tensor_alloc(&z1, 8, (int)nf_tensor_sample_count(&x), 1, 1, 1));
    NF_ASSERT_OK(nf_tensor_alloc(&zp, mine.n, (int)nf_tensor_sample_count(&x), 1, 1, 1));
    double ld1[8], ldp[8];
    NF_ASSERT_OK(nf_flow_forward(one, &x, NULL, &z1, ld1));
    NF_ASSERT_OK(nf_flow_forward(par, &mine, NULL, &zp, ldp));
    size_t np = nf_flow_num_params(par);
    assert_true(max_rel_diff(par->params.value, one->params.value, np) < 1e-5);
    assert_same_on_all_ranks(par->params.value, np);
    nf_tensor_free(&x);
    nf_tensor_free(&z1);
    nf_tensor_free(&zp);
    nf_flow_destroy(par);
    nf_flow_destroy(one);
}

/* One rank's share is not finite: every rank rolls back (same state), none waits. */
static void test_collective_rollback(void **state) {
    (void)state;
    nf_flow *f = nftest_small_glow();
    nf_trainer_config tc = nf_trainer_config_default(10, 1e-3);
    tc.dist = dist;
    nf_trainer *t = NULL;
    NF_ASSERT_OK(nf_trainer_create(&t, f, &tc));
    for (int step = 0; step < 3; step++) {
        nf_tensor x = nftest_randn(8, 2, 1, 8, 8, 200 + step);
        if (step == 2 && rank_ == size_ - 1) x.data[nf_tensor_count(&x) - 1] = NAN; /* the last rank's share */
        nf_tensor mine = share_of(&x);
        int taken = -1;
        NF_ASSERT_OK(nf_trainer_step(t, &mine, NULL, &taken));
        assert_int_equal(taken, step < 2);
        nf_tensor_free(&x);
    }
    assert_int_equal(nf_trainer_state_of(t)->rollbacks, 1);
    assert_true(nf_trainer_state_of(t)->lr_scale == 0.5);
    assert_same_on_all_ranks(f->params.value, nf_flow_num_params(f));
    nf_trainer_destroy(t);
    nf_flow_destroy(f);
}

/* Batch norm sums its statistics and its backward's means over the ranks: the summed
 * gradient of every share equals one process's gradient of the whole batch, the running
 * averages too, and a rank whose loss is not finite rolls every rank back (none waits in
 * another's batch norm). */
static void test_batchnorm_global(void **state) {
    (void)state;
    const char *spec = "(batchnorm, realnvp(hidden=8), reverse)*2";
    nf_shape v = {1, 3, 1, 1, 1};
    nf_flow *par = NULL, *one = NULL;
    NF_ASSERT_OK(nf_sequential_from_spec(&par, v, spec, 3));
    NF_ASSERT_OK(nf_sequential_from_spec(&one, v, spec, 3));
    size_t np = nf_flow_num_params(par);
    nf_trainer_config tc = nf_trainer_config_default(10, 1e-3);
    tc.dist = dist;
    nf_trainer *tp = NULL;
    NF_ASSERT_OK(nf_trainer_create(&tp, par, &tc));
    double worst = 0;
    for (int step = 0; step < 4; step++) {
        nf_tensor x = nftest_randn(13, 3, 1, 1, 1, 400 + step);
        for (size_t k = 0; k < nf_tensor_count(&x); k += 3) x.data[k] = x.data[k] * 2 + 1; /* feature 0 off centre */
        nf_tensor mine = share_of(&x);
        memcpy(one->params.value, par->params.value, np * sizeof(nf_real));
        NF_ASSERT_OK(nf_flow_gradient(one, &x, NULL, NF_REBUILD_TOL_DEFAULT, NULL, NULL));
        int taken = 0;
        NF_ASSERT_OK(nf_trainer_step(tp, &mine, NULL, &taken));
        assert_int_equal(taken, 1);
        worst = fmax(worst, max_rel_diff(par->params.grad, one->params.grad, np));
        /* the running averages moved by the global batch's statistics (frozen: Adam leaves them) */
        for (size_t k = 0; k < np; k++)
            if (par->params.frozen[k]) assert_true(fabs((double)par->params.value[k] - one->params.value[k]) < 1e-5);
        assert_same_on_all_ranks(par->params.value, np);
        nf_tensor_free(&x);
    }
    print_message("batch norm over %d ranks: gradient off by at most %.3g (relative)\n", size_, worst);
    assert_true(worst < 1e-5);
    nf_tensor x = nftest_randn(13, 3, 1, 1, 1, 500);
    if (rank_ == 0) x.data[0] = NAN; /* rank 0's loss fails; the others must not wait in the backward */
    nf_tensor mine = share_of(&x);
    int taken = -1;
    NF_ASSERT_OK(nf_trainer_step(tp, &mine, NULL, &taken));
    assert_int_equal(taken, 0);
    assert_int_equal(nf_trainer_state_of(tp)->rollbacks, 1);
    assert_same_on_all_ranks(par->params.value, np);
    nf_tensor_free(&x);
    nf_trainer_destroy(tp);
    nf_flow_destroy(par);
    nf_flow_destroy(one);
}

/* `steps` steps of two trainers on the same batches, one summing the gradient in small
 * buckets while the backward runs, the other after it: the same parameters, bit for bit,
 * and the overlapped one did wait for buckets. */
static void overlap_vs_after(double rebuild_tol, int steps) {
    nf_flow *a = nftest_small_glow(), *b = nftest_small_glow();
    size_t np = nf_flow_num_params(a);
    nf_trainer_config tc = nf_trainer_config_default(steps, 1e-3);
    tc.dist = dist;
    tc.rebuild_tol = rebuild_tol;
    nf_trainer *ta = NULL, *tb = NULL;
    NF_ASSERT_OK(nf_trainer_create(&ta, a, &tc));
    NF_ASSERT_OK(nf_trainer_create(&tb, b, &tc));
    double exposed = nf_dist_exposed_seconds(dist);
    for (int step = 0; step < steps; step++) {
        nf_tensor x = nftest_randn(9, 2, 1, 8, 8, 300 + step);
        nf_tensor mine = share_of(&x);
        int taken = 0;
        nf_dist_set_bucket(dist, 997); /* uneven buckets, several per layer */
        NF_ASSERT_OK(nf_trainer_step(ta, &mine, NULL, &taken));
        assert_int_equal(taken, 1);
        nf_dist_set_bucket(dist, 0);
        NF_ASSERT_OK(nf_trainer_step(tb, &mine, NULL, &taken));
        assert_memory_equal(a->params.grad, b->params.grad, np * sizeof(nf_real));
        assert_memory_equal(a->params.value, b->params.value, np * sizeof(nf_real));
        nf_tensor_free(&x);
    }
    assert_true(nf_dist_exposed_seconds(dist) > exposed);
    assert_same_on_all_ranks(a->params.value, np);
    nf_dist_set_bucket(dist, NF_DIST_BUCKET_DEFAULT);
    nf_trainer_destroy(ta);
    nf_trainer_destroy(tb);
    nf_flow_destroy(a);
    nf_flow_destroy(b);
}

/* The overlapped sum equals the sum after the backward; when every step is recomputed
 * (tolerance 0) the sums in flight are discarded and the recomputed gradient is summed. */
static void test_overlap_same_bits(void **state) {
    (void)state;
    overlap_vs_after(NF_REBUILD_TOL_DEFAULT, 8);
    overlap_vs_after(0, 3);
}

int main(void) {
    if (nf_dist_create_mpi(&dist) != NF_OK) {
        fprintf(stderr, "test_dist: %s\n", nf_last_error());
        return 1;
    }
    rank_ = nf_dist_rank(dist);
    size_ = nf_dist_size(dist);
    if (size_ < 2) {
        fprintf(stderr, "test_dist: run under mpirun with at least 2 ranks (got %d)\n", size_);
        nf_dist_destroy(dist);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums),
        cmocka_unit_test(test_trainer_equals_one_process),
        cmocka_unit_test(test_actnorm_global_init),
        cmocka_unit_test(test_collective_rollback),
        cmocka_unit_test(test_overlap_same_bits),
        cmocka_unit_test(test_batchnorm_global),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    nf_dist_destroy(dist);
    return rc;
}
