/*
 * progress.h — progress lines on stderr for long work: "unit i/N, step, loss, ETA".
 * When stderr is a terminal the line is redrawn in place (\r); otherwise a line is printed at most
 * every `interval` seconds, so logs stay readable.
 */
#ifndef BQ_PROGRESS_H
#define BQ_PROGRESS_H
#include <stdio.h>

typedef struct {
    double t0, last;
    int tty;
    double interval;
    char what[64];
    /* the ETA's rate is measured from the first update on, not from t0: setup before the first
     * update (caches, Fisher pass) and work a resumed run finished earlier are not in it */
    int have_base;
    double base_time, base_done;
} bq_progress;

double bq_now(void);   /* monotonic seconds */
double bq_peak_rss_mb(void);   /* peak resident set size of this process so far, MB (0 if unknown) */
void bq_progress_start(bq_progress *p, const char *what);
/* done/total in units of the whole task (for the ETA); msg is the rest of the line. */
void bq_progress_update(bq_progress *p, double done, double total, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Seconds left for the work still to do at the rate seen since the first update; < 0 while
 * that rate is unknown (the first call sets the base and returns -1). Called by _update when
 * it prints, not per call: the base is the first printed update. */
double bq_progress_eta(bq_progress *p, double now, double done, double total);
void bq_progress_end(bq_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
