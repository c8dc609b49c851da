/* test_acc_uio.c — the board backend's mapping half (sim/bq_acc_uio.h) without a board: the
 * command-line options are taken out of argv and validated (each bad input gives one line naming
 * the option and the fix), and opening a device that does not exist fails with one line naming the
 * device. Built and run under ASan+UBSan by `make test-cosim` (sim/sim.mk). */
#include "testutil.h"
#include "bq_acc_uio.h"

#include <string.h>

#define PAGE 4096u

/* Parse a NULL-terminated list of arguments (argv[0] = "cosim_board" is added). */
static int parse(bq_uio_args *a, int *argc, char **argv, const char *const *args, char *err) {
    int n = 0;
    argv[n++] = (char *)"cosim_board";
    for (; args[n - 1]; n++) argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    *argc = n;
    return bq_uio_parse_args(a, argc, argv, PAGE, err, 512);
}

static void one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
}

static void test_uio_ok(void **state) {
    (void)state;
    char *argv[16], err[512] = "";
    int argc;
    bq_uio_args a;
    const char *args[] = {"--hw", "configs/hw/tiny.yaml", "--dev", "/dev/uio3", "--mem-base",
                          "0x38000000", "--mem-size", "67108864", "--images", "1", NULL};
    assert_int_equal(parse(&a, &argc, argv, args, err), 0);
    assert_string_equal(a.dev, "/dev/uio3");
    assert_true(a.is_uio);
    assert_int_equal(a.mem_base, 0x38000000u);
    assert_int_equal(a.mem_size, 64u << 20);
    /* the cosim options stay, in order */
    assert_int_equal(argc, 5);
    assert_string_equal(argv[1], "--hw");
    assert_string_equal(argv[2], "configs/hw/tiny.yaml");
    assert_string_equal(argv[3], "--images");
    assert_string_equal(argv[4], "1");
    assert_null(argv[5]);
}

static void test_devmem_ok(void **state) {
    (void)state;
    char *argv[16], err[512] = "";
    int argc;
    bq_uio_args a;
    const char *args[] = {"--dev", "/dev/mem", "--reg-base", "0x43c00000", "--mem-base", "0x38000000",
                          "--mem-size", "0x1000000", NULL};
    assert_int_equal(parse(&a, &argc, argv, args, err), 0);
    assert_false(a.is_uio);
    assert_int_equal(a.reg_base, 0x43c00000u);
    assert_int_equal(argc, 1);
}

/* Each bad command line is refused with one line that names `what`. */
static void refused(const char *const *args, const char *what) {
    char *argv[16], err[512] = "";
    int argc;
    bq_uio_args a;
    assert_int_equal(parse(&a, &argc, argv, args, err), -1);
    one_line(err);
    if (!strstr(err, what)) fail_msg("error '%s' does not name '%s'", err, what);
}

static void test_refused(void **state) {
    (void)state;
    const char *no_dev[] = {"--mem-base", "0x38000000", "--mem-size", "4096", NULL};
    refused(no_dev, "--dev is required");
    const char *bad_dev[] = {"--dev", "/dev/uiox", "--mem-base", "0", "--mem-size", "4096", NULL};
    refused(bad_dev, "/dev/uiox");
    const char *tty[] = {"--dev", "/dev/tty", "--mem-base", "0", "--mem-size", "4096", NULL};
    refused(tty, "/dev/tty");
    const char *uio_reg[] = {"--dev", "/dev/uio0", "--reg-base", "0x43c00000", "--mem-base", "0",
                             "--mem-size", "4096", NULL};
    refused(uio_reg, "--reg-base");
    const char *mem_noreg[] = {"--dev", "/dev/mem", "--mem-base", "0", "--mem-size", "4096", NULL};
    refused(mem_noreg, "--reg-base");
    const char *reg_align[] = {"--dev", "/dev/mem", "--reg-base", "0x43c00010", "--mem-base", "0",
                               "--mem-size", "4096", NULL};
    refused(reg_align, "0x43c00010");
    const char *no_mem[] = {"--dev", "/dev/uio0", NULL};
    refused(no_mem, "--mem-base and --mem-size");
    const char *mem_align[] = {"--dev", "/dev/uio0", "--mem-base", "0x38000001", "--mem-size", "4096", NULL};
    refused(mem_align, "--mem-base 0x38000001");
    const char *size0[] = {"--dev", "/dev/uio0", "--mem-base", "0", "--mem-size", "0", NULL};
    refused(size0, "--mem-size 0");
    const char *size_big[] = {"--dev", "/dev/uio0", "--mem-base", "0", "--mem-size", "0x200000000", NULL};
    refused(size_big, "4 GiB");
    const char *size_page[] = {"--dev", "/dev/uio0", "--mem-base", "0", "--mem-size", "1000", NULL};
    refused(size_page, "--mem-size 1000");
    const char *nan[] = {"--dev", "/dev/uio0", "--mem-base", "0x38zz", "--mem-size", "4096", NULL};
    refused(nan, "--mem-base '0x38zz'");
    const char *neg[] = {"--dev", "/dev/uio0", "--mem-base", "0", "--mem-size", "-4096", NULL};
    refused(neg, "--mem-size '-4096'");
    const char *last[] = {"--dev", "/dev/uio0", "--mem-base", NULL};
    refused(last, "--mem-base needs a value");
}

static void test_open_missing(void **state) {
    (void)state;
    char *argv[16], err[512] = "";
    int argc;
    bq_uio_args a;
    const char *args[] = {"--dev", "/dev/uio987", "--mem-base", "0x38000000", "--mem-size", "4096", NULL};
    assert_int_equal(parse(&a, &argc, argv, args, err), 0);
    bq_uio_map m;
    assert_int_equal(bq_uio_map_open(&m, &a, err, sizeof err), -1);
    one_line(err);
    assert_non_null(strstr(err, "/dev/uio987: No such file or directory"));
    assert_non_null(strstr(err, "UIO driver"));
    assert_null(m.regs);
    assert_int_equal(m.reg_fd, -1);
    assert_int_equal(m.mem_fd, -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uio_ok),
        cmocka_unit_test(test_devmem_ok),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_open_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
