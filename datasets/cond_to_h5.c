/* Paired (x, y) data sets for conditional flows, p(data | condition):
 *   gaussian_linear: sbibm's linear-Gaussian task, theta in R^10 ~ N(0, 0.1 I),
 *                    x | theta ~ N(theta, 0.1 I); the posterior is N(x / 2, 0.05 I);
 *   moons:           the two moons of nflow's toy (noise 0.05) with their label. */
#include "h5_writer.h"
#include "nflow_datasets.h"

#include <math.h>

#ifndef M_PI /* not in strict C11 */
#define M_PI 3.14159265358979323846
#endif

#define GL_DIM 10
#define GL_VAR 0.1 /* prior and noise variance */

/* One (n, cols) float32 array written whole from data. */
static nf_status put_array(hid_t file, const char *path, const nf_real *data, long long n, int cols) {
    nfd_array a = {.dset = H5I_INVALID_HID};
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)cols};
    nf_status st = nfd_array_create(&a, file, path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims);
    if (st == NF_OK) st = nfd_array_append(&a, n, data);
    return nfd_array_close(&a, st);
}

/* theta (n, 10) from the prior and x (n, 10) from the simulator. */
static void simulate(nf_rng *r, nf_real *theta, nf_real *x, long long n) {
    double sd = sqrt(GL_VAR);
    for (long long i = 0; i < n * GL_DIM; i++) {
        theta[i] = (nf_real)(sd * nf_rng_normal(r));
        x[i] = (nf_real)(theta[i] + sd * nf_rng_normal(r));
    }
}

nf_status nf_generate_gaussian_linear(const char *out_path, long long n, long long nobs, uint64_t seed) {
    NF_CHECK_NULL(out_path);
    if (n <= 0 || nobs <= 0 || n > (1LL << 28) || nobs > (1LL << 20))
        return nf_fail(NF_ERR_ARG, "nf_generate_gaussian_linear: n = %lld and observations = %lld must be positive "
                       "(at most 2^28 and 2^20)", n, nobs);
    long long most = n > nobs ? n : nobs;
    nf_real *theta = nf_alloc(sizeof(nf_real) * GL_DIM * (size_t)most), *x = nf_alloc(sizeof(nf_real) * GL_DIM * (size_t)most);
    if (!theta || !x) {
        nf_free(theta), nf_free(x);
        return nf_fail(NF_ERR_NOMEM, "nf_generate_gaussian_linear: out of memory for %lld pairs", most);
    }
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st;
    nfd_out out;
    NF_H5_TRY(nfd_out_create(&out, out_path));
    simulate(&rng, theta, x, n);
    NF_H5_TRY(put_array(out.file, "/theta", theta, n, GL_DIM));
    NF_H5_TRY(put_array(out.file, "/x", x, n, GL_DIM));
    /* observations: fresh pairs, their exact posterior means x / 2 */
    simulate(&rng, theta, x, nobs);
    NF_H5_TRY(put_array(out.file, "/obs/theta", theta, nobs, GL_DIM));
    NF_H5_TRY(put_array(out.file, "/obs/x", x, nobs, GL_DIM));
    for (long long i = 0; i < nobs * GL_DIM; i++) theta[i] = x[i] / 2;
    NF_H5_TRY(put_array(out.file, "/obs/posterior_mean", theta, nobs, GL_DIM));
    NF_H5_TRY(nf_h5_write_string_attr(out.file, "task", "gaussian_linear"));
    const double var = GL_VAR, post = GL_VAR / 2;
    NF_H5_TRY(nf_h5_write_double_attr(out.file, "prior_var", &var, 1));
    NF_H5_TRY(nf_h5_write_double_attr(out.file, "noise_var", &var, 1));
    NF_H5_TRY(nf_h5_write_double_attr(out.file, "posterior_var", &post, 1));
    NF_H5_TRY(nf_h5_write_i64_attr(out.file, "seed", (long long)seed));
cleanup:
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    nf_free(theta);
    nf_free(x);
    return st;
}

nf_status nf_generate_cond_moons(const char *out_path, long long n, uint64_t seed) {
    NF_CHECK_NULL(out_path);
    if (n <= 0 || n > (1LL << 28)) return nf_fail(NF_ERR_ARG, "nf_generate_cond_moons: n = %lld out of 1..2^28", n);
    nf_real *x = nf_alloc(sizeof(nf_real) * 2 * (size_t)n), *y = nf_alloc(sizeof(nf_real) * (size_t)n);
    if (!x || !y) {
        nf_free(x), nf_free(y);
        return nf_fail(NF_ERR_NOMEM, "nf_generate_cond_moons: out of memory for %lld points", n);
    }
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    for (long long i = 0; i < n; i++) { /* the arcs of nf_sample_moons, t uniform */
        int upper = nf_rng_uniform(&rng) < 0.5;
        double t = M_PI * nf_rng_uniform(&rng);
        x[2 * i] = (nf_real)((upper ? cos(t) - 0.5 : 0.5 - cos(t)) + 0.05 * nf_rng_normal(&rng));
        x[2 * i + 1] = (nf_real)((upper ? sin(t) : -sin(t)) + 0.05 * nf_rng_normal(&rng));
        y[i] = (nf_real)(upper ? 0 : 1);
    }
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st;
    nfd_out out;
    NF_H5_TRY(nfd_out_create(&out, out_path));
    NF_H5_TRY(put_array(out.file, "/x", x, n, 2));
    NF_H5_TRY(put_array(out.file, "/y", y, n, 1));
    NF_H5_TRY(nf_h5_write_i64_attr(out.file, "seed", (long long)seed));
cleanup:
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    nf_free(x);
    nf_free(y);
    return st;
}
