/* The nf_dataset object shared by h5_dataset.c (the public calls), h5_reader.c (groups
 * of blocks through the read buffer into batches) and h5_prefetch.c (the thread that
 * fills the next batch). Internal, not installed. */
#ifndef NF_H5_DATASET_H
#define NF_H5_DATASET_H

#include "io/h5_preprocess.h"
#include "io/h5_shuffle.h"
#include "io/h5_source.h"

typedef struct nf_h5_prefetch nf_h5_prefetch;

struct nf_dataset {
    nf_h5_source x;          /* the data */
    nf_h5_source cond;       /* conditioning data; cond.dset < 0 when none */
    int has_cond;
    long long start, count;  /* the range */
    int batch;
    int dequantize;
    nf_h5_plan plan;
    nf_preprocess pre;
    uint64_t position;       /* samples delivered so far */

    /* the read buffer: one group of blocks, owned by the reader (the prefetch thread
     * when there is one) */
    void *xbuf;              /* (group_samples, x.sample_bytes) */
    void *cbuf;              /* (group_samples, cond.sample_bytes) or NULL */
    long long *order;        /* (group_samples) delivery order -> buffer position */
    long long *blocks;       /* (group_blocks) the loaded group's blocks, ascending */
    long long *first, *len;  /* (group_blocks) their absolute sample runs */
    long long loaded_epoch, loaded_group; /* -1 when nothing is loaded */

    /* nf_dataset_read's own buffers, grown on demand (caller's thread) */
    void *dxbuf, *dcbuf;
    long long dcap;          /* samples they hold */

    nf_h5_prefetch *pf;      /* NULL: batches are read on the caller's thread */
};

/* Sample k of the buffers xbuf/cbuf (row: its row in the file, for messages) into x
 * (c, d, h, w) and, if c is not NULL, the conditioning sample: stage-one pre-processing. */
nf_status nf_h5_deliver(const nf_dataset *ds, const void *xbuf, const void *cbuf, size_t k, long long row, nf_real *x,
                        nf_real *c);
/* Reads the batch at stream position pos into x (batch, c, d, h, w) and, if c is not NULL,
 * cond (batch, cond sample): stage-one pre-processing only (levels, not yet dequantised).
 * Loads groups through the read buffer as needed. Thread: the reader's. */
nf_status nf_h5_reader_fill(nf_dataset *ds, uint64_t pos, nf_real *x, nf_real *c);
/* Per-channel statistics of the range, in one streamed pass through the read buffer. */
nf_status nf_h5_reader_stats(nf_dataset *ds, double *mean, double *std);

/* Starts the prefetch thread, which begins filling the batch at ds->position. */
nf_status nf_h5_prefetch_start(nf_dataset *ds);
/* Waits for the batch at pos (asking for it if the thread is busy elsewhere), copies it
 * into x and c (c may be NULL) and asks for the following one. */
nf_status nf_h5_prefetch_take(nf_h5_prefetch *pf, uint64_t pos, nf_real *x, nf_real *c);
/* Stops and joins the thread, frees its slot. NULL is ignored. */
void nf_h5_prefetch_stop(nf_h5_prefetch *pf);

#endif
