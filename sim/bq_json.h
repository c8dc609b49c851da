/*
 * bq_json.h — a small JSON reader for the package self-test driver (sim/bq_selftest.h): the whole
 * text parsed into a flat array of nodes, nothing but libc. It exists so that a board driver can
 * read the export package's manifest.json (docs/formats.md "Export package") without the engine's
 * code (libbrecq.a) and without relying on the writer's key order.
 *
 * Scope: RFC 8259 values; strings keep their raw bytes (escapes are accepted but not decoded: the
 * manifest's names and hashes have none); numbers keep their text, read with bq_json_u64 / _i64 /
 * _f32; nesting depth at most 64. Errors: one line "byte N (line L): what".
 *
 * Example:
 *   bq_json j; if (bq_json_parse(&j, text, len, err, n)) ...
 *   const bq_jnode *hw = bq_json_get(&j, bq_json_root(&j), "hw");
 *   uint64_t dm; bq_json_u64(bq_json_get(&j, hw, "dm"), &dm);
 *   for (const bq_jnode *l = bq_json_first(&j, layers); l; l = bq_json_next(&j, l)) ...
 *   bq_json_free(&j);
 */
#ifndef BQ_JSON_H
#define BQ_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum { BQ_J_NULL, BQ_J_BOOL, BQ_J_NUM, BQ_J_STR, BQ_J_ARR, BQ_J_OBJ } bq_jtype;

typedef struct {
    bq_jtype type;
    const char *key;     /* member name inside an object (raw, not NUL-terminated), else NULL */
    size_t key_len;
    const char *text;    /* strings: the raw bytes between the quotes; numbers: the token */
    size_t len;
    int boolean;         /* BQ_J_BOOL */
    int first, next;     /* first child / next sibling node index, -1 none */
    int count;           /* children of an array or object */
} bq_jnode;

typedef struct {
    bq_jnode *nodes;
    int n, cap;
} bq_json;

/* Parse text[0, len) (one value, whitespace around it). The nodes point into text, which must
 * outlive j. Returns 0, or -1 with one line in err. */
int bq_json_parse(bq_json *j, const char *text, size_t len, char *err, size_t errlen);
void bq_json_free(bq_json *j);

const bq_jnode *bq_json_root(const bq_json *j);
/* Member `key` of object o, or NULL (o NULL or not an object, or no such member). */
const bq_jnode *bq_json_get(const bq_json *j, const bq_jnode *o, const char *key);
/* Children of an array or object in order (NULL after the last). */
const bq_jnode *bq_json_first(const bq_json *j, const bq_jnode *a);
const bq_jnode *bq_json_next(const bq_json *j, const bq_jnode *a);
/* Element i of an array, or NULL. */
const bq_jnode *bq_json_at(const bq_json *j, const bq_jnode *a, int i);

/* Typed reads: 0, or -1 when v is NULL, of another type or out of range. */
int bq_json_u64(const bq_jnode *v, uint64_t *out);            /* a non-negative integer */
int bq_json_i64(const bq_jnode *v, int64_t *out);             /* an integer */
int bq_json_f32(const bq_jnode *v, float *out);               /* any number, rounded once to float */
int bq_json_str_is(const bq_jnode *v, const char *s);         /* 1 if a string equal to s */
/* A string copied into buf (NUL-terminated); -1 if not a string or too long. */
int bq_json_str(const bq_jnode *v, char *buf, size_t n);

#endif
