/*
 * bench_util.h — what every benchmark of tests/bench/ needs: the median of repeated timings and
 * the machine's 1-minute load average (a run beside other jobs must say so).
 */
#ifndef BQ_BENCH_UTIL_H
#define BQ_BENCH_UTIL_H
#include <stdio.h>
#include <stdlib.h>

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n-1] (sorts v); the mean of the two middle values when n is even. */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* 1-minute load average from /proc/loadavg, -1 where there is none. */
static inline double bench_load1(void) {
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}
#endif
