/* The loaders on files held in memory: nf_model_load, nf_checkpoint_load and
 * nf_dataset_open on the bytes of a whole HDF5 file instead of a path (HDF5's core
 * driver with a file image, io/h5_image.h). The path-taking calls and these share every
 * check; messages name the file "(memory)". Internal, not installed: the fuzz harnesses
 * (tests/fuzz) use them to skip the file system. */
#ifndef NF_LOAD_IMAGE_H
#define NF_LOAD_IMAGE_H

#include <nflow.h>

#define NF_IMAGE_NAME "(memory)"

nf_status nf_model_load_image(nf_flow **out, const void *data, size_t size);
nf_status nf_checkpoint_load_image(nf_flow **out, nf_adam *opt, nf_train_state *st, const void *data, size_t size);
/* path: the dataset in the image ("/x"); opt->cond, when set, names a dataset of the
 * same image ("/y") or one in a file ("file.h5:/y"). */
nf_status nf_dataset_open_image(nf_dataset **out, const void *data, size_t size, const char *path,
                                const nf_dataset_options *opt);

#endif
