/* test_fileio.c — output-path checks (bq_check_output), stale temporary removal, the YAML caps and
 * the model validator on hand-corrupted built-in models (docs/reliability.md). */
#include "testutil.h"
#include "core/fileio.h"
#include "core/yamldoc.h"
#include "nn/graph.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { char dir[64]; } fx;

static int setup(void **state) {
    static fx f;
    snprintf(f.dir, sizeof f.dir, "/tmp/bq_test_fileio.%d", (int)getpid());
    if (mkdir(f.dir, 0755)) return -1;
    *state = &f;
    return 0;
}
static int teardown(void **state) {
    fx *f = *state;
    return bq_remove_tree(f->dir);
}

static void test_check_output(void **state) {
    fx *f = *state;
    char out[128], in[128], sub[128], err[512];
    snprintf(out, sizeof out, "%s/out.bin", f->dir);
    snprintf(in, sizeof in, "%s/in.bin", f->dir);
    snprintf(sub, sizeof sub, "%s/nodir/out.bin", f->dir);
    assert_int_equal(bq_write_file_atomic(in, "abc", 3, err, sizeof err), 0);
    const char *inputs[2] = {in, NULL};
    /* a new file in an existing folder: fine, and the probe leaves nothing behind */
    assert_int_equal(bq_check_output("--out", out, BQ_OUT_FILE, inputs, 2, err, sizeof err), 0);
    assert_int_equal(access(out, F_OK), -1);
    /* the input itself, also through another spelling of the path (same st_dev/st_ino) */
    char alias[160];
    snprintf(alias, sizeof alias, "%s/./in.bin", f->dir);
    assert_int_equal(bq_check_output("--out", alias, BQ_OUT_FILE, inputs, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "is the input"));
    assert_non_null(strstr(err, "--out"));
    /* a missing folder, a folder where a file is expected, a file where a folder is */
    assert_int_equal(bq_check_output("--out", sub, BQ_OUT_FILE, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not exist"));
    assert_int_equal(bq_check_output("--out", f->dir, BQ_OUT_FILE, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "is a folder"));
    assert_int_equal(bq_check_output("--out", in, BQ_OUT_DIR, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "a folder is expected"));
    assert_int_equal(bq_check_output("--out", "", BQ_OUT_FILE, NULL, 0, err, sizeof err), -1);
    /* write errors name the user's path, not the temporary one */
    assert_int_equal(bq_write_file_atomic(sub, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, sub));
    assert_null(strstr(err, ".tmp."));
}

static void test_stale_tmp(void **state) {
    fx *f = *state;
    char out[128], stale[160], live[160], err[512];
    snprintf(out, sizeof out, "%s/o.bin", f->dir);
    /* pid 999999999 cannot exist (pid_max <= 2^22); our own pid is alive */
    snprintf(stale, sizeof stale, "%s.tmp.999999999", out);
    snprintf(live, sizeof live, "%s.tmp.%d", out, (int)getppid());
    assert_int_equal(bq_mkdirs(stale), 0);
    assert_int_equal(bq_write_file_atomic(live, "x", 1, err, sizeof err), 0);
    assert_int_equal(bq_write_file_atomic(out, "y", 1, err, sizeof err), 0);
    assert_int_equal(access(stale, F_OK), -1);   /* a killed run's leftover: removed */
    assert_int_equal(access(live, F_OK), 0);     /* a running process's: kept */
    unlink(live);
}

/* A killed plot leaves PATH.tmp.PID.gp/.log/.svg and the script's own temporary: removed too;
 * a name whose pid is followed by anything but '.' is not ours and stays. */
static void test_stale_tmp_ext(void **state) {
    fx *f = *state;
    char out[128], p[4][192];
    snprintf(out, sizeof out, "%s/o.svg", f->dir);
    const char *names[4] = {"tmp.999999999.gp", "tmp.999999999.svg", "tmp.999999999.gp.tmp.999999999",
                            "tmp.999999999x"};
    for (int i = 0; i < 4; i++) {
        snprintf(p[i], sizeof p[i], "%s.%s", out, names[i]);
        FILE *fp = fopen(p[i], "w");
        assert_non_null(fp);
        fclose(fp);
    }
    assert_int_equal(bq_remove_stale_tmp(out), 3);
    for (int i = 0; i < 3; i++) assert_int_equal(access(p[i], F_OK), -1);
    assert_int_equal(access(p[3], F_OK), 0);
    unlink(p[3]);
}

static void test_yaml_caps(void **state) {
    (void)state;
    char err[512];
    yaml_document_t doc;
    static char deep[70000];
    memcpy(deep, "a: ", 3);
    memset(deep + 3, '[', sizeof deep - 4);
    assert_int_equal(bq_yaml_load(&doc, deep, sizeof deep - 1, "d.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "d.yaml:1:36: YAML nesting deeper than 32"));
    /* brackets inside quotes and comments do not count */
    const char *ok = "a: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['  # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nb: [1, [2]]\n";
    assert_int_equal(bq_yaml_load(&doc, ok, strlen(ok), "ok.yaml", err, sizeof err), 0);
    yaml_document_delete(&doc);
    size_t big = (1u << 20) + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    assert_int_equal(bq_yaml_load(&doc, text, big, "big.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "big.yaml: 1048577 bytes, above the 1048576-byte cap"));
    free(text);
}

/* One corruption of a valid built-in model must fail validation with the given fragment. */
static void expect_invalid(bq_model *m, const char *fragment) {
    char err[512];
    assert_int_equal(bq_model_validate(m, err, sizeof err), -1);
    if (!strstr(err, fragment)) fail_msg("'%s' lacks '%s'", err, fragment);
}

static void test_validate(void **state) {
    (void)state;
    bq_model m;
    char err[512];
    assert_int_equal(bq_arch_build(&m, "fres20", 1), 0);
    assert_int_equal(bq_model_validate(&m, err, sizeof err), 0);
    bq_node saved = m.nodes[1];
    m.nodes[1].groups = 0;     expect_invalid(&m, "groups 0");            m.nodes[1] = saved;
    m.nodes[1].stride_h = 0;   expect_invalid(&m, "stride 0x1");          m.nodes[1] = saved;
    m.nodes[1].kw = -3;        expect_invalid(&m, "kernel 3x-3");         m.nodes[1] = saved;
    m.nodes[1].block = 99;     expect_invalid(&m, "block index 99");      m.nodes[1] = saved;
    m.nodes[1].p_weight = 5;   expect_invalid(&m, "needs 144 values");    m.nodes[1] = saved;
    m.nodes[5].in[0] = 5;      expect_invalid(&m, "input 0 is 5");        m.nodes[5].in[0] = 4;
    m.num_classes = 1000;      expect_invalid(&m, "declares 1000 classes"); m.num_classes = 10;
    m.in_std = 0.0f;           expect_invalid(&m, "std > 0");             m.in_std = 0.353f;
    m.in_h = 8;                expect_invalid(&m, "expected 1x8x28");     m.in_h = 28;
    float w0 = m.arena[0];
    m.arena[0] = NAN;          expect_invalid(&m, "is NaN");              m.arena[0] = w0;
    assert_int_equal(bq_model_validate(&m, err, sizeof err), 0);
    /* a model without blocks clones without touching NULL (UBSan: memcpy from NULL) */
    bq_model c;
    free(m.blocks); m.blocks = NULL; m.n_blocks = m.cap_blocks = 0;
    for (int i = 0; i < m.n_nodes; i++) m.nodes[i].block = -1;
    assert_int_equal(bq_model_clone(&c, &m), 0);
    assert_int_equal(bq_model_validate(&c, err, sizeof err), 0);
    bq_model_free(&c);
    bq_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_tmp_ext, setup, teardown),
        cmocka_unit_test(test_yaml_caps),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
