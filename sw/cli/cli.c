/* cli.c — see cli.h. */
#include "cli.h"
#include "quant/qmodel.h"
#include "io/model_io.h"
#include "io/onnx_import.h"
#include "core/fileio.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --mean/--std: input preprocessing of ONNX models, accepted by every command (docs/onnx.md). */
static const char *cli_onnx_mean, *cli_onnx_std;

void bq_cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "brecq %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int bq_cli_parse(int argc, char **argv, bq_cli_opt *opts, int n_opts, const char *usage) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s\n\noptions:\n", usage);
            for (int k = 0; k < n_opts; k++)
                printf("  --%-14s %s %s\n", opts[k].name, opts[k].takes_value ? "V" : " ",
                       opts[k].help);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            bq_cli_error(argv[0], "unexpected argument '%s'; see `brecq %s --help`", a, argv[0]);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int found = 0;
        for (int k = 0; k < n_opts; k++) {
            if (strlen(opts[k].name) != nlen || strncmp(opts[k].name, name, nlen) != 0) continue;
            found = 1;
            if (!opts[k].takes_value) {
                if (eq) { bq_cli_error(argv[0], "--%s takes no value", opts[k].name); return 2; }
                *opts[k].value = "1";
            } else if (eq && !eq[1]) {
                /* `--model=` would otherwise surface later as ": cannot open" */
                bq_cli_error(argv[0], "--%s= has an empty value; give one (--%s VALUE)",
                             opts[k].name, opts[k].name);
                return 2;
            } else if (eq) {
                *opts[k].value = eq + 1;
            } else if (i + 1 < argc) {
                *opts[k].value = argv[++i];
            } else {
                bq_cli_error(argv[0], "--%s needs a value; see `brecq %s --help`", opts[k].name,
                             argv[0]);
                return 2;
            }
        }
        if (!found && (eq || i + 1 < argc) &&
            ((nlen == 4 && !strncmp(name, "mean", 4)) || (nlen == 3 && !strncmp(name, "std", 3)))) {
            *(name[0] == 'm' ? &cli_onnx_mean : &cli_onnx_std) = eq ? eq + 1 : argv[++i];
            found = 1;
        }
        if (!found) {
            bq_cli_error(argv[0], "unknown option '%s'; see `brecq %s --help`", a, argv[0]);
            return 2;
        }
    }
    return 0;
}

int bq_cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == 0 || *end != 0 || v < lo || v > hi) {
        bq_cli_error(cmd, "--%s '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int bq_cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *s == 0 || *end != 0 || !isfinite(v) || v < lo || v > hi) {
        bq_cli_error(cmd, "--%s '%s' is not a number in [%g, %g]", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* OpenBLAS runs single-threaded unless --threads says otherwise: the engine's own kernels use the
 * cores ($BQ_NUM_THREADS, parallel.h), OpenBLAS only gets the small linear layers, and its results
 * can depend on its thread count (measured: sgemm 1024x512x333 differs between 1 and 2 threads),
 * which would make the same seed give other bytes on a machine with more cores. */
int bq_cli_threads(const char *cmd, const char *s) {
    long n = 1;
    if (s && bq_cli_int(cmd, "threads", s, 1, 256, &n)) return -1;
    openblas_set_num_threads((int)n);
    return 0;
}

int bq_cli_load_model(const char *cmd, const char *path, bq_model *m) {
    char err[512];
    size_t n = strlen(path);
    int rc;
    if (n > 5 && strcmp(path + n - 5, ".onnx") == 0) {
        bq_onnx_options opt = {0};
        double v;
        if (cli_onnx_mean && bq_cli_float(cmd, "mean", cli_onnx_mean, -1e6, 1e6, &v)) return -1;
        if (cli_onnx_mean) { opt.has_mean = 1; opt.mean = (float)v; }
        if (cli_onnx_std && bq_cli_float(cmd, "std", cli_onnx_std, 1e-12, 1e6, &v)) return -1;
        if (cli_onnx_std) { opt.has_std = 1; opt.std = (float)v; }
        rc = bq_onnx_load(m, path, &opt, err, sizeof(err));
    } else {
        rc = bq_model_load(m, path, err, sizeof(err));
    }
    if (rc) { bq_cli_error(cmd, "%s", err); return -1; }
    return 0;
}

/* Is name in the comma-separated list? */
static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0) return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

int bq_cli_check_outputs(const char *cmd, const bq_cli_opt *opts, int n_opts, const char *outs,
                         const char *dir_outs) {
    /* every other value-taking option's value may be an input file: bq_check_output only
     * objects when it is the very same file (or the same not-yet-existing path) */
    const char *others[64];
    for (int k = 0; k < n_opts; k++) {
        if (!opts[k].takes_value || !*opts[k].value) continue;
        int is_dir = in_list(dir_outs, opts[k].name);
        if (!is_dir && !in_list(outs, opts[k].name)) continue;
        int n = 0;
        for (int j = 0; j < n_opts && n < 64; j++)
            if (j != k && opts[j].takes_value && *opts[j].value) others[n++] = *opts[j].value;
        char flag[64], err[1024];
        snprintf(flag, sizeof flag, "--%s", opts[k].name);
        if (bq_check_output(flag, *opts[k].value, is_dir ? BQ_OUT_DIR : BQ_OUT_FILE, others, n, err,
                            sizeof err)) {
            bq_cli_error(cmd, "%s", err);
            return -1;
        }
    }
    return 0;
}

int bq_cli_load_qmodel(const char *cmd, const char *path, void *qv) {
    bq_qmodel *q = qv;
    char err[1024];
    /* bq_qmodel_load validates the values too (qmodel_check.h) */
    if (bq_qmodel_load(q, path, err, sizeof err)) { bq_cli_error(cmd, "%s", err); return -1; }
    return 0;
}
