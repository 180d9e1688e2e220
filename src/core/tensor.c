/* Contiguous NCDHW tensors. */
#include "nf_internal.h"

nf_status nf_tensor_alloc(nf_tensor *t, int n, int c, int d, int h, int w) {
    NF_CHECK_NULL(t);
    t->data = NULL;
    if (n <= 0 || c <= 0 || d <= 0 || h <= 0 || w <= 0)
        return nf_fail(NF_ERR_SHAPE, "nf_tensor_alloc: every size must be positive, got (%d, %d, %d, %d, %d)",
                       n, c, d, h, w);
    t->n = n, t->c = c, t->d = d, t->h = h, t->w = w;
    t->data = nf_calloc(nf_tensor_count(t), sizeof(nf_real));
    if (!t->data) return nf_fail(NF_ERR_NOMEM, "nf_tensor_alloc: out of memory for %zu values", nf_tensor_count(t));
    return NF_OK;
}

void nf_tensor_free(nf_tensor *t) {
    if (!t) return;
    nf_free(t->data);
    t->data = NULL;
}

nf_tensor nf_tensor_view(nf_real *data, int n, int c, int d, int h, int w) {
    nf_tensor t = {data, n, c, d, h, w};
    return t;
}

size_t nf_tensor_sample_count(const nf_tensor *t) { return (size_t)t->c * t->d * t->h * t->w; }
size_t nf_tensor_count(const nf_tensor *t) { return (size_t)t->n * nf_tensor_sample_count(t); }
size_t nf_shape_sample_count(nf_shape s) { return (size_t)s.c * s.d * s.h * s.w; }

nf_shape nf_tensor_shape(const nf_tensor *t) {
    nf_shape s = {t->n, t->c, t->d, t->h, t->w};
    return s;
}
