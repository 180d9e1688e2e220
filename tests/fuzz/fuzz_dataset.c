/* Opening a dataset and reading batches (nf_dataset_open, here on the file in memory:
 * nf_dataset_open_image shares all its code; nf_dataset_next_batch, nf_dataset_read,
 * nf_dataset_identity): any HDF5 file opens and reads or fails with a message, with no
 * invalid access or leak. The first byte picks the options (shuffle, prefetch thread,
 * dequantisation, normalisation, conditioning /y, batch 1..4); the rest is the file,
 * whose dataset /x is read. */
#include "fuzz_common.h"
#include "io/load_image.h"

#include <nflow.h>

#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_hdf5_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > (1 << 20)) return 0;
    unsigned k = data[0];
    nf_dataset_options o = nf_dataset_options_default();
    o.batch = 1 + (int)(k & 3);
    o.shuffle = (k >> 2) & 1;
    o.prefetch = (k >> 3) & 1;
    o.dequantize = (k >> 4) & 1;
    o.normalize = (k >> 5) & 1 ? NF_NORM_COMPUTE : NF_NORM_AUTO;
    o.cond = (k >> 6) & 1 ? "/y" : NULL;
    o.memory_budget = 1 << 16;
    nf_dataset *ds = NULL;
    if (nf_dataset_open_image(&ds, data + 1, size - 1, "/x", &o) != NF_OK) {
        if (ds || !nf_last_error()[0]) abort();
        return 0;
    }
    nf_shape s = nf_dataset_shape(ds), cs = nf_dataset_cond_shape(ds);
    nf_tensor x = {0}, y = {0};
    nf_rng rng;
    nf_rng_seed(&rng, 1);
    if ((size_t)s.n * s.c * s.d * s.h * s.w <= (1u << 20) && nf_tensor_alloc(&x, s.n, s.c, s.d, s.h, s.w) == NF_OK &&
        (!cs.n || nf_tensor_alloc(&y, cs.n, cs.c, cs.d, cs.h, cs.w) == NF_OK)) {
        for (int b = 0; b < 3; b++)
            if (nf_dataset_next_batch(ds, &x, cs.n ? &y : NULL, &rng) != NF_OK) break;
        x.n = 1;
        nf_dataset_read(ds, 0, &x, NULL, &rng);
        nf_data_identity id;
        nf_dataset_identity(ds, &id);
    }
    nf_tensor_free(&x);
    nf_tensor_free(&y);
    nf_dataset_close(ds);
    return 0;
}
