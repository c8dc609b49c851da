/* bq_selftest_pkg.c — the self-test driver's package reader (bq_selftest_pkg.h). */
#include "bq_selftest_pkg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bq_json.h"
#include "core/errmsg.h"

/* where a field is read from: the manifest's path, for the messages */
typedef struct {
    const bq_json *j;
    const char *dir;
    char file[600];
    char *err;
    size_t errlen;
} rd;

static const char *const fix = "re-export the package (brecq export) and check it with `brecq export --check`";

static int bad_field(rd *r, const char *where, const char *key, const char *what) {
    bq_seterr(r->err, r->errlen, "%s: field '%s%s%s' %s; %s", r->file, where, *where ? "." : "", key, what, fix);
    return -1;
}

static int get_int(rd *r, const bq_jnode *o, const char *where, const char *key, int64_t lo, int64_t hi,
                   int64_t *v) {
    if (bq_json_i64(bq_json_get(r->j, o, key), v) || *v < lo || *v > hi) {
        char what[96];
        snprintf(what, sizeof what, "is missing or not an integer in [%lld, %lld]", (long long)lo, (long long)hi);
        return bad_field(r, where, key, what);
    }
    return 0;
}

/* get_int into an int (the ranges used keep it in range) */
static int get_i(rd *r, const bq_jnode *o, const char *where, const char *key, int64_t lo, int64_t hi, int *v) {
    int64_t x;
    if (get_int(r, o, where, key, lo, hi, &x)) return -1;
    *v = (int)x;
    return 0;
}

static int get_u(rd *r, const bq_jnode *o, const char *where, const char *key, uint64_t *v) {
    int64_t x;
    if (get_int(r, o, where, key, 0, (int64_t)1 << 40, &x)) return -1;
    *v = (uint64_t)x;
    return 0;
}

/* a hex string of at most 16 digits (hashes, CRC-32s) */
static int get_hex(rd *r, const bq_jnode *o, const char *where, const char *key, uint64_t *v) {
    char b[24], *e;
    if (bq_json_str(bq_json_get(r->j, o, key), b, sizeof b) || !b[0]) return bad_field(r, where, key, "is missing or not a hex string");
    errno = 0;
    *v = strtoull(b, &e, 16);
    if (*e || errno) return bad_field(r, where, key, "is not a hex string");
    return 0;
}

/* {offset, size, crc32} */
static int get_range(rd *r, const bq_jnode *o, const char *where, const char *key, bq_st_range *out) {
    const bq_jnode *x = bq_json_get(r->j, o, key);
    char w[160];
    snprintf(w, sizeof w, "%s%s%s", where, *where ? "." : "", key);
    uint64_t off, size, crc;
    if (!x || x->type != BQ_J_OBJ) return bad_field(r, where, key, "is missing or not a range {offset, size, crc32}");
    if (get_u(r, x, w, "offset", &off) || get_u(r, x, w, "size", &size) || get_hex(r, x, w, "crc32", &crc)) return -1;
    out->off = (size_t)off;
    out->size = (size_t)size;
    out->crc = (uint32_t)crc;
    return 0;
}

/* The range inside its file and its CRC-32 as listed ("corrupted" names the part). */
static int check_range(rd *r, const char *fname, const uint8_t *buf, size_t len, const bq_st_range *x,
                       const char *part) {
    if (x->off > len || x->size > len - x->off) {
        bq_seterr(r->err, r->errlen, "%s/%s: range '%s' [%zu, +%zu) is outside the file (%zu bytes; truncated or "
                  "replaced); %s", r->dir, fname, part, x->off, x->size, len, fix);
        return -1;
    }
    uint32_t c = (uint32_t)crc32(0L, buf + x->off, (uInt)x->size);
    if (c != x->crc) {
        bq_seterr(r->err, r->errlen, "%s/%s: CRC-32 of '%s' is %08x, the manifest says %08x (corrupted); %s",
                  r->dir, fname, part, c, x->crc, fix);
        return -1;
    }
    return 0;
}

static int read_file(rd *r, const char *name, uint8_t **buf, size_t *len) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        bq_seterr(r->err, r->errlen, "%s: %s; write the package with `brecq export --quant Q.bqq --hw H.yaml "
                  "--tests N --out %s`", path, strerror(errno), r->dir);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap + 1);
    for (size_t got; b && (got = fread(b + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(b, 2 * cap + 1);
            if (!nb) { free(b); b = NULL; break; }
            b = nb;
            cap *= 2;
        }
    }
    int rerr = ferror(f);
    fclose(f);
    if (!b || rerr) {
        free(b);
        bq_seterr(r->err, r->errlen, "%s: %s; check the file", path, b ? "read error" : "out of memory");
        return -1;
    }
    b[n] = 0;   /* the manifest is read as text */
    *buf = b;
    *len = n;
    return 0;
}

/* manifest_crc32: the CRC-32 of every byte before the line `  "manifest_crc32": ...`. */
static int check_manifest_crc(rd *r, const char *text, size_t len) {
    const char *key = "\n  \"manifest_crc32\": \"";
    const char *h = strstr(text, key);
    char *e;
    unsigned long want = h ? strtoul(h + strlen(key), &e, 16) : 0;
    if (!h || *e != '"') {
        bq_seterr(r->err, r->errlen, "%s: no 'manifest_crc32' line (not an export package of version 2 or 3, or truncated); %s", r->file, fix);
        return -1;
    }
    uint32_t c = (uint32_t)crc32(0L, (const Bytef *)text, (uInt)(h + 1 - text));
    (void)len;
    if (c != (uint32_t)want) {
        bq_seterr(r->err, r->errlen, "%s: field 'manifest_crc32' is %08lx, the manifest's bytes give %08x (edited "
                  "after export); %s", r->file, want, c, fix);
        return -1;
    }
    return 0;
}

static int read_hw(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    const bq_jnode *hw = bq_json_get(r->j, root, "hw");
    if (!hw || bq_json_str(bq_json_get(r->j, hw, "name"), p->hw_name, sizeof p->hw_name))
        return bad_field(r, "", "hw.name", "is missing");
    if (get_hex(r, hw, "hw", "hash", &p->hw_hash) || get_i(r, hw, "hw", "dm", 1, 128, &p->dm) ||
        get_i(r, hw, "hw", "dn", 1, 128, &p->dn) || get_i(r, hw, "hw", "dk", 8, 4096, &p->dk) ||
        get_i(r, hw, "hw", "mem_width_bits", 8, 1024, &p->mem_width_bits))
        return -1;
    if (p->mem_width_bits % 8) return bad_field(r, "hw", "mem_width_bits", "is not a multiple of 8");
    size_t wbits = (size_t)p->mem_width_bits;
    p->tpb = ((size_t)p->dm * (size_t)p->dn + wbits - 1) / wbits * (wbits / 8);
    return 0;
}

static int read_mem(rd *r, bq_st_layer *L, const bq_jnode *l, const char *where) {
    static const char *const reg[BQ_ST_NREG] = {"w", "a", "rq", "res", "out"};
    const bq_jnode *mem = bq_json_get(r->j, l, "mem");
    char w[96], k[16];
    snprintf(w, sizeof w, "%s.mem", where);
    if (!mem) return bad_field(r, where, "mem", "is missing");
    for (int i = 0; i < BQ_ST_NREG; i++) {
        snprintf(k, sizeof k, "%s_addr", reg[i]);
        if (get_u(r, mem, w, k, &L->addr[i])) return -1;
        snprintf(k, sizeof k, "%s_size", reg[i]);
        if (get_u(r, mem, w, k, &L->size[i])) return -1;
    }
    if (L->size[BQ_ST_W] != L->w.size || L->size[BQ_ST_RQ] != L->rq.size)
        return bad_field(r, w, "w_size/rq_size", "differs from the weights/requant range size");
    return 0;
}

static int read_programs(rd *r, bq_st_layer *L, const bq_jnode *l, const char *where) {
    static const char *const st[3] = {"fetch", "execute", "result"};
    const bq_jnode *pr = bq_json_get(r->j, l, "programs");
    char w[96];
    snprintf(w, sizeof w, "%s.programs", where);
    if (!pr) return bad_field(r, where, "programs", "is missing");
    for (int s = 0; s < 3; s++) {
        if (get_range(r, pr, w, st[s], &L->prog[s])) return -1;
        if (L->prog[s].size % 16) return bad_field(r, w, st[s], "size is not a whole number of 16-byte instructions");
    }
    return 0;
}

/* The GEMM and tile geometry the comparison walks (docs/hw_isa.md §2.3). */
static int read_geometry(rd *r, const bq_st_pkg *p, bq_st_layer *L, const bq_jnode *l, const char *where) {
    int raw32 = 0;
    const bq_jnode *rw = bq_json_get(r->j, l, "raw32");
    if (!rw || rw->type != BQ_J_BOOL) return bad_field(r, where, "raw32", "is missing or not true/false");
    raw32 = rw->boolean;
    if (get_i(r, l, where, "M", 1, 1 << 20, &L->m) || get_i(r, l, where, "N", 1, 1 << 24, &L->n) ||
        get_i(r, l, where, "groups", 1, 1 << 20, &L->groups) || get_i(r, l, where, "M_pad", 1, 1 << 20, &L->m_pad) ||
        get_i(r, l, where, "N_pad", 1, 1 << 24, &L->n_pad) || get_i(r, l, where, "hout", 1, 1 << 16, &L->hout) ||
        get_i(r, l, where, "wout", 1, 1 << 16, &L->wout) ||
        get_i(r, l, where, "obits", raw32 ? 0 : 1, raw32 ? 0 : 8, &L->obits) ||
        get_int(r, l, where, "cycles", 0, (int64_t)1 << 50, &L->cycles))
        return -1;
    if (raw32) L->obits = 32;
    if (L->m_pad % p->dm || L->n_pad % p->dn || L->m > L->m_pad || L->n > L->n_pad)
        return bad_field(r, where, "M_pad/N_pad", "is not the padding of M/N to the array (hw.dm, hw.dn)");
    return 0;
}

static int read_layer(rd *r, bq_st_pkg *p, int i, const bq_jnode *l) {
    bq_st_layer *L = &p->layers[i];
    char where[48];
    snprintf(where, sizeof where, "layers[%d]", i);
    if (bq_json_str(bq_json_get(r->j, l, "name"), L->name, sizeof L->name)) return bad_field(r, where, "name", "is missing");
    if (get_i(r, l, where, "index", i, i, &L->index) || read_geometry(r, p, L, l, where) ||
        get_range(r, l, where, "weights", &L->w) || get_range(r, l, where, "requant", &L->rq) ||
        read_mem(r, L, l, where) || read_programs(r, L, l, where))
        return -1;
    return 0;
}

static int read_layers(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    const bq_jnode *ls = bq_json_get(r->j, root, "layers");
    if (!ls || ls->type != BQ_J_ARR || ls->count < 1) return bad_field(r, "", "layers", "is missing or empty");
    p->n_layers = ls->count;
    p->layers = calloc((size_t)p->n_layers, sizeof *p->layers);
    if (!p->layers) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    int i = 0;
    for (const bq_jnode *l = bq_json_first(r->j, ls); l; l = bq_json_next(r->j, l), i++)
        if (read_layer(r, p, i, l)) return -1;
    return 0;
}

/* The {"op": "layer"} steps in order; host steps (gap, maxpool, flatten) are not replayed. */
static int read_steps(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    const bq_jnode *st = bq_json_get(r->j, root, "steps");
    if (!st || st->type != BQ_J_ARR) return bad_field(r, "", "steps", "is missing");
    p->steps = calloc((size_t)st->count + 1, sizeof *p->steps);
    if (!p->steps) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    int k = 0;
    for (const bq_jnode *s = bq_json_first(r->j, st); s; s = bq_json_next(r->j, s), k++) {
        char where[32];
        snprintf(where, sizeof where, "steps[%d]", k);
        if (!bq_json_str_is(bq_json_get(r->j, s, "op"), "layer")) continue;
        if (get_i(r, s, where, "layer", 0, p->n_layers - 1, &p->steps[p->n_steps])) return -1;
        p->n_steps++;
    }
    return 0;
}

static int read_output(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    const bq_jnode *o = bq_json_get(r->j, root, "output");
    char name[64];
    if (!o || bq_json_str(bq_json_get(r->j, o, "layer"), name, sizeof name)) return bad_field(r, "output", "layer", "is missing");
    p->out_layer = -1;
    for (int i = 0; i < p->n_layers; i++)
        if (!strcmp(p->layers[i].name, name)) p->out_layer = i;
    if (p->out_layer < 0 || p->layers[p->out_layer].obits != 32) return bad_field(r, "output", "layer", "is not a RAW32 layer of 'layers'");
    if (get_i(r, o, "output", "classes", 1, 1 << 16, &p->classes)) return -1;
    if (p->classes != p->layers[p->out_layer].m) return bad_field(r, "output", "classes", "differs from the layer's M");
    const bq_jnode *ls = bq_json_get(r->j, o, "logit_scale");
    if (!ls || ls->type != BQ_J_ARR || ls->count != p->classes)
        return bad_field(r, "output", "logit_scale", "is missing or not one float per class");
    p->logit_scale = calloc((size_t)p->classes, sizeof *p->logit_scale);
    if (!p->logit_scale) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    int c = 0;
    for (const bq_jnode *x = bq_json_first(r->j, ls); x; x = bq_json_next(r->j, x), c++)
        if (bq_json_f32(x, &p->logit_scale[c]) || !(p->logit_scale[c] > 0))
            return bad_field(r, "output", "logit_scale", "holds a value that is not a positive number");
    return 0;
}

/* One test layer: ranges, and sizes against the layer's memory map and tile geometry. */
static int read_tlayer(rd *r, const bq_st_pkg *p, bq_st_test *T, const bq_jnode *x, const char *where) {
    int li;
    if (get_i(r, x, where, "layer", 0, p->n_layers - 1, &li)) return -1;
    const bq_st_layer *L = &p->layers[li];
    bq_st_tlayer *V = &T->layers[li];
    uint64_t gs;
    if (get_range(r, x, where, "act", &V->act) || get_range(r, x, where, "out", &V->out) ||
        get_u(r, x, where, "out_group_stride", &gs))
        return -1;
    const bq_jnode *res = bq_json_get(r->j, x, "res");
    if (res && res->type != BQ_J_NULL && get_range(r, x, where, "res", &V->res)) return -1;
    V->out_gs = (size_t)gs;
    size_t tile = L->obits == 32 ? 4u * (size_t)p->dm * (size_t)p->dn : (size_t)L->obits * p->tpb;
    size_t tiles = (size_t)(L->m_pad / p->dm) * (size_t)(L->n_pad / p->dn);
    if (V->act.size != L->size[BQ_ST_A] || V->res.size != L->size[BQ_ST_RES] || V->out.size != L->size[BQ_ST_OUT])
        return bad_field(r, where, "act/res/out", "size differs from the layer's memory map (mem)");
    if (tile * tiles > V->out_gs || V->out_gs * (size_t)L->groups > V->out.size)
        return bad_field(r, where, "out_group_stride", "does not hold the layer's output tiles");
    return 0;
}

/* A test entry's common part (both versions): its per-layer and logits arrays, image, label,
 * pred. */
static int test_head(rd *r, const bq_st_pkg *p, bq_st_test *T, const bq_jnode *x, const char *where) {
    T->layers = calloc((size_t)p->n_layers, sizeof *T->layers);
    T->logits = calloc((size_t)p->classes, sizeof *T->logits);
    if (!T->layers || !T->logits) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    return get_i(r, x, where, "image", 0, 1 << 30, &T->image) || get_i(r, x, where, "label", 0, p->classes - 1, &T->label) ||
                   get_i(r, x, where, "pred", 0, p->classes - 1, &T->pred)
               ? -1
               : 0;
}

/* A test entry's "logits": one int32 per class (both versions). */
static int test_logits(rd *r, const bq_st_pkg *p, bq_st_test *T, const bq_jnode *x, const char *where) {
    const bq_jnode *lg = bq_json_get(r->j, x, "logits");
    if (!lg || lg->type != BQ_J_ARR || lg->count != p->classes) return bad_field(r, where, "logits", "is missing or not one value per class");
    int c = 0;
    for (const bq_jnode *v = bq_json_first(r->j, lg); v; v = bq_json_next(r->j, v), c++) {
        int64_t z;
        if (bq_json_i64(v, &z) || z < INT32_MIN || z > INT32_MAX) return bad_field(r, where, "logits", "holds a value that is not an int32");
        T->logits[c] = (int32_t)z;
    }
    return 0;
}

static int read_test(rd *r, const bq_st_pkg *p, int t, const bq_jnode *x) {
    bq_st_test *T = &p->tests[t];
    char where[48];
    snprintf(where, sizeof where, "tests[%d]", t);
    if (test_head(r, p, T, x, where) || test_logits(r, p, T, x, where)) return -1;
    const bq_jnode *ls = bq_json_get(r->j, x, "layers");
    if (!ls || ls->type != BQ_J_ARR) return bad_field(r, where, "layers", "is missing");
    int k = 0;
    for (const bq_jnode *v = bq_json_first(r->j, ls); v; v = bq_json_next(r->j, v), k++) {
        char w[128];
        snprintf(w, sizeof w, "%s.layers[%d]", where, k);
        if (read_tlayer(r, p, T, v, w)) return -1;
    }
    for (int s = 0; s < p->n_steps; s++)
        if (T->layers[p->steps[s]].out.size == 0)
            return bad_field(r, where, "layers", "has no vector for a layer of 'steps'");
    return 0;
}

/* The "tests" array, each entry read by `one` (version 2: read_test, version 3: read_test3). */
typedef int (*read_one_test)(rd *r, const bq_st_pkg *p, int t, const bq_jnode *x);
static int read_tests(rd *r, bq_st_pkg *p, const bq_jnode *root, read_one_test one) {
    const bq_jnode *ts = bq_json_get(r->j, root, "tests");
    if (!ts || ts->type != BQ_J_ARR) return bad_field(r, "", "tests", "is missing");
    if (ts->count == 0) {
        bq_seterr(r->err, r->errlen, "%s: the package has no self-test vectors; export it with `--tests N` (N >= 1)", r->file);
        return -1;
    }
    p->tests = calloc((size_t)ts->count, sizeof *p->tests);
    if (!p->tests) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    int t = 0;
    for (const bq_jnode *x = bq_json_first(r->j, ts); x; x = bq_json_next(r->j, x), t++) {
        p->n_tests = t + 1;   /* freed by bq_st_pkg_free even if this one fails */
        if (one(r, p, t, x)) return -1;
    }
    return 0;
}

/* Every range the driver uses, by its CRC-32 (names the part), before the whole files. */
static int check_ranges(rd *r, const bq_st_pkg *p) {
    static const char *const st[3] = {"fetch", "execute", "result"};
    char part[96];
    for (int i = 0; i < p->n_layers; i++) {
        const bq_st_layer *L = &p->layers[i];
        snprintf(part, sizeof part, "layers[%d].weights", i);
        if (check_range(r, "weights.bin", p->weights, p->weights_len, &L->w, part)) return -1;
        snprintf(part, sizeof part, "layers[%d].requant", i);
        if (check_range(r, "requant.bin", p->requant, p->requant_len, &L->rq, part)) return -1;
        for (int s = 0; s < 3; s++) {
            snprintf(part, sizeof part, "layers[%d].programs.%s", i, st[s]);
            if (check_range(r, "programs.bin", p->programs, p->programs_len, &L->prog[s], part)) return -1;
        }
    }
    for (int t = 0; t < p->n_tests; t++)
        for (int s = 0; s < p->n_steps; s++) {
            int li = p->steps[s];
            const bq_st_tlayer *V = &p->tests[t].layers[li];
            const bq_st_range *rg[3] = {&V->act, &V->res, &V->out};
            static const char *const nm[3] = {"act", "res", "out"};
            for (int k = 0; k < 3; k++) {
                snprintf(part, sizeof part, "tests[%d].layers[%d].%s", t, li, nm[k]);
                if (rg[k]->size && check_range(r, "tests.bin", p->tests_bin, p->tests_len, rg[k], part)) return -1;
            }
        }
    return 0;
}

/* Each .bin's size and whole-file CRC-32 (covers the alignment padding between ranges). */
static int check_files(rd *r, const bq_st_pkg *p, const bq_jnode *root) {
    const char *names[4] = {"weights.bin", "requant.bin", "programs.bin", "tests.bin"};
    const uint8_t *bufs[4] = {p->weights, p->requant, p->programs, p->tests_bin};
    size_t lens[4] = {p->weights_len, p->requant_len, p->programs_len, p->tests_len};
    const bq_jnode *fs = bq_json_get(r->j, root, "files");
    for (int i = 0; i < 4; i++) {
        const bq_jnode *f = bq_json_first(r->j, fs);
        while (f && !bq_json_str_is(bq_json_get(r->j, f, "name"), names[i])) f = bq_json_next(r->j, f);
        uint64_t size, crc;
        char w[40];
        snprintf(w, sizeof w, "files[%s]", names[i]);
        if (!f) return bad_field(r, "files", names[i], "is not listed");
        if (get_u(r, f, w, "size", &size) || get_hex(r, f, w, "crc32", &crc)) return -1;
        uint32_t c = (uint32_t)crc32(0L, bufs[i], (uInt)lens[i]);
        if (size != lens[i] || c != (uint32_t)crc) {
            bq_seterr(r->err, r->errlen, "%s/%s: %zu bytes with CRC-32 %08x, the manifest says %llu bytes, %08llx "
                      "(corrupted, truncated or replaced); %s", r->dir, names[i], lens[i], c,
                      (unsigned long long)size, (unsigned long long)crc, fix);
            return -1;
        }
    }
    return 0;
}

/* ---- format version 3: the whole-network package ---- */

static int read_tensors3(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    const bq_jnode *ts = bq_json_get(r->j, bq_json_get(r->j, root, "memory"), "tensors");
    if (!ts || ts->type != BQ_J_ARR || ts->count < 2) return bad_field(r, "memory", "tensors", "is missing or lists fewer than 2 tensors");
    p->n_tensors = ts->count;
    p->tensors = calloc((size_t)p->n_tensors, sizeof *p->tensors);
    if (!p->tensors) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    int k = 0;
    for (const bq_jnode *x = bq_json_first(r->j, ts); x; x = bq_json_next(r->j, x), k++) {
        bq_st_tensor *T = &p->tensors[k];
        char where[48];
        snprintf(where, sizeof where, "memory.tensors[%d]", k);
        if (bq_json_str(bq_json_get(r->j, x, "name"), T->name, sizeof T->name)) return bad_field(r, where, "name", "is missing");
        T->raw32 = bq_json_str_is(bq_json_get(r->j, x, "layout"), "raw32_tiles");
        if (!T->raw32 && !bq_json_str_is(bq_json_get(r->j, x, "layout"), "hwc_u8"))
            return bad_field(r, where, "layout", "is not hwc_u8 or raw32_tiles");
        if (get_u(r, x, where, "addr", &T->addr) || get_u(r, x, where, "bytes", &T->bytes) ||
            get_i(r, x, where, "c", 1, 1 << 20, &T->c) || get_i(r, x, where, "h", 1, 1 << 16, &T->h) ||
            get_i(r, x, where, "w", 1, 1 << 16, &T->w) || get_i(r, x, where, "cs", 0, 1 << 20, &T->cs))
            return -1;
        uint64_t need = T->raw32 ? 4ull * (uint64_t)T->c * (uint64_t)T->h * (uint64_t)T->w
                                 : (uint64_t)T->h * (uint64_t)T->w * (uint64_t)T->cs;
        if (T->raw32 ? T->bytes < need : T->cs < T->c || T->bytes != need)
            return bad_field(r, where, "bytes/cs", "does not hold the tensor's shape");
    }
    return 0;
}

static int read_layer3(rd *r, bq_st_pkg *p, int i, const bq_jnode *l) {
    bq_st_layer *L = &p->layers[i];
    char where[48], out[64];
    snprintf(where, sizeof where, "layers[%d]", i);
    const bq_jnode *rw = bq_json_get(r->j, l, "raw32");
    if (bq_json_str(bq_json_get(r->j, l, "name"), L->name, sizeof L->name)) return bad_field(r, where, "name", "is missing");
    if (bq_json_str(bq_json_get(r->j, l, "out"), out, sizeof out)) return bad_field(r, where, "out", "is missing");
    if (!rw || rw->type != BQ_J_BOOL) return bad_field(r, where, "raw32", "is missing or not true/false");
    if (get_i(r, l, where, "index", i, i, &L->index) || get_i(r, l, where, "cout", 1, 1 << 20, &L->m) ||
        get_i(r, l, where, "M_pad", 1, 1 << 20, &L->m_pad) || get_i(r, l, where, "N_pad", 1, 1 << 24, &L->n_pad) ||
        get_int(r, l, where, "cycles", 0, (int64_t)1 << 50, &L->cycles) ||
        get_u(r, l, where, "w_addr", &L->addr[BQ_ST_W]) || get_u(r, l, where, "rq_addr", &L->addr[BQ_ST_RQ]) ||
        get_range(r, l, where, "weights", &L->w) || get_range(r, l, where, "requant", &L->rq))
        return -1;
    L->out_tensor = 1 + i;
    const bq_st_tensor *T = &p->tensors[1 + i];
    if (strcmp(T->name, out) || T->c != L->m || T->raw32 != rw->boolean)
        return bad_field(r, where, "out", "is not memory.tensors[1 + index] with cout channels and its layout");
    L->groups = 1;
    L->n = T->h * T->w;
    L->hout = T->h;
    L->wout = T->w;
    L->obits = T->raw32 ? 32 : 8;
    /* M_pad pads a group's rows (depthwise: 1 row per group); only the RAW32 tiles are walked */
    if (L->m_pad % p->dm || L->n_pad % p->dn || L->n > L->n_pad ||
        (T->raw32 && (L->m > L->m_pad || T->bytes < 4ull * (uint64_t)L->m_pad * (uint64_t)L->n_pad)))
        return bad_field(r, where, "M_pad/N_pad", "is not the padding of cout / the pixels to the array, or the RAW32 tensor is smaller");
    L->size[BQ_ST_W] = L->w.size;
    L->size[BQ_ST_RQ] = L->rq.size;
    return 0;
}

static int read_layers3(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    const bq_jnode *ls = bq_json_get(r->j, root, "layers"), *pr = bq_json_get(r->j, root, "program");
    static const char *const st[3] = {"fetch", "execute", "result"};
    if (!ls || ls->type != BQ_J_ARR || ls->count != p->n_tensors - 1)
        return bad_field(r, "", "layers", "is missing or not one layer per output tensor");
    p->n_layers = p->n_steps = ls->count;
    p->layers = calloc((size_t)p->n_layers, sizeof *p->layers);
    p->steps = calloc((size_t)p->n_layers, sizeof *p->steps);
    if (!p->layers || !p->steps) { bq_seterr(r->err, r->errlen, "out of memory"); return -1; }
    int i = 0;
    for (const bq_jnode *l = bq_json_first(r->j, ls); l; l = bq_json_next(r->j, l), i++) {
        p->steps[i] = i;
        if (read_layer3(r, p, i, l)) return -1;
    }
    if (!pr) return bad_field(r, "", "program", "is missing");
    for (int s = 0; s < 3; s++) {
        if (get_range(r, pr, "program", st[s], &p->program[s])) return -1;
        if (p->program[s].size % 16) return bad_field(r, "program", st[s], "size is not a whole number of 16-byte instructions");
    }
    return get_int(r, root, "", "cycles", 1, (int64_t)1 << 50, &p->cycles);
}

static int read_test3(rd *r, const bq_st_pkg *p, int t, const bq_jnode *x) {
    bq_st_test *T = &p->tests[t];
    char where[48];
    snprintf(where, sizeof where, "tests[%d]", t);
    if (test_head(r, p, T, x, where) || get_range(r, x, where, "input", &T->input)) return -1;
    if (T->input.size != p->tensors[0].bytes) return bad_field(r, where, "input", "size differs from memory.tensors[0].bytes");
    if (test_logits(r, p, T, x, where)) return -1;
    const bq_jnode *ls = bq_json_get(r->j, x, "layers");
    if (!ls || ls->type != BQ_J_ARR || ls->count != p->n_layers) return bad_field(r, where, "layers", "is missing or not one entry per layer");
    int k = 0;
    for (const bq_jnode *v = bq_json_first(r->j, ls); v; v = bq_json_next(r->j, v), k++) {
        char w[96];
        int li;
        snprintf(w, sizeof w, "%s.layers[%d]", where, k);
        if (get_i(r, v, w, "layer", k, k, &li) || get_range(r, v, w, "out", &T->layers[k].out)) return -1;
        if (T->layers[k].out.size != p->tensors[1 + k].bytes) return bad_field(r, w, "out", "size differs from the layer's tensor bytes");
    }
    return 0;
}

static int check_ranges3(rd *r, const bq_st_pkg *p) {
    static const char *const st[3] = {"fetch", "execute", "result"};
    char part[96];
    for (int i = 0; i < p->n_layers; i++) {
        snprintf(part, sizeof part, "layers[%d].weights", i);
        if (check_range(r, "weights.bin", p->weights, p->weights_len, &p->layers[i].w, part)) return -1;
        snprintf(part, sizeof part, "layers[%d].requant", i);
        if (check_range(r, "requant.bin", p->requant, p->requant_len, &p->layers[i].rq, part)) return -1;
    }
    for (int s = 0; s < 3; s++) {
        snprintf(part, sizeof part, "program.%s", st[s]);
        if (check_range(r, "programs.bin", p->programs, p->programs_len, &p->program[s], part)) return -1;
    }
    for (int t = 0; t < p->n_tests; t++) {
        snprintf(part, sizeof part, "tests[%d].input", t);
        if (check_range(r, "tests.bin", p->tests_bin, p->tests_len, &p->tests[t].input, part)) return -1;
        for (int i = 0; i < p->n_layers; i++) {
            snprintf(part, sizeof part, "tests[%d].layers[%d].out", t, i);
            if (check_range(r, "tests.bin", p->tests_bin, p->tests_len, &p->tests[t].layers[i].out, part)) return -1;
        }
    }
    return 0;
}

static int read_manifest(rd *r, bq_st_pkg *p, const bq_jnode *root) {
    int64_t version;
    if (!bq_json_str_is(bq_json_get(r->j, root, "format"), "brecq-export"))
        return bad_field(r, "", "format", "is not \"brecq-export\"");
    if (get_int(r, root, "", "version", 2, 3, &version)) return -1;
    p->version = (int)version;
    if (version == 3)
        return read_hw(r, p, root) || read_tensors3(r, p, root) || read_layers3(r, p, root) ||
               read_output(r, p, root) || read_tests(r, p, root, read_test3) ? -1 : 0;
    return read_hw(r, p, root) || read_layers(r, p, root) || read_steps(r, p, root) || read_output(r, p, root) ||
           read_tests(r, p, root, read_test) ? -1 : 0;
}

int bq_st_pkg_load(bq_st_pkg *p, const char *dir, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    rd r = {NULL, p->dir, "", err, errlen};
    snprintf(r.file, sizeof r.file, "%s/manifest.json", dir);
    uint8_t *text = NULL;
    size_t len = 0;
    bq_json j = {0};
    int rc = -1;
    if (read_file(&r, "manifest.json", &text, &len) || check_manifest_crc(&r, (const char *)text, len)) goto out;
    char why[200];
    if (bq_json_parse(&j, (const char *)text, len, why, sizeof why)) {
        bq_seterr(err, errlen, "%s: %s (not JSON); %s", r.file, why, fix);
        goto out;
    }
    r.j = &j;
    const bq_jnode *root = bq_json_root(&j);
    if (read_manifest(&r, p, root) || read_file(&r, "weights.bin", &p->weights, &p->weights_len) ||
        read_file(&r, "requant.bin", &p->requant, &p->requant_len) ||
        read_file(&r, "programs.bin", &p->programs, &p->programs_len) ||
        read_file(&r, "tests.bin", &p->tests_bin, &p->tests_len) ||
        (p->version == 3 ? check_ranges3(&r, p) : check_ranges(&r, p)) || check_files(&r, p, root))
        goto out;
    rc = 0;
out:
    bq_json_free(&j);
    free(text);
    if (rc) bq_st_pkg_free(p);
    return rc;
}

void bq_st_pkg_free(bq_st_pkg *p) {
    for (int t = 0; t < p->n_tests; t++) { free(p->tests[t].layers); free(p->tests[t].logits); }
    free(p->tests);
    free(p->tensors);
    free(p->layers);
    free(p->steps);
    free(p->logit_scale);
    free(p->weights);
    free(p->requant);
    free(p->programs);
    free(p->tests_bin);
    memset(p, 0, sizeof *p);
}
