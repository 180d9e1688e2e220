/* nf_sequential_from_spec: a small text spec parsed straight into a model.
 *     spec  := item { sep item }          sep := ',' | ';' | white space
 *     item  := 'prior=' word | name [ '(' key=value { ',' key=value } ')' ] [ '*' count ]
 *            | '(' spec ')' [ '*' count ]
 * A repeated group is parsed again for each repetition, so layers without an explicit
 * parity keep alternating across repetitions. Every error names the column. */
#include "sequential.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 6
#define MAX_LAYERS 10000
#define LABEL_MAX 160

typedef struct spec_args {
    const char *key[MAX_OPTS];  /* the kind's option names */
    char val[MAX_OPTS][32];     /* their values as written (defaults filled in) */
    int parity;                 /* -1: alternate */
    int features;               /* condition features the flow's conditional layers take now */
    nf_shape cond;              /* the flow's condition shape (all zero: unconditional) */
    int summarized;             /* a summary network turns y into the features */
} spec_args;

typedef struct layer_kind {
    const char *name;
    const char *keys[MAX_OPTS];  /* NULL-terminated */
    const char *defs[MAX_OPTS];
    int alternates;              /* takes a parity */
    nf_status (*make)(nf_layer **out, nf_shape in, const spec_args *a, int parity);
} layer_kind;

typedef struct parser {
    const char *src;
    size_t pos;
    nf_flow *model;
    nf_prior_kind prior;
    int prior_set;
    int counts[32];  /* layers made so far per kind: the alternating parity */
    char *canon;     /* canonical spec being written */
    size_t canon_len, canon_cap;
} parser;

static nf_status syntax(const parser *p, const char *what) {
    return nf_fail(NF_ERR_ARG, "model spec: %s at column %zu: \"%.24s\"", what, p->pos + 1, p->src + p->pos);
}

/* ---------------------------------------------------------------- option values */

static const char *arg(const spec_args *a, const char *key) {
    for (int i = 0; i < MAX_OPTS && a->key[i]; i++)
        if (!strcmp(a->key[i], key)) return a->val[i];
    return "";
}

static nf_status bad_value(const char *layer, const char *key, const char *val, const char *want) {
    return nf_fail(NF_ERR_ARG, "model spec: %s option %s=%s is not %s", layer, key, val, want);
}

static nf_status arg_int(const spec_args *a, const char *layer, const char *key, int lo, int hi, int *out) {
    const char *v = arg(a, key);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        char want[64];
        snprintf(want, sizeof want, "an integer in %d..%d", lo, hi);
        return bad_value(layer, key, v, want);
    }
    *out = (int)x;
    return NF_OK;
}

static nf_status arg_real(const spec_args *a, const char *layer, const char *key, double *out) {
    const char *v = arg(a, key);
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !isfinite(x)) return bad_value(layer, key, v, "a finite number");
    *out = x;
    return NF_OK;
}

static nf_status arg_act(const spec_args *a, const char *layer, nf_activation *out) {
    const char *v = arg(a, "act");
    for (int k = 0; k < 4; k++)
        if (!strcmp(v, nf_activation_name((nf_activation)k))) {
            *out = (nf_activation)k;
            return NF_OK;
        }
    return bad_value(layer, "act", v, "identity, relu, leakyrelu or tanh");
}

/* "24x3", "32-16-8", "none" */
static nf_status arg_hidden(const spec_args *a, const char *layer, nf_mlp_spec *out) {
    const char *v = arg(a, "hidden");
    nf_mlp_spec s = {0};
    const char *want = "sizes like 24x3, 32-16 or none";
    if (!strcmp(v, "none")) {
        *out = s;
        return NF_OK;
    }
    char *end;
    long w = strtol(v, &end, 10);
    if (*end == 'x') {
        long d = strtol(end + 1, &end, 10);
        if (*end || w < 1 || w > 1 << 20 || d < 0 || d > NF_MLP_MAX_HIDDEN) return bad_value(layer, "hidden", v, want);
        s = nf_mlp_spec_uniform((int)w, (int)d, NF_ACT_RELU);
    } else {
        const char *q = v;
        while (1) {
            w = strtol(q, &end, 10);
            if (end == q || w < 1 || w > 1 << 20 || s.nhidden == NF_MLP_MAX_HIDDEN)
                return bad_value(layer, "hidden", v, want);
            s.hidden[s.nhidden++] = (int)w;
            if (!*end) break;
            if (*end != '-') return bad_value(layer, "hidden", v, want);
            q = end + 1;
        }
    }
    NF_TRY(arg_act(a, layer, &s.act));
    *out = s;
    return NF_OK;
}

/* ---------------------------------------------------------------- the layer kinds */

static nf_status make_realnvp(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    double clamp;
    NF_TRY(arg_hidden(a, "realnvp", &net));
    NF_TRY(arg_real(a, "realnvp", "clamp", &clamp));
    return nf_realnvp_create(out, in, net, parity, clamp);
}
static nf_status make_nice(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    NF_TRY(arg_hidden(a, "nice", &net));
    return nf_nice_create(out, in, net, parity);
}
static nf_status make_maf(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    NF_TRY(arg_hidden(a, "maf", &net));
    return nf_maf_create(out, in, net, parity);
}
static nf_status make_iaf(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    NF_TRY(arg_hidden(a, "iaf", &net));
    return nf_iaf_create(out, in, net, parity);
}
/* A spline coupling's arguments (kind: spline or cond_spline). */
static nf_status spline_args(const spec_args *a, const char *kind, nf_mlp_spec *net, int *bins, double *bound) {
    NF_TRY(arg_hidden(a, kind, net));
    NF_TRY(arg_int(a, kind, "bins", 2, 64, bins));
    return arg_real(a, kind, "bound", bound);
}
static nf_status make_spline(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    int bins;
    double bound;
    NF_TRY(spline_args(a, "spline", &net, &bins, &bound));
    return nf_spline_create(out, in, net, bins, bound, parity);
}
static nf_status make_cond_realnvp(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    double clamp;
    NF_TRY(arg_hidden(a, "cond_realnvp", &net));
    NF_TRY(arg_real(a, "cond_realnvp", "clamp", &clamp));
    if (!a->features) return nf_fail(NF_ERR_ARG, "model spec: cond_realnvp needs a conditional flow (a condition, --cond)");
    return nf_cond_realnvp_create(out, in, a->features, net, parity, clamp);
}
static nf_status make_cond_spline(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    int bins;
    double bound;
    NF_TRY(spline_args(a, "cond_spline", &net, &bins, &bound));
    if (!a->features) return nf_fail(NF_ERR_ARG, "model spec: cond_spline needs a conditional flow (a condition, --cond)");
    return nf_cond_spline_create(out, in, a->features, net, bins, bound, parity);
}
static nf_status make_summary(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    int features;
    NF_TRY(arg_hidden(a, "summary", &net));
    NF_TRY(arg_int(a, "summary", "out", 1, 1 << 20, &features));
    if (a->cond.c <= 0) return nf_fail(NF_ERR_ARG, "model spec: summary needs a conditional flow (a condition, --cond)");
    return nf_summary_create(out, in, a->cond, net, features);
}
static nf_status make_hint(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    NF_TRY(arg_hidden(a, "hint", &net));
    return nf_hint_create(out, in, net);
}
static nf_status make_cond_hint(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    nf_mlp_spec net;
    int steps;
    NF_TRY(arg_hidden(a, "cond_hint", &net));
    NF_TRY(arg_int(a, "cond_hint", "steps", 1, 256, &steps));
    if (!a->features) return nf_fail(NF_ERR_ARG, "model spec: cond_hint needs a conditional flow (a condition, --cond)");
    /* it models y's density too: of a summary's output that would reward shrinking it */
    if (a->summarized)
        return nf_fail(NF_ERR_ARG, "model spec: cond_hint transforms y itself and cannot follow a summary network");
    return nf_cond_hint_create(out, in, a->features, net, steps);
}
static nf_status make_cond_hint_conv(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    int hidden, steps;
    double floor;
    NF_TRY(arg_int(a, "cond_hint_conv", "hidden", 1, 16384, &hidden));
    NF_TRY(arg_int(a, "cond_hint_conv", "steps", 1, 256, &steps));
    NF_TRY(arg_real(a, "cond_hint_conv", "floor", &floor));
    if (!a->features)
        return nf_fail(NF_ERR_ARG, "model spec: cond_hint_conv needs a conditional flow (a condition, --cond)");
    if (a->summarized)
        return nf_fail(NF_ERR_ARG, "model spec: cond_hint_conv transforms y itself and cannot follow a summary network");
    return nf_cond_hint_conv_create(out, in, a->cond, hidden, steps, floor);
}
static nf_status make_affine(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    int sc, sh;
    NF_TRY(arg_int(a, "affine", "scale", 0, 1, &sc));
    NF_TRY(arg_int(a, "affine", "shift", 0, 1, &sh));
    return nf_affine_constant_create(out, in, sc, sh);
}
static nf_status make_linear(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    int lu;
    NF_TRY(arg_int(a, "linear", "lu", 0, 1, &lu));
    return nf_linear_create(out, in, lu ? NF_LINEAR_LU : NF_LINEAR_DENSE, NULL);
}
static nf_status make_leaky(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    double alpha;
    NF_TRY(arg_real(a, "leakyrelu", "alpha", &alpha));
    return nf_leaky_relu_create(out, in, alpha);
}
static nf_status make_reverse(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    return nf_permute_create(out, in, NF_PERMUTE_REVERSE);
}
static nf_status make_permute(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    return nf_permute_create(out, in, NF_PERMUTE_RANDOM);
}
static nf_status make_batchnorm(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    double mom, eps;
    NF_TRY(arg_real(a, "batchnorm", "momentum", &mom));
    NF_TRY(arg_real(a, "batchnorm", "eps", &eps));
    return nf_batchnorm_create(out, in, mom, eps);
}
static nf_status make_actnorm(nf_layer **out, nf_shape in, const spec_args *a, int parity) {
    return nf_actnorm_create(out, in);
}

static const layer_kind kinds[] = {
    {"realnvp", {"hidden", "act", "clamp"}, {"24x3", "leakyrelu", "0"}, 1, make_realnvp},
    {"nice", {"hidden", "act"}, {"24x3", "leakyrelu"}, 1, make_nice},
    {"maf", {"hidden", "act"}, {"24x3", "relu"}, 1, make_maf},
    {"iaf", {"hidden", "act"}, {"24x3", "relu"}, 1, make_iaf},
    {"spline", {"bins", "bound", "hidden", "act"}, {"8", "3", "16x3", "leakyrelu"}, 1, make_spline},
    {"hint", {"hidden", "act"}, {"24x3", "leakyrelu"}, 0, make_hint},
    {"affine", {"scale", "shift"}, {"1", "1"}, 0, make_affine},
    {"linear", {"lu"}, {"0"}, 0, make_linear},
    {"leakyrelu", {"alpha"}, {"0.2"}, 0, make_leaky},
    {"reverse", {NULL}, {NULL}, 0, make_reverse},
    {"permute", {NULL}, {NULL}, 0, make_permute},
    {"batchnorm", {"momentum", "eps"}, {"0.9", "1e-5"}, 0, make_batchnorm},
    {"actnorm", {NULL}, {NULL}, 0, make_actnorm},
    {"cond_realnvp", {"hidden", "act", "clamp"}, {"24x3", "leakyrelu", "0"}, 1, make_cond_realnvp},
    {"cond_spline", {"bins", "bound", "hidden", "act"}, {"8", "3", "16x3", "leakyrelu"}, 1, make_cond_spline},
    {"cond_hint", {"hidden", "act", "steps"}, {"32x2", "leakyrelu", "4"}, 0, make_cond_hint},
    {"cond_hint_conv", {"hidden", "steps", "floor"}, {"32", "4", "0.001"}, 0, make_cond_hint_conv},
    {"summary", {"hidden", "act", "out"}, {"64x2", "leakyrelu", "16"}, 0, make_summary},
};
#define NKINDS ((int)(sizeof kinds / sizeof kinds[0]))
_Static_assert(sizeof kinds / sizeof kinds[0] <= sizeof((parser *)0)->counts / sizeof(int), "parser.counts: one per kind");

/* ---------------------------------------------------------------- canonical spec */

static nf_status canon_put(parser *p, const char *text) {
    size_t len = strlen(text);
    if (p->canon_len + len + 1 > p->canon_cap) {
        size_t cap = (p->canon_len + len + 1) * 2;
        char *c = nf_alloc(cap);
        if (!c) return nf_fail(NF_ERR_NOMEM, "model spec: out of memory");
        if (p->canon) memcpy(c, p->canon, p->canon_len);
        nf_free(p->canon);
        p->canon = c, p->canon_cap = cap;
    }
    memcpy(p->canon + p->canon_len, text, len + 1);
    p->canon_len += len;
    return NF_OK;
}

/* "realnvp(hidden=24x3,act=leakyrelu,parity=0)" */
static void label_of(const layer_kind *k, const spec_args *a, int parity, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "%s", k->name);
    int nopt = 0;
    for (int i = 0; i < MAX_OPTS && k->keys[i] && used < size; i++, nopt++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", i ? "," : "(", k->keys[i], a->val[i]);
    if (k->alternates && used < size)
        used += (size_t)snprintf(buf + used, size - used, "%sparity=%d", nopt ? "," : "(", parity);
    if ((nopt || k->alternates) && used < size) snprintf(buf + used, size - used, ")");
}

/* ---------------------------------------------------------------- parsing */

static void skip_space(parser *p) {
    while (isspace((unsigned char)p->src[p->pos])) p->pos++;
}

static int is_sep(char c) { return c == ',' || c == ';' || isspace((unsigned char)c); }

static size_t word(const parser *p, size_t at) {
    size_t e = at;
    while (isalnum((unsigned char)p->src[e]) || p->src[e] == '_' || p->src[e] == '.' || p->src[e] == '-' ||
           p->src[e] == '+')
        e++;
    return e - at;
}

/* Optional "*count" after an item. */
static nf_status repeat_count(parser *p, int *count) {
    *count = 1;
    skip_space(p);
    if (p->src[p->pos] != '*') return NF_OK;
    p->pos++;
    skip_space(p);
    char *end;
    long c = strtol(p->src + p->pos, &end, 10);
    if (end == p->src + p->pos || c < 1 || c > MAX_LAYERS) return syntax(p, "expected a repeat count 1..10000");
    p->pos = (size_t)(end - p->src);
    *count = (int)c;
    return NF_OK;
}

/* "(key=value, ...)" into a, defaults first. */
static nf_status options(parser *p, const layer_kind *k, spec_args *a) {
    memset(a, 0, sizeof *a);
    a->parity = -1;
    for (int i = 0; i < MAX_OPTS && k->keys[i]; i++) {
        a->key[i] = k->keys[i];
        snprintf(a->val[i], sizeof a->val[i], "%s", k->defs[i]);
    }
    skip_space(p);
    if (p->src[p->pos] != '(') return NF_OK;
    p->pos++;
    while (1) {
        skip_space(p);
        if (p->src[p->pos] == ')') break;
        size_t kl = word(p, p->pos);
        const char *key = p->src + p->pos;
        int slot = -1, is_parity = k->alternates && kl == 6 && !strncmp(key, "parity", 6);
        for (int i = 0; i < MAX_OPTS && k->keys[i]; i++)
            if (strlen(k->keys[i]) == kl && !strncmp(k->keys[i], key, kl)) slot = i;
        if (!kl || (slot < 0 && !is_parity)) {
            char known[128] = "";
            for (int i = 0; i < MAX_OPTS && k->keys[i]; i++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", k->keys[i]);
            if (k->alternates) snprintf(known + strlen(known), sizeof known - strlen(known), "%sparity", *known ? ", " : "");
            return nf_fail(NF_ERR_ARG, "model spec: %s has no option '%.*s' at column %zu (options: %s)", k->name,
                           (int)kl, key, p->pos + 1, *known ? known : "none");
        }
        p->pos += kl;
        skip_space(p);
        if (p->src[p->pos] != '=') return syntax(p, "expected '=' after an option name");
        p->pos++;
        skip_space(p);
        size_t vl = word(p, p->pos);
        if (!vl || vl >= sizeof a->val[0]) return syntax(p, "expected an option value");
        if (is_parity) {
            if (vl != 1 || (p->src[p->pos] != '0' && p->src[p->pos] != '1'))
                return nf_fail(NF_ERR_ARG, "model spec: %s option parity=%.*s is not 0 or 1", k->name, (int)vl,
                               p->src + p->pos);
            a->parity = p->src[p->pos] - '0';
        } else {
            snprintf(a->val[slot], sizeof a->val[slot], "%.*s", (int)vl, p->src + p->pos);
        }
        p->pos += vl;
        skip_space(p);
        if (p->src[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->src[p->pos] != ')') return syntax(p, "expected ',' or ')' in the options");
    }
    p->pos++;
    return NF_OK;
}

static nf_status add_layers(parser *p, int kind, const spec_args *a, int count) {
    const layer_kind *k = &kinds[kind];
    for (int r = 0; r < count; r++) {
        if (p->model->nlayers >= MAX_LAYERS) return nf_fail(NF_ERR_ARG, "model spec: more than %d layers", MAX_LAYERS);
        int parity = a->parity >= 0 ? a->parity : p->counts[kind] % 2;
        p->counts[kind]++;
        nf_layer *l;
        spec_args ctx = *a;
        ctx.features = nf_sequential_cond_features(p->model);
        ctx.cond = p->model->cond;
        ctx.summarized = p->model->nlayers && p->model->layers[0]->ops->cond_forward;
        NF_TRY(k->make(&l, nf_sequential_current_shape(p->model), &ctx, parity));
        char label[LABEL_MAX];
        label_of(k, a, parity, label, sizeof label);
        NF_TRY(nf_sequential_add(p->model, l, label));
        NF_TRY(canon_put(p, p->canon_len ? ", " : ""));
        NF_TRY(canon_put(p, label));
    }
    return NF_OK;
}

static nf_status parse_items(parser *p, int depth);

static nf_status parse_prior(parser *p) {
    if (p->prior_set) return syntax(p, "the prior is given twice");
    p->pos += 6; /* "prior=" */
    size_t vl = word(p, p->pos);
    if (vl == 8 && !strncmp(p->src + p->pos, "standard", 8)) p->prior = NF_PRIOR_STANDARD;
    else if (vl == 8 && !strncmp(p->src + p->pos, "diagonal", 8)) p->prior = NF_PRIOR_DIAGONAL;
    else return syntax(p, "expected prior=standard or prior=diagonal");
    p->pos += vl;
    p->prior_set = 1;
    return NF_OK;
}

static nf_status parse_item(parser *p, int depth) {
    const char *at = p->src + p->pos;
    if (*at == '(') {
        if (depth > 8) return syntax(p, "groups nested too deeply");
        size_t start = ++p->pos;
        NF_TRY(parse_items(p, depth + 1));
        if (p->src[p->pos] != ')') return syntax(p, "expected ')' closing the group");
        p->pos++;
        int count;
        NF_TRY(repeat_count(p, &count));
        size_t after = p->pos;
        for (int r = 1; r < count; r++) { /* parse the group again: parities keep alternating */
            p->pos = start;
            NF_TRY(parse_items(p, depth + 1));
        }
        p->pos = after;
        return NF_OK;
    }
    if (!strncmp(at, "prior=", 6)) {
        if (depth) return syntax(p, "the prior cannot be inside a group");
        return parse_prior(p);
    }
    size_t nl = word(p, p->pos);
    int kind = -1;
    for (int k = 0; k < NKINDS; k++)
        if (strlen(kinds[k].name) == nl && !strncmp(kinds[k].name, at, nl)) kind = k;
    if (kind < 0) {
        char known[256] = "";
        for (int k = 0; k < NKINDS; k++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", kinds[k].name);
        if (!nl) return syntax(p, "expected a layer name");
        return nf_fail(NF_ERR_ARG, "model spec: unknown layer '%.*s' at column %zu (known: %s)", (int)nl, at,
                       p->pos + 1, known);
    }
    p->pos += nl;
    spec_args a;
    NF_TRY(options(p, &kinds[kind], &a));
    int count;
    NF_TRY(repeat_count(p, &count));
    return add_layers(p, kind, &a, count);
}

/* Items up to the end or a ')' (left for the caller). */
static nf_status parse_items(parser *p, int depth) {
    while (1) {
        while (is_sep(p->src[p->pos])) p->pos++;
        char c = p->src[p->pos];
        if (!c || c == ')') {
            if (c == ')' && !depth) return syntax(p, "unbalanced ')'");
            return NF_OK;
        }
        NF_TRY(parse_item(p, depth));
        c = p->src[p->pos];
        if (c && c != ')' && !is_sep(c)) return syntax(p, "expected ',' between items");
    }
}

/* The prior must be known before the first layer is added: find "prior=" first. */
static nf_status find_prior(parser *p) {
    const char *at = strstr(p->src, "prior=");
    if (!at) return NF_OK;
    p->pos = (size_t)(at - p->src);
    nf_status s = parse_prior(p);
    p->prior_set = 0; /* parsed again, in place, by parse_items */
    p->pos = 0;
    return s;
}

nf_status nf_sequential_from_spec(nf_flow **out, nf_shape in, const char *spec, uint64_t seed) {
    nf_shape none = {0, 0, 0, 0, 0};
    return nf_sequential_from_spec_cond(out, in, none, spec, seed);
}

nf_status nf_sequential_from_spec_cond(nf_flow **out, nf_shape in, nf_shape cond, const char *spec, uint64_t seed) {
    NF_CHECK_NULL(out);
    *out = NULL;
    NF_CHECK_NULL(spec);
    parser p = {.src = spec};
    NF_TRY(find_prior(&p));
    NF_TRY(nf_sequential_create(&p.model, in, p.prior));
    nf_status s = NF_OK;
    if (cond.c || cond.d || cond.h || cond.w) s = nf_sequential_set_condition(p.model, cond);
    if (s == NF_OK) s = parse_items(&p, 0);
    if (s == NF_OK && p.model->nlayers == 0 && p.prior == NF_PRIOR_STANDARD)
        s = nf_fail(NF_ERR_ARG, "model spec: no layers in \"%.40s\"", spec);
    char head[32];
    snprintf(head, sizeof head, "prior=%s", p.prior == NF_PRIOR_DIAGONAL ? "diagonal" : "standard");
    if (s == NF_OK && p.canon_len) {
        size_t len = strlen(head) + 2 + p.canon_len + 1;
        char *full = nf_alloc(len);
        if (!full) s = nf_fail(NF_ERR_NOMEM, "model spec: out of memory");
        else {
            snprintf(full, len, "%s, %s", head, p.canon);
            s = nf_sequential_set_spec(p.model, full);
            nf_free(full);
        }
    } else if (s == NF_OK) {
        s = nf_sequential_set_spec(p.model, head);
    }
    nf_free(p.canon);
    if (s == NF_OK) s = nf_sequential_build(p.model, seed);
    if (s != NF_OK) {
        nf_flow_destroy(p.model);
        return s;
    }
    *out = p.model;
    return NF_OK;
}
