/* progress.c — see progress.h. */
#include "core/progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bq_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bq_peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0.0;
    return (double)ru.ru_maxrss / 1024.0;   /* Linux: ru_maxrss in KiB */
}

void bq_progress_start(bq_progress *p, const char *what) {
    memset(p, 0, sizeof(*p));
    p->t0 = bq_now();
    p->last = 0;
    p->tty = isatty(2);
    p->interval = p->tty ? 0.2 : 10.0;
    snprintf(p->what, sizeof(p->what), "%s", what);
}

double bq_progress_eta(bq_progress *p, double now, double done, double total) {
    if (!p->have_base) {
        p->have_base = 1;
        p->base_time = now;
        p->base_done = done;
        return -1;
    }
    if (done <= p->base_done || now <= p->base_time) return -1;
    return (now - p->base_time) * (total - done) / (done - p->base_done);
}

void bq_progress_update(bq_progress *p, double done, double total, const char *fmt, ...) {
    double now = bq_now();
    /* the first call always prints (last = 0), so it is also the one that sets the ETA's base */
    if (now - p->last < p->interval && done < total) return;
    p->last = now;
    double eta = bq_progress_eta(p, now, done, total);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char eta_s[32] = "ETA --";
    if (eta >= 0) snprintf(eta_s, sizeof(eta_s), "ETA %.0fs", eta);
    fprintf(stderr, "%s[%s] %s | %.0fs elapsed, %s%s", p->tty ? "\r\033[K" : "", p->what, msg,
            now - p->t0, eta_s, p->tty ? "" : "\n");
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
