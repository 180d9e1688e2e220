/* The generic sequential model (nf_sequential_*, src/flows/sequential.c) in model files: its
 * canonical text spec, input shape and, for a conditional flow, condition shape as root
 * attributes, rebuilt with nf_sequential_from_spec_cond. Everything else that defines it (permutations, batch-norm running
 * averages) is a frozen parameter block and comes back with the layers. */
#include "io/model_kinds.h"

#include <limits.h>
#include <string.h>

#define SPEC_MAX 8192 /* characters of spec a file may hold */

/* A conditional flow's condition shape (absent: unconditional, as in older files). */
static const char *const cond_names[4] = {"cond_channels", "cond_depth", "cond_height", "cond_width"};

static nf_status get_dims(const nf_model_attrs *a, const char *const names[4], long long dims[4]) {
    for (int i = 0; i < 4; i++) {
        NF_TRY(nf_model_attrs_get_int(a, names[i], &dims[i]));
        if (dims[i] < 1 || dims[i] > INT_MAX)
            return nf_fail(NF_ERR_FORMAT, "attribute '%s' = %lld is out of range", names[i], dims[i]);
    }
    return NF_OK;
}

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
    NF_TRY(nf_model_attrs_put_int(a, "width", f->in.w));
    if (!nf_flow_is_conditional(f)) return NF_OK;
    const int v[4] = {f->cond.c, f->cond.d, f->cond.h, f->cond.w};
    for (int i = 0; i < 4; i++) NF_TRY(nf_model_attrs_put_int(a, cond_names[i], v[i]));
    return NF_OK;
}

static nf_status seq_create(nf_flow **out, const nf_model_attrs *a) {
    static _Thread_local char spec[SPEC_MAX]; /* off the stack; one load per thread at a time */
    static const char *const names[4] = {"channels", "depth", "height", "width"};
    long long dims[4], cd[4] = {0, 0, 0, 0};
    NF_TRY(get_dims(a, names, dims));
    if (nf_model_attrs_has(a, cond_names[0])) NF_TRY(get_dims(a, cond_names, cd));
    NF_TRY(nf_model_attrs_get_string(a, "spec", spec, sizeof spec));
    nf_shape in = {1, (int)dims[0], (int)dims[1], (int)dims[2], (int)dims[3]};
    nf_shape cond = {cd[0] ? 1 : 0, (int)cd[0], (int)cd[1], (int)cd[2], (int)cd[3]};
    return nf_sequential_from_spec_cond(out, in, cond, spec, 1); /* the seed is moot: the parameters are read next */
}

const nf_model_kind model_kind_sequential = {"sequential", seq_save_arch, seq_create};
