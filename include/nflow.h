/*
 * nflow.h — normalizing flows trained with invertible backpropagation.
 *
 * No layer stores its activations: every layer's backward pass rebuilds its input
 * from its output, so activation memory does not grow with depth.
 *
 * Worked example: train a Glow on 2-D points (the banana density) and sample.
 *
 *     #include <nflow.h>
 *
 *     nf_glow_config cfg = nf_glow_config_default(2, 1, 1);  // 2 channels, 1x1 "image"
 *     cfg.hidden = 16; cfg.levels = 1; cfg.steps = 10; cfg.multiscale = 0;
 *     nf_flow *g = NULL;
 *     if (nf_glow_create(&g, &cfg) != NF_OK) { fprintf(stderr, "%s\n", nf_last_error()); return 1; }
 *     nf_trainer_config tc = nf_trainer_config_default(400, 9e-4);  // 400 steps, Adam
 *     tc.schedule.kind = NF_SCHEDULE_COSINE;         // 9e-4 -> 0 ...
 *     tc.schedule.warmup = 20;                       // ... after 20 warm-up steps
 *     tc.loss_jump = nf_trainer_loss_jump_bits(3, 2); // roll back a 3 bits/dim jump
 *     nf_trainer *t = NULL;
 *     if (nf_trainer_create(&t, g, &tc) != NF_OK) { fprintf(stderr, "%s\n", nf_last_error()); return 1; }
 *     nf_trainer_set_callback(t, print_step, NULL);  // metrics, recomputes, rollbacks
 *     nf_tensor x;                                   // (150, 2, 1, 1, 1)
 *     nf_tensor_alloc(&x, 150, 2, 1, 1, 1);
 *     nf_rng rng; nf_rng_seed(&rng, 1);
 *     while (nf_trainer_state_of(t)->step < 400) {
 *         nf_sample_banana(&rng, x.data, x.n);       // a fresh batch
 *         if (nf_trainer_step(t, &x, NULL, NULL) != NF_OK) { fprintf(stderr, "%s\n", nf_last_error()); break; }
 *     }
 *     nf_flow_sample(g, &x, NULL, 1.0, &rng);             // x <- G^-1(z), z ~ N(0, I)
 *     nf_trainer_destroy(t); nf_tensor_free(&x); nf_flow_destroy(g);
 *
 * with, for example,
 *
 *     static void print_step(void *user, const nf_train_event *ev) {
 *         if (ev->kind == NF_EVENT_STEP) printf("%ld %.4f\n", ev->step, ev->loss.loss);
 *         else printf("%s\n", ev->message);
 *     }
 *
 * nf_train_step (one plain step) and nf_flow_gradient are the pieces underneath.
 *
 * Conventions
 *  - Every function that can fail returns nf_status; on failure nf_last_error()
 *    holds one line saying what went wrong. The library never prints or exits.
 *  - Tensors are contiguous, batch-major NCDHW (d = 1 for images): h5py's C order.
 *  - nf_real is float; a build with NFLOW_DOUBLE defined (used by the gradient
 *    tests) makes it double throughout.
 *  - Gradients are accumulated (+=); callers zero them (nf_flow_zero_grad).
 */
#ifndef NFLOW_H
#define NFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFLOW_VERSION_MAJOR 0
#define NFLOW_VERSION_MINOR 1

#ifdef NFLOW_DOUBLE
typedef double nf_real;
#else
typedef float nf_real;
#endif

/* ---------------------------------------------------------------- status */

typedef enum nf_status {
    NF_OK = 0,
    NF_ERR_ARG = 1,      /* NULL pointer or impossible value */
    NF_ERR_SHAPE = 2,    /* tensor shapes disagree with the layer/network */
    NF_ERR_NOMEM = 3,    /* allocation failed */
    NF_ERR_IO = 4,       /* file missing or unreadable */
    NF_ERR_FORMAT = 5,   /* file of the wrong kind, version or content */
    NF_ERR_NUMERIC = 6,  /* NaN/Inf or a singular matrix */
    NF_ERR_STATE = 7,    /* call made in the wrong order */
    NF_ERR_WRITE = 8     /* an output file cannot be written: full disk, no permission, a directory */
} nf_status;

/* The message of the last failure on this thread ("" if none). */
const char *nf_last_error(void);
/* A short name for a status code ("NF_ERR_SHAPE"). */
const char *nf_status_name(nf_status s);

/* ---------------------------------------------------------------- memory */

/* Bytes currently held by nflow allocations, and the high-water mark. */
size_t nf_mem_current(void);
size_t nf_mem_peak(void);
/* Sets the high-water mark to the current value. */
void nf_mem_reset_peak(void);

/* Threads (src/core/threads.c). nflow runs its passes on its own OpenMP threads, GEMMs
 * included, and sets OpenBLAS to one thread, so that the two thread pools never spin
 * against each other on the same cores: no environment variable is needed. n < 1
 * restores the default (OMP_NUM_THREADS or the number of cores). Results are
 * deterministic for a given thread count. Call between passes, not during one. */
void nf_set_threads(int n);
/* The number of threads nflow's passes use. */
int nf_get_threads(void);
/* Makes sure the BLAS can run on every thread nflow uses, or says it cannot. OpenBLAS
 * (0.3.x) maps a work buffer (128 MiB of address space) for each concurrent caller on
 * first use and, when that mapping fails, retries forever: under a memory limit a GEMM
 * would hang instead of failing. This takes those buffers now, one per thread of
 * nf_get_threads(), each after checking that the memory is there: NF_ERR_NOMEM (one
 * line) if it is not. Call after nf_set_threads, before the first pass; cheap once done.
 * NF_OK at once with another BLAS. */
nf_status nf_threads_reserve(void);

/* Convolution backends (src/kernels/conv_backend.c) of the image couplings' 3x3
 * convolutions. NF_CONV_IM2COL: GEMMs on shifted copies (OpenBLAS), always built in.
 * NF_CONV_DNNL: oneDNN's direct convolutions, in builds with cmake -DNFLOW_DNNL=ON only;
 * a shape oneDNN declines or fails on runs on im2col. Both compute the same function
 * (float round-off apart). im2col is the default in every build (it was faster where
 * measured, docs/performance.md). oneDNN's primitives and buffers are made on a thread's
 * first call of each shape and kept for the thread's life. Call between passes. */
typedef enum nf_conv_backend { NF_CONV_IM2COL = 0, NF_CONV_DNNL = 1 } nf_conv_backend;
/* Selects the backend; NF_ERR_ARG (and no change) if it is not in this build. */
nf_status nf_set_conv_backend(nf_conv_backend b);
/* The backend now selected. */
nf_conv_backend nf_get_conv_backend(void);

/* ---------------------------------------------------------------- tensors */

/* Shape of a batch: n samples of c channels, d x h x w voxels (d = 1 for images). */
typedef struct nf_shape {
    int n, c, d, h, w;
} nf_shape;

typedef struct nf_tensor {
    nf_real *data; /* (n, c, d, h, w) contiguous */
    int n, c, d, h, w;
} nf_tensor;

/* Allocates a zeroed tensor. */
nf_status nf_tensor_alloc(nf_tensor *t, int n, int c, int d, int h, int w);
void nf_tensor_free(nf_tensor *t);
/* A tensor header over existing memory (no allocation). */
nf_tensor nf_tensor_view(nf_real *data, int n, int c, int d, int h, int w);
/* Number of elements, and elements per sample (c*d*h*w). */
size_t nf_tensor_count(const nf_tensor *t);
size_t nf_tensor_sample_count(const nf_tensor *t);
nf_shape nf_tensor_shape(const nf_tensor *t);
size_t nf_shape_sample_count(nf_shape s);

/* ---------------------------------------------------------------- random numbers */

/* xoshiro256** seeded through splitmix64: the same seed gives the same stream on
 * every machine. The library draws from it only on one thread. */
typedef struct nf_rng {
    uint64_t s[4];
} nf_rng;

void nf_rng_seed(nf_rng *r, uint64_t seed);
uint64_t nf_rng_u64(nf_rng *r);
/* Uniform in [0, 1). */
double nf_rng_uniform(nf_rng *r);
/* Standard normal (Box-Muller). */
double nf_rng_normal(nf_rng *r);
/* Fills x[0..n) with N(0, std^2). */
void nf_rng_fill_normal(nf_rng *r, nf_real *x, size_t n, double std);

/* ---------------------------------------------------------------- layers */

typedef struct nf_layer nf_layer;
typedef struct nf_layer_ops nf_layer_ops;

/* Per-call context: scratch memory, the logdet weight of the loss and, in conditional
 * passes, the condition (cond, dcond). */
/* Sums n doubles in place over the processes that train one model together (data
 * parallelism: nflow/dist.h's nf_dist_sum_hook); layers whose set-up depends on the batch
 * (ActNorm's first forward) use it so every process sets up alike. */
typedef nf_status (*nf_sum_fn)(void *user, double *v, size_t n);

typedef struct nf_ctx {
    void *work;         /* scratch, at least work_bytes; sized by workspace() queries */
    size_t work_bytes;
    double dlogdet;     /* d loss / d logdet[b], the same for every sample b
                           (-1/B for the mean negative log-likelihood) */
    nf_sum_fn sum;      /* NULL: the batch is all there is (one process) */
    void *sum_user;
    const nf_tensor *cond; /* the batch's condition as conditional layers take it: n samples of
                              the layer's cond shape (a summary network's output, or y itself);
                              NULL in unconditional passes. An input: never rebuilt. */
    nf_tensor *dcond;   /* backward: conditional layers add dloss/dcond here (+=), for a summary
                           network to backpropagate; NULL when nobody needs it */
} nf_ctx;

/* Most axes of a parameter block (a 3-D conv weight: (cout, cin, k, k, k)). */
#define NF_PARAM_MAX_RANK 5

/* One named block of a layer's parameters, as saved in model files. */
typedef struct nf_param_block {
    const char *name;   /* "scale", "bias", "conv1.weight", … */
    size_t offset;      /* into the layer's parameter view */
    int rank;           /* 1 .. NF_PARAM_MAX_RANK */
    int dims[NF_PARAM_MAX_RANK]; /* row-major, product = element count */
    int frozen;         /* 1: saved with the model but never trained (a fixed permutation) */
} nf_param_block;

/*
 * The layer contract. Every layer embeds nf_layer as its first member.
 *  forward(x):      x (n, c, d, h, w) is transformed in place into y (its dims are
 *                   updated where the layer changes the shape); logdet[b] += log|det J_b|.
 *  inverse(y):      y is transformed in place back into x.
 *  backward(y, dy): on entry y is the output and dy = dloss/dy; on return y holds the
 *                   reconstructed input x and dy holds dloss/dx. Parameter gradients are
 *                   accumulated (+=), including those of the layer's own -logdet term
 *                   weighted by ctx->dlogdet (and the logdet's x-dependence, if any).
 *  workspace(in):   scratch bytes the three calls need for a batch of shape in.
 *  out_shape(in):   the output shape for input shape in, or NF_ERR_SHAPE.
 *  init_params:     writes the initial values into the bound parameter view.
 *  param_blocks:    writes up to max blocks describing the parameter view, returns count.
 *  destroy:         frees the layer (not the parameter buffers, which it only views).
 * No layer keeps a pointer to a tensor between calls; no call allocates memory.
 * Conditioning: a conditional layer (l->cond.c > 0) reads the condition of the batch from
 * ctx->cond in all three calls (n samples of shape l->cond; nf_layer_* check it) and, in
 * backward, accumulates the gradients of the parameters that process it into l->grad as
 * any other, and dloss/dcond into ctx->dcond when that is not NULL. The condition is an
 * input: backward rebuilds x only. Unconditional layers ignore ctx->cond, so a flow passes
 * the same ctx to every layer. An image layer takes a condition of its own spatial size
 * (c, d, h, w with its own channel count), squeezed alongside x by the flow.
 */
struct nf_layer_ops {
    const char *name;
    nf_status (*forward)(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx);
    nf_status (*inverse)(nf_layer *l, nf_tensor *y, nf_ctx *ctx);
    nf_status (*backward)(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx);
    size_t (*workspace)(const nf_layer *l, nf_shape in);
    nf_status (*out_shape)(const nf_layer *l, nf_shape in, nf_shape *out);
    void (*init_params)(nf_layer *l, nf_rng *rng);
    int (*param_blocks)(const nf_layer *l, nf_param_block *out, int max);
    void (*destroy)(nf_layer *l);
    /* Condition networks only (NULL in every other layer): the layer is the identity on x
     * and maps the flow's condition y (n samples of l->cond) to cond_features(l) features
     * that the flow hands its conditional layers as ctx->cond. cond_forward writes them
     * to s (n, features, 1, 1, 1); cond_backward, from y and ds = dloss/ds, accumulates
     * its parameters' gradients (running its forward again in ctx's workspace). */
    int (*cond_features)(const nf_layer *l);
    nf_status (*cond_forward)(nf_layer *l, const nf_tensor *y, nf_tensor *s, nf_ctx *ctx);
    nf_status (*cond_backward)(nf_layer *l, const nf_tensor *y, const nf_tensor *ds, nf_ctx *ctx);
};

struct nf_layer {
    const nf_layer_ops *ops;
    nf_shape in;        /* per-sample input shape it was built for (n unused) */
    size_t nparams;     /* elements in its parameter view */
    nf_real *param;     /* (nparams) view into a flat parameter buffer */
    nf_real *grad;      /* (nparams) same layout, gradients */
    int initialized;    /* data-dependent initialisation done (ActNorm); saved */
    nf_shape cond;      /* per-sample shape of the condition it takes from ctx->cond;
                           all zero: unconditional (n unused) */
};

/* Calls through the ops table, checking arguments and shapes. */
nf_status nf_layer_forward(nf_layer *l, nf_tensor *x, double *logdet, nf_ctx *ctx);
nf_status nf_layer_inverse(nf_layer *l, nf_tensor *y, nf_ctx *ctx);
nf_status nf_layer_backward(nf_layer *l, nf_tensor *y, nf_tensor *dy, nf_ctx *ctx);
size_t nf_layer_workspace(const nf_layer *l, nf_shape in);
nf_status nf_layer_out_shape(const nf_layer *l, nf_shape in, nf_shape *out);
void nf_layer_destroy(nf_layer *l);

/* Flat parameter storage: one buffer of values, one of gradients, views per layer. */
typedef struct nf_params {
    nf_real *value;         /* (count) */
    nf_real *grad;          /* (count) */
    unsigned char *frozen;  /* (count) 1 where a block is frozen: optimisers skip it */
    size_t count;
} nf_params;

/* (A layer has at most 16 parameter blocks.) Allocates buffers for the layers' nparams, binds each layer's view, calls
 * init_params in order, drawing from rng, and marks frozen blocks. */
nf_status nf_params_bind(nf_params *p, nf_layer **layers, int nlayers, nf_rng *rng);
void nf_params_zero_grad(nf_params *p);
void nf_params_free(nf_params *p);

/* Scratch memory for an nf_ctx. */
nf_status nf_ctx_reserve(nf_ctx *ctx, size_t bytes);
void nf_ctx_free(nf_ctx *ctx);

/* --- layer constructors (in = per-sample input shape; n is ignored) --- */

/* y = s * x + b per channel; s, b set from the first batch so y has zero mean and
 * unit variance per channel. logdet = d*h*w * sum_c log|s_c|. */
nf_status nf_actnorm_create(nf_layer **out, nf_shape in);

typedef enum nf_conv1x1_kind {
    NF_CONV1X1_LU = 0,          /* W = P L (U + diag(sign(s) exp(log|s|))), Glow */
    NF_CONV1X1_HOUSEHOLDER = 1  /* W = H3 H2 H1, orthogonal, logdet 0 (InvertibleNetworks.jl) */
} nf_conv1x1_kind;
/* y = W x at every voxel; logdet = d*h*w * log|det W|. LU: W starts as a random
 * rotation; Householder: three random reflections (orthogonal, det -1, logdet 0).
 * rng may be NULL; when given, one number drawn from it seeds this layer's initial
 * values (so they do not depend on binding order); otherwise nf_params_bind's rng is used. */
nf_status nf_conv1x1_create(nf_layer **out, nf_shape in, nf_conv1x1_kind kind, nf_rng *rng);

/* Floor of the affine coupling's scale: s = eps + (1 - eps) * sigmoid(h + 2). It bounds
 * how much inverting one coupling can amplify an error in its output (1/eps) and so
 * how far the inputs rebuilt by invertible backprop can drift. This is the floor of
 * nf_coupling_affine_create and of model files written before the floor was a Glow
 * setting (nf_glow_config.coupling_min_scale). */
#define NF_COUPLING_MIN_SCALE 1e-3

/* Glow affine coupling: x = (xa, xb), xa = first c/2 channels (rounded down).
 * (log_s_raw, t) = NN(xb), s = eps + (1 - eps) * sigmoid(log_s_raw + 2) (eps =
 * NF_COUPLING_MIN_SCALE); ya = s*xa + t, yb = xb.
 * NN = conv3x3 -> ReLU -> conv1x1 -> ReLU -> conv3x3 (last zero-initialised). */
nf_status nf_coupling_affine_create(nf_layer **out, nf_shape in, int hidden);
/* The same with the floor eps = min_scale in (0, 1). */
nf_status nf_coupling_affine_create_bounded(nf_layer **out, nf_shape in, int hidden, double min_scale);
/* NICE additive coupling: ya = xa + NN(xb), yb = xb; logdet 0. */
nf_status nf_coupling_additive_create(nf_layer **out, nf_shape in, int hidden);
/* Conditional couplings (conditional Glow): as above with NN(concat(xb, y)), y = ctx->cond
 * of cond_channels channels and x's d, h, w (l->cond); NN's first conv takes
 * c - c/2 + cond_channels channels. backward adds dloss/dy to ctx->dcond (when not NULL).
 * cond_channels 0: the unconditional layer. */
nf_status nf_coupling_affine_create_cond(nf_layer **out, nf_shape in, int cond_channels, int hidden,
                                        double min_scale);
nf_status nf_coupling_additive_create_cond(nf_layer **out, nf_shape in, int cond_channels, int hidden);

/* Conditional HINT for images and volumes (InvertibleNetworks.jl's NetworkConditionalHINT):
 * x (in: c >= 2 channels) and the condition y (cond: >= 2 channels, x's d, h, w) are
 * transformed jointly, steps K in 1..256 steps of ActNorm, Householder 1x1 conv and a
 * channel HINT tree of affine couplings on each, x's step then scaled and shifted by a
 * conv sub-network of y's state (hidden wide). forward adds log|det dzx/dx| + log p(y) to
 * logdet (the joint log p(x, y) for a flow's prior on zx); inverse with y draws from
 * p(x | y). ctx->cond is y as (n, cy*d*h*w, 1, 1, 1) rows (l->cond), as a sequential flow
 * passes it. Every coupling's scale s lies in [min_scale, 1), min_scale in (0, 1) (the
 * spec key floor, default NF_COUPLING_MIN_SCALE). Model-file type "cond_hint_conv". */
nf_status nf_cond_hint_conv_create(nf_layer **out, nf_shape in, nf_shape cond, int hidden, int steps,
                                   double min_scale);
/* zy (n, y's values) <- the y lane of y (same layout) alone: zy = fy(y);
 * logdet[b] += log|det dzy_b/dy_b|. l must be a cond_hint_conv layer with bound
 * parameters that has run one forward (its ActNorms are initialised). */
nf_status nf_cond_hint_conv_encode_y(nf_layer *l, const nf_tensor *y, nf_tensor *zy, double *logdet);

/* 2x2 space-to-depth: (c, h, w) -> (4c, h/2, w/2); for volumes (d > 1) 2x2x2:
 * (c, d, h, w) -> (8c, d/2, h/2, w/2); logdet 0. */
nf_status nf_squeeze_create(nf_layer **out, nf_shape in);
/* Orthonormal Haar wavelet squeeze: (c, h, w) -> (4c, h/2, w/2), channel blocks
 * (approximation, horizontal, vertical, diagonal); for volumes (d > 1) the 3-D Haar
 * transform, (c, d, h, w) -> (8c, d/2, h/2, w/2), those four blocks for the depth
 * average then for the depth difference; logdet 0. */
nf_status nf_haar_create(nf_layer **out, nf_shape in);

/* Channel split (factor-out): moves the last c - c/2 channels of x to z and
 * shrinks x to its first c/2 channels, in place. z is (n, c - c/2, d, h, w).
 * The inverse puts them back: x->data must have room for n * (x->c + z->c) * d*h*w
 * values. Used by multiscale networks. */
nf_status nf_split_forward(nf_tensor *x, nf_tensor *z);
nf_status nf_split_inverse(nf_tensor *x, const nf_tensor *z);

/* Glow's learned prior as a layer that standardises the latents it covers (openai/glow's
 * split prior and learned top prior). conditioned = 1 (split prior, c >= 2): xa = the
 * first c/2 channels, xb = the rest, (m, ls) = conv3x3(xa) + bias (3x3x3 for volumes)
 * with 2*(c - c/2) output channels, m first; conditioned = 0 (top prior): xb = all
 * channels, m and ls learned per channel. yb = (xb - m) * exp(-ls), ya = xa;
 * logdet -= sum ls. That is, xb ~ N(m, exp(ls)^2) when y ~ N(0, I). All parameters start
 * at 0 (the standard normal prior). */
nf_status nf_prior_create(nf_layer **out, nf_shape in, int conditioned);

/* ---------------------------------------------------------------- flows */

/*
 * A flow maps data x (n, c, d, h, w) to latents z (n, D, 1, 1, 1), D = c*d*h*w, with
 * z ~ N(0, I) under the model. Glow and the generic sequential model are flows; the
 * trainer, evaluation, sampling and model files work on any flow.
 */
typedef struct nf_flow nf_flow;
/* During a backward: the gradients of parameters [lo, count) are final (no later work of
 * this backward adds to them). */
typedef void (*nf_grads_ready_fn)(void *user, size_t lo);

typedef struct nf_flow_ops {
    const char *name; /* "glow", "sequential" */
    /* cond: the batch's condition y (n samples of f->cond) for a conditional flow, NULL
     * otherwise (nf_flow_* check which). */
    /* z = f(x; y), logdet (n) overwritten; x is not modified. */
    nf_status (*forward)(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet);
    /* x = f^-1(z; y); z is not modified. */
    nf_status (*inverse)(nf_flow *f, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x);
    /* From z = f(x; y) and dz = dloss/dz: x rebuilt (may be NULL), dx = dloss/dx (may be
     * NULL), parameter gradients (those of the networks that process y included)
     * accumulated with dlogdet = dloss/dlogdet[b]. Activation memory does not grow with depth. */
    nf_status (*backward)(nf_flow *f, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond,
                          double dlogdet, nf_tensor *x, nf_tensor *dx);
    /* Optional: debugging mode that stores layer inputs (see nf_flow_set_store_activations). */
    nf_status (*set_store_activations)(nf_flow *f, int on);
    void (*destroy)(nf_flow *f);
} nf_flow_ops;

struct nf_flow {
    const nf_flow_ops *ops;
    nf_shape in;        /* per-sample data shape (n unused) */
    nf_shape cond;      /* per-sample shape of the condition y of p(x | y); all zero:
                           unconditional (then every cond argument must be NULL) */
    nf_params params;   /* all parameters, gradients; layers view into them */
    int nlayers;
    nf_layer **layers;  /* (nlayers) in forward order; for saving and inspection */
    double drift;       /* store mode: largest relative reconstruction drift of the last backward */
    int drift_layer;    /* store mode: the layer whose rebuilt input drifted most (-1: none) */
    double *layer_rebuild; /* store mode, after nf_flow_inverse of the stored batch's latents:
                              (nlayers) relative error of each layer's rebuilt input, the
                              errors of the layers above included */
    struct nf_flow_scratch *scratch; /* whole-flow passes' z/dz/x/logdet, kept between calls */
    struct nf_data_identity *data;  /* the training data (nf_flow_set_data_identity); NULL: unknown */
    nf_sum_fn sum;      /* nf_flow_set_sum: the batch is one share of a global batch */
    void *sum_user;
    nf_grads_ready_fn grads_ready; /* nf_flow_set_grads_ready */
    void *grads_ready_user;
};

/* Checked calls through the flow's ops. cond: the condition y (the same n as x or z, each
 * sample f->cond's values) of a conditional flow; NULL for an unconditional one. Every
 * function below that takes cond checks it the same way. */
nf_status nf_flow_forward(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_tensor *z, double *logdet);
nf_status nf_flow_inverse(nf_flow *f, const nf_tensor *z, const nf_tensor *cond, nf_tensor *x);
nf_status nf_flow_backward(nf_flow *f, const nf_tensor *z, const nf_tensor *dz, const nf_tensor *cond,
                           double dlogdet, nf_tensor *x, nf_tensor *dx);
/* 1 if f models p(x | y) and needs a condition in every pass. */
int nf_flow_is_conditional(const nf_flow *f);
/* Debugging mode: forward stores every layer input and backward continues from the
 * stored inputs (memory grows with depth), recording in f->drift how far the rebuilt
 * inputs were from them (|rebuilt - stored| / |stored| over the batch, the largest over
 * layers) and in f->drift_layer which layer's inverse gave that largest drift. An
 * inverse of the same batch's latents then records in f->layer_rebuild how the error
 * of the plain rebuild grows from the last layer down to the first. */
nf_status nf_flow_set_store_activations(nf_flow *f, int on);
/* Data parallelism: each forward's batch is one process's share of a global batch, and
 * sum(user, v, n) sums over the processes; ActNorm then initialises from the global
 * batch's statistics. fn NULL: one process (the default). */
void nf_flow_set_sum(nf_flow *f, nf_sum_fn fn, void *user);
/* Overlap (data parallelism): while a backward runs, fn(user, lo) is called on the calling
 * thread each time the gradients of parameters [lo, count) are final, lo falling. Flows call
 * nf_flow_grads_ready(f, i) after the backward of layer i when nothing later adds to the
 * gradients of layers i.. (a parameter shared by several layers belongs to the first that
 * uses it); parameters bind in layer order, so those are [offset of layer i, count). fn NULL:
 * none (the default). */
void nf_flow_set_grads_ready(nf_flow *f, nf_grads_ready_fn fn, void *user);
void nf_flow_grads_ready(nf_flow *f, int layer);
void nf_flow_destroy(nf_flow *f);
size_t nf_flow_num_params(const nf_flow *f);
void nf_flow_zero_grad(nf_flow *f);

/* ---------------------------------------------------------------- training */

/* Loss of one batch: mean over samples of 0.5*|z|^2 - logdet (nats per sample, the
 * 0.5*log(2 pi) term left out as in the tutorials), its parts, and bits per dim
 * (the full negative log-likelihood, 2 pi term included, in bits per dimension). */
typedef struct nf_loss_stats {
    double loss;       /* mean_b 0.5*|z_b|^2 - logdet_b */
    double half_sq;    /* mean_b 0.5*|z_b|^2 */
    double logdet;     /* mean_b logdet_b */
    double bits_per_dim;
} nf_loss_stats;

/* From z (n, D) and logdet (n): fills st and, if dz is not NULL, dz = z / n (the
 * gradient of the mean loss); *dlogdet (if not NULL) = -1/n. NF_ERR_NUMERIC on NaN/Inf. */
nf_status nf_loss_nll(const nf_tensor *z, const double *logdet, nf_tensor *dz,
                      double *dlogdet, nf_loss_stats *st);

typedef struct nf_adam {
    double lr, beta1, beta2, eps;
    double weight_decay;  /* decoupled (AdamW); 0 = plain Adam */
    long step;
    size_t count;
    nf_real *m, *v;       /* (count) moments */
} nf_adam;

/* Adam with beta1 0.9, beta2 0.999, eps 1e-8, no weight decay. */
nf_status nf_adam_init(nf_adam *a, size_t count, double lr);
/* value -= lr * mhat / (sqrt(vhat) + eps) + lr * weight_decay * value, skipping
 * frozen parameters. */
nf_status nf_adam_step(nf_adam *a, nf_params *p);
void nf_adam_free(nf_adam *a);

/* Scales the gradients so their 2-norm is at most max_norm; *norm (if not NULL)
 * receives the norm before clipping. NF_ERR_NUMERIC if it is not finite. */
nf_status nf_clip_grad_norm(nf_params *p, double max_norm, double *norm);

/* The rebuild guard. Invertible backprop rebuilds every layer's input from its output;
 * a badly conditioned inverse can amplify float32 round-off until the rebuilt inputs,
 * and so the gradients, are garbage while the loss still looks fine. The backward ends
 * by rebuilding the batch itself, which the caller still holds, so the error is
 * measured at no cost on every step:
 *     rebuild_error = max over samples b of |x_rebuilt_b - x_b| / |x_b|
 * (2-norms; float32 round-off gives ~1e-7..1e-5). When it passes the tolerance, the
 * step's gradient is recomputed exactly, from stored layer inputs for that step only
 * (memory then grows with depth for the duration of that step and is freed again). */
#define NF_REBUILD_TOL_DEFAULT 1e-3

typedef struct nf_grad_report {
    double rebuild_error;   /* of the rebuilt batch, before any recompute (NaN possible) */
    int recomputed;         /* 1: rebuild_error passed the tolerance; gradient recomputed */
    int worst_layer;        /* recomputed: index in f->layers of the layer whose inverse
                               amplified the rebuild error most (-1: not measured) */
    double worst_gain;      /* by that factor: its rebuilt input's error over its output's
                               (output errors below float32 round-off count as 1e-7) */
    size_t recompute_bytes; /* memory the recompute's stored inputs held */
    int peer_failed;        /* data parallelism (nf_flow_set_sum): another process's loss was
                               not finite, so no process ran the backward (NF_ERR_NUMERIC) */
} nf_grad_report;

/* Zeroes the gradients and computes them for the batch x: forward, loss (st, may be
 * NULL), backward with the rebuild measured (rep, may be NULL; always filled, also on
 * failure). rebuild_tol: the tolerance above which the gradient is recomputed from
 * stored inputs; 0 recomputes every step whose rebuild is not exact (and so measures
 * every layer's drift); < 0 only measures. A flow without
 * a store mode gets NF_ERR_NUMERIC when the tolerance is passed. Working buffers are
 * kept in the flow between calls. With a sum hook (nf_flow_set_sum) the processes agree
 * before the backward whether every loss was finite and after it whether to recompute,
 * so layers that sum over processes in their passes (batch norm) meet the same calls. */
nf_status nf_flow_gradient(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double rebuild_tol,
                           nf_loss_stats *st, nf_grad_report *rep);

/* The per-layer picture: err[i] (f->nlayers values) receives the relative error of layer
 * i's input as a plain inverse rebuilds it from the latents of x, against the input the
 * forward computed (errors of the layers above included, so err grows from the last layer
 * to the first and a layer whose err[i] / err[i + 1] is large amplifies). Runs a forward
 * keeping every layer's input (freed again) and an inverse; parameters and gradients are
 * not touched, but ActNorm's data-dependent initialisation runs if it has not yet and
 * batch norm's running averages move as in any training forward. */
nf_status nf_flow_rebuild_profile(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, double *err);

/* One training step on a batch: nf_flow_gradient with NF_REBUILD_TOL_DEFAULT, then Adam.
 * No per-step allocation after the first (except a recomputed step). st may be NULL. */
nf_status nf_train_step(nf_flow *f, nf_adam *opt, const nf_tensor *x, const nf_tensor *cond, nf_loss_stats *st);
/* The loss-explosion watcher. A loss far above its recent level means an earlier step
 * damaged the parameters even when every number is still finite (a rise from 4.5 to
 * 30 000 bits/dim has been seen). nf_loss_watch_step judges each step's loss against
 * an exponential average of the accepted ones (about 20 steps of memory):
 *     limit = level + max(rise, 10 * mean absolute deviation),
 * silent for the first NF_LOSS_WATCH_WARMUP losses. The state is four numbers, so a
 * checkpoint can carry it. */
#define NF_LOSS_WATCH_WARMUP 20
typedef struct nf_loss_watch {
    double rise;    /* the smallest rise above the level that counts as a jump (loss units) */
    double level;   /* average of the accepted losses */
    double spread;  /* average absolute deviation from the level */
    long seen;      /* losses accepted */
} nf_loss_watch;

nf_status nf_loss_watch_init(nf_loss_watch *w, double rise);
/* NF_ERR_NUMERIC, with the numbers in nf_last_error(), when the loss is not finite or
 * above the limit (nothing recorded); otherwise records it. */
nf_status nf_loss_watch_step(nf_loss_watch *w, double loss);
/* The current limit (INFINITY while warming up). */
double nf_loss_watch_limit(const nf_loss_watch *w);

/* Loss of a batch without touching gradients (-log p(x | y) for a conditional flow). */
nf_status nf_flow_eval(nf_flow *f, const nf_tensor *x, const nf_tensor *cond, nf_loss_stats *st);
/* x (n, c, d, h, w) <- f^-1(temperature * eps; y), eps ~ N(0, I): for a conditional flow,
 * draws from p(x | y_b) for each sample b of cond (posterior samples: repeat one y). */
nf_status nf_flow_sample(nf_flow *f, nf_tensor *x, const nf_tensor *cond, double temperature, nf_rng *rng);

/* ---------------------------------------------------------------- toy densities */

/* InvertibleNetworks.jl sample_banana: a ~ N(0, I), x1 = a1/c1,
 * x2 = a2*c1 + c1*c2*(a1^2 + c1^2), c = (1, 4). Writes n samples as (n, 2) = (n, 2, 1, 1, 1). */
void nf_sample_banana(nf_rng *r, nf_real *x, int n);

#ifdef __cplusplus
}
#endif

#include "nflow/glow.h"     /* multiscale and conditional Glow */
#include "nflow/dist.h"     /* ranks that train one model together (MPI) */
#include "nflow/trainer.h"  /* the training loop: schedules, rollbacks, the guard */
#include "nflow/io.h"       /* HDF5 datasets, toy densities */
#include "nflow/model_io.h" /* HDF5 model and checkpoint files */
#include "nflow/vector.h"  /* vector flows: MLP couplings, MAF/IAF, splines, HINT, nf_sequential_* */

#endif /* NFLOW_H */
