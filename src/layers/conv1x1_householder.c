/* Householder 1x1 convolution (InvertibleNetworks.jl Conv1x1): W = H3 H2 H1,
 * H_i = I - 2 v_i v_i^T / (v_i^T v_i). W is orthogonal: logdet 0 and W^-1 = W^T.
 * Parameter view: v1 (c) | v2 (c) | v3 (c).
 * Building W and back-propagating to the v_i costs O(c^2): every product with an H_i
 * is a rank-1 update, never a dense c^3 product. A zero v_i (never drawn by the init)
 * is read as H_i = I rather than a division by zero. */
#include "conv1x1.h"

#include <math.h>
#include <string.h>

static const nf_real *v_of(const nf_layer *l, int i) { return l->param + (size_t)i * l->in.c; }

static double dot(const nf_real *v, int c) {
    double s = 0;
    for (int i = 0; i < c; i++) s += (double)v[i] * v[i];
    return s;
}

/* M (c, c) <- H M (right = 0) or M H (right = 1), H = I - 2 v v^T / s; t (c) is scratch. */
static void reflect(double *M, const nf_real *v, int right, int c, double *t) {
    double s = dot(v, c);
    if (s == 0) return;
    for (int k = 0; k < c; k++) t[k] = 0;
    /* left: t = M^T v; right: t = M v */
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) t[right ? i : j] += M[(size_t)i * c + j] * v[right ? j : i];
    /* left: M -= (2/s) v t^T; right: M -= (2/s) t v^T */
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) M[(size_t)i * c + j] -= 2.0 / s * (right ? t[i] * v[j] : v[i] * t[j]);
}

/* a (c, c) matrix and three vectors */
static size_t hh_scratch(int c) { return (size_t)c * c + 3 * (size_t)c; }

static nf_status hh_weight(const nf_layer *l, double *W, double *logabsdet, double *scr) {
    int c = l->in.c;
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) W[(size_t)i * c + j] = i == j;
    for (int i = 0; i < 3; i++) reflect(W, v_of(l, i), 0, c, scr); /* W = H3 H2 H1 */
    *logabsdet = 0;
    return NF_OK;
}

/* dloss/dH_i from G = dloss/dW, as two reflections of G (H_i is symmetric):
 * dH1 = H2 H3 G, dH2 = H3 G H1, dH3 = G H1 H2. */
static const struct {
    int v, right;
} dH_steps[3][2] = {{{2, 0}, {1, 0}}, {{2, 0}, {0, 1}}, {{0, 1}, {1, 1}}};

static void hh_chain(nf_layer *l, const double *G, double dld, double *scr) {
    int c = l->in.c;
    size_t c2 = (size_t)c * c;
    double *T = scr, *t = T + c2, *Tv = t + c, *TTv = Tv + c;
    for (int i = 0; i < 3; i++) {
        memcpy(T, G, c2 * sizeof(double));
        for (int k = 0; k < 2; k++) reflect(T, v_of(l, dH_steps[i][k].v), dH_steps[i][k].right, c, t);
        const nf_real *v = v_of(l, i);
        double s = dot(v, c), vTv = 0;
        if (s == 0) continue;
        for (int a = 0; a < c; a++) Tv[a] = TTv[a] = 0;
        for (int a = 0; a < c; a++)
            for (int b = 0; b < c; b++) {
                Tv[a] += T[(size_t)a * c + b] * v[b];
                TTv[b] += T[(size_t)a * c + b] * v[a];
            }
        for (int a = 0; a < c; a++) vTv += v[a] * Tv[a];
        /* H = I - 2 v v^T / s: dv = -(2/s)(T v + T^T v) + (4/s^2)(v^T T v) v */
        nf_real *g = l->grad + (size_t)i * c;
        for (int a = 0; a < c; a++) g[a] += (nf_real)(-2.0 / s * (Tv[a] + TTv[a]) + 4.0 / (s * s) * vTv * v[a]);
    }
}

/* v_i ~ U(-a, a), a = sqrt(6 / (c + 1)) (Flux glorot_uniform of a (c, 1) array). */
static void hh_init_params(nf_layer *l, nf_rng *rng) {
    double a = sqrt(6.0 / (l->in.c + 1.0));
    for (size_t k = 0; k < l->nparams; k++) l->param[k] = (nf_real)(a * (2.0 * nf_rng_uniform(rng) - 1.0));
}

static int hh_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    int c = l->in.c;
    static const char *names[3] = {"v1", "v2", "v3"};
    for (int i = 0; i < 3 && i < max; i++)
        out[i] = (nf_param_block){.name = names[i], .offset = (size_t)i * c, .rank = 1, .dims = {c}};
    return 3;
}

static size_t hh_nparams(int c) { return 3 * (size_t)c; }

const conv1x1_kind conv1x1_householder = {
    .name = "householder",
    .nparams = hh_nparams,
    .init_params = hh_init_params,
    .param_blocks = hh_param_blocks,
    .scratch = hh_scratch,
    .weight = hh_weight,
    .solve = NULL, /* orthogonal: W^-1 = W^T */
    .chain = hh_chain,
};
