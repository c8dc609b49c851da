/*
 * selftest_fuzz.c — libFuzzer harness for the package self-test driver's own readers: the JSON
 * reader (sim/bq_json.c) and the package reader (sim/bq_selftest_pkg.c), which a board driver links
 * without the engine. Input = the text of manifest.json, written into a scratch folder next to the
 * four .bin files of a real small package (tests/fuzz/selftest_pkg/: the tiny model exported with
 * 1 test image by `make_seeds selftest`; $FUZZ_SELFTEST_PKG overrides the folder), copied there
 * once; a manifest saying "version": 3 goes next to the whole-network package's files
 * (tests/fuzz/export_pkg_v3/, make_seeds; $FUZZ_EXPORT_PKG_V3). Then bq_st_pkg_load(folder) runs the whole load: manifest CRC, JSON, fields, geometry,
 * every range's CRC-32, each file's size and CRC-32.
 * Why the manifest, with the .bin files fixed: as for the export harness, the manifest holds every
 * offset, size and stride the reader trusts; the .bin files are covered by CRC-32s.
 * Why manifest_crc32 is recomputed: the reader checks it before parsing, so without the fix nearly
 * every mutation would stop there (the mismatch message itself is reached by inputs without the
 * line). The input as given is also parsed by bq_json_parse alone and every node walked through
 * every accessor, so the JSON reader is fuzzed on text that never gets past the CRC.
 * Seeds: corpus/selftest/ (both packages' manifests and edge cases); dictionary: selftest.dict.
 * A rejected input: one-line message; an accepted package: its indices inside its arrays.
 */
#include "fuzz_util.h"
#include "bq_json.h"
#include "bq_selftest_pkg.h"
#include "core/fileio.h"

#include <sys/stat.h>

/* [0]: the version 2 package's folder; [1]: a version 3 (whole-network) package's, subfolder v3/ */
static char pkg_dir[2][300];

static void copy_bins(const char *src, const char *dir) {
    const char *names[4] = {"weights.bin", "requant.bin", "programs.bin", "tests.bin"};
    for (int i = 0; i < 4; i++) {
        char p[600], err[512];
        unsigned char *d;
        size_t n;
        snprintf(p, sizeof p, "%s/%s", src, names[i]);
        if (bq_read_file(p, &d, &n, err, sizeof err)) {
            fprintf(stderr, "selftest_fuzz: %s (run from the repository root or set FUZZ_SELFTEST_PKG)\n", err);
            abort();
        }
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (bq_write_file_atomic(p, d, n, err, sizeof err)) abort();
        free(d);
    }
}

static void setup(void) {
    const char *src = getenv("FUZZ_SELFTEST_PKG"), *src3 = getenv("FUZZ_EXPORT_PKG_V3");
    snprintf(pkg_dir[0], sizeof pkg_dir[0], "%s", fuzz_dir());
    snprintf(pkg_dir[1], sizeof pkg_dir[1], "%s/v3", fuzz_dir());
    mkdir(pkg_dir[1], 0700);
    copy_bins(src && *src ? src : "tests/fuzz/selftest_pkg", pkg_dir[0]);
    copy_bins(src3 && *src3 ? src3 : "tests/fuzz/export_pkg_v3", pkg_dir[1]);
}

static int says_v3(const uint8_t *data, size_t size) {
    static const char key[] = "\"version\": 3";
    for (size_t i = 0; i + sizeof key - 1 <= size; i++)
        if (!memcmp(data + i, key, sizeof key - 1)) return 1;
    return 0;
}

/* Every node through every accessor: none may read outside the text or the node array. */
static void walk_json(const uint8_t *data, size_t size) {
    bq_json j = {0};
    char err[256], buf[64];
    err[0] = 0;
    if (bq_json_parse(&j, (const char *)data, size, err, sizeof err)) {
        fuzz_check_err(err);
        bq_json_free(&j);
        return;
    }
    for (int i = 0; i < j.n; i++) {
        const bq_jnode *v = &j.nodes[i];
        uint64_t u;
        int64_t s;
        float f;
        (void)bq_json_u64(v, &u); (void)bq_json_i64(v, &s); (void)bq_json_f32(v, &f);
        (void)bq_json_str(v, buf, sizeof buf); (void)bq_json_str_is(v, "layer");
        (void)bq_json_get(&j, v, "layers"); (void)bq_json_at(&j, v, 1);
        int n = 0;
        for (const bq_jnode *c = bq_json_first(&j, v); c; c = bq_json_next(&j, c)) n++;
        if ((v->type == BQ_J_ARR || v->type == BQ_J_OBJ) && n != v->count) abort();
    }
    bq_json_free(&j);
}

/* The input with its manifest_crc32 value replaced by the CRC-32 of the bytes before the line (as
 * the reader finds it: the first occurrence in the text up to the first NUL). */
static char *fix_manifest_crc(const uint8_t *data, size_t size, size_t *out_len) {
    static const char key[] = "\n  \"manifest_crc32\": \"";
    char *t = malloc(size + 1), *o;
    if (!t) abort();
    memcpy(t, data, size);
    t[size] = 0;
    char *h = strstr(t, key), *v, *e;
    if (!h || !(e = strchr(v = h + strlen(key), '"'))) { *out_len = size; return t; }
    uint32_t c = (uint32_t)crc32(0L, (const Bytef *)t, (uInt)(h + 1 - t));
    size_t head = (size_t)(v - t), tail = size - (size_t)(e - t);
    if (!(o = malloc(head + 8 + tail + 1))) abort();
    memcpy(o, t, head);
    snprintf(o + head, 9, "%08x", c);
    memcpy(o + head + 8, e, tail);
    *out_len = head + 8 + tail;
    free(t);
    return o;
}

/* An accepted package: every index the driver follows points inside its array. */
static void check_pkg(const bq_st_pkg *p) {
    if (p->n_layers < 1 || p->n_tests < 1 || p->out_layer < 0 || p->out_layer >= p->n_layers) abort();
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s] < 0 || p->steps[s] >= p->n_layers) abort();
    for (int i = 0; i < p->n_layers; i++)
        if (p->layers[i].w.off + p->layers[i].w.size > p->weights_len) abort();
    if (p->version == 3) {   /* the whole-network driver follows these */
        for (int i = 0; i < p->n_layers; i++)
            if (p->layers[i].out_tensor < 1 || p->layers[i].out_tensor >= p->n_tensors) abort();
        for (int t = 0; t < p->n_tests; t++)
            if (p->tests[t].input.off + p->tests[t].input.size > p->tests_len ||
                p->tests[t].input.size != p->tensors[0].bytes)
                abort();
        for (int s = 0; s < 3; s++)
            if (p->program[s].off + p->program[s].size > p->programs_len) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!pkg_dir[0][0]) setup();
    walk_json(data, size);
    size_t n;
    char *text = fix_manifest_crc(data, size, &n), path[400];
    const char *dir = pkg_dir[says_v3(data, size)];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(text, 1, n, f) != n) || fclose(f)) abort();
    free(text);
    bq_st_pkg p;
    char err[512];
    err[0] = 0;
    if (bq_st_pkg_load(&p, dir, err, sizeof err)) {
        fuzz_check_err(err);
        return 0;
    }
    check_pkg(&p);
    bq_st_pkg_free(&p);
    return 0;
}
