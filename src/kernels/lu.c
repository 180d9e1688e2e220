/* Dense LU with partial pivoting (see lu.h). */
#include "kernels/lu.h"

#include <math.h>
#include <stddef.h>

static void swap_rows(double *A, int n, int a, int b) {
    for (int j = 0; j < n; j++) {
        double t = A[(size_t)a * n + j];
        A[(size_t)a * n + j] = A[(size_t)b * n + j];
        A[(size_t)b * n + j] = t;
    }
}

double nf_lu_factor(double *A, int *piv, int n) {
    double logdet = 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(A[(size_t)i * n + k]) > fabs(A[(size_t)p * n + k])) p = i;
        piv[k] = p;
        if (p != k) swap_rows(A, n, k, p);
        double d = A[(size_t)k * n + k];
        if (d == 0 || !isfinite(d)) return -INFINITY;
        logdet += log(fabs(d));
        for (int i = k + 1; i < n; i++) {
            double f = A[(size_t)i * n + k] /= d;
            for (int j = k + 1; j < n; j++) A[(size_t)i * n + j] -= f * A[(size_t)k * n + j];
        }
    }
    return logdet;
}

void nf_lu_rows(const int *piv, int *rows, int n) {
    for (int i = 0; i < n; i++) rows[i] = i;
    for (int k = 0; k < n; k++) {
        int t = rows[k];
        rows[k] = rows[piv[k]];
        rows[piv[k]] = t;
    }
}

static void swap_entries(double *v, int a, int b) {
    double t = v[a];
    v[a] = v[b];
    v[b] = t;
}

void nf_lu_solve(const double *LU, const int *piv, double *v, int n) {
    for (int k = 0; k < n; k++) swap_entries(v, k, piv[k]);
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++) v[i] -= LU[(size_t)i * n + j] * v[j];
    for (int i = n - 1; i >= 0; i--) {
        for (int j = i + 1; j < n; j++) v[i] -= LU[(size_t)i * n + j] * v[j];
        v[i] /= LU[(size_t)i * n + i];
    }
}

void nf_lu_solve_t(const double *LU, const int *piv, double *v, int n) {
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) v[i] -= LU[(size_t)j * n + i] * v[j];
        v[i] /= LU[(size_t)i * n + i];
    }
    for (int i = n - 1; i >= 0; i--)
        for (int j = i + 1; j < n; j++) v[i] -= LU[(size_t)j * n + i] * v[j];
    for (int k = n - 1; k >= 0; k--) swap_entries(v, k, piv[k]);
}
