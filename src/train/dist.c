/* The processes that train one model together (nflow/dist.h): MPI when built with
 * NFLOW_MPI, else the one-process group. Every sum is in a fixed rank order so a run is
 * repeatable whatever reduction algorithm the MPI library would pick. */
#include "train/dist_internal.h"

#include <limits.h>
#include <math.h>
#include <string.h>

double nf_dist_seconds(const nf_dist *d) { return d ? d->wait : 0; }
double nf_dist_exposed_seconds(const nf_dist *d) { return d ? d->exposed : 0; }

void nf_dist_set_bucket(nf_dist *d, size_t values) {
    if (d) d->bucket = values;
}

int nf_dist_mpi_built(void) {
#ifdef NFLOW_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

nf_status nf_dist_create_single(nf_dist **out) {
    NF_CHECK_NULL(out);
    *out = nf_calloc(1, sizeof **out);
    if (!*out) return nf_fail(NF_ERR_NOMEM, "nf_dist_create_single: out of memory");
    (*out)->size = 1;
#ifdef NFLOW_HAVE_MPI
    (*out)->comm = MPI_COMM_NULL;
#endif
    return NF_OK;
}

int nf_dist_rank(const nf_dist *d) { return d ? d->rank : 0; }
int nf_dist_size(const nf_dist *d) { return d ? d->size : 1; }

static nf_status tmp_reserve(nf_dist *d, size_t n) {
    if (n <= d->tmp_cap) return NF_OK;
    nf_free(d->tmp);
    d->tmp = nf_alloc(n * sizeof(double));
    d->tmp_cap = d->tmp ? n : 0;
    return d->tmp ? NF_OK : nf_fail(NF_ERR_NOMEM, "nf_dist: out of memory for %zu values", n);
}

#ifdef NFLOW_HAVE_MPI

nf_status nf_dist_mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return NF_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return nf_fail(NF_ERR_IO, "MPI %s failed: %.*s", what, len, msg);
}
nf_status nf_dist_create_mpi(nf_dist **out) {
    NF_CHECK_NULL(out);
    *out = NULL;
    int inited = 0, provided = 0, finalize = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return nf_fail(NF_ERR_IO, "nf_dist_create_mpi: MPI_Init_thread failed");
        finalize = 1;
    }
    nf_dist *d = nf_calloc(1, sizeof *d);
    if (!d) return nf_fail(NF_ERR_NOMEM, "nf_dist_create_mpi: out of memory");
    d->finalize = finalize;
    d->bucket = NF_DIST_BUCKET_DEFAULT;
    nf_status s = nf_dist_mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &d->comm), "MPI_Comm_dup");
    if (s != NF_OK) {
        nf_free(d);
        return s;
    }
    MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    *out = d;
    return NF_OK;
}

static int multi(const nf_dist *d) { return d->size > 1 && d->comm != MPI_COMM_NULL; }

nf_status nf_dist_allgather(nf_dist *d, const void *mine, void *all, size_t bytes) {
    NF_CHECK_NULL(d);
    if (!multi(d)) {
        memmove(all, mine, bytes);
        return NF_OK;
    }
    if (bytes > (size_t)INT_MAX) return nf_fail(NF_ERR_ARG, "nf_dist_allgather: %zu bytes per rank", bytes);
    double start_;
    int rc_;
    return nf_dist_mpi_check(NF_DIST_TIMED(d, MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, d->comm)),
                     "MPI_Allgather");
}

nf_status nf_dist_bcast(nf_dist *d, void *buf, size_t bytes, int root) {
    NF_CHECK_NULL(d);
    if (!multi(d)) return NF_OK;
    if (bytes > (size_t)INT_MAX) return nf_fail(NF_ERR_ARG, "nf_dist_bcast: %zu bytes", bytes);
    double start_;
    int rc_;
    return nf_dist_mpi_check(NF_DIST_TIMED(d, MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, d->comm)), "MPI_Bcast");
}


nf_status nf_dist_sum_real(nf_dist *d, nf_real *v, size_t n) {
    NF_CHECK_NULL(d);
    if (!multi(d) || n == 0) return NF_OK;
    int R = d->size, me = d->rank;
    size_t mlo, mhi;
    nf_dist_block_of(n, R, me, &mlo, &mhi);
    size_t mine = mhi - mlo;
    /* every rank's copy of my block, then the sum, as nf_real */
    nf_real *recv = nf_alloc(((size_t)R * mine + 1) * sizeof(nf_real));
    int *cnt = nf_alloc(4 * (size_t)R * sizeof(int));
    if (!recv || !cnt) {
        nf_free(recv);
        nf_free(cnt);
        return nf_fail(NF_ERR_NOMEM, "nf_dist_sum_real: out of memory for %zu values", (size_t)R * mine);
    }
    int *scnt = cnt, *sdis = cnt + R, *rcnt = cnt + 2 * R, *rdis = cnt + 3 * R;
    nf_status s = NF_OK;
    if ((n + (size_t)R) * sizeof(nf_real) > (size_t)INT_MAX) /* MPI counts are int */
        s = nf_fail(NF_ERR_ARG, "nf_dist_sum_real: %zu values are too many for one exchange", n);
    for (int r = 0; r < R && s == NF_OK; r++) {
        size_t lo, hi;
        nf_dist_block_of(n, R, r, &lo, &hi);
        scnt[r] = (int)((hi - lo) * sizeof(nf_real));
        sdis[r] = (int)(lo * sizeof(nf_real));
        rcnt[r] = (int)(mine * sizeof(nf_real));
        rdis[r] = (int)((size_t)r * mine * sizeof(nf_real));
    }
    double start_;
    int rc_;
    if (s == NF_OK)
        s = nf_dist_mpi_check(NF_DIST_TIMED(d, MPI_Alltoallv(v, scnt, sdis, MPI_BYTE, recv, rcnt, rdis, MPI_BYTE, d->comm)),
                      "MPI_Alltoallv");
    if (s == NF_OK) {
        for (size_t k = 0; k < mine; k++) {
            double acc = 0;
            for (int r = 0; r < R; r++) acc += recv[(size_t)r * mine + k];
            v[mlo + k] = (nf_real)acc;
        }
        /* every rank's summed block back into v (in place: my block is where it belongs) */
        for (int r = 0; r < R; r++) rcnt[r] = scnt[r];
        s = nf_dist_mpi_check(NF_DIST_TIMED(d, MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, v, rcnt, sdis, MPI_BYTE, d->comm)),
                      "MPI_Allgatherv");
    }
    nf_free(recv);
    nf_free(cnt);
    return s;
}

void nf_dist_destroy(nf_dist *d) {
    if (!d) return;
    nf_dist_overlap_free(d);
    if (d->comm != MPI_COMM_NULL) MPI_Comm_free(&d->comm);
    if (d->finalize) {
        int done = 0;
        MPI_Finalized(&done);
        if (!done) MPI_Finalize();
    }
    nf_free(d->tmp);
    nf_free(d);
}

#else /* one process only */

nf_status nf_dist_create_mpi(nf_dist **out) {
    if (out) *out = NULL;
    return nf_fail(NF_ERR_STATE, "this nflow was built without MPI (configure with -DNFLOW_MPI=ON)");
}

static int multi(const nf_dist *d) {
    (void)d;
    return 0;
}

nf_status nf_dist_allgather(nf_dist *d, const void *mine, void *all, size_t bytes) {
    NF_CHECK_NULL(d);
    memmove(all, mine, bytes);
    return NF_OK;
}

nf_status nf_dist_bcast(nf_dist *d, void *buf, size_t bytes, int root) {
    NF_CHECK_NULL(d);
    return NF_OK;
}

nf_status nf_dist_sum_real(nf_dist *d, nf_real *v, size_t n) {
    NF_CHECK_NULL(d);
    return NF_OK;
}

void nf_dist_destroy(nf_dist *d) {
    if (!d) return;
    nf_free(d->tmp);
    nf_free(d);
}

#endif

/* Gathers every rank's n values into d->tmp (rank-major). */
static nf_status gather_all(nf_dist *d, const double *v, size_t n) {
    NF_TRY(tmp_reserve(d, (size_t)d->size * n));
    return nf_dist_allgather(d, v, d->tmp, n * sizeof(double));
}

nf_status nf_dist_sum(nf_dist *d, double *v, size_t n) {
    NF_CHECK_NULL(d);
    if (!multi(d) || n == 0) return NF_OK;
    NF_TRY(gather_all(d, v, n));
    for (size_t k = 0; k < n; k++) {
        double acc = 0;
        for (int r = 0; r < d->size; r++) acc += d->tmp[(size_t)r * n + k];
        v[k] = acc;
    }
    return NF_OK;
}

nf_status nf_dist_max(nf_dist *d, double *v, size_t n) {
    NF_CHECK_NULL(d);
    if (!multi(d) || n == 0) return NF_OK;
    NF_TRY(gather_all(d, v, n));
    for (size_t k = 0; k < n; k++) {
        double m = d->tmp[k];
        for (int r = 1; r < d->size; r++) {
            double x = d->tmp[(size_t)r * n + k];
            if (isnan(x) || x > m) m = isnan(m) ? m : x;
        }
        v[k] = m;
    }
    return NF_OK;
}

nf_status nf_dist_first_failure(nf_dist *d, int failed, int *first) {
    NF_CHECK_NULL(d);
    NF_CHECK_NULL(first);
    double f = failed ? 1 : 0;
    *first = failed ? d->rank : -1;
    if (!multi(d)) return NF_OK;
    NF_TRY(gather_all(d, &f, 1));
    for (int r = 0; r < d->size; r++)
        if (d->tmp[r] != 0) {
            *first = r;
            break;
        }
    return NF_OK;
}

nf_status nf_dist_sum_hook(void *user, double *v, size_t n) { return nf_dist_sum(user, v, n); }
