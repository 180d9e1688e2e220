/* What every PLplot picture shares: the output device (pngcairo or memcairo), the
 * palette, points, legends and automatic limits. */
#include "plot.h"

#include <plplot.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int plot_begin(const plot_target *t, char *err, size_t errn) {
    if (t->png) {
        /* PLplot cannot report an unwritable file; find out first. */
        FILE *f = fopen(t->png, "wb");
        if (!f) {
            snprintf(err, errn, "cannot write %s: %s", t->png, strerror(errno));
            return -1;
        }
        fclose(f);
        plsdev("pngcairo");
        plsfnam(t->png);
        plspage(0, 0, t->width, t->height, 0, 0);
    } else {
        /* memcairo draws over the buffer: start from white. */
        memset(t->rgba, 255, (size_t)t->width * (size_t)t->height * 4);
        plsdev("memcairo");
        plsmema(t->width, t->height, t->rgba);
    }
    plscmap0n(16);
    plscol0a(PC_WHITE, 255, 255, 255, 1.0);
    plscol0a(PC_BLACK, 0, 0, 0, 1.0);
    plscol0a(PC_RED, 214, 39, 40, 1.0);
    plscol0a(PC_BLUE, 31, 119, 180, 1.0);  /* matplotlib's C0 */
    plscol0a(PC_ORANGE, 255, 127, 14, 1.0); /* matplotlib's C1 */
    plscol0a(PC_GREY, 120, 120, 120, 1.0);
    plscol0a(PC_BLACK_FAINT, 0, 0, 0, 0.25);
    plscol0a(PC_BLUE_FAINT, 31, 119, 180, 0.45);
    plscol0a(PC_ORANGE_FAINT, 255, 127, 14, 0.45);
    plscol0a(PC_Q1, 228, 26, 28, 0.6);
    plscol0a(PC_Q2, 55, 126, 184, 0.6);
    plscol0a(PC_Q3, 77, 175, 74, 0.6);
    plscol0a(PC_Q4, 152, 78, 163, 0.6);
    plsfont(PL_FCI_SANS, -1, -1);
    plinit();
    plcol0(PC_BLACK);
    return 0;
}

void plot_end(void) { plend(); }

void plot_points(const nf_real *xy, int n, int col) {
    enum { CHUNK = 1024 };
    PLFLT x[CHUNK], y[CHUNK];
    plcol0(col);
    for (int i = 0; i < n; i += CHUNK) {
        int m = n - i < CHUNK ? n - i : CHUNK;
        for (int k = 0; k < m; k++) x[k] = xy[2 * (i + k)], y[k] = xy[2 * (i + k) + 1];
        plstring(m, x, y, "•");
    }
}

void plot_legend(int n, const char *const *text, const int *colour, const int *kind, const int *style) {
    enum { MAXN = 4 };
    if (n > MAXN) n = MAXN;
    PLINT opts[MAXN], tcol[MAXN], lcol[MAXN], lsty[MAXN], scol[MAXN], snum[MAXN], bcol[MAXN], bpat[MAXN];
    PLFLT lw[MAXN], ssc[MAXN], bsc[MAXN], blw[MAXN];
    const char *sym[MAXN];
    for (int i = 0; i < n; i++) {
        opts[i] = kind[i] ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE;
        tcol[i] = PC_BLACK, lcol[i] = colour[i], lsty[i] = style[i] ? style[i] : 1, lw[i] = 1.5;
        scol[i] = colour[i], ssc[i] = 1.2, snum[i] = 1, sym[i] = "•";
        bcol[i] = 0, bpat[i] = 0, bsc[i] = 0, blw[i] = 0;
    }
    PLFLT w, h;
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_RIGHT | PL_POSITION_TOP, 0.01, 0.01,
             0.08, PC_WHITE, PC_GREY, 1, 0, 0, n, opts, 1.0, 0.8, 2.0, 0.0, tcol, text, bcol, bpat, bsc, blw, lcol,
             lsty, lw, scol, ssc, snum, sym);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

plot_box plot_box_of(const nf_real *xy, int n) {
    plot_box b = {-1, 1, -1, 1};
    if (n <= 0) return b;
    double *v = malloc(sizeof(double) * (size_t)n);
    if (!v) return b;
    double lim[4];
    for (int axis = 0; axis < 2; axis++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(xy[2 * i + axis])) v[m++] = xy[2 * i + axis];
        if (m == 0) {
            lim[2 * axis] = -1, lim[2 * axis + 1] = 1;
            continue;
        }
        qsort(v, (size_t)m, sizeof(double), cmp_double);
        double lo = v[(size_t)(0.005 * (m - 1))], hi = v[(size_t)(0.995 * (m - 1))];
        double pad = 0.08 * (hi - lo) + 1e-6;
        lim[2 * axis] = lo - pad, lim[2 * axis + 1] = hi + pad;
    }
    free(v);
    b = (plot_box){lim[0], lim[1], lim[2], lim[3]};
    return b;
}

plot_box plot_box_union(plot_box a, plot_box b) {
    return (plot_box){fmin(a.x0, b.x0), fmax(a.x1, b.x1), fmin(a.y0, b.y0), fmax(a.y1, b.y1)};
}
