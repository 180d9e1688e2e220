/* The sequential model's internals shared with the spec parser (model_spec.c). */
#ifndef NF_SEQUENTIAL_H
#define NF_SEQUENTIAL_H

#include "flow_internal.h"

/* Records the canonical spec the model was built from (copied). */
nf_status nf_sequential_set_spec(nf_flow *m, const char *spec);
/* The per-sample shape the next added layer must take. */
nf_shape nf_sequential_current_shape(const nf_flow *m);

#endif
