/* What dist.c and dist_overlap.c share: the group's state. */
#ifndef NF_DIST_INTERNAL_H
#define NF_DIST_INTERNAL_H

#include "nf_internal.h"

#ifdef NFLOW_HAVE_MPI
#include <mpi.h>
#endif

struct nf_overlap; /* dist_overlap.c: one step's gradient sum in flight */

struct nf_dist {
    int rank, size;
#ifdef NFLOW_HAVE_MPI
    MPI_Comm comm;
    int finalize; /* MPI was initialised by nf_dist_create_mpi */
#endif
    double *tmp;  /* scratch of tmp_cap doubles */
    size_t tmp_cap;
    double wait;  /* seconds spent inside MPI calls so far */
    double exposed; /* of which waiting for gradient sums after the backward */
    size_t bucket;  /* values per overlapped bucket; 0 = sum after the backward */
    struct nf_overlap *ov;
};

/* Block r of n values split over size ranks: [lo, hi). */
static inline void nf_dist_block_of(size_t n, int size, int r, size_t *lo, size_t *hi) {
    *lo = n * (size_t)r / (size_t)size;
    *hi = n * (size_t)(r + 1) / (size_t)size;
}

/* Frees the overlap's buffers and communicators (nf_dist_destroy). */
void nf_dist_overlap_free(nf_dist *d);

#ifdef NFLOW_HAVE_MPI
nf_status nf_dist_mpi_check(int rc, const char *what);
/* Runs one MPI call, adding its time to d->wait. */
#define NF_DIST_TIMED(d, call) (start_ = MPI_Wtime(), rc_ = (call), (d)->wait += MPI_Wtime() - start_, rc_)
#endif

#endif
