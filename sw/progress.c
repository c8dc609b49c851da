/* progress.c — see progress.h. */
#include "progress.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bq_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bq_progress_start(bq_progress *p, const char *what) {
    memset(p, 0, sizeof(*p));
    p->t0 = bq_now();
    p->last = 0;
    p->tty = isatty(2);
    p->interval = p->tty ? 0.2 : 10.0;
    snprintf(p->what, sizeof(p->what), "%s", what);
}

void bq_progress_update(bq_progress *p, double done, double total, const char *fmt, ...) {
    double now = bq_now();
    if (now - p->last < p->interval && done < total) return;
    p->last = now;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    double el = now - p->t0, eta = done > 0 ? el * (total - done) / done : 0;
    fprintf(stderr, "%s[%s] %s | %.0fs elapsed, ETA %.0fs%s", p->tty ? "\r\033[K" : "", p->what,
            msg, el, eta, p->tty ? "" : "\n");
    fflush(stderr);
}

void bq_progress_end(bq_progress *p, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s[%s] %s (%.1fs)\n", p->tty ? "\r\033[K" : "", p->what, msg,
            bq_now() - p->t0);
}
