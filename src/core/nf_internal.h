/* Internal helpers shared by the library's modules: BLAS names that follow nf_real,
 * scratch carving; errors and accounted allocation come from nflow/extend.h (public, for
 * code outside the library). Not installed. */
#ifndef NF_INTERNAL_H
#define NF_INTERNAL_H

#include "nflow.h"
#include "nflow/extend.h" /* nf_fail, nf_alloc/nf_free, NF_TRY, NF_CHECK_NULL */

#include <cblas.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#ifdef NFLOW_DOUBLE
#define nf_gemm cblas_dgemm
#define nf_gemv cblas_dgemv
#else
#define nf_gemm cblas_sgemm
#define nf_gemv cblas_sgemv
#endif

/* Scratch carved from ctx->work, bump style: *off advances by an aligned amount. */
nf_real *nf_ctx_take(nf_ctx *ctx, size_t *off, size_t count);
/* Bytes nf_ctx_take needs for count elements (aligned). */
size_t nf_work_bytes(size_t count);

#endif
