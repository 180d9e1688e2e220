/* What the vector layers share: construction, their size D, parameter-block tables,
 * and the alternating masks of the vector couplings. A vector layer treats each
 * sample of shape (c, d, h, w) as one flat vector of D = c*d*h*w values. */
#ifndef NF_VEC_LAYER_H
#define NF_VEC_LAYER_H

#include "nf_internal.h"

/* Element-wise loops over fewer values than this stay on one thread: with the small
 * batches of vector flows, forking costs far more than it saves. */
#define NF_VEC_OMP_MIN 32768

/* D: values per sample. */
static inline int nf_vec_dim(const nf_layer *l) { return (int)nf_shape_sample_count(l->in); }

/* *out = a zeroed struct of bytes (whose first member is nf_layer) with ops, in and
 * nparams set; fails with a message naming who when a size of in is not positive. */
nf_status nf_vec_layer_new(nf_layer **out, size_t bytes, const nf_layer_ops *ops, nf_shape in, size_t nparams,
                           const char *who);
/* Frees a layer made by nf_vec_layer_new that owns nothing else. */
void nf_vec_layer_free(nf_layer *l);
/* Copies up to max of the count blocks to out; returns count (the param_blocks rule). */
int nf_vec_blocks(const nf_param_block *blocks, int count, nf_param_block *out, int max);
/* One rank-1 block. */
nf_param_block nf_vec_block(const char *name, size_t offset, size_t count, int frozen);

/* ---------------------------------------------------------------- alternating masks */

/* The coupling mask of parity p: index i of a sample is a conditioner ("a", unchanged)
 * when i % 2 == p and transformed ("b") otherwise, as x[:, ::2] / x[:, 1::2] in the
 * tutorials; alternating p between layers lets every value be transformed. */
static inline int nf_mask_count_a(int D, int parity) { return parity ? D / 2 : (D + 1) / 2; }
/* xa (n, Da) and xb (n, Db) <- the two halves of x (n, D). */
void nf_mask_split(const nf_real *x, int n, int D, int parity, nf_real *xa, nf_real *xb);
/* x (n, D) <- xa, xb (either may be NULL to leave that half alone). */
void nf_mask_merge(nf_real *x, int n, int D, int parity, const nf_real *xa, const nf_real *xb);
/* The same with the rows of xa lda >= Da apart (a conditional coupling keeps the
 * condition's features after xa in each row). */
void nf_mask_split_rows(const nf_real *x, int n, int D, int parity, nf_real *xa, int lda, nf_real *xb);
void nf_mask_merge_rows(nf_real *x, int n, int D, int parity, const nf_real *xa, int lda, const nf_real *xb);

/* ---------------------------------------------------------------- conditioning */

/* A conditional vector coupling's sub-network takes [xa, s] per sample, s the S features
 * of the condition (ctx->cond, (n, S)): rows (n, lda) hold xa in columns [0, da) and s in
 * [da, da + S). cond_put writes s into the rows; cond_take adds the rows' columns
 * [da, da + S) to dcond (n, S) (the sub-network's share of dloss/ds); both do nothing for
 * S = 0 or a NULL tensor. */
void nf_cond_put(nf_real *rows, int n, int lda, int da, const nf_tensor *cond);
void nf_cond_take(const nf_real *rows, int n, int lda, int da, nf_tensor *dcond);
/* l->cond for S condition features: (S, 1, 1, 1), or all zero for S = 0. */
nf_shape nf_cond_shape(int S);

#endif
