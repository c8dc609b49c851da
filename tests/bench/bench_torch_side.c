/*
 * bench_torch_side — the engine's half of the side-by-side benchmark with PyTorch (make
 * bench-torch; issue 19 item 5). tests/bench/torch_side.py reads what this writes, times the same
 * work in PyTorch on the same shapes and threads, and writes the joint table.
 *
 *   bench_torch_side --json OUT.json [--units-only | --no-unit-timing | --only ARCH:UNIT]
 *                    [--reps R] [--iters K] [--int Q.bqq ...]
 *
 * For fres20 and mbv2t (configs/models/<m>.bqm, else a randomly initialised model) at W4A4:
 *   - every reconstruction unit of the block methods (reconstruct.h), described node by node (op,
 *     shape, conv geometry, BN-folded bias present, weight bits, activation quantizers with their
 *     steps, the shortcut wiring by input names): what torch_side.py rebuilds, so Python never
 *     parses a .bqm;
 *   - unless --units-only / --no-unit-timing (--only ARCH:UNIT: that unit alone): ms per
 *     iteration of the production reconstruction loop at batch 32
 *     (bq_recon_bench_unit: stage A = AdaRound weights, stage B = learned activation steps), as
 *     the median over R calls of the mean of K timed iterations each;
 *   - fres20 FP training img/s (batch 128, SGD momentum 0.9 + weight decay, synthetic batches:
 *     no augmentation, on either side), float eval img/s (batch 100, BN in eval mode) of both
 *     models, and for each --int .bqq the integer reference's img/s (both kernels). Medians of R.
 *     Not with --units-only or --only.
 * Threads: BQ_NUM_THREADS (default: all cores), recorded in the JSON for the PyTorch side.
 */
#include "bench_util.h"
#include "core/fileio.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "io/model_io.h"
#include "nn/exec.h"
#include "nn/graph.h"
#include "nn/ops.h"
#include "nn/optim.h"
#include "quant/intref.h"
#include "quant/qmodel.h"
#include "quant/recipe.h"
#include "quant/reconstruct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECON_BATCH 32
#define TRAIN_BATCH 128
#define EVAL_BATCH 100
#define EVAL_BATCHES 10

typedef struct { int lo, hi, in; char name[BQ_NAME_LEN]; } unit_t;

/* The units of the block methods, in the order bq_recon_bench_unit numbers them: this mirrors
 * make_units() of reconstruct.c (every graph block; every conv/linear outside blocks except the
 * first, with the ReLU/ReLU6/clamp that alone consumes it). main() checks each against
 * bq_recon_unit_forward's input and output nodes, so a divergence fails the bench. */
static int find_units(const bq_qmodel *q, unit_t *units, int cap) {
    const bq_model *m = &q->model;
    int nu = 0;
    for (int i = 0; i < m->n_nodes && nu < cap; i++) {
        const bq_node *nd = &m->nodes[i];
        unit_t *u = &units[nu];
        if (nd->block >= 0) {
            const bq_block *b = &m->blocks[nd->block];
            if (i != b->first) continue;
            *u = (unit_t){b->first, b->last, b->input, ""};
            snprintf(u->name, sizeof u->name, "%s", b->name);
            nu++;
            continue;
        }
        int l = q->node_layer[i];
        if (l < 0 || q->layers[l].first) continue;
        *u = (unit_t){i, i, nd->in[0], ""};
        snprintf(u->name, sizeof u->name, "%s", nd->name);
        int only = -1, uses = 0;
        for (int j = i + 1; j < m->n_nodes; j++)
            for (int k = 0; k < 2; k++)
                if (m->nodes[j].in[k] == i) { uses++; only = j; }
        if (uses == 1 && (m->nodes[only].kind == BQ_OP_RELU || m->nodes[only].kind == BQ_OP_RELU6 ||
                          m->nodes[only].kind == BQ_OP_CLAMP))
            u->hi = only;
        nu++;
    }
    return nu;
}

static const char *role_name(bq_aq_role r) {
    static const char *n[] = {"input", "act", "block_out", "shortcut", "first_out", "last_in"};
    return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "?";
}

/* {"bits", "scale", "zero", "role"} of quantizer a, or null when there is none or it is off. */
static void put_aq(bq_buf *b, const bq_qmodel *q, int a) {
    if (a < 0 || q->aq[a].bits <= 0) { bq_buf_printf(b, "null"); return; }
    const bq_aquant *A = &q->aq[a];
    bq_buf_printf(b, "{\"bits\": %d, \"scale\": %.9g, \"zero\": %d, \"role\": \"%s\"}", A->bits,
                  (double)A->scale, (int)A->zero, role_name(A->role));
}

/* Node i of m, without the closing brace: op, inputs by name, output shape (c, h, w), conv
 * geometry, clamp bounds, whether a conv/linear has a bias. */
static void put_geom(bq_buf *b, const bq_model *m, int i) {
    const bq_node *nd = &m->nodes[i];
    bq_buf_printf(b, "{\"name\": \"%s\", \"op\": \"%s\", \"in\": [", nd->name, bq_op_name(nd->kind));
    for (int k = 0, first = 1; k < 2; k++)
        if (nd->in[k] >= 0) {
            bq_buf_printf(b, "%s\"%s\"", first ? "" : ", ", m->nodes[nd->in[k]].name);
            first = 0;
        }
    bq_buf_printf(b, "], \"shape\": [%d, %d, %d]", nd->c, nd->h, nd->w);
    if (nd->kind == BQ_OP_CONV)
        bq_buf_printf(b, ", \"kernel\": [%d, %d], \"stride\": [%d, %d], \"pad\": [%d, %d, %d, %d], "
                      "\"groups\": %d", nd->kh, nd->kw, nd->stride_h, nd->stride_w, nd->pad_t,
                      nd->pad_l, nd->pad_b, nd->pad_r, nd->groups);
    if (nd->kind == BQ_OP_RELU6 || nd->kind == BQ_OP_CLAMP)
        bq_buf_printf(b, ", \"lo\": %g, \"hi\": %g", (double)nd->lo, (double)nd->hi);
    if (nd->kind == BQ_OP_CONV || nd->kind == BQ_OP_LINEAR)
        bq_buf_printf(b, ", \"cin\": %d, \"bias\": %s", m->nodes[nd->in[0]].c,
                      nd->p_bias >= 0 ? "true" : "false");
}

/* Node i of the quantized (BN-folded) model: its geometry, weight bits and quantizers. */
static void put_node(bq_buf *b, const bq_qmodel *q, int i) {
    put_geom(b, &q->model, i);
    int l = q->node_layer[i];
    if (l >= 0) {
        const bq_qlayer *L = &q->layers[l];
        bq_buf_printf(b, ", \"wbits\": %d, \"trained\": %s, \"aq_in\": ", L->wbits,
                      L->first ? "false" : "true");
        put_aq(b, q, L->aq_in);
    }
    int a = q->node_aq[i];
    bq_buf_printf(b, ", \"aq\": ");
    put_aq(b, q, a >= 0 && q->aq[a].node == i ? a : -1);
    bq_buf_printf(b, "}");
}

/* The whole float model (BN not folded) as trained and evaluated: the PyTorch side builds its
 * training and eval network from this. */
static void put_graph(bq_buf *b, const bq_model *m) {
    bq_buf_printf(b, ", \"input\": [%d, %d, %d], \"classes\": %d, \"graph\": [", m->in_c, m->in_h,
                  m->in_w, m->num_classes);
    for (int i = 0; i < m->n_nodes; i++) {
        bq_buf_printf(b, "%s\n      ", i ? "," : "");
        put_geom(b, m, i);
        bq_buf_printf(b, "}");
    }
    bq_buf_printf(b, "]");
}

static void put_unit(bq_buf *b, const bq_qmodel *q, const unit_t *u, int idx) {
    const bq_node *in = &q->model.nodes[u->in];
    bq_buf_printf(b, "{\"unit\": %d, \"name\": \"%s\", \"input\": {\"name\": \"%s\", \"shape\": "
                  "[%d, %d, %d], \"aq\": ", idx, u->name, in->name, in->c, in->h, in->w);
    put_aq(b, q, q->node_aq[u->in]);
    bq_buf_printf(b, "}, \"output\": \"%s\", \"nodes\": [", q->model.nodes[u->hi].name);
    for (int i = u->lo; i <= u->hi; i++) {
        bq_buf_printf(b, "%s\n      ", i > u->lo ? "," : "");
        put_node(b, q, i);
    }
    bq_buf_printf(b, "]");
}

/* ms per iteration of unit u in stage st: median over reps of bq_recon_bench_unit's mean of
 * iters timed iterations (0 when the unit learns nothing in that stage, e.g. stage B of the
 * classifier, whose output is RAW32). -1 with err on failure. */
static double unit_ms(bq_qmodel *q, int u, int st, int reps, int iters, double *mflop, char *err,
                      size_t errlen) {
    double t[31];
    for (int r = 0; r < reps; r++) {
        bq_recon_bench res;
        t[r] = bq_recon_bench_unit(q, u, RECON_BATCH, iters, st, &res, err, errlen);
        if (t[r] < 0) return -1;
        *mflop = res.flops / 1e6;
    }
    return bench_median(t, reps);
}

/* Synthetic normalised images (the same formula on the PyTorch side; no data set needed). */
static void fill_images(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = ((float)((i * 37) % 255) / 255.0f - 0.286f) / 0.353f;
}

/* FP training img/s of a clone of m: forward (BN batch statistics), softmax cross-entropy,
 * backward, SGD (momentum 0.9, nesterov, weight decay 5e-4: bq_train's defaults) at batch B, on
 * one synthetic batch reused (no augmentation). Median over reps of 3 steps each, after 2 warm-up
 * steps. -1 on OOM. */
static double train_img_s(const bq_model *src, int B, int reps) {
    bq_model m;
    if (bq_model_clone(&m, src)) return -1;
    bq_exec ex;
    if (bq_exec_init(&ex, &m, B, 1)) { bq_model_free(&m); return -1; }
    const int K = m.num_classes, out = bq_model_output(&m), in_sz = m.in_c * m.in_h * m.in_w;
    float *x = malloc(sizeof(float) * (size_t)B * in_sz), *probs = malloc(sizeof(float) * (size_t)B * K);
    int *y = malloc(sizeof(int) * (size_t)B);
    bq_param_entry *ent = malloc(sizeof(bq_param_entry) * (size_t)m.n_params);
    bq_optim opt;
    memset(&opt, 0, sizeof opt);
    int n_ent = 0;
    double rate = -1, t[31];
    char err[256];
    if (!x || !probs || !y || !ent) goto done;
    fill_images(x, (size_t)B * in_sz);
    for (int b = 0; b < B; b++) y[b] = (b * 7) % K;
    for (int i = 0; i < m.n_params; i++)
        if (!m.params[i].is_buffer)
            ent[n_ent++] = (bq_param_entry){m.arena + m.params[i].offset,
                                            ex.param_grad + m.params[i].offset, m.params[i].count,
                                            m.params[i].no_decay};
    bq_optim_config cfg = bq_optim_sgd_defaults();
    cfg.weight_decay = 5e-4f;
    cfg.nesterov = 1;
    if (bq_optim_init(&opt, &cfg, ent, n_ent, err, sizeof err)) goto done;
    for (int r = -1; r < reps; r++) {   /* r = -1: warm-up */
        double t0 = bq_now();
        for (int s = 0; s < (r < 0 ? 2 : 3); s++) {
            bq_exec_forward(&ex, &m, x, B, 1);
            bq_softmax_xent_forward(probs, ex.act[out], y, B, K);
            bq_exec_zero_grad(&ex, &m, 0, out, 1);
            bq_softmax_xent_backward(ex.grad[out], probs, y, B, K, 1.0f);
            bq_exec_backward_range(&ex, &m, 1, out, 1);
            bq_optim_step(&opt, 0.01f);
        }
        if (r >= 0) t[r] = (bq_now() - t0) / 3;
    }
    rate = B / bench_median(t, reps);
done:
    bq_optim_free(&opt);
    bq_exec_free(&ex);
    bq_model_free(&m);
    free(x); free(probs); free(y); free(ent);
    return rate;
}

/* Float eval img/s (what `brecq eval` runs: BN in eval mode) or, with in != NULL, the integer
 * reference's. EVAL_BATCHES synthetic batches of EVAL_BATCH per repeat, median of reps. */
static double eval_img_s(const bq_model *m, bq_intnet *in, int reps) {
    const int B = EVAL_BATCH, in_sz = m->in_c * m->in_h * m->in_w;
    bq_exec ex;
    if (!in && bq_exec_init(&ex, m, B, 0)) return -1;
    float *x = malloc(sizeof(float) * (size_t)B * in_sz);
    if (!x) { if (!in) bq_exec_free(&ex); return -1; }
    fill_images(x, (size_t)B * in_sz);
    double t[31];
    for (int r = -1; r < reps; r++) {   /* r = -1: warm-up */
        double t0 = bq_now();
        for (int k = 0; k < EVAL_BATCHES; k++) {
            if (in) bq_intnet_forward(in, x, B);
            else bq_exec_forward(&ex, m, x, B, 0);
        }
        if (r >= 0) t[r] = bq_now() - t0;
    }
    free(x);
    if (!in) bq_exec_free(&ex);
    return (double)B * EVAL_BATCHES / bench_median(t, reps);
}

/* Integer eval of one .bqq, both kernels: {"qmodel", "float_kernel_img_s", "int16_kernel_img_s"}. */
static int put_int_eval(bq_buf *b, const char *path, int reps, char *err, size_t errlen) {
    bq_qmodel q;
    bq_intnet in;
    if (bq_qmodel_load(&q, path, err, errlen)) return -1;
    if (bq_intnet_init(&in, &q, EVAL_BATCH, err, errlen)) { bq_qmodel_free(&q); return -1; }
    double r[2];
    for (int k = 0; k < 2; k++) {
        in.use_fp32 = k == 0;
        r[k] = eval_img_s(&q.model, &in, reps);
    }
    int wbits = 8, abits = 8;   /* the setting's name: the narrowest grids (first/last are 8-bit) */
    for (int l = 0; l < q.n_layers; l++) wbits = q.layers[l].wbits < wbits ? q.layers[l].wbits : wbits;
    for (int a = 0; a < q.n_aq; a++) abits = q.aq[a].bits > 0 && q.aq[a].bits < abits ? q.aq[a].bits : abits;
    printf("integer eval %-40s %8.0f img/s (float kernel on exact layers), %8.0f (int16 kernel)\n",
           path, r[0], r[1]);
    bq_buf_printf(b, "{\"qmodel\": \"%s\", \"wbits\": %d, \"abits\": %d, \"float_kernel_img_s\": %.1f, "
                  "\"int16_kernel_img_s\": %.1f}", path, wbits, abits, r[0], r[1]);
    bq_intnet_free(&in);
    bq_qmodel_free(&q);
    return 0;
}

/* units_only: describe, time nothing; unit_timing: time the units' iterations; whole: time
 * training and eval; only_arch/only_unit (--only ARCH:U): time that one unit and nothing else
 * (torch_side.py --interleave calls this right before timing the same unit in PyTorch). */
typedef struct { int reps, iters, unit_timing, whole, only_unit; char only_arch[16]; } opts_t;

/* One model: its units (and their engine timings), training and eval img/s, as one JSON object. */
static int bench_model(bq_buf *b, const char *arch, const opts_t *o, char *err, size_t errlen) {
    char path[128];
    snprintf(path, sizeof path, "configs/models/%s.bqm", arch);
    bq_model fp;
    int trained = access(path, R_OK) == 0 && bq_model_load(&fp, path, err, errlen) == 0;
    if (!trained && bq_arch_build(&fp, arch, 0)) { snprintf(err, errlen, "cannot build %s", arch); return -1; }
    bq_qmodel q;
    bq_qmodel_opts qo = {4, 4, 1};
    bq_recipe r;
    bq_recipe_default(&r);
    if (bq_qmodel_init(&q, &fp, &qo, err, errlen)) { bq_model_free(&fp); return -1; }
    bq_qmodel_init_weights(&q, r.p);
    /* stage B needs steps: uncalibrated quantizers get a grid that fits the [0, 1) random
     * caches of bq_recon_bench_unit (16 levels of 4 bits over [0, 0.75)) */
    for (int a = 0; a < q.n_aq; a++)
        if (q.aq[a].bits > 0 && !q.aq[a].initialized) { q.aq[a].scale = 0.05f; q.aq[a].zero = 0; }
    unit_t units[64];
    int nu = find_units(&q, units, 64), rc = -1;
    if (nu != bq_recon_num_units(&q, BQ_METHOD_BRECQ)) {
        snprintf(err, errlen, "%s: %d units found, reconstruct.c has %d", arch, nu,
                 bq_recon_num_units(&q, BQ_METHOD_BRECQ));
        goto out;
    }
    bq_buf_printf(b, "{\"model\": \"%s\", \"source\": \"%s\", \"units\": [", arch, trained ? path : "random init");
    for (int u = 0; u < nu; u++) {
        int in_node, out_node;
        /* one image's unit input and output */
        size_t in_sz = bq_node_size(&q.model.nodes[units[u].in]);
        float *io = calloc(in_sz + bq_node_size(&q.model.nodes[units[u].hi]), sizeof(float));
        int bad = !io || bq_recon_unit_forward(&q, u, 0, io, 1, io + in_sz, &in_node, &out_node, err, errlen) ||
                  in_node != units[u].in || out_node != units[u].hi;
        free(io);
        if (bad) { snprintf(err, errlen, "%s unit %d: does not match reconstruct.c's units", arch, u); goto out; }
        bq_buf_printf(b, "%s\n    ", u ? "," : "");
        put_unit(b, &q, &units[u], u);
        int timed = o->unit_timing &&
                    (!o->only_arch[0] || (!strcmp(o->only_arch, arch) && o->only_unit == u));
        for (int st = 0; st < 2 && timed; st++) {
            double mflop = 0, ms = unit_ms(&q, u, st, o->reps, o->iters, &mflop, err, errlen);
            if (ms < 0) goto out;
            bq_buf_printf(b, ", \"engine_%s_ms\": %.4f, \"%s_mflop\": %.2f", st ? "b" : "a", ms,
                          st ? "b" : "a", mflop);
            printf("%-6s unit %2d %-8s stage %s %8.3f ms/iter %8.1f MFLOP\n", arch, u, units[u].name,
                   st ? "B" : "A", ms, mflop);
        }
        bq_buf_printf(b, "}");
    }
    bq_buf_printf(b, "]");
    put_graph(b, &fp);
    if (o->whole) {
        double tr = strcmp(arch, "fres20") ? 0 : train_img_s(&fp, TRAIN_BATCH, o->reps);
        double ev = eval_img_s(&fp, NULL, o->reps);
        if (tr < 0 || ev < 0) { snprintf(err, errlen, "%s: out of memory", arch); goto out; }
        if (tr > 0) bq_buf_printf(b, ", \"engine_train_img_s\": %.1f", tr);
        bq_buf_printf(b, ", \"engine_eval_img_s\": %.1f", ev);
        printf("%-6s float eval %.0f img/s (batch %d)", arch, ev, EVAL_BATCH);
        if (tr > 0) printf(", FP training %.0f img/s (batch %d, SGD)", tr, TRAIN_BATCH);
        printf("\n");
    }
    bq_buf_printf(b, "}");
    rc = 0;
out:
    bq_qmodel_free(&q);
    bq_model_free(&fp);
    return rc;
}

int main(int argc, char **argv) {
    const char *json = NULL, *ints[8];
    int n_int = 0;
    opts_t o = {5, 10, 1, 1, -1, ""};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) o.iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--int") && i + 1 < argc && n_int < 8) ints[n_int++] = argv[++i];
        else if (!strcmp(argv[i], "--units-only")) o.unit_timing = o.whole = 0;
        else if (!strcmp(argv[i], "--no-unit-timing")) o.unit_timing = 0;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc &&
                 sscanf(argv[++i], "%15[^:]:%d", o.only_arch, &o.only_unit) == 2) o.whole = 0;
        else json = NULL, i = argc;
    }
    if (!json || o.reps < 1 || o.reps > 31 || o.iters < 1) {
        fprintf(stderr, "usage: bench_torch_side --json OUT.json [--units-only | --no-unit-timing | "
                        "--only ARCH:UNIT] [--reps R (1..31)] [--iters K] [--int Q.bqq ...]\n");
        return 2;
    }
    char err[512];
    bq_buf b = {0};
    double load0 = bench_load1();
    printf("bench_torch_side: %d threads, batch %d (reconstruction), median of %d x %d iterations; "
           "load average %.2f\n", bq_num_threads(), RECON_BATCH, o.reps, o.iters, load0);
    bq_buf_printf(&b, "{\"bench\": \"torch_side\", \"setting\": \"W4A4\", \"threads\": %d, "
                  "\"recon_batch\": %d, \"train_batch\": %d, \"eval_batch\": %d, \"eval_batches\": %d, "
                  "\"reps\": %d, \"iters\": %d, \"load_before\": %.2f, \"models\": [", bq_num_threads(),
                  RECON_BATCH, TRAIN_BATCH, EVAL_BATCH, EVAL_BATCHES, o.reps, o.iters, load0);
    static const char *const archs[] = {"fres20", "mbv2t"};
    for (int a = 0; a < 2; a++) {
        bq_buf_printf(&b, "%s\n  ", a ? "," : "");
        if (bench_model(&b, archs[a], &o, err, sizeof err)) { fprintf(stderr, "bench_torch_side: %s\n", err); return 1; }
    }
    bq_buf_printf(&b, "],\n \"int_eval\": [");
    for (int k = 0; k < n_int && o.whole; k++) {
        bq_buf_printf(&b, "%s", k ? ", " : "");
        if (put_int_eval(&b, ints[k], o.reps, err, sizeof err)) { fprintf(stderr, "bench_torch_side: %s\n", err); return 1; }
    }
    double load1 = bench_load1();
    bq_buf_printf(&b, "], \"load_after\": %.2f}\n", load1);
    printf("load average %.2f after\n", load1);
    if (b.oom || bq_mkdirs_parent(json) || bq_write_file_atomic(json, b.data, b.len, err, sizeof err)) {
        fprintf(stderr, "bench_torch_side: %s\n", b.oom ? "out of memory" : err);
        return 1;
    }
    bq_buf_free(&b);
    printf("wrote %s\n", json);
    return 0;
}
