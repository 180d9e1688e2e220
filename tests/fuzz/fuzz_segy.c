/* The SEG-Y importer (nf_convert_segy): any file converts or fails with a message,
 * with no invalid access or leak. The first byte picks 2-D sections or 3-D cubes and
 * the patch size; the rest is the SEG-Y file. */
#define _POSIX_C_SOURCE 200809L /* unlink */
#include "fuzz_common.h"
#include "nflow_datasets.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_hdf5_setup(); /* the output is an HDF5 file */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1 << 20)) return 0;
    const char *in = fuzz_write("in.sgy", data + 1, size - 1);
    if (!in) return 0;
    char in_path[512];
    snprintf(in_path, sizeof in_path, "%s", in);
    nf_segy_options o = {.input = in_path, .output = fuzz_path("out.h5"), .cube = data[0] & 1};
    int p = 2 + ((data[0] >> 1) & 7);
    o.patch[0] = 2 * p, o.patch[1] = p, o.patch[2] = p;
    nf_status st = nf_convert_segy(&o);
    if (st != NF_OK && !nf_last_error()[0]) abort();
    unlink(fuzz_path("out.h5"));
    return 0;
}
