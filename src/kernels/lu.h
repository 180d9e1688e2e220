/* Dense LU factorisation with partial pivoting, in double, for the small square
 * matrices of the 1x1 convolution and the linear flow (and the tests' brute-force
 * log-determinants). */
#ifndef NF_LU_H
#define NF_LU_H

/* A (n, n) row-major <- its L (unit lower, below the diagonal) and U factors; at step
 * k row k was swapped with row piv[k] (LAPACK style). Returns log|det A|, or -INFINITY
 * when a pivot is zero or not finite (A is then only partly factored). */
double nf_lu_factor(double *A, int *piv, int n);
/* rows (n) <- the row permutation the swaps piv make: (L U)[i, :] = A[rows[i], :]. */
void nf_lu_rows(const int *piv, int *rows, int n);
/* v (n) <- A^-1 v from nf_lu_factor's output. */
void nf_lu_solve(const double *LU, const int *piv, double *v, int n);
/* v (n) <- A^-T v. */
void nf_lu_solve_t(const double *LU, const int *piv, double *v, int n);

#endif
