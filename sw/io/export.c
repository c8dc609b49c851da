/*
 * export.c — the export package writer and checker (see export.h, docs/formats.md).
 */
#include "core/errmsg.h"
#include "io/export.h"
#include "io/export_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include <zlib.h>

#include "core/fileio.h"
#include "isa.h"
#include "lower/lower.h"
#include "quant/intref.h"
#include "io/model_io.h"
#include "io/pack.h"

uint32_t bq_exp_crc(const void *p, size_t n) { return (uint32_t)crc32(0L, (const Bytef *)p, (uInt)n); }
static size_t align_up(size_t v) { return (v + BQ_EXPORT_ALIGN - 1) / BQ_EXPORT_ALIGN * BQ_EXPORT_ALIGN; }

/* Reserve an aligned, zeroed range of n bytes at the end of b; returns its offset. */
size_t bq_exp_reserve(bq_buf *b, size_t n) {
    size_t off = align_up(b->len);
    static const unsigned char zeros[BQ_EXPORT_ALIGN] = {0};
    while (b->len < off) bq_buf_put(b, zeros, off - b->len < sizeof zeros ? off - b->len : sizeof zeros);
    size_t left = n;
    while (left) {
        size_t k = left < sizeof zeros ? left : sizeof zeros;
        bq_buf_put(b, zeros, k);
        left -= k;
    }
    return off;
}

void bq_exp_pad(bq_buf *b) { bq_exp_reserve(b, 0); }

/* "offset/size/crc" JSON object of a range of buffer b. */
void bq_exp_json_range(bq_buf *j, const bq_buf *b, size_t off, size_t size) {
    bq_buf_printf(j, "{\"offset\": %zu, \"size\": %zu, \"crc32\": \"%08x\"}", off, size,
                  b->oom ? 0u : bq_exp_crc(b->data + off, size));
}

static const char *op_name(const bq_qmodel *q, int node) {
    const bq_node *nd = &q->model.nodes[node];
    if (nd->kind == BQ_OP_LINEAR) return "linear";
    return nd->groups > 1 ? (nd->groups == nd->c ? "conv_depthwise" : "conv_grouped") : "conv";
}

/* Write bytes as $readmemh lines of wb bytes, most significant byte first. */
static int write_hex(const char *path, const bq_buf *b, int wb, char *err, size_t errlen) {
    bq_buf h = {0};
    static const char hx[] = "0123456789abcdef";
    char line[2 * 64 + 2];
    for (size_t off = 0; off < b->len; off += (size_t)wb) {
        int k = 0;
        for (int i = wb - 1; i >= 0; i--) {
            unsigned v = off + (size_t)i < b->len ? b->data[off + (size_t)i] : 0;
            line[k++] = hx[v >> 4];
            line[k++] = hx[v & 15];
        }
        line[k++] = '\n';
        bq_buf_put(&h, line, (size_t)k);
    }
    int rc = h.oom ? -1 : bq_write_file_atomic(path, h.data, h.len, err, errlen);
    if (h.oom) bq_seterr(err, errlen, "%s: out of memory", path);
    bq_buf_free(&h);
    return rc;
}

/* Remove a package directory we created earlier (only the files a package holds). */
static int remove_package_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    char p[4096];
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p)) rc = -1;
    }
    closedir(d);
    if (rmdir(dir)) rc = -1;
    return rc;
}

static int file_exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

/* The package being built: the reference net, per-layer geometry and offsets, the three .bin
 * images and the manifest text. */
typedef struct {
    const bq_qmodel *q;
    const bq_hwcfg *hw;
    int n_tests, nl;
    bq_intnet net;
    bq_lowered lw;                         /* the one lowering: plans, memory map, programs */
    size_t *w_off, *w_gs, *r_off, *r_gs;   /* per layer: offsets and group strides in W / RQ */
    size_t *p_off;                         /* per layer and stage: offset in PG */
    bq_buf W, RQ, T, PG, J;                /* weights, requant, tests, programs .bin; manifest */
    float *x;
    int *labels, *preds;
    int32_t *col, *tmp;                    /* scratch: im2col (K, N), one group's outputs */
} pkg_writer;

static void writer_free(pkg_writer *P) {
    bq_buf_free(&P->W); bq_buf_free(&P->RQ); bq_buf_free(&P->T); bq_buf_free(&P->PG);
    bq_buf_free(&P->J);
    bq_lowered_free(&P->lw);
    free(P->p_off); free(P->w_off); free(P->w_gs); free(P->r_off); free(P->r_gs);
    free(P->x); free(P->labels); free(P->preds); free(P->col); free(P->tmp);
    bq_intnet_free(&P->net);
}

/* Node names go into JSON strings unescaped. */
int bq_exp_check_names(const bq_model *m, char *err, size_t errlen) {
    for (int i = 0; i < m->n_nodes; i++)
        for (const char *c = m->nodes[i].name; *c; c++)
            if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) {
                bq_seterr(err, errlen, "node name '%s' contains a quote, backslash or control character; "
                       "rename the node", m->nodes[i].name);
                return -1;
            }
    return 0;
}

/* Lower every layer onto the array (sw/lower/lower.h); scratch sized for the largest layer. */
static int plan_layers(pkg_writer *P, char *err, size_t errlen) {
    const bq_model *m = &P->q->model;
    size_t nl = (size_t)P->nl;
    P->w_off = calloc(nl, sizeof(size_t)); P->w_gs = calloc(nl, sizeof(size_t));
    P->r_off = calloc(nl, sizeof(size_t)); P->r_gs = calloc(nl, sizeof(size_t));
    P->p_off = calloc(nl * BQ_NSTAGES, sizeof(size_t));
    if (!P->w_off || !P->w_gs || !P->r_off || !P->r_gs || !P->p_off) goto oom;
    if (bq_exp_check_names(m, err, errlen)) return -1;
    if (bq_lower_net(&P->lw, &P->net, P->hw, err, errlen)) return -1;
    size_t max_kn = 0, max_mn = 0;
    for (int l = 0; l < P->nl; l++) {
        const bq_ilayer *L = &P->net.L[l];
        if ((size_t)L->K * L->N > max_kn) max_kn = (size_t)L->K * L->N;
        if ((size_t)L->cout * L->N > max_mn) max_mn = (size_t)L->cout * L->N;
    }
    P->col = malloc(sizeof(int32_t) * max_kn);
    P->tmp = malloc(sizeof(int32_t) * max_mn);
    if (!P->col || !P->tmp) goto oom;
    return 0;
oom:
    bq_seterr(err, errlen, "out of memory");
    return -1;
}

/* weights.bin and requant.bin: per layer an aligned range holding the groups back to back, the
 * bytes of the layer's weights / requant region of the memory map (one copy each). */
static int pack_weights(pkg_writer *P, char *err, size_t errlen) {
    for (int l = 0; l < P->nl; l++) {
        const bq_ilayer *L = &P->net.L[l];
        const bq_lower_acc *A = &P->lw.acc[l];
        P->w_gs[l] = (size_t)(A->w_bytes / (uint64_t)L->groups);
        P->w_off[l] = bq_exp_reserve(&P->W, (size_t)A->w_bytes);
        P->r_gs[l] = (size_t)(A->rq_bytes / (uint64_t)L->groups);
        P->r_off[l] = bq_exp_reserve(&P->RQ, (size_t)A->rq_bytes);
        if (P->W.oom || P->RQ.oom) { bq_seterr(err, errlen, "out of memory"); return -1; }
        for (int gi = 0; gi < L->groups; gi++) {
            bq_pack_weights(P->W.data + P->w_off[l] + (size_t)gi * P->w_gs[l],
                            L->codes + (size_t)gi * L->M * L->K, &A->geom, L->wbits);
            bq_lower_pack_requant(P->RQ.data + P->r_off[l] + (size_t)gi * P->r_gs[l], L, gi,
                                  A->plan.m_pad);
        }
    }
    bq_exp_pad(&P->W);
    bq_exp_pad(&P->RQ);
    return 0;
}

/* programs.bin: per layer and stage an aligned range of 16-byte instructions (4 little-endian
 * 32-bit words each, docs/hw_isa.md), in queue order. */
static int pack_programs(pkg_writer *P, char *err, size_t errlen) {
    for (int l = 0; l < P->nl; l++)
        for (int s = 0; s < BQ_NSTAGES; s++) {
            const bq_lower_acc *A = &P->lw.acc[l];
            size_t n = (size_t)A->len[s] * 4, off = bq_exp_reserve(&P->PG, 4 * n);
            if (P->PG.oom) { bq_seterr(err, errlen, "out of memory"); return -1; }
            for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 4; k++)
                    P->PG.data[off + 4 * i + (size_t)k] = (uint8_t)(A->words[s][i] >> (8 * k));
            P->p_off[(size_t)l * BQ_NSTAGES + (size_t)s] = off;
        }
    bq_exp_pad(&P->PG);
    return 0;
}

/* The reference run of the test images whose vectors the package carries. */
/* The integer reference run of the first n test images whose vectors a package carries: x (the
 * normalised inputs), labels, preds (malloc'd, the caller frees them, also after a failure);
 * net's codes and logits then hold the images. 0, or -1 out of memory. */
int bq_exp_run_tests(const bq_qmodel *q, bq_intnet *net, const bq_dataset *d, int n, float **x,
                     int **labels, int **preds, char *err, size_t errlen) {
    const bq_model *m = &q->model;
    if (n == 0) return 0;
    *x = malloc(sizeof(float) * bq_node_size(&m->nodes[0]) * (size_t)n);
    *labels = malloc(sizeof(int) * (size_t)n);
    *preds = malloc(sizeof(int) * (size_t)n);
    int *idx = malloc(sizeof(int) * (size_t)n);
    if (!*x || !*labels || !*preds || !idx) {
        free(idx);
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    bq_dataset_batch(d, idx, n, *x, *labels, m->in_mean, m->in_std, NULL);
    free(idx);
    bq_intnet_forward(net, *x, n);
    bq_intnet_predict(net, n, *preds);
    return 0;
}

static int run_tests(pkg_writer *P, const bq_dataset *d, char *err, size_t errlen) {
    return bq_exp_run_tests(P->q, &P->net, d, P->n_tests, &P->x, &P->labels, &P->preds, err, errlen);
}

static void manifest_header(pkg_writer *P) {
    const bq_qmodel *q = P->q;
    const bq_model *m = &q->model;
    const bq_hwcfg *hw = P->hw;
    const bq_node *in = &m->nodes[0];
    const bq_aquant *A0 = &q->aq[0];
    bq_buf *J = &P->J;
    bq_buf_printf(J, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n", BQ_EXPORT_FORMAT, BQ_EXPORT_VERSION);
    bq_buf_printf(J, "  \"arch\": \"%s\",\n  \"method\": \"%s\",\n", m->arch, q->method);
    bq_buf_printf(J, "  \"model_hash\": \"%016llx\",\n  \"source_hash\": \"%016llx\",\n"
                  "  \"qmodel_hash\": \"%016llx\",\n", (unsigned long long)bq_model_hash(m),
                  (unsigned long long)q->src_hash, (unsigned long long)bq_qmodel_hash(q));
    bq_buf_printf(J, "  \"hw\": {\"name\": \"%s\", \"hash\": \"%016llx\", \"dm\": %d, \"dn\": %d, "
                  "\"dk\": %d, \"mem_width_bits\": %d},\n", hw->name, (unsigned long long)hw->hash,
                  hw->dm, hw->dn, hw->dk, hw->mem_width_bits);
    bq_buf_printf(J, "  \"align\": %d,\n", BQ_EXPORT_ALIGN);
    bq_buf_printf(J, "  \"memory\": {\"bytes\": %llu, \"align\": %d},\n",
                  (unsigned long long)P->lw.mem_bytes, BQ_LOWER_ALIGN);
    /* the float32 constants of bq_dataset_batch: x = p*norm_scale + norm_shift (numerics §5) */
    float norm_scale = 1.0f / (255.0f * m->in_std), norm_shift = -m->in_mean / m->in_std;
    bq_buf_printf(J, "  \"input\": {\"name\": \"%s\", \"layout\": \"chw_u8\", \"c\": %d, \"h\": %d, "
                  "\"w\": %d, \"bits\": %d, \"scale\": %.9g, \"zero\": %d, \"mean\": %.9g, "
                  "\"std\": %.9g, \"norm_scale\": %.9g, \"norm_shift\": %.9g, "
                  "\"rounding\": \"half_up\"},\n", in->name, in->c, in->h, in->w, A0->bits,
                  (double)A0->scale, A0->zero, (double)m->in_mean, (double)m->in_std,
                  (double)norm_scale, (double)norm_shift);
}

static const char *out_act_name(int a) {
    return a == BQ_OUTACT_RELU ? "relu" : a == BQ_OUTACT_RELU6 ? "relu6" :
           a == BQ_OUTACT_CLAMP ? "clamp" : "none";
}

static void manifest_layer_hw(pkg_writer *P, int l, const bq_lower_acc *A);

/* Layer l's manifest entry: geometry, GEMM sizes, bits, zero points, weight/requant ranges. */
static void manifest_layer(pkg_writer *P, int l) {
    const bq_qmodel *q = P->q;
    const bq_model *m = &q->model;
    const bq_ilayer *L = &P->net.L[l];
    const bq_lower_acc *A = &P->lw.acc[l];
    const bq_pack_geom *g = &A->geom;
    const bq_qlayer *Q = &q->layers[l];
    const bq_conv_shape *cs = &L->cs;
    bq_buf *J = &P->J;
    bq_buf_printf(J, "    {\"index\": %d, \"name\": \"%s\", \"op\": \"%s\", \"in\": \"%s\", "
                  "\"out\": \"%s\", \"res\": ", l, m->nodes[L->node].name, op_name(q, L->node),
                  m->nodes[L->in_node].name, L->raw32 ? "logits" : m->nodes[L->out_node].name);
    if (L->res_node >= 0) bq_buf_printf(J, "\"%s\"", m->nodes[L->res_node].name);
    else bq_buf_printf(J, "null");
    bq_buf_printf(J, ",\n     \"cin\": %d, \"h\": %d, \"w\": %d, \"cout\": %d, \"kh\": %d, \"kw\": %d, "
                  "\"stride\": [%d, %d], \"pad\": [%d, %d, %d, %d], \"hout\": %d, \"wout\": %d,\n",
                  cs->cin, cs->h, cs->w, L->cout, cs->kh, cs->kw, cs->stride_h, cs->stride_w,
                  cs->pad_t, cs->pad_l, cs->pad_b, cs->pad_r, cs->hout, cs->wout);
    bq_buf_printf(J, "     \"groups\": %d, \"M\": %d, \"K\": %d, \"N\": %d, \"M_pad\": %d, "
                  "\"K_pad\": %d, \"N_pad\": %d,\n", L->groups, L->M, L->K, L->N, g->mt * g->dm,
                  g->kc * g->dk, g->nt * g->dn);
    bq_buf_printf(J, "     \"wbits\": %d, \"abits\": %d, \"obits\": %d, \"rbits\": %d, "
                  "\"w_signed\": false, \"a_signed\": false, \"raw32\": %s, \"act\": \"%s\",\n",
                  L->wbits, L->abits, L->obits, L->rbits, L->raw32 ? "true" : "false",
                  out_act_name(Q->out_act));
    bq_buf_printf(J, "     \"z_a\": %d, \"z_o\": %d, \"z_r\": %d, \"lo\": %d, \"hi\": %d, "
                  "\"s_a\": %.9g, \"s_o\": %.9g, \"s_r\": %.9g,\n", L->z_a, L->z_o, L->z_r, L->lo,
                  L->hi, (double)q->aq[Q->aq_in].scale,
                  L->raw32 ? 0.0 : (double)q->aq[Q->aq_out].scale,
                  Q->aq_res >= 0 ? (double)q->aq[Q->aq_res].scale : 0.0);
    bq_buf_printf(J, "     \"z_w\": [");
    for (int c = 0; c < L->cout; c++) bq_buf_printf(J, "%s%d", c ? ", " : "", L->z_w[c]);
    bq_buf_printf(J, "],\n     \"weights\": ");
    bq_exp_json_range(J, &P->W, P->w_off[l], P->w_gs[l] * (size_t)L->groups);
    bq_buf_printf(J, ", \"weight_plane_stride\": %zu, \"weight_group_stride\": %zu,\n     \"requant\": ",
                  bq_pack_weight_plane_size(g), P->w_gs[l]);
    bq_exp_json_range(J, &P->RQ, P->r_off[l], P->r_gs[l] * (size_t)L->groups);
    bq_buf_printf(J, ", \"requant_group_stride\": %zu,\n", P->r_gs[l]);
    manifest_layer_hw(P, l, A);
}

/* Layer l's memory map, schedule and programs (the lowering's). */
static void manifest_layer_hw(pkg_writer *P, int l, const bq_lower_acc *A) {
    bq_buf *J = &P->J;
    bq_buf_printf(J, "     \"mem\": {\"w_addr\": %u, \"w_size\": %llu, \"a_addr\": %u, \"a_size\": %llu, "
                  "\"rq_addr\": %u, \"rq_size\": %llu, \"res_addr\": %u, \"res_size\": %llu, "
                  "\"out_addr\": %u, \"out_size\": %llu},\n", A->ad.w, (unsigned long long)A->w_bytes,
                  A->ad.a, (unsigned long long)A->a_bytes, A->ad.rq, (unsigned long long)A->rq_bytes,
                  A->ad.res, (unsigned long long)A->r_bytes, A->ad.out, (unsigned long long)A->o_bytes);
    bq_buf_printf(J, "     \"order\": \"%s\", \"cycles\": %lld,\n     \"programs\": {",
                  bq_loop_order_name(A->plan.order), (long long)A->lat.cycles);
    static const char *const st[BQ_NSTAGES] = {"fetch", "execute", "result"};
    for (int s = 0; s < BQ_NSTAGES; s++) {
        bq_buf_printf(J, "%s\"%s\": ", s ? ", " : "", st[s]);
        bq_exp_json_range(J, &P->PG, P->p_off[(size_t)l * BQ_NSTAGES + (size_t)s], (size_t)A->len[s] * 16);
    }
    bq_buf_printf(J, "}}%s\n", l + 1 < P->nl ? "," : "");
}

/* Test t, layer l: packed im2col input, shortcut and expected output per group (tile planes),
 * then the plain expected codes (RAW32: int32 little-endian); their manifest entry. */
static int test_layer(pkg_writer *P, int t, int l, char *err, size_t errlen) {
    const bq_model *m = &P->q->model;
    const bq_intnet *net = &P->net;
    const bq_ilayer *L = &net->L[l];
    const bq_lower_acc *A = &P->lw.acc[l];
    const bq_pack_geom *g = &A->geom;
    const size_t G = (size_t)L->groups;
    bq_buf *T = &P->T, *J = &P->J;
    int ncls = m->nodes[m->n_nodes - 1].c;
    const uint8_t *inp = net->codes[L->in_node] + (size_t)t * bq_node_size(&m->nodes[L->in_node]);
    size_t osz = (size_t)L->cout * L->N;
    /* groups back to back, as in the layer's memory regions: one copy each to a_addr etc. */
    size_t a_gs = (size_t)A->a_bytes / G;
    int obits = L->raw32 ? 32 : L->obits;
    size_t o_gs = (size_t)A->o_bytes / G;
    size_t r_gsz = (size_t)A->r_bytes / G;
    size_t code_sz = L->raw32 ? 4 * osz : osz;
    size_t a_off = bq_exp_reserve(T, a_gs * (size_t)L->groups);
    size_t r_off2 = r_gsz ? bq_exp_reserve(T, r_gsz * (size_t)L->groups) : 0;
    size_t o_off = bq_exp_reserve(T, o_gs * (size_t)L->groups);
    size_t c_off = bq_exp_reserve(T, code_sz);
    if (T->oom) { bq_seterr(err, errlen, "out of memory"); return -1; }
    const uint8_t *res = L->res_node >= 0 ? net->codes[L->res_node] + (size_t)t * osz : NULL;
    const uint8_t *outc = L->raw32 ? NULL : net->codes[L->out_node] + (size_t)t * osz;
    const int32_t *raw = L->raw32 ? net->logits + (size_t)t * ncls : NULL;
    for (int gi = 0; gi < L->groups; gi++) {
        size_t g0 = (size_t)gi * L->M * L->N;
        bq_intref_im2col(P->col, inp, L, gi);
        bq_pack_acts(T->data + a_off + (size_t)gi * a_gs, P->col, g, L->abits);
        for (size_t i = 0; i < (size_t)L->M * L->N; i++) P->tmp[i] = L->raw32 ? raw[g0 + i] : outc[g0 + i];
        bq_pack_tiles(T->data + o_off + (size_t)gi * o_gs, P->tmp, g, obits);
        if (res) {
            for (size_t i = 0; i < (size_t)L->M * L->N; i++) P->tmp[i] = res[g0 + i];
            bq_pack_tiles(T->data + r_off2 + (size_t)gi * r_gsz, P->tmp, g, L->rbits);
        }
    }
    for (size_t i = 0; i < osz; i++) {
        if (L->raw32) {
            uint32_t v = (uint32_t)raw[i];
            for (int k = 0; k < 4; k++) T->data[c_off + 4 * i + (size_t)k] = (uint8_t)(v >> (8 * k));
        } else {
            T->data[c_off + i] = outc[i];
        }
    }
    bq_buf_printf(J, "       {\"layer\": %d, \"act\": ", l);
    bq_exp_json_range(J, T, a_off, a_gs * (size_t)L->groups);
    bq_buf_printf(J, ", \"act_group_stride\": %zu,\n        \"res\": ", a_gs);
    if (r_gsz) bq_exp_json_range(J, T, r_off2, r_gsz * (size_t)L->groups);
    else bq_buf_printf(J, "null");
    bq_buf_printf(J, ", \"res_group_stride\": %zu,\n        \"out\": ", r_gsz);
    bq_exp_json_range(J, T, o_off, o_gs * (size_t)L->groups);
    bq_buf_printf(J, ", \"out_group_stride\": %zu, \"codes\": ", o_gs);
    bq_exp_json_range(J, T, c_off, code_sz);
    bq_buf_printf(J, "}%s\n", l + 1 < P->nl ? "," : "");
    return 0;
}

/* tests.bin and the manifest's "tests": per image its input codes, logits and every layer. */
static int test_vectors(pkg_writer *P, char *err, size_t errlen) {
    const bq_model *m = &P->q->model;
    size_t in_sz = bq_node_size(&m->nodes[0]);
    int ncls = m->nodes[m->n_nodes - 1].c;
    bq_buf *T = &P->T, *J = &P->J;
    bq_buf_printf(J, "  \"tests\": [\n");
    for (int t = 0; t < P->n_tests; t++) {
        size_t ioff = bq_exp_reserve(T, in_sz);
        if (T->oom) { bq_seterr(err, errlen, "out of memory"); return -1; }
        memcpy(T->data + ioff, P->net.codes[0] + (size_t)t * in_sz, in_sz);
        bq_buf_printf(J, "    {\"image\": %d, \"label\": %d, \"pred\": %d, \"input\": ", t,
                      P->labels[t], P->preds[t]);
        bq_exp_json_range(J, T, ioff, in_sz);
        bq_buf_printf(J, ",\n     \"logits\": [");
        for (int c = 0; c < ncls; c++)
            bq_buf_printf(J, "%s%d", c ? ", " : "", P->net.logits[(size_t)t * ncls + c]);
        bq_buf_printf(J, "],\n     \"layers\": [\n");
        for (int l = 0; l < P->nl; l++)
            if (test_layer(P, t, l, err, errlen)) return -1;
        bq_buf_printf(J, "     ]}%s\n", t + 1 < P->n_tests ? "," : "");
    }
    bq_exp_pad(T);
    return 0;
}

#define N_BINS 4
static const char *const kBinNames[N_BINS] = {"weights", "requant", "tests", "programs"};

/* "files" (each .bin's size and CRC-32, its .hex twin) and manifest_crc32, the manifest's last
 * lines (shared by versions 2 and 3). */
void bq_exp_manifest_tail(bq_buf *J, const bq_buf *const bins[BQ_EXP_NBINS], int wb) {
    bq_buf_printf(J, "  \"files\": [\n");
    for (int i = 0; i < N_BINS; i++) {
        const bq_buf *b = bins[i];
        bq_buf_printf(J, "    {\"name\": \"%s.bin\", \"size\": %zu, \"crc32\": \"%08x\", \"hex\": \"%s.hex\", "
                      "\"hex_word_bytes\": %d}%s\n", kBinNames[i], b->len,
                      b->oom ? 0u : bq_exp_crc(b->data, b->len), kBinNames[i], wb, i + 1 < N_BINS ? "," : "");
    }
    bq_buf_printf(J, "  ],\n");
    /* the manifest's own CRC-32: every byte before this line */
    uint32_t self = J->oom ? 0u : bq_exp_crc(J->data, J->len);
    bq_buf_printf(J, "  \"manifest_crc32\": \"%08x\"\n}\n", self);
}

/* One host step (GAP, max pool, flatten) of the execution order, with its parameters. */
static void manifest_host_step(bq_buf *J, const bq_model *m, const bq_lower_step *S) {
    const bq_node *nd = &m->nodes[S->node], *pin = &m->nodes[S->in_node];
    bq_buf_printf(J, "{\"op\": \"%s\", \"in\": \"%s\", \"out\": \"%s\"", bq_step_name(S->kind),
                  pin->name, nd->name);
    if (S->kind == BQ_STEP_GAP)
        bq_buf_printf(J, ", \"c\": %d, \"hw\": %d", pin->c, pin->h * pin->w);
    else if (S->kind == BQ_STEP_MAXPOOL)
        bq_buf_printf(J, ", \"c\": %d, \"h\": %d, \"w\": %d, \"kh\": %d, \"kw\": %d, \"stride\": [%d, %d], "
                      "\"pad\": [%d, %d, %d, %d], \"hout\": %d, \"wout\": %d", pin->c, pin->h, pin->w,
                      nd->kh, nd->kw, nd->stride_h, nd->stride_w, nd->pad_t, nd->pad_l, nd->pad_b,
                      nd->pad_r, nd->h, nd->w);
    else
        bq_buf_printf(J, ", \"size\": %zu", bq_node_size(nd));
    bq_buf_printf(J, "}");
}

/* "steps": the execution order (producers before consumers); "output": how the last layer's
 * int32 acc0 becomes the prediction (numerics §4). */
static void manifest_steps_output(pkg_writer *P) {
    const bq_model *m = &P->q->model;
    bq_buf *J = &P->J;
    bq_buf_printf(J, "  \"steps\": [\n");
    for (int s = 0; s < P->lw.n_steps; s++) {
        const bq_lower_step *S = &P->lw.steps[s];
        bq_buf_printf(J, "    ");
        if (S->kind == BQ_STEP_LAYER)
            bq_buf_printf(J, "{\"op\": \"layer\", \"layer\": %d, \"name\": \"%s\"}", S->layer,
                          m->nodes[P->net.L[S->layer].node].name);
        else
            manifest_host_step(J, m, S);
        bq_buf_printf(J, "%s\n", s + 1 < P->lw.n_steps ? "," : "");
    }
    const bq_ilayer *L = &P->net.L[P->nl - 1];
    const bq_qlayer *Q = &P->q->layers[P->nl - 1];
    bq_buf_printf(J, "  ],\n  \"output\": {\"layer\": \"%s\", \"classes\": %d, \"layout\": \"int32_le\", "
                  "\"s_a\": %.9g,\n    \"s_w\": [", m->nodes[L->node].name, L->cout,
                  (double)P->q->aq[Q->aq_in].scale);
    for (int c = 0; c < L->cout; c++) bq_buf_printf(J, "%s%.9g", c ? ", " : "", (double)Q->scale[c]);
    bq_buf_printf(J, "],\n    \"logit_scale\": [");
    for (int c = 0; c < L->cout; c++)
        bq_buf_printf(J, "%s%.9g", c ? ", " : "", (double)L->logit_scale[c]);
    bq_buf_printf(J, "],\n    \"argmax\": \"first c maximising float32(acc0[c]) * logit_scale[c]\"},\n");
}

/* The whole manifest; the .bin images are complete once it is. */
static int write_manifest(pkg_writer *P, char *err, size_t errlen) {
    int wb = P->hw->mem_width_bits / 8;
    manifest_header(P);
    bq_buf_printf(&P->J, "  \"layers\": [\n");
    for (int l = 0; l < P->nl; l++) manifest_layer(P, l);
    bq_buf_printf(&P->J, "  ],\n");
    manifest_steps_output(P);
    if (test_vectors(P, err, errlen)) return -1;
    bq_buf_printf(&P->J, "  ],\n");
    const bq_buf *const bins[N_BINS] = {&P->W, &P->RQ, &P->T, &P->PG};
    bq_exp_manifest_tail(&P->J, bins, wb);
    if (P->W.oom || P->RQ.oom || P->T.oom || P->PG.oom || P->J.oom) {
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Every file of the package into dir (created). */
static int write_files(const bq_buf *const bins[BQ_EXP_NBINS], const bq_buf *J, int wb, const char *dir,
                       char *err, size_t errlen) {
    char path[4200];
    for (int i = 0; i < N_BINS; i++) {
        const bq_buf *b = bins[i];
        snprintf(path, sizeof path, "%s/%s.bin", dir, kBinNames[i]);
        if (bq_write_file_atomic(path, b->data, b->len, err, errlen)) return -1;
        snprintf(path, sizeof path, "%s/%s.hex", dir, kBinNames[i]);
        if (write_hex(path, b, wb, err, errlen)) return -1;
    }
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    return bq_write_file_atomic(path, J->data, J->len, err, errlen);
}

/* Write into DIR.tmp.PID, then swap it onto dir: an existing package is replaced only by a
 * complete one, and anything else at dir is left alone. */
/* A message about a file of the temporary package names the user's folder instead (the
 * temporary is gone after the failure): every "tmp" in err becomes "dir". */
static void user_path(char *err, size_t errlen, const char *tmp, const char *dir) {
    char out[1024];
    size_t n = 0, tl = strlen(tmp), dl = strlen(dir);
    for (const char *s = err; *s && n + 1 < sizeof out;) {
        if (strncmp(s, tmp, tl) == 0 && n + dl + 1 < sizeof out) {
            memcpy(out + n, dir, dl);
            n += dl;
            s += tl;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = 0;
    snprintf(err, errlen, "%s", out);
}

int bq_exp_publish(const bq_buf *const bins[BQ_EXP_NBINS], const bq_buf *J, int wb, const char *dir,
                   char *err, size_t errlen) {
    char tmpdir[4096], olddir[4096] = "", path[4200];
    snprintf(tmpdir, sizeof tmpdir, "%s.tmp.%ld", dir, (long)getpid());
    if (file_exists(tmpdir)) remove_package_dir(tmpdir);
    if (bq_mkdirs(tmpdir)) {
        bq_seterr(err, errlen, "%s: cannot create the package folder: %s; check that the folder "
                  "holding it is writable, or choose another --out", dir, strerror(errno));
        return -1;
    }
    if (write_files(bins, J, wb, tmpdir, err, errlen)) {
        user_path(err, errlen, tmpdir, dir);
        goto fail;
    }
    if (file_exists(dir)) {
        snprintf(path, sizeof path, "%s/manifest.json", dir);
        if (!file_exists(path)) {
            bq_seterr(err, errlen, "%s exists and is not an export package (no manifest.json); remove it "
                   "or choose another --out", dir);
            goto fail;
        }
        snprintf(olddir, sizeof olddir, "%s.old.%ld", dir, (long)getpid());
        if (rename(dir, olddir)) { bq_seterr(err, errlen, "%s: cannot move aside: %s", dir, strerror(errno)); goto fail; }
    }
    if (rename(tmpdir, dir)) {
        bq_seterr(err, errlen, "%s: cannot move the new package into place: %s", dir, strerror(errno));
        if (olddir[0]) rename(olddir, dir);
        goto fail;
    }
    if (olddir[0]) remove_package_dir(olddir);
    return 0;
fail:
    remove_package_dir(tmpdir);
    return -1;
}

int bq_export(const bq_qmodel *q, const bq_hwcfg *hw, const bq_dataset *d, int n_tests,
              const char *dir, char *err, size_t errlen) {
    if (n_tests < 0 || (n_tests > 0 && (!d || n_tests > d->n))) {
        bq_seterr(err, errlen, "test images: %d requested, %d available", n_tests, d ? d->n : 0);
        return -1;
    }
    if (hw->window_bytes > 0) return bq_export_v3(q, hw, d, n_tests, dir, err, errlen);
    pkg_writer P;
    memset(&P, 0, sizeof P);
    P.q = q;
    P.hw = hw;
    P.n_tests = n_tests;
    char e2[384];
    if (bq_intnet_init(&P.net, q, n_tests > 0 ? n_tests : 1, e2, sizeof e2)) {
        bq_seterr(err, errlen, "model is not integer-ready: %s", e2);
        return -1;
    }
    P.nl = P.net.n_layers;
    int rc = plan_layers(&P, err, errlen) || pack_weights(&P, err, errlen) ||
             pack_programs(&P, err, errlen) || run_tests(&P, d, err, errlen) || write_manifest(&P, err, errlen)
                 ? -1 : 0;
    const bq_buf *const bins[N_BINS] = {&P.W, &P.RQ, &P.T, &P.PG};
    if (rc == 0 && bq_exp_publish(bins, &P.J, hw->mem_width_bits / 8, dir, err, errlen))
        rc = -2;   /* the message names dir */
    writer_free(&P);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* checker                                                                                    */

typedef bq_exp_mf mf;

yaml_node_t *bq_exp_mget(mf *f, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&f->doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(&f->doc, p->value);
    }
    return NULL;
}

/* Integer field `key` of map; errors name the manifest and the field path. */
int bq_exp_mint(mf *f, yaml_node_t *map, const char *where, const char *key, long long lo, long long hi,
                long long *out) {
    yaml_node_t *v = bq_exp_mget(f, map, key);
    char *end = NULL;
    long long x = 0;
    if (v && v->type == YAML_SCALAR_NODE) x = strtoll((const char *)v->data.scalar.value, &end, 10);
    if (!v || v->type != YAML_SCALAR_NODE || end == (char *)v->data.scalar.value || *end) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s' is missing or not an integer", f->dir,
               where, key);
        return -1;
    }
    if (x < lo || x > hi) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json:%zu: field '%s%s' is %lld, must be in %lld..%lld",
               f->dir, v->start_mark.line + 1, where, key, x, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

const char *bq_exp_mstr(mf *f, yaml_node_t *map, const char *where, const char *key) {
    yaml_node_t *v = bq_exp_mget(f, map, key);
    if (!v || v->type != YAML_SCALAR_NODE) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s' is missing or not a string", f->dir,
               where, key);
        return NULL;
    }
    return (const char *)v->data.scalar.value;
}

int bq_exp_mbool(mf *f, yaml_node_t *map, const char *where, const char *key, int *out) {
    const char *s = bq_exp_mstr(f, map, where, key);
    if (!s) return -1;
    if (!strcmp(s, "true")) *out = 1;
    else if (!strcmp(s, "false")) *out = 0;
    else {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s' must be true or false", f->dir, where, key);
        return -1;
    }
    return 0;
}

/* Field 'crc32' of map: exactly 8 hex digits. */
const char *bq_exp_mcrc(mf *f, yaml_node_t *map, const char *where) {
    const char *c = bq_exp_mstr(f, map, where, "crc32");
    if (!c) return NULL;
    size_t n = strspn(c, "0123456789abcdefABCDEF");
    if (n != 8 || c[8]) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%scrc32' is '%s', not 8 hex digits",
                  f->dir, where, c);
        return NULL;
    }
    return c;
}

typedef bq_exp_bin bin_file;

/* Check a {offset, size, crc32} range inside file b and that size == want (want 0: any).
 * Returns the data pointer or NULL with err. */
const unsigned char *bq_exp_mrange(mf *f, yaml_node_t *map, const char *where, const char *key,
                                   const bin_file *b, size_t want) {
    yaml_node_t *r = bq_exp_mget(f, map, key);
    char w2[256];
    snprintf(w2, sizeof w2, "%s%s.", where, key);
    long long off, size;
    if (!r || r->type != YAML_MAPPING_NODE) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s' is missing", f->dir, where, key);
        return NULL;
    }
    if (bq_exp_mint(f, r, w2, "offset", 0, (long long)b->len, &off) ||
        bq_exp_mint(f, r, w2, "size", 0, (long long)b->len, &size))
        return NULL;
    if (off % BQ_EXPORT_ALIGN) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%soffset' (%lld) is not %d-byte aligned",
               f->dir, w2, off, BQ_EXPORT_ALIGN);
        return NULL;
    }
    if ((size_t)(off + size) > b->len) {
        bq_seterr(f->err, f->errlen, "%s/%s: field '%s' range [%lld, %lld) lies beyond the file end (%zu "
               "bytes; truncated?)", f->dir, b->name, w2, off, off + size, b->len);
        return NULL;
    }
    if (want && (size_t)size != want) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%ssize' is %lld, the shape needs %zu bytes",
               f->dir, w2, size, want);
        return NULL;
    }
    const char *c = bq_exp_mcrc(f, r, w2);
    if (!c) return NULL;
    unsigned long crc = strtoul(c, NULL, 16);
    if ((uint32_t)crc != bq_exp_crc(b->data + off, (size_t)size)) {
        bq_seterr(f->err, f->errlen, "%s/%s: CRC-32 of '%s' is %08x, the manifest says %s (corrupted)",
               f->dir, b->name, w2, bq_exp_crc(b->data + off, (size_t)size), c);
        return NULL;
    }
    return b->data + off;
}

int64_t bq_exp_rd_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return (int64_t)v;
}

/* The layer fields needed for a recompute. */
typedef struct {
    long long groups, M, K, N, wbits, abits, obits, rbits, z_a, z_o, z_r, lo, hi;
    int raw32, has_res;
    bq_pack_geom g;
    const unsigned char *w, *rq;
    long long w_gs, rq_gs;
    long long addr[5], size[5];          /* memory map: w, a, rq, res, out */
    char name[64], in[64], out[64], res[64];
} mlayer;

enum { MEM_W = 0, MEM_A, MEM_RQ, MEM_RES, MEM_OUT };
static const char *const kMemKeys[5] = {"w", "a", "rq", "res", "out"};

/* Recompute one layer of one test from the unpacked bits, int64, compare with expected. */
static int recompute(mf *f, const mlayer *L, const unsigned char *act, long long a_gs,
                     const unsigned char *res, long long r_gs, const unsigned char *out, long long o_gs) {
    const bq_pack_geom *g = &L->g;
    size_t M = (size_t)L->M, K = (size_t)L->K, N = (size_t)L->N;
    uint8_t *wc = malloc(M * K);
    int32_t *a = malloc(sizeof(int32_t) * K * N), *r = malloc(sizeof(int32_t) * M * N);
    int32_t *e = malloc(sizeof(int32_t) * M * N);
    int rc = -1;
    if (!wc || !a || !r || !e) { bq_seterr(f->err, f->errlen, "out of memory"); goto done; }
    for (long long gi = 0; gi < L->groups; gi++) {
        bq_unpack_weights(wc, L->w + gi * L->w_gs, g, (int)L->wbits);
        bq_unpack_acts(a, act + gi * a_gs, g, (int)L->abits);
        if (L->has_res) bq_unpack_tiles(r, res + gi * r_gs, g, (int)L->rbits);
        bq_unpack_tiles(e, out + gi * o_gs, g, L->raw32 ? 32 : (int)L->obits);
        for (size_t c = 0; c < M; c++) {
            const unsigned char *rec = L->rq + gi * L->rq_gs + 16 * c;
            int64_t bias_eff = (int32_t)(uint32_t)bq_exp_rd_le(rec, 4);
            int64_t m_acc = bq_exp_rd_le(rec + 4, 4), m_res = bq_exp_rd_le(rec + 8, 4);
            int64_t z_w = rec[12], sh = rec[13];
            if (!L->raw32 && (sh < 1 || sh > 62)) {
                bq_seterr(f->err, f->errlen, "%s/requant.bin: layer '%s' channel %zu: field 'sh' is %lld, "
                       "must be 1..62", f->dir, L->name, c, (long long)sh);
                goto done;
            }
            for (size_t p = 0; p < N; p++) {
                int64_t acc = 0, asum = 0;
                for (size_t k = 0; k < K; k++) {
                    acc += (int64_t)wc[c * K + k] * a[k * N + p];
                    asum += a[k * N + p];
                }
                int64_t acc0 = acc - z_w * asum + bias_eff, want;
                if (acc0 > INT32_MAX || acc0 < INT32_MIN) {
                    bq_seterr(f->err, f->errlen, "%s: layer '%s': acc0 %lld at channel %zu pixel %zu leaves "
                           "int32", f->dir, L->name, (long long)acc0, c, p);
                    goto done;
                }
                if (L->raw32) {
                    want = acc0;
                } else {
                    int64_t rr = L->has_res ? (int64_t)r[c * N + p] - L->z_r : 0;
                    int64_t t = acc0 * m_acc + rr * m_res;
                    int64_t y = (t + ((int64_t)1 << (sh - 1))) >> sh;
                    want = y + L->z_o;
                    if (want < L->lo) want = L->lo;
                    if (want > L->hi) want = L->hi;
                }
                if (want != (int64_t)e[c * N + p]) {
                    bq_seterr(f->err, f->errlen, "%s/tests.bin: layer '%s' group %lld: recomputed output %lld "
                           "differs from the expected %d at channel %zu pixel %zu", f->dir, L->name, gi,
                           (long long)want, e[c * N + p], c, p);
                    goto done;
                }
            }
        }
    }
    rc = 0;
done:
    free(wc); free(a); free(r); free(e);
    return rc;
}

/* A package being checked: its manifest, the three .bin files and the layers read so far. */
typedef struct {
    mf f;
    bin_file bins[N_BINS];               /* weights.bin, requant.bin, tests.bin, programs.bin */
    const char *bin_crc[N_BINS];         /* each file's CRC-32 in the manifest (checked last) */
    long long mem_bytes;                 /* the manifest's memory.bytes */
    long long mem_end;                   /* end of the last layer's regions so far */
    const unsigned char *text;           /* the manifest's bytes */
    size_t tlen;
    long long dm, dn, dk, mw;            /* the manifest's hw */
    int nl;
    mlayer *ml;
} pkg_check;

/* Parse <dir>/manifest.json (JSON is YAML) into C->f.doc; *have_doc says it must be freed. */
static int load_manifest(pkg_check *C, yaml_parser_t *parser, unsigned char **text, int *have_parser,
                         int *have_doc, char *path, size_t pathlen) {
    size_t tlen;
    snprintf(path, pathlen, "%s/manifest.json", C->f.dir);
    if (bq_read_file(path, text, &tlen, C->f.err, C->f.errlen)) return -1;
    C->text = *text;
    C->tlen = tlen;
    if (!yaml_parser_initialize(parser)) { bq_seterr(C->f.err, C->f.errlen, "out of memory"); return -1; }
    *have_parser = 1;
    yaml_parser_set_input_string(parser, *text, tlen);
    if (!yaml_parser_load(parser, &C->f.doc)) {
        bq_seterr(C->f.err, C->f.errlen, "%s:%zu:%zu: not valid JSON: %s", path,
                  parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                  parser->problem ? parser->problem : "?");
        return -1;
    }
    *have_doc = 1;
    return 0;
}

/* Fields 'format' and 'version'. */
static int check_format(pkg_check *C, yaml_node_t *root, const char *path) {
    mf *f = &C->f;
    const char *fmt = root ? bq_exp_mstr(f, root, "", "format") : NULL;
    if (!fmt) { if (!root) bq_seterr(f->err, f->errlen, "%s: empty manifest", path); return -1; }
    if (strcmp(fmt, BQ_EXPORT_FORMAT)) {
        bq_seterr(f->err, f->errlen, "%s: field 'format' is '%s', expected '%s'", path, fmt, BQ_EXPORT_FORMAT);
        return -1;
    }
    long long ver;
    if (bq_exp_mint(f, root, "", "version", 0, 1 << 30, &ver)) return -1;
    if (ver == BQ_EXPORT_VERSION_WHOLE) return 1;   /* the whole-network package (export_v2.c) */
    if (ver != BQ_EXPORT_VERSION) {
        bq_seterr(f->err, f->errlen, "%s: field 'version' is %lld, this build reads version %d (per layer) and %d "
               "(whole network); re-export the package with this brecq", path, ver, BQ_EXPORT_VERSION,
               BQ_EXPORT_VERSION_WHOLE);
        return -1;
    }
    return 0;
}

/* Every .bin file is listed, read, and has the listed size and CRC-32. path: the manifest's on
 * entry, each file's once it is read (messages name the last path formed). */
int bq_exp_check_files(mf *f, bin_file bins[BQ_EXP_NBINS], const char *bin_crc[BQ_EXP_NBINS],
                       yaml_node_t *root, char *path, size_t pathlen) {
    yaml_node_t *files = bq_exp_mget(f, root, "files");
    char manifest[4200];   /* path is reused for each binary file below */
    snprintf(manifest, sizeof manifest, "%s", path);
    if (!files || files->type != YAML_SEQUENCE_NODE) { bq_seterr(f->err, f->errlen, "%s: field 'files' is missing", manifest); return -1; }
    for (int i = 0; i < N_BINS; i++) {
        bin_file *b = &bins[i];
        yaml_node_t *fe = NULL;
        for (yaml_node_item_t *it = files->data.sequence.items.start; it < files->data.sequence.items.top; it++) {
            yaml_node_t *n = yaml_document_get_node(&f->doc, *it);
            const char *nm = bq_exp_mstr(f, n, "files[].", "name");
            if (nm && !strcmp(nm, b->name)) fe = n;
        }
        if (!fe) { bq_seterr(f->err, f->errlen, "%s: field 'files' has no entry for %s", manifest, b->name); return -1; }
        snprintf(path, pathlen, "%s/%s", f->dir, b->name);
        if (bq_read_file(path, &b->data, &b->len, f->err, f->errlen)) return -1;
        long long size;
        char where[64];
        snprintf(where, sizeof where, "files[%s].", b->name);
        if (bq_exp_mint(f, fe, where, "size", 0, 1LL << 40, &size)) return -1;
        if ((size_t)size != b->len) {
            bq_seterr(f->err, f->errlen, "%s: size is %zu bytes, the manifest says %lld (truncated or replaced)",
                   path, b->len, size);
            return -1;
        }
        if (!(bin_crc[i] = bq_exp_mcrc(f, fe, where))) return -1;
    }
    return 0;
}

/* Each file's CRC-32, after every range in it was checked (so a corrupted byte inside a range is
 * reported with the range's name): what is left is padding between ranges. */
int bq_exp_check_file_crcs(mf *f, const bin_file bins[BQ_EXP_NBINS], const char *const bin_crc[BQ_EXP_NBINS]) {
    for (int i = 0; i < N_BINS; i++) {
        const bin_file *b = &bins[i];
        if ((uint32_t)strtoul(bin_crc[i], NULL, 16) != bq_exp_crc(b->data, b->len)) {
            bq_seterr(f->err, f->errlen, "%s/%s: CRC-32 is %08x, the manifest says %s (corrupted "
                      "alignment padding between the listed ranges)", f->dir, b->name,
                      bq_exp_crc(b->data, b->len), bin_crc[i]);
            return -1;
        }
    }
    return 0;
}

/* Layer l's memory map: every region 64-byte aligned, after the previous one, inside
 * memory.bytes; weights and requant regions as large as their ranges in the files. */
static int read_layer_mem(pkg_check *C, yaml_node_t *n, const char *where, mlayer *L) {
    mf *f = &C->f;
    yaml_node_t *mem = bq_exp_mget(f, n, "mem");
    char w2[128], key[16];
    snprintf(w2, sizeof w2, "%smem.", where);
    for (int r = 0; r < 5; r++) {
        snprintf(key, sizeof key, "%s_addr", kMemKeys[r]);
        if (bq_exp_mint(f, mem, w2, key, 0, 0xffffffffLL, &L->addr[r])) return -1;
        snprintf(key, sizeof key, "%s_size", kMemKeys[r]);
        if (bq_exp_mint(f, mem, w2, key, 0, 0xffffffffLL, &L->size[r])) return -1;
        if (L->addr[r] % BQ_LOWER_ALIGN || L->addr[r] < C->mem_end ||
            L->addr[r] + L->size[r] > C->mem_bytes) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s_addr' (%lld, %lld bytes) is not "
                      "%d-byte aligned, overlaps the region before it (ends at %lld) or leaves "
                      "memory.bytes (%lld)", f->dir, w2, kMemKeys[r], L->addr[r], L->size[r],
                      BQ_LOWER_ALIGN, C->mem_end, C->mem_bytes);
            return -1;
        }
        C->mem_end = L->addr[r] + L->size[r];
    }
    if (L->size[MEM_W] != L->w_gs * L->groups || L->size[MEM_RQ] != L->rq_gs * L->groups ||
        L->has_res != (L->size[MEM_RES] > 0)) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%sw_size/rq_size/res_size' does not "
                  "match the weights / requant ranges or the shortcut", f->dir, w2);
        return -1;
    }
    return 0;
}

/* One program: decodes on its queue, and every memory access lies in the layer's regions. */
static int check_program(pkg_check *C, const mlayer *L, const char *where, int s,
                         const unsigned char *p, size_t count) {
    mf *f = &C->f;
    static const char *const st[BQ_NSTAGES] = {"fetch", "execute", "result"};
    for (size_t i = 0; i < count; i++) {
        uint32_t w[4];
        bq_instr in;
        for (int k = 0; k < 4; k++) w[k] = (uint32_t)bq_exp_rd_le(p + 16 * i + 4 * (size_t)k, 4);
        /* packages are v1 programs: a v2 encoding (it decodes) is refused like an illegal op */
        int bad = bq_isa_decode(s, w, &in) != 0 || !bq_isa_is_v1(&in);
        if (!bad && s == BQ_STAGE_FETCH && in.op == BQ_OP_RUN) {
            int r = in.target == BQ_TGT_W ? MEM_W : in.target == BQ_TGT_A ? MEM_A : MEM_RQ;
            bad = in.dram_addr < L->addr[r] || in.dram_addr >= L->addr[r] + L->size[r];
        }
        if (!bad && s == BQ_STAGE_RESULT && in.op == BQ_OP_RUN)
            bad = in.out_addr < L->addr[MEM_OUT] || in.out_addr >= L->addr[MEM_OUT] + L->size[MEM_OUT] ||
                  (in.res && (in.res_addr < L->addr[MEM_RES] ||
                              in.res_addr >= L->addr[MEM_RES] + L->size[MEM_RES]));
        if (bad) {
            bq_seterr(f->err, f->errlen, "%s/programs.bin: '%sprograms.%s' instruction %zu does not "
                      "decode or addresses memory outside layer '%s''s regions", f->dir, where, st[s],
                      i, L->name);
            return -1;
        }
    }
    return 0;
}

static int read_layer_programs(pkg_check *C, yaml_node_t *n, const char *where, const mlayer *L) {
    mf *f = &C->f;
    static const char *const st[BQ_NSTAGES] = {"fetch", "execute", "result"};
    yaml_node_t *pr = bq_exp_mget(f, n, "programs");
    char w2[128];
    snprintf(w2, sizeof w2, "%sprograms.", where);
    for (int s = 0; s < BQ_NSTAGES; s++) {
        yaml_node_t *r = bq_exp_mget(f, pr, st[s]);
        long long size = 0;
        if (!r || bq_exp_mint(f, r, w2, "size", 0, 1LL << 40, &size)) {
            if (!r) bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s' is missing", f->dir, w2, st[s]);
            return -1;
        }
        if (size % 16) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s%s.size' (%lld) is not a whole "
                      "number of 16-byte instructions", f->dir, w2, st[s], size);
            return -1;
        }
        const unsigned char *p = bq_exp_mrange(f, pr, w2, st[s], &C->bins[3], 0);
        if (!p || check_program(C, L, where, s, p, (size_t)size / 16)) return -1;
    }
    return 0;
}

/* M, K, N against the layer's conv geometry (hwlayer.h: M = cout/g, K = cin/g*kh*kw,
 * N = hout*wout). */
static int check_gemm_geometry(pkg_check *C, yaml_node_t *n, const char *where, const mlayer *L) {
    mf *f = &C->f;
    long long cin, cout, kh, kw, hout, wout;
    if (bq_exp_mint(f, n, where, "cin", 1, 1 << 24, &cin) || bq_exp_mint(f, n, where, "cout", 1, 1 << 24, &cout) ||
        bq_exp_mint(f, n, where, "kh", 1, 1 << 16, &kh) || bq_exp_mint(f, n, where, "kw", 1, 1 << 16, &kw) ||
        bq_exp_mint(f, n, where, "hout", 1, 1 << 24, &hout) || bq_exp_mint(f, n, where, "wout", 1, 1 << 24, &wout))
        return -1;
    if (L->M * L->groups != cout || cin % L->groups || L->K != cin / L->groups * kh * kw ||
        L->N != hout * wout) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%sM/K/N' (%lld/%lld/%lld) does not match "
                  "cout/groups, cin/groups*kh*kw, hout*wout of the layer", f->dir, where, L->M, L->K,
                  L->N);
        return -1;
    }
    return 0;
}

/* Layer l's fields, shape against the array, weight and requant ranges. */
static int read_layer(pkg_check *C, yaml_node_t *n, int l, mlayer *L) {
    mf *f = &C->f;
    char where[96];
    const char *nm = bq_exp_mstr(f, n, "layers[].", "name");
    if (!nm) return -1;
    snprintf(L->name, sizeof L->name, "%s", nm);
    snprintf(where, sizeof where, "layers[%d].", l);
    long long mp, kp, np;
    if (bq_exp_mint(f, n, where, "groups", 1, 1 << 20, &L->groups) || bq_exp_mint(f, n, where, "M", 1, 1 << 20, &L->M) ||
        bq_exp_mint(f, n, where, "K", 1, 1 << 24, &L->K) || bq_exp_mint(f, n, where, "N", 1, 1 << 24, &L->N) ||
        bq_exp_mint(f, n, where, "M_pad", 1, 1 << 24, &mp) || bq_exp_mint(f, n, where, "K_pad", 1, 1 << 26, &kp) ||
        bq_exp_mint(f, n, where, "N_pad", 1, 1 << 26, &np) || bq_exp_mint(f, n, where, "wbits", 1, 8, &L->wbits) ||
        bq_exp_mint(f, n, where, "abits", 1, 8, &L->abits) || bq_exp_mint(f, n, where, "obits", 0, 8, &L->obits) ||
        bq_exp_mint(f, n, where, "rbits", 0, 8, &L->rbits) || bq_exp_mint(f, n, where, "z_a", 0, 255, &L->z_a) ||
        bq_exp_mint(f, n, where, "z_o", 0, 255, &L->z_o) || bq_exp_mint(f, n, where, "z_r", 0, 255, &L->z_r) ||
        bq_exp_mint(f, n, where, "lo", 0, 255, &L->lo) || bq_exp_mint(f, n, where, "hi", 0, 255, &L->hi) ||
        bq_exp_mbool(f, n, where, "raw32", &L->raw32) || bq_exp_mbool(f, n, where, "w_signed", &(int){0}) ||
        bq_exp_mint(f, n, where, "weight_group_stride", 0, 1LL << 40, &L->w_gs) ||
        bq_exp_mint(f, n, where, "requant_group_stride", 0, 1LL << 40, &L->rq_gs))
        return -1;
    L->has_res = L->rbits > 0;
    if (check_gemm_geometry(C, n, where, L)) return -1;
    if (!L->raw32 && L->obits < 1) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%sobits' is 0 on a non-RAW32 layer", f->dir, where);
        return -1;
    }
    long long dm = C->dm, dn = C->dn, dk = C->dk;
    if (bq_pack_geom_init(&L->g, (int)L->M, (int)L->K, (int)L->N, (int)dm, (int)dn, (int)dk, (int)C->mw)) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: layer '%s': impossible geometry", f->dir, L->name);
        return -1;
    }
    if (mp != L->g.mt * dm || kp != L->g.kc * dk || np != L->g.nt * dn) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%sM_pad/K_pad/N_pad' (%lld/%lld/%lld) does not "
               "match M, K, N padded to the array (%lld/%lld/%lld)", f->dir, where, mp, kp, np,
               (long long)L->g.mt * dm, (long long)L->g.kc * dk, (long long)L->g.nt * dn);
        return -1;
    }
    if (L->w_gs < (long long)bq_pack_weights_size(&L->g, (int)L->wbits) || L->rq_gs < L->g.mt * dm * 16) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%sweight_group_stride/requant_group_stride' is "
               "smaller than the shape needs", f->dir, where);
        return -1;
    }
    if (!(L->w = bq_exp_mrange(f, n, where, "weights", &C->bins[0], (size_t)(L->w_gs * L->groups))) ||
        !(L->rq = bq_exp_mrange(f, n, where, "requant", &C->bins[1], (size_t)(L->rq_gs * L->groups))))
        return -1;
    const char *in = bq_exp_mstr(f, n, where, "in"), *out = bq_exp_mstr(f, n, where, "out");
    if (!in || !out) return -1;
    snprintf(L->in, sizeof L->in, "%s", in);
    snprintf(L->out, sizeof L->out, "%s", out);
    yaml_node_t *res = bq_exp_mget(f, n, "res");
    snprintf(L->res, sizeof L->res, "%s", res && res->type == YAML_SCALAR_NODE &&
             strcmp((const char *)res->data.scalar.value, "null") ? (const char *)res->data.scalar.value : "");
    return read_layer_mem(C, n, where, L) || read_layer_programs(C, n, where, L);
}

/* Padding must be zero: rows >= M and columns >= K of every weight plane. */
static int check_padding(pkg_check *C, const mlayer *L) {
    mf *f = &C->f;
    for (long long gi = 0; gi < L->groups; gi++) {
        uint8_t *tmpw = malloc((size_t)(L->g.mt * C->dm) * (size_t)(L->g.kc * C->dk));
        bq_pack_geom gp;
        if (!tmpw || bq_pack_geom_init(&gp, L->g.mt * (int)C->dm, L->g.kc * (int)C->dk, 1, (int)C->dm,
                                       (int)C->dn, (int)C->dk, (int)C->mw)) {
            free(tmpw);
            bq_seterr(f->err, f->errlen, "out of memory");
            return -1;
        }
        bq_unpack_weights(tmpw, L->w + gi * L->w_gs, &gp, (int)L->wbits);
        int bad = 0;
        for (long long r = 0; r < gp.m && !bad; r++)
            for (long long k = 0; k < gp.k; k++)
                if ((r >= L->M || k >= L->K) && tmpw[r * gp.k + k]) { bad = 1; break; }
        free(tmpw);
        if (bad) {
            bq_seterr(f->err, f->errlen, "%s/weights.bin: layer '%s': padding bits are not zero", f->dir, L->name);
            return -1;
        }
    }
    return 0;
}

/* The hw dimensions, then every layer (fields, ranges, zero padding) into C->ml. */
static int check_layers(pkg_check *C, yaml_node_t *root) {
    mf *f = &C->f;
    yaml_node_t *hw = bq_exp_mget(f, root, "hw");
    if (bq_exp_mint(f, hw, "hw.", "dm", 1, 4096, &C->dm) || bq_exp_mint(f, hw, "hw.", "dn", 1, 4096, &C->dn) ||
        bq_exp_mint(f, hw, "hw.", "dk", 8, 65536, &C->dk) || bq_exp_mint(f, hw, "hw.", "mem_width_bits", 8, 4096, &C->mw) ||
        bq_exp_mint(f, bq_exp_mget(f, root, "memory"), "memory.", "bytes", 0, 1LL << 32, &C->mem_bytes))
        return -1;
    yaml_node_t *layers = bq_exp_mget(f, root, "layers");
    if (!layers || layers->type != YAML_SEQUENCE_NODE) { bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'layers' is missing", f->dir); return -1; }
    C->nl = (int)(layers->data.sequence.items.top - layers->data.sequence.items.start);
    C->ml = calloc((size_t)(C->nl ? C->nl : 1), sizeof(mlayer));
    if (!C->ml) { bq_seterr(f->err, f->errlen, "out of memory"); return -1; }
    for (int l = 0; l < C->nl; l++) {
        yaml_node_t *n = yaml_document_get_node(&f->doc, layers->data.sequence.items.start[l]);
        if (read_layer(C, n, l, &C->ml[l]) || check_padding(C, &C->ml[l])) return -1;
    }
    return 0;
}

/* Test t, layer l: strides and ranges; on test 0 the selected layers are recomputed. */
static int check_test_layer(pkg_check *C, yaml_node_t *e, int t, int l, const char *layer,
                            FILE *log, int *recomputed) {
    mf *f = &C->f;
    const mlayer *L = &C->ml[l];
    bin_file *tb = &C->bins[2];
    char where[96];
    snprintf(where, sizeof where, "tests[%d].layers[%d].", t, l);
    long long a_gs, r_gs, o_gs;
    if (bq_exp_mint(f, e, where, "act_group_stride", 0, 1LL << 40, &a_gs) ||
        bq_exp_mint(f, e, where, "res_group_stride", 0, 1LL << 40, &r_gs) ||
        bq_exp_mint(f, e, where, "out_group_stride", 0, 1LL << 40, &o_gs))
        return -1;
    int ob = L->raw32 ? 32 : (int)L->obits;
    if (a_gs < (long long)bq_pack_acts_size(&L->g, (int)L->abits) ||
        o_gs < (long long)bq_pack_tiles_size(&L->g, ob) ||
        (L->has_res && r_gs < (long long)bq_pack_tiles_size(&L->g, (int)L->rbits))) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s*_group_stride' is smaller than layer "
               "'%s' needs", f->dir, where, L->name);
        return -1;
    }
    if (a_gs * L->groups != L->size[MEM_A] || o_gs * L->groups != L->size[MEM_OUT] ||
        (L->has_res && r_gs * L->groups != L->size[MEM_RES])) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s*_group_stride' times groups differs "
                  "from layer '%s''s a_size/out_size/res_size in the memory map", f->dir, where, L->name);
        return -1;
    }
    const unsigned char *act = bq_exp_mrange(f, e, where, "act", tb, (size_t)(a_gs * L->groups));
    const unsigned char *res = L->has_res ? bq_exp_mrange(f, e, where, "res", tb, (size_t)(r_gs * L->groups)) : NULL;
    const unsigned char *out = bq_exp_mrange(f, e, where, "out", tb, (size_t)(o_gs * L->groups));
    const unsigned char *codes = bq_exp_mrange(f, e, where, "codes", tb,
                                        (size_t)(L->M * L->groups * L->N * (L->raw32 ? 4 : 1)));
    if (!act || !out || !codes || (L->has_res && !res)) return -1;
    if (t == 0 && (!layer || !strcmp(layer, L->name))) {
        if (recompute(f, L, act, a_gs, res, r_gs, out, o_gs)) return -1;
        (*recomputed)++;
        if (log) fprintf(log, "check: test 0 layer %-16s recomputed from the unpacked bits (int64): "
                         "bit-exact\n", L->name);
    }
    return 0;
}

/* Every test image: input range, one entry per layer. *nt: images listed. */
static int check_tests(pkg_check *C, yaml_node_t *root, const char *layer, FILE *log, int *nt,
                       int *recomputed) {
    mf *f = &C->f;
    yaml_node_t *tests = bq_exp_mget(f, root, "tests");
    *nt = tests && tests->type == YAML_SEQUENCE_NODE
              ? (int)(tests->data.sequence.items.top - tests->data.sequence.items.start) : 0;
    for (int t = 0; t < *nt; t++) {
        yaml_node_t *tn = yaml_document_get_node(&f->doc, tests->data.sequence.items.start[t]);
        yaml_node_t *tl = bq_exp_mget(f, tn, "layers");
        char where[96];
        snprintf(where, sizeof where, "tests[%d].", t);
        if (!bq_exp_mrange(f, tn, where, "input", &C->bins[2], 0)) return -1;
        if (!tl || tl->type != YAML_SEQUENCE_NODE ||
            (int)(tl->data.sequence.items.top - tl->data.sequence.items.start) != C->nl) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%slayers' must list all %d layers", f->dir, where, C->nl);
            return -1;
        }
        for (int l = 0; l < C->nl; l++) {
            yaml_node_t *e = yaml_document_get_node(&f->doc, tl->data.sequence.items.start[l]);
            if (check_test_layer(C, e, t, l, layer, log, recomputed)) return -1;
        }
    }
    return 0;
}

/* "steps": every layer once; a step reads only the input or what an earlier step wrote. */
static int check_steps(pkg_check *C, yaml_node_t *root) {
    mf *f = &C->f;
    yaml_node_t *steps = bq_exp_mget(f, root, "steps");
    const char *input = bq_exp_mstr(f, bq_exp_mget(f, root, "input"), "input.", "name");
    if (!input) return -1;
    if (!steps || steps->type != YAML_SEQUENCE_NODE) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'steps' is missing", f->dir);
        return -1;
    }
    int ns = (int)(steps->data.sequence.items.top - steps->data.sequence.items.start), rc = -1;
    const char **made = calloc((size_t)ns + 1, sizeof *made);
    int *ran = calloc((size_t)C->nl + 1, sizeof *ran), nm = 0;
    if (!made || !ran) { bq_seterr(f->err, f->errlen, "out of memory"); goto done; }
    made[nm++] = input;
    for (int s = 0; s < ns; s++) {
        yaml_node_t *st = yaml_document_get_node(&f->doc, steps->data.sequence.items.start[s]);
        char where[64];
        snprintf(where, sizeof where, "steps[%d].", s);
        const char *op = bq_exp_mstr(f, st, where, "op"), *in = NULL, *res = NULL, *out = NULL;
        if (!op) goto done;
        if (!strcmp(op, "layer")) {
            long long l;
            if (bq_exp_mint(f, st, where, "layer", 0, C->nl - 1, &l)) goto done;
            ran[l]++;
            in = C->ml[l].in; res = C->ml[l].res[0] ? C->ml[l].res : NULL; out = C->ml[l].out;
        } else if (!strcmp(op, "gap") || !strcmp(op, "maxpool") || !strcmp(op, "flatten")) {
            if (!(in = bq_exp_mstr(f, st, where, "in")) || !(out = bq_exp_mstr(f, st, where, "out"))) goto done;
        } else {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%sop' is '%s'; expected layer, gap, "
                      "maxpool or flatten", f->dir, where, op);
            goto done;
        }
        for (int k = 0; k < 2; k++) {
            const char *need = k ? res : in;
            int ok = !need;
            for (int i = 0; i < nm && !ok; i++) ok = !strcmp(made[i], need);
            if (!ok) {
                bq_seterr(f->err, f->errlen, "%s/manifest.json: field '%s': step reads '%s' before any "
                          "step writes it (producers must come first)", f->dir, where, need);
                goto done;
            }
        }
        made[nm++] = out;
    }
    for (int l = 0; l < C->nl; l++)
        if (ran[l] != 1) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'steps' runs layer '%s' %d times; "
                      "every layer runs once", f->dir, C->ml[l].name, ran[l]);
            goto done;
        }
    rc = 0;
done:
    free(made); free(ran);
    return rc;
}

/* A finite positive number in a sequence or map value node. */
static int positive_number(const yaml_node_t *v, double *out) {
    char *end;
    if (!v || v->type != YAML_SCALAR_NODE) return 0;
    *out = strtod((const char *)v->data.scalar.value, &end);
    return *end == 0 && end != (char *)v->data.scalar.value && *out > 0 && *out < 1e30;
}

/* "output": the last layer, one positive s_w and logit_scale per class, a positive s_a. */
static int check_output(pkg_check *C, yaml_node_t *root) {
    mf *f = &C->f;
    yaml_node_t *o = bq_exp_mget(f, root, "output");
    const char *name = bq_exp_mstr(f, o, "output.", "layer");
    long long classes;
    if (!name || bq_exp_mint(f, o, "output.", "classes", 1, 1 << 20, &classes)) return -1;
    const mlayer *L = C->nl ? &C->ml[C->nl - 1] : NULL;
    double v;
    if (!L || strcmp(L->name, name) || !L->raw32 || classes != L->M * L->groups) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'output.layer/classes' (%s, %lld) is not "
                  "the last layer, a RAW32 layer with that many channels", f->dir, name, classes);
        return -1;
    }
    if (!positive_number(bq_exp_mget(f, o, "s_a"), &v)) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'output.s_a' must be a positive number", f->dir);
        return -1;
    }
    static const char *const keys[2] = {"s_w", "logit_scale"};
    for (int k = 0; k < 2; k++) {
        yaml_node_t *a = bq_exp_mget(f, o, keys[k]);
        int n = a && a->type == YAML_SEQUENCE_NODE
                    ? (int)(a->data.sequence.items.top - a->data.sequence.items.start) : -1;
        int ok = n == classes;
        for (int c = 0; ok && c < n; c++)
            ok = positive_number(yaml_document_get_node(&f->doc, a->data.sequence.items.start[c]), &v);
        if (!ok) {
            bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'output.%s' must list %lld positive "
                      "numbers", f->dir, keys[k], classes);
            return -1;
        }
    }
    return 0;
}

/* The last field: CRC-32 of every manifest byte before its line. */
int bq_exp_check_manifest_crc(mf *f, const unsigned char *text) {
    static const char key[] = "  \"manifest_crc32\": \"";
    const char *t = (const char *)text, *at = NULL;
    for (const char *p = strstr(t, key); p; p = strstr(p + 1, key)) at = p;
    if (!at) {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'manifest_crc32' is missing", f->dir);
        return -1;
    }
    const char *hex = at + sizeof key - 1;
    uint32_t want = (uint32_t)strtoul(hex, NULL, 16);
    uint32_t got = bq_exp_crc(t, (size_t)(at - t));
    if (got != want || strspn(hex, "0123456789abcdef") != 8 || hex[8] != '"') {
        bq_seterr(f->err, f->errlen, "%s/manifest.json: field 'manifest_crc32' is %08x, the manifest's "
                  "bytes give %08x (edited after export; re-export the package)", f->dir, want, got);
        return -1;
    }
    return 0;
}

/* Everything after the manifest is parsed: format, files, layers, tests. */
static int check_package(pkg_check *C, const char *layer, FILE *log, char *path, size_t pathlen) {
    yaml_node_t *root = yaml_document_get_root_node(&C->f.doc);
    int fmt = check_format(C, root, path);
    if (fmt == 1) return bq_export_check_v3(&C->f, root, C->text, layer, log);
    if (fmt || bq_exp_check_files(&C->f, C->bins, C->bin_crc, root, path, pathlen))
        return -1;
    if (log) fprintf(log, "check: files present, sizes match\n");
    if (check_layers(C, root)) return -1;
    if (log) fprintf(log, "check: %d layers: shapes, padding, weight and requant CRC-32s ok\n", C->nl);
    if (check_steps(C, root) || check_output(C, root)) return -1;
    if (log) fprintf(log, "check: %d layers: memory map, programs, execution order and output ok\n", C->nl);
    int nt = 0, recomputed = 0;
    if (check_tests(C, root, layer, log, &nt, &recomputed) ||
        bq_exp_check_file_crcs(&C->f, C->bins, C->bin_crc) || bq_exp_check_manifest_crc(&C->f, C->text))
        return -1;
    if (layer && !recomputed) {
        bq_seterr(C->f.err, C->f.errlen, "%s: no layer named '%s' (or the package has no test vectors)",
                  C->f.dir, layer);
        return -1;
    }
    if (log) fprintf(log, "check: %s ok (%d layers, %d test images, %d layers recomputed)\n",
                     C->f.dir, C->nl, nt, recomputed);
    return 0;
}

int bq_export_check(const char *dir, const char *layer, void *logp, char *err, size_t errlen) {
    pkg_check C;
    memset(&C, 0, sizeof C);
    C.f.dir = dir; C.f.err = err; C.f.errlen = errlen;
    C.bins[0].name = "weights.bin"; C.bins[1].name = "requant.bin"; C.bins[2].name = "tests.bin";
    C.bins[3].name = "programs.bin";
    char path[4200];
    unsigned char *text = NULL;
    yaml_parser_t parser;
    int have_parser = 0, have_doc = 0;
    int rc = load_manifest(&C, &parser, &text, &have_parser, &have_doc, path, sizeof path) ||
             check_package(&C, layer, logp, path, sizeof path) ? -1 : 0;
    if (have_doc) yaml_document_delete(&C.f.doc);
    if (have_parser) yaml_parser_delete(&parser);
    for (int i = 0; i < N_BINS; i++) free(C.bins[i].data);
    free(C.ml);
    free(text);
    return rc;
}
