/* test_plot.c — gnuplot SVG plots are produced, non-empty, published atomically; errors reported.
 * Skipped (with a visible message) only when no gnuplot is on PATH. */
#include "testutil.h"
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "flow/plot.h"

static char g_dir[64];

static int setup(void **st) {
    (void)st;
    snprintf(g_dir, sizeof g_dir, "/tmp/bq_test_plot.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}
static int teardown(void **st) {
    (void)st;
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[400];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(g_dir);
    return 0;
}

static void need_gnuplot(void) {
    if (!bq_plot_available()) {
        print_message("SKIPPED: gnuplot not found on PATH (apt-get install gnuplot-nox)\n");
        skip();
    }
}

/* The file exists, is an SVG of reasonable size, and contains `want`. */
static void check_svg(const char *path, const char *want) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_true(n > 500);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "</svg>"));
    if (want) assert_non_null(strstr(buf, want));
}

/* Nothing but the given number of files in the directory (no *.tmp.* leftovers). */
static void check_no_leftovers(int expected) {
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            assert_null(strstr(e->d_name, ".tmp."));
            n++;
        }
    closedir(d);
    assert_int_equal(n, expected);
}

static void test_three_plots(void **st) {
    (void)st;
    need_gnuplot();
    char path[256], err[512] = "";
    double mc[] = {12000, 9000, 15000}, mt[] = {90.4, 89.1, 90.9};
    double uc[] = {10000, 15000}, ut[] = {88.7, 90.2};
    const char *ul[] = {"W2A3", "W3A3"};
    bq_plot_series mixed = {"mixed (searched)", 3, mc, mt, NULL};
    bq_plot_series unif = {"uniform", 2, uc, ut, ul};
    snprintf(path, sizeof path, "%s/pareto.svg", g_dir);
    int rc = bq_plot_pareto(path, "fres20 on edge", &mixed, &unif, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    check_svg(path, "W2A3");

    const char *names[] = {"stem", "s1b1_conv1", "s1b1_conv2", "fc"};
    int wb[] = {8, 3, 2, 8}, ab[] = {8, 4, 3, 8};
    snprintf(path, sizeof path, "%s/bits.svg", g_dir);
    rc = bq_plot_bitmap(path, "bits", 4, names, wb, ab, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    check_svg(path, "s1b1_conv1");   /* noenhanced: the underscore is printed literally */

    const char *sn[] = {"mixed", "W8A8"};
    double cyc[] = {100, 200, 300, 50, 400, 800, 1200, 60};
    snprintf(path, sizeof path, "%s/cycles.svg", g_dir);
    rc = bq_plot_cycles(path, "cycles per layer", 4, names, 2, sn, cyc, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    check_svg(path, "W8A8");
    check_no_leftovers(3);
}

static void test_errors(void **st) {
    (void)st;
    need_gnuplot();
    char err[512] = "";
    const char *names[] = {"a"};
    int wb[] = {8}, ab[] = {8};
    /* unwritable destination: gnuplot fails, the message says so, nothing is left behind */
    assert_int_equal(bq_plot_bitmap("/nonexistent-dir/x.svg", "t", 1, names, wb, ab, err,
                                    sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.svg"));
    /* empty inputs are refused before gnuplot runs */
    char path[256];
    snprintf(path, sizeof path, "%s/empty.svg", g_dir);
    assert_int_equal(bq_plot_bitmap(path, "t", 0, names, wb, ab, err, sizeof err), -1);
    bq_plot_series none = {"m", 0, NULL, NULL, NULL};
    assert_int_equal(bq_plot_pareto(path, "t", &none, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing to plot"));
    check_no_leftovers(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_plots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
