/* test_yamlschema.c — the shared YAML schema loader (sw/core/yamldoc.h): every key type, ranges,
 * unknown / duplicate / missing keys with their file:line:col, nested sections, defaults, marks. */
#include "testutil.h"

#include <string.h>

#include "core/yamldoc.h"

typedef struct {
    int n;
    uint64_t seed;
    float lr;
    double clock;
    int on;
    int mode;
    char name[8];
    int nbits, bits[4];
    int nlist;
    char list[3][6];
    int depth;        /* mem.depth */
    int lanes;        /* mem.lanes (optional) */
} cfg;

static const char *const kModes[] = {"fast", "slow", NULL};
static const bq_ykey kMem[] = {
    {"depth", BQ_Y_INT, BQ_Y_REQUIRED | BQ_Y_POW2, 2, 4096, offsetof(cfg, depth), .what = "words"},
    {"lanes", BQ_Y_INT, 0, 1, 8, offsetof(cfg, lanes), .def = 1, .what = "lanes"},
};
static const bq_ykey kCfg[] = {
    {"n", BQ_Y_INT, BQ_Y_REQUIRED, 1, 100, offsetof(cfg, n), .def = 10, .what = "how many"},
    {"seed", BQ_Y_U64, 0, 0, 1.8e19, offsetof(cfg, seed), .def = 7},
    {"lr", BQ_Y_FLOAT, 0, 0, 1, offsetof(cfg, lr), .def = 0.5, .what = "learning rate"},
    {"clock", BQ_Y_DOUBLE, 0, 0.5, 100, offsetof(cfg, clock), .def = 50},
    {"on", BQ_Y_BOOL, 0, 0, 1, offsetof(cfg, on), .def = 0},
    {"mode", BQ_Y_ENUM, 0, 0, 0, offsetof(cfg, mode), .names = kModes, .def = 1},
    {"name", BQ_Y_STR, BQ_Y_WORD, 1, 7, offsetof(cfg, name), .size = 8},
    {"bits", BQ_Y_INT_LIST, BQ_Y_NONEMPTY, 2, 8, offsetof(cfg, bits), .cap = 4,
     .count_off = offsetof(cfg, nbits), .what = "bit-widths"},
    {"list", BQ_Y_STR_LIST, 0, 0, 0, offsetof(cfg, list), .size = 6, .cap = 3,
     .count_off = offsetof(cfg, nlist)},
    {"mem", BQ_Y_SECTION, 0, 0, 0, 0, .sub = kMem, .nsub = 2, .what = "memory"},
};
enum { NK = (int)(sizeof kCfg / sizeof kCfg[0]) };

/* Parse text over the defaults; returns the loader's rc, err filled. */
static int parse(const char *text, cfg *c, bq_ymarks *marks, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    bq_yschema_defaults(kCfg, NK, c);
    err[0] = 0;
    return bq_yschema_parse(kCfg, NK, text, strlen(text), "t.yaml", c, marks, err, errlen);
}

/* The text must fail with an error that contains `want` (position included). */
static void expect_err(const char *text, const char *want) {
    cfg c;
    char err[512];
    int rc = parse(text, &c, NULL, err, sizeof err);
    if (rc == 0 || !strstr(err, want)) {
        print_error("text '%s': rc=%d err='%s' (wanted '%s')\n", text, rc, err, want);
        fail();
    }
    assert_null(strchr(err, '\n'));   /* one line */
}

static const char *kGood =
    "n: 42\n"                  /* 1 */
    "seed: 18000000000000000000\n"
    "lr: 0.25\n"
    "clock: 99.5\n"
    "on: no\n"                 /* 5 */
    "mode: fast\n"
    "name: ab-c_1\n"
    "bits: [8, 2, 3]\n"
    "list: [x, yy]\n"
    "mem:\n"                   /* 10 */
    "  depth: 64\n"
    "  lanes: 4\n";

static void test_every_type(void **st) {
    (void)st;
    cfg c;
    char err[512];
    bq_ymarks marks = {0};
    assert_int_equal(parse(kGood, &c, &marks, err, sizeof err), 0);
    assert_int_equal(c.n, 42);
    assert_true(c.seed == 18000000000000000000ULL);
    assert_true(c.lr == 0.25f);
    assert_true(c.clock == 99.5);
    assert_int_equal(c.on, 0);
    assert_int_equal(c.mode, 0);
    assert_string_equal(c.name, "ab-c_1");
    assert_int_equal(c.nbits, 3);
    assert_int_equal(c.bits[0], 8);   /* in the file's order */
    assert_int_equal(c.bits[2], 3);
    assert_int_equal(c.nlist, 2);
    assert_string_equal(c.list[1], "yy");
    assert_int_equal(c.depth, 64);
    assert_int_equal(c.lanes, 4);
    /* marks: every key and section by dotted path, at its value */
    const bq_ymark *m = bq_ymarks_find(&marks, "mem.depth");
    assert_non_null(m);
    assert_int_equal(m->value_mark.line + 1, 11);
    assert_int_equal(m->value_mark.column + 1, 10);
    assert_int_equal(m->key_mark.column + 1, 3);
    assert_non_null(bq_ymarks_find(&marks, "mem"));
    assert_null(bq_ymarks_find(&marks, "depth"));
    assert_int_equal(marks.n, 12);
}

static void test_defaults_and_scalars(void **st) {
    (void)st;
    cfg c;
    char err[512];
    /* keys not given keep the defaults; a scalar is a one-item list; bool spellings */
    assert_int_equal(parse("n: 1\nbits: 4\nlist: z\non: TRUE\nmem: {depth: 2}\n", &c, NULL, err,
                           sizeof err), 0);
    assert_int_equal(c.n, 1);
    assert_true(c.seed == 7 && c.lr == 0.5f && c.clock == 50.0 && c.on == 1 && c.mode == 1);
    assert_int_equal(c.lanes, 1);
    assert_int_equal(c.nbits, 1);
    assert_int_equal(c.bits[0], 4);
    assert_int_equal(c.nlist, 1);
    assert_string_equal(c.list[0], "z");
    assert_int_equal(parse("n: 1\non: yes\nmem: {depth: 2}\n", &c, NULL, err, sizeof err), 0);
    assert_int_equal(c.on, 1);
    assert_int_equal(parse("n: 1\non: 1\nmem: {depth: 2}\n", &c, NULL, err, sizeof err), 0);
    assert_int_equal(c.on, 1);
    assert_int_equal(parse("n: 1\nmem: {depth: 2}\n", &c, NULL, err, sizeof err), 0);
    assert_int_equal(c.on, 0);   /* the default */
}

static int collect(void *ctx, const bq_ykey *k, const char *path) {
    (void)k;
    strcat((char *)ctx, path);
    strcat((char *)ctx, ";");
    return strcmp(path, "mem.depth") == 0 ? 5 : 0;   /* stops there */
}
static void test_each(void **st) {
    (void)st;
    char paths[256] = "";
    assert_int_equal(bq_yschema_each(kCfg, NK, collect, paths), 5);
    assert_string_equal(paths, "n;seed;lr;clock;on;mode;name;bits;list;mem.depth;");
}

static void test_ranges(void **st) {
    (void)st;
    const char *M = "mem: {depth: 2}\n";
    char t[256];
#define E(body, want) do { snprintf(t, sizeof t, "%s%s", M, body); expect_err(t, want); } while (0)
    E("n: 101\n", "t.yaml:2:4: 'n' must be an integer in 1..100 (how many), got '101'");
    E("n: 0\n", "t.yaml:2:4: 'n' must be an integer in 1..100");
    E("n: 4.5\n", "t.yaml:2:4: 'n' must be an integer");
    E("n: '4'\n", "t.yaml:2:4: 'n' must be an integer");          /* quoted: a string */
    E("n: [4]\n", "t.yaml:2:4: 'n' must be an integer, got a sequence; write 'n: <value>'");
    E("n: 1\nseed: -1\n", "t.yaml:3:7: 'seed' must be an integer in 0..");
    E("n: 1\nlr: 1.5\n", "t.yaml:3:5: 'lr' must be a number in [0, 1] (learning rate), got '1.5'");
    E("n: 1\nlr: fast\n", "t.yaml:3:5: 'lr' must be a number");
    E("n: 1\nlr: .nan\n", "t.yaml:3:5: 'lr' must be a number");
    E("n: 1\nclock: 0.25\n", "t.yaml:3:8: 'clock' must be a number in [0.5, 100]");
    E("n: 1\non: maybe\n", "t.yaml:3:5: 'on' must be true or false, got 'maybe'");
    E("n: 1\nmode: medium\n", "t.yaml:3:7: 'mode' must be one of fast, slow, got 'medium'");
    E("n: 1\nmode: {a: 1}\n", "t.yaml:3:7: 'mode' must be one of fast, slow, got a mapping");
    E("n: 1\nname: abcdefgh\n", "t.yaml:3:7: 'name' must be 1..7 characters long, got 8");
    E("n: 1\nname: a/b\n", "t.yaml:3:7: 'name' must use only letters, digits, '_' and '-'");
    E("n: 1\nbits: [2, 9]\n", "t.yaml:3:7: 'bits' must be a list of integers in 2..8 (bit-widths), "
                              "got '9'");
    E("n: 1\nbits: [2, 3, 4, 5, 6]\n", "t.yaml:3:20: 'bits' must be a list of at most 4 items");
    E("n: 1\nbits: []\n", "t.yaml:3:7: 'bits' must list at least one item");
    E("n: 1\nbits: {a: 2}\n", "t.yaml:3:7: 'bits' must be a list");
    E("n: 1\nbits: [[2]]\n", "t.yaml:3:8: 'bits' items must be plain values, not a sequence");
    E("n: 1\nlist: [abcdef]\n", "t.yaml:3:8: 'list' items must be 1..5 characters long, got 6");
#undef E
    expect_err("n: 1\nmem: {depth: 48}\n", "t.yaml:2:14: 'mem.depth' must be a power of two (words), "
               "got 48");
    expect_err("n: 1\nmem: {depth: 8192}\n", "t.yaml:2:14: 'mem.depth' must be an integer in 2..4096");
}

static void test_unknown_duplicate_missing(void **st) {
    (void)st;
    /* unknown: did you mean + the valid keys, also inside a section */
    expect_err("n: 1\nmod: fast\nmem: {depth: 2}\n",
               "t.yaml:2:1: unknown key 'mod' (did you mean 'mode'?); known keys: n, seed, lr, "
               "clock, on, mode, name, bits, list, mem");
    expect_err("n: 1\nxyzzy: 1\n", "t.yaml:2:1: unknown key 'xyzzy'; known keys: n,");
    expect_err("n: 1\nmem:\n  depht: 2\n",
               "t.yaml:3:3: unknown key 'mem.depht' (did you mean 'depth'?); known keys in 'mem': "
               "depth, lanes");
    /* duplicates: keys, keys in a section, whole sections */
    expect_err("n: 1\nlr: 0.1\nlr: 0.2\nmem: {depth: 2}\n",
               "t.yaml:3:1: key 'lr' given twice (first at line 2); remove the duplicate key 'lr'");
    expect_err("n: 1\nmem:\n  depth: 2\n  depth: 4\n", "t.yaml:4:3: key 'mem.depth' given twice");
    expect_err("n: 1\nmem: {depth: 2}\nmem: {lanes: 2}\n",
               "t.yaml:3:1: key 'mem' given twice (first at line 2)");
    /* missing: at the mapping that lacks the key; a missing section names its first required key */
    expect_err("lr: 0.1\nmem: {depth: 2}\n",
               "t.yaml:1:1: missing required key 'n' (how many); add 'n: <value>'");
    expect_err("n: 3\nmem:\n  lanes: 2\n",
               "t.yaml:3:3: missing required key 'mem.depth' (words) in section 'mem'; add "
               "'depth: <value>'");
    expect_err("n: 3\n", "t.yaml:1:1: missing required key 'mem.depth' (words) in section 'mem'");
    expect_err("", "t.yaml:1:1: the file is empty; it must define n, seed,");
    expect_err("# only a comment\n", "t.yaml:1:1: the file is empty");
    /* shapes */
    expect_err("- 1\n- 2\n", "t.yaml:1:1: the document must be a mapping of keys");
    expect_err("n: 1\nmem: 5\n", "t.yaml:2:6: 'mem' must be a mapping of keys");
    expect_err("n: 1\n[a]: 2\n", "t.yaml:2:1: keys must be plain words");
    expect_err("n: [1\n", "YAML syntax error");
}

/* bq_yschema_load on a node with a prefix (the bits file's per-layer entries). */
static void test_prefix(void **st) {
    (void)st;
    const char *t = "layer1: {mem: {depth: 30}}\n";
    yaml_document_t doc;
    char err[512] = "";
    assert_int_equal(bq_yaml_load(&doc, t, strlen(t), "p.yaml", err, sizeof err), 0);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *v = yaml_document_get_node(&doc, root->data.mapping.pairs.start->value);
    cfg c;
    memset(&c, 0, sizeof c);
    assert_int_equal(bq_yschema_load(kCfg + 9, 1, &doc, v, "layer1", "p.yaml", &c, NULL, err,
                                     sizeof err), -1);
    if (!strstr(err, "p.yaml:1:23: 'layer1.mem.depth' must be a power of two")) {
        print_error("err='%s'\n", err);
        fail();
    }
    yaml_document_delete(&doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_defaults_and_scalars),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_unknown_duplicate_missing),
        cmocka_unit_test(test_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
