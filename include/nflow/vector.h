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
 * clamp 0 is the tutorials' unbounded exp(s); clamp > 0 soft-clamps the log-scale,
 * s = clamp * tanh(s_raw / clamp), so one layer scales by at most e^clamp (an unbounded
 * scale can blow up on an outlier: see tools/torch/moons_compare.sh).
 * Needs D >= 2. Blocks "s_net", "t_net" (each its dense layers' W then b, in order). */
nf_status nf_realnvp_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, double clamp);
/* NICE additive coupling: yb = xb + t(xa), logdet 0. Block "t_net". */
nf_status nf_nice_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity);

/* Rational-quadratic neural spline coupling (Durkan et al. 2019; ADCME's
 * NeuralCouplingFlow): with the mask of nf_realnvp_create, each transformed value
 * goes through a monotone rational-quadratic spline of `bins` bins on [-bound, bound]
 * with identity (linear) tails, whose bin widths, heights and inner derivatives an
 * MLP computes from the conditioner values (3 bins - 1 raw values per transformed
 * value; minimum width, height and slope 1e-3). The last layer starts at zero, which
 * makes the spline the identity. Two layers of parity 0 and 1 are karpathy's NSF_CL.
 * bins in 2..64, bound > 0, D >= 2. Block "net". */
nf_status nf_spline_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int bins, double bound, int parity);

/* ---------------------------------------------------------------- conditional couplings */

/* Conditional flows p(x | y) (nf_sequential_set_condition): the couplings above whose
 * sub-networks take [xa, s] instead of xa, s the `features` values per sample that the
 * flow hands them in ctx->cond: y itself (flattened), or the output of a summary network
 * shared by all couplings (nf_summary_create). Otherwise, and in their parameter blocks,
 * they are the layers above (the nets' first dense layer has features more inputs, after
 * xa's). Model-file types "cond_realnvp", "cond_spline". */
nf_status nf_cond_realnvp_create(nf_layer **out, nf_shape in, int features, nf_mlp_spec net, int parity,
                                 double clamp);
nf_status nf_cond_spline_create(nf_layer **out, nf_shape in, int features, nf_mlp_spec net, int bins, double bound,
                                int parity);
/* The summary network of a conditional flow: an MLP from the condition y (per-sample
 * shape cond, flattened to C = c*d*h*w values) to `features` values, s = NN(y) (act after
 * every hidden layer, none after the last; torch.nn.Linear's initialisation). It is the
 * identity on x (in = the flow's data shape) and must be the flow's first layer; the flow
 * runs it once per pass and backpropagates into it what every conditional layer adds to
 * ctx->dcond. Block "net" (W then b of every dense layer, as the couplings' nets). */
nf_status nf_summary_create(nf_layer **out, nf_shape in, nf_shape cond, nf_mlp_spec net, int features);

/* HINT (InvertibleNetworks.jl's CouplingLayerHINT) for any D >= 2: a node over m
 * values splits them into xa (first m/2) and xb; when m > 4 it recurses,
 * ya = H(xa), yb = C(H(xb); xa), else ya = xa, yb = C(xb; xa), with C the RealNVP
 * affine step (s, t MLPs of the given spec, zero-initialised last layers). Every
 * node has its own coupling (InvertibleNetworks.jl shares one per depth, which
 * needs power-of-two sizes). Block "nets": the nodes' s then t nets, in pre-order. */
nf_status nf_hint_create(nf_layer **out, nf_shape in, nf_mlp_spec net);

/* Conditional HINT (InvertibleNetworks.jl's NetworkConditionalHINT) for vectors: x (in,
 * D >= 2 values) and the condition y (ctx->cond, features >= 2 values, y itself: no
 * summary network) transformed jointly by `steps` steps; step k reverses both lanes'
 * values, then yp = r(y), y <- Hy(yp) and x <- exp(s(yp)) Hx(r(x)) + t(yp), with Hx, Hy
 * HINT layers as nf_hint_create and s, t MLPs features -> D (net's spec, zero-initialised
 * last layers). The layer adds log|det dzx/dx| + log p(y) to logdet, p(y) = N(zy) |det
 * dzy/dy| the y lane's density (2 pi term included), so a flow's log N(z) + logdet is the
 * joint log p(x, y); for a fixed y, samples are from p(x | y). backward adds dloss/dy to
 * ctx->dcond when given. Block "nets": per step Hx's nets, A's s then t net, Hy's nets.
 * Model-file type "cond_hint". */
nf_status nf_cond_hint_create(nf_layer **out, nf_shape in, int features, nf_mlp_spec net, int steps);
/* The y lane alone (InvertibleNetworks.jl's forward_Y): zy (n, features) = fy(y) and
 * logdet[b] += log|det dzy_b/dy_b|. l must be a cond_hint layer with bound parameters.
 * Allocates its scratch. */
nf_status nf_cond_hint_encode_y(nf_layer *l, const nf_tensor *y, nf_tensor *zy, double *logdet);

/* ---------------------------------------------------------------- autoregressive flows */

/* MAF (karpathy's MAF with a MADE): z = x * exp(s(x)) + t(x), logdet = sum s(x), where
 * (s, t) = MADE(x) makes s_i, t_i depend only on the values before i in the order
 * (0, 1, ..., D-1, or reversed when parity is 1). The density direction is one pass;
 * the inverse (sampling, and the backward's rebuild) takes D passes. MADE's hidden
 * unit k has degree k mod (D-1), its last layer starts at zero (the identity).
 * Block "made" (W then b of every dense layer; masked weights unused). */
nf_status nf_maf_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity);
/* IAF: the inverse of a MAF. x = z * exp(s(z)) + t(z) is the one-pass (sampling)
 * direction; the density direction solves for z in D passes, logdet = -sum s(z). */
nf_status nf_iaf_create(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity);

/* ---------------------------------------------------------------- the sequential flow */

/*
 * nf_sequential: a prior and a sequence of any layers, as an nf_flow (ADCME's
 * NormalizingFlowModel): nf_train_step, nf_flow_eval, nf_flow_sample, the model files
 * (nf_model_save / nf_model_load) and the flow checks work on it as on Glow. Memory of the passes does not grow with
 * the number of layers (every layer rebuilds its input in backward).
 *
 *     nf_flow *m;
 *     nf_shape v = {1, 2, 1, 1, 1};                     // 2-D points
 *     nf_sequential_create(&m, v, NF_PRIOR_STANDARD);
 *     for (int i = 0; i < 9; i++) {
 *         nf_layer *l;
 *         nf_realnvp_create(&l, v, nf_mlp_spec_uniform(24, 3, NF_ACT_LEAKY_RELU), i % 2, 0);
 *         nf_sequential_add(m, l, NULL);
 *     }
 *     nf_sequential_build(m, 1);                        // parameters, initialised from seed 1
 *     // or, the same: nf_sequential_from_spec(&m, v, "realnvp(hidden=24x3,act=leakyrelu)*9", 1);
 */
typedef enum nf_prior_kind {
    NF_PRIOR_STANDARD = 0, /* N(0, I) */
    NF_PRIOR_DIAGONAL = 1  /* N(mu, diag sigma^2) with learned mu, log sigma (starting at 0, 0);
                              held as a final "prior" affine layer z' = (z - mu) / sigma */
} nf_prior_kind;

/* An empty sequential flow for samples of shape in (in.n is ignored). */
nf_status nf_sequential_create(nf_flow **out, nf_shape in, nf_prior_kind prior);
/* Makes the flow conditional, p(x | y) with y of per-sample shape cond (any shape; read as
 * its c*d*h*w values): every pass then takes y (nf_flow_forward's cond, nf_flow_gradient's,
 * ...). Only before the first layer. The layers take the condition's features: y itself,
 * or, when the first layer is a summary network (nf_summary_create), its output. */
nf_status nf_sequential_set_condition(nf_flow *m, nf_shape cond);
/* The number of condition features the flow's conditional layers must take (at this
 * point of the build): 0 for an unconditional flow. */
int nf_sequential_cond_features(const nf_flow *m);
/* Appends a layer, whose input shape must be the current output shape of the flow.
 * The flow owns the layer from this call on, also when the call fails. label (may be
 * NULL: the layer's type name) names it in the diagram. Only before nf_sequential_build. */
nf_status nf_sequential_add(nf_flow *m, nf_layer *layer, const char *label);
/* Binds and initialises all parameters from seed; the flow can then be used. */
nf_status nf_sequential_build(nf_flow *m, uint64_t seed);
/* Builds a sequential flow from a text spec: items separated by ',', ';' or spaces, each a layer
 * name with optional (key=value, ...) options and an optional *count, or a group
 * (items)*count, and optionally prior=standard|diagonal. Couplings and autoregressive
 * layers without an explicit parity alternate 0, 1, 0, ... per layer type. Examples:
 *     "realnvp(hidden=24x3,act=leakyrelu)*9"
 *     "prior=diagonal, (actnorm, linear(lu=1), spline(bins=8,bound=3,hidden=16x3))*3"
 *     "maf(hidden=24x3)*4"     "(batchnorm, realnvp, reverse)*4"
 * Layers and options (defaults):
 *     realnvp (hidden=24x3, act=leakyrelu, clamp=0, parity); nice (hidden=24x3, act=leakyrelu, parity);
 *     affine (scale=1, shift=1);
 *     linear (lu=0); leakyrelu (alpha=0.2); reverse; permute (random, from the seed);
 *     batchnorm (momentum=0.9, eps=1e-5); actnorm;
 *     maf, iaf (hidden=24x3, act=relu, parity);
 *     spline (bins=8, bound=3, hidden=16x3, act=leakyrelu, parity); hint (hidden=24x3, act=leakyrelu).
 * hidden is "24x3" (3 layers of 24), "32-16" or "none"; act is identity, relu,
 * leakyrelu or tanh. A bad spec fails with NF_ERR_ARG and a message giving the column. */
nf_status nf_sequential_from_spec(nf_flow **out, nf_shape in, const char *spec, uint64_t seed);
/* The same for p(x | y) with y of per-sample shape cond (nf_sequential_set_condition; all
 * zero: unconditional, as nf_sequential_from_spec). The spec may then start with
 *     summary (hidden=64x2, act=leakyrelu, out=16)      a summary network of y
 * and use the conditional couplings
 *     cond_realnvp (options of realnvp); cond_spline (options of spline)
 * or the layers that transform y too (not after a summary):
 *     cond_hint (hidden=32x2, act=leakyrelu, steps=4): vectors (nf_cond_hint_create);
 *     cond_hint_conv (hidden=32, steps=4, floor=0.001): images, volumes (nf_cond_hint_conv_create)
 * e.g. "summary(hidden=64x2,out=16), (cond_spline(bins=8,bound=4,hidden=64x2), reverse)*5". */
nf_status nf_sequential_from_spec_cond(nf_flow **out, nf_shape in, nf_shape cond, const char *spec, uint64_t seed);
/* The canonical spec of a sequential flow built from one (every option spelled out, so it
 * rebuilds the same architecture), NULL for models built layer by layer. */
const char *nf_sequential_spec(const nf_flow *m);
/* 1 if f is a sequential flow (built with nf_sequential_*). */
int nf_flow_is_sequential(const nf_flow *f);
/* Training (1, the default) or evaluation (0) statistics in every batch-norm layer;
 * use evaluation for sampling and held-out likelihoods. */
nf_status nf_sequential_set_training(nf_flow *m, int training);
/* logp[b] = log p(x_b) in nats, the full density (the Gaussian's constant included). */
nf_status nf_sequential_log_prob(nf_flow *m, const nf_tensor *x, const nf_tensor *cond, double *logp);
/* Writes the sequential flow as a diagram into buf (NUL-terminated, UTF-8):
 *     ( standard Gaussian )
 *     ↓
 *     realnvp(hidden=24x3,act=leakyrelu,parity=0)  [2546 parameters]
 *     ↓
 *     ...
 *     9 layers, 22914 parameters
 * *needed (may be NULL) receives the bytes it takes; NF_ERR_ARG (text truncated)
 * when size is smaller. */
nf_status nf_sequential_describe(const nf_flow *m, char *buf, size_t size, size_t *needed);

#ifdef __cplusplus
}
#endif
#endif
