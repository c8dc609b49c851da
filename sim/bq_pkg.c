/* bq_pkg.c — the driver's reader of an export package (bq_pkg.h). */
#include "bq_pkg.h"
#include "core/errmsg.h"
#include "core/fileio.h"
#include "io/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Position right after `"key": ` at or after s (before end), or NULL. */
static const char *after_key(const char *s, const char *end, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *h = strstr(s, pat);
    return h && h < end ? h + strlen(pat) : NULL;
}

static int num_after(const char *s, const char *end, const char *key, size_t *v) {
    const char *h = after_key(s, end, key);
    if (!h) return -1;
    char *e;
    unsigned long long x = strtoull(h, &e, 10);
    if (e == h) return -1;
    *v = (size_t)x;
    return 0;
}

static int hex_after(const char *s, const char *end, const char *key, uint64_t *v) {
    const char *h = after_key(s, end, key);
    if (!h || *h != '"') return -1;
    char *e;
    *v = strtoull(h + 1, &e, 16);
    return *e == '"' ? 0 : -1;
}

/* The layer's memory map and program ranges (keys after "requant", in the writer's order). */
static int read_mem_programs(bq_pkg_layer *L, const char *s, const char *end) {
    static const char *const reg[5] = {"w", "a", "rq", "res", "out"};
    static const char *const st[3] = {"fetch", "execute", "result"};
    const char *mem = after_key(s, end, "mem");
    if (!mem) return -1;
    for (int r = 0; r < 5; r++) {
        char k[16];
        snprintf(k, sizeof k, "%s_addr", reg[r]);
        if (num_after(mem, end, k, &L->addr[r])) return -1;
        snprintf(k, sizeof k, "%s_size", reg[r]);
        if (num_after(mem, end, k, &L->size[r])) return -1;
    }
    const char *pr = after_key(mem, end, "programs");
    for (int i = 0; i < 3; i++) {
        const char *x = pr ? after_key(pr, end, st[i]) : NULL;
        size_t bytes;
        if (!x || num_after(x, end, "offset", &L->prog_off[i]) || num_after(x, end, "size", &bytes) ||
            bytes % 16)
            return -1;
        L->prog_len[i] = bytes / 16;
    }
    return 0;
}

/* The self-test vectors: per `{"image": ` object of the tests array (up to `end`), per `{"layer": `
 * object the range after "codes". */
static int read_tests(bq_pkg *p, const char *tests, const char *end, const char *path, char *err,
                      size_t errlen) {
    int cap = 0;
    for (const char *s = tests;;) {
        const char *obj = strstr(s, "{\"image\": ");
        if (!obj || obj >= end) return 0;
        const char *next = strstr(obj + 1, "{\"image\": ");
        const char *oend = next && next < end ? next : end;
        if (p->n_tests == cap) {
            cap = cap ? 2 * cap : 8;
            bq_pkg_test *nt = realloc(p->test, sizeof *nt * (size_t)cap);
            if (!nt) { bq_seterr(err, errlen, "out of memory"); return -1; }
            p->test = nt;
        }
        bq_pkg_test *T = &p->test[p->n_tests++];
        T->codes_off = calloc((size_t)p->n_layers + 1, sizeof *T->codes_off);
        T->codes_size = calloc((size_t)p->n_layers + 1, sizeof *T->codes_size);
        size_t img;
        if (!T->codes_off || !T->codes_size) { bq_seterr(err, errlen, "out of memory"); return -1; }
        if (num_after(obj, oend, "image", &img)) goto bad;
        T->image = (int)img;
        for (const char *l = strstr(obj, "{\"layer\": "); l && l < oend; l = strstr(l + 1, "{\"layer\": ")) {
            size_t li, off, size;
            const char *c = after_key(l, oend, "codes");
            if (num_after(l, oend, "layer", &li) || li >= (size_t)p->n_layers || !c ||
                num_after(c, oend, "offset", &off) || num_after(c, oend, "size", &size))
                goto bad;
            T->codes_off[li] = off;
            T->codes_size[li] = size;
        }
        s = oend;
    }
bad:
    bq_seterr(err, errlen, "%s: field 'tests[%d]': image, layer or codes range missing; check it "
              "with `brecq export --check %s`", path, p->n_tests - 1, p->dir);
    return -1;
}

const bq_pkg_test *bq_pkg_test_of(const bq_pkg *p, int image) {
    for (int t = 0; t < p->n_tests; t++)
        if (p->test[t].image == image) return &p->test[t];
    return NULL;
}

void bq_pkg_free(bq_pkg *p) {
    for (int t = 0; t < p->n_tests; t++) { free(p->test[t].codes_off); free(p->test[t].codes_size); }
    free(p->test);
    free(p->layers);
    free(p->weights);
    free(p->requant);
    free(p->programs);
    free(p->tests);
    memset(p, 0, sizeof *p);
}

const bq_pkg_layer *bq_pkg_find(const bq_pkg *p, const char *name) {
    for (int i = 0; i < p->n_layers; i++)
        if (!strcmp(p->layers[i].name, name)) return &p->layers[i];
    return NULL;
}

int bq_pkg_load(bq_pkg *p, const char *dir, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    /* a board checks what it loads: every part's CRC-32, the fields, the programs, a recompute */
    if (bq_export_check(dir, NULL, NULL, err, errlen)) return -1;
    char path[600];
    size_t mlen = 0;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    unsigned char *man_bytes = NULL;
    char why[600];
    if (bq_read_file(path, &man_bytes, &mlen, why, sizeof why)) {
        bq_seterr(err, errlen, "%s; write the package with `brecq export --quant Q.bqq --hw "
                  "configs/hw/H.yaml --out %s`", why, dir);
        return -1;
    }
    char *man = (char *)man_bytes;   /* NUL-terminated by bq_read_file */
    const char *end = man + mlen;
    int rc = -1;
    const char *fmt = after_key(man, end, "format");
    size_t version = 0;
    if (!fmt || strncmp(fmt, "\"brecq-export\"", 14) || num_after(man, end, "version", &version) ||
        version != 2) {
        bq_seterr(err, errlen, "%s: not a brecq-export version 2 manifest; re-export with this brecq", path);
        goto out;
    }
    const char *hw = after_key(man, end, "hw");
    if (hex_after(man, end, "qmodel_hash", &p->qmodel_hash) || !hw ||
        hex_after(hw, end, "hash", &p->hw_hash)) {
        bq_seterr(err, errlen, "%s: 'qmodel_hash' or 'hw.hash' missing; re-export with this brecq", path);
        goto out;
    }
    const char *hn = after_key(hw, end, "name");
    if (hn && *hn == '"') {
        const char *q = strchr(hn + 1, '"');
        if (q && (size_t)(q - hn - 1) < sizeof p->hw_name) memcpy(p->hw_name, hn + 1, (size_t)(q - hn - 1));
    }
    const char *layers = after_key(man, end, "layers");
    const char *tests = layers ? after_key(layers, end, "tests") : NULL;
    if (!layers) { bq_seterr(err, errlen, "%s: no 'layers' array", path); goto out; }
    const char *files = tests ? after_key(tests, end, "files") : NULL;
    if (!tests) tests = end;
    int cap = 0;
    for (const char *s = layers;;) {
        const char *obj = strstr(s, "{\"index\": ");
        if (!obj || obj >= tests) break;
        const char *next = strstr(obj + 1, "{\"index\": ");
        const char *oend = next && next < tests ? next : tests;
        if (p->n_layers == cap) {
            cap = cap ? 2 * cap : 32;
            bq_pkg_layer *nl = realloc(p->layers, sizeof *nl * (size_t)cap);
            if (!nl) { bq_seterr(err, errlen, "out of memory"); goto out; }
            p->layers = nl;
        }
        bq_pkg_layer *L = &p->layers[p->n_layers];
        memset(L, 0, sizeof *L);
        size_t index;
        const char *nm = after_key(obj, oend, "name");
        const char *w = after_key(obj, oend, "weights"), *r = after_key(obj, oend, "requant");
        const char *q = nm && *nm == '"' ? strchr(nm + 1, '"') : NULL;
        if (!q || (size_t)(q - nm - 1) >= sizeof L->name || !w || !r || num_after(obj, oend, "index", &index) ||
            num_after(w, oend, "offset", &L->w_off) || num_after(w, oend, "size", &L->w_size) ||
            num_after(w, oend, "weight_group_stride", &L->w_gs) ||
            num_after(r, oend, "offset", &L->rq_off) || num_after(r, oend, "size", &L->rq_size) ||
            num_after(r, oend, "requant_group_stride", &L->rq_gs)) {
            bq_seterr(err, errlen, "%s: layer %d: name, weights, requant or their strides missing; "
                   "check it with `brecq export --check %s`", path, p->n_layers, dir);
            goto out;
        }
        memcpy(L->name, nm + 1, (size_t)(q - nm - 1));
        L->index = (int)index;
        if (read_mem_programs(L, r, oend)) {
            bq_seterr(err, errlen, "%s: layer '%s': mem or programs missing; check it with `brecq "
                      "export --check %s`", path, L->name, dir);
            goto out;
        }
        p->n_layers++;
        s = oend;
    }
    if (tests < end && read_tests(p, tests, files ? files : end, path, err, errlen)) goto out;
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    if (bq_read_file(path, &p->weights, &p->weights_len, err, errlen)) goto out;
    snprintf(path, sizeof path, "%s/requant.bin", dir);
    if (bq_read_file(path, &p->requant, &p->requant_len, err, errlen)) goto out;
    snprintf(path, sizeof path, "%s/programs.bin", dir);
    if (bq_read_file(path, &p->programs, &p->programs_len, err, errlen)) goto out;
    snprintf(path, sizeof path, "%s/tests.bin", dir);
    if (bq_read_file(path, &p->tests, &p->tests_len, err, errlen)) goto out;
    for (int i = 0; i < p->n_layers; i++) {
        const bq_pkg_layer *L = &p->layers[i];
        int bad = L->w_off + L->w_size > p->weights_len || L->rq_off + L->rq_size > p->requant_len;
        for (int s = 0; s < 3; s++) bad |= L->prog_off[s] + 16 * L->prog_len[s] > p->programs_len;
        for (int t = 0; t < p->n_tests; t++) bad |= p->test[t].codes_off[i] + p->test[t].codes_size[i] > p->tests_len;
        bad |= L->index != i;
        if (bad) {
            bq_seterr(err, errlen, "%s: layer '%s': index, weights, requant, program or test range "
                   "outside its file; check it with `brecq export --check %s`", dir, L->name, dir);
            goto out;
        }
    }
    rc = 0;
out:
    free(man);
    if (rc) bq_pkg_free(p);
    return rc;
}
