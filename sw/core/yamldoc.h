/*
 * yamldoc.h — the one place that turns YAML text into a libyaml document for every config reader
 * (recipe, bits file, flow, hardware config, ONNX preprocessing), so that syntax errors read the same everywhere:
 * "file:line:col: YAML syntax error: <problem> <context>". A file holds exactly one document.
 *
 * It also holds the one schema loader those readers share: a table of typed keys (bq_ykey) whose
 * values are stored through offsets into the reader's struct. Every reader gets the same checks
 * and the same one-line messages, at the offending key or value:
 *   unknown key (with "did you mean" and the valid keys), key given twice, missing required key,
 *   wrong type, number out of range, not a power of two, enum value not in the list, ...
 *
 * Example (a struct with an int, a float and a nested section):
 *   typedef struct { int n; float lr; char name[16]; int depth; } cfg;
 *   static const bq_ykey kMem[] = {
 *       {"depth", BQ_Y_INT, BQ_Y_REQUIRED | BQ_Y_POW2, 2, 4096, offsetof(cfg, depth), .what = "words"},
 *   };
 *   static const bq_ykey kCfg[] = {
 *       {"n", BQ_Y_INT, 0, 1, 100, offsetof(cfg, n), .def = 10, .what = "how many"},
 *       {"lr", BQ_Y_FLOAT, 0, 0, 1, offsetof(cfg, lr), .def = 0.1, .what = "learning rate"},
 *       {"name", BQ_Y_STR, BQ_Y_WORD, 1, 15, offsetof(cfg, name), .size = 16, .what = "a name"},
 *       {"memory", BQ_Y_SECTION, 0, 0, 0, 0, .sub = kMem, .nsub = 1, .what = "memory"},
 *   };
 *   cfg c; bq_yschema_defaults(kCfg, 4, &c);
 *   if (bq_yschema_parse(kCfg, 4, text, len, "c.yaml", &c, NULL, err, errlen)) ...
 * A missing key keeps the value dst had (its default); "n: 5\nmemory: {depth: 30}" fails with
 * "c.yaml:2:17: 'memory.depth' must be a power of two (words), got 30".
 */
#ifndef BQ_YAMLDOC_H
#define BQ_YAMLDOC_H
#include <stddef.h>
#include <yaml.h>

/* Parse text (len bytes) into *doc. Returns 0 (the caller owns *doc: yaml_document_delete) or -1
 * with the message in err (nothing to free). fname only names the input in the message. */
int bq_yaml_load(yaml_document_t *doc, const void *text, size_t len, const char *fname, char *err,
                 size_t errlen);

/* ---- schema loader ---- */

typedef enum {
    BQ_Y_INT,       /* int in [min, max]; plain (unquoted) decimal */
    BQ_Y_U64,       /* uint64_t in [min, max] */
    BQ_Y_FLOAT,     /* float in [min, max]; plain (unquoted) number */
    BQ_Y_DOUBLE,    /* double in [min, max] */
    BQ_Y_BOOL,      /* int 0/1: true/false, yes/no, 1/0 (any case) */
    BQ_Y_ENUM,      /* int: index of the value in names[] (NULL-terminated) */
    BQ_Y_STR,       /* char[size]; length in [min, max] (max < size) */
    BQ_Y_INT_LIST,  /* int[cap] at off, its count (int) at count_off; items in [min, max];
                       a single scalar is a one-item list */
    BQ_Y_STR_LIST,  /* char[cap][size] at off, count (int) at count_off; a scalar is one item */
    BQ_Y_SECTION    /* a nested mapping whose keys are sub[0..nsub) (same destination struct);
                       its keys are named "section.key" in messages */
} bq_ytype;

enum {
    BQ_Y_REQUIRED = 1u,  /* must be given (a section: a required key inside must be given) */
    BQ_Y_POW2 = 2u,      /* BQ_Y_INT: a power of two */
    BQ_Y_WORD = 4u,      /* BQ_Y_STR: only letters, digits, '_' and '-' */
    BQ_Y_NONEMPTY = 8u   /* lists: at least one item */
};

typedef struct bq_ykey {
    const char *key;
    bq_ytype type;
    unsigned flags;               /* BQ_Y_* above */
    double min, max;              /* numbers and list items: inclusive range; BQ_Y_STR: length */
    size_t off;                   /* offsetof the field in the destination struct */
    size_t size;                  /* BQ_Y_STR: buffer size; BQ_Y_STR_LIST: size of one item */
    int cap;                      /* lists: most items */
    size_t count_off;             /* lists: offsetof the int item count */
    const char *const *names;     /* BQ_Y_ENUM: value names, NULL-terminated */
    const struct bq_ykey *sub;    /* BQ_Y_SECTION: its keys */
    int nsub;
    double def;                   /* numbers, bool, enum: what bq_yschema_defaults stores */
    const char *what;             /* meaning, shown in messages ("bits per bit-plane word") */
} bq_ykey;

/* Where each key (and section) was given, by its dotted path: for the reader's own cross-field
 * messages. Filled by the loaders when passed (it may be NULL). */
#define BQ_Y_MAX_MARKS 96
#define BQ_Y_PATH 96
typedef struct {
    const bq_ykey *key;
    char path[BQ_Y_PATH];         /* "array.dk" */
    yaml_mark_t key_mark, value_mark;
} bq_ymark;
typedef struct {
    int n;
    bq_ymark at[BQ_Y_MAX_MARKS];
} bq_ymarks;

/* Store every number/bool/enum key's def (sections included) into dst. */
void bq_yschema_defaults(const bq_ykey *keys, int nkeys, void *dst);

/* Load the mapping node `map` of doc (NULL = an empty mapping) into dst by keys. prefix names the
 * mapping in messages ("" at the top level, "layer1" makes keys read 'layer1.wbits'). Keys not
 * given keep dst's values. 0, or -1 with one line in err. marks may be NULL; when given it is
 * appended to (set marks->n = 0 first). */
int bq_yschema_load(const bq_ykey *keys, int nkeys, yaml_document_t *doc, const yaml_node_t *map,
                    const char *prefix, const char *fname, void *dst, bq_ymarks *marks, char *err,
                    size_t errlen);

/* bq_yaml_load + bq_yschema_load of the root mapping (an empty document is an empty mapping). */
int bq_yschema_parse(const bq_ykey *keys, int nkeys, const void *text, size_t len,
                     const char *fname, void *dst, bq_ymarks *marks, char *err, size_t errlen);

/* The mark of the key at dotted path, or NULL when it was not given. */
const bq_ymark *bq_ymarks_find(const bq_ymarks *marks, const char *path);

/* Call fn for every value key (not sections), depth first in table order, with its dotted path;
 * stops at and returns the first non-zero return of fn (0 when every call returned 0). */
int bq_yschema_each(const bq_ykey *keys, int nkeys,
                    int (*fn)(void *ctx, const bq_ykey *key, const char *path), void *ctx);
#endif
