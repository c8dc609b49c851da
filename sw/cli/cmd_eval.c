/* brecq eval — top-1 of a model on the full 10k Fashion-MNIST test set: float, fake-quant
 * (--quant Q) or integer-only (--quant Q --int, which also compares every layer with fake-quant). */
#include "cli.h"
#include "cli_data.h"
#include "core/errmsg.h"
#include "nn/data.h"
#include "quant/fakequant.h"
#include "core/fileio.h"
#include "quant/intref.h"
#include "io/model_io.h"
#include "quant/qmodel.h"
#include "nn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per quantized node: how the integer codes differ from the fake-quant codes. */
typedef struct {
    long long n, ndiff;
    long long maxd;
    double maxd_raw;   /* RAW32 layer: max |fake/(s_w s_a) - acc0| in accumulator LSBs */
} lsb_stat;

typedef struct {
    const bq_qmodel *q;
    bq_fq fq;
    bq_exec ex;
    bq_intnet net;
    lsb_stat *st;      /* [n_nodes] end to end: both paths run on their own */
    lsb_stat *lst;     /* [n_nodes] per layer: fake-quant fed with the integer path's inputs */
    int forcing;
    int32_t *tmp;
    size_t tmp_count;
} int_eval;

static int argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[b]) b = i;
    return b;
}

/* user_post hook of the forced run: compare the fake-quant codes computed from the integer
 * path's inputs with the integer codes (the local, per-layer difference), then replace the node's
 * output by the integer codes so every later layer sees exactly the integer path's inputs. */
static void force_hook(void *ctx, bq_exec *ex, int node, float *data, int n) {
    (void)ex;
    int_eval *ie = ctx;
    if (!ie->forcing || !ie->net.codes[node]) return;
    const bq_qmodel *q = ie->q;
    const bq_aquant *A = &q->aq[q->node_aq[node]];
    size_t cnt = (size_t)n * bq_node_size(&q->model.nodes[node]);
    bq_fq_codes(ie->tmp, &ie->fq, node, data, cnt);
    lsb_stat *s = &ie->lst[node];
    for (size_t k = 0; k < cnt; k++) {
        long long d = llabs((long long)ie->tmp[k] - ie->net.codes[node][k]);
        s->n++;
        s->ndiff += d != 0;
        if (d > s->maxd) s->maxd = d;
        data[k] = (float)((int32_t)ie->net.codes[node][k] - A->zero) * A->scale;
    }
}

static void compare_logits(int_eval *ie, int n, lsb_stat *s);

/* Compare one batch node by node. */
static void compare_batch(int_eval *ie, int n) {
    const bq_qmodel *q = ie->q;
    const bq_model *m = &q->model;
    for (int i = 0; i < m->n_nodes; i++) {
        if (!ie->net.codes[i]) continue;
        size_t cnt = (size_t)n * bq_node_size(&m->nodes[i]);
        bq_fq_codes(ie->tmp, &ie->fq, i, ie->ex.act[i], cnt);
        lsb_stat *s = &ie->st[i];
        for (size_t k = 0; k < cnt; k++) {
            long long d = llabs((long long)ie->tmp[k] - ie->net.codes[i][k]);
            s->n++;
            s->ndiff += d != 0;
            if (d > s->maxd) s->maxd = d;
        }
    }
    compare_logits(ie, n, &ie->st[bq_model_output(m)]);
}

/* Float logits / (s_w s_a) against the RAW32 acc0, in accumulator units. */
static void compare_logits(int_eval *ie, int n, lsb_stat *s) {
    const bq_ilayer *L = &ie->net.L[ie->net.n_layers - 1];
    int out = bq_model_output(&ie->q->model);
    for (int b = 0; b < n; b++)
        for (int c = 0; c < L->cout; c++) {
            double f = ie->ex.act[out][(size_t)b * L->cout + c] / (double)L->logit_scale[c];
            double d = fabs(f - ie->net.logits[(size_t)b * L->cout + c]);
            s->n++;
            if (d > s->maxd_raw) s->maxd_raw = d;
        }
}

static int write_dump(const char *path, const bq_qmodel *q, int node, const int32_t *v, int n_img,
                      size_t per_img, char *err, size_t errlen) {
    bq_buf b = {0};
    const bq_node *nd = &q->model.nodes[node];
    bq_buf_printf(&b, "# node %s shape %d %d %d images %d\n", nd->name, nd->c, nd->h, nd->w, n_img);
    for (int i = 0; i < n_img; i++) {
        for (size_t k = 0; k < per_img; k++)
            bq_buf_printf(&b, "%s%d", k ? " " : "", v[(size_t)i * per_img + k]);
        bq_buf_printf(&b, "\n");
    }
    int rc = b.oom ? -1 : bq_write_file_atomic(path, b.data, b.len, err, errlen);
    if (b.oom) bq_seterr(err, errlen, "out of memory");
    bq_buf_free(&b);
    return rc;
}

/* Per-image predictions for paired comparisons (`brecq compare`, McNemar): te->n int32
 * little-endian class indices in test-set order, no header (docs/formats.md). */
static int write_preds(const char *path, const int32_t *preds, int n) {
    char err[512];
    if (bq_write_file_atomic(path, preds, sizeof(int32_t) * (size_t)n, err, sizeof(err))) {
        bq_cli_error("eval", "%s", err);
        return -1;
    }
    return 0;
}

static int eval_quant(const char *qpath, const char *model, bq_dataset *te, int use_int,
                      const char *dump_layer, const char *dump_out, int dump_n, const char *report,
                      const char *preds_path) {
    char err[512];
    bq_qmodel q;
    if (bq_cli_load_qmodel("eval", qpath, &q)) return 1;
    int rc = 1;
    if (model) {
        bq_model m;
        if (bq_cli_load_model("eval", model, &m)) { bq_qmodel_free(&q); return 1; }
        uint64_t h = bq_model_hash(&m);
        bq_model_free(&m);
        if (h != q.src_hash) {
            bq_cli_error("eval", "%s was quantized from a different model (source hash %016llx, "
                         "%s has %016llx); pass the model it was made from, or omit --model", qpath,
                         (unsigned long long)q.src_hash, model, (unsigned long long)h);
            bq_qmodel_free(&q);
            return 2;
        }
    }
    if (bq_cli_data_ready("eval", te, &q.model, 1)) { bq_qmodel_free(&q); return 1; }
    int dump_node = -1;
    if (dump_layer) {
        int l = bq_qmodel_find_layer(&q, dump_layer);
        int nd = l >= 0 ? q.layers[l].out_node : bq_find_node(&q.model, dump_layer);
        if (nd < 0 || (q.node_aq[nd] < 0 && nd != bq_model_output(&q.model))) {
            bq_cli_error("eval", "--dump-layer '%s' is not a layer or quantized tensor of %s", dump_layer, qpath);
            bq_qmodel_free(&q);
            return 2;
        }
        dump_node = nd;
        if (dump_n > te->n) dump_n = te->n;
    }
    /* 100 images a batch, fewer where their activations would pass 1 GiB (224x224 networks) */
    const int B = bq_exec_batch_for(&q.model, 100, BQ_EVAL_ACT_BYTES);
    int_eval ie;
    memset(&ie, 0, sizeof(ie));
    ie.q = &q;
    float *x = malloc(sizeof(float) * (size_t)B * te->c * te->h * te->w);
    int *idx = malloc(sizeof(int) * B), *y = malloc(sizeof(int) * B), *pi = malloc(sizeof(int) * B);
    int32_t *dump = NULL, *preds = NULL;
    size_t dump_per = dump_node >= 0 ? bq_node_size(&q.model.nodes[dump_node]) : 0;
    int have_fq = 0, have_ex = 0, have_net = 0;
    if (!x || !idx || !y || !pi) goto oom;
    if (preds_path && !(preds = malloc(sizeof(int32_t) * (size_t)te->n))) goto oom;
    if (dump_node >= 0 && !(dump = malloc(sizeof(int32_t) * dump_per * (size_t)dump_n))) goto oom;
    if (bq_fq_init(&ie.fq, &q, B, 0)) goto oom;
    have_fq = 1;
    if (bq_exec_init(&ie.ex, &ie.fq.net, B, 0)) goto oom;
    have_ex = 1;
    bq_fq_bind(&ie.fq, &ie.ex);
    if (use_int) {
        if (bq_intnet_init(&ie.net, &q, B, err, sizeof(err))) {
            bq_cli_error("eval", "%s: cannot run integer-only: %s", qpath, err);
            rc = 2;
            goto out;
        }
        have_net = 1;
        ie.st = calloc((size_t)q.model.n_nodes, sizeof(lsb_stat));
        ie.lst = calloc((size_t)q.model.n_nodes, sizeof(lsb_stat));
        ie.fq.user_post = force_hook;
        ie.fq.user_ctx = &ie;
        size_t mx = 0;
        for (int i = 0; i < q.model.n_nodes; i++)
            if (bq_node_size(&q.model.nodes[i]) > mx) mx = bq_node_size(&q.model.nodes[i]);
        ie.tmp = malloc(sizeof(int32_t) * mx * B);
        if (!ie.st || !ie.lst || !ie.tmp) goto oom;
    }
    long corr_fq = 0, corr_int = 0, agree = 0;
    int out_node = bq_model_output(&q.model), ncls = q.model.nodes[out_node].c;
    for (int s = 0; s < te->n; s += B) {
        int nb = te->n - s < B ? te->n - s : B;
        for (int i = 0; i < nb; i++) idx[i] = s + i;
        bq_dataset_batch(te, idx, nb, x, y, q.model.in_mean, q.model.in_std, NULL);
        bq_exec_forward(&ie.ex, &ie.fq.net, x, nb, 0);
        if (use_int) {
            bq_intnet_forward(&ie.net, x, nb);
            bq_intnet_predict(&ie.net, nb, pi);
            compare_batch(&ie, nb);
        }
        for (int i = 0; i < nb; i++) {
            int pf = argmax(ie.ex.act[out_node] + (size_t)i * ncls, ncls);
            corr_fq += pf == y[i];
            if (preds) preds[s + i] = use_int ? pi[i] : pf;   /* --int: the integer path's */
            if (use_int) { corr_int += pi[i] == y[i]; agree += pi[i] == pf; }
        }
        for (int i = 0; i < nb && dump_node >= 0 && s + i < dump_n; i++) {
            int32_t *d = dump + (size_t)(s + i) * dump_per;
            if (dump_node == out_node) {
                /* RAW32: acc0 (integer), or the fake logits in acc0 units rounded */
                const bq_qlayer *QL = &q.layers[q.n_layers - 1];
                for (size_t k = 0; k < dump_per; k++)
                    d[k] = use_int ? ie.net.logits[(size_t)i * dump_per + k]
                                   : (int32_t)lrint(ie.ex.act[out_node][(size_t)i * dump_per + k] /
                                                    ((double)QL->scale[k] * q.aq[QL->aq_in].scale));
            } else if (use_int) {
                for (size_t k = 0; k < dump_per; k++) d[k] = ie.net.codes[dump_node][(size_t)i * dump_per + k];
            } else {
                bq_fq_codes(d, &ie.fq, dump_node, ie.ex.act[dump_node] + (size_t)i * dump_per, dump_per);
            }
        }
        if (use_int) {   /* per-layer: fake-quant fed with the integer inputs (overwrites ex.act) */
            ie.forcing = 1;
            bq_exec_forward(&ie.ex, &ie.fq.net, x, nb, 0);
            compare_logits(&ie, nb, &ie.lst[out_node]);
            ie.forcing = 0;
        }
    }
    double top_fq = (double)corr_fq / te->n, top_int = (double)corr_int / te->n;
    printf("%s: fake-quant top-1 %.4f (%ld/%d)\n", qpath, top_fq, corr_fq, te->n);
    if (use_int && ie.net.i8_fallbacks)   /* the same bits either way: a note, not an error */
        fprintf(stderr, "eval: note: %d int8 convolutions ran on the float/int16 kernel instead: %s\n",
                ie.net.i8_fallbacks, ie.net.i8_error);
    if (use_int) {
        printf("%s: integer    top-1 %.4f (%ld/%d), same argmax as fake-quant on %.2f%% of images, "
               "|diff| %.2f pt\n", qpath, top_int, corr_int, te->n, 100.0 * agree / te->n,
               100.0 * fabs(top_int - top_fq));
        printf("integer vs fake-quant codes (LSB): end to end (each path on its own inputs) | per layer "
               "(fake-quant layer fed with the integer inputs)\n  %-20s %12s %10s %6s | %10s %6s\n",
               "tensor", "elements", "differ", "max", "differ", "max");
        for (int i = 0; i < q.model.n_nodes; i++) {
            if (!ie.net.codes[i]) continue;
            lsb_stat *st = &ie.st[i], *ls = &ie.lst[i];
            printf("  %-20s %12lld %9.4f%% %6lld | %9.4f%% %6lld\n", q.model.nodes[i].name, st->n,
                   100.0 * st->ndiff / (double)st->n, st->maxd, 100.0 * ls->ndiff / (double)ls->n,
                   ls->maxd);
        }
        printf("  %-20s %12lld %10s %6.2f | %10s %6.4f  (acc0 units: float logits/(s_w s_a) - RAW32)\n",
               q.model.nodes[out_node].name, ie.st[out_node].n, "", ie.st[out_node].maxd_raw, "",
               ie.lst[out_node].maxd_raw);
    }
    if (dump_node >= 0 && dump_out) {
        if (write_dump(dump_out, &q, dump_node, dump, dump_n, dump_per, err, sizeof(err))) {
            bq_cli_error("eval", "%s", err);
            goto out;
        }
        printf("dumped %s codes of %d images (%s path) to %s\n", q.model.nodes[dump_node].name,
               dump_n, use_int ? "integer" : "fake-quant", dump_out);
    }
    if (preds && write_preds(preds_path, preds, te->n)) goto out;
    rc = 0;
    if (report) {
        bq_buf b = {0};
        bq_buf_printf(&b, "{\"quant\": \"%s\", \"method\": \"%s\", \"wbits\": %d, \"abits\": %d, "
                      "\"images\": %d, \"top1\": %.6f, \"correct\": %ld", qpath, q.method,
                      q.opts.wbits, q.opts.abits, te->n, top_fq, corr_fq);
        if (use_int) {
            bq_buf_printf(&b, ", \"top1_int\": %.6f, \"correct_int\": %ld, \"argmax_agree\": %.6f, "
                          "\"layers\": [", top_int, corr_int, (double)agree / te->n);
            int first = 1;
            for (int i = 0; i < q.model.n_nodes; i++) {
                if (!ie.net.codes[i]) continue;
                lsb_stat *st = &ie.st[i];
                bq_buf_printf(&b, "%s{\"tensor\": \"%s\", \"elements\": %lld, \"differ\": %lld, "
                              "\"max_lsb\": %lld, \"layer_differ\": %lld, \"layer_max_lsb\": %lld}",
                              first ? "" : ", ", q.model.nodes[i].name, st->n, st->ndiff, st->maxd,
                              ie.lst[i].ndiff, ie.lst[i].maxd);
                first = 0;
            }
            bq_buf_printf(&b, "], \"logits_max_acc_lsb\": %.4f, \"logits_layer_max_acc_lsb\": %.4f",
                          ie.st[out_node].maxd_raw, ie.lst[out_node].maxd_raw);
        }
        bq_cli_data_classes_json(&b, te);
        bq_buf_printf(&b, "}\n");
        if (b.oom || bq_write_file_atomic(report, b.data, b.len, err, sizeof(err))) {
            bq_cli_error("eval", "%s", b.oom ? "out of memory" : err);
            rc = 1;
        }
        bq_buf_free(&b);
    }
    goto out;
oom:
    bq_cli_error("eval", "out of memory");
out:
    if (have_net) bq_intnet_free(&ie.net);
    if (have_ex) bq_exec_free(&ie.ex);
    if (have_fq) bq_fq_free(&ie.fq);
    free(ie.st); free(ie.lst); free(ie.tmp);
    free(x); free(idx); free(y); free(pi); free(dump); free(preds);
    bq_qmodel_free(&q);
    return rc;
}

int bq_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *report = NULL, *threads = NULL, *data = NULL, *quant = NULL;
    const char *use_int = NULL, *dump_layer = NULL, *dump_out = NULL, *dump_n = NULL, *limit = NULL;
    const char *preds_path = NULL;
    bq_cli_opt opts[] = {
        {"model", 1, &model, "model file (.bqm or .onnx); with --quant: checked against its source"},
        {"quant", 1, &quant, "quantized model (.bqq): evaluate the fake-quant network"},
        {"int", 0, &use_int, "with --quant: also run the integer-only path and compare per layer"},
        {"dump-layer", 1, &dump_layer, "with --quant: layer (or tensor) whose output codes to dump"},
        {"dump-out", 1, &dump_out, "file for --dump-layer (text: one line of codes per image)"},
        {"dump-n", 1, &dump_n, "images to dump (default 16)"},
        {"limit", 1, &limit, "with --quant: only the first N test images (smoke tests; not a result)"},
        {"report", 1, &report, "write a JSON report {top1, images, correct, ...}"},
        {"preds", 1, &preds_path, "write per-image predictions (int32 per test image; with --int the integer path's) for `brecq compare`"},
        {"threads", 1, &threads, "OpenBLAS threads (default 1; the engine's own kernels use $BQ_NUM_THREADS or every core)"},
        {"data", 1, &data, BQ_CLI_DATA_HELP},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq eval --model FILE [--report R.json] [--preds P]\n"
                          "       brecq eval [--model FILE] --quant Q.bqq [--int] "
                          "[--dump-layer NAME --dump-out F [--dump-n N]] [--report R.json] [--preds P]");
    if (rc) return rc == 1 ? 0 : 2;
    if (!model && !quant) { bq_cli_error("eval", "--model or --quant is required; see --help"); return 2; }
    if ((use_int || dump_layer) && !quant) {
        bq_cli_error("eval", "--int and --dump-layer need --quant Q.bqq");
        return 2;
    }
    if (dump_layer && !dump_out) { bq_cli_error("eval", "--dump-layer needs --dump-out FILE"); return 2; }
    if (bq_cli_check_outputs("eval", opts, (int)(sizeof(opts) / sizeof(opts[0])), "report,preds,dump-out", NULL)) return 2;
    long ndump = 16;
    if (dump_n && bq_cli_int("eval", "dump-n", dump_n, 1, 10000, &ndump)) return 2;
    if (bq_cli_threads("eval", threads)) return 2;
    char err[512];
    bq_dataset te;   /* opened (shape, labels); pixels once the model is checked against it */
    if (bq_cli_data_open("eval", data, "test", &te)) return 1;
    if (quant) {
        long lim = 0;
        if (limit && bq_cli_int("eval", "limit", limit, 1, te.n, &lim)) { bq_dataset_free(&te); return 2; }
        int full_n = te.n;
        if (lim) te.n = (int)lim;
        rc = eval_quant(quant, model, &te, use_int != NULL, dump_layer, dump_out, (int)ndump, report,
                        preds_path);
        te.n = full_n;
        bq_dataset_free(&te);
        return rc;
    }
    bq_model m;
    if (bq_cli_load_model("eval", model, &m)) { bq_dataset_free(&te); return 1; }
    if (bq_cli_data_ready("eval", &te, &m, 1)) { bq_model_free(&m); return 1; }
    int *ipreds = preds_path ? malloc(sizeof(int) * (size_t)te.n) : NULL;
    int32_t *preds = preds_path ? malloc(sizeof(int32_t) * (size_t)te.n) : NULL;
    if (preds_path && (!ipreds || !preds)) {
        bq_cli_error("eval", "out of memory");
        free(ipreds); free(preds); bq_dataset_free(&te); bq_model_free(&m);
        return 1;
    }
    int batch = bq_exec_batch_for(&m, 256, BQ_EVAL_ACT_BYTES);
    double top1 = bq_evaluate(&m, &te, batch, ipreds);
    if (top1 < 0.0) {   /* bq_evaluate's allocation failure: never print it as an accuracy */
        bq_cli_error("eval", "%s: out of memory for the activations of a %d-image batch; free "
                     "memory and retry", model, batch);
        free(ipreds); free(preds); bq_dataset_free(&te); bq_model_free(&m);
        return 1;
    }
    long correct = (long)(top1 * te.n + 0.5);
    printf("%s: top-1 %.4f (%ld/%d test images)\n", model, top1, correct, te.n);
    rc = 0;
    if (preds) {
        for (int i = 0; i < te.n; i++) preds[i] = ipreds[i];
        if (write_preds(preds_path, preds, te.n)) rc = 1;
    }
    free(ipreds); free(preds);
    if (report) {
        bq_buf b = {0};
        bq_buf_printf(&b, "{\"model\": \"%s\", \"top1\": %.6f, \"correct\": %ld, \"images\": %d",
                      model, top1, correct, te.n);
        bq_cli_data_classes_json(&b, &te);
        bq_buf_printf(&b, "}\n");
        if (b.oom || bq_write_file_atomic(report, b.data, b.len, err, sizeof(err))) {
            bq_cli_error("eval", "%s", b.oom ? "out of memory" : err);
            rc = 1;
        }
        bq_buf_free(&b);
    }
    bq_dataset_free(&te);
    bq_model_free(&m);
    return rc;
}
