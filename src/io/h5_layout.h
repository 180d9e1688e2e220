/* Which axes of a stored array are what: the nflow_layout attribute, the caller's layout
 * option, or a guess from the shape when neither says. Internal, not installed. */
#ifndef NF_H5_LAYOUT_H
#define NF_H5_LAYOUT_H

#include "io/h5_check.h"

typedef struct nf_h5_layout {
    char axes[8];      /* the stored axes: "NC", "NHW", "NCHW", "NHWC", "NDHW", "NCDHW" or "NDHWC" */
    int channels_last; /* C is the last stored axis */
    int guessed;       /* decided from the shape alone (no option, no attribute) */
    int worth_saying;  /* guessed, and not simply the axes as they stand (NHWC, NDHWC, NHW) */
} nf_h5_layout;

/* Decides the layout of an array of the given rank and dims named `name` (for messages).
 * attr: the nflow_layout attribute ("" when absent); want: the caller's choice, which
 * overrides the attribute; guess: 0 for conditioning data, which is channels-first unless
 * its attribute says otherwise. NF_ERR_FORMAT naming the option and the attribute for a
 * layout that does not fit the rank, an unknown attribute value, or a shape that could be
 * either channels-first or channels-last. */
nf_status nf_h5_layout_decide(nf_h5_layout *l, const char *name, int rank, const hsize_t *dims, const char *attr,
                              nf_layout want, int guess);

/* One line describing a guessed layout for the user, e.g. "f.h5:/x (100, 32, 32, 3) read
 * as NHWC (channels last), guessed from the shape; ...". */
void nf_h5_layout_note(const nf_h5_layout *l, const char *name, int rank, const hsize_t *dims, char *buf,
                       size_t cap);

#endif
