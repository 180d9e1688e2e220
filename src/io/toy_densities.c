/* In-library samplers of the tutorials' toy 2-D densities. */
#include "nf_internal.h"

void nf_sample_banana(nf_rng *r, nf_real *x, int n) {
    const double c1 = 1.0, c2 = 4.0;
    for (int i = 0; i < n; i++) {
        double a1 = nf_rng_normal(r), a2 = nf_rng_normal(r);
        x[2 * i] = (nf_real)(a1 / c1);
        x[2 * i + 1] = (nf_real)(a2 * c1 + c1 * c2 * (a1 * a1 + c1 * c1));
    }
}
