/* Scaling, dequantisation and normalisation of samples, and streaming channel statistics
 * (see h5_preprocess.h). */
#include "io/h5_preprocess.h"

#include <math.h>

nf_status nf_preprocess_init(nf_preprocess *p, int integer, int bits, int is_signed, int c, size_t s) {
    *p = (nf_preprocess){0};
    p->integer = integer;
    p->bits = bits;
    p->offset = integer && is_signed ? ldexp(1.0, bits - 1) : 0.0;
    p->c = c;
    p->s = s;
    p->mean = nf_calloc((size_t)c, sizeof(double));
    p->std = nf_alloc((size_t)c * sizeof(double));
    if (!p->mean || !p->std) {
        nf_preprocess_free(p);
        return nf_fail(NF_ERR_NOMEM, "nf_preprocess_init: out of memory for %d channels", c);
    }
    for (int i = 0; i < c; i++) p->std[i] = 1.0;
    return NF_OK;
}

void nf_preprocess_free(nf_preprocess *p) {
    nf_free(p->mean);
    nf_free(p->std);
    p->mean = p->std = NULL;
}

nf_status nf_check_finite(const nf_real *x, size_t n, long long index, const char *where) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return nf_fail(NF_ERR_NUMERIC, "%s: sample %lld holds %s at element %zu of %zu (both counted from 0)",
                           where, index, isnan(x[i]) ? "NaN" : "Inf or a number beyond float range", i, n);
    return NF_OK;
}

nf_status nf_preprocess_sample(const nf_preprocess *p, nf_real *x, long long index, const char *where) {
    size_t n = (size_t)p->c * p->s;
    if (p->integer) {
        double top = ldexp(1.0, p->bits);
        for (size_t i = 0; i < n; i++) {
            double v = x[i] + p->offset;
            if (v < 0 || v >= top)
                return nf_fail(NF_ERR_FORMAT, "%s: sample %lld holds %g, outside the %d-bit range (nflow_bits)", where,
                               index, (double)x[i], p->bits);
            x[i] = (nf_real)v;
        }
        return NF_OK;
    }
    NF_TRY(nf_check_finite(x, n, index, where));
    if (!p->normalize) return NF_OK;
    for (int c = 0; c < p->c; c++) {
        /* x = (v - mean_c) / std_c */
        nf_real *q = x + (size_t)c * p->s;
        double m = p->mean[c], inv = 1.0 / p->std[c];
        for (size_t i = 0; i < p->s; i++) q[i] = (nf_real)((q[i] - m) * inv);
    }
    return NF_OK;
}

void nf_preprocess_dequantize(const nf_preprocess *p, nf_real *x, size_t count, nf_rng *rng) {
    if (!p->integer) return;
    /* x = (v + u) / 2^b - 0.5 */
    double scale = ldexp(1.0, -p->bits);
    for (size_t i = 0; i < count; i++) {
        double u = rng ? nf_rng_uniform(rng) : 0.5;
        x[i] = (nf_real)((x[i] + u) * scale - 0.5);
    }
}

void nf_preprocess_invert(const nf_preprocess *p, nf_real *x, size_t n) {
    size_t per = (size_t)p->c * p->s;
    if (p->integer) {
        /* v = (x + 0.5) * 2^b - 0.5 - offset inverts the bin-centre mapping; rounding it
         * gives the level of any x in the bin */
        double top = ldexp(1.0, p->bits);
        for (size_t i = 0; i < n * per; i++) x[i] = (nf_real)((x[i] + 0.5) * top - 0.5 - p->offset);
        return;
    }
    for (size_t k = 0; k < n; k++)
        for (int c = 0; c < p->c; c++) {
            nf_real *q = x + k * per + (size_t)c * p->s;
            for (size_t i = 0; i < p->s; i++) q[i] = (nf_real)(q[i] * p->std[c] + p->mean[c]);
        }
}

double nf_preprocess_nll_offset(const nf_preprocess *p) {
    if (p->integer) return (double)p->c * (double)p->s * p->bits * log(2.0);
    double sum = 0;
    for (int c = 0; c < p->c; c++) sum += (double)p->s * log(p->std[c]);
    return p->normalize ? sum : 0.0;
}

nf_status nf_chan_stats_init(nf_chan_stats *st, int c) {
    *st = (nf_chan_stats){0};
    st->c = c;
    st->mean = nf_calloc((size_t)c, sizeof(double));
    st->m2 = nf_calloc((size_t)c, sizeof(double));
    if (!st->mean || !st->m2) {
        nf_chan_stats_free(st);
        return nf_fail(NF_ERR_NOMEM, "nf_chan_stats_init: out of memory for %d channels", c);
    }
    return NF_OK;
}

void nf_chan_stats_add(nf_chan_stats *st, const nf_real *x, size_t s) {
    double nb = (double)s, na = st->count, n = na + nb;
    for (int c = 0; c < st->c; c++) {
        const nf_real *q = x + (size_t)c * s;
        double mb = 0, m2b = 0;
        for (size_t i = 0; i < s; i++) mb += q[i];
        mb /= nb;
        for (size_t i = 0; i < s; i++) m2b += (q[i] - mb) * (q[i] - mb);
        /* merge (na, mean, m2) with (nb, mb, m2b): delta = mb - mean */
        double delta = mb - st->mean[c];
        st->mean[c] += delta * nb / n;
        st->m2[c] += m2b + delta * delta * na * nb / n;
    }
    st->count = n;
}

void nf_chan_stats_result(const nf_chan_stats *st, double *mean, double *std) {
    for (int c = 0; c < st->c; c++) {
        double sd = st->count > 0 ? sqrt(st->m2[c] / st->count) : 0.0;
        mean[c] = st->mean[c];
        std[c] = sd > 0 ? sd : 1.0;
    }
}

void nf_chan_stats_free(nf_chan_stats *st) {
    nf_free(st->mean);
    nf_free(st->m2);
    st->mean = st->m2 = NULL;
}
