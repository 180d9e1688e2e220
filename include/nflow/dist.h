/*
 * nflow/dist.h — the processes that train one model together (data parallelism over
 * MPI ranks; included by nflow.h).
 *
 * Every rank holds the whole model and computes the gradient of its own share of each
 * global batch; the trainer (nf_trainer_config.dist) sums the shares' gradients, losses
 * and decisions over the ranks, so every rank takes the same step and the parameters stay
 * identical. Sums run in a fixed order (rank 0 + rank 1 + ...), whatever algorithm the
 * MPI library picks, so a run is bit-for-bit repeatable for the same number of ranks.
 *
 *     nf_dist *d;
 *     if (nf_dist_create_mpi(&d) != NF_OK) ...          // MPI_Init if nobody did
 *     tc.dist = d;                                      // nf_trainer_config
 *     ... each rank feeds its own share of every batch to nf_trainer_step ...
 *     nf_dist_destroy(d);                               // MPI_Finalize if it initialised
 *
 * Without MPI (the default build, NFLOW_MPI=OFF) nf_dist_create_mpi fails with a clear
 * message and nf_dist_create_single gives the one-process group, on which every call is
 * a no-op: code written for ranks runs unchanged in one process.
 */
#ifndef NFLOW_DIST_H
#define NFLOW_DIST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_dist nf_dist;

/* 1 if this nflow was built with MPI (NFLOW_MPI=ON). */
int nf_dist_mpi_built(void);
/* The one-process group: rank 0 of 1. */
nf_status nf_dist_create_single(nf_dist **out);
/* All ranks of MPI_COMM_WORLD (a duplicate of it; MPI errors come back as statuses).
 * Initialises MPI (funneled threads: OpenMP inside a rank is fine) unless the program
 * did. NF_ERR_STATE when nflow was built without MPI. */
nf_status nf_dist_create_mpi(nf_dist **out);
int nf_dist_rank(const nf_dist *d);
int nf_dist_size(const nf_dist *d);

/* v[0..n) <- the sum over ranks of every rank's v, in rank order (double). For small
 * arrays (statistics, flags): it gathers all ranks' arrays. */
nf_status nf_dist_sum(nf_dist *d, double *v, size_t n);
/* The same for a large nf_real array (gradients): block r of v is summed by rank r (in
 * double, in rank order) and the blocks are gathered back; extra memory about n values. */
nf_status nf_dist_sum_real(nf_dist *d, nf_real *v, size_t n);
/* v <- the element-wise maximum over ranks (NaN wins). */
nf_status nf_dist_max(nf_dist *d, double *v, size_t n);
/* Copies root's bytes to every rank. */
nf_status nf_dist_bcast(nf_dist *d, void *buf, size_t bytes, int root);
/* all (size * bytes, on every rank) <- every rank's `bytes` bytes, in rank order. */
nf_status nf_dist_allgather(nf_dist *d, const void *mine, void *all, size_t bytes);
/* Agreement on a failure: *first = the lowest rank with failed != 0, or -1 when none.
 * Every rank must call it at the same point; a rank whose own work failed calls it too,
 * so the others never wait for it. */
nf_status nf_dist_first_failure(nf_dist *d, int failed, int *first);
/* Seconds this rank spent inside MPI calls so far (waiting for the others included):
 * the communication cost of data parallelism. 0 for one process. */
double nf_dist_seconds(const nf_dist *d);
/* Of those, the seconds spent after the backward waiting for gradient sums that did not
 * finish while it ran (the communication that overlap did not hide). */
double nf_dist_exposed_seconds(const nf_dist *d);

/* Values of the gradient per overlapped sum (1 MiB of floats). */
#define NF_DIST_BUCKET_DEFAULT ((size_t)1 << 18)
/* The trainer sums the gradient in buckets of `values` parameters, each started (non-
 * blocking) as soon as the backward has finished its parameters, so communication
 * overlaps the rest of the backward; the sums are the same, bit for bit, as one sum after
 * the backward. 0 = one sum after the backward. Default NF_DIST_BUCKET_DEFAULT. Every
 * rank must set the same value. */
void nf_dist_set_bucket(nf_dist *d, size_t values);
/* Ends the group (and MPI if nf_dist_create_mpi initialised it). NULL is fine. */
void nf_dist_destroy(nf_dist *d);

/* For nf_flow_set_sum: sums over the ranks of the nf_dist given as user. */
nf_status nf_dist_sum_hook(void *user, double *v, size_t n);

#ifdef __cplusplus
}
#endif

#endif
