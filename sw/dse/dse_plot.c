/*
 * dse_plot.c — the Pareto plots of a sweep, drawn by gnuplot (Debian's gnuplot-nox) into SVG, per
 * model: objective vs latency (every feasible point, its 2-D front joined), and objective vs LUTs
 * and vs BRAM18 (per budget: the points that meet it, their 2-D front joined). Like sw/flow/plot.c
 * the script carries its data inline and the SVG is renamed into place only when gnuplot succeeded.
 */
#include "core/errmsg.h"
#include "dse/dse_merge.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Run gnuplot on script (which writes tmp_svg); publish it as svg. 0 or -1 + err. */
static int run_gnuplot(const char *svg, const char *tmp_svg, bq_buf *script, char *err,
                       size_t errlen) {
    char gp[BQ_DSE_PATH + 128], log[BQ_DSE_PATH + 128];
    snprintf(gp, sizeof gp, "%s.tmp.%ld.gp", svg, (long)getpid());
    snprintf(log, sizeof log, "%s.tmp.%ld.log", svg, (long)getpid());
    bq_remove_stale_tmp(svg);   /* the .gp/.log/.svg of a killed run's plot */
    if (script->oom) { bq_seterr(err, errlen, "%s: out of memory", svg); return -1; }
    if (bq_write_file_atomic(gp, script->data, script->len, err, errlen)) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {"gnuplot", gp, NULL};
    pid_t pid;
    int rc = -1, status = 0, sp = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    struct stat st;
    if (sp != 0)
        bq_seterr(err, errlen, "%s: cannot run gnuplot (%s); install Debian's gnuplot-nox or set "
                  "'plots: false'", svg, strerror(sp));
    else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(tmp_svg, &st) || !st.st_size)
            bq_seterr(err, errlen, "%s: gnuplot failed (status %d); its log was %s", svg, status, log);
        else if (rename(tmp_svg, svg)) bq_seterr(err, errlen, "%s: rename: %s", svg, strerror(errno));
        else rc = 0;
    }
    unlink(gp);
    if (rc == 0) unlink(log);
    if (rc) unlink(tmp_svg);
    return rc;
}

static void preamble(bq_buf *b, const char *tmp_svg, const char *title, const char *xlabel) {
    bq_buf_printf(b, "set terminal svg size 900,560 dynamic noenhanced font 'sans,11' background "
                  "'white'\nset output '%s'\nset title '%s'\nset xlabel '%s'\nset ylabel "
                  "'predicted loss (search objective, lower is better)'\nset grid\nset key "
                  "outside right top\nset logscale y\n", tmp_svg, title, xlabel);
}

/* x of a row in plot `kind`: 0 latency us, 1 LUT, 2 BRAM18. */
static double xval(const bq_dse *d, const bq_dse_row *r, int kind) {
    const bq_resources *R = &d->cfgs[r->config].res;
    return kind == 0 ? r->us : kind == 1 ? (double)R->lut : (double)R->bram18;
}

/* The 2-D Pareto front of k points xy[2i], xy[2i+1] (both minimised) as point indices sorted by x,
 * into ix (k entries); fr is scratch (k entries). Returns the front's size. Insertion sort: fronts
 * are short. */
static int front_by_x(int k, const double *xy, int *fr, int *ix) {
    bq_dse_pareto(k, 2, xy, fr);
    int nf = 0;
    for (int i = 0; i < k; i++)
        if (fr[i]) ix[nf++] = i;
    for (int a = 1; a < nf; a++)
        for (int c = a; c > 0 && xy[2 * ix[c - 1]] > xy[2 * ix[c]]; c--) { int t = ix[c]; ix[c] = ix[c - 1]; ix[c - 1] = t; }
    return nf;
}

/* Data block $b<j>: the rows of model m (budget j; j < 0: all budgets), "x y front" sorted by x
 * for the joined front. The 2-D front is recomputed here: the plot shows two of three axes. */
static void data_block(const bq_dse *d, const bq_dse_row *rows, int n, int m, int j, int kind,
                       bq_buf *b) {
    int k = 0;
    double *xy = malloc(sizeof(double) * 2 * (size_t)(n ? n : 1));
    int *fr = malloc(sizeof(int) * (size_t)(n ? n : 1)), *ix = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!xy || !fr || !ix) { b->oom = 1; free(xy); free(fr); free(ix); return; }
    for (int i = 0; i < n; i++) {
        if (rows[i].model != m || !rows[i].feasible || (j >= 0 && rows[i].budget != j)) continue;
        xy[2 * k] = xval(d, &rows[i], kind);
        xy[2 * k + 1] = rows[i].objective;
        ix[k++] = i;
    }
    int nf = front_by_x(k, xy, fr, ix);
    bq_buf_printf(b, "$all%d << EOD\n", j + 1);
    for (int i = 0; i < k; i++) bq_buf_printf(b, "%.9g %.9g\n", xy[2 * i], xy[2 * i + 1]);
    bq_buf_printf(b, "EOD\n$front%d << EOD\n", j + 1);
    for (int i = 0; i < nf; i++) bq_buf_printf(b, "%.9g %.9g\n", xy[2 * ix[i]], xy[2 * ix[i] + 1]);
    bq_buf_printf(b, "EOD\n");
    free(xy); free(fr); free(ix);
}

/* Feasible rows of model m (budget j; j < 0: any) and whether all their x are > 0 (log axis). */
static int count_points(const bq_dse *d, const bq_dse_row *rows, int n, int m, int j, int kind,
                        int *all_positive) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (rows[i].model != m || !rows[i].feasible || (j >= 0 && rows[i].budget != j)) continue;
        if (xval(d, &rows[i], kind) <= 0) *all_positive = 0;
        k++;
    }
    return k;
}

static int plot_one(const bq_dse *d, const bq_dse_row *rows, int n, int m, int kind, char *err,
                    size_t errlen) {
    int positive = 1;
    if (count_points(d, rows, n, m, -1, kind, &positive) == 0) return 0;   /* nothing meets any budget */
    static const char *const kName[] = {"latency", "lut", "bram"};
    static const char *const kX[] = {"latency (us)", "LUTs (estimate)", "BRAM18 (estimate)"};
    const char *label = d->models[m].label;
    char svg[BQ_DSE_PATH + 64], tmp[BQ_DSE_PATH + 96], title[160];
    snprintf(svg, sizeof svg, "%s/%s_%s.svg", d->spec.out, label, kName[kind]);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.svg", svg, (long)getpid());
    snprintf(title, sizeof title, "%s: %s vs %s", d->spec.name, label, kX[kind]);
    bq_buf b = {0};
    preamble(&b, tmp, title, kX[kind]);
    if (kind == 0) {
        data_block(d, rows, n, m, -1, kind, &b);
        bq_buf_printf(&b, "plot $all0 using 1:2 with points pt 7 ps 0.4 lc rgb '#9ab' title "
                      "'all (config, budget)', $front0 using 1:2 with linespoints pt 7 lw 2 lc rgb "
                      "'#c22' title 'front'\n");
    } else {
        for (int j = 0; j < d->n_budgets; j++) data_block(d, rows, n, m, j, kind, &b);
        bq_buf_printf(&b, "%splot ", positive ? "set logscale x\n" : "");
        int shown = 0;
        for (int j = 0; j < d->n_budgets; j++) {
            int pos = 1;
            if (!count_points(d, rows, n, m, j, kind, &pos)) continue;   /* gnuplot refuses empty */
            bq_buf_printf(&b, "%s$all%d using 1:2 with points pt 6 ps 0.4 lc %d notitle, $front%d "
                          "using 1:2 with linespoints pt 7 lw 2 lc %d title 'front at %s'",
                          shown++ ? ", " : "", j + 1, j + 1, j + 1, j + 1, d->spec.budgets[j]);
        }
        bq_buf_printf(&b, "\n");
    }
    int rc = run_gnuplot(svg, tmp, &b, err, errlen);
    bq_buf_free(&b);
    return rc;
}

/* <label>_top1.svg: integer top-1 after BRECQ vs latency, one point per measured row, the 2-D front
 * (highest top-1 at the lowest latency) joined. Nothing when no row of m was measured. */
static int plot_top1(const bq_dse *d, const bq_dse_row *rows, int n, int m, char *err,
                     size_t errlen) {
    int k = 0;
    double *xy = malloc(sizeof(double) * 2 * (size_t)(n ? n : 1));
    int *fr = malloc(sizeof(int) * (size_t)(n ? n : 1)), *ix = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!xy || !fr || !ix) {
        free(xy); free(fr); free(ix);
        bq_seterr(err, errlen, "dse: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (rows[i].model == m && rows[i].top1 >= 0) {
            xy[2 * k] = rows[i].us;
            xy[2 * k + 1] = -rows[i].top1;   /* the filter minimises */
            k++;
        }
    int rc = 0;
    if (k > 0) {
        int nf = front_by_x(k, xy, fr, ix);
        const char *label = d->models[m].label;
        char svg[BQ_DSE_PATH + 64], tmp[BQ_DSE_PATH + 96], title[160];
        snprintf(svg, sizeof svg, "%s/%s_top1.svg", d->spec.out, label);
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld.svg", svg, (long)getpid());
        snprintf(title, sizeof title, "%s: %s integer top-1 (BRECQ) vs latency", d->spec.name, label);
        bq_buf b = {0};
        bq_buf_printf(&b, "set terminal svg size 900,560 dynamic noenhanced font 'sans,11' background "
                      "'white'\nset output '%s'\nset title '%s'\nset xlabel 'latency (us)'\nset "
                      "ylabel 'integer top-1 (%%)'\nset grid\nset key outside right top\n$all << EOD\n",
                      tmp, title);
        for (int i = 0; i < k; i++) bq_buf_printf(&b, "%.9g %.4f\n", xy[2 * i], -xy[2 * i + 1]);
        bq_buf_printf(&b, "EOD\n$front << EOD\n");
        for (int i = 0; i < nf; i++) bq_buf_printf(&b, "%.9g %.4f\n", xy[2 * ix[i]], -xy[2 * ix[i] + 1]);
        bq_buf_printf(&b, "EOD\nplot $all using 1:2 with points pt 7 ps 0.6 lc rgb '#9ab' title "
                      "'measured rows', $front using 1:2 with linespoints pt 7 lw 2 lc rgb '#c22' "
                      "title 'front'\n");
        rc = run_gnuplot(svg, tmp, &b, err, errlen);
        bq_buf_free(&b);
    }
    free(xy); free(fr); free(ix);
    return rc;
}

int bq_dse_plots(const bq_dse *d, const bq_dse_row *rows, int n, char *err, size_t errlen) {
    for (int m = 0; m < d->n_models; m++) {
        for (int kind = 0; kind < 3; kind++)
            if (plot_one(d, rows, n, m, kind, err, errlen)) return -1;
        if (plot_top1(d, rows, n, m, err, errlen)) return -1;
    }
    return 0;
}
