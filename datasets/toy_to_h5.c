/* Toy 2-D densities -> HDF5 (N, 2, 1, 1) float32, drawn in pieces by nf_sample_toy. */
#include "h5_writer.h"
#include "nflow_datasets.h"

enum { PIECE = 65536 };

nf_status nf_convert_toy(const char *out_path, const char *density, long long n, uint64_t seed) {
    NF_CHECK_NULL(out_path);
    NF_CHECK_NULL(density);
    if (n <= 0) return nf_fail(NF_ERR_ARG, "nf_convert_toy: n = %lld, must be positive", n);
    nf_rng rng;
    nf_rng_seed(&rng, seed);
    nf_real probe[2];
    NF_TRY(nf_sample_toy(density, &rng, probe, 0)); /* an unknown name fails before any file exists */
    nf_real *x = nf_alloc(sizeof(nf_real) * 2 * PIECE); /* (piece, 2) */
    if (!x) return nf_fail(NF_ERR_NOMEM, "nf_convert_toy: out of memory");
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st;
    nfd_out out;
    nfd_array a = {.dset = H5I_INVALID_HID};
    nf_chan_stats stats = {0};
    hsize_t dims[4] = {(hsize_t)n, 2, 1, 1};
    NF_H5_TRY(nfd_out_create(&out, out_path));
    NF_H5_TRY(nf_chan_stats_init(&stats, 2));
    NF_H5_TRY(nfd_array_create(&a, out.file, "/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, dims));
    for (long long done = 0; done < n; done += PIECE) {
        int k = n - done < PIECE ? (int)(n - done) : PIECE;
        NF_H5_TRY(nf_sample_toy(density, &rng, x, k));
        for (int i = 0; i < k; i++) nf_chan_stats_add(&stats, x + 2 * i, 1);
        NF_H5_TRY(nfd_array_append(&a, k, x));
    }
    NF_H5_TRY(nfd_array_put_stats(&a, &stats));
    NF_H5_TRY(nf_h5_write_string_attr(a.dset, "density", density));
    NF_H5_TRY(nf_h5_write_i64_attr(a.dset, "seed", (long long)seed));
cleanup:
    st = nfd_array_close(&a, st);
    nf_chan_stats_free(&stats);
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    nf_free(x);
    return st;
}
