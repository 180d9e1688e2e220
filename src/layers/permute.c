/* Fixed permutation of the D values of a sample: y_i = x_perm[i]; logdet 0.
 * The permutation is a frozen parameter block ("perm", as float indices) so that a
 * saved model restores it exactly; it is checked on every call because a file may
 * carry a corrupt one. Kinds: reverse (the tutorials' flip, y_i = x_{D-1-i}) and
 * random (drawn from the rng at initialisation). */
#include "vec_layer.h"

#include <math.h>
#include <string.h>

typedef struct permute {
    nf_layer base;
    nf_permute_kind kind;
} permute;

static size_t pm_workspace(const nf_layer *l, nf_shape in) {
    size_t D = (size_t)nf_vec_dim(l);
    return nf_work_bytes((size_t)in.n * D) + nf_work_bytes(D);
}

/* Fails unless perm holds each of 0..D-1 once; seen has D elements of scratch. */
static nf_status check_perm(const nf_layer *l, nf_real *seen) {
    int D = nf_vec_dim(l);
    memset(seen, 0, (size_t)D * sizeof(nf_real));
    for (int i = 0; i < D; i++) {
        double v = l->param[i];
        long k = lrint(v);
        if (!(fabs(v - (double)k) < 1e-3) || k < 0 || k >= D || seen[k] != 0)
            return nf_fail(NF_ERR_FORMAT, "permute: parameter 'perm' is not a permutation of 0..%d (entry %d = %g)",
                           D - 1, i, v);
        seen[k] = 1;
    }
    return NF_OK;
}

/* dir 1: t_i <- t_perm[i] (forward); dir 0: t_perm[i] <- t_i (inverse). */
static nf_status apply(nf_layer *l, nf_tensor *t, int dir, nf_ctx *ctx) {
    int D = nf_vec_dim(l), n = t->n;
    size_t off = 0;
    nf_real *tmp = nf_ctx_take(ctx, &off, (size_t)n * D), *seen = nf_ctx_take(ctx, &off, (size_t)D);
    NF_TRY(check_perm(l, seen));
    memcpy(tmp, t->data, (size_t)n * D * sizeof(nf_real));
    const nf_real *perm = l->param;
#pragma omp parallel for schedule(static) if ((size_t)n * D > NF_VEC_OMP_MIN)
    for (int b = 0; b < n; b++) {
        const nf_real *src = tmp + (size_t)b * D;
        nf_real *dst = t->data + (size_t)b * D;
        for (int i = 0; i < D; i++) {
            long k = lrint(perm[i]);
            if (dir) dst[i] = src[k];
            else dst[k] = src[i];
        }
    }
    return NF_OK;
}

static nf_status pm_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx) { return apply(l, x, 1, ctx); }
static nf_status pm_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx) { return apply(l, y, 0, ctx); }
/* x = P^-1 y and dloss/dx = P^-1 dloss/dy: the same inverse permutation twice. */
static nf_status pm_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx) {
    NF_TRY(apply(l, y, 0, ctx));
    return apply(l, dy, 0, ctx);
}

static void pm_init_params(nf_layer *l, nf_rng *rng) {
    int D = nf_vec_dim(l);
    for (int i = 0; i < D; i++) l->param[i] = (nf_real)(((permute *)l)->kind == NF_PERMUTE_REVERSE ? D - 1 - i : i);
    if (((permute *)l)->kind != NF_PERMUTE_RANDOM) return;
    for (int i = D - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)(nf_rng_u64(rng) % (uint64_t)(i + 1));
        nf_real tmp = l->param[i];
        l->param[i] = l->param[j];
        l->param[j] = tmp;
    }
}

static int pm_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    nf_param_block b = nf_vec_block("perm", 0, (size_t)nf_vec_dim(l), 1);
    return nf_vec_blocks(&b, 1, out, max);
}

static const nf_layer_ops permute_ops = {
    .name = "permute",
    .forward = pm_forward,
    .inverse = pm_inverse,
    .backward = pm_backward,
    .workspace = pm_workspace,
    .init_params = pm_init_params,
    .param_blocks = pm_param_blocks,
    .destroy = nf_vec_layer_free,
};

nf_status nf_permute_create(nf_layer **out, nf_shape in, nf_permute_kind kind) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (kind != NF_PERMUTE_REVERSE && kind != NF_PERMUTE_RANDOM)
        return nf_fail(NF_ERR_ARG, "permute: unknown kind %d (NF_PERMUTE_REVERSE or NF_PERMUTE_RANDOM)", (int)kind);
    NF_TRY(nf_vec_layer_new(out, sizeof(permute), &permute_ops, in, nf_shape_sample_count(in), "permute"));
    ((permute *)*out)->kind = kind;
    return NF_OK;
}
