/* The reader: loads one group of blocks at a time into the read buffer (a hyperslab read
 * per block) and hands out its samples in the group's shuffled order. Runs on the
 * prefetch thread when there is one, else on the caller's. */
#include "io/h5_dataset.h"

static nf_status load_group(nf_dataset *ds, long long epoch, long long g) {
    const nf_h5_plan *p = &ds->plan;
    int nb = nf_h5_plan_group(p, epoch, g, ds->blocks);
    long long n = 0;
    for (int i = 0; i < nb; i++) {
        ds->first[i] = ds->start + ds->blocks[i] * p->block;
        ds->len[i] = nf_h5_plan_block_len(p, ds->blocks[i]);
        n += ds->len[i];
    }
    ds->loaded_epoch = ds->loaded_group = -1; /* the buffer is in flux until both reads succeed */
    NF_TRY(nf_h5_source_read(&ds->x, ds->first, ds->len, nb, ds->xbuf));
    if (ds->has_cond) NF_TRY(nf_h5_source_read(&ds->cond, ds->first, ds->len, nb, ds->cbuf));
    nf_h5_plan_order(p, epoch, g, n, ds->order);
    ds->loaded_epoch = epoch;
    ds->loaded_group = g;
    return NF_OK;
}

/* Row in the HDF5 dataset of buffer position k: blocks sit in ascending order and all
 * but the last are full. */
static long long index_at(const nf_dataset *ds, long long k) {
    return ds->first[k / ds->plan.block] + k % ds->plan.block;
}

nf_status nf_h5_deliver(const nf_dataset *ds, const void *xbuf, const void *cbuf, size_t k, long long row, nf_real *x,
                        nf_real *c) {
    nf_h5_source_sample(&ds->x, xbuf, k, x);
    NF_TRY(nf_preprocess_sample(&ds->pre, x, row, ds->x.name));
    if (!c || !ds->has_cond) return NF_OK;
    nf_h5_source_sample(&ds->cond, cbuf, k, c);
    return nf_check_finite(c, ds->cond.sample_elems, row, ds->cond.name); /* a condition is never normalised */
}

nf_status nf_h5_reader_fill(nf_dataset *ds, uint64_t pos, nf_real *x, nf_real *c) {
    const nf_h5_plan *p = &ds->plan;
    size_t ex = ds->x.sample_elems, ec = ds->has_cond ? ds->cond.sample_elems : 0;
    for (int i = 0; i < ds->batch; i++) {
        uint64_t q = pos + (uint64_t)i;
        long long epoch = (long long)(q / (uint64_t)p->count), off = (long long)(q % (uint64_t)p->count), gstart;
        long long g = nf_h5_plan_group_of(p, off, &gstart);
        if (epoch != ds->loaded_epoch || g != ds->loaded_group) NF_TRY(load_group(ds, epoch, g));
        long long k = ds->order[off - gstart];
        NF_TRY(nf_h5_deliver(ds, ds->xbuf, ds->cbuf, (size_t)k, index_at(ds, k), x + (size_t)i * ex,
                             c ? c + (size_t)i * ec : NULL));
    }
    return NF_OK;
}

nf_status nf_h5_reader_stats(nf_dataset *ds, double *mean, double *std) {
    nf_status st = NF_OK;
    nf_chan_stats acc;
    NF_TRY(nf_chan_stats_init(&acc, ds->x.sample.c));
    nf_real *tmp = nf_alloc(ds->x.sample_elems * sizeof(nf_real)); /* (c, d, h, w) one sample */
    if (!tmp) {
        nf_chan_stats_free(&acc);
        return nf_fail(NF_ERR_NOMEM, "%s: out of memory for statistics", ds->x.name);
    }
    ds->loaded_epoch = ds->loaded_group = -1; /* the pass overwrites the read buffer */
    size_t s = ds->x.sample_elems / (size_t)ds->x.sample.c;
    for (long long off = 0; off < ds->count && st == NF_OK; off += ds->plan.group_samples) {
        long long first = ds->start + off, len = ds->count - off;
        if (len > ds->plan.group_samples) len = ds->plan.group_samples;
        st = nf_h5_source_read(&ds->x, &first, &len, 1, ds->xbuf);
        for (long long k = 0; k < len && st == NF_OK; k++) {
            nf_h5_source_sample(&ds->x, ds->xbuf, (size_t)k, tmp);
            st = nf_preprocess_sample(&ds->pre, tmp, first + k, ds->x.name); /* finite check */
            if (st == NF_OK) nf_chan_stats_add(&acc, tmp, s);
        }
    }
    if (st == NF_OK) nf_chan_stats_result(&acc, mean, std);
    nf_free(tmp);
    nf_chan_stats_free(&acc);
    return st;
}
