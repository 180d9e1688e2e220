/* One flat buffer of parameters and one of gradients; layers hold views. */
#include "nf_internal.h"

#include <string.h>

nf_status nf_params_bind(nf_params *p, nf_layer **layers, int nlayers, nf_rng *rng) {
    NF_CHECK_NULL(p);
    NF_CHECK_NULL(rng);
    if (nlayers < 0 || (nlayers > 0 && !layers)) return nf_fail(NF_ERR_ARG, "nf_params_bind: no layers");
    size_t count = 0;
    for (int i = 0; i < nlayers; i++) {
        if (!layers[i]) return nf_fail(NF_ERR_ARG, "nf_params_bind: layer %d is NULL", i);
        count += layers[i]->nparams;
    }
    p->count = count;
    p->value = nf_calloc(count ? count : 1, sizeof(nf_real));
    p->grad = nf_calloc(count ? count : 1, sizeof(nf_real));
    p->frozen = nf_calloc(count ? count : 1, 1);
    if (!p->value || !p->grad || !p->frozen) {
        nf_params_free(p);
        return nf_fail(NF_ERR_NOMEM, "nf_params_bind: out of memory for %zu parameters", count);
    }
    size_t off = 0;
    for (int i = 0; i < nlayers; i++) {
        nf_layer *l = layers[i];
        l->param = p->value + off;
        l->grad = p->grad + off;
        off += l->nparams;
        if (l->ops->init_params) l->ops->init_params(l, rng);
        if (!l->ops->param_blocks) continue;
        nf_param_block blocks[16];
        int nb = l->ops->param_blocks(l, blocks, 16);
        for (int b = 0; b < nb && b < 16; b++) {
            if (!blocks[b].frozen) continue;
            size_t cnt = 1;
            for (int r = 0; r < blocks[b].rank; r++) cnt *= (size_t)blocks[b].dims[r];
            memset(p->frozen + (l->param - p->value) + blocks[b].offset, 1, cnt);
        }
    }
    return NF_OK;
}

void nf_params_zero_grad(nf_params *p) {
    if (p && p->grad) memset(p->grad, 0, p->count * sizeof(nf_real));
}

void nf_params_free(nf_params *p) {
    if (!p) return;
    nf_free(p->value);
    nf_free(p->grad);
    nf_free(p->frozen);
    p->value = p->grad = NULL;
    p->frozen = NULL;
    p->count = 0;
}

nf_status nf_ctx_reserve(nf_ctx *ctx, size_t bytes) {
    NF_CHECK_NULL(ctx);
    if (bytes <= ctx->work_bytes && (ctx->work || !bytes)) return NF_OK;
    void *w = nf_alloc(bytes);
    if (!w) return nf_fail(NF_ERR_NOMEM, "nf_ctx_reserve: out of memory for %zu bytes of workspace", bytes);
    nf_free(ctx->work);
    ctx->work = w;
    ctx->work_bytes = bytes;
    return NF_OK;
}

void nf_ctx_free(nf_ctx *ctx) {
    if (!ctx) return;
    nf_free(ctx->work);
    ctx->work = NULL;
    ctx->work_bytes = 0;
}

size_t nf_work_bytes(size_t count) { return (count * sizeof(nf_real) + 63) / 64 * 64; }

nf_real *nf_ctx_take(nf_ctx *ctx, size_t *off, size_t count) {
    nf_real *p = (nf_real *)((unsigned char *)ctx->work + *off);
    *off += nf_work_bytes(count);
    return p;
}
