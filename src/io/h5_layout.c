/* Deciding which stored axis holds the channels (declared in nflow/h5.h). */
#include "io/h5_check.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The layouts a rank allows, channels-first one first. */
static const char *const by_rank[6][3] = {
    {NULL}, {NULL}, {"NC"}, {"NHW"}, {"NCHW", "NHWC", "NDHW"}, {"NCDHW", "NDHWC"},
};

static const char *const option_names[] = {"auto", "nchw", "nhwc", "ndhw"};

static void set(nf_h5_layout *l, const char *axes) {
    snprintf(l->axes, sizeof l->axes, "%s", axes);
    size_t n = strlen(axes);
    l->channels_last = n >= 4 && axes[n - 1] == 'C';
}

/* "NC, NHW ..." : the layouts of a rank, for messages. */
static const char *allowed(int rank) {
    static const char *const text[6] = {"", "", "NC", "NHW", "NCHW, NHWC or NDHW", "NCDHW or NDHWC"};
    return text[rank];
}

static int is_small_channel_count(hsize_t c) { return c == 1 || c == 3 || c == 4; }

static void shape_text(int rank, const hsize_t *dims, char *buf, size_t cap) {
    size_t k = 0;
    for (int r = 0; r < rank && k < cap; r++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%llu", r ? ", " : "(", (unsigned long long)dims[r]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

/* Channels last when the last axis looks like colour channels below larger spatial axes,
 * channels first when the first axis is smaller than all others or all others are 1, else
 * undecided. */
static int guess(int rank, const hsize_t *d, int *channels_last) {
    int last = 1, first = 1, ones = 1;
    for (int r = 2; r < rank; r++) ones &= d[r] == 1;
    if (ones) { /* (N, C, 1, 1): vectors written as images */
        *channels_last = 0;
        return 1;
    }
    for (int r = 1; r < rank - 1; r++) last &= d[r] > d[rank - 1];
    last &= is_small_channel_count(d[rank - 1]);
    for (int r = 2; r < rank; r++) first &= d[r] > d[1];
    if (last || first) {
        *channels_last = last;
        return 1;
    }
    *channels_last = 0;
    return !is_small_channel_count(d[rank - 1]); /* e.g. (N, 64, 8, 8) feature maps: as stored */
}

nf_status nf_h5_layout_decide(nf_h5_layout *l, const char *name, int rank, const hsize_t *dims, const char *attr,
                              nf_layout want, int guess_it) {
    memset(l, 0, sizeof *l);
    if (rank < 2 || rank > 5) { /* rank 1 (labels) has no layout */
        set(l, "N");
        return NF_OK;
    }
    if (want < NF_LAYOUT_AUTO || want > NF_LAYOUT_NDHW)
        return nf_fail(NF_ERR_ARG, "%s: unknown layout %d", name, (int)want);
    if (want == NF_LAYOUT_NDHW && rank != 4)
        return nf_fail(NF_ERR_FORMAT, "%s has rank %d; layout ndhw means (N, D, H, W), rank 4", name, rank);
    if (want == NF_LAYOUT_NDHW) {
        set(l, "NDHW");
    } else if (want != NF_LAYOUT_AUTO) {
        /* ranks 2 and 3 have no channel axis to place */
        set(l, rank < 4 ? by_rank[rank][0] : by_rank[rank][want == NF_LAYOUT_NHWC]);
    } else if (attr[0]) {
        char up[16];
        size_t n = strlen(attr);
        for (size_t i = 0; i < n && i < sizeof up - 1; i++) up[i] = (char)toupper((unsigned char)attr[i]);
        up[n < sizeof up - 1 ? n : sizeof up - 1] = 0;
        for (int i = 0; i < 3 && by_rank[rank][i]; i++)
            if (n < sizeof up && !strcmp(up, by_rank[rank][i])) set(l, by_rank[rank][i]);
        if (!l->axes[0])
            return nf_fail(NF_ERR_FORMAT, "%s: nflow_layout '%s' does not fit rank %d (use %s, or override it with --layout)",
                           name, attr, rank, allowed(rank));
    } else if (rank < 4 || !guess_it) {
        set(l, by_rank[rank][0]);
        l->guessed = guess_it;
        l->worth_saying = guess_it && rank == 3;
    } else {
        int last;
        if (!guess(rank, dims, &last)) {
            char shape[128];
            shape_text(rank, dims, shape, sizeof shape);
            return nf_fail(NF_ERR_FORMAT,
                           "%s: cannot tell whether %s stores channels first (%s) or last (%s); say which with "
                           "--layout %s|%s or the nflow_layout attribute",
                           name, shape, by_rank[rank][0], by_rank[rank][1], option_names[NF_LAYOUT_NCHW],
                           option_names[NF_LAYOUT_NHWC]);
        }
        set(l, by_rank[rank][last]);
        l->guessed = 1;
        l->worth_saying = last;
    }
    return NF_OK;
}

void nf_h5_layout_note(const nf_h5_layout *l, const char *name, int rank, const hsize_t *dims, char *buf,
                       size_t cap) {
    char shape[128];
    shape_text(rank, dims, shape, sizeof shape);
    if (l->channels_last)
        snprintf(buf, cap,
                 "%s %s read as %s (channels last), guessed from the shape; --layout nchw or the nflow_layout "
                 "attribute says otherwise",
                 name, shape, l->axes);
    else
        snprintf(buf, cap, "%s %s read as %s: one channel, (N, 1, %llu, %llu)", name, shape, l->axes,
                 (unsigned long long)dims[1], (unsigned long long)dims[2]);
}
