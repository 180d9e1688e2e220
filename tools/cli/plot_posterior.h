/* nflow plot posterior (plot_posterior.c): the picture of posterior samples written by
 * nflow sample --cond. */
#ifndef NFLOW_CLI_PLOT_POSTERIOR_H
#define NFLOW_CLI_PLOT_POSTERIOR_H

typedef struct plot_posterior_opts {
    const char *samples;    /* the file of nflow sample --cond */
    const char *truth;      /* FILE.h5:/PATH whose sample `index` is the truth [none] */
    const char *exact_mean; /* vectors: FILE.h5:/PATH of exact posterior means, row `index` */
    double exact_var;       /* ... and the exact posterior's variance per dimension */
    const char *out;        /* PNG */
    long n;                 /* samples drawn: images [4], vectors [1000]; 0 = default */
    long seed;              /* of the exact posterior's points */
} plot_posterior_opts;

/* Draws the picture; returns an exit code (messages printed as nflow plot's). */
int plot_posterior(const plot_posterior_opts *o);

#endif
