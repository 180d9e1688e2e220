/* The order in which each epoch visits the samples of a range, for files larger than
 * RAM: the range is cut into blocks of whole chunks, an epoch visits the blocks in a keyed
 * pseudo-random order and takes them K at a time (a "group", one buffer's worth), and the
 * samples of a group are shuffled inside the buffer. The block order is computed, not
 * stored, so memory depends on the buffer size only. Pure arithmetic, no HDF5. */
#ifndef NF_H5_SHUFFLE_H
#define NF_H5_SHUFFLE_H

#include "nf_internal.h"

/* A pseudo-random permutation of [0, n) keyed by a 64-bit key: a 4-round Feistel network
 * on the smallest even-bit domain >= n, walked until it lands inside [0, n). */
typedef struct nf_perm {
    uint64_t n;
    int half;          /* bits per Feistel half */
    uint64_t mask;     /* (1 << half) - 1 */
    uint64_t key[4];   /* round keys */
} nf_perm;

void nf_perm_init(nf_perm *p, uint64_t n, uint64_t key);
/* The image of i (i < n). */
uint64_t nf_perm_at(const nf_perm *p, uint64_t i);

typedef struct nf_h5_plan {
    long long count;         /* samples in the range */
    long long block;         /* samples per block; all blocks full but the last */
    long long nblocks;
    long long nfull;         /* full blocks; block nfull (if any) is the short tail */
    long long group_blocks;  /* K: blocks per group */
    long long group_samples; /* buffer capacity in samples: min(K * block, count) */
    int shuffle;
    uint64_t seed;
} nf_h5_plan;

/* Sizes the blocks and groups so that a buffer of group_samples samples of
 * sample_bytes each, plus 32 bytes of index per sample, fits in budget; blocks are whole
 * chunks (chunk_n samples) where the budget allows. NF_ERR_ARG if not even one sample
 * fits. */
nf_status nf_h5_plan_init(nf_h5_plan *p, long long count, long long chunk_n, size_t sample_bytes, size_t budget,
                          int shuffle, uint64_t seed);
/* Index-array bytes per buffered sample (order + block lists), part of the budget. */
#define NF_H5_PLAN_INDEX_BYTES 32

/* Group of the epoch offset off (0 <= off < count) and the offset where it starts. */
long long nf_h5_plan_group_of(const nf_h5_plan *p, long long off, long long *group_start);
/* Writes the blocks of group g of epoch e, sorted ascending, into blocks (K entries);
 * returns how many. */
int nf_h5_plan_group(const nf_h5_plan *p, long long epoch, long long g, long long *blocks);
/* Samples in block b. */
long long nf_h5_plan_block_len(const nf_h5_plan *p, long long b);
/* order[i] = buffer position of the i-th sample the group delivers: a shuffle of [0, n)
 * drawn from (seed, epoch, g), or the identity when not shuffling. */
void nf_h5_plan_order(const nf_h5_plan *p, long long epoch, long long g, long long n, long long *order);

#endif
