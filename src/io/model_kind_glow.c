/* Glow in model files: every nf_glow_config field as a root attribute of the same
 * name, enums as strings (cond_channels only in conditional models), and the flow rebuilt
 * from them with nf_glow_create. */
#include "io/model_kinds.h"

#include <limits.h>
#include <string.h>

static const char *const squeeze_names[] = {"space", "haar"};           /* nf_squeeze_kind */
static const char *const coupling_names[] = {"affine", "additive"};     /* nf_coupling_kind */
static const char *const conv1x1_names[] = {"lu", "householder"};       /* nf_conv1x1_kind */
#define NAMES(a) a, (int)(sizeof a / sizeof a[0])

static const char *enum_name(const char *const *names, int n, int v) { return v >= 0 && v < n ? names[v] : "?"; }

static nf_status get_enum(const nf_model_attrs *a, const char *attr, const char *const *names, int n, int *v) {
    char s[64];
    NF_TRY(nf_model_attrs_get_string(a, attr, s, sizeof s));
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *v = i;
            return NF_OK;
        }
    return nf_fail(NF_ERR_FORMAT, "attribute '%s' is '%s', expected '%s' or '%s'", attr, s, names[0], names[1]);
}

static nf_status get_int(const nf_model_attrs *a, const char *attr, int *v) {
    long long x;
    NF_TRY(nf_model_attrs_get_int(a, attr, &x));
    if (x < INT_MIN || x > INT_MAX) return nf_fail(NF_ERR_FORMAT, "attribute '%s' = %lld is out of range", attr, x);
    *v = (int)x;
    return NF_OK;
}

/* An int attribute that must be 0 or 1. */
static nf_status get_flag(const nf_model_attrs *a, const char *attr, int *v) {
    NF_TRY(get_int(a, attr, v));
    if (*v != 0 && *v != 1) return nf_fail(NF_ERR_FORMAT, "attribute '%s' = %d, expected 0 or 1", attr, *v);
    return NF_OK;
}

static nf_status glow_save_arch(const nf_flow *f, nf_model_attrs *a) {
    const nf_glow_config *c = nf_glow_get_config(f);
    if (!c) return nf_fail(NF_ERR_ARG, "the flow is not a Glow");
    NF_TRY(nf_model_attrs_put_int(a, "channels", c->channels));
    NF_TRY(nf_model_attrs_put_int(a, "depth", c->volume_depth)); /* the file's name for D since format 1 */
    NF_TRY(nf_model_attrs_put_int(a, "height", c->height));
    NF_TRY(nf_model_attrs_put_int(a, "width", c->width));
    NF_TRY(nf_model_attrs_put_int(a, "hidden", c->hidden));
    NF_TRY(nf_model_attrs_put_int(a, "levels", c->levels));
    NF_TRY(nf_model_attrs_put_int(a, "steps", c->steps));
    NF_TRY(nf_model_attrs_put_int(a, "multiscale", c->multiscale ? 1 : 0));
    NF_TRY(nf_model_attrs_put_string(a, "squeeze", enum_name(NAMES(squeeze_names), (int)c->squeeze)));
    NF_TRY(nf_model_attrs_put_string(a, "coupling", enum_name(NAMES(coupling_names), (int)c->coupling)));
    NF_TRY(nf_model_attrs_put_string(a, "conv1x1", enum_name(NAMES(conv1x1_names), (int)c->conv1x1)));
    NF_TRY(nf_model_attrs_put_double(a, "coupling_min_scale", c->coupling_min_scale));
    NF_TRY(nf_model_attrs_put_int(a, "learn_prior", c->learn_prior ? 1 : 0));
    /* written only when conditional, so unconditional files stay as they were */
    if (c->cond_channels > 0) NF_TRY(nf_model_attrs_put_int(a, "cond_channels", c->cond_channels));
    return nf_model_attrs_put_u64(a, "seed", c->seed);
}

static nf_status glow_create_from(nf_flow **out, const nf_model_attrs *a) {
    nf_glow_config c = nf_glow_config_default(1, 1, 1);
    int squeeze, coupling, conv;
    NF_TRY(get_int(a, "channels", &c.channels));
    NF_TRY(get_int(a, "depth", &c.volume_depth));
    NF_TRY(get_int(a, "height", &c.height));
    NF_TRY(get_int(a, "width", &c.width));
    NF_TRY(get_int(a, "hidden", &c.hidden));
    NF_TRY(get_int(a, "levels", &c.levels));
    NF_TRY(get_int(a, "steps", &c.steps));
    NF_TRY(get_flag(a, "multiscale", &c.multiscale));
    NF_TRY(get_enum(a, "squeeze", NAMES(squeeze_names), &squeeze));
    NF_TRY(get_enum(a, "coupling", NAMES(coupling_names), &coupling));
    NF_TRY(get_enum(a, "conv1x1", NAMES(conv1x1_names), &conv));
    c.squeeze = (nf_squeeze_kind)squeeze;
    c.coupling = (nf_coupling_kind)coupling;
    c.conv1x1 = (nf_conv1x1_kind)conv;
    NF_TRY(nf_model_attrs_get_u64(a, "seed", &c.seed));
    /* files written before the floor was a setting had the fixed one */
    c.coupling_min_scale = NF_COUPLING_MIN_SCALE;
    if (nf_model_attrs_has(a, "coupling_min_scale"))
        NF_TRY(nf_model_attrs_get_double(a, "coupling_min_scale", &c.coupling_min_scale));
    /* files written before the learned prior had the standard normal one */
    c.learn_prior = 0;
    if (nf_model_attrs_has(a, "learn_prior")) NF_TRY(get_flag(a, "learn_prior", &c.learn_prior));
    /* absent: unconditional (every file before conditional Glow) */
    c.cond_channels = 0;
    if (nf_model_attrs_has(a, "cond_channels")) {
        NF_TRY(get_int(a, "cond_channels", &c.cond_channels));
        if (c.cond_channels < 1)
            return nf_fail(NF_ERR_FORMAT, "attribute 'cond_channels' = %d, expected >= 1", c.cond_channels);
    }
    return nf_glow_create(out, &c);
}

const nf_model_kind model_kind_glow = {"glow", glow_save_arch, glow_create_from};
