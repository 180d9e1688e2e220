/* The MLP sub-network of the vector layers (couplings, MADE, splines, HINT).
 *
 * NN(x) = L_last(act(... act(L_1(x)))), L_j(h) = h W_j^T + b_j with W_j (out_j, in_j),
 * optionally masked (MADE): W_j is replaced by W_j * M_j element-wise. The MLP owns no
 * memory: its parameters are a view (the layer's), its activations and scratch come
 * from the layer's workspace, so a layer can run the forward once and reuse the
 * activations both to invert and to backpropagate. */
#ifndef NF_MLP_H
#define NF_MLP_H

#include "nf_internal.h"

#define NF_MLP_MAX_LINEAR (NF_MLP_MAX_HIDDEN + 1)

typedef struct nf_mlp {
    int nlin;                               /* dense layers (hidden + 1) */
    int size[NF_MLP_MAX_LINEAR + 1];        /* size[0] = in, size[nlin] = out */
    nf_activation act;
    const nf_real *mask[NF_MLP_MAX_LINEAR]; /* (size[j+1], size[j]) of 0/1, or NULL (dense) */
} nf_mlp;

/* Checks spec (widths, depth, activation) and fills m for in -> out, no masks.
 * who names the layer in messages. */
nf_status nf_mlp_setup(nf_mlp *m, const char *who, int in, nf_mlp_spec spec, int out);
/* Parameters: sum over dense layers of out_j * (in_j + 1). */
size_t nf_mlp_nparams(const nf_mlp *m);
/* W_j, b_j ~ U(-1/sqrt(in_j), 1/sqrt(in_j)) (torch.nn.Linear's default); with
 * zero_last the last layer is 0, so the net outputs 0 and a coupling starts as the identity. */
void nf_mlp_init(const nf_mlp *m, nf_real *param, nf_rng *rng, int zero_last);

/* Elements of the activations one forward keeps for the backward of a batch of n. */
size_t nf_mlp_acts_count(const nf_mlp *m, int n);
/* Elements of scratch forward and backward need besides (n of them). */
size_t nf_mlp_scratch_count(const nf_mlp *m, int n);

/* Runs NN on x (n, in); returns the output (n, out), which lives at the end of acts. */
nf_real *nf_mlp_forward(const nf_mlp *m, const nf_real *param, const nf_real *x, int n, nf_real *acts,
                        nf_real *scratch);
/* From the activations of the forward on x and dout = dloss/dNN (n, out):
 * grad (the parameter view, may be NULL) += dloss/dparams, dx (n, in) += dloss/dx
 * (dx may be NULL). acts and dout are not modified. */
void nf_mlp_backward(const nf_mlp *m, const nf_real *param, nf_real *grad, const nf_real *x, int n,
                     const nf_real *acts, const nf_real *dout, nf_real *dx, nf_real *scratch);

/* "24x3" for three hidden layers of 24, "8-16" otherwise, "none" without hidden layers. */
void nf_mlp_spec_format(nf_mlp_spec spec, char *buf, size_t size);

#endif
