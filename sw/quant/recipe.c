/*
 * recipe.c — table-driven loader of quantization recipes (see recipe.h).
 */
#include "core/yamldoc.h"
#include "core/errmsg.h"
#include "quant/recipe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/fileio.h"

enum { RT_INT, RT_U64, RT_FLOAT, RT_BOOL, RT_ENUM };

typedef struct {
    const char *key;
    int type;
    double min, max;       /* inclusive range of numbers */
    size_t off;
    const char *const *names;  /* RT_ENUM: value names, NULL-terminated, index = enum value */
    double def;
    const char *help;
} recipe_row;

static const char *const kMethods[] = {"rtn", "adaround", "brecq", "brecq_qdrop", NULL};
static const char *const kLosses[] = {"mse", "fisher", NULL};
static const char *const kFisher[] = {"abs_plus_one", "normalized", NULL};

#define R(k, t, lo, hi, f, d, h) {k, t, lo, hi, offsetof(bq_recipe, f), NULL, d, h}
#define E(k, names, f, d, h) {k, RT_ENUM, 0, 0, offsetof(bq_recipe, f), names, d, h}
static const recipe_row kRows[] = {
    E("method", kMethods, method, BQ_METHOD_RTN, "rtn | adaround | brecq | brecq_qdrop"),
    E("loss", kLosses, loss, BQ_LOSS_FISHER, "reconstruction loss: mse | fisher"),
    R("wbits", RT_INT, 2, 8, wbits, 4, "default weight bits"),
    R("abits", RT_INT, 2, 32, abits, 4, "default activation bits (2..8), 32 = float activations"),
    R("first_last_8bit", RT_BOOL, 0, 1, first_last_8bit, 1,
      "first layer weights+output and last layer weights+input at 8 bits"),
    R("calib", RT_INT, 1, 60000, calib, 1024, "calibration images from the training set"),
    R("calib_seed", RT_U64, 0, 1.8e19, calib_seed, 0, "seed of the calibration subset"),
    R("act_init_batch", RT_INT, 1, 60000, act_init_batch, 64,
      "calibration images used to initialise activation ranges"),
    R("seed", RT_U64, 0, 1.8e19, seed, 0, "seed of batch sampling and QDrop masks"),
    R("p", RT_FLOAT, 1, 8, p, 2.4, "Lp norm of the range search and the stage B loss"),
    R("iters", RT_INT, 0, 10000000, iters, 20000, "stage A (AdaRound) iterations per block/layer"),
    R("batch", RT_INT, 1, 4096, batch, 32, "reconstruction batch size"),
    R("weight_lambda", RT_FLOAT, 0, 1000, weight_lambda, 0.01, "rounding regulariser weight"),
    R("beta_start", RT_FLOAT, 0.01, 1000, beta_start, 20, "rounding regulariser beta at warm-up end"),
    R("beta_end", RT_FLOAT, 0.01, 1000, beta_end, 2, "rounding regulariser beta at the end"),
    R("warmup", RT_FLOAT, 0, 1, warmup, 0.2, "fraction of iterations without the regulariser"),
    R("lr_round", RT_FLOAT, 0, 10, lr_round, 1e-3, "Adam lr of the rounding variables"),
    R("rec_p_weight", RT_FLOAT, 1, 8, rec_p_weight, 2.0, "Lp of the stage A reconstruction loss"),
    R("zeta", RT_FLOAT, 1, 2, zeta, 1.1, "rectified sigmoid upper stretch"),
    R("gamma", RT_FLOAT, -1, 0, gamma, -0.1, "rectified sigmoid lower stretch"),
    R("act_iters", RT_INT, 0, 10000000, act_iters, 5000, "stage B (activation steps) iterations"),
    R("lr_act", RT_FLOAT, 0, 10, lr_act, 4e-4, "Adam lr of the activation steps (cosine to 0)"),
    R("qdrop_prob", RT_FLOAT, 0, 1, qdrop_prob, 0.5, "QDrop: probability of keeping the FP value"),
    R("qdrop_iters", RT_INT, 0, 10000000, qdrop_iters, 20000, "QDrop joint stage iterations"),
    R("lr_act_qdrop", RT_FLOAT, 0, 10, lr_act_qdrop, 4e-5, "QDrop: Adam lr of the activation steps"),
    R("adam_beta1", RT_FLOAT, 0, 0.999999, adam_beta1, 0.9, "Adam beta1"),
    R("adam_beta2", RT_FLOAT, 0, 0.999999999, adam_beta2, 0.999, "Adam beta2"),
    R("adam_eps", RT_FLOAT, 0, 1, adam_eps, 1e-8, "Adam epsilon"),
    E("fisher_norm", kFisher, fisher_norm, BQ_FISHER_NORMALIZED,
      "Fisher weighting: normalized | abs_plus_one (the reference)"),
    R("fisher_damping", RT_FLOAT, 0, 1e6, fisher_damping, 0.1,
      "added to the normalised Fisher diagonal"),
    R("checkpoint", RT_BOOL, 0, 1, checkpoint, 1, "write per-block checkpoints (resume)"),
};
#undef R
#undef E
enum { NROWS = (int)(sizeof kRows / sizeof kRows[0]) };

static void store(bq_recipe *r, const recipe_row *row, double v) {
    char *p = (char *)r + row->off;
    switch (row->type) {
    case RT_INT: case RT_BOOL: case RT_ENUM: *(int *)p = (int)v; break;
    case RT_U64: *(uint64_t *)p = (uint64_t)v; break;
    case RT_FLOAT: *(float *)p = (float)v; break;
    }
}

void bq_recipe_default(bq_recipe *r) {
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < NROWS; i++) store(r, &kRows[i], kRows[i].def);
}

const char *bq_method_name(bq_method m) {
    return (m >= 0 && m <= BQ_METHOD_BRECQ_QDROP) ? kMethods[m] : "?";
}
const char *bq_loss_name(bq_loss_kind l) { return (l >= 0 && l <= BQ_LOSS_FISHER) ? kLosses[l] : "?"; }

static void join_names(const char *const *names, char *buf, size_t len) {
    buf[0] = 0;
    for (int i = 0; names[i]; i++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", i ? ", " : "", names[i]);
    }
}

static void known_keys(char *buf, size_t len) {
    buf[0] = 0;
    for (int i = 0; i < NROWS; i++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", i ? ", " : "", kRows[i].key);
    }
}

/* Parse one scalar for row; 0 or -1 with message. */
static int parse_value(bq_recipe *r, const recipe_row *row, const yaml_node_t *v, const char *fname,
                       char *err, size_t errlen) {
    size_t ln = v->start_mark.line + 1, col = v->start_mark.column + 1;
    if (v->type != YAML_SCALAR_NODE) {
        bq_seterr(err, errlen, "%s:%zu:%zu: '%s' must be a single value, not a list or mapping", fname,
               ln, col, row->key);
        return -1;
    }
    const char *s = (const char *)v->data.scalar.value;
    char *end = NULL;
    double x = 0;
    switch (row->type) {
    case RT_ENUM: {
        for (int i = 0; row->names[i]; i++)
            if (strcmp(s, row->names[i]) == 0) { store(r, row, i); return 0; }
        char names[128];
        join_names(row->names, names, sizeof(names));
        bq_seterr(err, errlen, "%s:%zu:%zu: '%s' must be one of %s (got '%s')", fname, ln, col,
               row->key, names, s);
        return -1;
    }
    case RT_BOOL:
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1")) x = 1;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0")) x = 0;
        else {
            bq_seterr(err, errlen, "%s:%zu:%zu: '%s' must be true or false (got '%s')", fname, ln, col,
                   row->key, s);
            return -1;
        }
        store(r, row, x);
        return 0;
    case RT_INT: case RT_U64: {
        errno = 0;
        long long iv = strtoll(s, &end, 10);
        if (end == s || *end || errno || iv < row->min || (double)iv > row->max) {
            bq_seterr(err, errlen, "%s:%zu:%zu: '%s' must be an integer in %.0f..%.0f (got '%s')", fname,
                   ln, col, row->key, row->min, row->max, s);
            return -1;
        }
        if (row->type == RT_U64) *(uint64_t *)((char *)r + row->off) = (uint64_t)iv;
        else store(r, row, (double)iv);
        if (!strcmp(row->key, "abits") && iv > 8 && iv != 32) {
            bq_seterr(err, errlen, "%s:%zu:%zu: 'abits' must be 2..8, or 32 for float activations "
                   "(got %lld)", fname, ln, col, iv);
            return -1;
        }
        return 0;
    }
    case RT_FLOAT:
        errno = 0;
        x = strtod(s, &end);
        if (end == s || *end || errno || !isfinite(x) || x < row->min || x > row->max) {
            bq_seterr(err, errlen, "%s:%zu:%zu: '%s' must be a number in [%g, %g] (got '%s')", fname, ln,
                   col, row->key, row->min, row->max, s);
            return -1;
        }
        store(r, row, x);
        return 0;
    }
    return -1;
}

int bq_recipe_parse(bq_recipe *r, const char *text, size_t len, const char *fname, char *err,
                    size_t errlen) {
    bq_recipe_default(r);
    r->text_hash = bq_fnv1a64(text, len, BQ_FNV_INIT);
    yaml_document_t doc;
    int rc = -1, have_doc = 0;
    if (bq_yaml_load(&doc, text, len, fname, err, errlen)) goto done;
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) { rc = 0; goto done; }   /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE) {
        bq_seterr(err, errlen, "%s:%zu:%zu: a recipe is a mapping 'key: value'", fname,
               root->start_mark.line + 1, root->start_mark.column + 1);
        goto done;
    }
    unsigned char seen[NROWS] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        int row = -1;
        for (int i = 0; i < NROWS; i++) if (!strcmp(key, kRows[i].key)) row = i;
        if (row < 0) {
            char keys[1024];
            known_keys(keys, sizeof(keys));
            bq_seterr(err, errlen, "%s:%zu:%zu: unknown key '%s'; known keys: %s", fname,
                   k->start_mark.line + 1, k->start_mark.column + 1, key, keys);
            goto done;
        }
        if (seen[row]) {
            bq_seterr(err, errlen, "%s:%zu:%zu: key '%s' given twice", fname, k->start_mark.line + 1,
                   k->start_mark.column + 1, key);
            goto done;
        }
        seen[row] = 1;
        if (parse_value(r, &kRows[row], v, fname, err, errlen)) goto done;
    }
    if (r->act_init_batch > r->calib) {
        bq_seterr(err, errlen, "%s: 'act_init_batch' (%d) must not exceed 'calib' (%d)", fname,
               r->act_init_batch, r->calib);
        goto done;
    }
    if (r->method != BQ_METHOD_RTN && r->batch > r->calib) {
        bq_seterr(err, errlen, "%s: 'batch' (%d) must not exceed 'calib' (%d)", fname, r->batch, r->calib);
        goto done;
    }
    rc = 0;
done:
    if (have_doc) yaml_document_delete(&doc);
    return rc;
}

int bq_recipe_load(bq_recipe *r, const char *path, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    int rc = bq_recipe_parse(r, (const char *)data, len, path, err, errlen);
    free(data);
    return rc;
}

void bq_recipe_print(const bq_recipe *r, void *file) {
    FILE *f = file;
    for (int i = 0; i < NROWS; i++) {
        const recipe_row *row = &kRows[i];
        const char *p = (const char *)r + row->off;
        switch (row->type) {
        case RT_ENUM: fprintf(f, "%s: %s", row->key, row->names[*(const int *)p]); break;
        case RT_BOOL: fprintf(f, "%s: %s", row->key, *(const int *)p ? "true" : "false"); break;
        case RT_INT: fprintf(f, "%s: %d", row->key, *(const int *)p); break;
        case RT_U64: fprintf(f, "%s: %llu", row->key, (unsigned long long)*(const uint64_t *)p); break;
        case RT_FLOAT: fprintf(f, "%s: %g", row->key, (double)*(const float *)p); break;
        }
        fprintf(f, "%*s# %s\n", 2, "", row->help);
    }
}
