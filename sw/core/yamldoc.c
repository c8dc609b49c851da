/* yamldoc.c — see yamldoc.h. */
#include "core/yamldoc.h"

#include "core/errmsg.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Hard caps on a YAML configuration file (docs/reliability.md): the largest shipped config is a
 * few KB and the schemas nest 3 levels deep. */
#define BQ_YAML_MAX_BYTES (1 << 20)
#define BQ_YAML_MAX_DEPTH 32

/* Deepest nesting of flow collections ([ and {) outside quotes and comments, stopping at the
 * first place that exceeds BQ_YAML_MAX_DEPTH (its 1-based line and column go to *line, *col).
 * A pre-scan, because libyaml has no depth limit and its scanner is quadratic in the depth: a
 * 400 KB file of '[' ran for minutes before returning its first token. */
static int flow_depth_ok(const char *t, size_t len, size_t *line, size_t *col) {
    int depth = 0;
    char quote = 0;
    size_t ln = 1, cl = 1;
    for (size_t i = 0; i < len; i++, cl++) {
        char ch = t[i];
        if (ch == '\n') { ln++; cl = 0; continue; }
        if (quote) {
            if (quote == '"' && ch == '\\' && i + 1 < len) { i++; cl++; }
            else if (ch == quote) quote = 0;
            continue;
        }
        if (ch == '#' && (i == 0 || t[i - 1] == ' ' || t[i - 1] == '\t' || t[i - 1] == '\n')) {
            while (i + 1 < len && t[i + 1] != '\n') i++;
            continue;
        }
        if (ch == '"' || ch == '\'') quote = ch;
        else if (ch == '[' || ch == '{') {
            if (++depth > BQ_YAML_MAX_DEPTH) { *line = ln; *col = cl; return 0; }
        } else if ((ch == ']' || ch == '}') && depth > 0) depth--;
    }
    return 1;
}

int bq_yaml_load(yaml_document_t *doc, const void *text, size_t len, const char *fname, char *err,
                 size_t errlen) {
    if (len > BQ_YAML_MAX_BYTES) {
        bq_seterr(err, errlen, "%s: %zu bytes, above the %d-byte cap for YAML configuration files; "
                  "pass the intended (small) configuration file", fname, len, BQ_YAML_MAX_BYTES);
        return -1;
    }
    size_t dl, dc;
    if (!flow_depth_ok(text, len, &dl, &dc)) {
        bq_seterr(err, errlen, "%s:%zu:%zu: YAML nesting deeper than %d levels of [ ] / { }; "
                  "configuration files are flat mappings, remove the extra brackets", fname, dl, dc,
                  BQ_YAML_MAX_DEPTH);
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        bq_seterr(err, errlen, "%s: out of memory initialising the YAML parser", fname);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&parser, doc)) {
        /* libyaml marks are 0-based; editors count from 1 */
        bq_seterr(err, errlen, "%s:%zu:%zu: YAML syntax error: %s%s%s", fname,
                  parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                  parser.problem ? parser.problem : "unknown problem", parser.context ? " " : "",
                  parser.context ? parser.context : "");
        rc = -1;
    } else {
        /* A second document in the same file is almost certainly a mistake (a pasted config). */
        yaml_document_t doc2;
        if (yaml_parser_load(&parser, &doc2)) {
            const yaml_node_t *root2 = yaml_document_get_root_node(&doc2);
            if (root2) {
                bq_seterr(err, errlen, "%s:%zu:%zu: a second YAML document ('---') is not allowed; "
                          "keep one document per file", fname, root2->start_mark.line + 1,
                          root2->start_mark.column + 1);
                yaml_document_delete(doc);
                rc = -1;
            }
            yaml_document_delete(&doc2);
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* ======================================================================= schema loader */


#define LN(m) ((size_t)(m).line + 1)
#define COL(m) ((size_t)(m).column + 1)

typedef struct {
    yaml_document_t *doc;
    const char *fname;
    void *dst;
    bq_ymarks *marks;
    char *err;
    size_t errlen;
} yctx;

const bq_ymark *bq_ymarks_find(const bq_ymarks *marks, const char *path) {
    if (!marks) return NULL;
    for (int i = 0; i < marks->n; i++)
        if (strcmp(marks->at[i].path, path) == 0) return &marks->at[i];
    return NULL;
}

static void store_num(const bq_ykey *k, void *dst, double v) {
    char *p = (char *)dst + k->off;
    switch (k->type) {
    case BQ_Y_INT: case BQ_Y_BOOL: case BQ_Y_ENUM: *(int *)p = (int)v; break;
    case BQ_Y_U64: *(uint64_t *)p = (uint64_t)v; break;
    case BQ_Y_FLOAT: *(float *)p = (float)v; break;
    case BQ_Y_DOUBLE: *(double *)p = v; break;
    case BQ_Y_STR: case BQ_Y_INT_LIST: case BQ_Y_STR_LIST: case BQ_Y_SECTION: break;
    }
}

void bq_yschema_defaults(const bq_ykey *keys, int nkeys, void *dst) {
    for (int i = 0; i < nkeys; i++) {
        if (keys[i].type == BQ_Y_SECTION) bq_yschema_defaults(keys[i].sub, keys[i].nsub, dst);
        else store_num(&keys[i], dst, keys[i].def);
    }
}

static int each_rec(const bq_ykey *keys, int nkeys, const char *prefix,
                    int (*fn)(void *, const bq_ykey *, const char *), void *ctx) {
    for (int i = 0; i < nkeys; i++) {
        char path[BQ_Y_PATH];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", keys[i].key);
        int r = keys[i].type == BQ_Y_SECTION ? each_rec(keys[i].sub, keys[i].nsub, path, fn, ctx)
                                             : fn(ctx, &keys[i], path);
        if (r) return r;
    }
    return 0;
}

int bq_yschema_each(const bq_ykey *keys, int nkeys,
                    int (*fn)(void *ctx, const bq_ykey *key, const char *path), void *ctx) {
    return each_rec(keys, nkeys, "", fn, ctx);
}

/* "a, b, c" into buf (truncated to fit). */
static void join_keys(const bq_ykey *keys, int nkeys, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < nkeys && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", keys[i].key);
        if (w < 0) break;
        used += (size_t)w;
    }
}
static void join_names(const char *const *names, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; names[i] && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Optimal string alignment distance (edits, adjacent swaps count as one), capped at 9. */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40) return 9;
    int d[41][41];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + c < v) v = d[i - 1][j - 1] + c;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb] > 9 ? 9 : d[la][lb];
}

/* The closest key to `key` when it is a likely typo (<= 2 edits, fewer than its length), or NULL. */
static const char *closest_key(const bq_ykey *keys, int nkeys, const char *key) {
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < nkeys; i++) {
        int d = edit_distance(key, keys[i].key);
        if (d < bd && (size_t)d < strlen(key)) { bd = d; best = keys[i].key; }
    }
    return best;
}

static const char *type_phrase(const bq_ykey *k, char *buf, size_t len) {
    switch (k->type) {
    case BQ_Y_INT: case BQ_Y_U64: return "an integer";
    case BQ_Y_FLOAT: case BQ_Y_DOUBLE: return "a number";
    case BQ_Y_BOOL: return "true or false";
    case BQ_Y_ENUM: {
        char names[200];
        join_names(k->names, names, sizeof names);
        snprintf(buf, len, "one of %s", names);
        return buf;
    }
    case BQ_Y_STR: return "a string";
    case BQ_Y_INT_LIST: case BQ_Y_STR_LIST: return "a list";
    case BQ_Y_SECTION: return "a mapping of keys";
    }
    return "?";
}

static const char *node_kind(const yaml_node_t *n) {
    return n->type == YAML_MAPPING_NODE ? "mapping" : n->type == YAML_SEQUENCE_NODE ? "sequence"
                                                                                    : "scalar";
}

/* " (what)" or "" */
#define WHAT(k) (k)->what ? " (" : "", (k)->what ? (k)->what : "", (k)->what ? ")" : ""

static int is_quoted(const yaml_node_t *v) {
    return v->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
           v->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

/* A plain decimal integer in [k->min, k->max]; 0 or -1 (no message). */
static int parse_int(const bq_ykey *k, const yaml_node_t *v, long long *out) {
    const char *s = (const char *)v->data.scalar.value;
    char *end;
    if (is_quoted(v) || !*s) return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno || (double)x < k->min || (double)x > k->max) return -1;
    *out = x;
    return 0;
}

static int set_scalar(yctx *c, const bq_ykey *k, const char *path, const yaml_node_t *v) {
    const char *s = (const char *)v->data.scalar.value;
    char *p = (char *)c->dst + k->off;
    char *end;
    switch (k->type) {
    case BQ_Y_INT: {
        long long x;
        if (parse_int(k, v, &x)) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be an integer in %.0f..%.0f%s%s%s, "
                      "got '%s'", c->fname, LN(v->start_mark), COL(v->start_mark), path, k->min,
                      k->max, WHAT(k), s);
            return -1;
        }
        if ((k->flags & BQ_Y_POW2) && (x <= 0 || (x & (x - 1)))) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be a power of two%s%s%s, got %lld",
                      c->fname, LN(v->start_mark), COL(v->start_mark), path, WHAT(k), x);
            return -1;
        }
        *(int *)p = (int)x;
        return 0;
    }
    case BQ_Y_U64: {
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (is_quoted(v) || !*s || *s == '-' || *end || errno || (double)x < k->min ||
            (double)x > k->max) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be an integer in %.0f..%.0f%s%s%s, "
                      "got '%s'", c->fname, LN(v->start_mark), COL(v->start_mark), path, k->min,
                      k->max, WHAT(k), s);
            return -1;
        }
        *(uint64_t *)p = (uint64_t)x;
        return 0;
    }
    case BQ_Y_FLOAT: case BQ_Y_DOUBLE: {
        errno = 0;
        double x = strtod(s, &end);
        if (is_quoted(v) || !*s || *end || errno || !isfinite(x) || x < k->min || x > k->max) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be a number in [%g, %g]%s%s%s, "
                      "got '%s'", c->fname, LN(v->start_mark), COL(v->start_mark), path, k->min,
                      k->max, WHAT(k), s);
            return -1;
        }
        store_num(k, c->dst, x);
        return 0;
    }
    case BQ_Y_BOOL:
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1")) *(int *)p = 1;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0")) *(int *)p = 0;
        else {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be true or false, got '%s'",
                      c->fname, LN(v->start_mark), COL(v->start_mark), path, s);
            return -1;
        }
        return 0;
    case BQ_Y_ENUM: {
        for (int i = 0; k->names[i]; i++)
            if (strcmp(s, k->names[i]) == 0) { *(int *)p = i; return 0; }
        char names[200];
        join_names(k->names, names, sizeof names);
        bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be one of %s, got '%s'", c->fname,
                  LN(v->start_mark), COL(v->start_mark), path, names, s);
        return -1;
    }
    case BQ_Y_STR: {
        size_t l = strlen(s);
        if ((double)l < k->min || (double)l > k->max || l >= k->size) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be %.0f..%.0f characters long, got "
                      "%zu", c->fname, LN(v->start_mark), COL(v->start_mark), path, k->min, k->max,
                      l);
            return -1;
        }
        if (k->flags & BQ_Y_WORD)
            for (size_t i = 0; i < l; i++) {
                char ch = s[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
                    bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must use only letters, digits, "
                              "'_' and '-', got '%s'", c->fname, LN(v->start_mark),
                              COL(v->start_mark), path, s);
                    return -1;
                }
            }
        memcpy(p, s, l + 1);
        return 0;
    }
    case BQ_Y_INT_LIST: case BQ_Y_STR_LIST: case BQ_Y_SECTION: break;
    }
    bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s': internal error: key type %d is not a scalar",
              c->fname, LN(v->start_mark), COL(v->start_mark), path, (int)k->type);
    return -1;
}

/* A list key: a sequence of scalars, or one scalar (a one-item list). */
static int set_list(yctx *c, const bq_ykey *k, const char *path, const yaml_node_t *v) {
    int n = 0;
    if (v->type == YAML_MAPPING_NODE) {
        bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be a list, e.g. [%s], got a mapping",
                  c->fname, LN(v->start_mark), COL(v->start_mark), path,
                  k->type == BQ_Y_INT_LIST ? "2, 4" : "a, b");
        return -1;
    }
    int total = v->type == YAML_SCALAR_NODE
                    ? 1 : (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    int *count = (int *)((char *)c->dst + k->count_off);
    for (int i = 0; i < total; i++) {
        const yaml_node_t *e = v->type == YAML_SCALAR_NODE
                                   ? v : yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
        const yaml_mark_t m = e ? e->start_mark : v->start_mark;
        if (!e || e->type != YAML_SCALAR_NODE) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' items must be plain values, not a %s",
                      c->fname, LN(m), COL(m), path, e ? node_kind(e) : "?");
            return -1;
        }
        if (n >= k->cap) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be a list of at most %d items",
                      c->fname, LN(m), COL(m), path, k->cap);
            return -1;
        }
        const char *s = (const char *)e->data.scalar.value;
        if (k->type == BQ_Y_INT_LIST) {
            long long x;
            if (parse_int(k, e, &x)) {
                /* at the list: the list is the value of the key */
                bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be a list of integers in "
                          "%.0f..%.0f%s%s%s, got '%s'", c->fname, LN(v->start_mark),
                          COL(v->start_mark), path, k->min, k->max, WHAT(k), s);
                return -1;
            }
            ((int *)((char *)c->dst + k->off))[n++] = (int)x;
        } else {
            size_t l = strlen(s);
            if (l == 0 || l >= k->size) {
                bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' items must be 1..%zu characters "
                          "long, got %zu", c->fname, LN(m), COL(m), path, k->size - 1, l);
                return -1;
            }
            memcpy((char *)c->dst + k->off + (size_t)n++ * k->size, s, l + 1);
        }
    }
    if (n == 0 && (k->flags & BQ_Y_NONEMPTY)) {
        bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must list at least one item, e.g. [%s]",
                  c->fname, LN(v->start_mark), COL(v->start_mark), path,
                  k->type == BQ_Y_INT_LIST ? "2, 4" : "a, b");
        return -1;
    }
    *count = n;
    return 0;
}

/* The first required value key under keys (depth first), its dotted path into path. */
static const bq_ykey *first_required(const bq_ykey *keys, int nkeys, const char *prefix,
                                     char *path, size_t len) {
    for (int i = 0; i < nkeys; i++) {
        const bq_ykey *k = &keys[i];
        char p[BQ_Y_PATH];
        snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k->key);
        if (k->type == BQ_Y_SECTION) {
            const bq_ykey *r = first_required(k->sub, k->nsub, p, path, len);
            if (r) return r;
        } else if (k->flags & BQ_Y_REQUIRED) {
            snprintf(path, len, "%s", p);
            return k;
        }
    }
    return NULL;
}

static int missing(yctx *c, const bq_ykey *k, const char *path, yaml_mark_t at) {
    const char *dot = strrchr(path, '.');
    bq_seterr(c->err, c->errlen, "%s:%zu:%zu: missing required key '%s'%s%s%s%s%.*s%s; add '%s: "
              "<value>'", c->fname, LN(at), COL(at), path, WHAT(k), dot ? " in section '" : "",
              dot ? (int)(dot - path) : 0, path, dot ? "'" : "", dot ? dot + 1 : path);
    return -1;
}

static int load_map(yctx *c, const bq_ykey *keys, int nkeys, const yaml_node_t *map,
                    const char *prefix, yaml_mark_t where) {
    if (map && map->type != YAML_MAPPING_NODE) {
        char known[512];
        join_keys(keys, nkeys, known, sizeof known);
        if (*prefix)
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be a mapping of keys (indented "
                      "'key: value' lines: %s), got a %s", c->fname, LN(map->start_mark),
                      COL(map->start_mark), prefix, known, node_kind(map));
        else
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: the document must be a mapping of keys "
                      "('key: value' lines: %s), got a %s", c->fname, LN(map->start_mark),
                      COL(map->start_mark), known, node_kind(map));
        return -1;
    }
    if (map) where = map->start_mark;
    for (yaml_node_pair_t *pr = map ? map->data.mapping.pairs.start : NULL;
         map && pr < map->data.mapping.pairs.top; pr++) {
        const yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
        if (!kn || !v || kn->type != YAML_SCALAR_NODE) {
            yaml_mark_t m = kn ? kn->start_mark : where;
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: keys must be plain words, not a %s",
                      c->fname, LN(m), COL(m), kn ? node_kind(kn) : "?");
            return -1;
        }
        const char *ks = (const char *)kn->data.scalar.value;
        char path[BQ_Y_PATH];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", ks) >=
            (int)sizeof path) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: key '%s' is too long; keys are short words",
                      c->fname, LN(kn->start_mark), COL(kn->start_mark), ks);
            return -1;
        }
        const bq_ykey *k = NULL;
        for (int i = 0; i < nkeys && !k; i++)
            if (strcmp(keys[i].key, ks) == 0) k = &keys[i];
        if (!k) {
            char known[512];
            join_keys(keys, nkeys, known, sizeof known);
            const char *near = closest_key(keys, nkeys, ks);
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: unknown key '%s'%s%s%s; known keys%s%s%s: %s",
                      c->fname, LN(kn->start_mark), COL(kn->start_mark), path,
                      near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                      *prefix ? " in '" : "", prefix, *prefix ? "'" : "", known);
            return -1;
        }
        const bq_ymark *first = bq_ymarks_find(c->marks, path);
        if (first) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: key '%s' given twice (first at line %zu); "
                      "remove the duplicate key '%s'%s", c->fname, LN(kn->start_mark),
                      COL(kn->start_mark), path, LN(first->key_mark), path,
                      k->type == BQ_Y_SECTION ? " (merge the two sections)" : "");
            return -1;
        }
        if (c->marks->n >= BQ_Y_MAX_MARKS) {
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: too many keys (at most %d in one file)",
                      c->fname, LN(kn->start_mark), COL(kn->start_mark), BQ_Y_MAX_MARKS);
            return -1;
        }
        bq_ymark *mk = &c->marks->at[c->marks->n++];
        mk->key = k;
        snprintf(mk->path, sizeof mk->path, "%s", path);
        mk->key_mark = kn->start_mark;
        mk->value_mark = v->start_mark;
        int rc;
        if (k->type == BQ_Y_SECTION) {
            rc = load_map(c, k->sub, k->nsub, v, path, v->start_mark);
        } else if (k->type == BQ_Y_INT_LIST || k->type == BQ_Y_STR_LIST) {
            rc = set_list(c, k, path, v);
        } else if (v->type != YAML_SCALAR_NODE) {
            char tb[256];
            bq_seterr(c->err, c->errlen, "%s:%zu:%zu: '%s' must be %s, got a %s; write '%s: "
                      "<value>'", c->fname, LN(v->start_mark), COL(v->start_mark), path,
                      type_phrase(k, tb, sizeof tb), node_kind(v), k->key);
            rc = -1;
        } else {
            rc = set_scalar(c, k, path, v);
        }
        if (rc) return -1;
    }
    /* required keys of this mapping, and of its sections that were not given at all */
    for (int i = 0; i < nkeys; i++) {
        const bq_ykey *k = &keys[i];
        char path[BQ_Y_PATH];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k->key);
        if (bq_ymarks_find(c->marks, path)) continue;
        if (k->type == BQ_Y_SECTION) {
            char rp[BQ_Y_PATH];
            const bq_ykey *r = first_required(k->sub, k->nsub, path, rp, sizeof rp);
            if (r) return missing(c, r, rp, where);
        } else if (k->flags & BQ_Y_REQUIRED) {
            return missing(c, k, path, where);
        }
    }
    return 0;
}

int bq_yschema_load(const bq_ykey *keys, int nkeys, yaml_document_t *doc, const yaml_node_t *map,
                    const char *prefix, const char *fname, void *dst, bq_ymarks *marks, char *err,
                    size_t errlen) {
    bq_ymarks *own = NULL;
    if (!marks) {
        own = calloc(1, sizeof *own);
        if (!own) {
            bq_seterr(err, errlen, "%s: out of memory", fname);
            return -1;
        }
        marks = own;
    }
    yctx c = {doc, fname, dst, marks, err, errlen};
    yaml_mark_t start = {0, 0, 0};
    int rc = load_map(&c, keys, nkeys, map, prefix ? prefix : "", start);
    free(own);
    return rc;
}

int bq_yschema_parse(const bq_ykey *keys, int nkeys, const void *text, size_t len,
                     const char *fname, void *dst, bq_ymarks *marks, char *err, size_t errlen) {
    yaml_document_t doc;
    if (bq_yaml_load(&doc, text, len, fname, err, errlen)) return -1;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc;
    char tmp[BQ_Y_PATH];
    if (!root && first_required(keys, nkeys, "", tmp, sizeof tmp)) {
        char known[512];
        join_keys(keys, nkeys, known, sizeof known);
        bq_seterr(err, errlen, "%s:1:1: the file is empty; it must define %s", fname, known);
        rc = -1;
    } else {
        rc = bq_yschema_load(keys, nkeys, &doc, root, "", fname, dst, marks, err, errlen);
    }
    yaml_document_delete(&doc);
    return rc;
}
