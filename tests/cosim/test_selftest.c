/* test_selftest — the package self-test driver (sim/bq_selftest.c, sim/bq_selftest_pkg.c,
 * sim/bq_json.c) under ASan+UBSan against a fake accelerator: the six calls of bq_acc.h over a
 * byte array, whose run() "computes" a layer by writing the package's expected `out` for the
 * image whose `act` it finds in memory. So the driver's plumbing (identify, load, operands,
 * programs, read back, element walk, argmax, report) is tested without a simulator; the fake can
 * break a real element, scribble over the padding (which must not count), report other CYCLES or
 * another config hash. The package is the tiny test model's (tests/unit/export_fixture.h:
 * 4x4x32 array, so both channel and pixel padding exist). */
#include "testutil.h"

#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bq_selftest.h"
#include "bq_selftest_pkg.h"
#include "core/fileio.h"
#include "hw_params.h"
#include "io/export.h"
#include "export_fixture.h"

typedef struct {
    bq_st_pkg p;
    uint8_t *mem;
    size_t mem_size;
    uint32_t first_fetch[4];   /* the first fetch instruction pushed since the last run */
    int n_fetch, last_layer;
    uint64_t hash;
    int64_t cycle_delta;       /* CYCLES = the layer's cycles + this */
    int flip_layer;            /* >= 0: flip bit 0 of element (0, 0) of this layer's output */
    int scribble;              /* 1: every padding element of every output gets garbage */
} fake;

static void set_elem(uint8_t *grp, const bq_st_pkg *p, const bq_st_layer *L, int c, int px, uint32_t v) {
    /* the layout of docs/hw_isa.md §2.3, written here independently of the driver */
    int mt = c / p->dm, mi = c % p->dm, nt = px / p->dn, ni = px % p->dn, MT = L->m_pad / p->dm;
    size_t tile = (size_t)nt * MT + mt, e = (size_t)ni * p->dm + mi;
    if (L->obits == 32) { memcpy(grp + tile * 4 * p->dm * p->dn + 4 * e, &v, 4); return; }
    for (int b = 0; b < L->obits; b++) {
        uint8_t *byte = grp + (tile * L->obits + b) * p->tpb + e / 8;
        *byte = (uint8_t)((*byte & ~(1u << (e % 8))) | (((v >> b) & 1u) << (e % 8)));
    }
}

static uint32_t f_reg(void *ctx, uint32_t a) {
    fake *F = ctx;
    switch (a) {
    case BQ_HW_REG_ID: return BQ_HW_ID_VALUE;
    case BQ_HW_REG_VERSION: return BQ_HW_ISA_VERSION;
    case BQ_HW_REG_DM: return (uint32_t)F->p.dm;
    case BQ_HW_REG_DN: return (uint32_t)F->p.dn;
    case BQ_HW_REG_DK: return (uint32_t)F->p.dk;
    case BQ_HW_REG_MEM_WIDTH_BITS: return (uint32_t)F->p.mem_width_bits;
    case BQ_HW_REG_CONFIG_HASH_LO: return (uint32_t)F->hash;
    case BQ_HW_REG_CONFIG_HASH_HI: return (uint32_t)(F->hash >> 32);
    case BQ_HW_REG_CYCLES:
        if (F->p.version == 3) return (uint32_t)(F->p.cycles + F->cycle_delta);   /* the whole program */
        return F->last_layer < 0 ? 0 : (uint32_t)(F->p.layers[F->last_layer].cycles + F->cycle_delta);
    default: return 0;
    }
}

static int f_write(void *ctx, uint64_t a, const void *s, size_t n) {
    fake *F = ctx;
    if (a + n > F->mem_size) return -1;
    memcpy(F->mem + a, s, n);
    return 0;
}

static int f_read(void *ctx, uint64_t a, void *d, size_t n) {
    fake *F = ctx;
    if (a + n > F->mem_size) return -1;
    memcpy(d, F->mem + a, n);
    return 0;
}

static int f_push(void *ctx, int stage, const uint32_t w[4]) {
    fake *F = ctx;
    if (stage == 0 && F->n_fetch++ == 0) memcpy(F->first_fetch, w, 16);
    return 0;
}

/* Version 3: the image by its input tensor; then every layer's expected tensor (flip: channel 0
 * of pixel 0, real; scribble: every padding channel byte and RAW32 padding word). */
static int f_run3(fake *F) {
    const bq_st_pkg *p = &F->p;
    F->n_fetch = 0;
    for (int t = 0; t < p->n_tests; t++) {
        if (memcmp(F->mem + p->tensors[0].addr, p->tests_bin + p->tests[t].input.off, p->tests[t].input.size)) continue;
        for (int i = 0; i < p->n_layers; i++) {
            const bq_st_layer *L = &p->layers[i];
            const bq_st_tensor *T = &p->tensors[L->out_tensor];
            uint8_t *o = F->mem + T->addr;
            memcpy(o, p->tests_bin + p->tests[t].layers[i].out.off, (size_t)T->bytes);
            if (F->flip_layer == i) o[0] ^= 1;
            for (int px = 0; F->scribble && px < (T->raw32 ? L->n_pad : T->h * T->w); px++)
                for (int c = 0; c < (T->raw32 ? L->m_pad : T->cs); c++) {
                    if (!T->raw32 && c >= T->c) o[(size_t)px * T->cs + c] = (uint8_t)(0x5a + px + c);
                    if (T->raw32 && (c >= L->m || px >= L->n)) set_elem(o, p, L, c, px, 0x5a5a5a5au >> (c + px) % 8);
                }
        }
        return 0;
    }
    return -1;
}

/* the layer by its first fetch instruction, the image by its operands; then the expected output */
static int f_run(void *ctx, int64_t max_cycles) {
    fake *F = ctx;
    const bq_st_pkg *p = &F->p;
    (void)max_cycles;
    if (p->version == 3) return f_run3(F);
    F->last_layer = -1;
    for (int i = 0; i < p->n_layers && F->last_layer < 0; i++)
        if (!memcmp(p->programs + p->layers[i].prog[0].off, F->first_fetch, 16)) F->last_layer = i;
    F->n_fetch = 0;
    if (F->last_layer < 0) return -1;
    const bq_st_layer *L = &p->layers[F->last_layer];
    for (int t = 0; t < p->n_tests; t++) {
        const bq_st_tlayer *V = &p->tests[t].layers[L->index];
        if (memcmp(F->mem + L->addr[BQ_ST_A], p->tests_bin + V->act.off, V->act.size)) continue;
        uint8_t *o = F->mem + L->addr[BQ_ST_OUT];
        memcpy(o, p->tests_bin + V->out.off, V->out.size);
        if (F->flip_layer == L->index) o[0] ^= 1;   /* tile (0, 0), plane 0, element 0: real */
        for (int g = 0; F->scribble && g < L->groups; g++)
            for (int c = 0; c < L->m_pad; c++)
                for (int px = 0; px < L->n_pad; px++)
                    if (c >= L->m || px >= L->n) set_elem(o + g * V->out_gs, p, L, c, px, 0x5a5a5a5au >> (c + px) % 8);
        return 0;
    }
    return -1;
}

static const bq_acc_ops fake_ops = {f_reg, f_write, f_read, f_push, f_run, NULL};

/* run the driver on the fixture's package through the fake; returns the exit status */
static int run_driver(fake *F, const char *dir, const char *out) {
    bq_acc acc = {&fake_ops, F, "fake", 1, 0};
    char *argv[] = {"selftest", "--package", (char *)dir, "--out", (char *)out, "-v", NULL};
    return bq_selftest_main(out ? 6 : 3, argv, &acc);
}

static int setup(void **state) { return export_fixture_setup(state, "pkg", "test_selftest", 1); }
static int teardown(void **state) { return export_fixture_teardown(state); }

static void fake_init(fake *F, export_fixture *f) {
    char err[512];
    memset(F, 0, sizeof *F);
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 2, f->dir, err, sizeof err), 0);
    assert_int_equal(bq_st_pkg_load(&F->p, f->dir, err, sizeof err), 0);
    F->mem_size = 1 << 22;
    F->mem = calloc(1, F->mem_size);
    assert_non_null(F->mem);
    F->hash = f->hw.hash;
    F->flip_layer = -1;
    F->last_layer = -1;
}

static void fake_free(fake *F) {
    bq_st_pkg_free(&F->p);
    free(F->mem);
}

/* the report's value of "key" (a number), or -1 */
static long report_num(const char *dir, const char *key) {
    char path[256], pat[64];
    unsigned char *b;
    size_t n;
    snprintf(path, sizeof path, "%s/selftest.json", dir);
    if (bq_read_file(path, &b, &n, NULL, 0)) return -1;
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *h = strstr((char *)b, pat);
    long v = h ? strtol(h + strlen(pat), NULL, 10) : -1;
    free(b);
    return v;
}

static void test_pass_and_padding(void **state) {
    export_fixture *f = *state;
    fake F;
    fake_init(&F, f);
    assert_true(F.p.n_tests == 2 && F.p.n_steps == F.p.n_layers && F.p.out_layer == F.p.n_layers - 1);
    assert_int_equal(run_driver(&F, f->dir, f->dir), 0);
    assert_int_equal(report_num(f->dir, "layer_runs"), 2 * F.p.n_steps);
    assert_int_equal(report_num(f->dir, "mismatches"), 0);
    /* garbage in every padding element (channels >= M, pixels >= N) is not a mismatch */
    F.scribble = 1;
    assert_int_equal(run_driver(&F, f->dir, NULL), 0);
    fake_free(&F);
}

static void test_mismatches(void **state) {
    export_fixture *f = *state;
    fake F;
    fake_init(&F, f);
    F.flip_layer = 1;   /* one real element of layer 1 */
    assert_int_equal(run_driver(&F, f->dir, f->dir), 1);
    assert_int_equal(report_num(f->dir, "mismatches"), 2);   /* once per image */
    assert_int_equal(report_num(f->dir, "bad_layer_runs"), 2);
    F.flip_layer = F.p.out_layer;   /* the classifier: a value and maybe the class */
    assert_int_equal(run_driver(&F, f->dir, f->dir), 1);
    assert_true(report_num(f->dir, "logit_mismatches") == 2);
    F.flip_layer = -1;
    F.cycle_delta = 1;   /* CYCLES one more than the package's model: checked on the ideal memory */
    assert_int_equal(run_driver(&F, f->dir, f->dir), 1);
    assert_int_equal(report_num(f->dir, "cycle_differences"), 2 * F.p.n_steps);
    bq_acc board = {&fake_ops, &F, "fake", 0, 0};   /* not the ideal memory: information only */
    char *argv[] = {"selftest", "--package", f->dir, NULL};
    assert_int_equal(bq_selftest_main(3, argv, &board), 0);
    fake_free(&F);
}

static void test_setup_errors(void **state) {
    export_fixture *f = *state;
    fake F;
    fake_init(&F, f);
    F.hash ^= 1;   /* another config */
    assert_int_equal(run_driver(&F, f->dir, NULL), 2);
    F.hash ^= 1;
    assert_int_equal(run_driver(&F, "/nonexistent/pkg", NULL), 2);
    char *bad_opt[] = {"selftest", "--package", f->dir, "--images", "0", NULL};
    bq_acc acc = {&fake_ops, &F, "fake", 1, 0};
    assert_int_equal(bq_selftest_main(5, bad_opt, &acc), 2);
    char *bad_layer[] = {"selftest", "--package", f->dir, "--layer", "nosuch", NULL};
    assert_int_equal(bq_selftest_main(5, bad_layer, &acc), 2);
    /* a corrupted byte of requant.bin: the reader names the file and the part */
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/requant.bin", f->dir);
    unsigned char *d;
    size_t n;
    assert_int_equal(bq_read_file(path, &d, &n, NULL, 0), 0);
    d[F.p.layers[1].rq.off] ^= 0x40;
    assert_int_equal(bq_write_file_atomic(path, d, n, NULL, 0), 0);
    free(d);
    bq_st_pkg q;
    assert_int_equal(bq_st_pkg_load(&q, f->dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "requant.bin: CRC-32 of 'layers[1].requant' is"));
    assert_int_equal(run_driver(&F, f->dir, NULL), 2);
    fake_free(&F);
}

/* A range past the end of its file is refused before its CRC-32 is computed (a far-out offset reads
 * other heap memory, which ASan may not see: the selftest fuzz harness missed it in 60 s). The manifest
 * is edited and its manifest_crc32 recomputed, as a crafted package would be. */
static void test_range_outside_file(void **state) {
    export_fixture *f = *state;
    char err[512], path[256], hex[9];
    fake F;
    fake_init(&F, f);
    fake_free(&F);
    snprintf(path, sizeof path, "%s/manifest.json", f->dir);
    unsigned char *b;
    size_t n;
    assert_int_equal(bq_read_file(path, &b, &n, NULL, 0), 0);
    char *t = realloc(b, n + 16);
    assert_non_null(t);
    char *w = strstr(t, "\"weights\": {\"offset\": 0,");
    assert_non_null(w);
    w += strlen("\"weights\": {\"offset\": ");
    memmove(w + 6, w + 1, n + 1 - (size_t)(w + 1 - t));   /* "0" -> "999999" */
    memcpy(w, "999999", 6);
    n += 5;
    char *h = strstr(t, "\n  \"manifest_crc32\": \"");
    assert_non_null(h);
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc32(0L, (const Bytef *)t, (uInt)(h + 1 - t)));
    memcpy(h + strlen("\n  \"manifest_crc32\": \""), hex, 8);
    assert_int_equal(bq_write_file_atomic(path, t, n, NULL, 0), 0);
    free(t);
    bq_st_pkg q;
    assert_int_equal(bq_st_pkg_load(&q, f->dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "weights.bin: range 'layers[0].weights' [999999, +"));
    assert_null(strchr(err, '\n'));
}

/* A whole-network package (version 3, the fixture's model on a v2 config): one start per image,
 * every tensor's real bytes compared (padding channel bytes and RAW32 padding words never count),
 * a flipped real byte, a classifier value and a CYCLES difference are each found. */
static void test_whole_network(void **state) {
    export_fixture *f = *state;
    static const char *const y =
        "name: t2\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 32\n  acc_bits: 32\n"
        "buffers:\n  weight_depth: 512\n  act_depth: 512\n  regions: 2\n  requant_depth: 256\n"
        "  window_bytes: 4096\n  block_channels: 64\n"
        "memory:\n  width_bits: 32\n  read_bytes_per_cycle: 4\n  write_bytes_per_cycle: 4\n"
        "  read_latency: 12\n  write_latency: 12\n";
    char err[256];
    assert_int_equal(bq_hwcfg_parse(&f->hw, y, strlen(y), "t2.yaml", err, sizeof err), 0);
    fake F;
    fake_init(&F, f);
    assert_int_equal(F.p.version, 3);
    int padded = 0;   /* a tensor with padding channel bytes: what the scribble must not count */
    for (int i = 1; i < F.p.n_tensors; i++) padded |= !F.p.tensors[i].raw32 && F.p.tensors[i].cs > F.p.tensors[i].c;
    assert_true(padded);
    assert_int_equal(run_driver(&F, f->dir, f->dir), 0);
    assert_int_equal(report_num(f->dir, "layer_runs"), 2);   /* starts */
    assert_int_equal(report_num(f->dir, "package_version"), 3);
    assert_int_equal(report_num(f->dir, "mismatches"), 0);
    F.scribble = 1;
    assert_int_equal(run_driver(&F, f->dir, NULL), 0);
    F.scribble = 0;
    F.flip_layer = 1;
    assert_int_equal(run_driver(&F, f->dir, f->dir), 1);
    assert_int_equal(report_num(f->dir, "mismatches"), 2);   /* once per image */
    F.flip_layer = F.p.out_layer;
    assert_int_equal(run_driver(&F, f->dir, f->dir), 1);
    assert_int_equal(report_num(f->dir, "logit_mismatches"), 2);
    F.flip_layer = -1;
    F.cycle_delta = 1;
    assert_int_equal(run_driver(&F, f->dir, f->dir), 1);
    assert_int_equal(report_num(f->dir, "cycle_differences"), 2);
    fake_free(&F);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pass_and_padding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mismatches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_outside_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_network, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
