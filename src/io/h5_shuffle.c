/* Epoch orders over blocks and groups (see h5_shuffle.h). */
#include "io/h5_shuffle.h"

#include <stdlib.h>

/* splitmix64's finaliser: a strong 64-bit mix used for keys and Feistel rounds. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t key_of(uint64_t seed, uint64_t epoch, uint64_t salt) {
    return mix64(seed ^ mix64(epoch * 0x9e3779b97f4a7c15ULL + salt));
}

void nf_perm_init(nf_perm *p, uint64_t n, uint64_t key) {
    int bits = 1;
    while (bits < 63 && (1ULL << bits) < n) bits++;
    p->n = n;
    p->half = (bits + 1) / 2;
    p->mask = (1ULL << p->half) - 1;
    for (int i = 0; i < 4; i++) p->key[i] = mix64(key + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL);
}

/* One pass of the Feistel network: a bijection of [0, 2^(2*half)). */
static uint64_t feistel(const nf_perm *p, uint64_t x) {
    uint64_t left = x >> p->half, right = x & p->mask;
    for (int i = 0; i < 4; i++) {
        uint64_t t = left ^ (mix64(right ^ p->key[i]) & p->mask);
        left = right;
        right = t;
    }
    return (left << p->half) | right;
}

uint64_t nf_perm_at(const nf_perm *p, uint64_t i) {
    /* cycle walking: the cycle through i returns to [0, n) (at i itself at the latest), and
     * the domain is at most 4n, so a few steps on average */
    uint64_t y = i;
    do y = feistel(p, y);
    while (y >= p->n);
    return y;
}

nf_status nf_h5_plan_init(nf_h5_plan *p, long long count, long long chunk_n, size_t sample_bytes, size_t budget,
                          int shuffle, uint64_t seed) {
    if (count <= 0) return nf_fail(NF_ERR_ARG, "nf_h5_plan_init: empty range (%lld samples)", count);
    size_t per_sample = sample_bytes + NF_H5_PLAN_INDEX_BYTES;
    long long cap = (long long)(budget / per_sample);
    if (cap < 1)
        return nf_fail(NF_ERR_ARG, "memory budget of %zu bytes is smaller than one sample (%zu bytes with its index)",
                       budget, per_sample);
    if (chunk_n < 1) chunk_n = 1;
    /* aim at >= 16 blocks per buffer so the in-buffer shuffle mixes distant parts of the file */
    long long want = cap / 16 > 0 ? cap / 16 : 1, bs;
    if (chunk_n <= want) bs = want / chunk_n * chunk_n;
    else if (chunk_n <= cap) bs = chunk_n;
    else bs = cap; /* a chunk larger than the budget: read parts of it */
    if (bs > count) bs = count;
    p->count = count;
    p->block = bs;
    p->nfull = count / bs;
    p->nblocks = p->nfull + (count % bs != 0);
    p->group_blocks = cap / bs < p->nblocks ? cap / bs : p->nblocks;
    p->group_samples = p->group_blocks * bs < count ? p->group_blocks * bs : count;
    p->shuffle = shuffle;
    p->seed = seed;
    return NF_OK;
}

long long nf_h5_plan_group_of(const nf_h5_plan *p, long long off, long long *group_start) {
    /* every block before the last slot is full, so groups start at multiples of K*block */
    long long span = p->group_blocks * p->block, g = off / span;
    *group_start = g * span;
    return g;
}

long long nf_h5_plan_block_len(const nf_h5_plan *p, long long b) {
    return b < p->nfull ? p->block : p->count - p->nfull * p->block;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int nf_h5_plan_group(const nf_h5_plan *p, long long epoch, long long g, long long *blocks) {
    nf_perm perm;
    if (p->shuffle) nf_perm_init(&perm, (uint64_t)p->nfull, key_of(p->seed, (uint64_t)epoch, 1));
    long long first = g * p->group_blocks, last = first + p->group_blocks;
    if (last > p->nblocks) last = p->nblocks;
    int n = 0;
    for (long long slot = first; slot < last; slot++) {
        /* the short tail block, if any, always comes last: full blocks are permuted */
        long long b = slot >= p->nfull ? p->nfull : p->shuffle ? (long long)nf_perm_at(&perm, (uint64_t)slot) : slot;
        blocks[n++] = b;
    }
    qsort(blocks, (size_t)n, sizeof *blocks, cmp_ll);
    return n;
}

void nf_h5_plan_order(const nf_h5_plan *p, long long epoch, long long g, long long n, long long *order) {
    for (long long i = 0; i < n; i++) order[i] = i;
    if (!p->shuffle) return;
    nf_rng r;
    nf_rng_seed(&r, key_of(p->seed, (uint64_t)epoch, 2 + (uint64_t)g * 2));
    for (long long i = n - 1; i > 0; i--) { /* Fisher-Yates */
        long long j = (long long)(nf_rng_u64(&r) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
