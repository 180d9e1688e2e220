/* LU-parametrised 1x1 convolution (Glow): W = P L (U + diag(sign * exp(logs))).
 * L is unit lower triangular, U strictly upper, P a fixed permutation, sign a fixed
 * +-1 vector; log|det W| = sum(logs) costs O(c). The inverse is two triangular
 * solves on the data (never an explicit W^-1, which would drift from W).
 * Parameter view: lower (c, c) strict lower part used | upper (c, c) strict upper part
 * used | logscale (c) | perm (c) frozen | sign (c) frozen.
 * perm holds integers as nf_real: W row perm[i] = (L U') row i, i.e. P e_i = e_perm[i]. */
#include "conv1x1.h"
#include "kernels/lu.h"

#include <math.h>
#include <string.h>

/* Loops over fewer elements than this stay on one thread: forking costs more. */
#define OMP_MIN_ELEMS 32768

static size_t c2_of(const nf_layer *l) { return (size_t)l->in.c * l->in.c; }
static nf_real *lower_of(const nf_layer *l) { return l->param; }
static nf_real *upper_of(const nf_layer *l) { return l->param + c2_of(l); }
static nf_real *logs_of(const nf_layer *l) { return l->param + 2 * c2_of(l); }
static nf_real *perm_of(const nf_layer *l) { return logs_of(l) + l->in.c; }
static nf_real *sign_of(const nf_layer *l) { return perm_of(l) + l->in.c; }

/* The frozen blocks are read as exact values (rounded index, sign of sign), so small
 * perturbations of them change nothing: their gradient is 0, as frozen means. */
static int perm_at(const nf_layer *l, int i) { return (int)lrint(perm_of(l)[i]); }
static double diag_at(const nf_layer *l, int i) {
    return (sign_of(l)[i] < 0 ? -1.0 : 1.0) * exp((double)logs_of(l)[i]);
}

/* perm must be a permutation of 0..c-1: it indexes memory. seen (c) is scratch. */
static nf_status check_perm(const nf_layer *l, double *seen) {
    int c = l->in.c;
    for (int i = 0; i < c; i++) seen[i] = 0;
    for (int i = 0; i < c; i++) {
        nf_real v = perm_of(l)[i];
        if (!(v >= -0.5 && v < c - 0.5) || seen[perm_at(l, i)])
            return nf_fail(NF_ERR_STATE, "conv1x1(lu): frozen block 'perm' is not a permutation of 0..%d (perm[%d] = %g)",
                           c - 1, i, (double)v);
        seen[perm_at(l, i)] = 1;
    }
    return NF_OK;
}

/* L (c, c) unit lower and Ud = U + diag(sign * exp(logs)) (c, c), full, in double. */
static void unpack(const nf_layer *l, double *L, double *Ud) {
    int c = l->in.c;
    const nf_real *lo = lower_of(l), *up = upper_of(l);
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            L[k] = j < i ? lo[k] : (j == i ? 1.0 : 0.0);
            Ud[k] = j > i ? up[k] : (j == i ? diag_at(l, i) : 0.0);
        }
}

/* c for the permutation check, then L, Ud and three (c, c) products. */
static size_t lu_scratch(int c) { return (size_t)c + 5 * (size_t)c * c; }

static nf_status lu_weight(const nf_layer *l, double *W, double *logabsdet, double *scr) {
    int c = l->in.c;
    size_t c2 = c2_of(l);
    NF_TRY(check_perm(l, scr));
    double *L = scr + c, *Ud = L + c2, *M = Ud + c2;
    unpack(l, L, Ud);
    /* M = L Ud; W = P M */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c, c, c, 1, L, c, Ud, c, 0, M, c);
    for (int i = 0; i < c; i++) memcpy(W + (size_t)perm_at(l, i) * c, M + (size_t)i * c, c * sizeof(double));
    double lad = 0;
    for (int i = 0; i < c; i++) lad += logs_of(l)[i]; /* log|det W| = sum log|diag| */
    *logabsdet = lad;
    return NF_OK;
}

static void lu_solve(const nf_layer *l, nf_real *y, int n, size_t dhw, nf_real *work) {
    int c = l->in.c;
    size_t count = (size_t)n * c * dhw;
    nf_real *z = work, *Ud = work + count;
    /* z = P^T y: channel i of z is channel perm[i] of y */
#pragma omp parallel for schedule(static) if (count > OMP_MIN_ELEMS)
    for (int bi = 0; bi < n * c; bi++) {
        int b = bi / c, i = bi % c;
        const nf_real *src = y + ((size_t)b * c + perm_at(l, i)) * dhw;
        nf_real *dst = z + (size_t)bi * dhw;
        for (size_t v = 0; v < dhw; v++) dst[v] = src[v];
    }
    for (int i = 0; i < c; i++)
        for (int j = 0; j < c; j++) Ud[(size_t)i * c + j] = (nf_real)(j > i ? upper_of(l)[(size_t)i * c + j] : diag_at(l, i));
    conv1x1_trsm(z, lower_of(l), 1, 1, n, c, dhw); /* z <- L^-1 z (trsm reads only the strict lower part) */
    conv1x1_trsm(z, Ud, 0, 0, n, c, dhw);          /* x = Ud^-1 z */
    memcpy(y, z, count * sizeof(nf_real));
}

static void lu_chain(nf_layer *l, const double *G, double dld, double *scr) {
    int c = l->in.c;
    size_t c2 = c2_of(l);
    double *L = scr + c, *Ud = L + c2, *dM = Ud + c2, *dL = dM + c2, *dU = dL + c2;
    unpack(l, L, Ud);
    /* W = P M: dM = P^T G, row i of dM is row perm[i] of G */
    for (int i = 0; i < c; i++) memcpy(dM + (size_t)i * c, G + (size_t)perm_at(l, i) * c, c * sizeof(double));
    /* M = L Ud: dL = dM Ud^T, dUd = L^T dM */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, c, c, 1, dM, c, Ud, c, 0, dL, c);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, c, 1, L, c, dM, c, 0, dU, c);
    nf_real *glo = l->grad, *gup = l->grad + c2, *glogs = l->grad + 2 * c2;
    for (int i = 0; i < c; i++) {
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            if (j < i) glo[k] += (nf_real)dL[k]; /* unused triangles keep a zero gradient */
            if (j > i) gup[k] += (nf_real)dU[k];
        }
        /* d diag / d logs = diag; the -logdet term adds dld to every logs */
        glogs[i] += (nf_real)(dU[(size_t)i * c + i] * Ud[(size_t)i * c + i] + dld);
    }
}

/* ---------------------------------------------------------------- initialisation */

/* The identity: what init falls back to if it cannot get memory (init cannot fail). */
static void init_identity(nf_layer *l) {
    int c = l->in.c;
    memset(l->param, 0, l->nparams * sizeof(nf_real));
    for (int i = 0; i < c; i++) {
        perm_of(l)[i] = (nf_real)i;
        sign_of(l)[i] = 1;
    }
}

/* Q (c, c) <- an orthonormal basis of its columns (Gram-Schmidt, run twice for accuracy). */
static void orthonormalise_columns(double *Q, int c) {
    for (int j = 0; j < c; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < j; k++) {
                double r = 0;
                for (int i = 0; i < c; i++) r += Q[(size_t)i * c + k] * Q[(size_t)i * c + j];
                for (int i = 0; i < c; i++) Q[(size_t)i * c + j] -= r * Q[(size_t)i * c + k];
            }
        double nrm = 0;
        for (int i = 0; i < c; i++) nrm += Q[(size_t)i * c + j] * Q[(size_t)i * c + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < c; i++) Q[(size_t)i * c + j] /= nrm;
    }
}

/* W0 = a random rotation (Q of a Gaussian matrix), stored as its LU factors. */
static void lu_init_params(nf_layer *l, nf_rng *rng) {
    int c = l->in.c;
    size_t c2 = c2_of(l);
    init_identity(l);
    double *A = nf_alloc(c2 * sizeof(double) + 2 * (size_t)c * sizeof(int));
    if (!A) return;
    int *rows = (int *)(A + c2), *swaps = rows + c; /* A[rows[i], :] = (L U)[i, :] */
    for (size_t k = 0; k < c2; k++) A[k] = nf_rng_normal(rng);
    orthonormalise_columns(A, c);
    nf_lu_factor(A, swaps, c); /* a rotation: never singular */
    nf_lu_rows(swaps, rows, c);
    for (int i = 0; i < c; i++) {
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            if (j < i) lower_of(l)[k] = (nf_real)A[k];
            if (j > i) upper_of(l)[k] = (nf_real)A[k];
        }
        double u = A[(size_t)i * c + i];
        logs_of(l)[i] = (nf_real)log(fabs(u));
        sign_of(l)[i] = u < 0 ? -1 : 1;
        perm_of(l)[i] = (nf_real)rows[i];
    }
    nf_free(A);
}

static int lu_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    int c = l->in.c;
    size_t c2 = c2_of(l);
    nf_param_block blocks[5] = {
        {.name = "lower", .offset = 0, .rank = 2, .dims = {c, c}},
        {.name = "upper", .offset = c2, .rank = 2, .dims = {c, c}},
        {.name = "logscale", .offset = 2 * c2, .rank = 1, .dims = {c}},
        {.name = "perm", .offset = 2 * c2 + c, .rank = 1, .dims = {c}, .frozen = 1},
        {.name = "sign", .offset = 2 * c2 + 2 * c, .rank = 1, .dims = {c}, .frozen = 1},
    };
    for (int i = 0; i < 5 && i < max; i++) out[i] = blocks[i];
    return 5;
}

static size_t lu_nparams(int c) { return 2 * (size_t)c * c + 3 * (size_t)c; }

const conv1x1_kind conv1x1_lu = {
    .name = "lu",
    .nparams = lu_nparams,
    .init_params = lu_init_params,
    .param_blocks = lu_param_blocks,
    .scratch = lu_scratch,
    .weight = lu_weight,
    .solve = lu_solve,
    .chain = lu_chain,
};
