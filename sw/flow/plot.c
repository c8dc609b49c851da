/*
 * plot.c — gnuplot-driven SVG plots (see plot.h).
 */
#include "core/errmsg.h"
#include "flow/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"

extern char **environ;

int bq_plot_available(void) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && n < sizeof dir - 16) {
            snprintf(dir, sizeof dir, "%.*s/gnuplot", (int)n, path);
            if (access(dir, X_OK) == 0) return 1;
        }
        path += n;
        if (*path == ':') path++;
    }
    return 0;
}

/* A string for a gnuplot double-quoted literal / inline data field: drop quotes, backslashes and
 * control characters (names are identifiers in practice; this keeps the script well-formed). */
static void put_quoted(bq_buf *b, const char *s) {
    bq_buf_put(b, "\"", 1);
    for (; s && *s; s++)
        if (*s != '"' && *s != '\\' && (unsigned char)*s >= 32) bq_buf_put(b, s, 1);
    bq_buf_put(b, "\"", 1);
}

static void preamble(bq_buf *b, const char *out, const char *title, int width, int height) {
    bq_buf_printf(b, "set terminal svg size %d,%d dynamic noenhanced font 'sans,11' background "
                  "'white'\nset output ", width, height);
    put_quoted(b, out);
    bq_buf_printf(b, "\nset title ");
    put_quoted(b, title ? title : "");
    bq_buf_printf(b, "\nset grid ytics lc rgb '#dddddd'\nset key outside right top\n");
}

/* Run gnuplot on the script and publish the SVG atomically. */
static int run_gnuplot(const char *svg_path, bq_buf *script, const char *tmp_svg, char *err,
                       size_t errlen) {
    char gp[4200], log[4200];
    snprintf(gp, sizeof gp, "%s.tmp.%ld.gp", svg_path, (long)getpid());
    snprintf(log, sizeof log, "%s.tmp.%ld.log", svg_path, (long)getpid());
    bq_remove_stale_tmp(svg_path);   /* the .gp/.log/.svg of a killed run's plot */
    int rc = -1;
    if (script->oom) {
        bq_seterr(err, errlen, "%s: out of memory building the gnuplot script", svg_path);
        return -1;
    }
    if (bq_write_file_atomic(gp, script->data, script->len, err, errlen)) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {"gnuplot", gp, NULL};
    pid_t pid;
    int sp = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (sp != 0) {
        bq_seterr(err, errlen, "%s: cannot run gnuplot (%s); install Debian's gnuplot-nox", svg_path,
               strerror(sp));
        goto cleanup;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            bq_seterr(err, errlen, "%s: waitpid: %s", svg_path, strerror(errno));
            goto cleanup;
        }
    struct stat stt;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(tmp_svg, &stt) != 0 ||
        stt.st_size == 0) {
        char first[300] = "";
        FILE *f = fopen(log, "r");
        if (f) {
            while (fgets(first, sizeof first, f))   /* the first non-blank line */
                if (strspn(first, " \t\r\n^") != strlen(first)) break;
            fclose(f);
        }
        first[strcspn(first, "\r\n")] = 0;
        bq_seterr(err, errlen, "%s: gnuplot failed (%s%d): %s", svg_path,
               WIFEXITED(status) ? "exit " : "signal ",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
               first[0] ? first : "no output");
        goto cleanup;
    }
    if (rename(tmp_svg, svg_path) != 0) {
        bq_seterr(err, errlen, "%s: rename: %s", svg_path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    unlink(gp);
    unlink(log);
    if (rc) unlink(tmp_svg);
    return rc;
}

static void tmp_name(char *dst, size_t n, const char *svg_path) {
    snprintf(dst, n, "%s.tmp.%ld.svg", svg_path, (long)getpid());
}

int bq_plot_pareto(const char *svg_path, const char *title, const bq_plot_series *mixed,
                   const bq_plot_series *uniform, char *err, size_t errlen) {
    const bq_plot_series *ss[2] = {mixed, uniform};
    int total = 0;
    for (int s = 0; s < 2; s++) {
        if (ss[s] && ss[s]->n < 0) {
            bq_seterr(err, errlen, "%s: negative point count", svg_path);
            return -1;
        }
        total += ss[s] ? ss[s]->n : 0;
    }
    if (total == 0) {
        bq_seterr(err, errlen, "%s: nothing to plot (no mixed and no uniform points)", svg_path);
        return -1;
    }
    char tmp[4200];
    tmp_name(tmp, sizeof tmp, svg_path);
    bq_buf b = {0};
    preamble(&b, tmp, title, 900, 520);
    bq_buf_printf(&b, "set xlabel 'latency (cycles)'\nset ylabel 'top-1 (%%)'\nset format x '%%.0f'\n"
                  "set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.08\n");
    for (int s = 0; s < 2; s++) {
        bq_buf_printf(&b, "$s%d << EOD\n", s);
        if (ss[s]) {
            /* the mixed front is drawn as a line: points in order of x */
            int n = ss[s]->n;
            int *ord = malloc((size_t)(n + 1) * sizeof(int));
            if (!ord) {
                bq_buf_free(&b);
                bq_seterr(err, errlen, "%s: out of memory", svg_path);
                return -1;
            }
            for (int i = 0; i < n; i++) ord[i] = i;
            for (int i = 1; i < n; i++)   /* insertion sort: a handful of points */
                for (int j = i; j > 0 && ss[s]->x[ord[j]] < ss[s]->x[ord[j - 1]]; j--) {
                    int t = ord[j];
                    ord[j] = ord[j - 1];
                    ord[j - 1] = t;
                }
            for (int k = 0; k < n; k++) {
                int i = ord[k];
                bq_buf_printf(&b, "%.17g %.17g ", ss[s]->x[i], ss[s]->y[i]);
                put_quoted(&b, ss[s]->labels && ss[s]->labels[i] ? ss[s]->labels[i] : "");
                bq_buf_printf(&b, "\n");
            }
            free(ord);
        }
        bq_buf_printf(&b, "EOD\n");
    }
    bq_buf_printf(&b, "plot ");
    int first = 1;
    if (mixed && mixed->n > 0) {
        bq_buf_printf(&b, "$s0 using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#c0392b' title ");
        put_quoted(&b, mixed->name ? mixed->name : "mixed");
        bq_buf_printf(&b, ", $s0 using 1:2:3 with labels offset 0,1.2 font ',9' notitle");
        first = 0;
    }
    if (uniform && uniform->n > 0) {
        bq_buf_printf(&b, "%s$s1 using 1:2 with points pt 5 ps 1.2 lc rgb '#2c3e50' title ",
                      first ? "" : ", ");
        put_quoted(&b, uniform->name ? uniform->name : "uniform");
        bq_buf_printf(&b, ", $s1 using 1:2:3 with labels offset 0,-1.2 font ',9' notitle");
    }
    bq_buf_printf(&b, "\n");
    int rc = run_gnuplot(svg_path, &b, tmp, err, errlen);
    bq_buf_free(&b);
    return rc;
}

int bq_plot_bitmap(const char *svg_path, const char *title, int n, const char *const *names,
                   const int *wbits, const int *abits, char *err, size_t errlen) {
    if (n <= 0) {
        bq_seterr(err, errlen, "%s: no layers to plot", svg_path);
        return -1;
    }
    char tmp[4200];
    tmp_name(tmp, sizeof tmp, svg_path);
    bq_buf b = {0};
    int width = 240 + 34 * n;
    preamble(&b, tmp, title, width < 700 ? 700 : width, 480);
    bq_buf_printf(&b, "set ylabel 'bits'\nset yrange [0:9]\nset ytics 1\n"
                  "set style data histograms\nset style histogram clustered gap 1\n"
                  "set style fill solid 0.9 border -1\nset boxwidth 0.9\n"
                  "set xtics rotate by 45 right scale 0 font ',9'\nset bmargin 9\nset key outside top center horizontal\n$d << EOD\n");
    for (int i = 0; i < n; i++) {
        put_quoted(&b, names[i]);
        bq_buf_printf(&b, " %d %d\n", wbits[i], abits[i]);
    }
    bq_buf_printf(&b, "EOD\nplot $d using 2:xtic(1) title 'weight bits' lc rgb '#2980b9', "
                  "'' using 3 title 'input activation bits' lc rgb '#e67e22'\n");
    int rc = run_gnuplot(svg_path, &b, tmp, err, errlen);
    bq_buf_free(&b);
    return rc;
}

int bq_plot_cycles(const char *svg_path, const char *title, int n, const char *const *names,
                   int n_series, const char *const *series_names, const double *cycles, char *err,
                   size_t errlen) {
    if (n <= 0 || n_series <= 0) {
        bq_seterr(err, errlen, "%s: no layers or no series to plot", svg_path);
        return -1;
    }
    static const char *colors[] = {"#c0392b", "#2c3e50", "#27ae60", "#8e44ad", "#f39c12", "#16a085"};
    char tmp[4200];
    tmp_name(tmp, sizeof tmp, svg_path);
    bq_buf b = {0};
    int width = 240 + 20 * n * (n_series + 1);
    preamble(&b, tmp, title, width < 700 ? 700 : width, 480);
    bq_buf_printf(&b, "set ylabel 'cycles'\nset yrange [0:*]\nset format y '%%.0f'\n"
                  "set style data histograms\nset style histogram clustered gap 1\n"
                  "set style fill solid 0.9 border -1\nset boxwidth 0.9\n"
                  "set xtics rotate by 45 right scale 0 font ',9'\nset bmargin 9\nset key outside top center horizontal\n$d << EOD\n");
    for (int i = 0; i < n; i++) {
        put_quoted(&b, names[i]);
        for (int s = 0; s < n_series; s++) bq_buf_printf(&b, " %.17g", cycles[(size_t)s * n + i]);
        bq_buf_printf(&b, "\n");
    }
    bq_buf_printf(&b, "EOD\nplot ");
    for (int s = 0; s < n_series; s++) {
        bq_buf_printf(&b, "%s using %d%s title ", s ? ", ''" : "$d", s + 2, s ? "" : ":xtic(1)");
        put_quoted(&b, series_names[s]);
        bq_buf_printf(&b, " lc rgb '%s'", colors[s % 6]);
    }
    bq_buf_printf(&b, "\n");
    int rc = run_gnuplot(svg_path, &b, tmp, err, errlen);
    bq_buf_free(&b);
    return rc;
}
