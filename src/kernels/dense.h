/* Dense (fully connected) layers over a batch of vectors, the building block of the
 * MLP sub-networks of the vector flows: out = x W^T + b with W stored (m, k) row-major,
 * the layout of torch.nn.Linear.weight, so weights move between the two unchanged.
 * The fast kernels call GEMM; the _ref kernels are plain loops kept as the reference
 * the fast ones are tested against. */
#ifndef NF_DENSE_H
#define NF_DENSE_H

#include "nflow.h"

/* The slope of LeakyReLU for x < 0 (tf.nn.leaky_relu's and the tutorials' 0.2). */
#define NF_LEAKY_SLOPE 0.2

/* out (n, m) = x (n, k) W^T + b; W (m, k), b (m) or NULL. */
void nf_dense_forward(nf_real *out, const nf_real *x, const nf_real *W, const nf_real *b, int n, int k, int m);
/* dx (n, k) = dout (n, m) W, overwritten (accumulate = 0) or added to (accumulate = 1). */
void nf_dense_backward_data(nf_real *dx, const nf_real *dout, const nf_real *W, int n, int k, int m,
                            int accumulate);
/* dW (m, k) += dout^T x; db (m) += sum over the batch of dout (db may be NULL). */
void nf_dense_backward_weights(nf_real *dW, nf_real *db, const nf_real *dout, const nf_real *x, int n, int k,
                               int m);

/* y (count) <- act(y) in place. */
void nf_act_forward(nf_real *y, size_t count, nf_activation act);
/* d (count) *= act'(.), the derivative read from the activation's output y (all four
 * activations are monotone, so the output determines it: tanh' = 1 - y^2). */
void nf_act_backward(nf_real *d, const nf_real *y, size_t count, nf_activation act);

void nf_dense_forward_ref(nf_real *out, const nf_real *x, const nf_real *W, const nf_real *b, int n, int k, int m);
void nf_dense_backward_data_ref(nf_real *dx, const nf_real *dout, const nf_real *W, int n, int k, int m,
                                int accumulate);
void nf_dense_backward_weights_ref(nf_real *dW, nf_real *db, const nf_real *dout, const nf_real *x, int n, int k,
                                   int m);

#endif
