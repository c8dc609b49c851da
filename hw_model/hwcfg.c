/*
 * hwcfg.c — table-driven libyaml loader of the accelerator configuration. See hwcfg.h.
 *
 * Every key is one row of kSchema: dotted path, type, legal range, flags and the field it fills.
 * The loader walks the YAML document, matches each key to its row, checks type and range at the
 * value's position, then checks required keys and the cross-field rules (bq_hwcfg_validate's
 * rules, reported at the position of the key involved).
 */
#include "core/yamldoc.h"
#include "core/errmsg.h"
#include "hwcfg.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { HT_INT, HT_FLOAT, HT_STR };
enum { HF_POW2 = 1u, HF_OPTIONAL = 2u };

typedef struct {
    const char *key;   /* dotted path in the YAML */
    int type;          /* HT_* */
    double min, max;   /* inclusive range (numbers); length range (strings) */
    unsigned flags;    /* HF_* */
    size_t off;        /* offset of the field in bq_hwcfg */
    const char *what;  /* one-line meaning, for messages and docs */
    double def;        /* default of an optional key (HF_OPTIONAL) */
} hwcfg_row;

#define ROW(k, t, lo, hi, fl, field, w) {k, t, lo, hi, fl, offsetof(bq_hwcfg, field), w, 0}
#define OPT(k, t, lo, hi, fl, field, w, d) \
    {k, t, lo, hi, (fl) | HF_OPTIONAL, offsetof(bq_hwcfg, field), w, d}
static const hwcfg_row kSchema[] = {
    ROW("name", HT_STR, 1, BQ_HWCFG_NAME_MAX - 1, 0, name, "configuration name [A-Za-z0-9_-]"),
    ROW("clock_mhz", HT_FLOAT, 0.001, 5000, 0, clock_mhz, "clock frequency in MHz"),
    ROW("array.dm", HT_INT, 1, 128, 0, dm, "rows of dot-product units (output channels per tile)"),
    ROW("array.dn", HT_INT, 1, 128, 0, dn, "columns of dot-product units (output pixels per tile)"),
    ROW("array.dk", HT_INT, 8, 4096, HF_POW2, dk, "bits of one bit-plane per DPU per cycle"),
    ROW("array.acc_bits", HT_INT, 32, 32, 0, acc_bits,
        "accumulator width in bits; the RTL implements 32"),
    OPT("array.res_lanes", HT_INT, 1, 65536, 0, res_lanes,
        "output-stage lanes (elements requantised in parallel)", 1),
    ROW("buffers.weight_depth", HT_INT, 2, 65536, HF_POW2, weight_depth,
        "Dk-bit words per weight bank"),
    ROW("buffers.act_depth", HT_INT, 2, 65536, HF_POW2, act_depth,
        "Dk-bit words per activation bank"),
    ROW("buffers.regions", HT_INT, 1, 16, HF_POW2, regions, "regions per weight/activation buffer"),
    ROW("buffers.requant_depth", HT_INT, 1, 65536, 0, requant_depth,
        "channels held by the requant RAM"),
    ROW("memory.width_bits", HT_INT, 32, 128, HF_POW2, mem_width_bits,
        "memory port data width: 32, 64 or 128"),
    ROW("memory.read_bytes_per_cycle", HT_INT, 1, 128, 0, read_bytes_per_cycle,
        "read bandwidth in bytes/cycle"),
    ROW("memory.write_bytes_per_cycle", HT_INT, 1, 128, 0, write_bytes_per_cycle,
        "write bandwidth in bytes/cycle"),
    ROW("memory.read_latency", HT_INT, 1, 100000, 0, read_latency,
        "cycles from read request to first data beat"),
    ROW("memory.write_latency", HT_INT, 1, 100000, 0, write_latency,
        "cycles from the last write beat to the response"),
};
#undef ROW
enum { NROWS = (int)(sizeof kSchema / sizeof kSchema[0]) };

static int is_pow2(long long v) { return v > 0 && (v & (v - 1)) == 0; }

static int find_row(const char *path) {
    for (int i = 0; i < NROWS; i++)
        if (strcmp(kSchema[i].key, path) == 0) return i;
    return -1;
}

/* Is `path` a section (a prefix "path." of some row)? */
static int is_section(const char *path) {
    size_t n = strlen(path);
    for (int i = 0; i < NROWS; i++)
        if (strncmp(kSchema[i].key, path, n) == 0 && kSchema[i].key[n] == '.') return 1;
    return 0;
}

/* Comma-separated list of the keys directly under section `prefix` ("" = top level). */
static void known_keys(const char *prefix, char *buf, size_t len) {
    size_t n = strlen(prefix), used = 0;
    buf[0] = 0;
    const char *seen[NROWS];
    int nseen = 0;
    for (int i = 0; i < NROWS; i++) {
        const char *k = kSchema[i].key;
        if (n && (strncmp(k, prefix, n) != 0 || k[n] != '.')) continue;
        const char *rest = n ? k + n + 1 : k;
        size_t l = strcspn(rest, ".");
        int dup = 0;
        for (int j = 0; j < nseen; j++)
            if (strlen(seen[j]) >= l && strncmp(seen[j], rest, l) == 0 &&
                (seen[j][l] == 0 || seen[j][l] == '.'))
                dup = 1;
        if (dup) continue;
        seen[nseen++] = rest;
        int w = snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)l, rest);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
    }
}

typedef struct {
    const char *fname;
    char *err;
    size_t errlen;
    yaml_document_t *doc;
    bq_hwcfg *cfg;
    yaml_mark_t mark[NROWS];    /* where each key's value was found */
    int seen[NROWS];
    yaml_mark_t sec_mark[8];    /* sections: where their mapping starts, for "missing" errors */
    char sec_name[8][32];
    int nsec;
} loader;

#define POS(m) ld->fname, (int)(m).line + 1, (int)(m).column + 1

static int scalar_text(const yaml_node_t *n, const char **s) {
    if (n->type != YAML_SCALAR_NODE) return -1;
    *s = (const char *)n->data.scalar.value;
    return 0;
}

static int set_value(loader *ld, int r, const yaml_node_t *v) {
    const hwcfg_row *row = &kSchema[r];
    const char *s;
    char *end;
    if (scalar_text(v, &s) != 0) {
        bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be %s, got a %s; write '%s: <value>'",
               POS(v->start_mark), row->key,
               row->type == HT_STR ? "a string" : row->type == HT_INT ? "an integer" : "a number",
               v->type == YAML_MAPPING_NODE ? "mapping" : "sequence", strrchr(row->key, '.')
               ? strrchr(row->key, '.') + 1 : row->key);
        return -1;
    }
    int quoted = v->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                 v->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    char *field = (char *)ld->cfg + row->off;
    if (row->type == HT_STR) {
        size_t l = strlen(s);
        if (l < (size_t)row->min || l > (size_t)row->max) {
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be %d..%d characters long, got %zu",
                   POS(v->start_mark), row->key, (int)row->min, (int)row->max, l);
            return -1;
        }
        for (size_t i = 0; i < l; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-')) {
                bq_seterr(ld->err, ld->errlen,
                       "%s:%d:%d: '%s' must use only letters, digits, '_' and '-', got '%s'",
                       POS(v->start_mark), row->key, s);
                return -1;
            }
        }
        memcpy(field, s, l + 1);
        return 0;
    }
    if (row->type == HT_INT) {
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (quoted || *s == 0 || *end != 0 || errno) {
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be an integer, got '%s'",
                   POS(v->start_mark), row->key, s);
            return -1;
        }
        if ((double)x < row->min || (double)x > row->max) {
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be in [%.0f, %.0f] (%s), got %lld",
                   POS(v->start_mark), row->key, row->min, row->max, row->what, x);
            return -1;
        }
        if ((row->flags & HF_POW2) && !is_pow2(x)) {
            bq_seterr(ld->err, ld->errlen,
                   "%s:%d:%d: '%s' must be a power of two (%s), got %lld", POS(v->start_mark),
                   row->key, row->what, x);
            return -1;
        }
        *(int *)field = (int)x;
        return 0;
    }
    errno = 0;
    double x = strtod(s, &end);
    if (quoted || *s == 0 || *end != 0 || errno || !isfinite(x)) {
        bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be a number, got '%s'",
               POS(v->start_mark), row->key, s);
        return -1;
    }
    if (x < row->min || x > row->max) {
        bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be in [%g, %g] (%s), got %g",
               POS(v->start_mark), row->key, row->min, row->max, row->what, x);
        return -1;
    }
    *(double *)field = x;
    return 0;
}

/* Walk a mapping node whose dotted path is `prefix` ("" for the root). */
static int walk(loader *ld, const yaml_node_t *map, const char *prefix) {
    if (map->type != YAML_MAPPING_NODE) {
        if (*prefix)
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: '%s' must be a mapping of keys (indented "
                   "'key: value' lines)", POS(map->start_mark), prefix);
        else
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: the document must be a mapping of keys "
                   "(name, clock_mhz, array, buffers, memory)", POS(map->start_mark));
        return -1;
    }
    if (*prefix && ld->nsec < 8) {
        ld->sec_mark[ld->nsec] = map->start_mark;
        snprintf(ld->sec_name[ld->nsec], sizeof ld->sec_name[0], "%s", prefix);
        ld->nsec++;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        const char *ks;
        if (!k || !v || scalar_text(k, &ks) != 0) {
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: keys must be plain words",
                   POS(k ? k->start_mark : map->start_mark));
            return -1;
        }
        char path[96];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", ks) >=
            (int)sizeof path) {
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: key '%s' is too long", POS(k->start_mark),
                   ks);
            return -1;
        }
        int r = find_row(path);
        if (r >= 0) {
            if (ld->seen[r]) {
                bq_seterr(ld->err, ld->errlen, "%s:%d:%d: duplicate key '%s' (first given at line "
                       "%d); keep one", POS(k->start_mark), path, (int)ld->mark[r].line + 1);
                return -1;
            }
            ld->seen[r] = 1;
            ld->mark[r] = v->start_mark;
            if (set_value(ld, r, v) != 0) return -1;
        } else if (is_section(path)) {
            for (int i = 0; i < ld->nsec; i++)
                if (strcmp(ld->sec_name[i], path) == 0) {
                    bq_seterr(ld->err, ld->errlen, "%s:%d:%d: duplicate section '%s' (first given "
                           "at line %d); merge them", POS(k->start_mark), path,
                           (int)ld->sec_mark[i].line + 1);
                    return -1;
                }
            if (walk(ld, v, path) != 0) return -1;
        } else {
            char known[256];
            known_keys(prefix, known, sizeof known);
            bq_seterr(ld->err, ld->errlen, "%s:%d:%d: unknown key '%s'; known keys%s%s%s: %s",
                   POS(k->start_mark), path, *prefix ? " in '" : "", prefix,
                   *prefix ? "'" : "", known);
            return -1;
        }
    }
    return 0;
}

/* Cross-field rules. `marks` may be NULL (no positions). Returns 0 or -1 with err filled. */
static int check_rules(const bq_hwcfg *c, const char *fname, const yaml_mark_t *marks, char *err,
                       size_t errlen) {
    char pos[300] = "";
#define AT(key)                                                                               \
    do {                                                                                      \
        int r_ = find_row(key);                                                               \
        if (marks && r_ >= 0)                                                                 \
            snprintf(pos, sizeof pos, "%s:%d:%d: ", fname, (int)marks[r_].line + 1,           \
                     (int)marks[r_].column + 1);                                              \
    } while (0)
    if (c->read_bytes_per_cycle * 8 > c->mem_width_bits) {
        AT("memory.read_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.read_bytes_per_cycle' must not exceed memory.width_bits/8 "
               "= %d (one beat per cycle at most), got %d", pos, c->mem_width_bits / 8,
               c->read_bytes_per_cycle);
        return -1;
    }
    if (c->write_bytes_per_cycle * 8 > c->mem_width_bits) {
        AT("memory.write_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.write_bytes_per_cycle' must not exceed memory.width_bits/8"
               " = %d (one beat per cycle at most), got %d", pos, c->mem_width_bits / 8,
               c->write_bytes_per_cycle);
        return -1;
    }
    if ((c->mem_width_bits / 8) % c->read_bytes_per_cycle != 0) {
        AT("memory.read_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.read_bytes_per_cycle' must divide memory.width_bits/8 = %d"
               " (a beat every whole number of cycles), got %d", pos, c->mem_width_bits / 8,
               c->read_bytes_per_cycle);
        return -1;
    }
    if ((c->mem_width_bits / 8) % c->write_bytes_per_cycle != 0) {
        AT("memory.write_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.write_bytes_per_cycle' must divide memory.width_bits/8 = "
               "%d (a beat every whole number of cycles), got %d", pos, c->mem_width_bits / 8,
               c->write_bytes_per_cycle);
        return -1;
    }
    if (c->regions > c->weight_depth / 2 || c->regions > c->act_depth / 2) {
        AT("buffers.regions");
        bq_seterr(err, errlen, "%s'buffers.regions' must leave at least 2 words per region of "
               "weight_depth (%d) and act_depth (%d), got %d", pos, c->weight_depth,
               c->act_depth, c->regions);
        return -1;
    }
    {
        int wdk = c->mem_width_bits / c->dk;   /* words of Dk bits per memory beat (0 if Dk >= W) */
        if (c->dk < c->mem_width_bits && (c->dm % wdk || c->dn % wdk)) {
            AT("array.dk");
            bq_seterr(err, errlen, "%s'array.dk' (%d) is narrower than memory.width_bits (%d), so "
                   "array.dm (%d) and array.dn (%d) must be multiples of width/dk = %d; widen dk "
                   "or change dm/dn", pos, c->dk, c->mem_width_bits, c->dm, c->dn, wdk);
            return -1;
        }
    }
    if ((c->dm * c->dn * 32) % c->mem_width_bits != 0) {
        AT("array.dn");
        bq_seterr(err, errlen, "%sarray.dm*dn*32 (%d) must be a multiple of memory.width_bits (%d) "
               "so a RAW32 output tile is whole beats; change dm or dn", pos,
               c->dm * c->dn * 32, c->mem_width_bits);
        return -1;
    }
    if (c->dm % c->res_lanes != 0) {   /* the result stage drains whole rows (hw_isa §1) */
        AT("array.res_lanes");
        bq_seterr(err, errlen, "%s'array.res_lanes' (%d) must divide array.dm (%d)", pos,
               c->res_lanes, c->dm);
        return -1;
    }
    if (c->requant_depth % c->dm != 0) {
        AT("buffers.requant_depth");
        bq_seterr(err, errlen, "%s'buffers.requant_depth' (%d) must be a multiple of array.dm (%d): "
               "one requant bank per row", pos, c->requant_depth, c->dm);
        return -1;
    }
    if (c->requant_depth / c->dm < 2 || c->requant_depth / c->dm > 256) {
        AT("buffers.requant_depth");
        bq_seterr(err, errlen, "%s'buffers.requant_depth' (%d) must hold 2..256 entries per bank "
               "(array.dm = %d banks; the entry index is 8 bits): use %d..%d", pos,
               c->requant_depth, c->dm, 2 * c->dm, 256 * c->dm);
        return -1;
    }
#undef AT
    return 0;
}

int bq_hwcfg_validate(const bq_hwcfg *cfg, char *err, size_t errlen) {
    for (int r = 0; r < NROWS; r++) {
        const hwcfg_row *row = &kSchema[r];
        const char *field = (const char *)cfg + row->off;
        if (row->type == HT_INT) {
            int x = *(const int *)field;
            if (x < row->min || x > row->max || ((row->flags & HF_POW2) && !is_pow2(x))) {
                bq_seterr(err, errlen, "'%s' must be in [%.0f, %.0f]%s (%s), got %d", row->key,
                       row->min, row->max, row->flags & HF_POW2 ? " and a power of two" : "",
                       row->what, x);
                return -1;
            }
        } else if (row->type == HT_FLOAT) {
            double x = *(const double *)field;
            if (!(x >= row->min && x <= row->max)) {
                bq_seterr(err, errlen, "'%s' must be in [%g, %g] (%s), got %g", row->key, row->min,
                       row->max, row->what, x);
                return -1;
            }
        } else {
            size_t l = strnlen(field, BQ_HWCFG_NAME_MAX);
            if (l < 1 || l >= BQ_HWCFG_NAME_MAX) {
                bq_seterr(err, errlen, "'%s' must be 1..%d characters", row->key,
                       BQ_HWCFG_NAME_MAX - 1);
                return -1;
            }
        }
    }
    return check_rules(cfg, "", NULL, err, errlen);
}

int bq_hwcfg_parse(bq_hwcfg *cfg, const char *text, size_t len, const char *fname, char *err,
                   size_t errlen) {
    yaml_document_t doc;
    int rc = -1, have_doc = 0;
    loader L;
    memset(&L, 0, sizeof L);
    loader *ld = &L;
    memset(cfg, 0, sizeof *cfg);
    L.fname = fname ? fname : "<config>";
    L.err = err;
    L.errlen = errlen;
    L.doc = &doc;
    L.cfg = cfg;
    if (bq_yaml_load(&doc, text, len, L.fname, err, errlen)) goto cleanup;
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        bq_seterr(err, errlen, "%s:1:1: the file is empty; it must define name, clock_mhz, array, "
               "buffers and memory (see docs/hw_config.md)", L.fname);
        goto cleanup;
    }
    if (walk(ld, root, "") != 0) goto cleanup;
    for (int r = 0; r < NROWS; r++) {
        if (L.seen[r]) continue;
        if (kSchema[r].flags & HF_OPTIONAL) {
            L.mark[r] = root->start_mark;
            char *field = (char *)cfg + kSchema[r].off;
            if (kSchema[r].type == HT_INT) *(int *)field = (int)kSchema[r].def;
            else if (kSchema[r].type == HT_FLOAT) *(double *)field = kSchema[r].def;
            continue;
        }
        const char *key = kSchema[r].key;
        const char *dot = strrchr(key, '.');
        yaml_mark_t m = root->start_mark;
        char sec[32] = "";
        if (dot) {
            snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
            for (int i = 0; i < L.nsec; i++)
                if (strcmp(L.sec_name[i], sec) == 0) m = L.sec_mark[i];
        }
        bq_seterr(err, errlen, "%s:%d:%d: missing required key '%s' (%s)%s%s%s; add '%s: <value>'",
               POS(m), key, kSchema[r].what, dot ? " in section '" : "", sec, dot ? "'" : "",
               dot ? dot + 1 : key);
        goto cleanup;
    }
    if (check_rules(cfg, L.fname, L.mark, err, errlen) != 0) goto cleanup;
    cfg->hash = bq_hwcfg_hash(cfg);
    rc = 0;
cleanup:
    if (have_doc) yaml_document_delete(&doc);
    return rc;
}
#undef POS

int bq_hwcfg_load(bq_hwcfg *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bq_seterr(err, errlen, "%s: cannot open accelerator config: %s; pass a file like "
               "configs/hw/tiny.yaml", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (1u << 24)) {
                bq_seterr(err, errlen, "%s: file too large for an accelerator config", path);
                goto cleanup;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                bq_seterr(err, errlen, "%s: out of memory", path);
                goto cleanup;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        bq_seterr(err, errlen, "%s: read error", path);
        goto cleanup;
    }
    rc = bq_hwcfg_parse(cfg, buf, len, path, err, errlen);
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

int bq_hwcfg_canonical(const bq_hwcfg *cfg, char *buf, size_t buflen) {
    size_t used = 0;
    int need = 0;
    for (int r = 0; r < NROWS; r++) {
        const hwcfg_row *row = &kSchema[r];
        const char *field = (const char *)cfg + row->off;
        int w;
        char tmp[128];
        if (row->type == HT_STR) continue;   /* the name is not part of the identity */
        if (row->type == HT_INT)
            w = snprintf(tmp, sizeof tmp, "%s=%d;", row->key, *(const int *)field);
        else
            w = snprintf(tmp, sizeof tmp, "%s=%.17g;", row->key, *(const double *)field);
        need += w;
        if (buf && used + (size_t)w < buflen) {
            memcpy(buf + used, tmp, (size_t)w + 1);
            used += (size_t)w;
        }
    }
    return need;
}

uint64_t bq_hwcfg_hash(const bq_hwcfg *cfg) {
    char buf[1024];
    int n = bq_hwcfg_canonical(cfg, buf, sizeof buf);
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a 64 */
    for (int i = 0; i < n; i++) {
        h ^= (unsigned char)buf[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

double bq_hwcfg_peak_binops(const bq_hwcfg *cfg) {
    return 2.0 * cfg->dm * cfg->dn * cfg->dk;
}
