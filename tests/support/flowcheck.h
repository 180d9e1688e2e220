/* The checks every invertible layer and network must pass: invertibility, input
 * reconstruction by backward, finite-difference gradients and brute-force logdet.
 * They work on an fc_target, an adaptor that turns a layer or a network into
 * out-of-place forward / inverse / backward calls. */
#ifndef FLOWCHECK_H
#define FLOWCHECK_H

#include "nflow.h"

typedef struct fc_target {
    void *self;
    /* y = f(x); logdet (n) overwritten. x is not modified. */
    nf_status (*forward)(void *self, const nf_tensor *x, nf_tensor *y, double *logdet);
    /* x = f^-1(y). */
    nf_status (*inverse)(void *self, const nf_tensor *y, nf_tensor *x);
    /* From y = f(x), dy: x rebuilt, dx, parameter gradients accumulated. */
    nf_status (*backward)(void *self, const nf_tensor *y, const nf_tensor *dy, double dlogdet, nf_tensor *x,
                          nf_tensor *dx);
    nf_real *param, *grad; /* (nparams) */
    size_t nparams;
    const unsigned char *frozen; /* (nparams) or NULL: never perturbed */
    nf_shape in, out;      /* batch shapes (n included) */
} fc_target;

/* A target over one layer with its own parameters and workspace (sized for in). */
typedef struct fc_layer_target {
    fc_target t;
    nf_layer *layer;
    nf_params params;
    nf_ctx ctx;
} fc_layer_target;

/* Binds the layer's parameters (initialised from seed) and sizes its workspace. */
nf_status fc_layer_target_init(fc_layer_target *lt, nf_layer *layer, nf_shape in, uint64_t seed);
/* Destroys the layer too. */
void fc_layer_target_free(fc_layer_target *lt);

/* A target over a whole flow for batches of n (z viewed as (n, D, 1, 1, 1)). */
void fc_flow_target_init(fc_target *t, nf_flow *f, int n);

/* A conditional flow with a fixed condition: the checks run on x |-> f(x; cond). */
typedef struct fc_cond_flow {
    nf_flow *f;
    const nf_tensor *cond; /* (n, f->cond) */
} fc_cond_flow;
/* A target over cf's flow for batches of n; cf must outlive it. The parameters are all of
 * the flow's (summary network included). */
void fc_cond_flow_target_init(fc_target *t, fc_cond_flow *cf, int n);

/* Makes the trainable parameters random (value += scale * N(0,1)) so that zero-initialised
 * weights do not hide gradient errors. */
void fc_perturb_params(fc_target *t, nf_rng *rng, double scale);

/* |f^-1(f(x)) - x| / |x|. */
double fc_inverse_error(fc_target *t, const nf_tensor *x);
/* |x_rebuilt_by_backward - x| / |x|. */
double fc_rebuild_error(fc_target *t, const nf_tensor *x);

typedef enum fc_corruption {
    FC_CORRUPT_NONE = 0,
    FC_CORRUPT_ZERO,  /* analytic gradient replaced by 0 */
    FC_CORRUPT_HALF,  /* halved */
    FC_CORRUPT_FLIP   /* sign flipped */
} fc_corruption;

typedef struct fc_grad_report {
    double dx_err;     /* max relative error of <dx, u> against central differences */
    double dparam_err; /* same for the parameters (0 if the target has none) */
} fc_grad_report;

/* Loss = mean_b [0.5 |y_b|^2 + <r_b, y_b> - logdet_b] with a fixed random r.
 * Compares the analytic directional derivatives along ndir random directions with
 * central differences (step eps), in x and in the parameters. The corruption is
 * applied to the analytic gradients before comparing (to prove the check fails).
 * Meant for the double build; the warm-up forward runs data-dependent inits. */
fc_grad_report fc_check_gradients(fc_target *t, const nf_tensor *x, int ndir, double eps, fc_corruption c,
                                  uint64_t seed);

/* max_b |logdet_b - log|det J_b|| with J_b by central differences (step eps). */
double fc_logdet_error(fc_target *t, const nf_tensor *x, double eps);

/* A conditional layer's dloss/dcond (what its backward adds to ctx->dcond) for the loss
 * mean_b [0.5 |z_b|^2 - logdet_b] at (x, cond), along a random direction (seed), against
 * central differences in cond (step eps); the analytic value is multiplied by scale first
 * (0.5: to prove the check fails). Relative error. The layer's parameters must be bound. */
double fc_layer_dcond_error(nf_layer *l, const nf_tensor *x, nf_tensor *cond, double eps, double scale,
                            uint64_t seed);

/* The flow's first forward at (x, cond) (data-dependent inits), then every trainable
 * parameter moved by scale * N(0, 1) (seed), so that zero-initialised convs let the
 * condition reach z. */
void fc_flow_warm_and_move(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double scale, uint64_t seed);

/* A conditional flow at (x, y): *inverse = |f^-1(f(x; y); y) - x| / |x|, *rebuild the same
 * for the x that backward rebuilds, *moved = |f(x; y2) - f(x; y)| / |f(x; y)| (another
 * condition must move the latents). */
void fc_cond_flow_errors(nf_flow *f, const nf_tensor *x, const nf_tensor *y, const nf_tensor *y2, double *inverse,
                         double *rebuild, double *moved);

/* The largest difference between two flows' latents and logdets at (x, cond): 0 when a
 * model file brought one back bit for bit. */
double fc_flows_differ(nf_flow *f, nf_flow *g, const nf_tensor *x, const nf_tensor *cond);

/* |a - b| / |b| over n values. */
double fc_rel_diff(const nf_real *a, const nf_real *b, size_t n);

#endif
