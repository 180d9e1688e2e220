/* Accounted allocation: every nflow buffer goes through here so tests can prove
 * that activation memory stays flat in depth (nf_mem_peak). */
#include "nf_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NF_ALIGN 64 /* header size too, so the payload stays aligned */

static _Atomic size_t mem_current;
static _Atomic size_t mem_peak;

static void note_alloc(size_t bytes) {
    size_t now = atomic_fetch_add(&mem_current, bytes) + bytes;
    size_t peak = atomic_load(&mem_peak);
    while (now > peak && !atomic_compare_exchange_weak(&mem_peak, &peak, now)) {
    }
}

void *nf_alloc(size_t bytes) {
    if (bytes > SIZE_MAX - 2 * NF_ALIGN) return NULL;
    size_t total = (bytes + NF_ALIGN + NF_ALIGN - 1) / NF_ALIGN * NF_ALIGN;
    unsigned char *base = aligned_alloc(NF_ALIGN, total);
    if (!base) return NULL;
    memcpy(base, &bytes, sizeof bytes);
    note_alloc(bytes);
    return base + NF_ALIGN;
}

void *nf_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = nf_alloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void nf_free(void *p) {
    if (!p) return;
    unsigned char *base = (unsigned char *)p - NF_ALIGN;
    size_t bytes;
    memcpy(&bytes, base, sizeof bytes);
    atomic_fetch_sub(&mem_current, bytes);
    free(base);
}

size_t nf_mem_current(void) { return atomic_load(&mem_current); }
size_t nf_mem_peak(void) { return atomic_load(&mem_peak); }
void nf_mem_reset_peak(void) { atomic_store(&mem_peak, atomic_load(&mem_current)); }
