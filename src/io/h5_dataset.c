/* nf_dataset: training data streamed from an HDF5 dataset (the public calls of
 * include/nflow/io.h). Each call silences HDF5's own error printing for its duration. */
#include "io/h5_dataset.h"

#include "io/load_image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* what zero fields of the options mean */
enum { DEFAULT_BATCH = 32 };
#define DEFAULT_BUDGET ((size_t)64 << 20)

nf_dataset_options nf_dataset_options_default(void) {
    return (nf_dataset_options){.batch = DEFAULT_BATCH, .shuffle = 1, .seed = 1, .memory_budget = DEFAULT_BUDGET,
                                .dequantize = 1, .normalize = NF_NORM_AUTO, .prefetch = 1};
}

/* Puts the public function's name in front of a message from deeper down (once). */
static nf_status named(nf_status st, const char *fn) {
    if (st == NF_OK || !strncmp(nf_last_error(), fn, strlen(fn))) return st;
    char why[512];
    snprintf(why, sizeof why, "%s", nf_last_error());
    return nf_fail(st, "%s: %s", fn, why);
}

static nf_status check_options(const nf_dataset_options *o) {
    if (o->batch < 0) return nf_fail(NF_ERR_ARG, "nf_dataset_open: batch = %d, must be positive", o->batch);
    if (o->start < 0 || o->count < 0)
        return nf_fail(NF_ERR_ARG, "nf_dataset_open: range start = %lld, count = %lld must not be negative", o->start,
                       o->count);
    if (o->normalize < NF_NORM_AUTO || o->normalize > NF_NORM_GIVEN)
        return nf_fail(NF_ERR_ARG, "nf_dataset_open: unknown normalize mode %d", (int)o->normalize);
    if (o->layout < NF_LAYOUT_AUTO || o->layout > NF_LAYOUT_NDHW)
        return nf_fail(NF_ERR_ARG, "nf_dataset_open: unknown layout %d", (int)o->layout);
    if (o->normalize == NF_NORM_GIVEN && (!o->mean || !o->std))
        return nf_fail(NF_ERR_ARG, "nf_dataset_open: NF_NORM_GIVEN needs opt.mean and opt.std");
    return NF_OK;
}

static nf_status open_cond(nf_dataset *ds, const h5_input *data_file, const char *spec) {
    char file[4096];
    const char *path = spec;
    h5_input in = *data_file; /* a path in the data's file */
    if (strstr(spec, ":/")) {
        NF_TRY(nf_h5_split_spec(spec, file, sizeof file, &path));
        in = (h5_input){file, NULL, 0};
    }
    NF_TRY(nf_h5_source_open(&ds->cond, &in, path, NF_H5_COND, NF_LAYOUT_AUTO));
    ds->has_cond = 1;
    if (ds->cond.n != ds->x.n)
        return nf_fail(NF_ERR_FORMAT, "%s has %lld samples but %s has %lld", ds->cond.name, ds->cond.n, ds->x.name,
                       ds->x.n);
    return NF_OK;
}

static nf_status alloc_buffers(nf_dataset *ds) {
    const nf_h5_plan *p = &ds->plan;
    size_t gs = (size_t)p->group_samples, gb = (size_t)p->group_blocks;
    ds->xbuf = nf_alloc(gs * ds->x.sample_bytes);
    ds->cbuf = ds->has_cond ? nf_alloc(gs * ds->cond.sample_bytes) : NULL;
    ds->order = nf_alloc(gs * sizeof(long long));
    ds->blocks = nf_alloc(gb * sizeof(long long));
    ds->first = nf_alloc(gb * sizeof(long long));
    ds->len = nf_alloc(gb * sizeof(long long));
    if (!ds->xbuf || (ds->has_cond && !ds->cbuf) || !ds->order || !ds->blocks || !ds->first || !ds->len)
        return nf_fail(NF_ERR_NOMEM, "%s: out of memory for a read buffer of %lld samples", ds->x.name,
                       p->group_samples);
    ds->loaded_epoch = ds->loaded_group = -1;
    return NF_OK;
}

/* Chooses the statistics float data is normalised by. */
static nf_status setup_normalisation(nf_dataset *ds, const nf_dataset_options *o) {
    nf_preprocess *pre = &ds->pre;
    int C = pre->c;
    nf_norm_mode mode = o->normalize;
    if (ds->x.is_integer) {
        if (mode == NF_NORM_AUTO || mode == NF_NORM_NONE) return NF_OK;
        return nf_fail(NF_ERR_ARG, "%s holds integers, which are scaled by their bit depth; normalize must be AUTO or NONE",
                       ds->x.name);
    }
    if (mode == NF_NORM_NONE) return NF_OK;
    if (mode == NF_NORM_AUTO || mode == NF_NORM_STORED) {
        int has_mean = nf_h5_read_double_attr(ds->x.dset, "nflow_mean", pre->mean, (size_t)C);
        int has_std = has_mean < 0 ? -1 : nf_h5_read_double_attr(ds->x.dset, "nflow_std", pre->std, (size_t)C);
        if (has_mean < 0 || has_std < 0) return nf_h5_source_failed(&ds->x, NF_ERR_FORMAT);
        if (!has_mean || !has_std) {
            for (int c = 0; c < C; c++) pre->mean[c] = 0, pre->std[c] = 1;
            if (mode == NF_NORM_AUTO) return NF_OK;
            return nf_fail(NF_ERR_FORMAT, "%s has no nflow_mean/nflow_std attributes (NF_NORM_STORED)", ds->x.name);
        }
    } else if (mode == NF_NORM_COMPUTE) {
        NF_TRY(nf_h5_reader_stats(ds, pre->mean, pre->std));
    } else {
        memcpy(pre->mean, o->mean, (size_t)C * sizeof(double));
        memcpy(pre->std, o->std, (size_t)C * sizeof(double));
    }
    for (int c = 0; c < C; c++)
        if (!(pre->std[c] > 0) || !isfinite(pre->std[c]) || !isfinite(pre->mean[c]))
            return nf_fail(NF_ERR_FORMAT, "%s: channel %d has mean %g, std %g; std must be positive and finite",
                           ds->x.name, c, pre->mean[c], pre->std[c]);
    pre->normalize = 1;
    return NF_OK;
}

static nf_status open_all(nf_dataset *ds, const h5_input *file, const char *path, const nf_dataset_options *o) {
    NF_TRY(nf_h5_source_open(&ds->x, file, path, NF_H5_DATA, o->layout));
    if (ds->x.n == 0) return nf_fail(NF_ERR_FORMAT, "%s is empty (0 samples)", ds->x.name);
    if (o->start >= ds->x.n)
        return nf_fail(NF_ERR_ARG, "%s: range start %lld is past its %lld samples", ds->x.name, o->start, ds->x.n);
    ds->start = o->start;
    ds->count = o->count ? o->count : ds->x.n - o->start;
    if (ds->start + ds->count > ds->x.n)
        return nf_fail(NF_ERR_ARG, "%s: range [%lld, %lld) runs past its %lld samples", ds->x.name, ds->start,
                       ds->start + ds->count, ds->x.n);
    if (o->cond) NF_TRY(open_cond(ds, file, o->cond));
    ds->batch = o->batch ? o->batch : DEFAULT_BATCH;
    ds->dequantize = o->dequantize;
    size_t budget = o->memory_budget ? o->memory_budget : DEFAULT_BUDGET;
    size_t bytes = ds->x.sample_bytes + (ds->has_cond ? ds->cond.sample_bytes : 0);
    nf_status st = nf_h5_plan_init(&ds->plan, ds->count, ds->x.chunk_n, bytes, budget, o->shuffle, o->seed);
    if (st != NF_OK) return nf_h5_source_failed(&ds->x, st);
    NF_TRY(alloc_buffers(ds));
    NF_TRY(nf_preprocess_init(&ds->pre, ds->x.is_integer, ds->x.bits, ds->x.elem == NF_H5_I16, ds->x.sample.c,
                              ds->x.sample_elems / (size_t)ds->x.sample.c));
    NF_TRY(setup_normalisation(ds, o));
#ifdef H5_HAVE_THREADSAFE /* otherwise HDF5 must only be called from one thread: read inline */
    if (o->prefetch) NF_TRY(nf_h5_prefetch_start(ds));
#endif
    return NF_OK;
}

/* spec: "file.h5:/path" when file is NULL, else the dataset's path in file. */
static nf_status dataset_open(nf_dataset **out, const h5_input *file, const char *spec,
                              const nf_dataset_options *opt) {
    *out = NULL;
    nf_dataset_options o = opt ? *opt : nf_dataset_options_default();
    NF_TRY(check_options(&o));
    char name[4096];
    const char *path = spec;
    h5_input in = file ? *file : (h5_input){name, NULL, 0};
    if (!file) NF_TRY(named(nf_h5_split_spec(spec, name, sizeof name, &path), "nf_dataset_open"));
    nf_dataset *ds = nf_calloc(1, sizeof *ds);
    if (!ds) return nf_fail(NF_ERR_NOMEM, "nf_dataset_open: out of memory");
    ds->x.file = ds->x.dset = ds->cond.file = ds->cond.dset = H5I_INVALID_HID;
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st = named(open_all(ds, &in, path, &o), "nf_dataset_open");
    if (st != NF_OK) nf_dataset_close(ds);
    else *out = ds;
    nf_h5_quiet_end(&q);
    return st;
}

nf_status nf_dataset_open(nf_dataset **out, const char *spec, const nf_dataset_options *opt) {
    NF_CHECK_NULL(out);
    *out = NULL;
    NF_CHECK_NULL(spec);
    return dataset_open(out, NULL, spec, opt);
}

nf_status nf_dataset_open_image(nf_dataset **out, const void *data, size_t size, const char *path,
                                const nf_dataset_options *opt) {
    NF_CHECK_NULL(out);
    *out = NULL;
    NF_CHECK_NULL(data);
    NF_CHECK_NULL(path);
    return dataset_open(out, &(h5_input){NF_IMAGE_NAME, data, size}, path, opt);
}

void nf_dataset_close(nf_dataset *ds) {
    if (!ds) return;
    nf_h5_prefetch_stop(ds->pf);
    nf_free(ds->dcbuf);
    nf_free(ds->dxbuf);
    nf_preprocess_free(&ds->pre);
    nf_free(ds->len);
    nf_free(ds->first);
    nf_free(ds->blocks);
    nf_free(ds->order);
    nf_free(ds->cbuf);
    nf_free(ds->xbuf);
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_h5_source_close(&ds->cond);
    nf_h5_source_close(&ds->x);
    nf_h5_quiet_end(&q);
    nf_free(ds);
}

const char *nf_dataset_layout(const nf_dataset *ds, const char **note) {
    if (note) *note = ds && ds->x.layout_note[0] ? ds->x.layout_note : NULL;
    return ds ? ds->x.layout.axes : "";
}

nf_shape nf_dataset_shape(const nf_dataset *ds) {
    nf_shape s = {0};
    if (!ds) return s;
    s = ds->x.sample;
    s.n = ds->batch;
    return s;
}

nf_shape nf_dataset_cond_shape(const nf_dataset *ds) {
    nf_shape s = {0};
    if (!ds || !ds->has_cond) return s;
    s = ds->cond.sample;
    s.n = ds->batch;
    return s;
}

long long nf_dataset_size(const nf_dataset *ds) { return ds ? ds->count : 0; }
uint64_t nf_dataset_position(const nf_dataset *ds) { return ds ? ds->position : 0; }
long long nf_dataset_epoch(const nf_dataset *ds) { return ds ? (long long)(ds->position / (uint64_t)ds->count) : 0; }

nf_status nf_dataset_seek(nf_dataset *ds, uint64_t position) {
    NF_CHECK_NULL(ds);
    ds->position = position; /* the prefetch thread is redirected by the next take */
    return NF_OK;
}

/* t must be (n, c, d, h, w) of the source's samples; n = want_n unless want_n is 0. */
static nf_status check_tensor(const nf_tensor *t, const nf_h5_source *s, int want_n, const char *fn) {
    nf_shape e = s->sample;
    if (!t->data || t->n < 1 || (want_n && t->n != want_n) || t->c != e.c || t->d != e.d || t->h != e.h ||
        t->w != e.w)
        return nf_fail(NF_ERR_SHAPE, "%s: tensor (%d, %d, %d, %d, %d) does not fit %s, expected (%d, %d, %d, %d, %d)",
                       fn, t->n, t->c, t->d, t->h, t->w, s->name, want_n ? want_n : t->n, e.c, e.d, e.h, e.w);
    return NF_OK;
}

static nf_status check_rng(const nf_dataset *ds, const nf_rng *rng, const char *fn) {
    if (ds->dequantize && ds->pre.integer && !rng)
        return nf_fail(NF_ERR_ARG, "%s: dequantising %s needs an rng", fn, ds->x.name);
    return NF_OK;
}

nf_status nf_dataset_next_batch(nf_dataset *ds, nf_tensor *x, nf_tensor *cond, nf_rng *rng) {
    NF_CHECK_NULL(ds);
    NF_CHECK_NULL(x);
    NF_TRY(check_tensor(x, &ds->x, ds->batch, __func__));
    nf_real *c = cond && ds->has_cond ? cond->data : NULL;
    if (c) NF_TRY(check_tensor(cond, &ds->cond, ds->batch, __func__));
    NF_TRY(check_rng(ds, rng, __func__));
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st = ds->pf ? nf_h5_prefetch_take(ds->pf, ds->position, x->data, c)
                          : nf_h5_reader_fill(ds, ds->position, x->data, c);
    nf_h5_quiet_end(&q);
    if (st != NF_OK) return named(st, __func__);
    nf_preprocess_dequantize(&ds->pre, x->data, nf_tensor_count(x), ds->dequantize ? rng : NULL);
    ds->position += (uint64_t)ds->batch;
    return NF_OK;
}

/* Grows the direct-read buffers to n samples. */
static nf_status reserve_direct(nf_dataset *ds, long long n) {
    if (n <= ds->dcap) return NF_OK;
    nf_free(ds->dxbuf);
    nf_free(ds->dcbuf);
    ds->dcap = 0;
    ds->dxbuf = nf_alloc((size_t)n * ds->x.sample_bytes);
    ds->dcbuf = ds->has_cond ? nf_alloc((size_t)n * ds->cond.sample_bytes) : NULL;
    if (!ds->dxbuf || (ds->has_cond && !ds->dcbuf))
        return nf_fail(NF_ERR_NOMEM, "nf_dataset_read: out of memory for %lld samples", n);
    ds->dcap = n;
    return NF_OK;
}

static nf_status read_direct(nf_dataset *ds, long long first, long long n, nf_real *x, nf_real *c) {
    NF_TRY(reserve_direct(ds, n));
    NF_TRY(nf_h5_source_read(&ds->x, &first, &n, 1, ds->dxbuf));
    if (c) NF_TRY(nf_h5_source_read(&ds->cond, &first, &n, 1, ds->dcbuf));
    for (long long k = 0; k < n; k++)
        NF_TRY(nf_h5_deliver(ds, ds->dxbuf, ds->dcbuf, (size_t)k, first + k, x + (size_t)k * ds->x.sample_elems,
                             c ? c + (size_t)k * ds->cond.sample_elems : NULL));
    return NF_OK;
}

nf_status nf_dataset_read(nf_dataset *ds, long long index, nf_tensor *x, nf_tensor *cond, nf_rng *rng) {
    NF_CHECK_NULL(ds);
    NF_CHECK_NULL(x);
    NF_TRY(check_tensor(x, &ds->x, 0, __func__));
    nf_real *c = cond && ds->has_cond ? cond->data : NULL;
    if (c) NF_TRY(check_tensor(cond, &ds->cond, x->n, __func__));
    if (index < 0 || index + x->n > ds->count)
        return nf_fail(NF_ERR_ARG, "nf_dataset_read: samples [%lld, %lld) are outside the range of %lld", index,
                       index + x->n, ds->count);
    NF_TRY(check_rng(ds, rng, __func__));
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st = read_direct(ds, ds->start + index, x->n, x->data, c);
    nf_h5_quiet_end(&q);
    if (st != NF_OK) return named(st, __func__);
    nf_preprocess_dequantize(&ds->pre, x->data, nf_tensor_count(x), ds->dequantize ? rng : NULL);
    return NF_OK;
}

nf_status nf_dataset_stats(const nf_dataset *ds, double *mean, double *std) {
    NF_CHECK_NULL(ds);
    NF_CHECK_NULL(mean);
    NF_CHECK_NULL(std);
    memcpy(mean, ds->pre.mean, (size_t)ds->pre.c * sizeof(double));
    memcpy(std, ds->pre.std, (size_t)ds->pre.c * sizeof(double));
    return NF_OK;
}

double nf_dataset_nll_offset(const nf_dataset *ds) { return ds ? nf_preprocess_nll_offset(&ds->pre) : 0.0; }

nf_status nf_dataset_denormalize(const nf_dataset *ds, nf_tensor *x) {
    NF_CHECK_NULL(ds);
    NF_CHECK_NULL(x);
    NF_TRY(check_tensor(x, &ds->x, 0, __func__));
    nf_preprocess_invert(&ds->pre, x->data, (size_t)x->n);
    return NF_OK;
}
