/* Synthetic seismic datasets: earth models drawn one sample at a time, written a chunk of
 * samples at a time (see nf_generate_seismic in nflow_datasets.h). */
#include "h5_writer.h"
#include "seismic_model.h"

#include <math.h>

nf_seismic_options nf_seismic_options_default(void) {
    return (nf_seismic_options){.nt = 64, .nx = 64, .ny = 64, .dt = 0.004, .f0 = 25, .layers_min = 5,
                                .layers_max = 15, .fold_amp = 3, .fault_prob = 0.5, .throw_min = 2,
                                .throw_max = 8, .seed = 1};
}

/* Values of one sample at most (2^28: 1 GiB as float32; an HDF5 chunk holds whole samples
 * and must stay below 4 GiB). */
#define NFD_MAX_SAMPLE_VALUES (1 << 28)

static nf_status check(const nf_seismic_options *o) {
    NF_CHECK_NULL(o);
    NF_CHECK_NULL(o->output);
    if (o->n <= 0 || o->nt < 2 || o->nx < 2 || (o->cube && o->ny < 2))
        return nf_fail(NF_ERR_ARG, "nf_generate_seismic: n = %lld, nt = %d, nx = %d, ny = %d; need n >= 1 and sizes >= 2",
                       o->n, o->nt, o->nx, o->ny);
    double per = (double)o->nt * o->nx * (o->cube ? o->ny : 1);
    if (per > NFD_MAX_SAMPLE_VALUES)
        return nf_fail(NF_ERR_ARG, "nf_generate_seismic: a sample of nt %d, nx %d, ny %d is %.3g values, too large "
                       "(at most %d)", o->nt, o->nx, o->cube ? o->ny : 1, per, NFD_MAX_SAMPLE_VALUES);
    if (!(o->dt > 0) || !(o->f0 > 0) || o->f0 * o->dt >= 0.5)
        return nf_fail(NF_ERR_ARG, "nf_generate_seismic: f0 = %g Hz with dt = %g s is not below Nyquist", o->f0, o->dt);
    if (o->layers_min < 1 || o->layers_max < o->layers_min || o->layers_max > NFD_MAX_LAYERS)
        return nf_fail(NF_ERR_ARG, "nf_generate_seismic: layers %d..%d, need 1 <= min <= max <= %d", o->layers_min,
                       o->layers_max, NFD_MAX_LAYERS);
    if (!(o->fold_amp >= 0) || !(o->fault_prob >= 0 && o->fault_prob <= 1) || !(o->throw_min >= 0) ||
        o->throw_max < o->throw_min || !(o->noise >= 0) || (o->observe && !isfinite(o->snr_db)))
        return nf_fail(NF_ERR_ARG, "nf_generate_seismic: fold %g, fault chance %g, throw %g..%g, noise %g, "
                       "SNR %g dB out of range", o->fold_amp, o->fault_prob, o->throw_min, o->throw_max, o->noise,
                       o->snr_db);
    return NF_OK;
}

/* y (count) = x + N(0, sigma^2), sigma = rel * rms(x); y may be x */
static void add_noise(float *y, const float *x, size_t count, double rel, nf_rng *rng) {
    double ms = 0;
    for (size_t i = 0; i < count; i++) ms += (double)x[i] * x[i];
    double sd = rel * sqrt(ms / (double)count);
    for (size_t i = 0; i < count; i++) y[i] = x[i] + (float)(sd * nf_rng_normal(rng));
}

/* One sample: reflectivity r and seismic s, both (nt, ny, nx), and its throw. */
static void draw_sample(const nf_seismic_options *o, nf_rng *rng, const float *w, int half, float *r, float *s,
                        float *trace, float *conv, float *throw_out) {
    nfd_earth e;
    nfd_earth_draw(&e, o, rng);
    size_t plane = (size_t)e.ny * e.nx;
    for (int y = 0; y < e.ny; y++)
        for (int x = 0; x < e.nx; x++) {
            nfd_earth_trace(&e, x, y, trace);
            nfd_convolve(conv, trace, e.nt, w, half);
            for (int t = 0; t < e.nt; t++) {
                r[t * plane + (size_t)y * e.nx + x] = trace[t];
                s[t * plane + (size_t)y * e.nx + x] = conv[t];
            }
        }
    if (o->noise > 0) add_noise(s, s, plane * e.nt, o->noise, rng);
    *throw_out = (float)e.throw_;
}

static nf_status root_attrs(hid_t file, const nf_seismic_options *o) {
    NF_TRY(nf_h5_write_string_attr(file, "generator",
                                   "nflow synthetic seismic: folded, faulted layered reflectivity * Ricker wavelet"));
    NF_TRY(nf_h5_write_string_attr(file, "axes", o->cube ? "(sample, channel, time, line, trace)"
                                                         : "(sample, channel, time, trace)"));
    NF_TRY(nf_h5_write_double_attr(file, "dt", &o->dt, 0));
    NF_TRY(nf_h5_write_double_attr(file, "f0", &o->f0, 0));
    return nf_h5_write_i64_attr(file, "seed", (long long)o->seed);
}

nf_status nf_generate_seismic(const nf_seismic_options *o) {
    NF_TRY(check(o));
    int half = nfd_ricker_half(o->f0, o->dt), ny = o->cube ? o->ny : 1;
    size_t per = (size_t)o->nt * ny * o->nx;
    hsize_t dims[5] = {(hsize_t)o->n, 1, (hsize_t)o->nt, (hsize_t)ny, (hsize_t)o->nx};
    if (!o->cube) dims[3] = (hsize_t)o->nx; /* (n, 1, nt, nx) */
    hsize_t dn[1] = {(hsize_t)o->n}, dw[1] = {(hsize_t)(2 * half + 1)};
    nf_rng rng, noise_rng; /* the earth models; /y's noise (a second stream: /x stays as it is) */
    nf_rng_seed(&rng, o->seed);
    nf_rng_seed(&noise_rng, o->seed ^ 0x9e3779b97f4a7c15ull);
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st;
    nfd_out out;
    nfd_array ax = {.dset = H5I_INVALID_HID}, ar = {.dset = H5I_INVALID_HID}, at = {.dset = H5I_INVALID_HID},
              aw = {.dset = H5I_INVALID_HID}, ay = {.dset = H5I_INVALID_HID};
    nf_chan_stats sx = {0}, sr = {0}, sy = {0};
    float *xs = NULL, *rs = NULL, *ys = NULL, *throws = NULL, *w = NULL, *trace = NULL, *conv = NULL;
    NF_H5_TRY(nfd_out_create(&out, o->output));
    NF_H5_TRY(root_attrs(out.file, o));
    NF_H5_TRY(nfd_array_create(&ax, out.file, "/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, o->cube ? 5 : 4, dims));
    NF_H5_TRY(nfd_array_create(&ar, out.file, "/reflectivity", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, o->cube ? 5 : 4, dims));
    if (o->observe) {
        NF_H5_TRY(nfd_array_create(&ay, out.file, "/y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, o->cube ? 5 : 4, dims));
        NF_H5_TRY(nf_h5_write_double_attr(ay.dset, "snr_db", &o->snr_db, 0));
        NF_H5_TRY(nf_chan_stats_init(&sy, 1));
    }
    NF_H5_TRY(nfd_array_create(&at, out.file, "/throw", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dn));
    NF_H5_TRY(nfd_array_create(&aw, out.file, "/wavelet", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dw));
    NF_H5_TRY(nf_chan_stats_init(&sx, 1));
    NF_H5_TRY(nf_chan_stats_init(&sr, 1));
    long long piece = ax.chunk_n;
    xs = nf_alloc(sizeof(float) * per * (size_t)piece);
    rs = nf_alloc(sizeof(float) * per * (size_t)piece);
    if (o->observe) ys = nf_alloc(sizeof(float) * per * (size_t)piece);
    throws = nf_alloc(sizeof(float) * (size_t)piece);
    w = nf_alloc(sizeof(float) * (size_t)(2 * half + 1));
    trace = nf_alloc(sizeof(float) * (size_t)o->nt);
    conv = nf_alloc(sizeof(float) * (size_t)o->nt);
    if (!xs || !rs || (o->observe && !ys) || !throws || !w || !trace || !conv) {
        st = nf_fail(NF_ERR_NOMEM, "nf_generate_seismic: out of memory for %lld samples of %zu values", piece, per);
        goto cleanup;
    }
    nfd_ricker(w, half, o->f0, o->dt);
    NF_H5_TRY(nfd_array_append(&aw, 2 * half + 1, w));
    for (long long done = 0; done < o->n; done += piece) {
        long long k = o->n - done < piece ? o->n - done : piece;
        for (long long i = 0; i < k; i++) {
            draw_sample(o, &rng, w, half, rs + i * per, xs + i * per, trace, conv, throws + i);
            nf_chan_stats_add(&sx, xs + i * per, per);
            nf_chan_stats_add(&sr, rs + i * per, per);
            if (o->observe) {
                /* SNR snr_db: sigma = rms(x) 10^(-snr_db / 20) */
                add_noise(ys + i * per, xs + i * per, per, pow(10, -o->snr_db / 20), &noise_rng);
                nf_chan_stats_add(&sy, ys + i * per, per);
            }
        }
        if (o->observe) NF_H5_TRY(nfd_array_append(&ay, k, ys));
        NF_H5_TRY(nfd_array_append(&ax, k, xs));
        NF_H5_TRY(nfd_array_append(&ar, k, rs));
        NF_H5_TRY(nfd_array_append(&at, k, throws));
    }
    NF_H5_TRY(nfd_array_put_stats(&ax, &sx));
    NF_H5_TRY(nfd_array_put_stats(&ar, &sr));
    if (o->observe) NF_H5_TRY(nfd_array_put_stats(&ay, &sy));
cleanup:
    nf_free(conv);
    nf_free(trace);
    nf_free(w);
    nf_free(throws);
    nf_free(ys);
    nf_free(rs);
    nf_free(xs);
    nf_chan_stats_free(&sy);
    nf_chan_stats_free(&sr);
    nf_chan_stats_free(&sx);
    st = nfd_array_close(&aw, st);
    st = nfd_array_close(&at, st);
    st = nfd_array_close(&ar, st);
    st = nfd_array_close(&ax, st);
    st = nfd_array_close(&ay, st);
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    return st;
}
