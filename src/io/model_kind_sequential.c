/* The generic sequential model (nf_sequential_*, src/flows/sequential.c) in model files: its
 * canonical text spec and input shape as root attributes, rebuilt with
 * nf_sequential_from_spec. Everything else that defines it (permutations, batch-norm running
 * averages) is a frozen parameter block and comes back with the layers. */
#include "io/model_kinds.h"

#include <limits.h>
#include <string.h>

#define SPEC_MAX 8192 /* characters of spec a file may hold */

static nf_status seq_save_arch(const nf_flow *f, nf_model_attrs *a) {
    const char *spec = nf_sequential_spec(f);
    if (!spec)
        return nf_fail(NF_ERR_ARG, "this sequential model was built layer by layer and has no spec; model files "
                       "need one built with nf_sequential_from_spec");
    if (strlen(spec) >= SPEC_MAX) return nf_fail(NF_ERR_ARG, "the model's spec is longer than %d characters", SPEC_MAX - 1);
    NF_TRY(nf_model_attrs_put_string(a, "spec", spec));
    NF_TRY(nf_model_attrs_put_int(a, "channels", f->in.c));
    NF_TRY(nf_model_attrs_put_int(a, "depth", f->in.d));
    NF_TRY(nf_model_attrs_put_int(a, "height", f->in.h));
    return nf_model_attrs_put_int(a, "width", f->in.w);
}

static nf_status seq_create(nf_flow **out, const nf_model_attrs *a) {
    static _Thread_local char spec[SPEC_MAX]; /* off the stack; one load per thread at a time */
    long long dims[4];
    const char *names[4] = {"channels", "depth", "height", "width"};
    for (int i = 0; i < 4; i++) {
        NF_TRY(nf_model_attrs_get_int(a, names[i], &dims[i]));
        if (dims[i] < 1 || dims[i] > INT_MAX)
            return nf_fail(NF_ERR_FORMAT, "attribute '%s' = %lld is out of range", names[i], dims[i]);
    }
    NF_TRY(nf_model_attrs_get_string(a, "spec", spec, sizeof spec));
    nf_shape in = {1, (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3]};
    return nf_sequential_from_spec(out, in, spec, 1); /* the seed is moot: the parameters are read next */
}

const nf_model_kind model_kind_sequential = {"sequential", seq_save_arch, seq_create};
