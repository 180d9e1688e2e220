/* Part of nflow.h; include <nflow.h> rather than this file.
 *
 * Model and checkpoint files: one HDF5 file each, readable with h5py alone; the layout
 * is documented in datasets/MODEL_FORMAT.md.
 *
 *     nf_model_save(flow, "glow.h5");                 // architecture + parameters
 *     nf_flow *g; nf_model_load(&g, "glow.h5");       // rebuilt from the file alone
 *
 *     nf_train_state ts = {.epoch = e, .iteration = it, .rng = rng};
 *     nf_checkpoint_save(flow, &opt, &ts, "run.ckpt.h5");   // + Adam, RNG, position
 *     nf_checkpoint_load(&flow, &opt, &ts, "run.ckpt.h5");  // resume exactly
 *
 * Every write goes to a temporary file in the target's directory that is flushed to
 * disk and then renamed over the target: a crash at any moment leaves either the old
 * file or the new one, never a broken one (at worst a stray "<path>.tmp-…" file).
 * The first 512 bytes of a file hold a stamp (its size and a CRC-32 of the rest); a file
 * changed after writing must have them zeroed (datasets/MODEL_FORMAT.md, "The stamp").
 * Every read checks what it reads (stamp, format, version, architecture, every
 * parameter block's shape, HDF5's checksums) and fails with NF_ERR_IO (cannot open) or
 * NF_ERR_FORMAT (truncated, corrupted, wrong kind, version or content) and one line in
 * nf_last_error(); HDF5 never prints its error stack from these calls.
 * Glow and sequential models (built with nf_sequential_from_spec) are supported.
 */
#ifndef NFLOW_MODEL_IO_H
#define NFLOW_MODEL_IO_H
#include "nflow.h"
#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- model files */

/* Version of the layout that nf_model_save writes and nf_model_load reads. */
#define NF_MODEL_FORMAT_VERSION 1

/* Writes the flow's architecture (every hyper-parameter) and parameters, frozen blocks
 * and ActNorm's initialised flags included, to path (replaced atomically).
 * NF_ERR_FORMAT if the flow's kind has no model-file support. */
nf_status nf_model_save(const nf_flow *f, const char *path);
/* Rebuilds a flow from path (a model or a checkpoint file): the architecture from the
 * attributes, then every parameter block, each checked against the shape the rebuilt
 * layer expects. *out is NULL on failure. Free with nf_flow_destroy. */
nf_status nf_model_load(nf_flow **out, const char *path);

/* The data the flow was trained on (nf_dataset_identity), kept with the flow: written
 * by nf_model_save and nf_checkpoint_save (group "training_data") when set, read back by
 * nf_model_load and nf_checkpoint_load (NULL when the file has none). id NULL clears it. */
nf_status nf_flow_set_data_identity(nf_flow *f, const nf_data_identity *id);
const nf_data_identity *nf_flow_data_identity(const nf_flow *f);

/* ---------------------------------------------------------------- checkpoints */

#define NF_DATA_POS_MAX 8

/* What a training loop needs, besides the model and optimiser, to continue exactly. */
typedef struct nf_train_state {
    long epoch;         /* epochs completed */
    long iteration;     /* optimiser steps taken in total */
    uint64_t data_pos[NF_DATA_POS_MAX]; /* (ndata_pos) opaque position in the data order,
                                           e.g. shuffle seed and next batch index */
    int ndata_pos;      /* 0..NF_DATA_POS_MAX values of data_pos in use */
    nf_rng rng;         /* the loop's generator (batches, dequantisation noise, ...) */
    int has_trainer;    /* trainer holds nf_trainer's state (files before it: 0 on load) */
    nf_trainer_state trainer;
} nf_train_state;

/* Writes a model file (as nf_model_save) plus the optimiser (hyper-parameters, step,
 * moments m and v) and the training state, atomically. */
nf_status nf_checkpoint_save(const nf_flow *f, const nf_adam *opt, const nf_train_state *st, const char *path);
/* Rebuilds the flow, the optimiser (allocated here: free it with nf_adam_free; its
 * previous contents are overwritten, not freed) and the training state from path.
 * On failure nothing is allocated: *out is NULL and opt holds no buffers. */
nf_status nf_checkpoint_load(nf_flow **out, nf_adam *opt, nf_train_state *st, const char *path);

/* ---------------------------------------------------------------- flow kinds */

/*
 * How model files learn a kind of flow. A kind is named by its ops->name ("glow") and
 * supplies two functions: save_arch writes every hyper-parameter as a root attribute;
 * create rebuilds an untrained flow of the same architecture from those attributes
 * (parameters are read afterwards, layer by layer). Glow is built in; other kinds
 * ("sequential", a user's own flows) are added with nf_model_register_kind.
 *
 * The same handle carries state saved beside a flow: a checkpoint gives the optimiser the
 * group "optimizer", where it writes its own attributes and arrays (nf_adam_save_state).
 */
typedef struct nf_model_attrs nf_model_attrs; /* one object (the root, a group) of an open model file */

nf_status nf_model_attrs_put_int(nf_model_attrs *a, const char *name, long long v);
nf_status nf_model_attrs_put_u64(nf_model_attrs *a, const char *name, uint64_t v);
nf_status nf_model_attrs_put_double(nf_model_attrs *a, const char *name, double v);
nf_status nf_model_attrs_put_string(nf_model_attrs *a, const char *name, const char *s);
/* Getters fail with NF_ERR_FORMAT naming the attribute if it is missing or of
 * another type; strings longer than size - 1 are refused. */
/* 1 if the attribute exists (for attributes newer files add), else 0. */
int nf_model_attrs_has(const nf_model_attrs *a, const char *name);
nf_status nf_model_attrs_get_int(const nf_model_attrs *a, const char *name, long long *v);
nf_status nf_model_attrs_get_u64(const nf_model_attrs *a, const char *name, uint64_t *v);
nf_status nf_model_attrs_get_double(const nf_model_attrs *a, const char *name, double *v);
nf_status nf_model_attrs_get_string(const nf_model_attrs *a, const char *name, char *buf, size_t size);
/* Arrays of count values, stored as float32 datasets with a checksum; the getter fails
 * with NF_ERR_FORMAT unless the array exists and holds exactly count values. */
nf_status nf_model_attrs_put_array(nf_model_attrs *a, const char *name, const nf_real *v, size_t count);
nf_status nf_model_attrs_get_array(const nf_model_attrs *a, const char *name, nf_real *v, size_t count);

/* The optimiser's own part of a checkpoint (group "optimizer", datasets/MODEL_FORMAT.md):
 * its type, hyper-parameters, step and moments. save fails with NF_ERR_SHAPE when a holds
 * moments for other than count parameters (those of the flow it trains). load initialises
 * a for count parameters (free it with nf_adam_free, also after a failure) and refuses an
 * impossible state with NF_ERR_FORMAT. */
nf_status nf_adam_save_state(const nf_adam *a, size_t count, nf_model_attrs *to);
nf_status nf_adam_load_state(nf_adam *a, size_t count, const nf_model_attrs *from);

typedef struct nf_model_kind {
    const char *name; /* equal to the flows' ops->name */
    nf_status (*save_arch)(const nf_flow *f, nf_model_attrs *a);
    nf_status (*create)(nf_flow **out, const nf_model_attrs *a);
} nf_model_kind;

/* Adds (or replaces, by name) a kind; the table is kept by pointer, so kind must
 * outlive its use. Up to 16 kinds. Not thread-safe: register before saving or loading. */
nf_status nf_model_register_kind(const nf_model_kind *kind);

#ifdef __cplusplus
}
#endif
#endif
