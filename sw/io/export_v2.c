/*
 * export_v2.c — the whole-network export package (format version 3, docs/formats.md
 * "Whole-network package") for ISA v2 configs: one program for the whole network (the lowering of
 * sw/lower/lower_v2.h), its memory map of HWC tensors, and the checker of such packages with an
 * independent recompute of every layer of test 0 from the unpacked K-order bit planes.
 */
#include "core/errmsg.h"
#include "io/export.h"
#include "io/export_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "lower/lower.h"
#include "lower/lower_v2.h"
#include "quant/intref.h"
#include "io/model_io.h"

/* The package being built: the reference net, the whole-network lowering, the .bin images. */
typedef struct {
    const bq_qmodel *q;
    const bq_hwcfg *hw;
    int n_tests;
    bq_intnet net;
    bq_lowered_v2 lw;
    size_t *w_off, *rq_off;     /* per layer: its range in weights.bin / requant.bin */
    size_t pg_off[BQ_NSTAGES];  /* the program's three queues in programs.bin */
    bq_buf W, RQ, T, PG, J;
    float *x;
    int *labels, *preds;
} v3_writer;

static void v3_free(v3_writer *P) {
    bq_buf_free(&P->W); bq_buf_free(&P->RQ); bq_buf_free(&P->T); bq_buf_free(&P->PG);
    bq_buf_free(&P->J);
    bq_lowered_v2_free(&P->lw);
    free(P->w_off); free(P->rq_off); free(P->x); free(P->labels); free(P->preds);
    bq_intnet_free(&P->net);
}

/* Tensor k of the memory map: 0 the network input, 1 + i layer i's output. */
static const char *tensor_name(const v3_writer *P, int k) {
    const bq_model *m = &P->q->model;
    if (k == 0) return m->nodes[P->lw.input_node].name;
    const int i = k - 1;
    return P->lw.layers[i].hw.raw32 ? "logits" : m->nodes[P->lw.node_out[i]].name;
}

/* Bytes of layer i's output tensor in memory: HWC codes, or RAW32 tiles (m_pad x n_pad words). */
static uint64_t out_tensor_bytes(const bq_lowered_v2 *lw, int i) {
    const bq_v2_layer *v = &lw->layers[i];
    const bq_v2_plan *p = &lw->plans[i];
    if (v->hw.raw32) return 4ull * (uint64_t)p->base.m_pad * (uint64_t)p->base.n_pad;
    return (uint64_t)v->ho * (uint64_t)v->wo * (uint64_t)p->cs_out;
}

static uint64_t in_tensor_bytes(const v3_writer *P) {
    const bq_node *in = &P->q->model.nodes[P->lw.input_node];
    return (uint64_t)in->h * (uint64_t)in->w * (uint64_t)P->lw.cs_input;
}

/* weights.bin, requant.bin (one aligned range per layer) and programs.bin (three queues). */
static int pack_bins(v3_writer *P, char *err, size_t errlen) {
    const bq_lowered_v2 *lw = &P->lw;
    P->w_off = calloc((size_t)lw->n, sizeof(size_t));
    P->rq_off = calloc((size_t)lw->n, sizeof(size_t));
    if (!P->w_off || !P->rq_off) goto oom;
    for (int i = 0; i < lw->n; i++) {
        P->w_off[i] = bq_exp_reserve(&P->W, (size_t)lw->w_bytes[i]);
        P->rq_off[i] = bq_exp_reserve(&P->RQ, (size_t)lw->rq_bytes[i]);
        if (P->W.oom || P->RQ.oom) goto oom;
        memcpy(P->W.data + P->w_off[i], lw->w[i], (size_t)lw->w_bytes[i]);
        memcpy(P->RQ.data + P->rq_off[i], lw->rq[i], (size_t)lw->rq_bytes[i]);
    }
    for (int s = 0; s < BQ_NSTAGES; s++) {
        const size_t n = (size_t)lw->prog.len[s];
        P->pg_off[s] = bq_exp_reserve(&P->PG, 16 * n);
        if (P->PG.oom) goto oom;
        for (size_t i = 0; i < n; i++) {
            uint32_t w[4];
            if (bq_isa_encode(&lw->prog.ins[s][i], w)) {
                bq_seterr(err, errlen, "program: queue %d instruction %zu does not encode (a scheduler "
                          "bug; report it)", s, i);
                return -1;
            }
            for (int k = 0; k < 16; k++) P->PG.data[P->pg_off[s] + 16 * i + (size_t)k] = (uint8_t)(w[k / 4] >> (8 * (k % 4)));
        }
    }
    bq_exp_pad(&P->W); bq_exp_pad(&P->RQ); bq_exp_pad(&P->PG);
    return 0;
oom:
    bq_seterr(err, errlen, "out of memory");
    return -1;
}

static int run_tests(v3_writer *P, const bq_dataset *d, char *err, size_t errlen) {
    return bq_exp_run_tests(P->q, &P->net, d, P->n_tests, &P->x, &P->labels, &P->preds, err, errlen);
}

static void header(v3_writer *P) {
    const bq_qmodel *q = P->q;
    const bq_model *m = &q->model;
    const bq_hwcfg *hw = P->hw;
    const bq_node *in = &m->nodes[P->lw.input_node];
    const bq_aquant *A0 = &q->aq[0];
    bq_buf *J = &P->J;
    bq_buf_printf(J, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"isa\": 2,\n", BQ_EXPORT_FORMAT,
                  BQ_EXPORT_VERSION_WHOLE);
    bq_buf_printf(J, "  \"arch\": \"%s\",\n  \"method\": \"%s\",\n", m->arch, q->method);
    bq_buf_printf(J, "  \"model_hash\": \"%016llx\",\n  \"source_hash\": \"%016llx\",\n"
                  "  \"qmodel_hash\": \"%016llx\",\n", (unsigned long long)bq_model_hash(m),
                  (unsigned long long)q->src_hash, (unsigned long long)bq_qmodel_hash(q));
    bq_buf_printf(J, "  \"hw\": {\"name\": \"%s\", \"hash\": \"%016llx\", \"dm\": %d, \"dn\": %d, "
                  "\"dk\": %d, \"mem_width_bits\": %d, \"window_bytes\": %d, \"block_channels\": %d},\n",
                  hw->name, (unsigned long long)hw->hash, hw->dm, hw->dn, hw->dk, hw->mem_width_bits,
                  hw->window_bytes, hw->block_channels);
    bq_buf_printf(J, "  \"align\": %d,\n", BQ_EXPORT_ALIGN);
    float norm_scale = 1.0f / (255.0f * m->in_std), norm_shift = -m->in_mean / m->in_std;
    bq_buf_printf(J, "  \"input\": {\"name\": \"%s\", \"tensor\": \"%s\", \"layout\": \"hwc_u8\", "
                  "\"c\": %d, \"h\": %d, \"w\": %d, \"cs\": %d, \"bits\": %d, \"scale\": %.9g, "
                  "\"zero\": %d, \"mean\": %.9g, \"std\": %.9g, \"norm_scale\": %.9g, "
                  "\"norm_shift\": %.9g, \"rounding\": \"half_up\"},\n", in->name, tensor_name(P, 0),
                  in->c, in->h, in->w, P->lw.cs_input, A0->bits, (double)A0->scale, A0->zero,
                  (double)m->in_mean, (double)m->in_std, (double)norm_scale, (double)norm_shift);
}

/* "memory": its size and every tensor (the input, each layer's output). */
static void memory_map(v3_writer *P) {
    const bq_lowered_v2 *lw = &P->lw;
    const bq_node *in = &P->q->model.nodes[lw->input_node];
    bq_buf *J = &P->J;
    bq_buf_printf(J, "  \"memory\": {\"bytes\": %llu, \"align\": %d, \"tensors\": [\n",
                  (unsigned long long)lw->mem_bytes, P->hw->mem_width_bits / 8);
    bq_buf_printf(J, "    {\"name\": \"%s\", \"addr\": %u, \"bytes\": %llu, \"layout\": \"hwc_u8\", "
                  "\"c\": %d, \"h\": %d, \"w\": %d, \"cs\": %d},\n", tensor_name(P, 0), lw->mp.input,
                  (unsigned long long)in_tensor_bytes(P), in->c, in->h, in->w, lw->cs_input);
    for (int i = 0; i < lw->n; i++) {
        const bq_v2_layer *v = &lw->layers[i];
        const bq_v2_plan *p = &lw->plans[i];
        bq_buf_printf(J, "    {\"name\": \"%s\", \"addr\": %u, \"bytes\": %llu, \"layout\": \"%s\", "
                      "\"c\": %d, \"h\": %d, \"w\": %d, \"cs\": %d}%s\n", tensor_name(P, 1 + i),
                      lw->mp.out[i], (unsigned long long)out_tensor_bytes(lw, i),
                      v->hw.raw32 ? "raw32_tiles" : "hwc_u8", v->cout, v->ho, v->wo,
                      v->hw.raw32 ? 0 : p->cs_out, i + 1 < lw->n ? "," : "");
    }
    bq_buf_printf(J, "  ]},\n");
}

static const char *op_of(const v3_writer *P, int i) {
    const int l = P->lw.qlayer[i];
    if (l < 0) return "gap";
    const bq_node *nd = &P->q->model.nodes[P->net.L[l].node];
    if (nd->kind == BQ_OP_LINEAR) return "linear";
    return P->lw.layers[i].depthwise ? "conv_depthwise" : "conv";
}

/* Tensor index of the producer `from` (-1: the input). */
static const char *producer(const v3_writer *P, int from) { return tensor_name(P, from < 0 ? 0 : 1 + from); }

static void layer_entry(v3_writer *P, int i) {
    const bq_lowered_v2 *lw = &P->lw;
    const bq_v2_layer *v = &lw->layers[i];
    const bq_v2_plan *p = &lw->plans[i];
    const bq_hw_layer *h = &v->hw;
    const int hi = h->hi < 0 ? (1 << h->obits) - 1 : h->hi;
    bq_buf *J = &P->J;
    bq_buf_printf(J, "    {\"index\": %d, \"name\": \"%s\", \"op\": \"%s\", \"in\": \"%s\", \"res\": ", i,
                  h->name, op_of(P, i), producer(P, v->in_from));
    if (h->has_residual) bq_buf_printf(J, "\"%s\"", producer(P, v->res_from));
    else bq_buf_printf(J, "null");
    bq_buf_printf(J, ", \"out\": \"%s\",\n     \"cin\": %d, \"h\": %d, \"w\": %d, \"cout\": %d, "
                  "\"kh\": %d, \"kw\": %d, \"stride\": %d, \"pad\": [%d, %d], \"hout\": %d, "
                  "\"wout\": %d, \"depthwise\": %s,\n", tensor_name(P, 1 + i), v->cin, v->hi, v->wi,
                  v->cout, v->kh, v->kw, v->stride, v->pad_t, v->pad_l, v->ho, v->wo,
                  v->depthwise ? "true" : "false");
    bq_buf_printf(J, "     \"groups\": %d, \"M\": %d, \"N\": %d, \"ct\": %d, \"M_pad\": %d, "
                  "\"K_pad\": %d, \"N_pad\": %d, \"cs_in\": %d, \"cs_out\": %d, \"cs_res\": %d,\n",
                  h->groups, h->m, h->n, p->ct, p->base.m_pad, p->base.k_pad, p->base.n_pad, p->cs_in,
                  h->raw32 ? 0 : p->cs_out, p->cs_res);
    bq_buf_printf(J, "     \"wbits\": %d, \"abits\": %d, \"obits\": %d, \"rbits\": %d, \"w_signed\": %s, "
                  "\"raw32\": %s, \"z_a\": %d, \"z_o\": %d, \"z_r\": %d, \"lo\": %d, \"hi\": %d,\n",
                  h->wbits, h->abits, h->raw32 ? 0 : h->obits, h->has_residual ? h->rbits : 0,
                  h->w_signed ? "true" : "false", h->raw32 ? "true" : "false", v->z_a, h->z_o, h->z_r,
                  h->lo, hi);
    bq_buf_printf(J, "     \"w_addr\": %u, \"weights\": ", lw->mp.w[i]);
    bq_exp_json_range(J, &P->W, P->w_off[i], (size_t)lw->w_bytes[i]);
    bq_buf_printf(J, ", \"w_group_bytes\": %llu,\n     \"rq_addr\": %u, \"requant\": ",
                  (unsigned long long)p->base.w_group_bytes, lw->mp.rq[i]);
    bq_exp_json_range(J, &P->RQ, P->rq_off[i], (size_t)lw->rq_bytes[i]);
    bq_buf_printf(J, ", \"cycles\": %lld}%s\n", (long long)lw->cycles[i], i + 1 < lw->n ? "," : "");
}

/* "program" (the whole network's three queues), "cycles", "output". */
static void program_output(v3_writer *P) {
    const bq_lowered_v2 *lw = &P->lw;
    const bq_model *m = &P->q->model;
    bq_buf *J = &P->J;
    static const char *const st[BQ_NSTAGES] = {"fetch", "execute", "result"};
    bq_buf_printf(J, "  \"program\": {");
    for (int s = 0; s < BQ_NSTAGES; s++) {
        bq_buf_printf(J, "%s\"%s\": ", s ? ", " : "", st[s]);
        bq_exp_json_range(J, &P->PG, P->pg_off[s], 16 * (size_t)lw->prog.len[s]);
    }
    bq_buf_printf(J, "},\n  \"cycles\": %lld,\n", (long long)lw->lat.cycles);
    const int last = lw->n - 1, ql = lw->qlayer[last];
    const bq_ilayer *L = &P->net.L[ql];
    const bq_qlayer *Q = &P->q->layers[ql];
    bq_buf_printf(J, "  \"output\": {\"layer\": \"%s\", \"tensor\": \"logits\", \"classes\": %d, "
                  "\"layout\": \"int32_le\", \"s_a\": %.9g,\n    \"s_w\": [", m->nodes[L->node].name,
                  L->cout, (double)P->q->aq[Q->aq_in].scale);
    for (int c = 0; c < L->cout; c++) bq_buf_printf(J, "%s%.9g", c ? ", " : "", (double)Q->scale[c]);
    bq_buf_printf(J, "],\n    \"logit_scale\": [");
    for (int c = 0; c < L->cout; c++)
        bq_buf_printf(J, "%s%.9g", c ? ", " : "", (double)L->logit_scale[c]);
    bq_buf_printf(J, "],\n    \"argmax\": \"first c maximising float32(acc0[c]) * logit_scale[c]\"},\n");
}

static int tests(v3_writer *P, char *err, size_t errlen) {
    const bq_lowered_v2 *lw = &P->lw;
    const size_t ncls = (size_t)lw->layers[lw->n - 1].cout;
    bq_buf *T = &P->T, *J = &P->J;
    bq_buf_printf(J, "  \"tests\": [\n");
    for (int t = 0; t < P->n_tests; t++) {
        size_t ioff = bq_exp_reserve(T, (size_t)in_tensor_bytes(P));
        if (T->oom) goto oom;
        bq_lowered_v2_input_tensor(lw, &P->net, t, T->data + ioff);
        bq_buf_printf(J, "    {\"image\": %d, \"label\": %d, \"pred\": %d, \"input\": ", t, P->labels[t],
                      P->preds[t]);
        bq_exp_json_range(J, T, ioff, (size_t)in_tensor_bytes(P));
        bq_buf_printf(J, ",\n     \"logits\": [");
        for (size_t c = 0; c < ncls; c++)
            bq_buf_printf(J, "%s%d", c ? ", " : "", P->net.logits[(size_t)t * ncls + c]);
        bq_buf_printf(J, "],\n     \"layers\": [\n");
        for (int i = 0; i < lw->n; i++) {
            const size_t sz = (size_t)out_tensor_bytes(lw, i), off = bq_exp_reserve(T, sz);
            if (T->oom) goto oom;
            bq_lowered_v2_output_tensor(lw, i, &P->net, t, T->data + off);   /* padding bytes stay 0 */
            bq_buf_printf(J, "       {\"layer\": %d, \"out\": ", i);
            bq_exp_json_range(J, T, off, sz);
            bq_buf_printf(J, "}%s\n", i + 1 < lw->n ? "," : "");
        }
        bq_buf_printf(J, "     ]}%s\n", t + 1 < P->n_tests ? "," : "");
    }
    bq_buf_printf(J, "  ],\n");
    bq_exp_pad(T);
    return 0;
oom:
    bq_seterr(err, errlen, "out of memory");
    return -1;
}

static int manifest(v3_writer *P, char *err, size_t errlen) {
    header(P);
    memory_map(P);
    bq_buf_printf(&P->J, "  \"layers\": [\n");
    for (int i = 0; i < P->lw.n; i++) layer_entry(P, i);
    bq_buf_printf(&P->J, "  ],\n");
    program_output(P);
    if (tests(P, err, errlen)) return -1;
    const bq_buf *const bins[BQ_EXP_NBINS] = {&P->W, &P->RQ, &P->T, &P->PG};
    bq_exp_manifest_tail(&P->J, bins, P->hw->mem_width_bits / 8);
    if (P->W.oom || P->RQ.oom || P->T.oom || P->PG.oom || P->J.oom) {
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int bq_export_v3(const bq_qmodel *q, const bq_hwcfg *hw, const bq_dataset *d, int n_tests,
                 const char *dir, char *err, size_t errlen) {
    v3_writer P;
    memset(&P, 0, sizeof P);
    bq_program_init(&P.lw.prog);
    P.q = q;
    P.hw = hw;
    P.n_tests = n_tests;
    char e2[384];
    if (bq_intnet_init(&P.net, q, n_tests > 0 ? n_tests : 1, e2, sizeof e2)) {
        bq_seterr(err, errlen, "model is not integer-ready: %s", e2);
        return -1;
    }
    int rc = -1;
    if (bq_exp_check_names(&q->model, err, errlen) ||
        bq_lower_v2_full(&P.lw, &P.net, hw, err, errlen))
        goto done;
    if (!P.lw.layers[P.lw.n - 1].hw.raw32) {
        bq_seterr(err, errlen, "layer '%s': the last layer is not the RAW32 classifier; a whole-network "
                  "package ends in the logits", P.lw.layers[P.lw.n - 1].hw.name);
        goto done;
    }
    rc = pack_bins(&P, err, errlen) || run_tests(&P, d, err, errlen) || manifest(&P, err, errlen) ? -1 : 0;
    const bq_buf *const bins[BQ_EXP_NBINS] = {&P.W, &P.RQ, &P.T, &P.PG};
    if (rc == 0 && bq_exp_publish(bins, &P.J, hw->mem_width_bits / 8, dir, err, errlen)) rc = -2;
done:
    v3_free(&P);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* checker of version 3                                                                       */

enum { B_W = 0, B_RQ, B_T, B_PG };

typedef struct {
    char name[64];
    long long addr, bytes, c, h, w, cs;
    int raw32;
} v3_tensor;

typedef struct {
    char name[64];
    long long cin, h, w, cout, kh, kw, stride, pad_t, pad_l, hout, wout, groups, M, N, ct, m_pad,
        k_pad, n_pad, cs_in, cs_out, cs_res, wbits, abits, obits, rbits, z_a, z_o, z_r, lo, hi,
        w_addr, rq_addr, w_gb, cycles;
    int depthwise, raw32, w_signed;
    int in, res, out;                    /* tensor indices; res -1 without */
    const unsigned char *wts, *rq;       /* weights.bin / requant.bin bytes */
    long long w_size, rq_size;
} v3_layer;

typedef struct {
    bq_exp_mf *f;
    bq_exp_bin bins[BQ_EXP_NBINS];
    const char *bin_crc[BQ_EXP_NBINS];
    long long dm, dn, dk, mw, wb, mem_bytes;
    int nt, nl;
    v3_tensor *t;
    v3_layer *l;
} v3_check;

static int fail(v3_check *C, const char *fmt, const char *a, const char *b) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    bq_seterr(C->f->err, C->f->errlen, "%s/manifest.json: %s", C->f->dir, msg);
    return -1;
}

static int tensor_index(v3_check *C, const char *name) {
    for (int k = 0; k < C->nt; k++)
        if (!strcmp(C->t[k].name, name)) return k;
    return -1;
}

static yaml_node_t *seq_item(bq_exp_mf *f, yaml_node_t *seq, int i) {
    return yaml_document_get_node(&f->doc, seq->data.sequence.items.start[i]);
}

static int seq_len(yaml_node_t *seq) {
    return seq && seq->type == YAML_SEQUENCE_NODE
               ? (int)(seq->data.sequence.items.top - seq->data.sequence.items.start) : -1;
}

/* hw, isa, memory.bytes and every tensor: Wb-aligned, inside memory, its bytes = its shape. */
static int read_tensors(v3_check *C, yaml_node_t *root) {
    bq_exp_mf *f = C->f;
    yaml_node_t *hw = bq_exp_mget(f, root, "hw"), *mem = bq_exp_mget(f, root, "memory");
    long long isa, wbytes, bch;
    if (bq_exp_mint(f, root, "", "isa", 2, 2, &isa) || bq_exp_mint(f, hw, "hw.", "dm", 1, 4096, &C->dm) ||
        bq_exp_mint(f, hw, "hw.", "dn", 1, 4096, &C->dn) || bq_exp_mint(f, hw, "hw.", "dk", 8, 65536, &C->dk) ||
        bq_exp_mint(f, hw, "hw.", "mem_width_bits", 8, 4096, &C->mw) ||
        bq_exp_mint(f, hw, "hw.", "window_bytes", 1, 1 << 30, &wbytes) ||
        bq_exp_mint(f, hw, "hw.", "block_channels", 1, 1 << 20, &bch) ||
        bq_exp_mint(f, mem, "memory.", "bytes", 1, 1LL << 32, &C->mem_bytes))
        return -1;
    if (C->mw % 8 || C->dk % 8)
        return fail(C, "field 'hw.mem_width_bits' or 'hw.dk' is not a multiple of 8%s%s", "", "");
    C->wb = C->mw / 8;
    yaml_node_t *ts = bq_exp_mget(f, mem, "tensors");
    C->nt = seq_len(ts);
    if (C->nt < 2) return fail(C, "field 'memory.tensors' is missing or lists fewer than 2 tensors%s%s", "", "");
    C->t = calloc((size_t)C->nt, sizeof *C->t);
    if (!C->t) { bq_seterr(f->err, f->errlen, "out of memory"); return -1; }
    for (int k = 0; k < C->nt; k++) {
        yaml_node_t *n = seq_item(f, ts, k);
        v3_tensor *T = &C->t[k];
        char where[64];
        snprintf(where, sizeof where, "memory.tensors[%d].", k);
        const char *nm = bq_exp_mstr(f, n, where, "name"), *lay = bq_exp_mstr(f, n, where, "layout");
        if (!nm || !lay) return -1;
        snprintf(T->name, sizeof T->name, "%s", nm);
        T->raw32 = !strcmp(lay, "raw32_tiles");
        if (!T->raw32 && strcmp(lay, "hwc_u8"))
            return fail(C, "field '%slayout' is '%s', expected hwc_u8 or raw32_tiles", where, lay);
        if (bq_exp_mint(f, n, where, "addr", 0, 0xffffffffLL, &T->addr) ||
            bq_exp_mint(f, n, where, "bytes", 1, 1LL << 32, &T->bytes) ||
            bq_exp_mint(f, n, where, "c", 1, 1 << 20, &T->c) || bq_exp_mint(f, n, where, "h", 1, 1 << 16, &T->h) ||
            bq_exp_mint(f, n, where, "w", 1, 1 << 16, &T->w) || bq_exp_mint(f, n, where, "cs", 0, 1 << 20, &T->cs))
            return -1;
        int bad = T->addr % C->wb || T->addr + T->bytes > C->mem_bytes || tensor_index(C, nm) < k;
        if (T->raw32) bad |= T->cs != 0 || T->bytes < 4 * T->c * T->h * T->w;
        else bad |= T->cs < T->c || T->cs % C->wb || T->bytes != T->h * T->w * T->cs;
        if (bad) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%saddr/bytes/cs' of tensor '%s' (addr %lld, "
                      "%lld bytes, cs %lld): not %lld-byte aligned, outside memory.bytes (%lld), a duplicate "
                      "name, or bytes / cs not what the shape needs", f->dir, where, nm, T->addr, T->bytes,
                      T->cs, C->wb, C->mem_bytes);
            return -1;
        }
    }
    return 0;
}

static int tensor_field(v3_check *C, yaml_node_t *n, const char *where, const char *key, int *out) {
    yaml_node_t *v = bq_exp_mget(C->f, n, key);
    if (v && v->type == YAML_SCALAR_NODE && !strcmp((const char *)v->data.scalar.value, "null") &&
        !strcmp(key, "res")) {
        *out = -1;
        return 0;
    }
    const char *nm = bq_exp_mstr(C->f, n, where, key);
    if (!nm) return -1;
    if ((*out = tensor_index(C, nm)) < 0)
        return fail(C, "field '%s' names tensor '%s', which memory.tensors does not list", key, nm);
    return 0;
}

/* The layer's geometry against its tensors and the array. */
static int check_layer_shape(v3_check *C, const v3_layer *L, const char *where) {
    const v3_tensor *I = &C->t[L->in], *O = &C->t[L->out];
    const long long taps_k = L->kh * L->kw * L->ct;
    int bad = I->raw32 || I->c != L->cin || I->h != L->h || I->w != L->w || I->cs != L->cs_in ||
              O->c != L->cout || O->h != L->hout || O->w != L->wout || O->raw32 != L->raw32 ||
              (L->raw32 ? O->bytes < 4 * L->m_pad * L->n_pad || L->M > L->m_pad : O->cs != L->cs_out) ||
              L->hout != (L->h + 2 * L->pad_t - L->kh) / L->stride + 1 ||
              L->wout != (L->w + 2 * L->pad_l - L->kw) / L->stride + 1 || L->N != L->hout * L->wout ||
              L->M * L->groups != L->cout || (L->depthwise ? L->groups != L->cin || L->ct != C->wb
                                                           : L->groups != 1 || L->ct != L->cs_in) ||
              L->m_pad % C->dm || L->m_pad < L->M || L->k_pad % C->dk || L->k_pad < taps_k ||
              L->n_pad % C->dn || L->n_pad < L->N ||
              L->w_gb < L->wbits * (L->m_pad / C->dm) * (L->k_pad / C->dk) * C->dm * (C->dk / 8) ||
              L->w_size != L->w_gb * L->groups || L->rq_size != L->groups * L->m_pad * 16 ||
              (L->res >= 0 && (C->t[L->res].raw32 || C->t[L->res].cs != L->cs_res ||
                               C->t[L->res].c != L->cout || C->t[L->res].h * C->t[L->res].w != L->N));
    if (bad) {
        bq_seterr(C->f->err, C->f->errlen, "%s/manifest.json: field '%s' (layer '%s'): the geometry (cin, h, "
                  "w, cout, kernel, stride, pad, M/N/ct/*_pad, cs_*, w_group_bytes, weights/requant sizes) "
                  "does not match its tensors or the array", C->f->dir, where, L->name);
        return -1;
    }
    return 0;
}

static int read_layer(v3_check *C, yaml_node_t *n, int i) {
    bq_exp_mf *f = C->f;
    v3_layer *L = &C->l[i];
    char where[64];
    snprintf(where, sizeof where, "layers[%d].", i);
    const char *nm = bq_exp_mstr(f, n, where, "name");
    if (!nm) return -1;
    snprintf(L->name, sizeof L->name, "%s", nm);
    struct { const char *k; long long lo, hi, *v; } F[] = {
        {"cin", 1, 1 << 20, &L->cin}, {"h", 1, 1 << 16, &L->h}, {"w", 1, 1 << 16, &L->w},
        {"cout", 1, 1 << 20, &L->cout}, {"kh", 1, 1 << 16, &L->kh}, {"kw", 1, 1 << 16, &L->kw},
        {"stride", 1, 15, &L->stride}, {"hout", 1, 1 << 16, &L->hout}, {"wout", 1, 1 << 16, &L->wout},
        {"groups", 1, 1 << 20, &L->groups}, {"M", 1, 1 << 20, &L->M}, {"N", 1, 1 << 24, &L->N},
        {"ct", 1, 1 << 20, &L->ct}, {"M_pad", 1, 1 << 20, &L->m_pad}, {"K_pad", 1, 1 << 26, &L->k_pad},
        {"N_pad", 1, 1 << 26, &L->n_pad}, {"cs_in", 1, 1 << 20, &L->cs_in}, {"cs_out", 0, 1 << 20, &L->cs_out},
        {"cs_res", 0, 1 << 20, &L->cs_res}, {"wbits", 1, 8, &L->wbits}, {"abits", 1, 8, &L->abits},
        {"obits", 0, 8, &L->obits}, {"rbits", 0, 8, &L->rbits}, {"z_a", 0, 255, &L->z_a},
        {"z_o", 0, 255, &L->z_o}, {"z_r", 0, 255, &L->z_r}, {"lo", 0, 255, &L->lo}, {"hi", 0, 255, &L->hi},
        {"w_addr", 0, 0xffffffffLL, &L->w_addr}, {"rq_addr", 0, 0xffffffffLL, &L->rq_addr},
        {"w_group_bytes", 1, 1LL << 32, &L->w_gb}, {"cycles", 1, 1LL << 50, &L->cycles},
    };
    for (size_t k = 0; k < sizeof F / sizeof F[0]; k++)
        if (bq_exp_mint(f, n, where, F[k].k, F[k].lo, F[k].hi, F[k].v)) return -1;
    yaml_node_t *pad = bq_exp_mget(f, n, "pad");
    if (seq_len(pad) != 2 || seq_item(f, pad, 0)->type != YAML_SCALAR_NODE ||
        seq_item(f, pad, 1)->type != YAML_SCALAR_NODE)
        return fail(C, "field '%spad' must be [pad_t, pad_l]%s", where, "");
    char *e1, *e2;
    L->pad_t = strtoll((const char *)seq_item(f, pad, 0)->data.scalar.value, &e1, 10);
    L->pad_l = strtoll((const char *)seq_item(f, pad, 1)->data.scalar.value, &e2, 10);
    if (*e1 || *e2 || L->pad_t < 0 || L->pad_l < 0 || L->pad_t > 15 || L->pad_l > 15)
        return fail(C, "field '%spad' must hold two integers 0..15%s", where, "");
    if (bq_exp_mbool(f, n, where, "depthwise", &L->depthwise) || bq_exp_mbool(f, n, where, "raw32", &L->raw32) ||
        bq_exp_mbool(f, n, where, "w_signed", &L->w_signed) || tensor_field(C, n, where, "in", &L->in) ||
        tensor_field(C, n, where, "res", &L->res) || tensor_field(C, n, where, "out", &L->out))
        return -1;
    if (L->out != 1 + i)
        return fail(C, "field '%sout' must name memory.tensors[1 + index] (layer '%s')", where, L->name);
    yaml_node_t *wr = bq_exp_mget(f, bq_exp_mget(f, n, "weights"), "size"),
                *rr = bq_exp_mget(f, bq_exp_mget(f, n, "requant"), "size");
    L->w_size = wr && wr->type == YAML_SCALAR_NODE ? strtoll((const char *)wr->data.scalar.value, NULL, 10) : -1;
    L->rq_size = rr && rr->type == YAML_SCALAR_NODE ? strtoll((const char *)rr->data.scalar.value, NULL, 10) : -1;
    if (check_layer_shape(C, L, where)) return -1;
    if (!(L->wts = bq_exp_mrange(f, n, where, "weights", &C->bins[B_W], (size_t)L->w_size)) ||
        !(L->rq = bq_exp_mrange(f, n, where, "requant", &C->bins[B_RQ], (size_t)L->rq_size)))
        return -1;
    return 0;
}

/* Weight code (g, m, k) from the K-order bit planes (docs/hw_isa.md §2.1, whole_network.md §3):
 * plane pl, row tile m / Dm, K word k / Dk, row m % Dm, bit k % Dk. */
static int weight_at(const v3_check *C, const v3_layer *L, long long g, long long m, long long k) {
    const long long mt_n = L->m_pad / C->dm, kc_n = L->k_pad / C->dk, wordb = C->dk / 8;
    unsigned v = 0;
    for (long long pl = 0; pl < L->wbits; pl++) {
        long long at = g * L->w_gb + (((pl * mt_n + m / C->dm) * kc_n + k / C->dk) * C->dm + m % C->dm) * wordb +
                       (k % C->dk) / 8;
        v |= (unsigned)((L->wts[at] >> ((k % C->dk) % 8)) & 1u) << pl;
    }
    if (L->w_signed && (v >> (L->wbits - 1) & 1u)) return (int)v - (1 << L->wbits);
    return (int)v;
}

/* Slot byte s of K index k's tap is a real input channel (dense: s < cin; depthwise: the group's
 * byte g % Wb): its channel, else -1. */
static long long real_channel(const v3_check *C, const v3_layer *L, long long g, long long s) {
    if (L->depthwise) return s == g % C->wb ? g : -1;
    return s < L->cin ? s : -1;
}

/* Every weight bit outside the real M x K (rows >= M, slots that are not real channels, K past
 * the taps) is zero. */
static int check_weight_padding(v3_check *C, const v3_layer *L) {
    const long long taps = L->kh * L->kw;
    for (long long g = 0; g < L->groups; g++)
        for (long long m = 0; m < L->m_pad; m++)
            for (long long k = 0; k < L->k_pad; k++) {
                int real = m < L->M && k < taps * L->ct && real_channel(C, L, g, k % L->ct) >= 0;
                if (!real && weight_at(C, L, g, m, k)) {
                    bq_seterr(C->f->err, C->f->errlen, "%s/weights.bin: layer '%s': padding bit set at group "
                              "%lld row %lld K %lld (not a real weight of the K order)", C->f->dir, L->name,
                              g, m, k);
                    return -1;
                }
            }
    return 0;
}

/* One pixel (oy, ox) of output channel row m of group g: acc0 from the unpacked weights and the
 * input tensor's codes (out-of-image taps read z_a, masked slot bytes 0). */
static int64_t acc0_at(const v3_check *C, const v3_layer *L, const unsigned char *in, long long g,
                       long long m, long long oy, long long ox, int64_t z_w, int64_t bias_eff) {
    int64_t acc = 0, asum = 0;
    for (long long ky = 0; ky < L->kh; ky++)
        for (long long kx = 0; kx < L->kw; kx++) {
            const long long iy = oy * L->stride - L->pad_t + ky, ix = ox * L->stride - L->pad_l + kx;
            const int inside = iy >= 0 && iy < L->h && ix >= 0 && ix < L->w;
            for (long long s = 0; s < L->ct; s++) {
                const long long ch = real_channel(C, L, g, s);
                if (ch < 0) continue;
                const int64_t a = inside ? in[(iy * L->w + ix) * L->cs_in + ch] : L->z_a;
                acc += (int64_t)weight_at(C, L, g, m, (ky * L->kw + kx) * L->ct + s) * a;
                asum += a;
            }
        }
    return acc - z_w * asum + bias_eff;
}

/* Layer L of test 0 recomputed with int64 arithmetic and compared with its expected tensor on the
 * real bytes (HWC: channels < cout of each pixel; RAW32: the real M x N words of the tiles). */
static int recompute(v3_check *C, const v3_layer *L, const unsigned char *in, const unsigned char *res,
                     const unsigned char *out) {
    bq_exp_mf *f = C->f;
    const long long mt_n = L->m_pad / C->dm;
    for (long long g = 0; g < L->groups; g++)
        for (long long m = 0; m < L->M; m++) {
            const long long c = g * L->M + m;
            const unsigned char *rec = L->rq + (g * L->m_pad + m) * 16;
            const int64_t bias_eff = (int32_t)(uint32_t)bq_exp_rd_le(rec, 4), m_acc = bq_exp_rd_le(rec + 4, 4),
                          m_res = bq_exp_rd_le(rec + 8, 4), z_w = rec[12], sh = rec[13];
            if (!L->raw32 && (sh < 1 || sh > 62)) {
                bq_seterr(f->err, f->errlen, "%s/requant.bin: layer '%s' channel %lld: field 'sh' is %lld, "
                          "must be 1..62", f->dir, L->name, c, (long long)sh);
                return -1;
            }
            for (long long px = 0; px < L->N; px++) {
                const int64_t acc0 = acc0_at(C, L, in, g, m, px / L->wout, px % L->wout, z_w, bias_eff);
                int64_t want, got;
                if (acc0 > INT32_MAX || acc0 < INT32_MIN) {
                    bq_seterr(f->err, f->errlen, "%s: layer '%s': acc0 %lld at channel %lld pixel %lld leaves "
                              "int32", f->dir, L->name, (long long)acc0, c, px);
                    return -1;
                }
                if (L->raw32) {
                    const long long at = ((px / C->dn * mt_n + c / C->dm) * C->dm * C->dn +
                                          px % C->dn * C->dm + c % C->dm) * 4;
                    want = acc0;
                    got = (int32_t)(uint32_t)bq_exp_rd_le(out + at, 4);
                } else {
                    const int64_t rr = res ? (int64_t)res[px * L->cs_res + c] - L->z_r : 0;
                    const int64_t y = (acc0 * m_acc + rr * m_res + ((int64_t)1 << (sh - 1))) >> sh;
                    want = y + L->z_o < L->lo ? L->lo : y + L->z_o > L->hi ? L->hi : y + L->z_o;
                    got = out[px * L->cs_out + c];
                }
                if (want != got) {
                    bq_seterr(f->err, f->errlen, "%s/tests.bin: layer '%s': recomputed output %lld differs from "
                              "the expected %lld at channel %lld pixel %lld", f->dir, L->name,
                              (long long)want, (long long)got, c, px);
                    return -1;
                }
            }
        }
    return 0;
}

typedef struct { long long a, b; char what[96]; } v3_region;

static int cmp_region(const void *x, const void *y) {
    const v3_region *p = x, *q = y;
    return p->a < q->a ? -1 : p->a > q->a;
}

/* Tensors, weights and requant regions: inside memory.bytes and pairwise disjoint. */
static int check_memory_map(v3_check *C) {
    const int nr = C->nt + 2 * C->nl;
    v3_region *r = calloc((size_t)nr, sizeof *r);
    if (!r) { bq_seterr(C->f->err, C->f->errlen, "out of memory"); return -1; }
    int k = 0;
    for (int i = 0; i < C->nt; i++, k++) {
        r[k] = (v3_region){C->t[i].addr, C->t[i].addr + C->t[i].bytes, ""};
        snprintf(r[k].what, sizeof r[k].what, "tensor '%s'", C->t[i].name);
    }
    for (int i = 0; i < C->nl; i++, k += 2) {
        const v3_layer *L = &C->l[i];
        r[k] = (v3_region){L->w_addr, L->w_addr + L->w_size, ""};
        r[k + 1] = (v3_region){L->rq_addr, L->rq_addr + L->rq_size, ""};
        snprintf(r[k].what, sizeof r[k].what, "layers[%d].w_addr ('%s')", i, L->name);
        snprintf(r[k + 1].what, sizeof r[k + 1].what, "layers[%d].rq_addr ('%s')", i, L->name);
    }
    qsort(r, (size_t)nr, sizeof *r, cmp_region);
    int rc = 0;
    for (int i = 0; i < nr && !rc; i++) {
        if (r[i].a % C->wb || r[i].b > C->mem_bytes) {
            bq_seterr(C->f->err, C->f->errlen, "%s/manifest.json: %s [%lld, %lld) is not %lld-byte aligned or "
                      "leaves memory.bytes (%lld)", C->f->dir, r[i].what, r[i].a, r[i].b, C->wb, C->mem_bytes);
            rc = -1;
        } else if (i + 1 < nr && r[i + 1].a < r[i].b) {
            bq_seterr(C->f->err, C->f->errlen, "%s/manifest.json: %s [%lld, %lld) overlaps %s [%lld, %lld)",
                      C->f->dir, r[i].what, r[i].a, r[i].b, r[i + 1].what, r[i + 1].a, r[i + 1].b);
            rc = -1;
        }
    }
    free(r);
    return rc;
}

/* What address a lies in: 'w' a weights region, 'q' a requant region, 'c' an HWC tensor, 'r' a
 * RAW32 tensor; 0 none. */
static char region_of(const v3_check *C, long long a) {
    for (int i = 0; i < C->nl; i++) {
        if (a >= C->l[i].w_addr && a < C->l[i].w_addr + C->l[i].w_size) return 'w';
        if (a >= C->l[i].rq_addr && a < C->l[i].rq_addr + C->l[i].rq_size) return 'q';
    }
    for (int i = 0; i < C->nt; i++)
        if (a >= C->t[i].addr && a < C->t[i].addr + C->t[i].bytes) return C->t[i].raw32 ? 'r' : 'c';
    return 0;
}

/* The tensor starting at addr with cs bytes a pixel (cs < 0: any), or -1. */
static int tensor_at(const v3_check *C, long long addr, long long cs) {
    for (int i = 0; i < C->nt; i++)
        if (C->t[i].addr == addr && (cs < 0 || C->t[i].cs == cs)) return i;
    return -1;
}

/* A fetch SETUP's window geometry is the one of some layer (its input image, kernel, stride,
 * padding, pixel bytes and z_a). */
static int setup_matches_a_layer(const v3_check *C, const bq_instr *in) {
    for (int i = 0; i < C->nl; i++) {
        const v3_layer *L = &C->l[i];
        if (in->in_h == L->h && in->in_w == L->w && in->out_w == L->wout && in->kh == L->kh && in->kw == L->kw &&
            in->stride == L->stride && in->pad_t == L->pad_t && in->pad_l == L->pad_l && in->cs == L->cs_in &&
            in->z_a == L->z_a)
            return 1;
    }
    return 0;
}

/* Does instruction `in` of queue s decode-and-address right: "" or what is wrong. */
static const char *instr_problem(const v3_check *C, int s, const bq_instr *in) {
    if (s == BQ_STAGE_FETCH && in->op == BQ_OP_RUN) {
        const char want = in->target == BQ_TGT_W ? 'w' : in->target == BQ_TGT_RQ ? 'q' : 'c';
        if (region_of(C, in->dram_addr) != want) return "its dram_addr lies outside the regions of its target";
        if (in->target == BQ_TGT_WIN && tensor_at(C, in->dram_addr, -1) < 0)
            return "its dram_addr (WIN) is not the base of a tensor";
    }
    if (s == BQ_STAGE_FETCH && in->op == BQ_OP_SETUP && !setup_matches_a_layer(C, in))
        return "its window geometry (image, kernel, stride, pad, cs, z_a) is no layer's";
    if (s == BQ_STAGE_RESULT && in->op == BQ_OP_SETUP) {
        const int o = tensor_at(C, in->out_base, -1);   /* the classifier's SETUP: its RAW32 tensor */
        if (o < 0 || (!C->t[o].raw32 && C->t[o].cs != in->cs_out))
            return "its out_base / cs_out is not a tensor's base / bytes per pixel";
        if (in->cs_res && tensor_at(C, in->res_base, in->cs_res) < 0)
            return "its res_base / cs_res is not an HWC tensor's base / bytes per pixel";
    }
    if (s == BQ_STAGE_RESULT && in->op == BQ_OP_RUN && region_of(C, in->out_addr) != 'r')
        return "its out_addr lies outside every RAW32 tensor";
    return "";
}

/* The program: three ranges of 16-byte instructions, every one decodes under ISA v2 and addresses
 * only the regions of its kind. */
static int check_program(v3_check *C, yaml_node_t *root) {
    bq_exp_mf *f = C->f;
    static const char *const st[BQ_NSTAGES] = {"fetch", "execute", "result"};
    yaml_node_t *pr = bq_exp_mget(f, root, "program");
    for (int s = 0; s < BQ_NSTAGES; s++) {
        yaml_node_t *r = bq_exp_mget(f, pr, st[s]);
        long long size;
        if (!r) return fail(C, "field 'program.%s' is missing%s", st[s], "");
        if (bq_exp_mint(f, r, "program.", "size", 16, 1LL << 40, &size)) return -1;
        if (size % 16) return fail(C, "field 'program.%s.size' is not a whole number of 16-byte instructions%s", st[s], "");
        const unsigned char *p = bq_exp_mrange(f, pr, "program.", st[s], &C->bins[B_PG], 0);
        if (!p) return -1;
        for (long long i = 0; i < size / 16; i++) {
            uint32_t w[4];
            bq_instr in;
            for (int k = 0; k < 4; k++) w[k] = (uint32_t)bq_exp_rd_le(p + 16 * i + 4 * k, 4);
            const char *why = bq_isa_decode(s, w, &in) ? "it does not decode under ISA v2" : instr_problem(C, s, &in);
            if (*why) {
                bq_seterr(f->err, f->errlen, "%s/programs.bin: 'program.%s' instruction %lld: %s", f->dir, st[s],
                          i, why);
                return -1;
            }
        }
    }
    long long cycles, sum = 0;
    if (bq_exp_mint(f, root, "", "cycles", 1, 1LL << 50, &cycles)) return -1;
    for (int i = 0; i < C->nl; i++) sum += C->l[i].cycles;
    if (cycles != sum) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'cycles' is %lld, the layers' cycles sum to %lld "
                  "(whole_network.md §4.5: the whole program is the sum)", f->dir, cycles, sum);
        return -1;
    }
    return 0;
}

static int positive_float(const yaml_node_t *v, float *out) {
    char *end;
    if (!v || v->type != YAML_SCALAR_NODE) return 0;
    *out = strtof((const char *)v->data.scalar.value, &end);
    return *end == 0 && end != (char *)v->data.scalar.value && *out > 0 && *out < 1e30f;
}

/* "output": the last layer, RAW32, one positive logit_scale per class (into scale). */
static int check_output(v3_check *C, yaml_node_t *root, float *scale) {
    bq_exp_mf *f = C->f;
    yaml_node_t *o = bq_exp_mget(f, root, "output");
    const char *name = bq_exp_mstr(f, o, "output.", "layer");
    long long classes;
    if (!name || bq_exp_mint(f, o, "output.", "classes", 1, 1 << 20, &classes)) return -1;
    const v3_layer *L = &C->l[C->nl - 1];
    if (strcmp(L->name, name) || !L->raw32 || classes != L->cout)
        return fail(C, "field 'output.layer/classes' ('%s') is not the last layer ('%s'), a RAW32 layer "
                    "with that many channels", name, L->name);
    yaml_node_t *a = bq_exp_mget(f, o, "logit_scale");
    int ok = seq_len(a) == classes;
    for (int c = 0; ok && c < classes; c++) ok = positive_float(seq_item(f, a, c), &scale[c]);
    if (!ok) return fail(C, "field 'output.logit_scale' must list one positive number per class%s%s", "", "");
    return 0;
}

/* Test t: the input and every layer's expected tensor (sizes, CRC-32s), the logits equal to the
 * classifier tensor's real words, pred = the argmax rule; test 0: layers recomputed. */
static int check_test(v3_check *C, yaml_node_t *tn, int t, const float *scale, const char *layer, FILE *log,
                      int *recomputed) {
    bq_exp_mf *f = C->f;
    char where[96];
    snprintf(where, sizeof where, "tests[%d].", t);
    const v3_layer *last = &C->l[C->nl - 1];
    const unsigned char **tb = calloc((size_t)C->nt, sizeof *tb);
    int rc = -1;
    if (!tb) { bq_seterr(f->err, f->errlen, "out of memory"); return -1; }
    if (!(tb[0] = bq_exp_mrange(f, tn, where, "input", &C->bins[B_T], (size_t)C->t[0].bytes))) goto done;
    yaml_node_t *tl = bq_exp_mget(f, tn, "layers"), *lg = bq_exp_mget(f, tn, "logits");
    if (seq_len(tl) != C->nl) { fail(C, "field '%slayers' must list every layer once%s", where, ""); goto done; }
    for (int i = 0; i < C->nl; i++) {
        char w2[128];
        long long li;
        snprintf(w2, sizeof w2, "%slayers[%d].", where, i);
        yaml_node_t *e = seq_item(f, tl, i);
        if (bq_exp_mint(f, e, w2, "layer", i, i, &li) ||
            !(tb[1 + i] = bq_exp_mrange(f, e, w2, "out", &C->bins[B_T], (size_t)C->t[1 + i].bytes)))
            goto done;
    }
    long long pred;
    if (seq_len(lg) != last->cout || bq_exp_mint(f, tn, where, "pred", 0, last->cout - 1, &pred)) {
        if (seq_len(lg) != last->cout) fail(C, "field '%slogits' must list one value per class%s", where, "");
        goto done;
    }
    const unsigned char *raw = tb[1 + C->nl - 1];
    long long best = 0;
    float bv = 0;
    for (long long c = 0; c < last->cout; c++) {
        const long long at = ((c / C->dm) * C->dm * C->dn + c % C->dm) * 4;   /* pixel 0 */
        const int32_t v = (int32_t)(uint32_t)bq_exp_rd_le(raw + at, 4);
        const yaml_node_t *x = seq_item(f, lg, (int)c);
        if (x->type != YAML_SCALAR_NODE || strtoll((const char *)x->data.scalar.value, NULL, 10) != v) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%slogits[%lld]' differs from the classifier's "
                      "expected output in tests.bin (%d)", f->dir, where, c, v);
            goto done;
        }
        if (c == 0 || (float)v * scale[c] > bv) { bv = (float)v * scale[c]; best = c; }
    }
    if (best != pred) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%spred' is %lld, the argmax rule of 'output' on "
                  "the logits gives %lld", f->dir, where, pred, best);
        goto done;
    }
    for (int i = 0; t == 0 && i < C->nl; i++) {
        const v3_layer *L = &C->l[i];
        if (layer && strcmp(layer, L->name)) continue;
        if (recompute(C, L, tb[L->in], L->res >= 0 ? tb[L->res] : NULL, tb[L->out])) goto done;
        (*recomputed)++;
        if (log) fprintf(log, "check: test 0 layer %-16s recomputed from the unpacked K-order bits (int64): "
                         "bit-exact\n", L->name);
    }
    rc = 0;
done:
    free(tb);
    return rc;
}

static int check_v3(v3_check *C, yaml_node_t *root, const unsigned char *text, const char *layer, FILE *log) {
    bq_exp_mf *f = C->f;
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", f->dir);
    if (bq_exp_check_files(f, C->bins, C->bin_crc, root, path, sizeof path) || read_tensors(C, root)) return -1;
    if (log) fprintf(log, "check: files present, sizes match; %d tensors\n", C->nt);
    yaml_node_t *ls = bq_exp_mget(f, root, "layers");
    C->nl = seq_len(ls);
    if (C->nl < 1 || C->nl != C->nt - 1)
        return fail(C, "field 'layers' is missing or does not list one layer per output tensor%s%s", "", "");
    C->l = calloc((size_t)C->nl, sizeof *C->l);
    if (!C->l) { bq_seterr(f->err, f->errlen, "out of memory"); return -1; }
    for (int i = 0; i < C->nl; i++)
        if (read_layer(C, seq_item(f, ls, i), i) || check_weight_padding(C, &C->l[i])) return -1;
    if (log) fprintf(log, "check: %d layers: shapes, padding, weight and requant CRC-32s ok\n", C->nl);
    if (check_memory_map(C) || check_program(C, root)) return -1;
    float *scale = malloc(sizeof(float) * (size_t)C->l[C->nl - 1].cout);
    if (!scale) { bq_seterr(f->err, f->errlen, "out of memory"); return -1; }
    int rc = check_output(C, root, scale);
    if (!rc && log) fprintf(log, "check: memory map, whole-network program (ISA v2) and output ok\n");
    yaml_node_t *ts = bq_exp_mget(f, root, "tests");
    const int nt = seq_len(ts) < 0 ? 0 : seq_len(ts);
    int recomputed = 0;
    for (int t = 0; t < nt && !rc; t++) rc = check_test(C, seq_item(f, ts, t), t, scale, layer, log, &recomputed);
    free(scale);
    if (rc || bq_exp_check_file_crcs(f, C->bins, C->bin_crc) || bq_exp_check_manifest_crc(f, text)) return -1;
    if (layer && !recomputed) {
        bq_seterr(f->err, f->errlen, "%s: no layer named '%s' (or the package has no test vectors)", f->dir, layer);
        return -1;
    }
    if (log) fprintf(log, "check: %s ok (version 3: %d layers, one program, %d test images, %d layers "
                     "recomputed)\n", f->dir, C->nl, nt, recomputed);
    return 0;
}

int bq_export_check_v3(bq_exp_mf *f, yaml_node_t *root, const unsigned char *text, const char *layer,
                       FILE *log) {
    v3_check C;
    memset(&C, 0, sizeof C);
    C.f = f;
    C.bins[B_W].name = "weights.bin"; C.bins[B_RQ].name = "requant.bin"; C.bins[B_T].name = "tests.bin";
    C.bins[B_PG].name = "programs.bin";
    int rc = check_v3(&C, root, text, layer, log);
    for (int i = 0; i < BQ_EXP_NBINS; i++) free(C.bins[i].data);
    free(C.t);
    free(C.l);
    return rc;
}
