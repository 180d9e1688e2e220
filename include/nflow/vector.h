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

#ifdef __cplusplus
}
#endif
#endif
