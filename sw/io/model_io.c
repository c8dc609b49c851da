/* model_io.c — native model file (see model_io.h, docs/formats.md). */
#include "io/model_io.h"
#include "core/errmsg.h"
#include "core/fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_node(bq_buf *b, const bq_node *n) {
    bq_buf_str(b, n->name, BQ_NAME_LEN);
    const int32_t ints[22] = {n->kind, n->in[0], n->in[1], n->block, n->c, n->h, n->w, n->kh,
                              n->kw, n->stride_h, n->stride_w, n->pad_t, n->pad_l, n->pad_b,
                              n->pad_r, n->groups, n->count_include_pad, n->p_weight, n->p_bias,
                              n->p_gamma, n->p_beta, n->p_rmean};
    for (int i = 0; i < 22; i++) bq_buf_i32(b, ints[i]);
    bq_buf_i32(b, n->p_rvar);
    bq_buf_f32(b, n->lo); bq_buf_f32(b, n->hi); bq_buf_f32(b, n->bn_eps);
}

static int get_node(bq_rd *r, bq_node *n) {
    int32_t v[23];
    bq_rd_str(r, n->name, BQ_NAME_LEN);
    for (int i = 0; i < 23; i++) bq_rd_i32(r, &v[i]);
    bq_rd_f32(r, &n->lo); bq_rd_f32(r, &n->hi); bq_rd_f32(r, &n->bn_eps);
    n->kind = (bq_op_kind)v[0]; n->in[0] = v[1]; n->in[1] = v[2]; n->block = v[3];
    n->c = v[4]; n->h = v[5]; n->w = v[6]; n->kh = v[7]; n->kw = v[8];
    n->stride_h = v[9]; n->stride_w = v[10]; n->pad_t = v[11]; n->pad_l = v[12];
    n->pad_b = v[13]; n->pad_r = v[14]; n->groups = v[15]; n->count_include_pad = v[16];
    n->p_weight = v[17]; n->p_bias = v[18]; n->p_gamma = v[19]; n->p_beta = v[20];
    n->p_rmean = v[21]; n->p_rvar = v[22];
    return r->bad ? -1 : 0;
}

/* The CRC of everything serialised so far, on the way to the real output. */
typedef struct { bq_buf *out; uLong crc; } crc_tap;
static void crc_put(void *ctx, const void *p, size_t n) {
    crc_tap *t = ctx;
    t->crc = crc32(t->crc, p, (uInt)n);
    bq_buf_put(t->out, p, n);
}

void bq_model_serialize_to(const bq_model *m, bq_buf *out) {
    crc_tap tap = {out, crc32(0L, Z_NULL, 0)};
    bq_buf b = {0};
    b.sink = crc_put;
    b.sink_ctx = &tap;
    bq_buf_put(&b, BQ_MODEL_MAGIC, 8);   /* includes the terminating NUL */
    bq_buf_u32(&b, BQ_MODEL_VERSION);
    bq_buf_str(&b, m->arch, 32);
    bq_buf_i32(&b, m->in_c); bq_buf_i32(&b, m->in_h); bq_buf_i32(&b, m->in_w);
    bq_buf_i32(&b, m->num_classes);
    bq_buf_f32(&b, m->in_mean); bq_buf_f32(&b, m->in_std);
    bq_buf_i32(&b, m->n_nodes); bq_buf_i32(&b, m->n_params); bq_buf_i32(&b, m->n_blocks);
    bq_buf_u64(&b, m->arena_count);
    for (int i = 0; i < m->n_nodes; i++) put_node(&b, &m->nodes[i]);
    for (int i = 0; i < m->n_params; i++) {
        const bq_param *p = &m->params[i];
        bq_buf_str(&b, p->name, BQ_NAME_LEN);
        bq_buf_i32(&b, p->ndim);
        for (int k = 0; k < 4; k++) bq_buf_i32(&b, p->shape[k]);
        bq_buf_u64(&b, p->count); bq_buf_u64(&b, p->offset);
        bq_buf_i32(&b, p->no_decay); bq_buf_i32(&b, p->is_buffer);
    }
    for (int i = 0; i < m->n_blocks; i++) {
        const bq_block *bl = &m->blocks[i];
        bq_buf_str(&b, bl->name, BQ_NAME_LEN);
        bq_buf_i32(&b, bl->input); bq_buf_i32(&b, bl->first); bq_buf_i32(&b, bl->last);
        bq_buf_i32(&b, bl->has_residual);
    }
    for (size_t i = 0; i < m->arena_count; i++) bq_buf_f32(&b, m->arena[i]);
    bq_buf_u32(out, (uint32_t)tap.crc);
}

int bq_model_serialize(const bq_model *m, unsigned char **data, size_t *len) {
    bq_buf b = {0};
    bq_model_serialize_to(m, &b);
    if (b.oom) { bq_buf_free(&b); return -1; }
    *data = b.data; *len = b.len;
    return 0;
}

/* Names reach messages and reports: a control character (a newline splits the one-line error)
 * is refused before any message quotes the name. 0, or -1 with err. */
static int check_name(const char *s, const char *what, int idx, const char *name, char *err,
                      size_t errlen) {
    for (int i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            bq_seterr(err, errlen, "%s: %s %d: name has a control character (byte %d of the name); "
                      "re-create the model file", name, what, idx, i);
            return -1;
        }
    return 0;
}

int bq_model_parse(bq_model *m, const unsigned char *data, size_t len, const char *name, char *err,
                   size_t errlen) {
    memset(m, 0, sizeof(*m));
    if (len < 12 || memcmp(data, BQ_MODEL_MAGIC, 8) != 0) {
        bq_seterr(err, errlen, "%s: not a brecq model file (bad magic); pass a .bqm written by "
                  "`brecq train` or an .onnx file", name);
        return -1;
    }
    uint32_t stored = (uint32_t)data[len - 4] | ((uint32_t)data[len - 3] << 8) |
                      ((uint32_t)data[len - 2] << 16) | ((uint32_t)data[len - 1] << 24);
    if ((uint32_t)crc32(0L, data, (uInt)(len - 4)) != stored) {
        bq_seterr(err, errlen, "%s: checksum mismatch (file truncated or corrupted, %zu bytes); "
                  "re-create or re-copy the model file", name, len);
        return -1;
    }
    bq_rd r = {data, len - 4, 8, 0};
    uint32_t version;
    bq_rd_u32(&r, &version);
    if (version != BQ_MODEL_VERSION) {
        bq_seterr(err, errlen, "%s: model format version %u, this build reads version %u; "
                  "re-export the model with this brecq", name, version, BQ_MODEL_VERSION);
        return -1;
    }
    int32_t in_c, in_h, in_w, ncls, nn, np, nb;
    char arch[32];
    float mean, std;
    uint64_t arena_count;
    bq_rd_str(&r, arch, 32);
    bq_rd_i32(&r, &in_c); bq_rd_i32(&r, &in_h); bq_rd_i32(&r, &in_w); bq_rd_i32(&r, &ncls);
    bq_rd_f32(&r, &mean); bq_rd_f32(&r, &std);
    bq_rd_i32(&r, &nn); bq_rd_i32(&r, &np); bq_rd_i32(&r, &nb);
    bq_rd_u64(&r, &arena_count);
    if (r.bad || nn <= 0 || np < 0 || nb < 0 || nn > 100000 || np > 100000 || nb > 100000 ||
        arena_count > len / 4) {
        bq_seterr(err, errlen, "%s: header field out of range (nodes %d, params %d, blocks %d)",
                  name, nn, np, nb);
        return -1;
    }
    if (check_name(arch, "arch", 0, name, err, errlen)) return -1;
    bq_model_init(m, arch, in_c, in_h, in_w, ncls);
    m->in_mean = mean; m->in_std = std;
    m->nodes = calloc((size_t)nn, sizeof(bq_node));
    m->params = calloc((size_t)(np ? np : 1), sizeof(bq_param));
    m->blocks = calloc((size_t)(nb ? nb : 1), sizeof(bq_block));
    m->arena = malloc(sizeof(float) * (arena_count ? arena_count : 1));
    if (!m->nodes || !m->params || !m->blocks || !m->arena) {
        bq_seterr(err, errlen, "%s: out of memory", name);
        bq_model_free(m);
        return -1;
    }
    m->n_nodes = m->cap_nodes = nn; m->n_params = m->cap_params = np;
    m->n_blocks = m->cap_blocks = nb; m->arena_count = arena_count;
    for (int i = 0; i < nn; i++) {
        get_node(&r, &m->nodes[i]);
        if (check_name(m->nodes[i].name, "node", i, name, err, errlen)) { bq_model_free(m); return -1; }
    }
    for (int i = 0; i < np; i++) {
        bq_param *p = &m->params[i];
        int32_t v;
        uint64_t u;
        bq_rd_str(&r, p->name, BQ_NAME_LEN);
        bq_rd_i32(&r, &v); p->ndim = v;
        for (int k = 0; k < 4; k++) { bq_rd_i32(&r, &v); p->shape[k] = v; }
        bq_rd_u64(&r, &u); p->count = u;
        bq_rd_u64(&r, &u); p->offset = u;
        bq_rd_i32(&r, &v); p->no_decay = v;
        bq_rd_i32(&r, &v); p->is_buffer = v;
        if (check_name(p->name, "parameter", i, name, err, errlen)) { bq_model_free(m); return -1; }
        if (!r.bad && (p->count > arena_count || p->offset > arena_count - p->count)) {
            bq_seterr(err, errlen, "%s: parameter '%s' lies outside the parameter data", name, p->name);
            bq_model_free(m);
            return -1;
        }
    }
    for (int i = 0; i < nb; i++) {
        bq_block *bl = &m->blocks[i];
        int32_t v;
        bq_rd_str(&r, bl->name, BQ_NAME_LEN);
        bq_rd_i32(&r, &v); bl->input = v;
        bq_rd_i32(&r, &v); bl->first = v;
        bq_rd_i32(&r, &v); bl->last = v;
        bq_rd_i32(&r, &v); bl->has_residual = v;
        if (check_name(bl->name, "block", i, name, err, errlen)) { bq_model_free(m); return -1; }
    }
    for (uint64_t i = 0; i < arena_count; i++) bq_rd_f32(&r, &m->arena[i]);
    if (r.bad || r.pos != r.len) {
        bq_seterr(err, errlen, "%s: %s (at byte %zu of %zu)", name,
                  r.bad ? "file ends inside the model data" : "unexpected bytes after the model data",
                  r.pos, len);
        bq_model_free(m);
        return -1;
    }
    char verr[256];
    if (bq_model_validate(m, verr, sizeof(verr))) {
        bq_seterr(err, errlen, "%s: invalid model: %s; re-create it with `brecq train` or "
                  "re-import the ONNX file", name, verr);
        bq_model_free(m);
        return -1;
    }
    return 0;
}

int bq_model_save(const bq_model *m, const char *path, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    if (bq_model_serialize(m, &data, &len)) { bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    int rc = bq_write_file_atomic(path, data, len, err, errlen);
    free(data);
    return rc;
}

int bq_model_load(bq_model *m, const char *path, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    memset(m, 0, sizeof(*m));
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    int rc = bq_model_parse(m, data, len, path, err, errlen);
    free(data);
    return rc;
}

void bq_fnv_sink(void *ctx, const void *p, size_t n) {
    uint64_t *h = ctx;
    *h = bq_fnv1a64(p, n, *h);
}

/* FNV-1a of the serialised bytes, computed as they are produced: no copy, no allocation (an
 * allocation failure here once gave a wrong source hash with exit 0). */
uint64_t bq_model_hash(const bq_model *m) {
    uint64_t h = BQ_FNV_INIT;
    bq_buf b = {0};
    b.sink = bq_fnv_sink;
    b.sink_ctx = &h;
    bq_model_serialize_to(m, &b);
    return h;
}
