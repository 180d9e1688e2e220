/* The table of flow kinds that model files know (see nf_model_kind in nflow/model_io.h):
 * which function writes a kind's hyper-parameters and which rebuilds it. */
#ifndef NF_MODEL_KINDS_H
#define NF_MODEL_KINDS_H

#include "io/model_h5.h"

/* The public attribute handle is the HDF5 object that holds them (the file's root, or a
 * group such as "optimizer"); what names that object in messages about its arrays. */
struct nf_model_attrs {
    hid_t obj;
    const char *what;
};

/* The kind registered under name, or NULL. Glow is always there. */
const nf_model_kind *model_kind_find(const char *name);

/* Records "unsupported flow kind '<name>' (model files know: glow, ...)", returns NF_ERR_FORMAT. */
nf_status model_kind_unknown(const char *name);

/* Built in (model_kind_glow.c, model_kind_sequential.c). */
extern const nf_model_kind model_kind_glow;
extern const nf_model_kind model_kind_sequential;

#endif
