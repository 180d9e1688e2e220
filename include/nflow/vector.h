/* Part of nflow.h; include <nflow.h> rather than this file.
 *
 * Vector flows: layers for data that are plain vectors, batches (n, D, 1, 1, 1), as in
 * the 2-D tutorials (two moons, correlated Gaussians). A layer built for a per-sample
 * shape (c, d, h, w) treats each sample as one flat vector of D = c*d*h*w values.
 * Their sub-networks are small MLPs (dense layers through GEMM). */
#ifndef NFLOW_VECTOR_H
#define NFLOW_VECTOR_H
#include "nflow.h"
#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- MLP sub-networks */

typedef enum nf_activation {
    NF_ACT_IDENTITY = 0,
    NF_ACT_RELU = 1,       /* max(x, 0) */
    NF_ACT_LEAKY_RELU = 2, /* x if x > 0 else 0.2 x (the slope of tf.nn.leaky_relu) */
    NF_ACT_TANH = 3
} nf_activation;

#define NF_MLP_MAX_HIDDEN 8

/* An MLP in -> hidden[0] -> ... -> hidden[nhidden-1] -> out: dense layers with act
 * after every one but the last. Dense layer j holds W (out_j, in_j) then b (out_j),
 * the order of torch.nn.Linear's weight and bias, layer after layer. */
typedef struct nf_mlp_spec {
    int nhidden;                   /* 0..NF_MLP_MAX_HIDDEN */
    int hidden[NF_MLP_MAX_HIDDEN]; /* widths, each > 0 */
    nf_activation act;
} nf_mlp_spec;

/* depth hidden layers of the same width: nf_mlp_spec_uniform(24, 3, NF_ACT_LEAKY_RELU)
 * is the tutorials' 24-24-24 LeakyReLU net. */
nf_mlp_spec nf_mlp_spec_uniform(int width, int depth, nf_activation act);
/* "identity", "relu", "leakyrelu", "tanh" (NULL for an unknown value). */
const char *nf_activation_name(nf_activation act);

/* ---------------------------------------------------------------- simple layers */

/* AffineConstantFlow: y = exp(s) * x + t element-wise, learned s (if scale) and t
 * (if shift), both starting at 0; logdet = sum_i s_i. Blocks "logscale", "shift". */
nf_status nf_affine_constant_create(nf_layer **out, nf_shape in, int scale, int shift);

typedef enum nf_linear_kind {
    NF_LINEAR_DENSE = 0, /* W free, starting as the identity (the PyTorch tutorial) */
    NF_LINEAR_LU = 1     /* W = P L (U + diag(sign exp(logs))), starting as a random rotation */
} nf_linear_kind;
/* LinearFlow: y = W x + b per sample, logdet = log|det W|. DENSE fails with
 * NF_ERR_NUMERIC when W is singular. rng (may be NULL) seeds the LU kind's rotation,
 * as in nf_conv1x1_create. Blocks: "weight" (D, D), "bias" (D); the LU kind has the
 * conv1x1 LU blocks (lower, upper, logscale, perm and sign frozen) and "bias". */
nf_status nf_linear_create(nf_layer **out, nf_shape in, nf_linear_kind kind, nf_rng *rng);

/* LeakyReLU flow: y = x (x > 0), a x (x <= 0) with a learned slope a = exp(log a),
 * starting at alpha > 0; logdet = log a per negative entry. Block "logslope" (1). */
nf_status nf_leaky_relu_create(nf_layer **out, nf_shape in, double alpha);

typedef enum nf_permute_kind {
    NF_PERMUTE_REVERSE = 0, /* y_i = x_{D-1-i} (the tutorials' flip) */
    NF_PERMUTE_RANDOM = 1   /* a permutation drawn at initialisation */
} nf_permute_kind;
/* Fixed permutation y_i = x_perm[i], logdet 0. Frozen block "perm" (D indices),
 * checked on every call (NF_ERR_FORMAT when it is not a permutation). */
nf_status nf_permute_create(nf_layer **out, nf_shape in, nf_permute_kind kind);

/* Batch-normalisation flow (RealNVP, the TF tutorial):
 * y = (x - m) / sqrt(v + eps) * exp(log_gamma) + beta, logdet = sum log_gamma - 0.5 log(v + eps).
 * Training mode (the default): m, v are the batch's mean and biased variance (batches
 * of >= 2), and the running averages r <- momentum r + (1 - momentum) batch are
 * updated on every forward. Evaluation mode: m, v are the running averages, so
 * samples are independent; use it for sampling and held-out evaluation.
 * Typical momentum 0.9, eps 1e-5. Blocks "loggamma", "beta" and, frozen,
 * "running_mean", "running_var". */
nf_status nf_batchnorm_create(nf_layer **out, nf_shape in, double momentum, double eps);
/* Switches a batchnorm layer between training (1) and evaluation (0) statistics. */
nf_status nf_batchnorm_set_training(nf_layer *l, int training);
/* 1 if l is a batchnorm layer. */
int nf_layer_is_batchnorm(const nf_layer *l);

/* ---------------------------------------------------------------- couplings */

/* RealNVP affine coupling (ADCME's AffineHalfFlow): with xa = the values i with
 * i % 2 == parity (unchanged) and xb the others,
 *     yb = exp(s(xa)) * xb + t(xa),   logdet = sum s(xa),
 * s and t separate MLPs xa -> xb of the given spec whose last layers start at zero
 * (the layer starts as the identity). Alternate parity 0, 1, 0, ... between layers.
 * Needs D >= 2. Blocks "s_net", "t_net" (each its dense layers' W then b, in order). */
nf_status nf_realnvp_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity);
/* NICE additive coupling: yb = xb + t(xa), logdet 0. Block "t_net". */
nf_status nf_nice_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity);

#ifdef __cplusplus
}
#endif
#endif
