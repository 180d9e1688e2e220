/* xoshiro256** (Blackman & Vigna), seeded by splitmix64. */
#include "nf_internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nf_rng_seed(nf_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t nf_rng_u64(nf_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nf_rng_uniform(nf_rng *r) { return (double)(nf_rng_u64(r) >> 11) * 0x1.0p-53; }

double nf_rng_normal(nf_rng *r) {
    /* Box-Muller; 1 - u keeps the log argument in (0, 1]. */
    double u1 = 1.0 - nf_rng_uniform(r), u2 = nf_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void nf_rng_fill_normal(nf_rng *r, nf_real *x, size_t n, double std) {
    for (size_t i = 0; i < n; i++) x[i] = (nf_real)(std * nf_rng_normal(r));
}
