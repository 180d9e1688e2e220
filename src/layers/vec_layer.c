/* Shared pieces of the vector layers (see vec_layer.h). */
#include "vec_layer.h"

#include <string.h>

nf_status nf_vec_layer_new(nf_layer **out, size_t bytes, const nf_layer_ops *ops, nf_shape in, size_t nparams,
                           const char *who) {
    NF_CHECK_NULL(out);
    *out = NULL;
    if (in.c <= 0 || in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: input shape (%d, %d, %d, %d) has a non-positive size", who, in.c, in.d,
                       in.h, in.w);
    nf_layer *l = nf_calloc(1, bytes);
    if (!l) return nf_fail(NF_ERR_NOMEM, "%s: out of memory", who);
    l->ops = ops;
    l->in = in;
    l->nparams = nparams;
    *out = l;
    return NF_OK;
}

void nf_vec_layer_free(nf_layer *l) { nf_free(l); }

int nf_vec_blocks(const nf_param_block *blocks, int count, nf_param_block *out, int max) {
    for (int i = 0; i < count && i < max; i++) out[i] = blocks[i];
    return count;
}

nf_param_block nf_vec_block(const char *name, size_t offset, size_t count, int frozen) {
    nf_param_block b = {.name = name, .offset = offset, .rank = 1, .dims = {(int)count}, .frozen = frozen};
    return b;
}

void nf_mask_split_rows(const nf_real *x, int n, int D, int parity, nf_real *xa, int lda, nf_real *xb) {
    int da = nf_mask_count_a(D, parity), db = D - da;
    for (int b = 0; b < n; b++) {
        const nf_real *xs = x + (size_t)b * D;
        nf_real *pa = xa + (size_t)b * lda, *pb = xb + (size_t)b * db;
        for (int i = 0; i < D; i++) {
            if (i % 2 == parity) *pa++ = xs[i];
            else *pb++ = xs[i];
        }
    }
}

void nf_mask_merge_rows(nf_real *x, int n, int D, int parity, const nf_real *xa, int lda, const nf_real *xb) {
    int da = nf_mask_count_a(D, parity), db = D - da;
    for (int b = 0; b < n; b++) {
        nf_real *xs = x + (size_t)b * D;
        const nf_real *pa = xa ? xa + (size_t)b * lda : NULL, *pb = xb ? xb + (size_t)b * db : NULL;
        for (int i = 0; i < D; i++) {
            if (i % 2 == parity) {
                if (pa) xs[i] = *pa++;
            } else if (pb) {
                xs[i] = *pb++;
            }
        }
    }
}

void nf_mask_split(const nf_real *x, int n, int D, int parity, nf_real *xa, nf_real *xb) {
    nf_mask_split_rows(x, n, D, parity, xa, nf_mask_count_a(D, parity), xb);
}

void nf_mask_merge(nf_real *x, int n, int D, int parity, const nf_real *xa, const nf_real *xb) {
    nf_mask_merge_rows(x, n, D, parity, xa, nf_mask_count_a(D, parity), xb);
}

void nf_cond_put(nf_real *rows, int n, int lda, int da, const nf_tensor *cond) {
    int S = lda - da;
    if (!cond || S <= 0) return;
    for (int b = 0; b < n; b++)
        memcpy(rows + (size_t)b * lda + da, cond->data + (size_t)b * S, (size_t)S * sizeof(nf_real));
}

void nf_cond_take(const nf_real *rows, int n, int lda, int da, nf_tensor *dcond) {
    int S = lda - da;
    if (!dcond || S <= 0) return;
    for (int b = 0; b < n; b++)
        for (int k = 0; k < S; k++) dcond->data[(size_t)b * S + k] += rows[(size_t)b * lda + da + k];
}

nf_shape nf_cond_shape(int S) {
    nf_shape s = {0, 0, 0, 0, 0};
    if (S > 0) s = (nf_shape){1, S, 1, 1, 1};
    return s;
}
