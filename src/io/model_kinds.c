/* The registry of flow kinds for model files, and the attribute accessors kinds use.
 *
 * HOOK for other flows: a kind is {ops->name, save_arch, create}. Glow and the generic
 * sequential model are built in (builtin[] below); a new flow type joins by adding its
 * kind there (in a model_kind_<name>.c of its own) or, from outside the library, with
 * nf_model_register_kind. Saving or loading a flow of any other kind fails with
 * "unsupported flow kind '<name>'". */
#include "io/model_kinds.h"

#include <stdio.h>
#include <string.h>

#define MAX_KINDS 16

static const nf_model_kind *const builtin[] = {&model_kind_glow, &model_kind_sequential};
static const nf_model_kind *registered[MAX_KINDS];
static int nregistered;

static const nf_model_kind *builtin_find(const char *name) {
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (!strcmp(builtin[i]->name, name)) return builtin[i];
    return NULL;
}

const nf_model_kind *model_kind_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < nregistered; i++) /* registered first: they may replace a built-in */
        if (!strcmp(registered[i]->name, name)) return registered[i];
    return builtin_find(name);
}

nf_status model_kind_unknown(const char *name) {
    char known[256] = "";
    size_t k = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0] && k < sizeof known; i++)
        k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", builtin[i]->name);
    for (int i = 0; i < nregistered && k < sizeof known; i++)
        if (!builtin_find(registered[i]->name)) /* a replaced built-in is listed once */
            k += (size_t)snprintf(known + k, sizeof known - k, ", %s", registered[i]->name);
    return nf_fail(NF_ERR_FORMAT, "unsupported flow kind '%s' (model files know: %s)", name, known);
}

nf_status nf_model_register_kind(const nf_model_kind *kind) {
    NF_CHECK_NULL(kind);
    if (!kind->name || !kind->name[0] || !kind->save_arch || !kind->create)
        return nf_fail(NF_ERR_ARG, "nf_model_register_kind: a kind needs a name, save_arch and create");
    for (int i = 0; i < nregistered; i++)
        if (!strcmp(registered[i]->name, kind->name)) {
            registered[i] = kind;
            return NF_OK;
        }
    if (nregistered == MAX_KINDS)
        return nf_fail(NF_ERR_ARG, "nf_model_register_kind: table full (%d kinds); cannot add '%s'", MAX_KINDS,
                       kind->name);
    registered[nregistered++] = kind;
    return NF_OK;
}

/* ---------------------------------------------------------------- attributes */

#define ATTRS_CHECK(a, name)                                                                              \
    do {                                                                                                  \
        if (!(a) || !(name)) return nf_fail(NF_ERR_ARG, "%s: attribute handle or name is NULL", __func__); \
    } while (0)

nf_status nf_model_attrs_put_int(nf_model_attrs *a, const char *name, long long v) {
    ATTRS_CHECK(a, name);
    return model_attr_put_i64(a->obj, name, v);
}
nf_status nf_model_attrs_put_u64(nf_model_attrs *a, const char *name, uint64_t v) {
    ATTRS_CHECK(a, name);
    return model_attr_put_u64(a->obj, name, v);
}
nf_status nf_model_attrs_put_double(nf_model_attrs *a, const char *name, double v) {
    ATTRS_CHECK(a, name);
    return model_attr_put_f64(a->obj, name, v);
}
nf_status nf_model_attrs_put_string(nf_model_attrs *a, const char *name, const char *s) {
    ATTRS_CHECK(a, name);
    NF_CHECK_NULL(s);
    return model_attr_put_str(a->obj, name, s);
}
int nf_model_attrs_has(const nf_model_attrs *a, const char *name) {
    return a && name && model_attr_exists(a->obj, name) > 0;
}
nf_status nf_model_attrs_get_int(const nf_model_attrs *a, const char *name, long long *v) {
    ATTRS_CHECK(a, name);
    NF_CHECK_NULL(v);
    return model_attr_get_i64(a->obj, name, v);
}
nf_status nf_model_attrs_get_u64(const nf_model_attrs *a, const char *name, uint64_t *v) {
    ATTRS_CHECK(a, name);
    NF_CHECK_NULL(v);
    return model_attr_get_u64(a->obj, name, v);
}
nf_status nf_model_attrs_get_double(const nf_model_attrs *a, const char *name, double *v) {
    ATTRS_CHECK(a, name);
    NF_CHECK_NULL(v);
    return model_attr_get_f64(a->obj, name, v);
}
nf_status nf_model_attrs_get_string(const nf_model_attrs *a, const char *name, char *buf, size_t size) {
    ATTRS_CHECK(a, name);
    NF_CHECK_NULL(buf);
    if (!size) return nf_fail(NF_ERR_ARG, "nf_model_attrs_get_string: buffer size is 0");
    return model_attr_get_str(a->obj, name, buf, size);
}

/* ---------------------------------------------------------------- arrays */

nf_status nf_model_attrs_put_array(nf_model_attrs *a, const char *name, const nf_real *v, size_t count) {
    ATTRS_CHECK(a, name);
    if (count) NF_CHECK_NULL(v);
    hsize_t n = count;
    return model_dset_write(a->obj, name, 1, &n, v, NULL);
}
nf_status nf_model_attrs_get_array(const nf_model_attrs *a, const char *name, nf_real *v, size_t count) {
    ATTRS_CHECK(a, name);
    if (count) NF_CHECK_NULL(v);
    hsize_t n = count;
    return model_dset_read(a->obj, name, 1, &n, v, a->what ? a->what : "model");
}
