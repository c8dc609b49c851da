/* test_export — export -> check -> recompute equals the integer reference bit for bit; atomic
 * replacement; corrupted packages (flipped byte, truncated file, wrong version, wrong shape) are
 * rejected with an error naming the file and the field. */
#include "testutil.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/exec.h"
#include "io/export.h"
#include "quant/fakequant.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "quant/intref.h"
#include "io/pack.h"
#include "quant/qmodel.h"
#include "export_fixture.h"

/* the tiny model (input 1x9x9 -> stem conv3x3(5)+relu -> block (stride 2 + down) -> depthwise
 * 3x3 + relu6 -> gap -> linear(3): odd sizes everywhere, a grouped layer, a residual) with
 * random biases */
static int setup(void **state) { return export_fixture_setup(state, "exp", "test_export", 1); }
static int teardown(void **state) { return export_fixture_teardown(state); }

static void test_export_check_recompute(void **state) {
    export_fixture *f = *state;
    char err[1024];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 3, f->dir, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, "dw", NULL, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, "nope", NULL, err, sizeof err), -1);
    /* independently: the packed expected outputs of test 1 unpack to the integer reference */
    bq_intnet net;
    assert_int_equal(bq_intnet_init(&net, &f->q, 3, err, sizeof err), 0);
    float x[3 * 81];
    int idx[3] = {0, 1, 2};
    bq_dataset_batch(&f->d, idx, 3, x, NULL, f->q.model.in_mean, f->q.model.in_std, NULL);
    bq_intnet_forward(&net, x, 3);
    char path[256];
    snprintf(path, sizeof path, "%s/weights.bin", f->dir);
    unsigned char *wb;
    size_t wl;
    assert_int_equal(bq_read_file(path, &wb, &wl, err, sizeof err), 0);
    /* layer 0 weights start at offset 0: unpack and compare with the codes */
    const bq_ilayer *L0 = &net.L[0];
    bq_pack_geom g;
    bq_pack_geom_init(&g, L0->M, L0->K, L0->N, 4, 4, 32, 64);
    uint8_t *codes = malloc((size_t)L0->M * L0->K);
    bq_unpack_weights(codes, wb, &g, L0->wbits);
    assert_memory_equal(codes, L0->codes, (size_t)L0->M * L0->K);
    free(codes);
    free(wb);
    /* the hex file has one 8-byte word per line */
    snprintf(path, sizeof path, "%s/requant.hex", f->dir);
    unsigned char *hx;
    size_t hl;
    assert_int_equal(bq_read_file(path, &hx, &hl, err, sizeof err), 0);
    assert_true(hl > 17 && hx[16] == '\n');
    free(hx);
    bq_intnet_free(&net);
    /* re-export over the existing package: replaced, no temporary left */
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), 0);
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", f->dir, (int)getpid());
    struct stat st;
    assert_int_equal(stat(tmp, &st), -1);
    /* a directory that is not a package is never overwritten */
    char other[160];
    snprintf(other, sizeof other, "%s_other", f->dir);
    mkdir(other, 0755);
    snprintf(path, sizeof path, "%s/keep.txt", other);
    assert_int_equal(bq_write_file_atomic(path, "x", 1, err, sizeof err), 0);
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, other, err, sizeof err), -2);
    assert_non_null(strstr(err, "not an export package"));
    /* a folder that cannot be created (its parent is a file, even for root): -2, the message names
     * the user's folder, never the temporary */
    char bad[200];
    snprintf(bad, sizeof bad, "%s/keep.txt/pkg", other);
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, bad, err, sizeof err), -2);
    assert_non_null(strstr(err, bad));
    assert_null(strstr(err, ".tmp."));
    assert_int_equal(stat(path, &st), 0);
    unlink(path);
    rmdir(other);
}

/* Rewrite file `name` of the package with a modification, run check, expect the error parts. */
static void corrupt(export_fixture *f, const char *name, void (*mod)(unsigned char **d, size_t *len),
                    const char *want1, const char *want2) {
    char err[1024], path[256];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    unsigned char *d;
    size_t len;
    assert_int_equal(bq_read_file(path, &d, &len, err, sizeof err), 0);
    mod(&d, &len);
    assert_int_equal(bq_write_file_atomic(path, d, len, err, sizeof err), 0);
    free(d);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), -1);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2))) fprintf(stderr, "unexpected: %s\n", err);
    assert_non_null(strstr(err, want1));
    if (want2) assert_non_null(strstr(err, want2));
}

static void flip(unsigned char **d, size_t *len) { (*d)[*len / 3] ^= 0x04; }
static void truncate_(unsigned char **d, size_t *len) { *len -= 64; (void)d; }
static void version(unsigned char **d, size_t *len) {
    char *p = strstr((char *)*d, "\"version\": 2");
    assert_non_null(p);
    p[11] = '4';   /* 3 is the whole-network format (test_export_v2.c): 4 is unknown */
    (void)len;
}
static void shape(unsigned char **d, size_t *len) {
    char *p = strstr((char *)*d, "\"M\": 5,");   /* the stem: M = 5 */
    assert_non_null(p);
    p[5] = '7';
    (void)len;
}
static void nul_terminate(unsigned char **d, size_t *len) {
    *d = realloc(*d, *len + 1);
    (*d)[*len] = 0;
}
static void version_m(unsigned char **d, size_t *len) { nul_terminate(d, len); version(d, len); }
static void shape_m(unsigned char **d, size_t *len) { nul_terminate(d, len); shape(d, len); }

static void test_corrupted_packages(void **state) {
    export_fixture *f = *state;
    corrupt(f, "weights.bin", flip, "weights.bin: CRC-32 of 'layers[", NULL);
    corrupt(f, "tests.bin", truncate_, "tests.bin: size is", "the manifest says");
    corrupt(f, "manifest.json", version_m, "manifest.json: field 'version' is 4", NULL);
    corrupt(f, "manifest.json", shape_m, "manifest.json", "layers[0].");
    corrupt(f, "requant.bin", flip, "requant.bin: CRC-32", NULL);
}

/* ---- every part of a package, corrupted one at a time, is named by the check ---- */

/* The number after `"key": ` following the n-th occurrence of anchor in text (n from 0). */
static long num_after(const char *text, const char *anchor, int n, const char *key) {
    const char *p = text;
    for (int i = 0; i <= n; i++) {
        p = strstr(i ? p + 1 : p, anchor);
        assert_non_null(p);
    }
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    p = strstr(p, pat);
    assert_non_null(p);
    return strtol(p + strlen(pat), NULL, 10);
}

typedef struct {
    const char *what;      /* the part */
    const char *file;      /* file to change */
    const char *anchor;    /* binary: range found after this manifest text ... */
    int nth;               /* ... its nth occurrence */
    const char *find;      /* manifest edit: replace the first `find` after anchor with `repl` */
    const char *repl;
    const char *want;      /* the check's message must contain this */
} part_case;

/* Copy the package, apply one corruption, check. */
static void corrupt_part(const export_fixture *f, const char *manifest, const part_case *c) {
    char dir[160], cmd[600], path[300], err[1024];
    snprintf(dir, sizeof dir, "%s_part", f->dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", dir, f->dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/%s", dir, c->file);
    if (!c->repl && c->find && !strcmp(c->find, "DELETE")) {
        assert_int_equal(unlink(path), 0);
    } else {
        unsigned char *d;
        size_t len;
        assert_int_equal(bq_read_file(path, &d, &len, err, sizeof err), 0);
        if (c->repl) {   /* manifest edit */
            char *at = strstr((char *)d, c->anchor);
            assert_non_null(at);
            char *p = strstr(at, c->find);
            assert_non_null(p);
            size_t fl = strlen(c->find), rl = strlen(c->repl);
            unsigned char *n = malloc(len - fl + rl);
            size_t pre = (size_t)((unsigned char *)p - d);
            memcpy(n, d, pre);
            memcpy(n + pre, c->repl, rl);
            memcpy(n + pre + rl, p + fl, len - pre - fl);
            free(d);
            d = n;
            len = len - fl + rl;
        } else {         /* one byte inside a range: the range's offset + 1 */
            long off = num_after(manifest, c->anchor, c->nth, "offset");
            assert_true((size_t)off + 1 < len);
            d[off + 1] ^= 0x10;
        }
        assert_int_equal(bq_write_file_atomic(path, d, len, err, sizeof err), 0);
        free(d);
    }
    int rc = bq_export_check(dir, NULL, NULL, err, sizeof err);
    if (rc != -1 || !strstr(err, c->want))
        fprintf(stderr, "part '%s': rc %d, message: %s\n(want '%s')\n", c->what, rc, err, c->want);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, c->want));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_every_part_named(void **state) {
    export_fixture *f = *state;
    char err[1024], path[256];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/manifest.json", f->dir);
    unsigned char *m;
    size_t ml;
    assert_int_equal(bq_read_file(path, &m, &ml, err, sizeof err), 0);
    const char *man = (const char *)m;
    /* a padding byte of weights.bin: after layer 0's weights, before layer 1's */
    long w0 = num_after(man, "\"weights\": {", 0, "size"), w1 = num_after(man, "\"weights\": {", 1, "offset");
    const part_case cases[] = {
        /* every .bin range kind */
        {"weights range", "weights.bin", "\"weights\": {", 2, NULL, NULL, "weights.bin: CRC-32 of 'layers[2].weights.'"},
        {"requant range", "requant.bin", "\"requant\": {", 1, NULL, NULL, "requant.bin: CRC-32 of 'layers[1].requant.'"},
        {"program word", "programs.bin", "\"execute\": {", 4, NULL, NULL, "programs.bin: CRC-32 of 'layers[4].programs.execute.'"},
        {"fetch program", "programs.bin", "\"fetch\": {", 0, NULL, NULL, "programs.bin: CRC-32 of 'layers[0].programs.fetch.'"},
        {"result program", "programs.bin", "\"result\": {", 5, NULL, NULL, "programs.bin: CRC-32 of 'layers[5].programs.result.'"},
        {"test input", "tests.bin", "\"input\": {\"offset", 0, NULL, NULL, "tests.bin: CRC-32 of 'tests[0].input.'"},
        {"test act", "tests.bin", "\"act\": {", 3, NULL, NULL, "tests.bin: CRC-32 of 'tests[0].layers[3].act.'"},
        {"test res", "tests.bin", "\"res\": {", 0, NULL, NULL, "tests.bin: CRC-32 of 'tests[0].layers[2].res.'"},
        {"test out", "tests.bin", "\"out\": {", 1, NULL, NULL, "tests.bin: CRC-32 of 'tests[0].layers[1].out.'"},
        {"test codes", "tests.bin", "\"codes\": {", 5, NULL, NULL, "tests.bin: CRC-32 of 'tests[0].layers[5].codes.'"},
        /* hashes */
        {"range hash", "manifest.json", "\"requant\": {", 0, "\"crc32\": \"", "\"crc32\": \"f", "field 'layers[0].requant.crc32' is 'f"},
        {"file hash", "manifest.json", "\"name\": \"programs.bin\"", 0, "\"crc32\": \"", "\"crc32\": \"f", "field 'files[programs.bin].crc32'"},
        {"manifest hash", "manifest.json", "\"manifest_crc32\"", 0, "\": \"", "\": \"f", "field 'manifest_crc32'"},
        /* manifest field kinds */
        {"format", "manifest.json", "\"format\"", 0, "brecq-export", "brecq-exporx", "field 'format'"},
        {"geometry", "manifest.json", "\"name\": \"stem\"", 0, "\"M\": 5,", "\"M\": 7,", "field 'layers[0].M/K/N'"},
        {"bits", "manifest.json", "\"name\": \"a_conv1\"", 0, "\"wbits\": ", "\"wbits\": 9", "field 'layers[1].wbits'"},
        {"range offset", "manifest.json", "\"name\": \"dw\"", 0, "\"weights\": {\"offset\": ", "\"weights\": {\"offset\": 1", "field 'layers[4].weights.offset'"},
        {"range size", "manifest.json", "\"name\": \"dw\"", 0, "\"requant\": {\"offset\": ", "\"requant\": {\"offset\": 9", "layers[4].requant."},
        {"memory address", "manifest.json", "\"name\": \"a_conv2\"", 0, "\"a_addr\": ", "\"a_addr\": 1", "field 'layers[2].mem.a_addr'"},
        {"memory size", "manifest.json", "\"name\": \"a_conv2\"", 0, "\"rq_size\": ", "\"rq_size\": 1", "layers[2].mem."},
        {"program size", "manifest.json", "\"name\": \"fc\"", 0, "\"execute\": {\"offset\": ", "\"execute\": {\"offset\": 1", "field 'layers[5].programs.execute.offset'"},
        {"step op", "manifest.json", "\"steps\"", 0, "\"op\": \"layer\"", "\"op\": \"conv\"", "field 'steps[0].op'"},
        {"step order", "manifest.json", "\"steps\"", 0, "\"layer\": 0,", "\"layer\": 1,", "steps[0]."},
        {"host step", "manifest.json", "\"op\": \"gap\"", 0, "\"in\": \"", "\"in\": \"x", "steps[5]."},
        {"output", "manifest.json", "\"output\"", 0, "\"classes\": 3", "\"classes\": 4", "field 'output.layer/classes'"},
        {"output scale", "manifest.json", "\"output\"", 0, "\"s_w\": [", "\"s_w\": [-", "field 'output.s_w'"},
        {"input", "manifest.json", "\"input\"", 0, "\"norm_shift\": ", "\"norm_shift\": 1", "field 'manifest_crc32'"},
        {"zero point", "manifest.json", "\"name\": \"a_conv1\"", 0, "\"z_o\": ", "\"z_o\": 1", "layer 'a_conv1'"},
        {"hex word", "manifest.json", "\"name\": \"weights.bin\"", 0, "\"hex_word_bytes\": ", "\"hex_word_bytes\": 1", "field 'manifest_crc32'"},
        /* a missing file */
        {"missing programs", "programs.bin", "", 0, "DELETE", NULL, "programs.bin"},
        {"missing tests", "tests.bin", "", 0, "DELETE", NULL, "tests.bin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) corrupt_part(f, man, &cases[i]);
    if (w1 > w0 + 1) {   /* alignment padding between two ranges */
        char dir[160], cmd[600], p2[300];
        snprintf(dir, sizeof dir, "%s_pad", f->dir);
        snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", dir, f->dir, dir);
        assert_int_equal(system(cmd), 0);
        snprintf(p2, sizeof p2, "%s/weights.bin", dir);
        unsigned char *d;
        size_t len;
        assert_int_equal(bq_read_file(p2, &d, &len, err, sizeof err), 0);
        d[w0] ^= 1;
        assert_int_equal(bq_write_file_atomic(p2, d, len, err, sizeof err), 0);
        free(d);
        assert_int_equal(bq_export_check(dir, NULL, NULL, err, sizeof err), -1);
        assert_non_null(strstr(err, "weights.bin: CRC-32 is"));
        assert_non_null(strstr(err, "padding"));
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export_check_recompute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_packages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_part_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
