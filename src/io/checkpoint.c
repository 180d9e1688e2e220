/* Checkpoints: a model file (format "nflow-checkpoint") plus the group "optimizer"
 * (written and read by the optimiser itself: nf_adam_save_state) and the
 * group "train_state" (epoch, iteration, data-order position, RNG state): everything a
 * training loop needs to continue bit for bit where it stopped. */
#include "io/load_image.h"
#include "io/model_file.h"
#include "io/model_kinds.h" /* struct nf_model_attrs */

#include <limits.h>
#include <math.h>
#include <string.h>

typedef struct checkpoint_parts {
    const nf_flow *flow;
    const nf_adam *opt;
    const nf_train_state *state;
} checkpoint_parts;

/* ---------------------------------------------------------------- write */

/* The optimiser writes its own state into the group "optimizer". */
static nf_status write_optimizer(hid_t file, const nf_adam *a, size_t count) {
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    NF_H5_TRY(model_group_create(file, "optimizer", &g));
    st = nf_adam_save_state(a, count, &(nf_model_attrs){g, "optimizer"});
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

static nf_status write_state(hid_t file, const nf_train_state *s) {
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    NF_H5_TRY(model_group_create(file, "train_state", &g));
    NF_H5_TRY(model_attr_put_i64(g, "epoch", s->epoch));
    NF_H5_TRY(model_attr_put_i64(g, "iteration", s->iteration));
    NF_H5_TRY(model_attr_put_i64(g, "ndata_pos", s->ndata_pos));
    NF_H5_TRY(model_attr_put_u64v(g, "data_pos", s->data_pos, NF_DATA_POS_MAX));
    NF_H5_TRY(model_attr_put_u64v(g, "rng_state", s->rng.s, 4));
    if (s->has_trainer) {
        const nf_trainer_state *t = &s->trainer;
        NF_H5_TRY(model_attr_put_f64(g, "lr_scale", t->lr_scale));
        NF_H5_TRY(model_attr_put_i64(g, "rollbacks", t->rollbacks));
        NF_H5_TRY(model_attr_put_i64(g, "calm_steps", t->calm));
        NF_H5_TRY(model_attr_put_i64(g, "recover_period", t->period));
        NF_H5_TRY(model_attr_put_i64(g, "recovered", t->recovered));
        NF_H5_TRY(model_attr_put_i64(g, "recomputed", t->recomputed));
        NF_H5_TRY(model_attr_put_f64(g, "loss_watch_rise", t->watch.rise));
        NF_H5_TRY(model_attr_put_f64(g, "loss_watch_level", t->watch.level));
        NF_H5_TRY(model_attr_put_f64(g, "loss_watch_spread", t->watch.spread));
        NF_H5_TRY(model_attr_put_i64(g, "loss_watch_seen", t->watch.seen));
        NF_H5_TRY(model_attr_put_f64(g, "clip_level", t->clip_level));
        NF_H5_TRY(model_attr_put_i64(g, "clip_seen", t->clip_seen));
    }
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

static nf_status write_checkpoint(hid_t file, const void *arg) {
    const checkpoint_parts *p = arg;
    NF_TRY(model_write(file, p->flow, MODEL_FORMAT_CHECKPOINT));
    NF_TRY(write_optimizer(file, p->opt, p->flow->params.count));
    return write_state(file, p->state);
}

nf_status nf_checkpoint_save(const nf_flow *f, const nf_adam *opt, const nf_train_state *st, const char *path) {
    if (!f || !f->ops || !opt || !st || !path)
        return nf_fail(NF_ERR_ARG, "nf_checkpoint_save: flow, optimiser, state or path is NULL");
    if (st->ndata_pos < 0 || st->ndata_pos > NF_DATA_POS_MAX)
        return nf_fail(NF_ERR_ARG, "nf_checkpoint_save('%s'): ndata_pos = %d, expected 0..%d", path, st->ndata_pos,
                       NF_DATA_POS_MAX);
    checkpoint_parts parts = {f, opt, st};
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status s = model_file_write(path, write_checkpoint, &parts);
    nf_h5_quiet_end(&q);
    return s == NF_OK ? s : model_h5_prefix(s, "nf_checkpoint_save", path);
}

/* ---------------------------------------------------------------- read */

/* The optimiser reads its own state (for count parameters) from the group "optimizer";
 * opt is initialised there (freed by the caller on failure as well: nf_adam_free is safe
 * on a half-filled one). */
static nf_status read_optimizer(hid_t file, nf_adam *a, size_t count) {
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    NF_H5_TRY(model_group_open(file, "optimizer", "checkpoint", &g));
    st = nf_adam_load_state(a, count, &(nf_model_attrs){g, "optimizer"});
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

static nf_status read_state(hid_t file, nf_train_state *s) {
    nf_status st = NF_OK;
    hid_t g = H5I_INVALID_HID;
    long long epoch, iteration, ndata;
    nf_train_state t = {0};
    NF_H5_TRY(model_group_open(file, "train_state", "checkpoint", &g));
    NF_H5_TRY(model_attr_get_i64(g, "epoch", &epoch));
    NF_H5_TRY(model_attr_get_i64(g, "iteration", &iteration));
    NF_H5_TRY(model_attr_get_i64(g, "ndata_pos", &ndata));
    NF_H5_TRY(model_attr_get_u64v(g, "data_pos", t.data_pos, NF_DATA_POS_MAX));
    NF_H5_TRY(model_attr_get_u64v(g, "rng_state", t.rng.s, 4));
    if (ndata < 0 || ndata > NF_DATA_POS_MAX || epoch < 0 || iteration < 0) {
        st = nf_fail(NF_ERR_FORMAT, "train_state: impossible epoch %lld, iteration %lld or ndata_pos %lld", epoch,
                     iteration, ndata);
        goto cleanup;
    }
    t.epoch = (long)epoch, t.iteration = (long)iteration, t.ndata_pos = (int)ndata;
    t.has_trainer = model_attr_exists(g, "lr_scale") > 0;
    if (t.has_trainer) {
        nf_trainer_state *r = &t.trainer;
        long long rollbacks, recomputed, seen;
        NF_H5_TRY(model_attr_get_f64(g, "lr_scale", &r->lr_scale));
        NF_H5_TRY(model_attr_get_i64(g, "rollbacks", &rollbacks));
        NF_H5_TRY(model_attr_get_i64(g, "recomputed", &recomputed));
        NF_H5_TRY(model_attr_get_f64(g, "loss_watch_rise", &r->watch.rise));
        NF_H5_TRY(model_attr_get_f64(g, "loss_watch_level", &r->watch.level));
        NF_H5_TRY(model_attr_get_f64(g, "loss_watch_spread", &r->watch.spread));
        NF_H5_TRY(model_attr_get_i64(g, "loss_watch_seen", &seen));
        long long calm = 0, period = 0, recovered = 0; /* absent before the rate recovered / backed off */
        if (model_attr_exists(g, "calm_steps") > 0) NF_H5_TRY(model_attr_get_i64(g, "calm_steps", &calm));
        if (model_attr_exists(g, "recover_period") > 0) NF_H5_TRY(model_attr_get_i64(g, "recover_period", &period));
        if (model_attr_exists(g, "recovered") > 0) NF_H5_TRY(model_attr_get_i64(g, "recovered", &recovered));
        long long clip_seen = 0; /* absent before the relative clip */
        r->clip_level = 0;
        if (model_attr_exists(g, "clip_level") > 0) NF_H5_TRY(model_attr_get_f64(g, "clip_level", &r->clip_level));
        if (model_attr_exists(g, "clip_seen") > 0) NF_H5_TRY(model_attr_get_i64(g, "clip_seen", &clip_seen));
        if (!(r->lr_scale > 0 && r->lr_scale <= 1) || rollbacks < 0 || rollbacks > INT_MAX || recomputed < 0 || calm < 0 ||
            period < 0 || (recovered != 0 && recovered != 1) ||
            seen < 0 || !(r->watch.rise >= 0) || !isfinite(r->watch.level) || !(r->watch.spread >= 0) ||
            clip_seen < 0 || !isfinite(r->clip_level)) {
            st = nf_fail(NF_ERR_FORMAT, "train_state: impossible trainer state (lr_scale %g, rollbacks %lld, "
                         "recomputed %lld, loss watch %g %g %g %lld, clip level %g of %lld steps)", r->lr_scale,
                         rollbacks, recomputed, r->watch.rise, r->watch.level, r->watch.spread, seen, r->clip_level,
                         clip_seen);
            goto cleanup;
        }
        r->step = t.iteration;
        r->rollbacks = (int)rollbacks, r->recomputed = (long)recomputed, r->watch.seen = (long)seen;
        r->calm = (long)calm, r->period = (long)period, r->recovered = (int)recovered;
        r->clip_seen = (long)clip_seen;
    }
    *s = t;
cleanup:
    NF_H5_CLOSE(H5Gclose, g);
    return st;
}

static nf_status checkpoint_load(nf_flow **out, nf_adam *opt, nf_train_state *st, const h5_input *src) {
    *out = NULL;
    memset(opt, 0, sizeof *opt);
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    hid_t file = H5I_INVALID_HID;
    char format[64];
    nf_flow *f = NULL;
    nf_status s = model_h5_open(src, &file);
    if (s == NF_OK) s = model_read(file, &f, format, sizeof format);
    if (s == NF_OK && strcmp(format, MODEL_FORMAT_CHECKPOINT))
        s = nf_fail(NF_ERR_FORMAT, "a model file without optimiser or training state (format '%s'), not a checkpoint",
                    format);
    if (s == NF_OK) s = read_optimizer(file, opt, f->params.count);
    if (s == NF_OK) s = read_state(file, st);
    model_h5_close(file);
    nf_h5_quiet_end(&q);
    if (s == NF_OK) {
        *out = f;
        return NF_OK;
    }
    nf_adam_free(opt);
    nf_flow_destroy(f);
    return model_h5_prefix(s, "nf_checkpoint_load", src->path);
}

nf_status nf_checkpoint_load(nf_flow **out, nf_adam *opt, nf_train_state *st, const char *path) {
    if (!out || !opt || !st || !path)
        return nf_fail(NF_ERR_ARG, "nf_checkpoint_load: out, optimiser, state or path is NULL");
    return checkpoint_load(out, opt, st, &(h5_input){path, NULL, 0});
}

nf_status nf_checkpoint_load_image(nf_flow **out, nf_adam *opt, nf_train_state *st, const void *data, size_t size) {
    if (!out || !opt || !st || !data)
        return nf_fail(NF_ERR_ARG, "nf_checkpoint_load_image: out, optimiser, state or data is NULL");
    return checkpoint_load(out, opt, st, &(h5_input){NF_IMAGE_NAME, data, size});
}
