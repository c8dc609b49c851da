/* cli_run.c — see cli_run.h. */
#include "cli_run.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t bq_cli_run_key(const char *cmd) {
    return bq_fnv1a64(cmd, strlen(cmd) + 1, BQ_FNV_INIT);
}

int bq_cli_run_key_files(const char *cmd, uint64_t *h, const char *const *paths, int n) {
    char err[512];
    for (int i = 0; i < n; i++) {
        if (!paths[i]) { *h = bq_fnv1a64("-", 2, *h); continue; }
        if (bq_fnv1a64_file(paths[i], h, err, sizeof err)) {
            bq_cli_error(cmd, "%s", err);
            return -1;
        }
    }
    return 0;
}

uint64_t bq_cli_run_key_data(uint64_t h, const bq_dataset *d) {
    const int shape[4] = {d->n, d->c, d->h, d->w};
    h = bq_fnv1a64(shape, sizeof shape, h);
    if (d->pixels) h = bq_fnv1a64(d->pixels, (size_t)d->n * d->c * d->h * d->w, h);
    if (d->labels) h = bq_fnv1a64(d->labels, sizeof(int32_t) * (size_t)d->n, h);
    return h;
}

uint64_t bq_cli_run_key_opts(uint64_t h, const char *const *vals, int n) {
    for (int i = 0; i < n; i++)
        h = vals[i] ? bq_fnv1a64(vals[i], strlen(vals[i]) + 1, h) : bq_fnv1a64("\1", 2, h);
    const char *conv = getenv("BQ_CONV");
    return bq_fnv1a64(conv ? conv : "", conv ? strlen(conv) + 1 : 1, h);
}

int bq_cli_run_open(const char *cmd, const char *given, const char *out, uint64_t key,
                    bq_run_dir *r) {
    char err[512];
    if (bq_run_open(r, given, out, key, err, sizeof err)) {
        bq_cli_error(cmd, "%s", err);
        return -1;
    }
    if (r->status == BQ_RUN_RESUMED)
        fprintf(stderr, "[%s] resuming from %s (a killed run of the same inputs and options)\n",
                cmd, r->dir);
    else if (r->status == BQ_RUN_RESTARTED)
        fprintf(stderr, "[%s] %s: checkpoints of other inputs or options; starting over\n", cmd,
                r->dir);
    return 0;
}
