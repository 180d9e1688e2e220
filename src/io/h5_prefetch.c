/* The prefetch thread: while the caller trains on batch k, it reads batch k+1 into a
 * slot. A batch is a function of its stream position only, so the thread's timing never
 * changes what the caller gets; a request counter tells a stale slot (after a seek) from
 * the one asked for. */
#include "io/h5_dataset.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct nf_h5_prefetch {
    nf_dataset *ds;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;     /* the caller asked for something */
    pthread_cond_t done;     /* the slot was filled */
    nf_real *x;              /* (batch, x sample) the slot */
    nf_real *c;              /* (batch, cond sample) or NULL */
    uint64_t want;           /* stream position asked for */
    unsigned long asked;     /* requests made */
    unsigned long filled;    /* the request the slot answers */
    nf_status status;        /* of that fill */
    char msg[512];
    int quit;
};

static void *worker(void *arg) {
    nf_h5_prefetch *pf = arg;
    nf_h5_quiet q; /* HDF5's error printing is per thread */
    nf_h5_quiet_begin(&q);
    pthread_mutex_lock(&pf->mu);
    for (;;) {
        while (!pf->quit && pf->filled == pf->asked) pthread_cond_wait(&pf->work, &pf->mu);
        if (pf->quit) break;
        unsigned long req = pf->asked;
        uint64_t pos = pf->want;
        pthread_mutex_unlock(&pf->mu);
        nf_status st = nf_h5_reader_fill(pf->ds, pos, pf->x, pf->c);
        pthread_mutex_lock(&pf->mu);
        pf->status = st;
        snprintf(pf->msg, sizeof pf->msg, "%s", st == NF_OK ? "" : nf_last_error());
        pf->filled = req;
        pthread_cond_broadcast(&pf->done);
    }
    pthread_mutex_unlock(&pf->mu);
    nf_h5_quiet_end(&q);
    return NULL;
}

/* Frees what start made, the thread being gone (or never started). */
static void destroy(nf_h5_prefetch *pf) {
    pthread_cond_destroy(&pf->done);
    pthread_cond_destroy(&pf->work);
    pthread_mutex_destroy(&pf->mu);
    nf_free(pf->x);
    nf_free(pf->c);
    nf_free(pf);
}

nf_status nf_h5_prefetch_start(nf_dataset *ds) {
    nf_h5_prefetch *pf = nf_calloc(1, sizeof *pf);
    size_t nx = (size_t)ds->batch * ds->x.sample_elems;
    size_t nc = ds->has_cond ? (size_t)ds->batch * ds->cond.sample_elems : 0;
    if (!pf) return nf_fail(NF_ERR_NOMEM, "%s: out of memory for the prefetch slot", ds->x.name);
    pf->ds = ds;
    pf->x = nf_alloc(nx * sizeof(nf_real));
    pf->c = nc ? nf_alloc(nc * sizeof(nf_real)) : NULL;
    if (!pf->x || (nc && !pf->c)) {
        nf_free(pf->x);
        nf_free(pf->c);
        nf_free(pf);
        return nf_fail(NF_ERR_NOMEM, "%s: out of memory for the prefetch slot", ds->x.name);
    }
    pthread_mutex_init(&pf->mu, NULL);
    pthread_cond_init(&pf->work, NULL);
    pthread_cond_init(&pf->done, NULL);
    pf->want = ds->position;
    pf->asked = 1; /* start reading the first batch at once */
    if (pthread_create(&pf->thread, NULL, worker, pf) != 0) {
        destroy(pf);
        return nf_fail(NF_ERR_STATE, "%s: cannot start the prefetch thread", ds->x.name);
    }
    ds->pf = pf;
    return NF_OK;
}

nf_status nf_h5_prefetch_take(nf_h5_prefetch *pf, uint64_t pos, nf_real *x, nf_real *c) {
    const nf_dataset *ds = pf->ds;
    char msg[sizeof pf->msg];
    pthread_mutex_lock(&pf->mu);
    if (pf->want != pos) { /* after a seek: the slot holds (or will hold) something else */
        pf->want = pos;
        pf->asked++;
        pthread_cond_signal(&pf->work);
    }
    while (pf->filled != pf->asked) pthread_cond_wait(&pf->done, &pf->mu);
    nf_status st = pf->status;
    if (st == NF_OK) {
        memcpy(x, pf->x, (size_t)ds->batch * ds->x.sample_elems * sizeof(nf_real));
        if (c && pf->c) memcpy(c, pf->c, (size_t)ds->batch * ds->cond.sample_elems * sizeof(nf_real));
        pf->want = pos + (uint64_t)ds->batch;
        pf->asked++;
        pthread_cond_signal(&pf->work);
    } else {
        memcpy(msg, pf->msg, sizeof msg); /* a failed position stays failed until a seek */
    }
    pthread_mutex_unlock(&pf->mu);
    return st == NF_OK ? NF_OK : nf_fail(st, "%s", msg);
}

void nf_h5_prefetch_stop(nf_h5_prefetch *pf) {
    if (!pf) return;
    pthread_mutex_lock(&pf->mu);
    pf->quit = 1;
    pthread_cond_signal(&pf->work);
    pthread_mutex_unlock(&pf->mu);
    pthread_join(pf->thread, NULL);
    destroy(pf);
}
