/* Adam and AdamW (decoupled weight decay) over a flat parameter buffer. */
#include "nf_internal.h"

#include <math.h>

nf_status nf_adam_init(nf_adam *a, size_t count, double lr) {
    NF_CHECK_NULL(a);
    if (!(lr > 0) || !isfinite(lr)) return nf_fail(NF_ERR_ARG, "nf_adam_init: learning rate must be > 0, got %g", lr);
    *a = (nf_adam){.lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .count = count};
    a->m = nf_calloc(count ? count : 1, sizeof(nf_real));
    a->v = nf_calloc(count ? count : 1, sizeof(nf_real));
    if (!a->m || !a->v) {
        nf_adam_free(a);
        return nf_fail(NF_ERR_NOMEM, "nf_adam_init: out of memory for %zu moments", count);
    }
    return NF_OK;
}

nf_status nf_adam_step(nf_adam *a, nf_params *p) {
    NF_CHECK_NULL(a);
    NF_CHECK_NULL(p);
    if (p->count != a->count)
        return nf_fail(NF_ERR_SHAPE, "nf_adam_step: optimiser holds %zu moments, the model %zu parameters", a->count,
                       p->count);
    if (!(a->beta1 >= 0 && a->beta1 < 1 && a->beta2 >= 0 && a->beta2 < 1 && a->eps > 0 && a->lr > 0 &&
          a->weight_decay >= 0))
        return nf_fail(NF_ERR_ARG, "nf_adam_step: need 0 <= beta < 1, eps > 0, lr > 0, weight decay >= 0");
    a->step++;
    double b1 = a->beta1, b2 = a->beta2;
    double c1 = 1.0 - pow(b1, (double)a->step), c2 = 1.0 - pow(b2, (double)a->step);
    double lr = a->lr, wd = a->weight_decay, eps = a->eps;
    nf_real *m = a->m, *v = a->v, *w = p->value;
    const nf_real *g = p->grad;
    const unsigned char *frozen = p->frozen;
    long count = (long)p->count;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < count; i++) {
        if (frozen && frozen[i]) continue;
        double gi = g[i];
        double mi = b1 * m[i] + (1.0 - b1) * gi;
        double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        m[i] = (nf_real)mi;
        v[i] = (nf_real)vi;
        w[i] = (nf_real)(w[i] - lr * (mi / c1) / (sqrt(vi / c2) + eps) - lr * wd * w[i]);
    }
    return NF_OK;
}

void nf_adam_free(nf_adam *a) {
    if (!a) return;
    nf_free(a->m);
    nf_free(a->v);
    a->m = a->v = NULL;
}
