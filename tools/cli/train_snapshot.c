/* In-memory copies of the parameters and Adam moments: the "last good state" a run
 * rolls back to when the loss becomes NaN/Inf. */
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>

int snapshot_init(cli_snapshot *s, size_t count) {
    memset(s, 0, sizeof *s);
    s->count = count;
    s->value = malloc(sizeof(nf_real) * count);
    s->m = malloc(sizeof(nf_real) * count);
    s->v = malloc(sizeof(nf_real) * count);
    if (!s->value || !s->m || !s->v) {
        snapshot_free(s);
        return -1;
    }
    return 0;
}

void snapshot_free(cli_snapshot *s) {
    free(s->value);
    free(s->m);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void snapshot_take(cli_snapshot *s, const nf_flow *f, const nf_adam *opt, long step) {
    size_t bytes = sizeof(nf_real) * s->count;
    memcpy(s->value, f->params.value, bytes);
    memcpy(s->m, opt->m, bytes);
    memcpy(s->v, opt->v, bytes);
    s->adam_step = opt->step;
    s->step = step;
    s->valid = 1;
}

void snapshot_restore(const cli_snapshot *s, nf_flow *f, nf_adam *opt) {
    size_t bytes = sizeof(nf_real) * s->count;
    memcpy(f->params.value, s->value, bytes);
    memcpy(opt->m, s->m, bytes);
    memcpy(opt->v, s->v, bytes);
    opt->step = s->adam_step;
}

void snapshot_swap(cli_snapshot *a, cli_snapshot *b) {
    cli_snapshot t = *a;
    *a = *b;
    *b = t;
}
