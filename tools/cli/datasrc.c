/* Data sources of the CLI: toy densities in memory with a reproducible order per epoch,
 * HDF5 datasets through the library's streaming reader. */
#include "datasrc.h"

#include "cli.h"
#include "ranks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int data_spec_is_toy(const char *spec) { return spec && strncmp(spec, "toy:", 4) == 0; }

/* Distinct streams from one seed: samples, shuffles and evaluation noise never share. */
static uint64_t mix(uint64_t seed, uint64_t salt) { return seed * 0x9E3779B97F4A7C15ull ^ (salt + 0x632BE59BD9B4E019ull); }

static int open_toy(cli_data *d, const char *cmd, const char *name, const cli_data_options *o) {
    if (strlen(name) >= sizeof d->name)
        return cli_error(CLI_USAGE, cmd, "unknown toy density '%s' (one of %s)", name, CLI_TOY_NAMES);
    strcpy(d->name, name);
    if (o->toy_size < 1 || o->toy_size > (1LL << 30))
        return cli_error(CLI_USAGE, cmd, "toy data set size must be in [1, 2^30], got %lld", o->toy_size);
    d->size = o->toy_size;
    if (nf_tensor_alloc(&d->all, (int)d->size, 2, 1, 1, 1) != NF_OK) return cli_nf_error(NF_ERR_NOMEM, cmd, "toy data");
    nf_rng r;
    nf_rng_seed(&r, mix(o->seed, 1));
    nf_status s = nf_sample_toy(name, &r, d->all.data, (int)d->size);
    if (s != NF_OK) {
        data_close(d);
        return cli_error(CLI_USAGE, cmd, "unknown toy density '%s' (one of %s)", name, CLI_TOY_NAMES);
    }
    d->order = malloc(sizeof(int) * (size_t)d->size);
    if (!d->order) return cli_nf_error(NF_ERR_NOMEM, cmd, "toy data");
    d->order_epoch = -1;
    d->shape = (nf_shape){o->batch, 2, 1, 1, 1};
    return CLI_OK;
}

/* The batch of rank o->rank, or an error when the global batch or the range leaves a rank
 * without samples. */
static int rank_batch(const char *cmd, const cli_data_options *o, long long size, int *batch) {
    long long lo, hi, blo, bhi;
    cli_ranks_share(size, o->rank, o->ranks, &lo, &hi);
    cli_ranks_share(o->batch, o->rank, o->ranks, &blo, &bhi);
    if (bhi - blo < 1) return cli_error(CLI_USAGE, cmd, "--batch %d is smaller than the %d ranks", o->batch, o->ranks);
    if (hi - lo < 1) return cli_error(CLI_DATA, cmd, "%lld samples cannot be shared by %d ranks", size, o->ranks);
    *batch = (int)(bhi - blo);
    return CLI_OK;
}

static int open_hdf5(cli_data *d, const char *cmd, const char *spec, const cli_data_options *o);

int data_open(cli_data *d, const char *cmd, const char *spec, const cli_data_options *o) {
    memset(d, 0, sizeof *d);
    d->seed = o->seed;
    if (data_spec_is_toy(spec)) {
        d->toy = 1;
        int rc = open_toy(d, cmd, spec + 4, o);
        if (rc != CLI_OK || o->ranks <= 1) return rc;
        long long hi;
        if ((rc = rank_batch(cmd, o, d->size, &d->shape.n)) != CLI_OK) return rc;
        cli_ranks_share(d->size, o->rank, o->ranks, &d->lo, &hi);
        d->size = hi - d->lo;
        return CLI_OK;
    }
    int rc = open_hdf5(d, cmd, spec, o);
    if (rc != CLI_OK || o->ranks <= 1) return rc;
    /* this rank's part of the range, read by hyperslab from its own handle */
    cli_data_options mine = *o;
    long long lo, hi, size = o->limit > 0 && o->limit < d->size ? o->limit : d->size;
    if ((rc = rank_batch(cmd, o, size, &mine.batch)) != CLI_OK) return rc;
    cli_ranks_share(size, o->rank, o->ranks, &lo, &hi);
    mine.start = o->start + lo;
    mine.count = hi - lo;
    mine.quiet_layout = 1;
    data_close(d);
    memset(d, 0, sizeof *d);
    d->seed = o->seed;
    return open_hdf5(d, cmd, spec, &mine);
}

static int open_hdf5(cli_data *d, const char *cmd, const char *spec, const cli_data_options *o) {
    if (!strstr(spec, ":/"))
        return cli_error(CLI_USAGE, cmd, "data '%s' is neither FILE.h5:/DATASET nor toy:NAME (%s)", spec, CLI_TOY_NAMES);
    nf_dataset_options opt = nf_dataset_options_default();
    opt.batch = o->batch;
    opt.seed = mix(o->seed, 2);
    opt.start = o->start;
    opt.count = o->count;
    opt.shuffle = o->shuffle;
    opt.dequantize = o->dequantize;
    opt.normalize = o->normalize;
    opt.mean = o->mean;
    opt.std = o->std;
    opt.layout = o->layout;
    opt.cond = o->cond;
    nf_status s = nf_dataset_open(&d->ds, spec, &opt);
    if (s != NF_OK) return cli_nf_error(s == NF_ERR_ARG ? NF_ERR_FORMAT : s, cmd, spec);
    const char *note = NULL;
    nf_dataset_layout(d->ds, &note);
    if (note && !o->quiet_layout) fprintf(stderr, "nflow %s: note: %s\n", cmd, note);
    d->shape = nf_dataset_shape(d->ds);
    d->cond_shape = nf_dataset_cond_shape(d->ds);
    d->size = nf_dataset_size(d->ds);
    d->nll_offset = nf_dataset_nll_offset(d->ds);
    return CLI_OK;
}

void data_close(cli_data *d) {
    nf_tensor_free(&d->all);
    free(d->order);
    d->order = NULL;
    nf_dataset_close(d->ds);
    d->ds = NULL;
}

/* The toy order of epoch e: a Fisher-Yates shuffle keyed by (seed, e). Epoch 0 too:
 * some samplers draw in order along the density (the moons walk their arcs), and a first
 * batch from one end would both mislead ActNorm's data-dependent initialisation and make
 * every batch a different piece of the density. */
static void toy_order(cli_data *d, long long e) {
    if (d->order_epoch == e) return;
    for (long long i = 0; i < d->size; i++) d->order[i] = (int)i;
    nf_rng r;
    nf_rng_seed(&r, mix(d->seed, 100 + (uint64_t)e));
    for (long long i = d->size - 1; i > 0; i--) {
        long long j = (long long)(nf_rng_u64(&r) % (uint64_t)(i + 1));
        int t = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t;
    }
    d->order_epoch = e;
}

nf_status data_next(cli_data *d, nf_tensor *x, nf_tensor *cond, nf_rng *rng) {
    if (!d->toy) return nf_dataset_next_batch(d->ds, x, cond, rng);
    for (int b = 0; b < x->n; b++, d->pos++) {
        long long e = (long long)(d->pos / (uint64_t)d->size), i = (long long)(d->pos % (uint64_t)d->size);
        toy_order(d, e);
        memcpy(x->data + 2 * b, d->all.data + 2 * (size_t)(d->lo + d->order[i]), 2 * sizeof(nf_real));
    }
    return NF_OK;
}

nf_status data_read(cli_data *d, long long index, nf_tensor *x, nf_tensor *cond, nf_rng *rng) {
    if (!d->toy) return nf_dataset_read(d->ds, index, x, cond, rng);
    if (index < 0 || index + x->n > d->size) return NF_ERR_ARG;
    memcpy(x->data, d->all.data + 2 * (size_t)(d->lo + index), sizeof(nf_real) * 2 * (size_t)x->n);
    return NF_OK;
}

uint64_t data_position(const cli_data *d) { return d->toy ? d->pos : nf_dataset_position(d->ds); }

long long data_epoch(const cli_data *d) {
    return d->toy ? (long long)(d->pos / (uint64_t)d->size) : nf_dataset_epoch(d->ds);
}

nf_status data_seek(cli_data *d, uint64_t pos) {
    if (!d->toy) return nf_dataset_seek(d->ds, pos);
    d->pos = pos;
    return NF_OK;
}

double data_nll(double loss, size_t D, double nll_offset) {
    return loss + 0.5 * (double)D * log(2 * M_PI) + nll_offset;
}

double data_bits_per_dim(double loss, size_t D, double nll_offset) { return nf_bits_per_dim(loss, D, nll_offset); }

static nf_status eval_read(void *user, long long start, nf_tensor *x, nf_tensor *cond) {
    cli_data *d = user;
    if (start == 0) nf_rng_seed(&d->eval_noise, mix(d->seed, 3)); /* every evaluation alike */
    return data_read(d, start, x, cond, &d->eval_noise);
}

nf_eval_source data_eval_source(cli_data *d, int batch, long long limit) {
    return (nf_eval_source){.read = eval_read,
                            .user = d,
                            .count = limit > 0 && limit < d->size ? limit : d->size,
                            .batch = batch,
                            .nll_offset = d->nll_offset};
}

nf_status data_evaluate(nf_flow *f, cli_data *d, int batch, long long limit, nf_loss_stats *st) {
    nf_eval_source src = data_eval_source(d, batch, limit);
    return nf_flow_eval_source(f, &src, st);
}
