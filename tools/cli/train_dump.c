/* --dump DIR: what a re-implementation of the model elsewhere (tools/torch/glow_fm.py)
 * needs to train it from the same start on the same data and to evaluate it on the same
 * samples: the model as built (before ActNorm's data-dependent initialisation, which the
 * first step's batch does), every batch a step was taken on, and the validation samples
 * with the dequantisation noise every validation of this run draws. Raw float32 files in
 * the machine's byte order, (n, c, d, h, w) samples one after the other. */
#include "train_internal.h"

#include "cli.h"

#include <errno.h>
#include <string.h>

/* The validation samples as nf_trainer_validate reads them, one batch at a time. */
static int write_val(train_run_state *r, const char *path) {
    nf_eval_source src = data_eval_source(&r->val, r->c->batch, r->c->val_size);
    nf_shape s = r->train.shape;
    nf_tensor x;
    int n = src.count < src.batch ? (int)src.count : src.batch;
    if (nf_tensor_alloc(&x, n, s.c, s.d, s.h, s.w) != NF_OK) return cli_nf_error(NF_ERR_NOMEM, "train", "--dump");
    FILE *f = fopen(path, "wb");
    int rc = f ? CLI_OK : cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s: %s", path, strerror(errno));
    for (long long i = 0; rc == CLI_OK && i < src.count; i += n) {
        x.n = (int)(src.count - i < n ? src.count - i : n);
        nf_status st = src.read(src.user, i, &x, NULL);
        if (st != NF_OK) rc = cli_nf_error(st, "train", "--dump: reading the validation samples");
        else if (fwrite(x.data, sizeof(nf_real), nf_tensor_count(&x), f) != nf_tensor_count(&x))
            rc = cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s: %s", path, strerror(errno));
    }
    if (f && fclose(f) != 0 && rc == CLI_OK)
        rc = cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s: %s", path, strerror(errno));
    nf_tensor_free(&x);
    return rc;
}

static int write_json(train_run_state *r, const char *path) {
    nf_shape s = r->train.shape;
    long long nval = r->have_val ? data_eval_source(&r->val, r->c->batch, r->c->val_size).count : 0;
    FILE *f = fopen(path, "w");
    if (!f) return cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s: %s", path, strerror(errno));
    fprintf(f,
            "{\"sample_shape\": [%d, %d, %d, %d], \"batch\": %d, \"steps\": %ld, \"val_samples\": %lld, "
            "\"nll_offset\": %.17g, \"dtype\": \"float%d\"}\n",
            s.c, s.d, s.h, s.w, s.n, r->total, nval, r->train.nll_offset, (int)(8 * sizeof(nf_real)));
    return fclose(f) == 0 ? CLI_OK : cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s: %s", path, strerror(errno));
}

int train_dump_start(train_run_state *r) {
    const char *dir = r->c->dump;
    if (!dir) return CLI_OK;
    if (r->ranks.size > 1)
        return cli_error(CLI_USAGE, "train", "--dump writes one process's batches: not under MPI (%d ranks)",
                         r->ranks.size);
    char path[4200];
    int rc = cli_mkdirs("train", dir);
    if (rc != CLI_OK) return rc;
    nf_status s = nf_model_save(r->f, cli_path(path, sizeof path, dir, "init.h5"));
    if (s != NF_OK) return cli_error(CLI_RUNTIME, "train", "--dump: writing %s: %s", path, nf_last_error());
    if (r->have_val && (rc = write_val(r, cli_path(path, sizeof path, dir, "val.f32"))) != CLI_OK) return rc;
    if ((rc = write_json(r, cli_path(path, sizeof path, dir, "dump.json"))) != CLI_OK) return rc;
    r->dump = fopen(cli_path(path, sizeof path, dir, "batches.f32"), "wb");
    if (!r->dump) return cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s: %s", path, strerror(errno));
    return CLI_OK;
}

int train_dump_batch(train_run_state *r) {
    if (!r->dump) return CLI_OK;
    double t = cli_now();
    size_t n = nf_tensor_count(&r->x);
    if (fwrite(r->x.data, sizeof(nf_real), n, r->dump) != n)
        return cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s/batches.f32: %s", r->c->dump, strerror(errno));
    r->dumped++;
    r->dump_s += cli_now() - t;
    return CLI_OK;
}

int train_dump_finish(train_run_state *r) {
    if (!r->dump) return CLI_OK;
    double t = cli_now();
    int bad = fclose(r->dump) != 0;
    r->dump = NULL;
    r->dump_s += cli_now() - t;
    if (bad) return cli_error(CLI_RUNTIME, "train", "--dump: cannot write %s/batches.f32: %s", r->c->dump, strerror(errno));
    printf("dump: %ld batches (%.1f MiB) in %s/batches.f32, %.3f s of writing (in time_s)\n", r->dumped,
           (double)r->dumped * (double)nf_tensor_count(&r->x) * sizeof(nf_real) / (1 << 20), r->c->dump, r->dump_s);
    return CLI_OK;
}
