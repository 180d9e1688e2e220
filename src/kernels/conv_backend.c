/* Which implementation runs the image couplings' 3x3 convolutions (nflow.h,
 * nf_set_conv_backend). One value for the process, read by every thread on the hot path. */
#include "nf_internal.h"

#include <stdatomic.h>

/* im2col in every build: on the machine it was measured on (docs/performance.md, "oneDNN")
 * oneDNN took 1.3-1.5x as long per Glow step, its kernels padding the couplings' 2-16
 * channel sides to 16 and reordering every operand. */
static atomic_int backend_now = NF_CONV_IM2COL;

nf_status nf_set_conv_backend(nf_conv_backend b) {
    if (b != NF_CONV_IM2COL && b != NF_CONV_DNNL)
        return nf_fail(NF_ERR_ARG, "nf_set_conv_backend: unknown backend %d", (int)b);
#if !defined(NFLOW_HAVE_DNNL) || defined(NFLOW_DOUBLE)
    if (b == NF_CONV_DNNL)
        return nf_fail(NF_ERR_ARG, "nf_set_conv_backend: oneDNN is not in this build (cmake -DNFLOW_DNNL=ON)");
#endif
    atomic_store(&backend_now, (int)b);
    return NF_OK;
}

nf_conv_backend nf_get_conv_backend(void) {
    return (nf_conv_backend)atomic_load_explicit(&backend_now, memory_order_relaxed);
}
