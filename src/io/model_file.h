/* The model-file layout (datasets/MODEL_FORMAT.md), shared by model files and
 * checkpoints: a checkpoint is a model file with two more groups. */
#ifndef NF_MODEL_FILE_H
#define NF_MODEL_FILE_H

#include "io/model_h5.h"

#define MODEL_FORMAT_MODEL "nflow-model"
#define MODEL_FORMAT_CHECKPOINT "nflow-checkpoint"

/* Writes the root attributes (format, version, kind, architecture) and the layer
 * groups of f into an open, empty file. */
nf_status model_write(hid_t file, const nf_flow *f, const char *format);
/* Checks format (either kind), version and kind, rebuilds the flow and reads its
 * parameters; format (size bytes) receives the file's format string. On failure *out
 * is NULL. */
nf_status model_read(hid_t file, nf_flow **out, char *format, size_t size);

/* The group "training_data" (model_data_identity.c): written when f has a data
 * identity; read into f when the file has one. */
nf_status model_data_identity_write(hid_t file, const nf_flow *f);
nf_status model_data_identity_read(hid_t file, nf_flow *f);

/* Lets write fill a file with the model-file property lists, built in memory, stamps
 * it, and writes it to path through a temporary file renamed over it (atomic_file.h).
 * Takes as much memory again as the file's size while it writes. */
typedef nf_status (*model_writer)(hid_t file, const void *arg);
nf_status model_file_write(const char *path, model_writer write, const void *arg);

#endif
