/* Where training and evaluation data come from: "file.h5:/path" (an HDF5 dataset
 * streamed in batches) or "toy:NAME" (a built-in 2-D density, held in memory). */
#ifndef NFLOW_CLI_DATASRC_H
#define NFLOW_CLI_DATASRC_H

#include <nflow.h>

#define CLI_TOY_NAMES "banana|moons|swirl|parabola|gaussian"

/* --layout: the values in nf_layout's order, and the lines of every --help that has it. */
#define CLI_LAYOUT_CHOICES "auto|nchw|nhwc|ndhw"
#define CLI_LAYOUT_HELP                                                                    \
    "  --layout L     where HDF5 data keeps its channels: auto|nchw|nhwc|ndhw [auto: the\n" \
    "                 nflow_layout attribute, else guessed from the shape, said in one\n"    \
    "                 line; ambiguous shapes are refused]; ndhw = (N, D, H, W) volumes\n"

typedef struct cli_data {
    int toy;            /* 1: toy:NAME */
    char name[32];      /* toy density */
    nf_tensor all;      /* toy: the whole set, (all.n, 2, 1, 1, 1); this rank's is [lo, lo + size) */
    long long lo;
    int *order;         /* toy: (size) sample order of epoch order_epoch */
    long long order_epoch;
    uint64_t seed;      /* toy: samples and shuffles; HDF5: shuffles */
    uint64_t pos;       /* toy: samples delivered so far */
    nf_dataset *ds;     /* HDF5 */
    nf_shape shape;     /* of one batch (n = batch) */
    nf_shape cond_shape;/* of one batch of conditions (n = batch); all zero: none */
    long long size;     /* samples in one epoch (this rank's share) */
    double nll_offset;  /* nats per sample to add for -log p in the data's own units */
    nf_rng eval_noise;  /* dequantisation noise of data_eval_source's reads */
} cli_data;

/* Options of data_open. */
typedef struct cli_data_options {
    int batch;
    uint64_t seed;
    long long toy_size;    /* toy: samples drawn (one epoch) */
    long long start, count;/* HDF5: the range used (count 0: to the end) */
    int shuffle;           /* HDF5: 1 = a new order every epoch (toy sets are always shuffled) */
    int dequantize;        /* HDF5 integer data: uniform noise (1) or bin centres (0) */
    nf_norm_mode normalize;
    const double *mean, *std; /* NF_NORM_GIVEN */
    nf_layout layout;      /* HDF5: where the channels are (NF_LAYOUT_AUTO: attribute or guess) */
    int quiet_layout;      /* 1: do not repeat the note on a guessed layout (reopening a file) */
    int rank, ranks;       /* ranks > 1: this rank's share rank/ranks of the range and of
                              the batch (ranks.h: cli_ranks_share); the rest is unchanged */
    long long limit;       /* ranks > 1: share only the first `limit` samples of the range
                              (validation's --val-size) [0: all] */
    const char *cond;      /* HDF5: conditioning data of the same N read with x ("FILE.h5:/y" or
                              "/y" in the data's file); NULL: none */
} cli_data_options;

/* Opens spec. Returns 0, or prints "nflow <cmd>: ..." and returns an exit code
 * (CLI_USAGE for a malformed spec or an unknown toy, CLI_DATA for file problems). A layout
 * guessed from the shape is announced in one line on stderr ("nflow <cmd>: note: ..."). */
int data_open(cli_data *d, const char *cmd, const char *spec, const cli_data_options *o);
void data_close(cli_data *d);

/* 1 if spec names a toy density ("toy:banana"). */
int data_spec_is_toy(const char *spec);

/* The next batch (x->n = batch samples) of the stream and, when cond is not NULL, the
 * conditions of the same samples (HDF5 with a conditioning dataset); rng: dequantisation noise. */
nf_status data_next(cli_data *d, nf_tensor *x, nf_tensor *cond, nf_rng *rng);
/* x->n samples starting at index (and their conditions, cond not NULL), in storage order,
 * without moving the stream. */
nf_status data_read(cli_data *d, long long index, nf_tensor *x, nf_tensor *cond, nf_rng *rng);
/* Stream position (samples delivered) and epoch; seek continues at a saved position. */
uint64_t data_position(const cli_data *d);
long long data_epoch(const cli_data *d);
nf_status data_seek(cli_data *d, uint64_t pos);

/* The first `limit` samples of d (all if limit <= 0) as an evaluation source read in
 * chunks of batch (nf_flow_eval_source, the trainer's validation). The dequantisation
 * noise restarts from a fixed seed with every evaluation, so the same model gives the
 * same number. bits_per_dim is in the data's own units. */
nf_eval_source data_eval_source(cli_data *d, int batch, long long limit);
/* nf_flow_eval_source over data_eval_source(d, batch, limit). */
nf_status data_evaluate(nf_flow *f, cli_data *d, int batch, long long limit, nf_loss_stats *st);

/* -log p(x) per sample in the data's own units from a loss (objective):
 * loss + D/2 ln(2 pi) + nll_offset. */
double data_nll(double loss, size_t D, double nll_offset);
/* Bits per dimension of a loss in the data's own units (nf_bits_per_dim):
 * (loss + D/2 ln(2 pi) + nll_offset) / (D ln 2). */
double data_bits_per_dim(double loss, size_t D, double nll_offset);

#endif
