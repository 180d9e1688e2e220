/* MADE (Germain et al. 2015) and the autoregressive affine map that MAF and IAF
 * share. The network NN: R^D -> R^2D outputs (s, t) with s_i, t_i depending only on
 * the inputs that come before i in the order (input i has degree i, or D-1-i when
 * reversed). Hidden unit k of every hidden layer has degree k mod (D-1) (the MADE
 * paper's deterministic assignment), so a torch MADE with the same masks is easy to
 * write; a unit connects to the previous layer's units of degree <= its own, an
 * output of degree d to hidden units of degree < d. The masks are fixed, not
 * parameters (they follow from D, the widths and the order).
 *
 * The map v = u * exp(s(u)) + t(u) is cheap forward (one pass) and sequential to
 * solve for u (D passes, one per degree). MAF uses the cheap pass for density,
 * IAF for sampling. */
#ifndef NF_MADE_H
#define NF_MADE_H

#include "mlp.h"

typedef struct nf_made {
    int D;
    int reverse;      /* order D-1, ..., 0 */
    nf_mlp net;       /* D -> hidden -> 2D, rows (s_0..s_{D-1}, t_0..t_{D-1}) */
    nf_real *masks;   /* owned: every dense layer's (out, in) mask, one after the other */
} nf_made;

nf_status nf_made_setup(nf_made *m, const char *who, int D, nf_mlp_spec spec, int reverse);
void nf_made_free(nf_made *m);
/* Position of input i in the order. */
static inline int nf_made_degree(const nf_made *m, int i) { return m->reverse ? m->D - 1 - i : i; }

/* The work of one MADE evaluation and of the IAF backward, carved from a workspace. */
typedef struct nf_made_work {
    nf_real *acts;    /* the net's activations (its output, (n, 2D), is the last part) */
    nf_real *scratch; /* the net's scratch */
    nf_real *dst;     /* (n, 2D) dloss/d(s, t) */
    nf_real *a, *g, *x; /* (n, D) each: solutions and gradients of MAF/IAF passes */
} nf_made_work;

size_t nf_made_work_bytes(const nf_made *m, int n);
nf_made_work nf_made_take(const nf_made *m, nf_ctx *ctx, int n);

/* v (n, D) = u * exp(s(u)) + t(u); logdet[b] += sign * sum_i s_bi (logdet may be NULL).
 * Returns (s, t) (n, 2D), from the activations kept in w. */
const nf_real *nf_made_apply(const nf_made *m, const nf_real *param, const nf_real *u, nf_real *v, int n,
                             double *logdet, double sign, nf_made_work *w);
/* u (n, D) such that v = u * exp(s(u)) + t(u), one degree per pass; logdet[b] +=
 * sign * sum s(u) (may be NULL). The activations in w are then those of NN(u):
 * the last pass only missed the input of the last degree, which no unit reads. */
const nf_real *nf_made_solve(const nf_made *m, const nf_real *param, const nf_real *v, nf_real *u, int n,
                             double *logdet, double sign, nf_made_work *w);

/* ---------------------------------------------------------------- the MAF/IAF layer */

/* What a MAF or IAF layer holds; made.c gives them their shared entries. */
typedef struct nf_ar_layer {
    nf_layer base;
    int parity;       /* 1: reversed order */
    nf_mlp_spec spec;
    nf_made made;
} nf_ar_layer;

/* Builds the layer (D >= 1) with the given ops; who names it in messages. */
nf_status nf_ar_layer_new(nf_layer **out, nf_shape in, nf_mlp_spec net, int parity, const nf_layer_ops *ops,
                          const char *who);
size_t nf_ar_layer_workspace(const nf_layer *l, nf_shape in);
void nf_ar_layer_init_params(nf_layer *l, nf_rng *rng);
int nf_ar_layer_param_blocks(const nf_layer *l, nf_param_block *out, int max);
void nf_ar_layer_destroy(nf_layer *l);

#endif
