/* Adam's part of a checkpoint: the optimiser writes and reads its own state (type,
 * hyper-parameters, step, moments) through the model file's attribute handle, so the
 * checkpoint code only hands it the group "optimizer" (datasets/MODEL_FORMAT.md). */
#include "nf_internal.h"

#include <math.h>
#include <string.h>

nf_status nf_adam_save_state(const nf_adam *a, size_t count, nf_model_attrs *to) {
    NF_CHECK_NULL(a);
    NF_CHECK_NULL(to);
    if (a->count != count || (a->count && (!a->m || !a->v)))
        return nf_fail(NF_ERR_SHAPE, "optimiser holds %zu moments, the flow %zu parameters", a->count, count);
    NF_TRY(nf_model_attrs_put_string(to, "type", "adam"));
    NF_TRY(nf_model_attrs_put_double(to, "lr", a->lr));
    NF_TRY(nf_model_attrs_put_double(to, "beta1", a->beta1));
    NF_TRY(nf_model_attrs_put_double(to, "beta2", a->beta2));
    NF_TRY(nf_model_attrs_put_double(to, "eps", a->eps));
    NF_TRY(nf_model_attrs_put_double(to, "weight_decay", a->weight_decay));
    NF_TRY(nf_model_attrs_put_int(to, "step", a->step));
    NF_TRY(nf_model_attrs_put_array(to, "m", a->m, a->count));
    return nf_model_attrs_put_array(to, "v", a->v, a->count);
}

nf_status nf_adam_load_state(nf_adam *a, size_t count, const nf_model_attrs *from) {
    NF_CHECK_NULL(a);
    NF_CHECK_NULL(from);
    char type[32];
    double lr, b1, b2, eps, wd;
    long long step;
    NF_TRY(nf_model_attrs_get_string(from, "type", type, sizeof type));
    if (strcmp(type, "adam")) return nf_fail(NF_ERR_FORMAT, "optimizer type '%s' is not supported (only 'adam')", type);
    NF_TRY(nf_model_attrs_get_double(from, "lr", &lr));
    NF_TRY(nf_model_attrs_get_double(from, "beta1", &b1));
    NF_TRY(nf_model_attrs_get_double(from, "beta2", &b2));
    NF_TRY(nf_model_attrs_get_double(from, "eps", &eps));
    NF_TRY(nf_model_attrs_get_double(from, "weight_decay", &wd));
    NF_TRY(nf_model_attrs_get_int(from, "step", &step));
    if (!(lr > 0 && isfinite(lr) && b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1 && eps > 0 && wd >= 0 && step >= 0))
        return nf_fail(NF_ERR_FORMAT, "optimizer: impossible Adam state (lr %g, betas %g %g, eps %g, weight decay %g, "
                       "step %lld)", lr, b1, b2, eps, wd, step);
    NF_TRY(nf_adam_init(a, count, lr));
    a->beta1 = b1, a->beta2 = b2, a->eps = eps, a->weight_decay = wd, a->step = (long)step;
    NF_TRY(nf_model_attrs_get_array(from, "m", a->m, count));
    return nf_model_attrs_get_array(from, "v", a->v, count);
}
