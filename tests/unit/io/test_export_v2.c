/* test_export_v2 — the whole-network package (format version 3) of the tiny test model on a
 * v2 config: export -> check (every layer of test 0 recomputed from the unpacked K-order bits)
 * and the expected tensors equal the integer reference; every part corrupted one at a time is
 * named by the check, also when the CRC-32s are made to match (then the recompute or the field
 * checks must find it); a v1 config still writes version 2; an unknown version is one line. */
#include "testutil.h"

#include <string.h>
#include <zlib.h>

#include "core/fileio.h"
#include "io/export.h"
#include "quant/intref.h"
#include "export_fixture.h"

/* the fixture's tiny model (stem conv 3x3 -> block with stride 2, 1x1 down and residual ->
 * depthwise 3x3 + relu6 -> gap -> linear 3) on a 4x4x32 array with the v2 units */
static const char *const kV2Yaml =
    "name: t2\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 32\n  acc_bits: 32\n"
    "buffers:\n  weight_depth: 512\n  act_depth: 512\n  regions: 2\n  requant_depth: 256\n"
    "  window_bytes: 4096\n  block_channels: 64\n"
    "memory:\n  width_bits: 32\n  read_bytes_per_cycle: 4\n  write_bytes_per_cycle: 4\n"
    "  read_latency: 12\n  write_latency: 12\n";

static int setup(void **state) {
    export_fixture_setup(state, "exp", "test_export_v2", 1);
    export_fixture *f = *state;
    char err[256];
    assert_int_equal(bq_hwcfg_parse(&f->hw, kV2Yaml, strlen(kV2Yaml), "t2.yaml", err, sizeof err), 0);
    return 0;
}
static int teardown(void **state) { return export_fixture_teardown(state); }

static unsigned char *slurp(const export_fixture *f, const char *name, size_t *len) {
    char path[256], err[256];
    unsigned char *d;
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    assert_int_equal(bq_read_file(path, &d, len, err, sizeof err), 0);
    d = realloc(d, *len + 1);
    d[*len] = 0;
    return d;
}

static void spit(const export_fixture *f, const char *name, const unsigned char *d, size_t len) {
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    assert_int_equal(bq_write_file_atomic(path, d, len, err, sizeof err), 0);
}

/* The number after `"key": ` following the first `anchor` in text. */
static long long num_after(const char *text, const char *anchor, const char *key) {
    const char *p = strstr(text, anchor);
    assert_non_null(p);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    p = strstr(p, pat);
    assert_non_null(p);
    return strtoll(p + strlen(pat), NULL, 10);
}

static void test_v3_export_check(void **state) {
    export_fixture *f = *state;
    char err[1024];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 3, f->dir, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, "dw", NULL, err, sizeof err), 0);
    assert_int_equal(bq_export_check(f->dir, "nope", NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "no layer named 'nope'"));
    size_t ml, tl;
    unsigned char *m = slurp(f, "manifest.json", &ml), *t = slurp(f, "tests.bin", &tl);
    assert_non_null(strstr((char *)m, "\"version\": 3,\n  \"isa\": 2,"));
    assert_non_null(strstr((char *)m, "\"name\": \"gap\", \"op\": \"gap\""));
    /* the expected tensors are the integer reference's codes, HWC with cs bytes a pixel */
    bq_intnet net;
    assert_int_equal(bq_intnet_init(&net, &f->q, 3, err, sizeof err), 0);
    float x[3 * 81];
    int idx[3] = {0, 1, 2};
    bq_dataset_batch(&f->d, idx, 3, x, NULL, f->q.model.in_mean, f->q.model.in_std, NULL);
    bq_intnet_forward(&net, x, 3);
    const bq_model *md = &f->q.model;
    int checked = 0;
    for (int n = 1; n < md->n_nodes; n++) {   /* every quantized node a tensor of the package holds */
        char anchor[96];
        snprintf(anchor, sizeof anchor, "{\"name\": \"%s\", \"addr\"", md->nodes[n].name);
        if (!net.codes[n] || !strstr((char *)m, anchor)) continue;
        const long long cs = num_after((char *)m, anchor, "cs"), c = md->nodes[n].c;
        const long long hw = (long long)md->nodes[n].h * md->nodes[n].w;
        /* tests[0].layers[i].out of the layer whose out tensor this is */
        char lay[96];
        snprintf(lay, sizeof lay, "\"out\": \"%s\",", md->nodes[n].name);
        const char *lp = strstr((char *)m, lay);
        assert_non_null(lp);
        while (lp > (char *)m && strncmp(lp, "{\"index\": ", 10)) lp--;
        const long long index = strtoll(lp + 10, NULL, 10);
        char tanchor[64];
        snprintf(tanchor, sizeof tanchor, "{\"layer\": %lld, \"out\": ", index);
        const long long off = num_after(strstr((char *)m, "\"tests\": ["), tanchor, "offset");
        for (long long px = 0; px < hw; px++)
            for (long long ch = 0; ch < c; ch++)
                assert_int_equal(t[off + px * cs + ch], net.codes[n][ch * hw + px]);
        checked++;
    }
    assert_true(checked >= 4);
    bq_intnet_free(&net);
    free(m);
    free(t);
}

/* a v1 config keeps writing version 2 */
static void test_v1_config_version2(void **state) {
    export_fixture *f = *state;
    char err[1024];
    const char *y = "name: t\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 32\n  acc_bits: 32\n"
                    "buffers:\n  weight_depth: 512\n  act_depth: 512\n  regions: 2\n  requant_depth: 256\n"
                    "memory:\n  width_bits: 64\n  read_bytes_per_cycle: 8\n  write_bytes_per_cycle: 8\n"
                    "  read_latency: 12\n  write_latency: 12\n";
    bq_hwcfg v1;
    assert_int_equal(bq_hwcfg_parse(&v1, y, strlen(y), "t.yaml", err, sizeof err), 0);
    assert_int_equal(bq_export(&f->q, &v1, &f->d, 1, f->dir, err, sizeof err), 0);
    size_t ml;
    unsigned char *m = slurp(f, "manifest.json", &ml);
    assert_non_null(strstr((char *)m, "\"version\": 2,"));
    assert_null(strstr((char *)m, "\"isa\""));
    free(m);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), 0);
}

/* ---- corruptions ---- */

/* After bytes [at, at+n) of bin file `name` changed (old: its former bytes): every manifest range
 * whose CRC-32 was the old bytes' gets the new one, then the file's and the manifest's CRC-32. */
static void fix_crcs(export_fixture *f, const char *name, const unsigned char *old, const unsigned char *now,
                     size_t len) {
    size_t ml;
    unsigned char *m = slurp(f, "manifest.json", &ml);
    char *p = (char *)m;
    while ((p = strstr(p, "{\"offset\": "))) {
        unsigned long long off, size;
        unsigned crc;
        if (sscanf(p, "{\"offset\": %llu, \"size\": %llu, \"crc32\": \"%8x\"}", &off, &size, &crc) == 3 &&
            off + size <= len && crc32(0, old + off, (uInt)size) == crc) {
            char *c = strstr(p, "\"crc32\": \"") + 10;
            char hex[9];
            snprintf(hex, sizeof hex, "%08x", (unsigned)crc32(0, now + off, (uInt)size));
            memcpy(c, hex, 8);
        }
        p++;
    }
    char anchor[64];
    snprintf(anchor, sizeof anchor, "{\"name\": \"%s\", \"size\": %zu, \"crc32\": \"", name, len);
    char *c = strstr((char *)m, anchor);
    assert_non_null(c);
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc32(0, now, (uInt)len));
    memcpy(c + strlen(anchor), hex, 8);
    char *mc = strstr((char *)m, "  \"manifest_crc32\": \"");
    assert_non_null(mc);
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc32(0, m, (uInt)(mc - (char *)m)));
    memcpy(mc + 21, hex, 8);
    spit(f, "manifest.json", m, ml);
    free(m);
}

/* Change byte `at` of bin file `name` (xor mask); fix the CRCs when `recrc`; the check must fail
 * with a message containing want1 (and want2). */
static void corrupt_bin(export_fixture *f, const char *name, size_t at, int mask, int recrc,
                        const char *want1, const char *want2) {
    char err[1024];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    size_t len;
    unsigned char *d = slurp(f, name, &len), *old = malloc(len);
    assert_true(at < len);
    memcpy(old, d, len);
    d[at] ^= (unsigned char)mask;
    spit(f, name, d, len);
    if (recrc) fix_crcs(f, name, old, d, len);
    free(d);
    free(old);
    int rc = bq_export_check(f->dir, NULL, NULL, err, sizeof err);
    if (rc != -1) fprintf(stderr, "%s byte %zu ^ 0x%02x (crc fixed %d): the check passed, expected '%s'\n", name, at,
                          mask, recrc, want1);
    assert_int_equal(rc, -1);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2))) fprintf(stderr, "unexpected: %s\n", err);
    assert_non_null(strstr(err, want1));
    if (want2) assert_non_null(strstr(err, want2));
    assert_null(strchr(err, '\n'));
}

/* In the manifest, the character right after the first `find` after `anchor` becomes `to` (0: its
 * digit + 1 modulo `mod`); the manifest's CRC-32 is fixed when recrc. */
static void corrupt_field(export_fixture *f, const char *anchor, const char *find, char to, int mod, int recrc,
                          const char *want1, const char *want2) {
    char err[1024];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    size_t ml;
    unsigned char *m = slurp(f, "manifest.json", &ml);
    char *a = strstr((char *)m, anchor), *p = a ? strstr(a, find) : NULL;
    assert_non_null(p);
    p += strlen(find);
    *p = to ? to : (char)('0' + (*p - '0' + 1) % mod);
    if (recrc) {
        char *mc = strstr((char *)m, "  \"manifest_crc32\": \""), hex[9];
        snprintf(hex, sizeof hex, "%08x", (unsigned)crc32(0, m, (uInt)(mc - (char *)m)));
        memcpy(mc + 21, hex, 8);
    }
    spit(f, "manifest.json", m, ml);
    free(m);
    assert_int_equal(bq_export_check(f->dir, NULL, NULL, err, sizeof err), -1);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2))) fprintf(stderr, "unexpected: %s\n", err);
    assert_non_null(strstr(err, want1));
    if (want2) assert_non_null(strstr(err, want2));
}

/* Offset of the first range after `anchor` in the manifest of a fresh export. */
static size_t range_off(export_fixture *f, const char *anchor) {
    char err[1024];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    size_t ml;
    unsigned char *m = slurp(f, "manifest.json", &ml);
    size_t off = (size_t)num_after((char *)m, anchor, "offset");
    free(m);
    return off;
}

static void test_v3_every_part_named(void **state) {
    export_fixture *f = *state;
    /* plain corruptions: the range's CRC-32 names the part */
    corrupt_bin(f, "weights.bin", range_off(f, "\"name\": \"dw\"") + 1, 0x01, 0, "weights.bin: CRC-32 of 'layers[", "weights.");
    corrupt_bin(f, "requant.bin", range_off(f, "\"name\": \"stem\"") + 4, 0x01, 0, "requant.bin: CRC-32 of 'layers[0].requant.", NULL);
    corrupt_bin(f, "programs.bin", range_off(f, "\"program\": {\"fetch\"") + 20, 0x01, 0, "programs.bin: CRC-32 of 'program.fetch.", NULL);
    corrupt_bin(f, "tests.bin", range_off(f, "{\"layer\": 1, \"out\"") + 1, 0x01, 0, "tests.bin: CRC-32 of 'tests[0].layers[1].out.", NULL);
    /* CRC-32s made to match: the recompute or the decoder must find it */
    corrupt_bin(f, "tests.bin", range_off(f, "{\"layer\": 1, \"out\"") + 0, 0x01, 1, "tests.bin: layer '", "recomputed output");
    corrupt_bin(f, "requant.bin", range_off(f, "\"name\": \"stem\"") + 2, 0x01, 1, "tests.bin: layer 'stem'", "recomputed output");
    corrupt_bin(f, "weights.bin", range_off(f, "\"name\": \"stem\"") + 0, 0x01, 1, "layer 'stem'", NULL);
    corrupt_bin(f, "programs.bin", range_off(f, "\"program\": {\"fetch\"") + 3, 0xf0, 1, "programs.bin: 'program.fetch' instruction 0", NULL);
    /* a padding bit of the K order (stem: cin 1, slot byte 1 is not a real channel) */
    corrupt_bin(f, "weights.bin", range_off(f, "\"name\": \"stem\"") + 0, 0x02, 1, "weights.bin: layer 'stem': padding bit", NULL);
    corrupt_bin(f, "programs.bin", range_off(f, "\"execute\": ") + 0, 0x0e, 1, "programs.bin: 'program.execute' instruction 0: it does not decode", NULL);
    /* manifest fields */
    corrupt_field(f, "\"name\": \"dw\"", "\"stride\": ", '2', 0, 0, "field 'layers[", "the geometry");
    corrupt_field(f, "\"tensors\": [", "\"cs\": ", 0, 10, 0, "field 'memory.tensors[0].addr/bytes/cs'", NULL);
    corrupt_field(f, "\"format\"", "\"version\": ", '5', 0, 0, "field 'version' is 5", "re-export");
    corrupt_field(f, "\"program\": {", "\"cycles\": ", 0, 10, 1, "field 'cycles' is ", "sum to");
    corrupt_field(f, "\"tests\": [", "\"pred\": ", 0, 3, 1, "field 'tests[0].pred'", NULL);
    corrupt_field(f, "\"arch\"", "\"metho", 'x', 0, 0, "manifest_crc32", "edited after export");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v3_export_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_config_version2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v3_every_part_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
