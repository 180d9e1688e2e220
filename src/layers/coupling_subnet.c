/* The conv sub-network of the image couplings on one channel-major chunk, and the
 * coupling wiring (see coupling_subnet.h). Everything here runs on workspace memory:
 * no allocation outside nf_coupling_new. The threaded passes are in coupling_chunks.c. */
#include "layers/coupling_subnet.h"

#include "kernels/conv2d_cm.h"
#include "kernels/conv2d_dnnl.h"
#include "kernels/conv3d_cm.h"

#include <math.h>
#include <string.h>

enum { W1, B1, W2, B2, W3, B3, NBLOCKS };

static size_t block_count(const nf_param_block *b) {
    size_t cnt = 1;
    for (int r = 0; r < b->rank; r++) cnt *= (size_t)b->dims[r];
    return cnt;
}

/* The 6 parameter blocks, contiguous in this order; volume kernels have a third tap axis. */
static void layout(const nf_subnet *net, nf_param_block b[NBLOCKS]) {
    int hid = net->hidden, rank = net->d > 1 ? 5 : 4;
    b[W1] = (nf_param_block){"conv1.weight", 0, rank, {hid, net->cin, 3, 3, 3}};
    b[B1] = (nf_param_block){"conv1.bias", 0, 1, {hid}};
    b[W2] = (nf_param_block){"conv2.weight", 0, rank, {hid, hid, 1, 1, 1}};
    b[B2] = (nf_param_block){"conv2.bias", 0, 1, {hid}};
    b[W3] = (nf_param_block){"conv3.weight", 0, rank, {net->cout, hid, 3, 3, 3}};
    b[B3] = (nf_param_block){"conv3.bias", 0, 1, {net->cout}};
    size_t off = 0;
    for (int k = 0; k < NBLOCKS; k++) {
        b[k].offset = off;
        off += block_count(&b[k]);
    }
}

size_t nf_subnet_nparams(const nf_subnet *net) {
    nf_param_block b[NBLOCKS];
    layout(net, b);
    return b[B3].offset + block_count(&b[B3]);
}

int nf_subnet_param_blocks(const nf_subnet *net, size_t base, nf_param_block *out, int max) {
    nf_param_block b[NBLOCKS];
    layout(net, b);
    for (int k = 0; k < NBLOCKS && k < max; k++) {
        out[k] = b[k];
        out[k].offset += base;
    }
    return NBLOCKS;
}

void nf_subnet_init(const nf_subnet *net, nf_real *param, nf_rng *rng) {
    nf_param_block b[NBLOCKS];
    layout(net, b);
    memset(param, 0, nf_subnet_nparams(net) * sizeof(nf_real));
    /* He normal keeps the ReLU activations at the input's scale for any width */
    double taps = net->d > 1 ? 27.0 : 9.0;
    nf_rng_fill_normal(rng, param + b[W1].offset, block_count(&b[W1]), sqrt(2.0 / (taps * net->cin)));
    nf_rng_fill_normal(rng, param + b[W2].offset, block_count(&b[W2]), sqrt(2.0 / net->hidden));
    /* conv3 stays zero: NN = 0 at the start, so the coupling starts as (nearly) the identity */
}

/* Scratch of one conv kernel call: images (net->d = 1) or volumes (net->d > 1). */
static size_t one_conv_work(const nf_subnet *net, int nb, int cin, int cout, int h, int w, int k) {
    if (net->d > 1) return nf_cm_conv3d_work_count(nb, cin, cout, net->d, h, w, k);
    return nf_cm_conv_work_count(nb, cin, cout, h, w, k);
}

/* Scratch the conv kernels need for the largest of the three convs. */
static size_t conv_work_count(const nf_subnet *net, int nb, int h, int w) {
    size_t a = one_conv_work(net, nb, net->cin, net->hidden, h, w, 3);
    size_t b = one_conv_work(net, nb, net->hidden, net->hidden, h, w, 1);
    size_t c = one_conv_work(net, nb, net->hidden, net->cout, h, w, 3);
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* oneDNN runs the 3x3 convs of images where it is selected (nf_set_conv_backend) and
 * takes the shape; where it fails the im2col kernels run instead: they never fail. */
static int use_dnnl(int nb, int cin, int cout, int h, int w, int k) {
    return nf_get_conv_backend() == NF_CONV_DNNL && nf_dnnl_conv_takes(nb, cin, cout, h, w, k);
}

/* The conv kernels of conv2d_cm.h (or oneDNN's, conv2d_dnnl.h) or, for volumes, conv3d_cm.h. */
static void conv_forward(const nf_subnet *net, nf_real *out, const nf_real *x, const nf_real *weight,
                         const nf_real *bias, int relu, int nb, int cin, int cout, int h, int w, int k, nf_real *work) {
    if (net->d > 1) nf_cm_conv3d_forward(out, x, weight, bias, relu, nb, cin, cout, net->d, h, w, k, work);
    else if (!use_dnnl(nb, cin, cout, h, w, k) ||
             nf_dnnl_conv_forward(out, x, weight, bias, relu, nb, cin, cout, h, w, k) != NF_OK)
        nf_cm_conv_forward(out, x, weight, bias, relu, nb, cin, cout, h, w, k, work);
}

static void conv_backward(const nf_subnet *net, nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout,
                          const nf_real *x, const nf_real *weight, int relu_in, int nb, int cin, int cout, int h,
                          int w, int k, nf_real *work) {
    if (net->d > 1)
        nf_cm_conv3d_backward(dx, dweight, dbias, dout, x, weight, relu_in, nb, cin, cout, net->d, h, w, k, work);
    else if (!use_dnnl(nb, cin, cout, h, w, k) ||
             nf_dnnl_conv_backward(dx, dweight, dbias, dout, x, weight, relu_in, nb, cin, cout, h, w, k) != NF_OK)
        nf_cm_conv_backward(dx, dweight, dbias, dout, x, weight, relu_in, nb, cin, cout, h, w, k, work);
}

size_t nf_subnet_work_bytes(const nf_subnet *net, int nb, int h, int w) {
    size_t px = (size_t)nb * net->d * h * w, hid = px * net->hidden;
    return nf_work_bytes(px * net->cin) + 3 * nf_work_bytes(hid) + nf_work_bytes(px * net->cout) +
           nf_work_bytes(conv_work_count(net, nb, h, w));
}

nf_subnet_acts nf_subnet_take(const nf_subnet *net, nf_ctx *ctx, size_t *off, int nb, int h, int w) {
    size_t px = (size_t)nb * net->d * h * w, hid = px * net->hidden;
    nf_subnet_acts a;
    a.x = nf_ctx_take(ctx, off, px * net->cin);
    a.h1 = nf_ctx_take(ctx, off, hid);
    a.h2 = nf_ctx_take(ctx, off, hid);
    a.out = nf_ctx_take(ctx, off, px * net->cout);
    a.dh = nf_ctx_take(ctx, off, hid);
    a.work = nf_ctx_take(ctx, off, conv_work_count(net, nb, h, w));
    a.nb = nb;
    a.h = h;
    a.w = w;
    return a;
}

void nf_subnet_forward(const nf_subnet *net, const nf_real *param, nf_subnet_acts *a) {
    nf_param_block b[NBLOCKS];
    layout(net, b);
    int nb = a->nb, h = a->h, w = a->w, hid = net->hidden;
    /* bias and ReLU are applied while each output is still in cache */
    conv_forward(net, a->h1, a->x, param + b[W1].offset, param + b[B1].offset, 1, nb, net->cin, hid, h, w, 3,
                 a->work);
    conv_forward(net, a->h2, a->h1, param + b[W2].offset, param + b[B2].offset, 1, nb, hid, hid, h, w, 1, a->work);
    conv_forward(net, a->out, a->h2, param + b[W3].offset, param + b[B3].offset, 0, nb, hid, net->cout, h, w, 3,
                 a->work);
}

void nf_subnet_backward(const nf_subnet *net, const nf_real *param, nf_real *grad, nf_subnet_acts *a) {
    nf_param_block b[NBLOCKS];
    layout(net, b);
    int nb = a->nb, h = a->h, w = a->w, hid = net->hidden;
    /* conv3: dW3, db3 from dout = a->out; dh = conv3^T(dout) masked by ReLU 2 (h2 > 0) */
    conv_backward(net, a->dh, grad + b[W3].offset, grad + b[B3].offset, a->out, a->h2, param + b[W3].offset, 1, nb,
                  hid, net->cout, h, w, 3, a->work);
    /* conv2: h2 is dead now, so it receives dloss/dh1, masked by ReLU 1 (h1 > 0) */
    conv_backward(net, a->h2, grad + b[W2].offset, grad + b[B2].offset, a->dh, a->h1, param + b[W2].offset, 1, nb,
                  hid, hid, h, w, 1, a->work);
    /* conv1: x is read for dW1 before the kernel overwrites it with dloss/dx */
    conv_backward(net, a->x, grad + b[W1].offset, grad + b[B1].offset, a->h2, a->x, param + b[W1].offset, 0, nb,
                  net->cin, hid, h, w, 3, a->work);
}

/* ---------------------------------------------------------------- coupling wiring */

/* Caps the width so every size the conv kernels index stays far inside int. */
#define NF_COUPLING_MAX_HIDDEN 16384

/* The checks and construction shared by both splits: xa = channels [0, ca), xb = the rest. */
static nf_status coupling_new(nf_layer **out, nf_shape in, int ca, int cond_channels, int hidden, int out_per_ca,
                              const nf_layer_ops *ops, nf_coupling_step step, const char *who) {
    if (in.d <= 0 || in.h <= 0 || in.w <= 0)
        return nf_fail(NF_ERR_SHAPE, "%s: sample size %d x %d x %d is not positive", who, in.d, in.h, in.w);
    if (hidden < 1 || hidden > NF_COUPLING_MAX_HIDDEN)
        return nf_fail(NF_ERR_ARG, "%s: hidden = %d, must be in [1, %d]", who, hidden, NF_COUPLING_MAX_HIDDEN);
    if (cond_channels < 0 || cond_channels > NF_COUPLING_MAX_HIDDEN)
        return nf_fail(NF_ERR_ARG, "%s: condition channels = %d, must be in [0, %d]", who, cond_channels,
                       NF_COUPLING_MAX_HIDDEN);
    nf_coupling *cp = nf_calloc(1, sizeof *cp);
    if (!cp) return nf_fail(NF_ERR_NOMEM, "%s: out of memory", who);
    cp->ca = ca;
    cp->cb = in.c - cp->ca;
    cp->cc = cond_channels;
    cp->net = (nf_subnet){.cin = cp->cb + cp->cc, .hidden = hidden, .cout = out_per_ca * cp->ca, .d = in.d};
    cp->step = step;
    cp->base.ops = ops;
    cp->base.in = in;
    if (cond_channels > 0) cp->base.cond = (nf_shape){1, cond_channels, in.d, in.h, in.w};
    cp->base.nparams = nf_subnet_nparams(&cp->net);
    *out = &cp->base;
    return NF_OK;
}

nf_status nf_coupling_new(nf_layer **out, nf_shape in, int cond_channels, int hidden, int out_per_ca,
                          const nf_layer_ops *ops, nf_coupling_step step, const char *who) {
    if (!out) return nf_fail(NF_ERR_ARG, "%s: argument 'out' is NULL", who);
    *out = NULL;
    if (in.c < 2) return nf_fail(NF_ERR_SHAPE, "%s: needs at least 2 channels to split, got c = %d", who, in.c);
    return coupling_new(out, in, in.c / 2, cond_channels, hidden, out_per_ca, ops, step, who);
}

nf_status nf_coupling_new_all(nf_layer **out, nf_shape in, int cond_channels, int hidden, int out_per_ca,
                              const nf_layer_ops *ops, nf_coupling_step step, const char *who) {
    if (!out) return nf_fail(NF_ERR_ARG, "%s: argument 'out' is NULL", who);
    *out = NULL;
    if (in.c < 1) return nf_fail(NF_ERR_SHAPE, "%s: needs at least 1 channel, got c = %d", who, in.c);
    if (cond_channels < 1)
        return nf_fail(NF_ERR_ARG, "%s: changes every channel and so needs a condition, got %d channels", who,
                       cond_channels);
    return coupling_new(out, in, in.c, cond_channels, hidden, out_per_ca, ops, step, who);
}

void nf_coupling_init_params(nf_layer *l, nf_rng *rng) {
    nf_coupling *cp = (nf_coupling *)l;
    nf_subnet_init(&cp->net, l->param, rng);
}

int nf_coupling_param_blocks(const nf_layer *l, nf_param_block *out, int max) {
    const nf_coupling *cp = (const nf_coupling *)l;
    return nf_subnet_param_blocks(&cp->net, 0, out, max);
}

void nf_coupling_destroy(nf_layer *l) { nf_free(l); }
