/* The affine coupling step on gathered halves, shared by the RealNVP/NICE vector
 * couplings and the HINT nodes:
 *     yb = exp(s(xa)) * xb + t(xa),   ya = xa,   logdet = sum s(xa),
 * s and t two MLPs da -> db (ADCME's AffineHalfFlow), both with their last layer
 * zero-initialised so the step starts as the identity. With clamp > 0 the log-scale
 * is soft-clamped, s = clamp * tanh(s_raw / clamp), so one step scales by at most
 * e^clamp (an unbounded exp(s) can overflow on outliers). Without scale it is NICE's
 * additive coupling yb = xb + t(xa) (logdet 0). The caller gathers xa (n, da) and
 * xb (n, db) into contiguous buffers; the nets' activations live in the workspace,
 * so the backward runs them once, to invert and to backpropagate. */
#ifndef NF_AFFINE_CORE_H
#define NF_AFFINE_CORE_H

#include "mlp.h"

typedef struct nf_affine_core {
    int da, db;   /* conditioner and transformed sizes */
    int scale;    /* 0: additive (no s net) */
    double clamp; /* > 0: s = clamp * tanh(s_raw / clamp) */
    nf_mlp s_net; /* da -> db, parameters first (if scale) */
    nf_mlp t_net; /* da -> db */
} nf_affine_core;

nf_status nf_affine_core_setup(nf_affine_core *c, const char *who, int da, int db, nf_mlp_spec spec, int scale,
                               double clamp);
size_t nf_affine_core_nparams(const nf_affine_core *c);
/* Offset of the t net in the core's parameter view. */
size_t nf_affine_core_t_offset(const nf_affine_core *c);
void nf_affine_core_init(const nf_affine_core *c, nf_real *param, nf_rng *rng);
/* Elements of work the calls below need for a batch of n. */
size_t nf_affine_core_work_count(const nf_affine_core *c, int n);

/* xb (n, db) <- exp(s(xa)) xb + t(xa); logdet[b] += sum_i s_bi. */
void nf_affine_core_forward(const nf_affine_core *c, const nf_real *param, const nf_real *xa, nf_real *xb, int n,
                            double *logdet, nf_real *work);
/* yb (n, db) <- (yb - t(xa)) exp(-s(xa)). */
void nf_affine_core_inverse(const nf_affine_core *c, const nf_real *param, const nf_real *xa, nf_real *yb, int n,
                            nf_real *work);
/* From ya = xa and yb: yb <- xb, dyb <- dloss/dxb, dxa += the nets' share of
 * dloss/dxa, grad += dloss/dparams (with the -logdet term weighted by dlogdet). */
void nf_affine_core_backward(const nf_affine_core *c, const nf_real *param, nf_real *grad, const nf_real *xa,
                             nf_real *yb, nf_real *dyb, nf_real *dxa, int n, double dlogdet, nf_real *work);

#endif
