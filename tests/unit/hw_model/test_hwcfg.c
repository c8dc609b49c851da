/* test_hwcfg.c — accelerator config loader: every error class with its position, and the hash. */
#include "testutil.h"
#include <string.h>
#include "hwcfg.h"

static const char *kBase =
    "name: t1\n"                         /* line 1 */
    "clock_mhz: 50\n"                    /* 2 */
    "array:\n"                           /* 3 */
    "  dm: 4\n"                          /* 4 */
    "  dn: 4\n"                          /* 5 */
    "  dk: 32\n"                         /* 6 */
    "  acc_bits: 32\n"                   /* 7 */
    "buffers:\n"                         /* 8 */
    "  weight_depth: 512\n"              /* 9 */
    "  act_depth: 512\n"                 /* 10 */
    "  regions: 2\n"                     /* 11 */
    "  requant_depth: 256\n"             /* 12 */
    "memory:\n"                          /* 13 */
    "  width_bits: 64\n"                 /* 14 */
    "  read_bytes_per_cycle: 8\n"        /* 15 */
    "  write_bytes_per_cycle: 8\n"       /* 16 */
    "  read_latency: 12\n"               /* 17 */
    "  write_latency: 12\n";             /* 18 */

/* kBase with the first occurrence of `from` replaced by `to`. */
static char *subst(const char *from, const char *to) {
    const char *p = strstr(kBase, from);
    assert_non_null(p);
    size_t n = strlen(kBase) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%.*s%s%s", (int)(p - kBase), kBase, to, p + strlen(from));
    return s;
}

/* Parse text, expect failure and an error that contains every given fragment. */
static void expect_err(const char *text, const char *pos, const char *what) {
    bq_hwcfg c;
    char err[512] = "";
    int rc = bq_hwcfg_parse(&c, text, strlen(text), "x.yaml", err, sizeof err);
    if (rc == 0 || !strstr(err, pos) || !strstr(err, what)) {
        print_error("rc=%d err='%s' (wanted '%s' and '%s')\n", rc, err, pos, what);
        fail();
    }
}
static void expect_err_subst(const char *from, const char *to, const char *pos,
                             const char *what) {
    char *s = subst(from, to);
    expect_err(s, pos, what);
    free(s);
}

static void test_valid(void **st) {
    (void)st;
    bq_hwcfg c;
    char err[256] = "";
    assert_int_equal(bq_hwcfg_parse(&c, kBase, strlen(kBase), "x.yaml", err, sizeof err), 0);
    assert_string_equal(c.name, "t1");
    assert_true(c.clock_mhz == 50.0);
    assert_int_equal(c.dm, 4);
    assert_int_equal(c.dn, 4);
    assert_int_equal(c.dk, 32);
    assert_int_equal(c.acc_bits, 32);
    assert_int_equal(c.res_lanes, 1);   /* optional key, default */
    assert_int_equal(c.weight_depth, 512);
    assert_int_equal(c.act_depth, 512);
    assert_int_equal(c.regions, 2);
    assert_int_equal(c.requant_depth, 256);
    assert_int_equal(c.mem_width_bits, 64);
    assert_int_equal(c.read_bytes_per_cycle, 8);
    assert_int_equal(c.write_bytes_per_cycle, 8);
    assert_int_equal(c.read_latency, 12);
    assert_int_equal(c.write_latency, 12);
    assert_int_equal(bq_hwcfg_validate(&c, err, sizeof err), 0);
    assert_true(c.hash == bq_hwcfg_hash(&c));
}

static void test_shipped_configs(void **st) {
    (void)st;
    const char *files[] = {"configs/hw/tiny.yaml", "configs/hw/edge.yaml"};
    for (int i = 0; i < 2; i++) {
        bq_hwcfg c;
        char err[512] = "";
        if (bq_hwcfg_load(&c, files[i], err, sizeof err) != 0) {
            print_error("%s\n", err);
            fail();
        }
    }
    bq_hwcfg c;
    char err[512] = "";
    assert_int_equal(bq_hwcfg_load(&c, "configs/hw/no_such.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "configs/hw/no_such.yaml: cannot open"));
}

static void test_unknown_key(void **st) {
    (void)st;
    expect_err_subst("  dn: 4\n", "  dn: 4\n  dx: 3\n", "x.yaml:6:3:", "unknown key 'array.dx'");
    expect_err_subst("clock_mhz: 50\n", "clock_mhz: 50\nfreq: 3\n", "x.yaml:3:1:",
                     "unknown key 'freq'");
    /* the message lists the keys that are allowed there */
    expect_err_subst("  dn: 4\n", "  dn: 4\n  dx: 3\n", "x.yaml:6:3:", "dm, dn, dk, acc_bits");
}

static void test_missing_key(void **st) {
    (void)st;
    expect_err_subst("  dk: 32\n", "", "x.yaml:4:3:", "missing required key 'array.dk'");
    expect_err_subst("name: t1\n", "", "x.yaml:1:1:", "missing required key 'name'");
    /* a whole section missing: the error points at the document */
    char text[1024];
    snprintf(text, sizeof text, "%.*s", (int)(strstr(kBase, "memory:") - kBase), kBase);
    expect_err(text, "x.yaml:1:1:", "missing required key 'memory.width_bits'");
    expect_err("", "x.yaml:1:1:", "empty");
}

static void test_wrong_type(void **st) {
    (void)st;
    expect_err_subst("  dk: 32\n", "  dk: '32'\n", "x.yaml:6:7:", "'array.dk' must be an integer");
    expect_err_subst("  dk: 32\n", "  dk: 32.5\n", "x.yaml:6:7:", "'array.dk' must be an integer");
    expect_err_subst("  dk: 32\n", "  dk: [32]\n", "x.yaml:6:7:", "'array.dk' must be an integer, got a sequence");
    expect_err_subst("clock_mhz: 50\n", "clock_mhz: fast\n", "x.yaml:2:12:",
                     "'clock_mhz' must be a number");
    expect_err_subst("name: t1\n", "name: a/b\n", "x.yaml:1:7:", "'name' must use only");
    expect_err("array: 5\n", "x.yaml:1:8:", "'array' must be a mapping");
    expect_err("- 1\n- 2\n", "x.yaml:1:1:", "document must be a mapping");
    expect_err("name: [\n", "x.yaml:", "YAML syntax error");
}

static void test_impossible_values(void **st) {
    (void)st;
    expect_err_subst("  dk: 32\n", "  dk: 48\n", "x.yaml:6:7:", "must be a power of two");
    expect_err_subst("  dk: 32\n", "  dk: 4\n", "x.yaml:6:7:", "'array.dk' must be an integer in 8..4096");
    expect_err_subst("  dm: 4\n", "  dm: 0\n", "x.yaml:4:7:", "'array.dm' must be an integer in 1..");
    expect_err_subst("  weight_depth: 512\n", "  weight_depth: 500\n", "x.yaml:9:17:",
                     "power of two");
    expect_err_subst("  acc_bits: 32\n", "  acc_bits: 24\n", "x.yaml:7:13:", "an integer in 32..32");
    expect_err_subst("  width_bits: 64\n", "  width_bits: 256\n", "x.yaml:14:15:", "32, 64 or 128");
    /* Dk narrower than the memory word: Dm and Dn must be multiples of W/Dk */
    expect_err_subst("  dn: 4\n  dk: 32\n", "  dn: 4\n  dk: 8\n", "x.yaml:6:7:",
                     "must be multiples of width/dk = 8");
    expect_err_subst("  dn: 4\n", "  dn: 3\n", "x.yaml:", "must be multiples of width/dk = 2");
    expect_err_subst("  acc_bits: 32\n", "  acc_bits: 32\n  res_lanes: 3\n", "x.yaml:8:14:",
                     "'array.res_lanes' (3) must divide");
    expect_err_subst("  requant_depth: 256\n", "  requant_depth: 254\n", "x.yaml:12:18:",
                     "must be a multiple of array.dm");
    /* the ISA's limits (hw_isa.md §1): 2..256 requant entries per bank, Dm/Dn <= 128, latency >= 1 */
    expect_err_subst("  requant_depth: 256\n", "  requant_depth: 4\n", "x.yaml:12:18:",
                     "must hold 2..256 entries per bank");
    expect_err_subst("  requant_depth: 256\n", "  requant_depth: 2048\n", "x.yaml:12:18:",
                     "use 8..1024");
    expect_err_subst("  dn: 4\n", "  dn: 256\n", "x.yaml:", "'array.dn' must be");
    expect_err_subst("  read_latency: 12\n", "  read_latency: 0\n", "x.yaml:", "'memory.read_latency' must be");
    expect_err_subst("clock_mhz: 50\n", "clock_mhz: -1\n", "x.yaml:2:12:", "'clock_mhz' must be");
    /* cross-field rules point at the key involved */
    expect_err_subst("  read_bytes_per_cycle: 8\n", "  read_bytes_per_cycle: 16\n",
                     "x.yaml:15:25:", "must not exceed memory.width_bits/8 = 8");
    expect_err_subst("  write_bytes_per_cycle: 8\n", "  write_bytes_per_cycle: 3\n",
                     "x.yaml:16:26:", "must divide memory.width_bits/8");
    expect_err_subst("  act_depth: 512\n", "  act_depth: 2\n", "x.yaml:11:12:",
                     "'buffers.regions' must leave at least 2 words");
    expect_err_subst("  dk: 32\n", "  dk: 32\n  dk: 64\n", "x.yaml:7:3:", "duplicate key 'array.dk'");
    char *twodoc = malloc(strlen(kBase) + 32);
    sprintf(twodoc, "%s---\nname: x\n", kBase);
    expect_err(twodoc, "x.yaml:20:1:", "second YAML document");
    free(twodoc);
}

static void test_validate_struct(void **st) {
    (void)st;
    bq_hwcfg c;
    char err[256];
    assert_int_equal(bq_hwcfg_parse(&c, kBase, strlen(kBase), "x", err, sizeof err), 0);
    c.dk = 24;
    assert_int_equal(bq_hwcfg_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "'array.dk'"));
    c.dk = 32;
    c.read_bytes_per_cycle = 9;
    assert_int_equal(bq_hwcfg_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "read_bytes_per_cycle"));
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 0x100000001b3ULL; }
    return h;
}

static void test_hash(void **st) {
    (void)st;
    bq_hwcfg a, b;
    char err[256];
    assert_int_equal(bq_hwcfg_parse(&a, kBase, strlen(kBase), "x", err, sizeof err), 0);
    /* the documented canonical text, hashed independently */
    const char *canon = "clock_mhz=50;array.dm=4;array.dn=4;array.dk=32;array.acc_bits=32;array.res_lanes=1;"
        "buffers.weight_depth=512;buffers.act_depth=512;buffers.regions=2;"
        "buffers.requant_depth=256;memory.width_bits=64;memory.read_bytes_per_cycle=8;"
        "memory.write_bytes_per_cycle=8;memory.read_latency=12;memory.write_latency=12;";
    char buf[1024];
    assert_int_equal(bq_hwcfg_canonical(&a, buf, sizeof buf), (int)strlen(canon));
    assert_string_equal(buf, canon);
    assert_true(a.hash == fnv1a(canon));
    /* order, comments, formatting and the name do not matter */
    const char *reordered =
        "memory: {write_latency: 12, read_latency: 12, write_bytes_per_cycle: 8,\n"
        "         read_bytes_per_cycle: 8, width_bits: 64}\n"
        "# a comment\n"
        "buffers:\n  requant_depth: 256\n  regions: 2\n  act_depth: 512\n  weight_depth: 512\n"
        "array: {acc_bits: 32, dk: 32, dn: 4, dm: 4}\n"
        "clock_mhz: 50.0\nname: other\n";
    assert_int_equal(bq_hwcfg_parse(&b, reordered, strlen(reordered), "y", err, sizeof err), 0);
    assert_true(a.hash == b.hash);
    /* every value changes it */
    const char *edits[][2] = {
        {"clock_mhz: 50\n", "clock_mhz: 51\n"}, {"  dm: 4\n", "  dm: 8\n"},
        {"  dn: 4\n", "  dn: 2\n"}, {"  dk: 32\n", "  dk: 64\n"},
        {"  acc_bits: 32\n", "  acc_bits: 32\n  res_lanes: 2\n"},
        {"  weight_depth: 512\n", "  weight_depth: 1024\n"},
        {"  act_depth: 512\n", "  act_depth: 256\n"}, {"  regions: 2\n", "  regions: 4\n"},
        {"  requant_depth: 256\n", "  requant_depth: 128\n"},
        {"  width_bits: 64\n", "  width_bits: 128\n"},
        {"  read_bytes_per_cycle: 8\n", "  read_bytes_per_cycle: 4\n"},
        {"  write_bytes_per_cycle: 8\n", "  write_bytes_per_cycle: 4\n"},
        {"  read_latency: 12\n", "  read_latency: 13\n"},
        {"  write_latency: 12\n", "  write_latency: 11\n"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *s = subst(edits[i][0], edits[i][1]);
        if (bq_hwcfg_parse(&b, s, strlen(s), "z", err, sizeof err) != 0) {
            print_error("edit %zu: %s\n", i, err);
            fail();
        }
        assert_true(a.hash != b.hash);
        free(s);
    }
}

/* fpga.ice40_fmax_mhz: a clock above it is a warning at clock_mhz's position, not an error, and
 * the measurement is not part of the hardware's identity. */
/* bq_hwcfg_yaml -> bq_hwcfg_parse gives the same config: name, canonical text (every hashed key),
 * hash and the fpga measurement; for a shipped config and one with every optional key changed. */
static void roundtrip(const bq_hwcfg *a) {
    char text[4096], ca[1024], cb[1024], err[512];
    int n = bq_hwcfg_yaml(a, text, sizeof text);
    assert_true(n > 0 && n < (int)sizeof text);
    bq_hwcfg b;
    assert_int_equal(bq_hwcfg_parse(&b, text, (size_t)n, "roundtrip.yaml", err, sizeof err), 0);
    assert_string_equal(a->name, b.name);
    bq_hwcfg_canonical(a, ca, sizeof ca);
    bq_hwcfg_canonical(&b, cb, sizeof cb);
    assert_string_equal(ca, cb);
    assert_true(a->hash == b.hash);
    assert_true(a->ice40_fmax_mhz == b.ice40_fmax_mhz);
    assert_true(a->clock_mhz == b.clock_mhz);
}

static void test_yaml_roundtrip(void **st) {
    (void)st;
    bq_hwcfg c;
    char err[512];
    assert_int_equal(bq_hwcfg_load(&c, "configs/hw/tiny.yaml", err, sizeof err), 0);
    roundtrip(&c);
    c.mem_interface = BQ_MEM_AXI;   /* late keys off their defaults enter the hash */
    c.axi_addr_bits = 40;
    c.axi_id_bits = 4;
    c.axi_max_burst = 16;
    c.axi_base = 4096;
    c.res_lanes = 2;
    c.clock_mhz = 12.345678901234567;
    c.ice40_fmax_mhz = 0;
    c.hash = bq_hwcfg_hash(&c);
    roundtrip(&c);
}

static void test_fmax_warning(void **st) {
    (void)st;
    bq_hwcfg a, b;
    char err[256] = "";
    assert_int_equal(bq_hwcfg_parse(&a, kBase, strlen(kBase), "x.yaml", err, sizeof err), 0);
    assert_true(a.ice40_fmax_mhz == 0.0);
    assert_string_equal(a.warning, "");
    size_t n = strlen(kBase) + 64;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%sfpga:\n  ice40_fmax_mhz: 16.02\n", kBase);   /* clock_mhz is 50 */
    assert_int_equal(bq_hwcfg_parse(&b, s, strlen(s), "x.yaml", err, sizeof err), 0);
    assert_true(b.ice40_fmax_mhz == 16.02);
    if (!strstr(b.warning, "x.yaml:2:12: 'clock_mhz' 50 MHz is above the measured iCE40 Fmax") ||
        !strstr(b.warning, "16.02")) {
        print_error("warning: '%s'\n", b.warning);
        fail();
    }
    assert_true(a.hash == b.hash);
    snprintf(s, n, "%sfpga:\n  ice40_fmax_mhz: 50\n", kBase);       /* at Fmax: fine */
    assert_int_equal(bq_hwcfg_parse(&b, s, strlen(s), "x.yaml", err, sizeof err), 0);
    assert_string_equal(b.warning, "");
    snprintf(s, n, "%sfpga:\n  ice40_fmax: 16\n", kBase);           /* misspelt: an error */
    expect_err(s, "x.yaml:20:3", "fpga.ice40_fmax");
    free(s);
    /* the shipped tiny carries its measurement and its clock is below it */
    assert_int_equal(bq_hwcfg_load(&a, "configs/hw/tiny.yaml", err, sizeof err), 0);
    assert_true(a.ice40_fmax_mhz > 0 && a.clock_mhz <= a.ice40_fmax_mhz);
    assert_string_equal(a.warning, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmax_warning),   cmocka_unit_test(test_yaml_roundtrip),
        cmocka_unit_test(test_valid),          cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_unknown_key),    cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_wrong_type),     cmocka_unit_test(test_impossible_values),
        cmocka_unit_test(test_validate_struct), cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
