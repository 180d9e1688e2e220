/* The sequential model's spec parser (nf_sequential_from_spec): any text either builds a
 * model or fails with a message, and nothing leaks. The first byte picks the data's
 * channel count (1..8), the rest is the spec. Specs with a number above 64 are skipped:
 * "maf(hidden=4423x4)*23" is a valid model that takes seconds to build under ASan, which
 * would stop the run as a timeout without telling anything about the parser. */
#include <nflow.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    for (size_t i = 1, v = 0; i < size; i++) {
        v = data[i] >= '0' && data[i] <= '9' ? (v > 1000 ? v : v * 10 + (size_t)(data[i] - '0')) : 0;
        if (v > 64) return 0;
    }
    char *spec = malloc(size);
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = '\0';
    nf_shape in = {1, 1 + data[0] % 8, 1, 1, 1};
    nf_flow *f = NULL;
    nf_status st = nf_sequential_from_spec(&f, in, spec, 1);
    if (st == NF_OK) {
        if (!f || !nf_sequential_spec(f)) abort(); /* success must give a model with its spec */
        nf_flow_destroy(f);
    } else if (f || !nf_last_error()[0]) {
        abort(); /* failure must leave nothing and say why */
    }
    free(spec);
    return 0;
}
