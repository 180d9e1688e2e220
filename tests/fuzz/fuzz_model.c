/* The model and checkpoint loaders (nf_model_load, nf_checkpoint_load, here on the file
 * in memory: nf_model_load_image, nf_checkpoint_load_image share all their code): any
 * file loads or fails with one message, with no invalid access or leak, and a loaded
 * flow runs (a forward and inverse of one sample). Seeds have their stamp zeroed (a file
 * without a stamp is read as HDF5), so the mutations reach HDF5 and nflow's checks. */
#include "fuzz_common.h"
#include "io/load_image.h"

#include <nflow.h>

#include <stdlib.h>
#include <string.h>

static void run_once(nf_flow *f) {
    nf_tensor x, z;
    nf_shape s = f->in;
    if ((size_t)s.c * s.d * s.h * s.w > (1u << 16)) return; /* a valid but huge model: not worth the time */
    if (nf_tensor_alloc(&x, 1, s.c, s.d, s.h, s.w) != NF_OK) return;
    if (nf_tensor_alloc(&z, 1, s.c * s.d * s.h * s.w, 1, 1, 1) == NF_OK) {
        double logdet[1];
        memset(x.data, 0, sizeof(nf_real) * nf_tensor_count(&x));
        if (nf_flow_forward(f, &x, NULL, &z, logdet) == NF_OK) nf_flow_inverse(f, &z, NULL, &x);
        nf_tensor_free(&z);
    }
    nf_tensor_free(&x);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_hdf5_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1 << 20)) return 0;
    if (size == 0) return 0;
    nf_flow *f = NULL;
    if (nf_model_load_image(&f, data, size) == NF_OK) {
        if (!f) abort();
        if (nf_flow_is_sequential(f)) nf_sequential_set_training(f, 0);
        run_once(f);
        nf_flow_destroy(f);
    } else if (f || !nf_last_error()[0]) {
        abort();
    }
    nf_adam opt;
    nf_train_state ts;
    if (nf_checkpoint_load_image(&f, &opt, &ts, data, size) == NF_OK) {
        if (!f || opt.count != nf_flow_num_params(f)) abort();
        nf_adam_free(&opt);
        nf_flow_destroy(f);
    } else if (f || !nf_last_error()[0]) {
        abort();
    }
    return 0;
}
