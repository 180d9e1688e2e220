/* Pre-processing of samples read from HDF5 (preprocess.c): integer levels scaled and
 * dequantised, float data checked and normalised per channel (with the streaming
 * per-channel statistics of nflow/h5.h, which preprocess.c also implements).
 * Internal, not installed. */
#ifndef NF_H5_PREPROCESS_H
#define NF_H5_PREPROCESS_H

#include "nf_internal.h"
#include "nflow/h5.h" /* nf_chan_stats */

typedef struct nf_preprocess {
    int integer;      /* 1: values are b-bit levels */
    int bits;         /* b */
    double offset;    /* added to stored integers so levels start at 0 (2^(b-1) for int16) */
    int normalize;    /* float data: 1 apply (x - mean) / std */
    int c;            /* channels */
    size_t s;         /* values per channel in a sample (d*h*w) */
    double *mean;     /* (c) nf_alloc'd; 0 when not normalising */
    double *std;      /* (c) nf_alloc'd; 1 when not normalising */
} nf_preprocess;

/* Allocates mean/std (c each) set to 0 and 1. */
nf_status nf_preprocess_init(nf_preprocess *p, int integer, int bits, int is_signed, int c, size_t s);
void nf_preprocess_free(nf_preprocess *p);

/* Stage one, on any thread: x (c, s) holds one sample's stored values. Integers become
 * levels v + offset, checked to lie in [0, 2^b); floats are checked finite and
 * normalised. Failures name the sample index and where (a "file:/path"). */
nf_status nf_preprocess_sample(const nf_preprocess *p, nf_real *x, long long index, const char *where);
/* NF_ERR_NUMERIC naming sample index, where and the element when one of x's n values is
 * NaN or Inf (conditioning data is checked by this alone). */
nf_status nf_check_finite(const nf_real *x, size_t n, long long index, const char *where);
/* Stage two, on the caller's thread: levels x (count) -> (x + u) / 2^b - 0.5, u ~ U(0, 1)
 * from rng, or u = 0.5 when rng is NULL. No-op for float data. */
void nf_preprocess_dequantize(const nf_preprocess *p, nf_real *x, size_t count, nf_rng *rng);
/* Inverse of both stages on x (n, c, s): back to stored units. */
void nf_preprocess_invert(const nf_preprocess *p, nf_real *x, size_t n);
/* Nats per sample to add to -log p(x) for data units (see nf_dataset_nll_offset). */
double nf_preprocess_nll_offset(const nf_preprocess *p);

#endif
