/* Part of nflow.h; include <nflow.h> rather than this file.
 *
 * Training data from HDF5, streamed in mini-batches, and the in-library toy densities.
 *
 *     nf_dataset_options o = nf_dataset_options_default();
 *     o.batch = 64; o.cond = "/train/y";              // labels in the same file
 *     nf_dataset *ds = NULL;
 *     if (nf_dataset_open(&ds, "fmnist.h5:/train/x", &o) != NF_OK) { puts(nf_last_error()); return 1; }
 *     nf_shape s = nf_dataset_shape(ds), cs = nf_dataset_cond_shape(ds);   // n = batch
 *     nf_tensor x, y;
 *     nf_tensor_alloc(&x, s.n, s.c, s.d, s.h, s.w);
 *     nf_tensor_alloc(&y, cs.n, cs.c, cs.d, cs.h, cs.w);
 *     nf_rng rng; nf_rng_seed(&rng, 1);
 *     while (nf_dataset_epoch(ds) < 10) {
 *         nf_dataset_next_batch(ds, &x, &y, &rng);     // x in [-0.5, 0.5), dequantised
 *         ...train on x...
 *     }
 *     nf_dataset_close(ds);
 *
 * The file format (shapes, element types, attributes) is documented in datasets/README.md.
 */
#ifndef NFLOW_IO_H
#define NFLOW_IO_H
#include "nflow.h"
#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- HDF5 datasets */

/*
 * A dataset is an HDF5 dataset of shape (N, C, H, W) or (N, H, W, C), (N, H, W) (one
 * channel), (N, C, D, H, W) or (N, D, H, W, C), (N, D, H, W) (a one-channel volume, only
 * when the layout says so) or (N, C) (vector data, read as C x 1 x 1 x 1); element type
 * uint8, uint16, int16, float16, float32 or float64 (or any other floating-point type HDF5
 * describes, such as a custom bfloat16, converted to float), contiguous or chunked,
 * compressed (gzip, shuffle) or not. Batches are always delivered as float NCDHW tensors;
 * channels-last samples are transposed one by one as batches are made.
 *
 * Layout. opt.layout, when not NF_LAYOUT_AUTO, says where the channels are; otherwise the
 * string attribute nflow_layout does ("NCHW", "NHWC", "NHW", "NDHW", "NCDHW", "NDHWC",
 * "NC"); otherwise the shape: a last axis of 1, 3 or 4 smaller than every spatial axis
 * means channels last (a guess nf_dataset_layout() reports), a first axis smaller than
 * every other means channels first, and a shape that is neither, with a last axis of 1, 3
 * or 4, is refused as ambiguous; any other shape is channels first. Messages call the
 * option by its command-line name, --layout (nflow's --layout nchw = NF_LAYOUT_NCHW).
 *
 * Reading. Samples are read by hyperslab into a buffer of at most memory_budget bytes,
 * never the whole dataset, so peak memory does not depend on N. The samples of the range
 * [start, start + count) form a stream: epoch 0's order, then epoch 1's, ...; batch k
 * holds stream positions [k*batch, (k+1)*batch) and may run across an epoch boundary.
 *
 * Shuffling (files larger than RAM). The range is cut into blocks of whole chunks; each
 * epoch visits the blocks in a pseudo-random order (a keyed permutation, no table in
 * memory), reads them a few at a time into the buffer and shuffles inside the buffer. Every
 * sample appears exactly once per epoch. The order of epoch e depends on (seed, e) only.
 *
 * Pre-processing. Integer data with b bits (8 for uint8, 16 for uint16/int16, or the
 * nflow_bits attribute; int16 is offset by 2^(b-1)) becomes x = (v + u) / 2^b - 0.5 with
 * u ~ U(0, 1) drawn from the caller's rng when dequantising, u = 0.5 otherwise. Float data
 * is normalised per channel, x = (v - mean_c) / std_c, by the chosen statistics.
 * Conditioning data (labels, side images) is converted to float and otherwise untouched.
 * A NaN or Inf in float data fails the batch with a message naming the sample index.
 * An nf_dataset is used from one thread (its prefetch thread is its own business).
 */
typedef struct nf_dataset nf_dataset;

/* Where a stored array keeps its channels (nf_dataset_options.layout). */
typedef enum nf_layout {
    NF_LAYOUT_AUTO = 0, /* the nflow_layout attribute, else a guess from the shape */
    NF_LAYOUT_NCHW = 1, /* channels first: (N, C, H, W), (N, C, D, H, W); (N, H, W) and (N, C) as they are */
    NF_LAYOUT_NHWC = 2, /* channels last: (N, H, W, C), (N, D, H, W, C); (N, H, W) and (N, C) as they are */
    NF_LAYOUT_NDHW = 3  /* (N, D, H, W): a volume of one channel, read as (N, 1, D, H, W) */
} nf_layout;

typedef enum nf_norm_mode {
    NF_NORM_AUTO = 0,    /* float data: the stored nflow_mean/nflow_std attributes if present, else none */
    NF_NORM_NONE = 1,    /* values as stored */
    NF_NORM_STORED = 2,  /* the stored attributes; NF_ERR_FORMAT if missing */
    NF_NORM_COMPUTE = 3, /* per-channel mean/std from one streamed pass over the range at open */
    NF_NORM_GIVEN = 4    /* opt.mean / opt.std (e.g. the training split's, for validation) */
} nf_norm_mode;

/* Options of nf_dataset_open. A zeroed struct is valid (the defaults in brackets apply to
 * zero fields); nf_dataset_options_default() also turns on shuffle, dequantisation and
 * prefetch. */
typedef struct nf_dataset_options {
    const char *cond;      /* conditioning/label dataset of the same N: "file.h5:/path", or
                              "/path" in the same file as the data; NULL: none */
    long long start;       /* first sample of the range used (train/validation split) */
    long long count;       /* samples in the range [0: to the end] */
    int batch;             /* samples per batch [32] */
    int shuffle;           /* 1: a new order every epoch; 0: file order */
    uint64_t seed;         /* shuffle seed */
    size_t memory_budget;  /* bytes of the read buffer and its index [64 MiB] */
    int dequantize;        /* integer data: 1 uniform noise, 0 bin centres */
    nf_norm_mode normalize;/* float data */
    const double *mean;    /* (C) NF_NORM_GIVEN only */
    const double *std;     /* (C) NF_NORM_GIVEN only, each > 0 */
    int prefetch;          /* 1: a thread reads the next batch while the caller works */
    nf_layout layout;      /* where the channels are stored [AUTO]; overrides nflow_layout */
} nf_dataset_options;

/* batch 32, shuffle on, seed 1, 64 MiB, dequantise on, NF_NORM_AUTO, prefetch on. */
nf_dataset_options nf_dataset_options_default(void);

/* Opens spec = "file.h5:/group/dataset" (split at the last ":/"). opt may be NULL (the
 * defaults). Fails with one clear message, and nothing on stderr, on a missing or
 * non-HDF5 or truncated file (NF_ERR_IO), a missing path, wrong rank, unsupported element
 * type, empty range, or a conditioning dataset of another N (NF_ERR_FORMAT / NF_ERR_ARG). */
nf_status nf_dataset_open(nf_dataset **out, const char *spec, const nf_dataset_options *opt);
/* Stops the prefetch thread, frees everything, closes the file. NULL is ignored. */
void nf_dataset_close(nf_dataset *ds);

/* Shape of one batch of data (n = batch). */
nf_shape nf_dataset_shape(const nf_dataset *ds);
/* Shape of one batch of conditioning data (n = batch; rank-1 labels give c = 1), or all
 * zero when there is none. */
nf_shape nf_dataset_cond_shape(const nf_dataset *ds);
/* The stored axes the data was read with: "NCHW", "NHWC", "NHW", "NDHW", "NCDHW", "NDHWC"
 * or "NC". If note is not NULL, *note is one line to show the user when the layout was
 * guessed from the shape and is not simply the axes as they stand (channels last, or an
 * added channel axis), e.g. "f.h5:/x (100, 32, 32, 3) read as NHWC (channels last),
 * guessed from the shape; ...", and NULL otherwise. Valid until nf_dataset_close. */
const char *nf_dataset_layout(const nf_dataset *ds, const char **note);
/* Samples in the range (one epoch). */
long long nf_dataset_size(const nf_dataset *ds);

/* Fills x (batch, C, D, H, W) with the next batch of the stream and cond (may be NULL;
 * ignored if there is no conditioning dataset) with its conditioning data. rng supplies
 * the dequantisation noise (may be NULL when no noise is needed). The result depends only
 * on the position and the rng, never on the prefetch thread's timing. A failed read
 * leaves the position unchanged. */
nf_status nf_dataset_next_batch(nf_dataset *ds, nf_tensor *x, nf_tensor *cond, nf_rng *rng);
/* Reads x->n samples starting at index (0 = the range's first sample) in file order,
 * pre-processed like a batch (for evaluation); does not move the stream. */
nf_status nf_dataset_read(nf_dataset *ds, long long index, nf_tensor *x, nf_tensor *cond, nf_rng *rng);

/* Data-order position: the number of samples delivered so far. With the options and the
 * caller's rng state, it is all a checkpoint needs to continue with the same batches. */
uint64_t nf_dataset_position(const nf_dataset *ds);
/* Epochs completed = position / size. */
long long nf_dataset_epoch(const nf_dataset *ds);
/* Continues the stream at a saved position. */
nf_status nf_dataset_seek(nf_dataset *ds, uint64_t position);

/* The per-channel statistics in use (mean 0, std 1 when not normalising), (C) each. */
nf_status nf_dataset_stats(const nf_dataset *ds, double *mean, double *std);
/* Nats per sample to add to -log p(x) of the pre-processed x to get -log p of the data
 * in its own units: D*b*ln 2 for dequantised b-bit integers (bits/dim = (nll + offset) /
 * (D ln 2), the usual correction), sum_c D_c ln std_c for normalised float data. */
double nf_dataset_nll_offset(const nf_dataset *ds);
/* Maps pre-processed values (model samples) back to data units in place:
 * (x + 0.5) * 2^b - 0.5 (minus the int16 offset) for integers, which rounds to the level
 * whose bin holds x; x * std_c + mean_c for floats. */
nf_status nf_dataset_denormalize(const nf_dataset *ds, nf_tensor *x);

/* What identifies a dataset's contents: recorded with a model or checkpoint
 * (nf_flow_set_data_identity) so that a resumed training can tell that its data changed.
 * The checksum covers NF_DATA_ID_SAMPLES samples evenly spaced over the whole stored
 * dataset (the first and last included; all of them when there are fewer), so a change
 * of shape, element type or of any sampled sample is seen; a change confined to samples
 * between them is not. */
#define NF_DATA_ID_SAMPLES 64
typedef struct nf_data_identity {
    char source[512];   /* "file.h5:/path" as opened (or a front end's name: "toy:banana") */
    int rank;           /* of the stored dataset, 1..5 */
    long long dims[5];  /* (rank) stored shape, dims[0] = N */
    char dtype[16];     /* stored element type: "uint8", "uint16", "int16", "float32", "float64" */
    long long samples;  /* samples checksummed */
    uint32_t crc32;     /* CRC-32 (zlib's) of their stored values, little-endian, in index order */
} nf_data_identity;

/* Fills id for the whole stored dataset behind ds (not only its range), reading the
 * sampled samples by hyperslab one at a time; does not move the stream. */
nf_status nf_dataset_identity(nf_dataset *ds, nf_data_identity *id);
/* The same for samples held in memory (generated data), x (n, c, d, h, w) float: shape
 * (n, c) when d = h = w = 1, (n, c, h, w) when d = 1, dtype "float32". */
nf_status nf_data_identity_of_tensor(nf_data_identity *id, const char *source, const nf_tensor *x);
/* Compares the contents recorded in two identities (shape, element type, sampled
 * samples and checksum; not the source name, so a moved file is the same data).
 * 0 if equal; otherwise 1 and a one-line description of the first difference in why
 * (size bytes, may be NULL). */
int nf_data_identity_differs(const nf_data_identity *was, const nf_data_identity *now, char *why, size_t size);

/* ---------------------------------------------------------------- toy 2-D densities */
/* Each writes n samples as (n, 2) = (n, 2, 1, 1, 1). nf_sample_banana is in nflow.h. */

/* ADCME's sample_moons (nmoons with c = 2, translation (0.25, -0.25)): the first n/2
 * points on (cos t - 0.5, sin t), the rest on (0.5 - cos t, -sin t), t evenly spaced in
 * [0, pi] on each moon, plus N(0, noise^2) on both coordinates (ADCME: noise = 0.05/2). */
void nf_sample_moons(nf_rng *r, nf_real *x, int n, double noise);
/* Swirl: a bar a ~ N(0, diag(1, 0.2^2)) twisted by an angle growing with its radius,
 * x = R(3 |a|) a. E x = 0, E|x|^2 = 1.04; rotating x back by -3|x| gives the bar. */
void nf_sample_swirl(nf_rng *r, nf_real *x, int n);
/* Eric Jang's parabola: x2 ~ N(0, 4^2) (scale 4, as in his code), x1 ~ N(x2^2 / 4, 1). */
void nf_sample_parabola(nf_rng *r, nf_real *x, int n);
/* 2-D Gaussian N(mean, cov), cov row-major 2x2 symmetric positive definite
 * (NF_ERR_ARG otherwise); x = mean + L a with L L^T = cov, a ~ N(0, I). */
nf_status nf_sample_gaussian2(nf_rng *r, nf_real *x, int n, const double mean[2], const double cov[4]);
/* By name: "banana", "moons" (noise 0.025), "swirl", "parabola", "gaussian" (mean (5, 7),
 * cov [[2, 0.7], [0.7, 1]], the PyTorch tutorial's target). NF_ERR_ARG for other names. */
nf_status nf_sample_toy(const char *name, nf_rng *r, nf_real *x, int n);

/* ---- model files ---- */

#ifdef __cplusplus
}
#endif
#endif
