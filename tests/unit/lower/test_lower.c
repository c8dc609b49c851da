/* test_lower — the one lowering (sw/lower/lower.h):
 *   - fres20 and mbv2t: the layer list is the one the integer reference runs (geometry computed
 *     here independently from the graph), every program is the scheduler's own emission at the
 *     lowering's addresses, the latency counters are the model's, the memory map is aligned and
 *     disjoint, the pack sizes equal the scheduler's, and the execution order puts producers
 *     before consumers (fres20: s2b1_down before s2b1_conv2);
 *   - a hand-made tiny model (residual, depthwise, GAP, classifier) checked field by field. */
#include "testutil.h"

#include <string.h>

#include "isa.h"
#include "lower/lower.h"
#include "nn/exec.h"
#include "nn/graph.h"
#include "quant/fakequant.h"
#include "quant/intref.h"
#include "../../fuzz/tiny_model.h"

typedef struct {
    bq_model fp;
    bq_qmodel q;
    bq_intnet net;
    bq_hwcfg cfg;
    bq_lowered lw;
} fixture;

/* Weights RTN, activations calibrated on random inputs, net and lowering on `hw`. */
static void quantize(fixture *f, const char *hw) {
    char err[512] = "";
    bq_qmodel_init_weights(&f->q, 2.4f);
    const bq_node *in = &f->q.model.nodes[0];
    size_t sz = bq_node_size(in);
    float *x = malloc(sizeof(float) * sz * 2);
    tu_fill(x, sz * 2, 7, 1.5f);
    bq_fq fq;
    bq_exec ex;
    assert_int_equal(bq_fq_init(&fq, &f->q, 2, 0), 0);
    assert_int_equal(bq_exec_init(&ex, &fq.net, 2, 0), 0);
    bq_fq_bind(&fq, &ex);
    assert_int_equal(bq_fq_calibrate(&fq, &ex, x, 2), 0);
    bq_exec_free(&ex);
    bq_fq_free(&fq);
    free(x);
    int rc = bq_intnet_init(&f->net, &f->q, 1, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    rc = bq_hwcfg_load(&f->cfg, hw, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
    rc = bq_lower_net(&f->lw, &f->net, &f->cfg, err, sizeof err);
    if (rc) print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

static void destroy(fixture *f) {
    bq_lowered_free(&f->lw);
    bq_intnet_free(&f->net);
    bq_qmodel_free(&f->q);
    bq_model_free(&f->fp);
}

/* Geometry of layer l straight from the graph: M, K, N, groups. */
static void expect_geometry(const bq_qmodel *q, int l, const bq_ilayer *L) {
    const bq_model *m = &q->model;
    const bq_node *nd = &m->nodes[q->layers[l].node];
    const bq_node *in = &m->nodes[nd->in[0]];
    int g = nd->kind == BQ_OP_CONV ? nd->groups : 1;
    int k = nd->kind == BQ_OP_CONV ? in->c / g * nd->kh * nd->kw : (int)bq_node_size(in);
    int n = nd->kind == BQ_OP_CONV ? nd->h * nd->w : 1;
    assert_int_equal(L->groups, g);
    assert_int_equal(L->M, nd->c / g);
    assert_int_equal(L->K, k);
    assert_int_equal(L->N, n);
    assert_int_equal(L->in_node, nd->in[0]);
}

/* The lowering's programs are the scheduler's, encoded; the counters the latency model's. */
static void expect_programs(const fixture *f, int l) {
    const bq_lower_acc *A = &f->lw.acc[l];
    char err[256];
    bq_sched_plan p;
    assert_int_equal(bq_sched_plan_layer(&p, &f->cfg, &A->hl, err, sizeof err), 0);
    assert_int_equal(p.order, A->plan.order);
    bq_program prog;
    bq_program_init(&prog);
    assert_int_equal(bq_sched_build(&prog, &p, &f->cfg, &A->ad, err, sizeof err), 0);
    for (int s = 0; s < BQ_NSTAGES; s++) {
        assert_int_equal(prog.len[s], A->len[s]);
        for (int i = 0; i < prog.len[s]; i++) {
            uint32_t w[4];
            assert_int_equal(bq_isa_encode(&prog.ins[s][i], w), 0);
            assert_memory_equal(w, A->words[s] + 4 * (size_t)i, sizeof w);
        }
    }
    bq_program_free(&prog);
    bq_latency lat;
    bq_program scratch;
    bq_program_init(&scratch);
    assert_int_equal(bq_latency_layer(&lat, &f->cfg, &A->hl, &scratch, err, sizeof err), 0);
    bq_program_free(&scratch);
    assert_int_equal(lat.cycles, A->lat.cycles);
}

/* Pack sizes (sw/io/pack.h) equal the scheduler's; regions aligned, in order, disjoint. */
static void expect_memory_map(const fixture *f, int l, uint64_t *end) {
    const bq_lower_acc *A = &f->lw.acc[l];
    const bq_ilayer *L = &f->net.L[l];
    uint64_t G = (uint64_t)L->groups;
    assert_int_equal(bq_pack_weights_size(&A->geom, L->wbits) * G, A->w_bytes);
    assert_int_equal(bq_pack_acts_size(&A->geom, L->abits) * G, A->a_bytes);
    assert_int_equal(bq_pack_tiles_size(&A->geom, L->raw32 ? 32 : L->obits) * G, A->o_bytes);
    if (L->res_node >= 0) assert_int_equal(bq_pack_tiles_size(&A->geom, L->rbits) * G, A->r_bytes);
    uint64_t addr[5] = {A->ad.w, A->ad.a, A->ad.rq, A->ad.res, A->ad.out};
    uint64_t size[5] = {A->w_bytes, A->a_bytes, A->rq_bytes, A->r_bytes, A->o_bytes};
    for (int r = 0; r < 5; r++) {
        assert_int_equal(addr[r] % BQ_LOWER_ALIGN, 0);
        assert_true(addr[r] >= *end);
        *end = addr[r] + size[r];
    }
    assert_true(*end <= f->lw.mem_bytes);
}

/* Every layer runs once, after the producers of its input and shortcut. */
static void expect_order(const fixture *f) {
    const bq_model *m = &f->q.model;
    int *done = calloc((size_t)m->n_nodes, sizeof(int));
    int *ran = calloc((size_t)f->net.n_layers, sizeof(int));
    done[0] = 1;
    for (int s = 0; s < f->lw.n_steps; s++) {
        const bq_lower_step *S = &f->lw.steps[s];
        assert_true(done[S->in_node]);
        if (S->kind == BQ_STEP_LAYER) {
            const bq_ilayer *L = &f->net.L[S->layer];
            if (L->res_node >= 0) assert_true(done[L->res_node]);
            ran[S->layer]++;
            done[L->out_node] = 1;
        }
        done[S->node] = 1;
    }
    for (int l = 0; l < f->net.n_layers; l++) assert_int_equal(ran[l], 1);
    free(done);
    free(ran);
}

static int step_of(const fixture *f, const char *name) {
    for (int s = 0; s < f->lw.n_steps; s++) {
        const bq_lower_step *S = &f->lw.steps[s];
        int node = S->kind == BQ_STEP_LAYER ? f->net.L[S->layer].node : S->node;
        if (!strcmp(f->q.model.nodes[node].name, name)) return s;
    }
    return -1;
}

static void check_arch(const char *arch, const char *hw) {
    fixture *f = calloc(1, sizeof *f);
    char err[512] = "";
    assert_int_equal(bq_arch_build(&f->fp, arch, 1), 0);
    bq_qmodel_opts o = {.wbits = 4, .abits = 4, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&f->q, &f->fp, &o, err, sizeof err), 0);
    quantize(f, hw);
    assert_int_equal(f->lw.n_layers, f->q.n_layers);
    bq_hw_net hn;
    assert_int_equal(bq_lower_hw_net(&hn, &f->q, err, sizeof err), 0);
    uint64_t end = 0;
    for (int l = 0; l < f->q.n_layers; l++) {
        const bq_ilayer *L = &f->net.L[l];
        expect_geometry(&f->q, l, L);
        /* the search's / latency's view is the same layer */
        assert_int_equal(hn.layers[l].m, L->M);
        assert_int_equal(hn.layers[l].k, L->K);
        assert_int_equal(hn.layers[l].n, L->N);
        assert_int_equal(hn.layers[l].groups, L->groups);
        assert_int_equal(hn.layers[l].wbits, L->wbits);
        assert_int_equal(hn.layers[l].abits, L->abits);
        assert_int_equal(hn.layers[l].has_residual, L->res_node >= 0);
        expect_programs(f, l);
        expect_memory_map(f, l, &end);
    }
    bq_hw_net_free(&hn);
    expect_order(f);
    destroy(f);
    free(f);
}

static void test_fres20(void **state) {
    (void)state;
    check_arch("fres20", "configs/hw/tiny.yaml");
}

static void test_mbv2t(void **state) {
    (void)state;
    check_arch("mbv2t", "configs/hw/edge.yaml");
}

/* fres20: the list order puts s2b1_conv2 before s2b1_down; execution runs the shortcut first. */
static void test_fres20_order(void **state) {
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    char err[512] = "";
    assert_int_equal(bq_arch_build(&f->fp, "fres20", 1), 0);
    bq_qmodel_opts o = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&f->q, &f->fp, &o, err, sizeof err), 0);
    quantize(f, "configs/hw/tiny.yaml");
    int down = step_of(f, "s2b1_down"), conv2 = step_of(f, "s2b1_conv2"), gap = step_of(f, "gap");
    assert_true(down >= 0 && conv2 >= 0);
    assert_true(down < conv2);
    assert_true(gap >= 0 && f->lw.steps[gap].kind == BQ_STEP_GAP);
    assert_int_equal(f->lw.steps[f->lw.n_steps - 1].kind, BQ_STEP_LAYER);
    destroy(f);
    free(f);
}

/* input 1x9x9 -> stem conv3x3(5)+relu -> block a (conv s2, conv, 1x1 s2 down, add, relu) ->
 * depthwise 3x3 + relu6 -> gap -> linear(3). */
static int node_of(const bq_model *m, const char *name) {
    for (int i = 0; i < m->n_nodes; i++)
        if (!strcmp(m->nodes[i].name, name)) return i;
    return -1;
}

static void build_tiny(bq_model *m) { assert_int_equal(tiny_model_build(m), 0); }

typedef struct {
    const char *name, *in, *out, *res;
    int groups, M, K, N, wbits, abits, obits, rbits, raw32;
} want_layer;

static void test_tiny_fields(void **state) {
    (void)state;
    fixture *f = calloc(1, sizeof *f);
    char err[512] = "";
    build_tiny(&f->fp);
    bq_qmodel_opts o = {.wbits = 3, .abits = 4, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&f->q, &f->fp, &o, err, sizeof err), 0);
    quantize(f, "configs/hw/tiny.yaml");
    const bq_model *m = &f->q.model;
    /* first/last layers 8 bits; the stem's output and the classifier's input 8-bit activations */
    static const want_layer want[] = {
        {"stem", "input", "stem_relu", NULL, 1, 5, 9, 81, 8, 8, 8, 0, 0},
        {"a_conv1", "stem_relu", "a_conv1_relu", NULL, 1, 6, 45, 25, 3, 8, 4, 0, 0},
        {"a_conv2", "a_conv1_relu", "a_relu", "a_down", 1, 6, 54, 25, 3, 4, 4, 8, 0},
        {"a_down", "stem_relu", "a_down", NULL, 1, 6, 5, 25, 3, 8, 8, 0, 0},
        {"dw", "a_relu", "dw_relu6", NULL, 6, 1, 9, 25, 3, 4, 8, 0, 0},   /* feeds the classifier */
        {"fc", "gap", "fc", NULL, 1, 3, 6, 1, 8, 8, 0, 0, 1},
    };
    assert_int_equal(f->net.n_layers, 6);
    for (int l = 0; l < 6; l++) {
        const bq_ilayer *L = &f->net.L[l];
        const want_layer *w = &want[l];
        assert_string_equal(m->nodes[L->node].name, w->name);
        assert_int_equal(L->in_node, node_of(m, w->in));
        assert_int_equal(L->out_node, node_of(m, w->out));
        assert_int_equal(L->res_node, w->res ? node_of(m, w->res) : -1);
        assert_int_equal(L->groups, w->groups);
        assert_int_equal(L->M, w->M);
        assert_int_equal(L->K, w->K);
        assert_int_equal(L->N, w->N);
        assert_int_equal(L->wbits, w->wbits);
        assert_int_equal(L->abits, w->abits);
        assert_int_equal(L->raw32, w->raw32);
        if (!w->raw32) assert_int_equal(L->obits, w->obits);
        assert_int_equal(L->rbits, w->rbits);
        /* zero points and clamp from the quantizers */
        const bq_qlayer *Q = &f->q.layers[l];
        assert_int_equal(L->z_a, f->q.aq[Q->aq_in].zero);
        if (!w->raw32) {
            assert_int_equal(L->z_o, f->q.aq[Q->aq_out].zero);
            assert_true(L->lo >= 0 && L->lo <= L->hi && L->hi <= (1 << L->obits) - 1);
        }
        /* the hw layer carries the output stage's scalars */
        const bq_hw_layer *hl = &f->lw.acc[l].hl;
        assert_int_equal(hl->z_o, w->raw32 ? 0 : L->z_o);
        assert_int_equal(hl->z_r, w->res ? L->z_r : 0);
        assert_int_equal(hl->lo, w->raw32 ? 0 : L->lo);
        assert_int_equal(hl->hi, w->raw32 ? -1 : L->hi);
        assert_int_equal(hl->has_residual, w->res != NULL);
        /* requant records: bias_eff, m_acc, m_res, z_w, sh of channel 0 of group 0 */
        uint8_t rec[16 * 64];
        int m_pad = f->lw.acc[l].plan.m_pad;
        assert_true(m_pad <= 64);
        bq_lower_pack_requant(rec, L, 0, m_pad);
        uint32_t be = (uint32_t)rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 | (uint32_t)rec[3] << 24;
        uint32_t ma = (uint32_t)rec[4] | (uint32_t)rec[5] << 8 | (uint32_t)rec[6] << 16 | (uint32_t)rec[7] << 24;
        assert_int_equal((int32_t)be, L->bias_eff[0]);
        assert_int_equal(ma, w->raw32 ? 0u : L->rq[0].m_acc);
        assert_int_equal(rec[12], L->z_w[0]);
        assert_int_equal(rec[13], w->raw32 ? 1 : L->rq[0].sh);
        for (int i = 16 * L->M; i < 16 * m_pad; i++) assert_int_equal(rec[i], 0);
    }
    /* execution order: stem, a_conv1, a_down, a_conv2, dw, gap, fc */
    static const char *order[] = {"stem", "a_conv1", "a_down", "a_conv2", "dw", "gap", "fc"};
    assert_int_equal(f->lw.n_steps, 7);
    for (int s = 0; s < 7; s++) assert_int_equal(step_of(f, order[s]), s);
    assert_int_equal(f->lw.steps[5].kind, BQ_STEP_GAP);
    destroy(f);
    free(f);
}

/* An activation quantizer that is off: geometry lowering refuses it, naming the layer and the
 * quantizer. */
static void test_off_quantizer(void **state) {
    (void)state;
    bq_model fp;
    bq_qmodel q;
    char err[512] = "";
    build_tiny(&fp);
    bq_qmodel_opts o = {.wbits = 4, .abits = 4, .first_last_8bit = 1};
    assert_int_equal(bq_qmodel_init(&q, &fp, &o, err, sizeof err), 0);
    q.aq[q.layers[1].aq_in].bits = 0;
    bq_hw_net hn;
    assert_int_equal(bq_lower_hw_net(&hn, &q, err, sizeof err), -1);
    /* the first layer touching it: the stem writes it */
    if (!strstr(err, "layer 'stem': its output quantizer at 'stem_relu' is off")) fprintf(stderr, "%s\n", err);
    assert_non_null(strstr(err, "layer 'stem': its output quantizer at 'stem_relu' is off"));
    bq_qmodel_free(&q);
    bq_model_free(&fp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_fields),
        cmocka_unit_test(test_off_quantizer),
        cmocka_unit_test(test_fres20_order),
        cmocka_unit_test(test_fres20),
        cmocka_unit_test(test_mbv2t),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
