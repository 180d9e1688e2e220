/* oneDNN convolutions on channel-major chunks (conv2d_dnnl.h). A chunk (C, nb*h*w) is an
 * NCHW tensor with strides (h*w, nb*h*w, w, 1) to oneDNN; each primitive picks its own
 * layout ("any") and a "port" moves an operand between the two by a reorder primitive
 * (none where they agree). A plan holds the primitives and ports of one shape; each thread
 * keeps its own plans and one arena for their reordered operands. */
#include "conv2d_dnnl.h"

#include "nf_internal.h"

#if defined(NFLOW_HAVE_DNNL) && !defined(NFLOW_DOUBLE)

#include "conv2d_cm.h" /* nf_cm_relu_backward */

#include <dnnl.h>
#include <dnnl_debug.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

#define ARENA_ALIGN 64

/* Returns the oneDNN status of x from the enclosing function if it is not success. */
#define DN(x)                                                                                                          \
    do {                                                                                                               \
        dnnl_status_t dn_s_ = (x);                                                                                     \
        if (dn_s_ != dnnl_success) return dn_s_;                                                                       \
    } while (0)

/* One operand as the caller holds it (user) and as a primitive wants it (inner). */
typedef struct port {
    dnnl_memory_t user, inner; /* the same object where the layouts agree */
    dnnl_primitive_t reorder;  /* user -> inner (input) or inner -> user (output); NULL if they agree */
    size_t off;                /* arena offset of inner's buffer when reordered */
} port;

enum { FWD_SRC, FWD_WEI, FWD_DST, FWD_NPORTS };
enum { BWD_SRC, BWD_DDST_W, BWD_DWEI, BWD_WEI, BWD_DDST_D, BWD_DSRC, BWD_NPORTS };
typedef enum plan_kind { PLAN_FWD, PLAN_BWD } plan_kind;

/* The primitives of one shape: the forward, or the backward weights and data. */
typedef struct plan {
    struct plan *next;
    plan_kind kind;
    int nb, cin, cout, h, w, bias, relu;
    dnnl_primitive_t main, data; /* forward or backward weights; backward data (PLAN_BWD) */
    port ports[BWD_NPORTS];
    dnnl_memory_t bias_mem;  /* bias (forward) or the bias gradient (backward, in the arena) */
    size_t dwei_off, dbias_off; /* PLAN_BWD: arena offsets of the (cout, cin, 3, 3) and (cout) gradients */
    size_t bytes;            /* arena bytes the plan uses */
    char impl[64];           /* oneDNN's name of the main primitive's implementation */
} plan;

/* A thread's plans, stream and arena (freed when the thread ends). */
typedef struct thread_state {
    dnnl_stream_t stream;
    plan *plans;
    char *arena;
    size_t arena_bytes;
} thread_state;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_key_t state_key;
static int key_ok;
static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;

/* ---------------------------------------------------------------- ports */

static size_t round_up(size_t n) { return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

static void port_free(port *p) {
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->inner && p->inner != p->user) dnnl_memory_destroy(p->inner);
    if (p->user) dnnl_memory_destroy(p->user);
    memset(p, 0, sizeof *p);
}

/* A port between user_md and inner_md; *bytes grows by inner's buffer if a reorder is needed. */
static dnnl_status_t port_make(port *p, const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *inner_md,
                               int input, size_t *bytes) {
    DN(dnnl_memory_create(&p->user, user_md, engine, DNNL_MEMORY_NONE));
    if (dnnl_memory_desc_equal(user_md, inner_md)) {
        p->inner = p->user;
        return dnnl_success;
    }
    DN(dnnl_memory_create(&p->inner, inner_md, engine, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *from = input ? user_md : inner_md, *to = input ? inner_md : user_md;
    DN(dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL));
    dnnl_status_t s = dnnl_primitive_create(&p->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    p->off = *bytes;
    *bytes += round_up(dnnl_memory_desc_get_size(inner_md));
    return s;
}

/* Points the port at the caller's buffer and at its place in the arena. */
static dnnl_status_t port_bind(const port *p, const void *user, char *arena) {
    if (!p->user) return dnnl_success;
    DN(dnnl_memory_set_data_handle(p->user, (void *)user));
    if (p->inner != p->user) DN(dnnl_memory_set_data_handle(p->inner, arena + p->off));
    return dnnl_success;
}

/* Runs the port's reorder, if any (its direction was fixed by port_make). */
static dnnl_status_t port_move(const port *p, dnnl_stream_t stream, int input) {
    if (!p->reorder) return dnnl_success;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, input ? p->user : p->inner}, {DNNL_ARG_TO, input ? p->inner : p->user}};
    return dnnl_primitive_execute(p->reorder, stream, 2, args);
}

/* ---------------------------------------------------------------- plans */

/* A chunk (C, nb*h*w) as an NCHW tensor: image b, channel c at c*nb*h*w + b*h*w. */
static dnnl_status_t chunk_md(dnnl_memory_desc_t *md, int nb, int C, int h, int w) {
    dnnl_dims_t dims = {nb, C, h, w}, strides = {(dnnl_dim_t)h * w, (dnnl_dim_t)nb * h * w, w, 1};
    return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides);
}

static dnnl_status_t tag_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag) {
    dnnl_dims_t d;
    memcpy(d, dims, (size_t)ndims * sizeof *dims);
    return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, tag);
}

static const dnnl_memory_desc_t *query_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

static void plan_free(plan *p) {
    if (!p) return;
    for (int i = 0; i < BWD_NPORTS; i++) port_free(&p->ports[i]);
    if (p->main) dnnl_primitive_destroy(p->main);
    if (p->data) dnnl_primitive_destroy(p->data);
    if (p->bias_mem) dnnl_memory_destroy(p->bias_mem);
    nf_free(p);
}

/* The descriptors every plan of these sizes starts from: the caller's layouts, "any"
 * layouts for the primitive, stride 1 and padding 1 (3x3, "same"). */
typedef struct conv_mds {
    dnnl_memory_desc_t x, out, wei, bias, any_x, any_out, any_wei;
    dnnl_dims_t strides, pad;
} conv_mds;

static dnnl_status_t conv_mds_init(conv_mds *m, const plan *p) {
    dnnl_dim_t wdims[4] = {p->cout, p->cin, 3, 3}, bdims[1] = {p->cout};
    dnnl_dim_t xdims[4] = {p->nb, p->cin, p->h, p->w}, odims[4] = {p->nb, p->cout, p->h, p->w};
    DN(chunk_md(&m->x, p->nb, p->cin, p->h, p->w));
    DN(chunk_md(&m->out, p->nb, p->cout, p->h, p->w));
    DN(tag_md(&m->wei, 4, wdims, dnnl_oihw));
    DN(tag_md(&m->bias, 1, bdims, dnnl_x));
    DN(tag_md(&m->any_x, 4, xdims, dnnl_format_tag_any));
    DN(tag_md(&m->any_out, 4, odims, dnnl_format_tag_any));
    DN(tag_md(&m->any_wei, 4, wdims, dnnl_format_tag_any));
    m->strides[0] = m->strides[1] = 1;
    m->pad[0] = m->pad[1] = 1;
    return dnnl_success;
}

static void copy_impl(plan *p, const_dnnl_primitive_desc_t pd) {
    const char *name = "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name) name = "";
    snprintf(p->impl, sizeof p->impl, "%s", name);
}

/* The forward descriptor of these sizes (also the hint the backward ones need). */
static dnnl_status_t forward_pd(dnnl_primitive_desc_t *pd, const conv_mds *m, int bias, int relu,
                                dnnl_prop_kind_t prop) {
    dnnl_convolution_desc_t d;
    DN(dnnl_convolution_forward_desc_init(&d, prop, dnnl_convolution_direct, &m->any_x, &m->any_wei,
                                          bias ? &m->bias : NULL, &m->any_out, m->strides, m->pad, m->pad));
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = dnnl_success;
    if (relu) {
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return s;
}

static dnnl_status_t plan_forward(plan *p, const conv_mds *m) {
    dnnl_primitive_desc_t pd;
    DN(forward_pd(&pd, m, p->bias, p->relu, dnnl_forward_inference));
    dnnl_status_t s = port_make(&p->ports[FWD_SRC], &m->x, query_md(pd, dnnl_query_src_md), 1, &p->bytes);
    if (s == dnnl_success)
        s = port_make(&p->ports[FWD_WEI], &m->wei, query_md(pd, dnnl_query_weights_md), 1, &p->bytes);
    if (s == dnnl_success) s = port_make(&p->ports[FWD_DST], &m->out, query_md(pd, dnnl_query_dst_md), 0, &p->bytes);
    if (s == dnnl_success && p->bias) s = dnnl_memory_create(&p->bias_mem, &m->bias, engine, DNNL_MEMORY_NONE);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->main, pd);
    copy_impl(p, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static dnnl_status_t plan_backward(plan *p, const conv_mds *m) {
    dnnl_primitive_desc_t hint, wpd = NULL, dpd = NULL;
    DN(forward_pd(&hint, m, p->bias, 0, dnnl_forward_training));
    dnnl_convolution_desc_t wd, dd;
    dnnl_status_t s = dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &m->any_x,
                                                                  &m->any_wei, p->bias ? &m->bias : NULL, &m->any_out,
                                                                  m->strides, m->pad, m->pad);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&wpd, &wd, NULL, engine, hint);
    if (s == dnnl_success)
        s = dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &m->any_x, &m->any_wei,
                                                     &m->any_out, m->strides, m->pad, m->pad);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&dpd, &dd, NULL, engine, hint);
    port *q = p->ports;
    if (s == dnnl_success) s = port_make(&q[BWD_SRC], &m->x, query_md(wpd, dnnl_query_src_md), 1, &p->bytes);
    if (s == dnnl_success)
        s = port_make(&q[BWD_DDST_W], &m->out, query_md(wpd, dnnl_query_diff_dst_md), 1, &p->bytes);
    if (s == dnnl_success)
        s = port_make(&q[BWD_DWEI], &m->wei, query_md(wpd, dnnl_query_diff_weights_md), 0, &p->bytes);
    if (s == dnnl_success) s = port_make(&q[BWD_WEI], &m->wei, query_md(dpd, dnnl_query_weights_md), 1, &p->bytes);
    /* the data gradient reads dout in the layout the weight gradient had it reordered to
     * where the two agree (they usually do): one reorder of dout, not two */
    if (s == dnnl_success && !dnnl_memory_desc_equal(query_md(wpd, dnnl_query_diff_dst_md),
                                                     query_md(dpd, dnnl_query_diff_dst_md)))
        s = port_make(&q[BWD_DDST_D], &m->out, query_md(dpd, dnnl_query_diff_dst_md), 1, &p->bytes);
    if (s == dnnl_success) s = port_make(&q[BWD_DSRC], &m->x, query_md(dpd, dnnl_query_diff_src_md), 0, &p->bytes);
    /* the weight and bias gradients land in the arena, then are added to the caller's */
    p->dwei_off = p->bytes;
    p->bytes += round_up((size_t)p->cout * p->cin * 9 * sizeof(float));
    p->dbias_off = p->bytes;
    p->bytes += round_up((size_t)p->cout * sizeof(float));
    if (s == dnnl_success && p->bias) s = dnnl_memory_create(&p->bias_mem, &m->bias, engine, DNNL_MEMORY_NONE);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->main, wpd);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->data, dpd);
    if (wpd) copy_impl(p, wpd);
    if (dpd) dnnl_primitive_desc_destroy(dpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    dnnl_primitive_desc_destroy(hint);
    return s;
}

/* ---------------------------------------------------------------- per-thread state */

static void state_free(void *arg) {
    thread_state *ts = arg;
    if (!ts) return;
    for (plan *p = ts->plans, *next; p; p = next) {
        next = p->next;
        plan_free(p);
    }
    if (ts->stream) dnnl_stream_destroy(ts->stream);
    nf_free(ts->arena);
    nf_free(ts);
}

static void init_globals(void) {
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
    key_ok = pthread_key_create(&state_key, state_free) == 0;
}

static nf_status dnnl_fail(dnnl_status_t s, const char *what) {
    return nf_fail(s == dnnl_out_of_memory ? NF_ERR_NOMEM : NF_ERR_STATE, "oneDNN convolution: %s: %s", what,
                   dnnl_status2str(s));
}

static nf_status thread_state_get(thread_state **out) {
    pthread_once(&init_once, init_globals);
    if (engine_status != dnnl_success) return dnnl_fail(engine_status, "no CPU engine");
    if (!key_ok) return nf_fail(NF_ERR_STATE, "oneDNN convolution: no thread-local key");
    thread_state *ts = pthread_getspecific(state_key);
    if (!ts) {
        ts = nf_calloc(1, sizeof *ts);
        if (!ts) return nf_fail(NF_ERR_NOMEM, "oneDNN convolution: out of memory");
        dnnl_status_t s = dnnl_stream_create(&ts->stream, engine, dnnl_stream_default_flags);
        if (s != dnnl_success || pthread_setspecific(state_key, ts) != 0) {
            state_free(ts);
            return dnnl_fail(s == dnnl_success ? dnnl_runtime_error : s, "thread state");
        }
    }
    *out = ts;
    return NF_OK;
}

/* This thread's plan for the key, made (and the arena grown) on first use. */
static nf_status plan_get(thread_state *ts, plan **out, const plan *key) {
    for (plan *p = ts->plans; p; p = p->next)
        if (p->kind == key->kind && p->nb == key->nb && p->cin == key->cin && p->cout == key->cout &&
            p->h == key->h && p->w == key->w && p->bias == key->bias && p->relu == key->relu) {
            *out = p;
            return NF_OK;
        }
    plan *p = nf_calloc(1, sizeof *p);
    if (!p) return nf_fail(NF_ERR_NOMEM, "oneDNN convolution: out of memory");
    *p = *key;
    p->next = NULL;
    conv_mds m;
    dnnl_status_t s = conv_mds_init(&m, p);
    if (s == dnnl_success) s = p->kind == PLAN_FWD ? plan_forward(p, &m) : plan_backward(p, &m);
    if (s != dnnl_success) {
        plan_free(p);
        return dnnl_fail(s, "making the primitives");
    }
    if (p->bytes > ts->arena_bytes) {
        char *a = nf_alloc(p->bytes);
        if (!a) {
            plan_free(p);
            return nf_fail(NF_ERR_NOMEM, "oneDNN convolution: %zu bytes for reordered operands", p->bytes);
        }
        nf_free(ts->arena);
        ts->arena = a;
        ts->arena_bytes = p->bytes;
    }
    p->next = ts->plans;
    ts->plans = p;
    *out = p;
    return NF_OK;
}

/* oneDNN's OpenMP runtime sizes a primitive by omp_get_max_threads() when it is made and
 * runs it on that many threads outside a parallel region (on one inside): one thread
 * for both, on the caller's thread, so that a plan made outside a region and run inside
 * one (or the reverse) is the same primitive. */
static int one_thread_begin(void) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    return saved;
}

static nf_status lookup(plan **out, thread_state **ts, plan_kind kind, int nb, int cin, int cout, int h, int w, int k,
                        int bias, int relu) {
    if (!nf_dnnl_conv_takes(nb, cin, cout, h, w, k))
        return nf_fail(NF_ERR_SHAPE, "oneDNN convolution: %dx%d kernel on %dx%d images, %d -> %d channels not taken", k,
                       k, h, w, cin, cout);
    NF_TRY(thread_state_get(ts));
    plan key = {.kind = kind, .nb = nb, .cin = cin, .cout = cout, .h = h, .w = w, .bias = bias, .relu = relu};
    return plan_get(*ts, out, &key);
}

/* ---------------------------------------------------------------- kernels */

int nf_dnnl_conv_takes(int nb, int cin, int cout, int h, int w, int k) {
    return k == 3 && (h > 1 || w > 1) && nb > 0 && cin > 0 && cout > 0;
}

static dnnl_status_t run_forward(const plan *p, dnnl_stream_t st, char *arena, nf_real *out, const nf_real *x,
                                 const nf_real *weight, const nf_real *bias) {
    const port *q = p->ports;
    DN(port_bind(&q[FWD_SRC], x, arena));
    DN(port_bind(&q[FWD_WEI], weight, arena));
    DN(port_bind(&q[FWD_DST], out, arena));
    if (p->bias) DN(dnnl_memory_set_data_handle(p->bias_mem, (void *)bias));
    DN(port_move(&q[FWD_SRC], st, 1));
    DN(port_move(&q[FWD_WEI], st, 1));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, q[FWD_SRC].inner},
                               {DNNL_ARG_WEIGHTS, q[FWD_WEI].inner},
                               {DNNL_ARG_DST, q[FWD_DST].inner},
                               {DNNL_ARG_BIAS, p->bias_mem}};
    DN(dnnl_primitive_execute(p->main, st, p->bias ? 4 : 3, args));
    DN(port_move(&q[FWD_DST], st, 0));
    return dnnl_stream_wait(st);
}

nf_status nf_dnnl_conv_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu,
                               int nb, int cin, int cout, int h, int w, int k) {
    int saved = one_thread_begin();
    plan *p;
    thread_state *ts;
    nf_status st = lookup(&p, &ts, PLAN_FWD, nb, cin, cout, h, w, k, bias != NULL, relu != 0);
    if (st == NF_OK) {
        dnnl_status_t s = run_forward(p, ts->stream, ts->arena, out, x, weight, bias);
        if (s != dnnl_success) st = dnnl_fail(s, "forward");
    }
    omp_set_num_threads(saved);
    return st;
}

/* Weight and bias gradients into the arena (dwei_off, dbias_off), then dx if wanted. */
static dnnl_status_t run_backward(const plan *p, dnnl_stream_t st, char *arena, nf_real *dx, const nf_real *dout,
                                  const nf_real *x, const nf_real *weight) {
    const port *q = p->ports;
    DN(port_bind(&q[BWD_SRC], x, arena));
    DN(port_bind(&q[BWD_DDST_W], dout, arena));
    DN(port_bind(&q[BWD_DWEI], arena + p->dwei_off, arena));
    if (p->bias) DN(dnnl_memory_set_data_handle(p->bias_mem, arena + p->dbias_off));
    DN(port_move(&q[BWD_SRC], st, 1));
    DN(port_move(&q[BWD_DDST_W], st, 1));
    dnnl_exec_arg_t wargs[4] = {{DNNL_ARG_SRC, q[BWD_SRC].inner},
                                {DNNL_ARG_DIFF_DST, q[BWD_DDST_W].inner},
                                {DNNL_ARG_DIFF_WEIGHTS, q[BWD_DWEI].inner},
                                {DNNL_ARG_DIFF_BIAS, p->bias_mem}};
    DN(dnnl_primitive_execute(p->main, st, p->bias ? 4 : 3, wargs));
    DN(port_move(&q[BWD_DWEI], st, 0));
    if (dx) {
        /* x has been read (reordered or used) above, so dx may be x */
        DN(port_bind(&q[BWD_WEI], weight, arena));
        DN(port_bind(&q[BWD_DDST_D], dout, arena));
        DN(port_bind(&q[BWD_DSRC], dx, arena));
        DN(port_move(&q[BWD_WEI], st, 1));
        DN(port_move(&q[BWD_DDST_D], st, 1));
        const port *ddst = q[BWD_DDST_D].user ? &q[BWD_DDST_D] : &q[BWD_DDST_W]; /* see plan_backward */
        dnnl_exec_arg_t dargs[3] = {{DNNL_ARG_DIFF_DST, ddst->inner},
                                    {DNNL_ARG_WEIGHTS, q[BWD_WEI].inner},
                                    {DNNL_ARG_DIFF_SRC, q[BWD_DSRC].inner}};
        DN(dnnl_primitive_execute(p->data, st, 3, dargs));
        DN(port_move(&q[BWD_DSRC], st, 0));
    }
    return dnnl_stream_wait(st);
}

nf_status nf_dnnl_conv_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                const nf_real *weight, int relu_in, int nb, int cin, int cout, int h, int w, int k) {
    int saved = one_thread_begin();
    plan *p;
    thread_state *ts;
    nf_status st = lookup(&p, &ts, PLAN_BWD, nb, cin, cout, h, w, k, dbias != NULL, 0);
    if (st == NF_OK) {
        dnnl_status_t s = run_backward(p, ts->stream, ts->arena, dx, dout, x, weight);
        if (s != dnnl_success) st = dnnl_fail(s, "backward");
    }
    omp_set_num_threads(saved);
    if (st != NF_OK) return st;
    const float *gw = (const float *)(ts->arena + p->dwei_off), *gb = (const float *)(ts->arena + p->dbias_off);
    for (size_t i = 0; i < (size_t)cout * cin * 9; i++) dweight[i] += gw[i];
    if (dbias)
        for (int c = 0; c < cout; c++) dbias[c] += gb[c];
    if (dx && relu_in) nf_cm_relu_backward(dx, x, (size_t)cin * nb * h * w);
    return NF_OK;
}

const char *nf_dnnl_conv_impl(int nb, int cin, int cout, int h, int w, int k) {
    int saved = one_thread_begin();
    plan *p;
    thread_state *ts;
    nf_status st = lookup(&p, &ts, PLAN_FWD, nb, cin, cout, h, w, k, 1, 1);
    omp_set_num_threads(saved);
    return st == NF_OK ? p->impl : "";
}

#else /* no oneDNN in this build: every call declines */

int nf_dnnl_conv_takes(int nb, int cin, int cout, int h, int w, int k) { return 0; }

nf_status nf_dnnl_conv_forward(nf_real *out, const nf_real *x, const nf_real *weight, const nf_real *bias, int relu,
                               int nb, int cin, int cout, int h, int w, int k) {
    return nf_fail(NF_ERR_STATE, "oneDNN convolution: not in this build (NFLOW_DNNL, float)");
}

nf_status nf_dnnl_conv_backward(nf_real *dx, nf_real *dweight, nf_real *dbias, const nf_real *dout, const nf_real *x,
                                const nf_real *weight, int relu_in, int nb, int cin, int cout, int h, int w, int k) {
    return nf_fail(NF_ERR_STATE, "oneDNN convolution: not in this build (NFLOW_DNNL, float)");
}

const char *nf_dnnl_conv_impl(int nb, int cin, int cout, int h, int w, int k) { return ""; }

#endif
