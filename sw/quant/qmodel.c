/*
 * qmodel.c — quantizer placement, bit rules, bits.yaml, the .bqq file (see qmodel.h).
 */
#include "core/yamldoc.h"
#include "core/errmsg.h"
#include "quant/qmodel.h"
#include "quant/qmodel_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <zlib.h>

#include "core/fileio.h"
#include "quant/intref.h"
#include "io/model_io.h"
#include "quant/quant.h"

static int is_layer_kind(bq_op_kind k) { return k == BQ_OP_CONV || k == BQ_OP_LINEAR; }

static void free_layers(bq_qmodel *q) {
    for (int l = 0; l < q->n_layers; l++) {
        free(q->layers[l].scale);
        free(q->layers[l].zero);
        free(q->layers[l].codes);
    }
    free(q->layers);
    q->layers = NULL;
    q->n_layers = 0;
}

void bq_qmodel_free(bq_qmodel *q) {
    if (!q) return;
    free_layers(q);
    free(q->aq);
    free(q->node_aq);
    free(q->node_layer);
    bq_model_free(&q->model);
    memset(q, 0, sizeof(*q));
}

/* Which operand of ADD node a is the residual branch (the other is the shortcut). -1 if neither.
 * users[n] = number of consumers of node n. When both operands are conv/linear outputs (in this
 * order of rules, the first that decides wins):
 *   1. the operand that IS the block input is the shortcut (a MobileNetV2 block whose input is the
 *      previous block's projection conv: that conv's output is also read by this block's expand);
 *   2. the operand that reads the block input directly is the shortcut (the downsample conv);
 *   3. an operand with other consumers is the shortcut (it cannot end this branch: the add would
 *      not be its only consumer), when exactly one operand has a single consumer;
 *   4. in[0]. Rules 1 and 3 only decide where the older rules picked an operand that could not
 *      absorb the add, so every model that quantized before places its quantizers as before. */
static int branch_operand(const bq_model *m, const int *users, int a) {
    const bq_node *nd = &m->nodes[a];
    int x = nd->in[0], y = nd->in[1];
    int lx = is_layer_kind(m->nodes[x].kind), ly = is_layer_kind(m->nodes[y].kind);
    if (lx && !ly) return x;
    if (ly && !lx) return y;
    if (!lx && !ly) return -1;
    if (nd->block >= 0) {
        int bin = m->blocks[nd->block].input;
        if (x == bin) return y;
        if (y == bin) return x;
        int xr = m->nodes[x].in[0] == bin, yr = m->nodes[y].in[0] == bin;
        if (xr && !yr) return y;
        if (yr && !xr) return x;
    }
    if (users[x] > 1 && users[y] == 1) return y;
    if (users[y] > 1 && users[x] == 1) return x;
    return x;
}

/* Every residual add must end a branch: the accelerator adds a shortcut only in the output stage
 * of the layer that ends the branch (numerics §7); there is no stand-alone add. */
static int check_adds_absorbed(const bq_qmodel *q, char *err, size_t errlen) {
    const bq_model *m = &q->model;
    for (int i = 0; i < m->n_nodes; i++) {
        if (m->nodes[i].kind != BQ_OP_ADD) continue;
        int absorbed = 0;
        for (int l = 0; l < q->n_layers; l++) absorbed |= q->layers[l].add_node == i;
        if (!absorbed) {
            bq_seterr(err, errlen, "model '%s': add '%s' has no operand that is a conv/linear output "
                      "read only by this add, so no layer can compute it in its output stage; "
                      "make one operand a conv (+BN) branch read by nothing else (docs/numerics.md §7)",
                      m->arch, m->nodes[i].name);
            return -1;
        }
    }
    return 0;
}

/* Place layers and quantizers on q->model (already folded). Bits from q->opts. */
static int place(bq_qmodel *q, char *err, size_t errlen) {
    const bq_model *m = &q->model;
    int nn = m->n_nodes;
    int *users = calloc((size_t)nn, sizeof(int)), *cons = malloc(sizeof(int) * (size_t)nn);
    int *isq = calloc((size_t)nn, sizeof(int));
    q->node_aq = malloc(sizeof(int) * (size_t)nn);
    q->node_layer = malloc(sizeof(int) * (size_t)nn);
    int rc = -1, nl = 0;
    if (!users || !cons || !isq || !q->node_aq || !q->node_layer) goto oom;
    for (int i = 0; i < nn; i++) {
        cons[i] = -1;
        q->node_aq[i] = q->node_layer[i] = -1;
    }
    for (int i = 0; i < nn; i++)
        for (int j = 0; j < 2; j++) {
            int p = m->nodes[i].in[j];
            if (p >= 0) { users[p]++; cons[p] = i; }
        }
    for (int i = 0; i < nn; i++) nl += is_layer_kind(m->nodes[i].kind);
    if (nl == 0 || m->nodes[0].kind != BQ_OP_INPUT) {
        bq_seterr(err, errlen, "model '%s' has no conv/linear layer or no input node; nothing to quantize",
               m->arch);
        goto done;
    }
    q->layers = calloc((size_t)nl, sizeof(bq_qlayer));
    if (!q->layers) goto oom;
    q->n_layers = nl;
    /* layers and their output chains */
    int li = 0;
    isq[0] = 1;
    for (int i = 0; i < nn; i++) {
        const bq_node *nd = &m->nodes[i];
        if (!is_layer_kind(nd->kind)) continue;
        bq_qlayer *L = &q->layers[li];
        q->node_layer[i] = li++;
        L->node = i;
        L->cout = nd->c;
        L->per_out = (int)(m->params[nd->p_weight].count / (size_t)nd->c);
        L->res_node = L->aq_res = L->add_node = -1;
        L->aq_in = L->aq_out = -1;
        L->act_lo = 0.0f;
        L->act_hi = 0.0f;
        int e = i;
        if (users[e] == 1 && m->nodes[cons[e]].kind == BQ_OP_ADD && branch_operand(m, users, cons[e]) == e) {
            int a = cons[e];
            L->add_node = a;
            L->res_node = m->nodes[a].in[0] == e ? m->nodes[a].in[1] : m->nodes[a].in[0];
            e = a;
        }
        if (users[e] == 1) {
            const bq_node *c = &m->nodes[cons[e]];
            if (c->kind == BQ_OP_RELU) { L->out_act = BQ_OUTACT_RELU; e = cons[e]; }
            else if (c->kind == BQ_OP_RELU6) { L->out_act = BQ_OUTACT_RELU6; e = cons[e]; }
            else if (c->kind == BQ_OP_CLAMP) {
                L->out_act = BQ_OUTACT_CLAMP; L->act_lo = c->lo; L->act_hi = c->hi; e = cons[e];
            }
        }
        if (L->out_act == BQ_OUTACT_RELU6) L->act_hi = 6.0f;
        L->out_node = e;
        if (e == nn - 1) L->raw32 = 1;
        else isq[e] = 1;
    }
    if (check_adds_absorbed(q, err, errlen)) goto done;
    /* the last layer must end the network */
    if (!q->layers[nl - 1].raw32) {
        bq_seterr(err, errlen, "model '%s': the output node '%s' is not the end of a conv/linear output "
               "chain; the classifier must be the last layer (RAW32 logits)", m->arch,
               m->nodes[nn - 1].name);
        goto done;
    }
    q->layers[0].first = 1;
    q->layers[nl - 1].last = 1;
    /* quantizers in node order */
    int na = 0;
    for (int i = 0; i < nn; i++) na += isq[i];
    q->aq = calloc((size_t)na, sizeof(bq_aquant));
    if (!q->aq) goto oom;
    q->n_aq = na;
    int ai = 0;
    for (int i = 0; i < nn; i++) {
        const bq_node *nd = &m->nodes[i];
        if (isq[i]) {
            q->aq[ai].node = i;
            q->aq[ai].role = i == 0 ? BQ_AQ_INPUT : BQ_AQ_ACT;
            q->aq[ai].scale = 1.0f;
            q->node_aq[i] = ai++;
        } else if ((nd->kind == BQ_OP_GAP || nd->kind == BQ_OP_MAXPOOL || nd->kind == BQ_OP_FLATTEN) &&
                   nd->in[0] >= 0) {
            q->node_aq[i] = q->node_aq[nd->in[0]];   /* same grid as the input */
        }
    }
    /* connect layers to quantizers; roles */
    for (int l = 0; l < nl; l++) {
        bq_qlayer *L = &q->layers[l];
        const bq_node *nd = &m->nodes[L->node];
        L->aq_in = q->node_aq[nd->in[0]];
        if (L->aq_in < 0) {
            bq_seterr(err, errlen, "layer '%s': its input '%s' is not a quantized tensor (unsupported op "
                   "between layers, e.g. avgpool or an add without a conv branch)", nd->name,
                   m->nodes[nd->in[0]].name);
            goto done;
        }
        L->aq_out = L->raw32 ? -1 : q->node_aq[L->out_node];
        if (L->res_node >= 0) {
            L->aq_res = q->node_aq[L->res_node];
            if (L->aq_res < 0) {
                bq_seterr(err, errlen, "layer '%s': shortcut operand '%s' is not a quantized tensor",
                       nd->name, m->nodes[L->res_node].name);
                goto done;
            }
        }
    }
    for (int b = 0; b < m->n_blocks; b++) {
        int a = q->node_aq[m->blocks[b].last];
        if (a >= 0 && q->aq[a].node == m->blocks[b].last) q->aq[a].role = BQ_AQ_BLOCK_OUT;
    }
    for (int l = 0; l < nl; l++) {
        bq_qlayer *L = &q->layers[l];
        if (L->aq_res >= 0 && is_layer_kind(m->nodes[L->res_node].kind))
            q->aq[L->aq_res].role = BQ_AQ_SHORTCUT;
    }
    if (q->layers[0].aq_out >= 0 && q->layers[0].aq_out != 0) q->aq[q->layers[0].aq_out].role = BQ_AQ_FIRST_OUT;
    if (q->layers[nl - 1].aq_in > 0) q->aq[q->layers[nl - 1].aq_in].role = BQ_AQ_LAST_IN;
    rc = 0;
    goto done;
oom:
    bq_seterr(err, errlen, "out of memory");
done:
    free(users); free(cons); free(isq);
    return rc;
}

/* Bits of every quantizer and layer from the options. */
static void set_bits(bq_qmodel *q) {
    const bq_qmodel_opts *o = &q->opts;
    int off = o->abits >= BQ_ABITS_FLOAT;
    for (int a = 0; a < q->n_aq; a++) {
        bq_aquant *A = &q->aq[a];
        int b = o->abits;
        switch (A->role) {
        case BQ_AQ_INPUT: case BQ_AQ_SHORTCUT: b = 8; break;
        case BQ_AQ_FIRST_OUT: case BQ_AQ_LAST_IN: b = o->first_last_8bit ? 8 : o->abits; break;
        default: break;
        }
        A->bits = off ? 0 : b;
    }
    for (int l = 0; l < q->n_layers; l++) {
        bq_qlayer *L = &q->layers[l];
        L->wbits = ((L->first || L->last) && o->first_last_8bit) ? 8 : o->wbits;
    }
}

static int alloc_weights(bq_qmodel *q) {
    for (int l = 0; l < q->n_layers; l++) {
        bq_qlayer *L = &q->layers[l];
        L->scale = calloc((size_t)L->cout, sizeof(float));
        L->zero = calloc((size_t)L->cout, sizeof(int32_t));
        L->codes = calloc((size_t)L->cout * (size_t)L->per_out, 1);
        if (!L->scale || !L->zero || !L->codes) return -1;
        for (int c = 0; c < L->cout; c++) L->scale[c] = 1.0f;
    }
    return 0;
}

int bq_qmodel_init(bq_qmodel *q, const bq_model *fp, const bq_qmodel_opts *opts, char *err,
                   size_t errlen) {
    memset(q, 0, sizeof(*q));
    if (opts->wbits < BQ_QBITS_MIN || opts->wbits > BQ_QBITS_MAX) {
        bq_seterr(err, errlen, "wbits %d out of range; use %d..%d", opts->wbits, BQ_QBITS_MIN, BQ_QBITS_MAX);
        return -1;
    }
    if ((opts->abits < BQ_QBITS_MIN || opts->abits > BQ_QBITS_MAX) && opts->abits != BQ_ABITS_FLOAT) {
        bq_seterr(err, errlen, "abits %d out of range; use %d..%d, or %d for float activations",
               opts->abits, BQ_QBITS_MIN, BQ_QBITS_MAX, BQ_ABITS_FLOAT);
        return -1;
    }
    if (bq_model_fold_bn(&q->model, fp, err, errlen)) return -1;
    q->src_hash = bq_model_hash(fp);
    q->opts = *opts;
    snprintf(q->method, sizeof(q->method), "rtn");
    if (place(q, err, errlen)) { bq_qmodel_free(q); return -1; }
    set_bits(q);
    if (alloc_weights(q)) {
        bq_seterr(err, errlen, "out of memory");
        bq_qmodel_free(q);
        return -1;
    }
    return 0;
}

void bq_qmodel_quantize_layer(bq_qmodel *q, int l) {
    bq_qlayer *L = &q->layers[l];
    const float *w = bq_param_data(&q->model, q->model.nodes[L->node].p_weight);
    bq_wq_quantize(L->codes, w, L->scale, L->zero, L->cout, L->per_out, L->wbits);
}

void bq_qmodel_init_weights(bq_qmodel *q, float p) {
    for (int l = 0; l < q->n_layers; l++) {
        bq_qlayer *L = &q->layers[l];
        const float *w = bq_param_data(&q->model, q->model.nodes[L->node].p_weight);
        bq_wq_init_mse(L->scale, L->zero, w, L->cout, L->per_out, L->wbits, p);
        bq_qmodel_quantize_layer(q, l);
    }
}

int bq_qmodel_act_enabled(const bq_qmodel *q) {
    int n = 0;
    for (int a = 0; a < q->n_aq; a++) n += q->aq[a].bits > 0;
    return n;
}

int bq_qmodel_find_layer(const bq_qmodel *q, const char *name) {
    int i = bq_find_node(&q->model, name);
    return i < 0 ? -1 : q->node_layer[i];
}

/* ---- bits.yaml ---- */

static int mark_err(char *err, size_t errlen, const char *fname, yaml_mark_t mk, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int mark_err(char *err, size_t errlen, const char *fname, yaml_mark_t mk, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bq_seterr(err, errlen, "%s:%zu:%zu: %s", fname, mk.line + 1, mk.column + 1, msg);
    return -1;
}

/* One layer's entry: {wbits: W, abits: A}, each optional (-1 = not given). */
typedef struct { int wbits, abits; } bits_entry;
static const bq_ykey kBitsKeys[] = {
    {"wbits", BQ_Y_INT, 0, BQ_QBITS_MIN, BQ_QBITS_MAX, offsetof(bits_entry, wbits),
     .what = "weight bits"},
    {"abits", BQ_Y_INT, 0, BQ_QBITS_MIN, BQ_QBITS_MAX, offsetof(bits_entry, abits),
     .what = "bits of the layer's input activations"},
};

int bq_qmodel_apply_bits_text(bq_qmodel *q, const char *text, size_t len, const char *fname,
                              char *err, size_t errlen) {
    yaml_document_t doc;
    int rc = -1, have_doc = 0;
    int *set_by = NULL;       /* [n_aq] layer that set this quantizer's bits in this file, -1 */
    size_t *given = NULL;     /* [n_layers] line of the layer's entry, 0 = not given yet */
    bq_ymarks *marks = NULL;
    if (bq_yaml_load(&doc, text, len, fname, err, errlen)) goto done;
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) { rc = 0; goto done; }    /* empty file: nothing to change */
    if (root->type != YAML_MAPPING_NODE) {
        mark_err(err, errlen, fname, root->start_mark,
                 "a bits file is a mapping 'layer name: {wbits: W, abits: A}'");
        goto done;
    }
    set_by = malloc(sizeof(int) * (size_t)(q->n_aq ? q->n_aq : 1));
    given = calloc((size_t)(q->n_layers ? q->n_layers : 1), sizeof *given);
    marks = malloc(sizeof *marks);
    if (!set_by || !given || !marks) { bq_seterr(err, errlen, "out of memory"); goto done; }
    for (int a = 0; a < q->n_aq; a++) set_by[a] = -1;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        if (k->type != YAML_SCALAR_NODE) {
            mark_err(err, errlen, fname, k->start_mark, "layer names must be plain strings");
            goto done;
        }
        const char *name = (const char *)k->data.scalar.value;
        int l = bq_qmodel_find_layer(q, name);
        if (l < 0) {
            mark_err(err, errlen, fname, k->start_mark,
                     "unknown layer '%s'; `brecq info --model M` lists the conv/linear layers", name);
            goto done;
        }
        if (given[l]) {
            mark_err(err, errlen, fname, k->start_mark,
                     "layer '%s' given twice (first at line %zu); keep one entry per layer", name,
                     given[l]);
            goto done;
        }
        given[l] = k->start_mark.line + 1;
        if (v->type != YAML_MAPPING_NODE) {
            mark_err(err, errlen, fname, v->start_mark, "'%s' must be a mapping {wbits: W, abits: A}",
                     name);
            goto done;
        }
        bits_entry e = {-1, -1};
        marks->n = 0;
        if (bq_yschema_load(kBitsKeys, 2, &doc, v, name, fname, &e, marks, err, errlen)) goto done;
        bq_qlayer *L = &q->layers[l];
        if (e.wbits >= 0) L->wbits = e.wbits;
        if (e.abits < 0) continue;
        yaml_mark_t am = v->start_mark;   /* where abits was given */
        for (int i = 0; i < marks->n; i++)
            if (marks->at[i].key == &kBitsKeys[1]) am = marks->at[i].value_mark;
        bq_aquant *A = &q->aq[L->aq_in];
        if (A->bits == 0) {
            mark_err(err, errlen, fname, am,
                     "'%s.abits': activations are float in this recipe (abits: 32); set abits "
                     "in the recipe first", name);
            goto done;
        }
        if (set_by[L->aq_in] >= 0 && A->bits != e.abits) {
            mark_err(err, errlen, fname, am,
                     "'%s.abits: %d' conflicts with '%s.abits: %d': both read the same "
                     "quantized tensor '%s' (activation bits belong to the quantizer)", name, e.abits,
                     q->model.nodes[q->layers[set_by[L->aq_in]].node].name, A->bits,
                     q->model.nodes[A->node].name);
            goto done;
        }
        A->bits = e.abits;
        set_by[L->aq_in] = l;
    }
    rc = 0;
done:
    free(marks);
    free(given);
    free(set_by);
    if (have_doc) yaml_document_delete(&doc);
    return rc;
}

int bq_qmodel_apply_bits(bq_qmodel *q, const char *path, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    int rc = bq_qmodel_apply_bits_text(q, (const char *)data, len, path, err, errlen);
    free(data);
    return rc;
}

int bq_qmodel_check_integer(const bq_qmodel *q, char *err, size_t errlen) {
    bq_intnet net;
    if (bq_intnet_init(&net, q, 1, err, errlen)) return -1;
    bq_intnet_free(&net);
    return 0;
}

/* ---- file ---- */

static void put_body(bq_buf *b, const bq_qmodel *q, const unsigned char *mdata, size_t mlen) {
    bq_buf_u64(b, q->src_hash);
    bq_buf_u64(b, q->recipe_hash);
    bq_buf_str(b, q->method, sizeof(q->method));
    bq_buf_i32(b, q->opts.wbits);
    bq_buf_i32(b, q->opts.abits);
    bq_buf_i32(b, q->opts.first_last_8bit);
    bq_buf_u64(b, (uint64_t)mlen);
    if (mdata) bq_buf_put(b, mdata, mlen);
    else bq_model_serialize_to(&q->model, b);   /* a hashing sink: the same bytes, no copy */
    bq_buf_u32(b, (uint32_t)q->n_layers);
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        bq_buf_i32(b, L->node);
        bq_buf_i32(b, L->cout);
        bq_buf_i32(b, L->per_out);
        bq_buf_i32(b, L->wbits);
        for (int c = 0; c < L->cout; c++) bq_buf_f32(b, L->scale[c]);
        for (int c = 0; c < L->cout; c++) bq_buf_i32(b, L->zero[c]);
        bq_buf_put(b, L->codes, (size_t)L->cout * (size_t)L->per_out);
    }
    bq_buf_u32(b, (uint32_t)q->n_aq);
    for (int a = 0; a < q->n_aq; a++) {
        const bq_aquant *A = &q->aq[a];
        bq_buf_i32(b, A->node);
        bq_buf_i32(b, A->bits);
        bq_buf_f32(b, A->scale);
        bq_buf_i32(b, A->zero);
        bq_buf_i32(b, (int32_t)A->role);
        bq_buf_i32(b, A->initialized);
    }
}

static void count_sink(void *ctx, const void *p, size_t n) { (void)ctx; (void)p; (void)n; }

/* FNV-1a of the body as bq_qmodel_save writes it, computed as it is produced: no allocation (an
 * allocation failure here once gave a wrong hash with exit 0). The model's length comes first,
 * from a counting pass. */
uint64_t bq_qmodel_hash(const bq_qmodel *q) {
    bq_buf count = {0};
    count.sink = count_sink;
    bq_model_serialize_to(&q->model, &count);
    uint64_t h = BQ_FNV_INIT;
    bq_buf b = {0};
    b.sink = bq_fnv_sink;
    b.sink_ctx = &h;
    put_body(&b, q, NULL, count.len);
    return h;
}

int bq_qmodel_save(const bq_qmodel *q, const char *path, char *err, size_t errlen) {
    unsigned char *md;
    size_t ml;
    if (bq_model_serialize(&q->model, &md, &ml)) { bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    bq_buf b = {0};
    bq_buf_put(&b, BQ_QMODEL_MAGIC, 8);
    bq_buf_u32(&b, BQ_QMODEL_VERSION);
    put_body(&b, q, md, ml);
    free(md);
    bq_buf_u32(&b, (uint32_t)crc32(0L, b.data, (uInt)b.len));
    int rc = -1;
    if (b.oom) bq_seterr(err, errlen, "%s: out of memory", path);
    else rc = bq_write_file_atomic(path, b.data, b.len, err, errlen);
    bq_buf_free(&b);
    return rc;
}

/* The reader: framing, the embedded model, the placement (bq_qmodel_load adds the value checks). */
static int qmodel_read(bq_qmodel *q, const char *path, char *err, size_t errlen) {
    memset(q, 0, sizeof(*q));
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    int rc = -1;
    if (len < 16 || memcmp(data, BQ_QMODEL_MAGIC, 8) != 0) {
        bq_seterr(err, errlen, "%s: not a quantized model (bad magic); pass a .bqq written by "
               "`brecq quantize`", path);
        goto out;
    }
    uint32_t stored = (uint32_t)data[len - 4] | ((uint32_t)data[len - 3] << 8) |
                      ((uint32_t)data[len - 2] << 16) | ((uint32_t)data[len - 1] << 24);
    if ((uint32_t)crc32(0L, data, (uInt)(len - 4)) != stored) {
        bq_seterr(err, errlen, "%s: checksum mismatch (truncated or corrupted, %zu bytes); re-run "
               "`brecq quantize`", path, len);
        goto out;
    }
    bq_rd r = {data, len - 4, 8, 0};
    uint32_t ver;
    bq_rd_u32(&r, &ver);
    if (ver != BQ_QMODEL_VERSION) {
        bq_seterr(err, errlen, "%s: field 'version' is %u, this build reads %u; re-run `brecq quantize`",
               path, ver, BQ_QMODEL_VERSION);
        goto out;
    }
    uint64_t mlen;
    int32_t wb, ab, fl8;
    bq_rd_u64(&r, &q->src_hash);
    bq_rd_u64(&r, &q->recipe_hash);
    bq_rd_str(&r, q->method, sizeof(q->method));
    bq_rd_i32(&r, &wb); bq_rd_i32(&r, &ab); bq_rd_i32(&r, &fl8);
    bq_rd_u64(&r, &mlen);
    for (const char *c = q->method; *c; c++)   /* printed by `info` and reports: one line */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            bq_seterr(err, errlen, "%s: field 'method' has a control character; re-run `brecq quantize`", path);
            goto out;
        }
    if (r.bad || mlen > r.len - r.pos) {
        bq_seterr(err, errlen, "%s: field 'model' length out of range", path);
        goto out;
    }
    char mname[600];
    snprintf(mname, sizeof(mname), "%s (embedded model)", path);
    if (bq_model_parse(&q->model, data + r.pos, (size_t)mlen, mname, err, errlen)) goto out;
    r.pos += (size_t)mlen;
    q->opts.wbits = wb; q->opts.abits = ab; q->opts.first_last_8bit = fl8;
    char perr[256];
    if (place(q, perr, sizeof(perr))) {
        bq_seterr(err, errlen, "%s: embedded model: %s", path, perr);
        goto fail;
    }
    if (alloc_weights(q)) { bq_seterr(err, errlen, "%s: out of memory", path); goto fail; }
    uint32_t nl, na;
    bq_rd_u32(&r, &nl);
    if (r.bad || (int)nl != q->n_layers) {
        bq_seterr(err, errlen, "%s: field 'n_layers' is %u, the embedded model has %d layers", path, nl,
               q->n_layers);
        goto fail;
    }
    for (int l = 0; l < q->n_layers; l++) {
        bq_qlayer *L = &q->layers[l];
        int32_t node, cout, per, wbits;
        bq_rd_i32(&r, &node); bq_rd_i32(&r, &cout); bq_rd_i32(&r, &per); bq_rd_i32(&r, &wbits);
        if (r.bad || node != L->node || cout != L->cout || per != L->per_out ||
            wbits < 1 || wbits > BQ_QBITS_MAX) {
            bq_seterr(err, errlen, "%s: layer %d ('%s'): field 'node/cout/per_out/wbits' does not match "
                   "the embedded model", path, l, q->model.nodes[L->node].name);
            goto fail;
        }
        L->wbits = wbits;
        for (int c = 0; c < cout; c++) bq_rd_f32(&r, &L->scale[c]);
        for (int c = 0; c < cout; c++) bq_rd_i32(&r, &L->zero[c]);
        bq_rd_bytes(&r, L->codes, (size_t)cout * (size_t)per);
        for (int c = 0; c < cout && !r.bad; c++)
            if (!(L->scale[c] > 0.0f) || L->zero[c] < 0 || L->zero[c] > bq_qmax(wbits)) {
                bq_seterr(err, errlen, "%s: layer '%s' channel %d: field 'scale/zero' out of range "
                       "(s=%g, z=%d)", path, q->model.nodes[L->node].name, c, L->scale[c], L->zero[c]);
                goto fail;
            }
        for (size_t i = 0; i < (size_t)cout * (size_t)per && !r.bad; i++)
            if (L->codes[i] > bq_qmax(wbits)) {
                bq_seterr(err, errlen, "%s: layer '%s': field 'codes' has %d > 2^%d-1", path,
                       q->model.nodes[L->node].name, L->codes[i], wbits);
                goto fail;
            }
    }
    bq_rd_u32(&r, &na);
    if (r.bad || (int)na != q->n_aq) {
        bq_seterr(err, errlen, "%s: field 'n_quantizers' is %u, the embedded model places %d", path, na,
               q->n_aq);
        goto fail;
    }
    for (int a = 0; a < q->n_aq; a++) {
        bq_aquant *A = &q->aq[a];
        int32_t node, bits, zero, role, init;
        float s;
        bq_rd_i32(&r, &node); bq_rd_i32(&r, &bits); bq_rd_f32(&r, &s); bq_rd_i32(&r, &zero);
        bq_rd_i32(&r, &role); bq_rd_i32(&r, &init);
        if (r.bad || node != A->node || bits < 0 || bits > BQ_QBITS_MAX || !(s > 0.0f) ||
            (bits > 0 && (zero < 0 || zero > bq_qmax(bits)))) {
            bq_seterr(err, errlen, "%s: quantizer %d ('%s'): field 'node/bits/scale/zero' out of range",
                   path, a, node >= 0 && node < q->model.n_nodes ? q->model.nodes[node].name : "?");
            goto fail;
        }
        A->bits = bits; A->scale = s; A->zero = zero; A->role = (bq_aq_role)role;
        A->initialized = init;
    }
    if (r.bad || r.pos != r.len) {
        bq_seterr(err, errlen, "%s: %s", path, r.bad ? "truncated body" : "trailing bytes after the body");
        goto fail;
    }
    rc = 0;
    goto out;
fail:
    bq_qmodel_free(q);
out:
    free(data);
    return rc;
}

/* Every consumer (CLI, flow, benches) gets a value-checked model (qmodel_check.h). */
int bq_qmodel_load(bq_qmodel *q, const char *path, char *err, size_t errlen) {
    if (qmodel_read(q, path, err, errlen)) return -1;
    if (bq_qmodel_validate(q, path, err, errlen)) {
        bq_qmodel_free(q);
        return -1;
    }
    return 0;
}

static const char *role_name(bq_aq_role r) {
    switch (r) {
    case BQ_AQ_INPUT: return "input";
    case BQ_AQ_ACT: return "act";
    case BQ_AQ_BLOCK_OUT: return "block_out";
    case BQ_AQ_SHORTCUT: return "shortcut";
    case BQ_AQ_FIRST_OUT: return "first_out";
    case BQ_AQ_LAST_IN: return "last_in";
    }
    return "?";
}

void bq_qmodel_print(const bq_qmodel *q, void *file) {
    FILE *f = file;
    const bq_model *m = &q->model;
    /* the recipe's bit-widths; a --bits allocation changes layers, so the table below is the truth */
    fprintf(f, "quantized %s (method %s, recipe W%dA%d%s; per-layer bits below)\n", m->arch, q->method,
            q->opts.wbits, q->opts.abits, q->opts.first_last_8bit ? ", first/last 8-bit" : "");
    fprintf(f, "%-20s %5s %5s %5s  %-16s %s\n", "layer", "wbits", "abits", "obits", "output", "shortcut");
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        char ob[8];
        if (L->raw32) snprintf(ob, sizeof(ob), "raw32");
        else snprintf(ob, sizeof(ob), "%d", q->aq[L->aq_out].bits);
        fprintf(f, "%-20s %5d %5d %5s  %-16s %s\n", m->nodes[L->node].name, L->wbits,
                q->aq[L->aq_in].bits, ob, m->nodes[L->out_node].name,
                L->res_node >= 0 ? m->nodes[L->res_node].name : "-");
    }
    fprintf(f, "%-20s %5s %-10s %12s %5s\n", "quantizer at", "bits", "role", "scale", "zero");
    for (int a = 0; a < q->n_aq; a++)
        fprintf(f, "%-20s %5d %-10s %12.6g %5d\n", m->nodes[q->aq[a].node].name, q->aq[a].bits,
                role_name(q->aq[a].role), q->aq[a].scale, q->aq[a].zero);
}
