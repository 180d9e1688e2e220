/* What identifies a dataset's contents (nf_dataset_identity): stored shape, element
 * type and a CRC-32 of evenly spaced samples read by hyperslab, one at a time. */
#include "io/h5_dataset.h"
#include "io/model_stamp.h" /* model_crc32 */

#include <stdio.h>
#include <string.h>

static const char *const elem_names[] = {"uint8", "uint16", "int16", "float32", "float64"};

/* Sample i of k evenly spaced over [0, n): 0 and n - 1 included. */
static long long sampled(long long i, long long k, long long n) {
    return k <= 1 ? 0 : (long long)((double)i * (double)(n - 1) / (double)(k - 1) + 0.5);
}

/* The buffer's bytes in little-endian order, as the checksum is defined. */
static void to_little_endian(unsigned char *p, size_t bytes, size_t elem) {
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe == 1 || elem == 1) return;
    for (size_t i = 0; i + elem <= bytes; i += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

static nf_status checksum(nf_dataset *ds, nf_data_identity *id) {
    const nf_h5_source *s = &ds->x;
    static const size_t elem_bytes[] = {1, 2, 2, 4, 8};
    unsigned char *buf = nf_alloc(s->sample_bytes);
    if (!buf) return nf_fail(NF_ERR_NOMEM, "out of memory for one sample of %zu bytes", s->sample_bytes);
    long long k = s->n < NF_DATA_ID_SAMPLES ? s->n : NF_DATA_ID_SAMPLES, one = 1;
    uint32_t crc = 0;
    nf_status st = NF_OK;
    for (long long i = 0; i < k && st == NF_OK; i++) {
        long long first = sampled(i, k, s->n);
        st = nf_h5_source_read(s, &first, &one, 1, buf);
        to_little_endian(buf, s->sample_bytes, elem_bytes[s->elem]);
        if (st == NF_OK) crc = model_crc32(crc, buf, s->sample_bytes);
    }
    nf_free(buf);
    id->samples = k;
    id->crc32 = crc;
    return st;
}

nf_status nf_dataset_identity(nf_dataset *ds, nf_data_identity *id) {
    NF_CHECK_NULL(ds);
    NF_CHECK_NULL(id);
    memset(id, 0, sizeof *id);
    const nf_h5_source *s = &ds->x;
    snprintf(id->source, sizeof id->source, "%s", s->name);
    id->rank = s->rank;
    for (int r = 0; r < s->rank; r++) id->dims[r] = (long long)s->dims[r];
    snprintf(id->dtype, sizeof id->dtype, "%s", elem_names[s->elem]);
    nf_h5_quiet q;
    nf_h5_quiet_begin(&q);
    nf_status st = checksum(ds, id);
    nf_h5_quiet_end(&q);
    if (st == NF_OK) return st;
    char why[512];
    snprintf(why, sizeof why, "%s", nf_last_error());
    return nf_fail(st, "nf_dataset_identity: %s", why);
}

nf_status nf_data_identity_of_tensor(nf_data_identity *id, const char *source, const nf_tensor *x) {
    NF_CHECK_NULL(id);
    NF_CHECK_NULL(source);
    NF_CHECK_NULL(x);
    memset(id, 0, sizeof *id);
    snprintf(id->source, sizeof id->source, "%s", source);
    long long vec[2] = {x->n, x->c}, img[4] = {x->n, x->c, x->h, x->w}, vol[5] = {x->n, x->c, x->d, x->h, x->w};
    id->rank = x->d == 1 && x->h == 1 && x->w == 1 ? 2 : x->d == 1 ? 4 : 5;
    memcpy(id->dims, id->rank == 2 ? vec : id->rank == 4 ? img : vol, sizeof(long long) * (size_t)id->rank);
    snprintf(id->dtype, sizeof id->dtype, "float32");
    size_t bytes = sizeof(nf_real) * (size_t)x->c * (size_t)x->d * (size_t)x->h * (size_t)x->w;
    long long k = x->n < NF_DATA_ID_SAMPLES ? x->n : NF_DATA_ID_SAMPLES;
    uint32_t crc = 0;
    for (long long i = 0; i < k; i++) {
        unsigned char one[sizeof(nf_real)];
        const unsigned char *p = (const unsigned char *)x->data + (size_t)sampled(i, k, x->n) * bytes;
        for (size_t b = 0; b < bytes; b += sizeof one) { /* little-endian, as for files */
            memcpy(one, p + b, sizeof one);
            to_little_endian(one, sizeof one, sizeof one);
            crc = model_crc32(crc, one, sizeof one);
        }
    }
    id->samples = k;
    id->crc32 = crc;
    return NF_OK;
}

static void shape_text(const nf_data_identity *id, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int r = 0; r < id->rank && r < 5 && len < size; r++)
        len += (size_t)snprintf(buf + len, size - len, r ? "x%lld" : "%lld", id->dims[r]);
}

int nf_data_identity_differs(const nf_data_identity *was, const nf_data_identity *now, char *why, size_t size) {
    char a[96], b[96], scratch[8];
    if (!why) why = scratch, size = sizeof scratch;
    why[0] = '\0';
    int same_shape = was->rank == now->rank;
    for (int r = 0; same_shape && r < was->rank && r < 5; r++) same_shape = was->dims[r] == now->dims[r];
    if (!same_shape) {
        shape_text(was, a, sizeof a), shape_text(now, b, sizeof b);
        snprintf(why, size, "it holds %s samples of %s, the run was trained on %s", now->rank ? b : "?", now->dtype,
                 was->rank ? a : "?");
        return 1;
    }
    if (strcmp(was->dtype, now->dtype)) {
        snprintf(why, size, "its elements are %s, the run was trained on %s", now->dtype, was->dtype);
        return 1;
    }
    if (was->samples != now->samples || was->crc32 != now->crc32) {
        snprintf(why, size, "same shape but other values (CRC-32 of %lld sampled samples %08x, was %08x)",
                 now->samples, (unsigned)now->crc32, (unsigned)was->crc32);
        return 1;
    }
    return 0;
}
