/* bq_json.c — the self-test driver's JSON reader (bq_json.h). */
#include "bq_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
    bq_json *j;
    const char *s, *end, *p;
    char *err;
    size_t errlen;
} parser;

static int fail(parser *P, const char *what) {
    if (P->err && P->errlen) {
        int line = 1;
        for (const char *q = P->s; q < P->p; q++) line += *q == '\n';
        snprintf(P->err, P->errlen, "byte %zu (line %d): %s", (size_t)(P->p - P->s), line, what);
    }
    return -1;
}

static void skip_ws(parser *P) {
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\n' || *P->p == '\r' || *P->p == '\t')) P->p++;
}

/* A new node (index), or -1 out of memory. */
static int new_node(parser *P, bq_jtype t) {
    bq_json *j = P->j;
    if (j->n == j->cap) {
        int nc = j->cap ? 2 * j->cap : 256;
        bq_jnode *nn = realloc(j->nodes, sizeof *nn * (size_t)nc);
        if (!nn) return -1;
        j->nodes = nn;
        j->cap = nc;
    }
    bq_jnode *x = &j->nodes[j->n];
    memset(x, 0, sizeof *x);
    x->type = t;
    x->first = x->next = -1;
    return j->n++;
}

/* The raw bytes of a string at P->p (on the opening quote); escapes are skipped, not decoded. */
static int scan_string(parser *P, const char **text, size_t *len) {
    const char *q = ++P->p;
    while (q < P->end && *q != '"') {
        if ((unsigned char)*q < 0x20) { P->p = q; return fail(P, "control byte inside a string"); }
        q += *q == '\\' ? 2 : 1;
    }
    if (q >= P->end) return fail(P, "unterminated string");
    *text = P->p;
    *len = (size_t)(q - P->p);
    P->p = q + 1;
    return 0;
}

static int scan_number(parser *P, int id) {
    const char *q = P->p;
    if (q < P->end && *q == '-') q++;
    const char *d = q;
    while (q < P->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-'))
        q++;
    if (q == d || *d < '0' || *d > '9') return fail(P, "expected a value");
    P->j->nodes[id].text = P->p;
    P->j->nodes[id].len = (size_t)(q - P->p);
    P->p = q;
    return 0;
}

static int parse_value(parser *P, int depth);

/* Append child c to parent par (keeps the last child in *last). */
static void link_child(bq_json *j, int par, int *last, int c) {
    if (*last < 0) j->nodes[par].first = c;
    else j->nodes[*last].next = c;
    *last = c;
    j->nodes[par].count++;
}

static int parse_container(parser *P, int depth, int obj) {
    int id = new_node(P, obj ? BQ_J_OBJ : BQ_J_ARR), last = -1;
    if (id < 0) return fail(P, "out of memory");
    char close = obj ? '}' : ']';
    P->p++;
    skip_ws(P);
    if (P->p < P->end && *P->p == close) { P->p++; return id; }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        skip_ws(P);
        if (obj) {
            if (P->p >= P->end || *P->p != '"') return fail(P, "expected a member name");
            if (scan_string(P, &key, &klen)) return -1;
            skip_ws(P);
            if (P->p >= P->end || *P->p != ':') return fail(P, "expected ':'");
            P->p++;
        }
        int c = parse_value(P, depth + 1);
        if (c < 0) return -1;
        P->j->nodes[c].key = key;
        P->j->nodes[c].key_len = klen;
        link_child(P->j, id, &last, c);
        skip_ws(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == close) { P->p++; return id; }
        return fail(P, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_word(parser *P, const char *w, bq_jtype t, int b) {
    size_t n = strlen(w);
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, w, n)) return fail(P, "expected a value");
    int id = new_node(P, t);
    if (id < 0) return fail(P, "out of memory");
    P->j->nodes[id].boolean = b;
    P->p += n;
    return id;
}

static int parse_value(parser *P, int depth) {
    if (depth > MAX_DEPTH) return fail(P, "nested deeper than 64 levels");
    skip_ws(P);
    if (P->p >= P->end) return fail(P, "unexpected end of the text");
    char c = *P->p;
    if (c == '{' || c == '[') return parse_container(P, depth, c == '{');
    if (c == 't') return parse_word(P, "true", BQ_J_BOOL, 1);
    if (c == 'f') return parse_word(P, "false", BQ_J_BOOL, 0);
    if (c == 'n') return parse_word(P, "null", BQ_J_NULL, 0);
    int id = new_node(P, c == '"' ? BQ_J_STR : BQ_J_NUM);
    if (id < 0) return fail(P, "out of memory");
    if (c == '"') {
        const char *t;
        size_t n;
        if (scan_string(P, &t, &n)) return -1;
        P->j->nodes[id].text = t;
        P->j->nodes[id].len = n;
        return id;
    }
    return scan_number(P, id) ? -1 : id;
}

int bq_json_parse(bq_json *j, const char *text, size_t len, char *err, size_t errlen) {
    memset(j, 0, sizeof *j);
    parser P = {j, text, text + len, text, err, errlen};
    if (parse_value(&P, 0) < 0) { bq_json_free(j); return -1; }
    skip_ws(&P);
    if (P.p != P.end) { fail(&P, "text after the value"); bq_json_free(j); return -1; }
    return 0;
}

void bq_json_free(bq_json *j) {
    free(j->nodes);
    memset(j, 0, sizeof *j);
}

const bq_jnode *bq_json_root(const bq_json *j) { return j->n ? &j->nodes[0] : NULL; }

const bq_jnode *bq_json_first(const bq_json *j, const bq_jnode *a) {
    return a && (a->type == BQ_J_ARR || a->type == BQ_J_OBJ) && a->first >= 0 ? &j->nodes[a->first] : NULL;
}

const bq_jnode *bq_json_next(const bq_json *j, const bq_jnode *a) {
    return a && a->next >= 0 ? &j->nodes[a->next] : NULL;
}

const bq_jnode *bq_json_get(const bq_json *j, const bq_jnode *o, const char *key) {
    if (!o || o->type != BQ_J_OBJ) return NULL;
    size_t n = strlen(key);
    for (const bq_jnode *c = bq_json_first(j, o); c; c = bq_json_next(j, c))
        if (c->key_len == n && !memcmp(c->key, key, n)) return c;
    return NULL;
}

const bq_jnode *bq_json_at(const bq_json *j, const bq_jnode *a, int i) {
    if (!a || a->type != BQ_J_ARR || i < 0) return NULL;
    const bq_jnode *c = bq_json_first(j, a);
    for (; c && i > 0; i--) c = bq_json_next(j, c);
    return c;
}

/* The number's token as a C string (numbers are short; longer ones are refused). */
static int num_text(const bq_jnode *v, char *buf, size_t n) {
    if (!v || v->type != BQ_J_NUM || v->len == 0 || v->len >= n) return -1;
    memcpy(buf, v->text, v->len);
    buf[v->len] = 0;
    return 0;
}

int bq_json_u64(const bq_jnode *v, uint64_t *out) {
    char b[32], *e;
    if (num_text(v, b, sizeof b) || b[0] == '-') return -1;
    errno = 0;
    unsigned long long x = strtoull(b, &e, 10);
    if (*e || errno) return -1;
    *out = x;
    return 0;
}

int bq_json_i64(const bq_jnode *v, int64_t *out) {
    char b[32], *e;
    if (num_text(v, b, sizeof b)) return -1;
    errno = 0;
    long long x = strtoll(b, &e, 10);
    if (*e || errno) return -1;
    *out = x;
    return 0;
}

int bq_json_f32(const bq_jnode *v, float *out) {
    char b[48], *e;
    if (num_text(v, b, sizeof b)) return -1;
    errno = 0;
    float x = strtof(b, &e);   /* one correct rounding from the decimal text to float */
    if (*e || errno == ERANGE) return -1;
    *out = x;
    return 0;
}

int bq_json_str_is(const bq_jnode *v, const char *s) {
    return v && v->type == BQ_J_STR && v->len == strlen(s) && !memcmp(v->text, s, v->len);
}

int bq_json_str(const bq_jnode *v, char *buf, size_t n) {
    if (!v || v->type != BQ_J_STR || v->len >= n) return -1;
    memcpy(buf, v->text, v->len);
    buf[v->len] = 0;
    return 0;
}
