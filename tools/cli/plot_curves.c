/* The three-panel training curves of the InvertibleNetworks.jl tutorial: 0.5|z|^2
 * with the Gaussian reference, logdet, and the full objective, sharing the step axis. */
#include "plot.h"

#include <plplot.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(sizeof(PLFLT) == sizeof(double), "the metrics columns are passed to PLplot as they are");

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Limits that show the curve without letting the first few steps (often far off)
 * squash the rest: the 1st..99th percentiles widened to hold ref, plus 6 % padding. */
static void limits(const double *v, int n, double ref, double *lo, double *hi) {
    double *s = malloc(sizeof(double) * (size_t)n);
    int m = 0;
    if (s)
        for (int i = 0; i < n; i++)
            if (isfinite(v[i])) s[m++] = v[i];
    if (m == 0) {
        *lo = -1, *hi = 1;
        free(s);
        return;
    }
    qsort(s, (size_t)m, sizeof(double), cmp_double);
    *lo = s[(size_t)(0.01 * (m - 1))];
    *hi = s[(size_t)(0.99 * (m - 1))];
    free(s);
    if (isfinite(ref)) *lo = fmin(*lo, ref), *hi = fmax(*hi, ref);
    double pad = 0.06 * (*hi - *lo) + 1e-3;
    *lo -= pad, *hi += pad;
}

static void hline(double x0, double x1, double y) {
    plcol0(PC_RED);
    pllsty(2);
    pljoin(x0, y, x1, y);
    pllsty(1);
}

int plot_curves(const plot_target *t, const cli_metrics_table *m, double ref_half_sq, double ref_objective,
                const char *title, char *err, size_t errn) {
    if (m->n < 1) {
        snprintf(err, errn, "no training steps to plot");
        return -1;
    }
    if (plot_begin(t, err, errn) != 0) return -1;
    pladv(0);
    double x0 = m->step[0], x1 = m->step[m->n - 1];
    if (x1 <= x0) x1 = x0 + 1;
    const double *ys[3] = {m->half_sq, m->logdet, m->loss}; /* loss = the full objective */
    const double refs[3] = {ref_half_sq, NAN, ref_objective};
    const char *labels[3] = {"0.5 ||z||#u2#d", "log det", "full objective"};
    /* Panels top to bottom, touching (hspace = 0 in the tutorial). */
    const double top = 0.92, bottom = 0.10, h = (top - bottom) / 3;
    for (int p = 0; p < 3; p++) {
        double lo, hi;
        limits(ys[p], m->n, refs[p], &lo, &hi);
        plvpor(0.13, 0.95, top - (p + 1) * h, top - p * h);
        plwind(x0, x1, lo, hi);
        plcol0(PC_BLACK);
        plschr(0, 0.8);
        plbox(p == 2 ? "bcnst" : "bcst", 0, 0, "bcnstv", 0, 0);
        plmtex("l", 5.0, 0.5, 0.5, labels[p]);
        if (isfinite(refs[p])) hline(x0, x1, refs[p]);
        plcol0(PC_BLACK);
        plwidth(0.8);
        plline(m->n, m->step, ys[p]); /* PLFLT is double */
        plwidth(1);
        if (p == 0 || (p == 2 && isfinite(refs[2]))) {
            const char *text[1] = {p == 0 ? "normal noise likelihood" : "best possible"};
            int colour[1] = {PC_RED}, kind[1] = {0}, style[1] = {2};
            plot_legend(1, text, colour, kind, style);
        }
    }
    plcol0(PC_BLACK);
    plschr(0, 0.9);
    plmtex("b", 3.0, 0.5, 0.5, "parameter update");
    if (title) {
        plvpor(0.13, 0.95, bottom, top);
        plmtex("t", 1.2, 0.5, 0.5, title);
    }
    plot_end();
    return 0;
}
