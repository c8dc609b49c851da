/*
 * plot.h — report plots drawn by gnuplot (Debian's gnuplot-nox), SVG output.
 *
 * Each function writes a gnuplot script with the data inline (a `$data << EOD` block), runs
 * `gnuplot` on it as a subprocess (found on PATH), and renames the SVG it produced over `svg_path`
 * only when gnuplot succeeded and the file is non-empty: a killed or failed run never leaves a
 * half-written plot. Text is drawn `noenhanced`, so layer names with underscores print as-is.
 * The library never calls exit(); failures come back as -1 with a one-line message that includes
 * gnuplot's first error line.
 *
 * Example:
 *   double mc[] = {9000, 12000}, mt[] = {89.1, 90.4}, uc[] = {10000, 15000}, ut[] = {88.7, 90.2};
 *   const char *ul[] = {"W2A3", "W3A3"};
 *   bq_plot_series mixed = {"mixed (searched)", 2, mc, mt, NULL};
 *   bq_plot_series unif  = {"uniform", 2, uc, ut, ul};
 *   if (bq_plot_pareto("report/pareto.svg", "fres20 on edge", &mixed, &unif, err, sizeof err)) ...
 */
#ifndef BQ_PLOT_H
#define BQ_PLOT_H

#include <stddef.h>

/* One series of points: x[i], y[i] for i < n; labels[i] (optional, may be NULL) annotate points. */
typedef struct {
    const char *name;
    int n;
    const double *x;
    const double *y;
    const char *const *labels;
} bq_plot_series;

/* 1 when a `gnuplot` executable is on PATH, else 0. */
int bq_plot_available(void);

/* Accuracy vs latency: the mixed-precision allocations as a front (points joined in order of x)
 * and the uniform allocations as labelled points. x in cycles, y in top-1 %. Either series may
 * have n = 0. Returns 0 or -1 + message. */
int bq_plot_pareto(const char *svg_path, const char *title, const bq_plot_series *mixed,
                   const bq_plot_series *uniform, char *err, size_t errlen);

/* Per-layer bit map: for layer i < n, names[i], its weight bits wbits[i] and input-activation bits
 * abits[i] as clustered bars (bit-widths 1..8). Returns 0 or -1 + message. */
int bq_plot_bitmap(const char *svg_path, const char *title, int n, const char *const *names,
                   const int *wbits, const int *abits, char *err, size_t errlen);

/* Per-layer cycle breakdown: n_series allocations (series_names[s]) compared layer by layer,
 * cycles[s * n + i] for layer i (names[i]), clustered bars, log-free linear scale.
 * Returns 0 or -1 + message. */
int bq_plot_cycles(const char *svg_path, const char *title, int n, const char *const *names,
                   int n_series, const char *const *series_names, const double *cycles, char *err,
                   size_t errlen);

#endif
