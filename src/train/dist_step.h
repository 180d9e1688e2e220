/* One training step's results combined over the ranks of an nf_dist (the trainer's
 * data-parallel part). */
#ifndef NF_DIST_STEP_H
#define NF_DIST_STEP_H

#include "nf_internal.h"

/* After each rank computed the gradient of its share x_r (n_r samples) of the global
 * batch with status s: every rank ends with the global batch's gradient (sum of n_r g_r
 * over N = sum n_r, in rank order) in f->params.grad, its loss statistics in *ls, the
 * largest rebuild error and "any rank recomputed" in *g. Returns NF_OK, or on every rank
 * the same class of failure: NF_ERR_NUMERIC when some rank's loss or gradient was not
 * finite (the message names the first such rank; a collective rollback follows), another
 * error when a rank failed otherwise (that rank's own status and message; the others say
 * which rank failed). Collective: every rank calls it once per step. */
nf_status nf_dist_combine_step(nf_dist *d, nf_flow *f, int n, nf_status s, nf_loss_stats *ls, nf_grad_report *g);

/* Overlap (dist_overlap.c): before the step's gradient, every rank calls begin with its
 * share n; when all ranks can, the gradient's buckets are then summed while the backward
 * runs (f's grads_ready hook), and nf_dist_combine_step ends them: flush starts the buckets
 * a failed backward did not reach, end waits for all and, with use, puts the global mean
 * gradient in f->params.grad (bit for bit what the sum after the backward gives).
 * Collective. With one rank or a bucket size of 0 they do nothing. */
nf_status nf_dist_overlap_begin(nf_dist *d, nf_flow *f, int n);
int nf_dist_overlap_active(const nf_dist *d);
void nf_dist_overlap_flush(nf_dist *d);
nf_status nf_dist_overlap_end(nf_dist *d, int use);

#endif
