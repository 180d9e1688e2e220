/* SEG-Y -> HDF5 patches through libsegyio (2-D sections or 3-D cubes, a chosen patch size
 * and stride). Only the traces of one strip (2-D) or one column of patches (3-D) are in
 * memory at a time. Without libsegyio the converter reports that it is unavailable. */
#include "h5_writer.h"
#include "nflow_datasets.h"

#ifndef NFLOW_HAVE_SEGYIO

int nf_have_segyio(void) { return 0; }

nf_status nf_convert_segy(const nf_segy_options *o) {
    return nf_fail(NF_ERR_STATE, "nf_convert_segy: nflow was built without libsegyio (install libsegyio-dev and rebuild)");
}

#else

#include <segyio/segy.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int nf_have_segyio(void) { return 1; }

typedef struct segy_in {
    segy_file *fp;
    const char *path;
    int format, ns, traces, trsize;
    long trace0;
    int il, xl;          /* header bytes of the inline and crossline numbers */
    int structured;      /* 1: a regular post-stack inline/crossline grid */
    char why[256];       /* otherwise: what is missing or irregular */
    int sorting, nil, nxl;
    char *raw;           /* (trsize) one trace as stored */
} segy_in;

/* Trace number of (inline index i, crossline index j) in a structured survey. */
static int trace_at(const segy_in *s, int i, int j) {
    return s->sorting == SEGY_INLINE_SORTING ? i * s->nxl + j : j * s->nil + i;
}

/* Whether the line numbers at header byte field of every trace are those of a regular
 * grid: trace_at(i, j) holds inline lines[i] / crossline lines[j] of n distinct lines.
 * When not, says which trace is out of place in s->why. */
static nf_status grid_axis_ok(segy_in *s, int field, int inl, int n, int *ok) {
    int *lines = nf_alloc(sizeof(int) * (size_t)n), *got = nf_alloc(sizeof(int) * (size_t)s->traces);
    nf_status st = NF_OK;
    *ok = 0;
    if (!lines || !got) {
        st = nf_fail(NF_ERR_NOMEM, "nf_convert_segy: out of memory for the headers of %d traces", s->traces);
    } else if ((inl ? segy_inline_indices(s->fp, field, s->sorting, s->nil, s->nxl, 1, lines, s->trace0, s->trsize)
                    : segy_crossline_indices(s->fp, field, s->sorting, s->nil, s->nxl, 1, lines, s->trace0,
                                             s->trsize)) != SEGY_OK ||
               segy_field_forall(s->fp, field, 0, s->traces, 1, got, s->trace0, s->trsize) != SEGY_OK) {
        st = nf_fail(NF_ERR_IO, "nf_convert_segy: cannot read the trace headers of '%s'", s->path);
    } else {
        *ok = 1;
        for (int a = 1; a < n && *ok; a++)
            if (lines[a] == lines[a - 1]) {
                *ok = 0;
                snprintf(s->why, sizeof s->why, "%s %d appears twice in a row of the grid (duplicated traces)",
                         inl ? "inline" : "crossline", lines[a]);
            }
        for (int i = 0; i < s->nil && *ok; i++)
            for (int j = 0; j < s->nxl && *ok; j++) {
                int k = trace_at(s, i, j), want = lines[inl ? i : j];
                if (got[k] != want) {
                    *ok = 0;
                    snprintf(s->why, sizeof s->why,
                             "trace %d has %s %d where a regular %d x %d grid has %d (missing, duplicated or "
                             "unsorted traces)",
                             k, inl ? "inline" : "crossline", got[k], s->nil, s->nxl, want);
                }
            }
    }
    nf_free(got);
    nf_free(lines);
    return st;
}

/* s->structured: the traces form a regular post-stack grid of nil x nxl lines sorted by
 * inline or crossline; otherwise s->why says what is missing or irregular. */
static nf_status find_geometry(segy_in *s) {
    int offsets = 1, ok;
    s->structured = 0;
    if (segy_sorting(s->fp, s->il, s->xl, SEGY_TR_OFFSET, &s->sorting, s->trace0, s->trsize) != SEGY_OK ||
        s->sorting == SEGY_UNKNOWN_SORTING) {
        snprintf(s->why, sizeof s->why, "the traces are sorted by neither inline (byte %d) nor crossline (byte %d)",
                 s->il, s->xl);
        return NF_OK;
    }
    if (segy_offsets(s->fp, s->il, s->xl, s->traces, &offsets, s->trace0, s->trsize) != SEGY_OK || offsets != 1) {
        snprintf(s->why, sizeof s->why, "%d offsets per inline/crossline location (pre-stack data)", offsets);
        return NF_OK;
    }
    if (segy_lines_count(s->fp, s->il, s->xl, s->sorting, offsets, &s->nil, &s->nxl, s->trace0, s->trsize) !=
        SEGY_OK) {
        snprintf(s->why, sizeof s->why, "the inline and crossline numbers cannot be counted");
        return NF_OK;
    }
    if ((long long)s->nil * s->nxl != s->traces) {
        snprintf(s->why, sizeof s->why, "%d traces do not fill a grid of %d inlines x %d crosslines (missing traces)",
                 s->traces, s->nil, s->nxl);
        return NF_OK;
    }
    if (s->nil < 2 || s->nxl < 2) {
        snprintf(s->why, sizeof s->why, "%d inline(s) x %d crossline(s) is a single line", s->nil, s->nxl);
        return NF_OK;
    }
    NF_TRY(grid_axis_ok(s, s->il, 1, s->nil, &ok));
    if (ok) NF_TRY(grid_axis_ok(s, s->xl, 0, s->nxl, &ok));
    s->structured = ok;
    return NF_OK;
}

static nf_status segy_in_open(segy_in *s, const nf_segy_options *o) {
    char bin[SEGY_BINARY_HEADER_SIZE];
    s->il = o->il_byte ? o->il_byte : SEGY_TR_INLINE;
    s->xl = o->xl_byte ? o->xl_byte : SEGY_TR_CROSSLINE;
    s->path = o->input;
    s->fp = segy_open(o->input, "rb");
    if (!s->fp) return nf_fail(NF_ERR_IO, "nf_convert_segy: cannot open '%s'", o->input);
    if (segy_binheader(s->fp, bin) != SEGY_OK)
        return nf_fail(NF_ERR_FORMAT, "nf_convert_segy: '%s' is too short for a SEG-Y header", o->input);
    s->format = segy_format(bin);
    s->ns = segy_samples(bin);
    s->trace0 = segy_trace0(bin);
    s->trsize = s->ns > 0 ? segy_trsize(s->format, s->ns) : -1;
    int f = s->format;
    if (f != SEGY_IBM_FLOAT_4_BYTE && f != SEGY_IEEE_FLOAT_4_BYTE && f != SEGY_SIGNED_INTEGER_4_BYTE &&
        f != SEGY_SIGNED_SHORT_2_BYTE && f != SEGY_SIGNED_CHAR_1_BYTE)
        return nf_fail(NF_ERR_FORMAT, "nf_convert_segy: '%s' has sample format %d (supported: 1, 2, 3, 5, 8)", o->input, f);
    if (s->ns <= 0 || s->trsize <= 0)
        return nf_fail(NF_ERR_FORMAT, "nf_convert_segy: '%s' declares %d samples per trace", o->input, s->ns);
    if (segy_traces(s->fp, &s->traces, s->trace0, s->trsize) != SEGY_OK || s->traces <= 0)
        return nf_fail(NF_ERR_FORMAT, "nf_convert_segy: '%s' is not a whole number of %d-sample traces (truncated?)",
                       o->input, s->ns);
    NF_TRY(find_geometry(s));
    s->raw = nf_alloc((size_t)s->trsize);
    if (!s->raw) return nf_fail(NF_ERR_NOMEM, "nf_convert_segy: out of memory");
    return NF_OK;
}

static void segy_in_close(segy_in *s) {
    nf_free(s->raw);
    if (s->fp) segy_close(s->fp);
}

/* out (ns) = trace number k as floats. */
static nf_status read_trace(segy_in *s, int k, float *out) {
    if (segy_readtrace(s->fp, k, s->raw, s->trace0, s->trsize) != SEGY_OK ||
        segy_to_native(s->format, s->ns, s->raw) != SEGY_OK)
        return nf_fail(NF_ERR_IO, "nf_convert_segy: cannot read trace %d of '%s'", k, s->path);
    for (int t = 0; t < s->ns; t++) {
        switch (s->format) {
        case SEGY_SIGNED_INTEGER_4_BYTE: {
            int32_t v;
            memcpy(&v, s->raw + 4 * t, 4);
            out[t] = (float)v;
        } break;
        case SEGY_SIGNED_SHORT_2_BYTE: {
            int16_t v;
            memcpy(&v, s->raw + 2 * t, 2);
            out[t] = (float)v;
        } break;
        case SEGY_SIGNED_CHAR_1_BYTE: out[t] = (float)(signed char)s->raw[t]; break;
        default: memcpy(out + t, s->raw + 4 * t, 4); /* IBM converted to IEEE, or IEEE */
        }
    }
    return NF_OK;
}

/* Patches collected a chunk at a time, with their origins and running statistics. */
typedef struct patch_sink {
    nfd_array x, origin;
    size_t per;          /* values per patch */
    float *buf;          /* (chunk, per) */
    int32_t *org;        /* (chunk, 3) */
    long long fill;
    nf_chan_stats stats;
} patch_sink;

static nf_status sink_flush(patch_sink *k) {
    NF_TRY(nfd_array_append(&k->x, k->fill, k->buf));
    NF_TRY(nfd_array_append(&k->origin, k->fill, k->org));
    k->fill = 0;
    return NF_OK;
}

/* The next patch slot; origin (a, b, c). */
static float *sink_next(patch_sink *k, int a, int b, int c) {
    int32_t *o = k->org + 3 * k->fill;
    o[0] = a, o[1] = b, o[2] = c;
    return k->buf + k->per * (size_t)k->fill;
}

static nf_status sink_commit(patch_sink *k) {
    nf_chan_stats_add(&k->stats, k->buf + k->per * (size_t)k->fill, k->per);
    return ++k->fill == k->x.chunk_n ? sink_flush(k) : NF_OK;
}

/* 2-D: strips of pw traces of each section, cut into (pt, pw) patches down the time axis. */
static nf_status sections(segy_in *s, const int *p, const int *step, patch_sink *k, float *strip) {
    int nsec = s->structured ? s->nil : 1, len = s->structured ? s->nxl : s->traces;
    for (int sec = 0; sec < nsec; sec++)
        for (int x0 = 0; x0 + p[1] <= len; x0 += step[1]) {
            for (int x = 0; x < p[1]; x++)
                NF_TRY(read_trace(s, s->structured ? trace_at(s, sec, x0 + x) : x0 + x, strip + (size_t)x * s->ns));
            for (int t0 = 0; t0 + p[0] <= s->ns; t0 += step[0]) {
                float *out = sink_next(k, sec, t0, x0); /* (pt, pw) */
                for (int t = 0; t < p[0]; t++)
                    for (int x = 0; x < p[1]; x++) out[t * p[1] + x] = strip[(size_t)x * s->ns + t0 + t];
                NF_TRY(sink_commit(k));
            }
        }
    return NF_OK;
}

/* 3-D: columns of (pi, pj) traces, cut into (pt, pi, pj) patches down the time axis. */
static nf_status cubes(segy_in *s, const int *p, const int *step, patch_sink *k, float *col) {
    for (int i0 = 0; i0 + p[1] <= s->nil; i0 += step[1])
        for (int j0 = 0; j0 + p[2] <= s->nxl; j0 += step[2]) {
            for (int i = 0; i < p[1]; i++)
                for (int j = 0; j < p[2]; j++)
                    NF_TRY(read_trace(s, trace_at(s, i0 + i, j0 + j), col + ((size_t)i * p[2] + j) * s->ns));
            for (int t0 = 0; t0 + p[0] <= s->ns; t0 += step[0]) {
                float *out = sink_next(k, t0, i0, j0); /* (pt, pi, pj) */
                for (int t = 0; t < p[0]; t++)
                    for (int ij = 0; ij < p[1] * p[2]; ij++) out[(size_t)t * p[1] * p[2] + ij] = col[(size_t)ij * s->ns + t0 + t];
                NF_TRY(sink_commit(k));
            }
        }
    return NF_OK;
}

/* Patch count along an axis of n with patch p and stride st (0 if it does not fit). */
static long long fits(int n, int p, int st) { return n >= p ? (long long)(n - p) / st + 1 : 0; }

static nf_status convert(segy_in *s, const nf_segy_options *o, hid_t file) {
    int dims = o->cube ? 3 : 2, p[3], step[3];
    for (int a = 0; a < dims; a++) {
        p[a] = o->patch[a];
        step[a] = o->stride[a] ? o->stride[a] : p[a];
        if (p[a] < 1 || step[a] < 1)
            return nf_fail(NF_ERR_ARG, "nf_convert_segy: patch %d and stride %d on axis %d must be positive", p[a], step[a], a);
    }
    if (o->cube && !s->structured)
        return nf_fail(NF_ERR_FORMAT, "nf_convert_segy: '%s' has no regular post-stack inline/crossline geometry for "
                       "3-D cubes: %s", o->input, s->why);
    long long n = o->cube ? fits(s->ns, p[0], step[0]) * fits(s->nil, p[1], step[1]) * fits(s->nxl, p[2], step[2])
                          : fits(s->ns, p[0], step[0]) * fits(s->structured ? s->nxl : s->traces, p[1], step[1]) *
                                (s->structured ? s->nil : 1);
    if (n == 0)
        return nf_fail(NF_ERR_ARG, "nf_convert_segy: patch larger than the data (%d samples, %d x %d traces)", s->ns,
                       s->structured ? s->nil : 1, s->structured ? s->nxl : s->traces);
    nf_status st;
    patch_sink k = {.x = {.dset = H5I_INVALID_HID}, .origin = {.dset = H5I_INVALID_HID}};
    float *traces = NULL;
    hsize_t dx[5] = {(hsize_t)n, 1, (hsize_t)p[0], (hsize_t)p[1], (hsize_t)(o->cube ? p[2] : 0)};
    hsize_t dorg[2] = {(hsize_t)n, 3};
    k.per = (size_t)p[0] * p[1] * (o->cube ? p[2] : 1);
    NF_H5_TRY(nfd_array_create(&k.x, file, "/x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, o->cube ? 5 : 4, dx));
    NF_H5_TRY(nfd_array_create(&k.origin, file, "/origin", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dorg));
    NF_H5_TRY(nf_chan_stats_init(&k.stats, 1));
    k.buf = nf_alloc(sizeof(float) * k.per * (size_t)k.x.chunk_n);
    k.org = nf_alloc(sizeof(int32_t) * 3 * (size_t)k.x.chunk_n);
    traces = nf_alloc(sizeof(float) * (size_t)s->ns * p[1] * (o->cube ? p[2] : 1));
    if (!k.buf || !k.org || !traces) st = nf_fail(NF_ERR_NOMEM, "nf_convert_segy: out of memory");
    else st = o->cube ? cubes(s, p, step, &k, traces) : sections(s, p, step, &k, traces);
    if (st == NF_OK && k.fill) st = sink_flush(&k);
    if (st == NF_OK) st = nfd_array_put_stats(&k.x, &k.stats);
    if (st == NF_OK)
        st = nf_h5_write_string_attr(file, "axes", o->cube ? "(patch, channel, time, inline, crossline)"
                                                               : "(patch, channel, time, trace)");
    if (st == NF_OK) st = nf_h5_write_string_attr(file, "source", o->input);
cleanup:
    nf_free(traces);
    nf_free(k.org);
    nf_free(k.buf);
    nf_chan_stats_free(&k.stats);
    st = nfd_array_close(&k.origin, st);
    st = nfd_array_close(&k.x, st);
    return st;
}

nf_status nf_convert_segy(const nf_segy_options *o) {
    NF_CHECK_NULL(o);
    NF_CHECK_NULL(o->input);
    NF_CHECK_NULL(o->output);
    segy_in s = {0};
    nf_status st = segy_in_open(&s, o);
    if (st != NF_OK) {
        segy_in_close(&s);
        return st;
    }
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nfd_out out;
    st = nfd_out_create(&out, o->output);
    if (st == NF_OK) st = convert(&s, o, out.file);
    st = nfd_out_finish(&out, st);
    nf_h5_quiet_end(&q);
    segy_in_close(&s);
    return st;
}

#endif
