/*
 * test_onnx.c — the ONNX importer: exported PyTorch models (forward pass against PyTorch's
 * logits, recovered blocks), crafted bad graphs built with the generated protobuf-c API (cycle,
 * dynamic spatial shape, unsupported op, missing initializer, newer opset), corrupt bytes, operator
 * folding (Clip -> ReLU6 / clamp, Gemm alpha/beta/transB, Add of a bias) and the preprocessing
 * YAML. Models come from tests/onnx/make_small.py (committed with their reference logits).
 */
#include "testutil.h"
#include "nn/exec.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "io/onnx_import.h"
#include "onnx/onnx.pb-c.h"

#include <string.h>
#include <unistd.h>

#define LOGIT_ATOL 1e-4   /* engine vs PyTorch logits (float32, different summation order) */
#define LOGIT_RTOL 1e-4
#define MODELS "tests/onnx/models/"

/* ------------------------------------------------------------------ helpers */

static float *read_floats(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 64, k = 0;
    float *v = malloc(sizeof(float) * cap);
    double x;
    while (fscanf(f, "%lf", &x) == 1) {
        if (k == cap) { cap *= 2; v = realloc(v, sizeof(float) * cap); }
        v[k++] = (float)x;
    }
    fclose(f);
    *n = k;
    return v;
}

static void assert_one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
}

/* Run m on the reference input of `base` and compare with PyTorch's logits. */
static void check_logits(const bq_model *m, const char *base) {
    char p[256];
    size_t nin, nout;
    snprintf(p, sizeof(p), MODELS "%s.input.txt", base);
    float *x = read_floats(p, &nin);
    snprintf(p, sizeof(p), MODELS "%s.logits.txt", base);
    float *y = read_floats(p, &nout);
    size_t per = (size_t)m->in_c * m->in_h * m->in_w;
    int n = (int)(nin / per);
    assert_int_equal((size_t)n * per, nin);
    assert_int_equal(nout, (size_t)n * m->num_classes);
    int has_pool = 0;
    for (int i = 0; i < m->n_nodes; i++) has_pool |= m->nodes[i].kind == BQ_OP_MAXPOOL;
    bq_exec ex;
    /* Engine workaround: bq_maxpool_forward writes argmax, which bq_exec allocates only in train
     * mode; BN still runs in eval mode (bn_train = 0). */
    assert_int_equal(bq_exec_init(&ex, m, n, has_pool), 0);
    bq_exec_forward(&ex, m, x, n, 0);
    const float *got = ex.act[bq_model_output(m)];
    for (size_t i = 0; i < nout; i++)
        assert_true(fabs(got[i] - y[i]) <= LOGIT_ATOL + LOGIT_RTOL * fabs(y[i]));
    bq_exec_free(&ex);
    free(x); free(y);
}

/* ------------------------------------------------------------------ exported models */

static void test_tiny_res(void **state) {
    (void)state;
    bq_model m;
    char err[512];
    bq_onnx_options opt = {.no_yaml = 1};
    assert_int_equal(bq_onnx_load(&m, MODELS "tiny_res.onnx", &opt, err, sizeof(err)), 0);
    assert_string_equal(m.arch, "onnx");
    assert_int_equal(m.in_c, 1); assert_int_equal(m.in_h, 8); assert_int_equal(m.num_classes, 10);
    /* two basic blocks, each: convs + BN + add + trailing relu, contiguous, fed by the previous
     * block's output (the same structure as fres20) */
    assert_int_equal(m.n_blocks, 2);
    for (int b = 0; b < 2; b++) {
        const bq_block *bl = &m.blocks[b];
        assert_true(bl->has_residual);
        assert_int_equal(m.nodes[bl->last].kind, BQ_OP_RELU);
        assert_int_equal(m.nodes[bl->last - 1].kind, BQ_OP_ADD);
        assert_true(bl->input < bl->first);
        for (int i = bl->first; i <= bl->last; i++) assert_int_equal(m.nodes[i].block, b);
    }
    assert_int_equal(m.blocks[1].input, m.blocks[0].last);
    int convs = 0;
    for (int i = m.blocks[1].first; i <= m.blocks[1].last; i++) convs += m.nodes[i].kind == BQ_OP_CONV;
    assert_int_equal(convs, 3);   /* b1, b2 and the 1x1 downsample */
    /* trainable parameters: convs 36+144+144+288+576+32, BN affine 2*(4+4+4+8+8+8), fc 80+10 */
    assert_int_equal(bq_model_num_params(&m), 1220 + 72 + 90);
    check_logits(&m, "tiny_res");
    /* the engine's BN folding works on the imported graph and keeps the blocks */
    bq_model f;
    assert_int_equal(bq_model_fold_bn(&f, &m, err, sizeof(err)), 0);
    assert_int_equal(f.n_blocks, 2);
    check_logits(&f, "tiny_res");
    bq_model_free(&f);
    bq_model_free(&m);
}

static void test_tiny_mb(void **state) {
    (void)state;
    bq_model m;
    char err[512];
    bq_onnx_options opt = {.no_yaml = 1};
    assert_int_equal(bq_onnx_load(&m, MODELS "tiny_mb.onnx", &opt, err, sizeof(err)), 0);
    int relu6 = 0, dw = 0, lin_bias = 0, pools = 0;
    for (int i = 0; i < m.n_nodes; i++) {
        const bq_node *n = &m.nodes[i];
        relu6 += n->kind == BQ_OP_RELU6;
        dw += n->kind == BQ_OP_CONV && n->groups == 8 && n->c == 8;
        lin_bias += n->kind == BQ_OP_LINEAR && n->p_bias >= 0;
        pools += n->kind == BQ_OP_MAXPOOL || n->kind == BQ_OP_AVGPOOL;
        assert_true(n->kind != BQ_OP_RELU);   /* torch's Relu -> Clip(0, 6) became one ReLU6 */
    }
    assert_int_equal(relu6, 3);
    assert_int_equal(dw, 1);
    assert_int_equal(lin_bias, 1);   /* MatMul + Add(constant) -> linear with bias */
    assert_int_equal(pools, 2);
    assert_int_equal(m.n_blocks, 1);   /* inverted residual; its Add has no activation */
    assert_int_equal(m.nodes[m.blocks[0].last].kind, BQ_OP_ADD);
    check_logits(&m, "tiny_mb");
    bq_model_free(&m);
}

/* ------------------------------------------------------------------ corrupt bytes */

static void test_corrupt_bytes(void **state) {
    (void)state;
    unsigned char *data;
    size_t len;
    char err[512];
    assert_int_equal(bq_read_file(MODELS "tiny_res.onnx", &data, &len, err, sizeof(err)), 0);
    bq_model m;
    /* empty, half, and every 61st prefix: either a clean one-line error or a valid model */
    assert_int_equal(bq_onnx_import(&m, data, 0, "t.onnx", NULL, err, sizeof(err)), -1);
    assert_one_line(err);
    assert_int_equal(bq_onnx_import(&m, data, len / 2, "t.onnx", NULL, err, sizeof(err)), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "t.onnx: "));
    for (size_t cut = 1; cut < len; cut += 61) {
        if (bq_onnx_import(&m, data, cut, "t.onnx", NULL, err, sizeof(err))) assert_one_line(err);
        else { assert_int_equal(bq_model_validate(&m, err, sizeof(err)), 0); bq_model_free(&m); }
    }
    /* random bytes */
    uint64_t s = 7;
    for (int r = 0; r < 50; r++) {
        for (size_t i = 0; i < 400; i++) data[i] = (unsigned char)(tu_randf(&s) * 127.0f + 128.0f);
        if (bq_onnx_import(&m, data, 400, "r.onnx", NULL, err, sizeof(err))) assert_one_line(err);
        else bq_model_free(&m);
    }
    free(data);
}

/* ------------------------------------------------------------------ crafted graphs */

#define GB_MAX 16
/* A tiny graph builder over the generated protobuf-c structs (all storage inside gb). */
typedef struct {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset, *opsetp[1];
    Onnx__NodeProto nodes[GB_MAX], *nodep[GB_MAX];
    Onnx__AttributeProto attrs[GB_MAX], *attrp[GB_MAX];
    int nattr;
    Onnx__TensorProto inits[GB_MAX], *initp[GB_MAX];
    int64_t init_dims[GB_MAX][4];
    Onnx__ValueInfoProto in, out, *inp[1], *outp[1];
    Onnx__TypeProto tin;
    Onnx__TypeProto__Tensor ttin;
    Onnx__TensorShapeProto shin;
    Onnx__TensorShapeProto__Dimension dims[4], *dimp[4];
} gb;

/* Model with input "X" of shape (N, 1, h, w), or (N, 1, h) when w == 0; a non-NULL hparam makes
 * H symbolic. */
static void gb_init(gb *g, int opset, int h, int w, const char *hparam) {
    memset(g, 0, sizeof(*g));
    onnx__model_proto__init(&g->model);
    onnx__graph_proto__init(&g->graph);
    onnx__operator_set_id_proto__init(&g->opset);
    g->opset.domain = (char *)"";
    g->opset.has_version = 1; g->opset.version = opset;
    g->opsetp[0] = &g->opset;
    g->model.has_ir_version = 1; g->model.ir_version = 8;
    g->model.n_opset_import = 1; g->model.opset_import = g->opsetp;
    g->model.graph = &g->graph;
    g->graph.node = g->nodep;
    g->graph.initializer = g->initp;
    onnx__value_info_proto__init(&g->in);
    onnx__type_proto__init(&g->tin);
    onnx__type_proto__tensor__init(&g->ttin);
    onnx__tensor_shape_proto__init(&g->shin);
    const int64_t d[4] = {0, 1, h, w};
    for (int k = 0; k < 4; k++) {
        onnx__tensor_shape_proto__dimension__init(&g->dims[k]);
        if (k == 0 || (k == 2 && hparam)) {
            g->dims[k].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            g->dims[k].dim_param = (char *)(k == 0 ? "N" : hparam);
        } else {
            g->dims[k].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            g->dims[k].dim_value = d[k];
        }
        g->dimp[k] = &g->dims[k];
    }
    g->shin.n_dim = w ? 4 : 3; g->shin.dim = g->dimp;
    g->ttin.has_elem_type = 1; g->ttin.elem_type = 1; g->ttin.shape = &g->shin;
    g->tin.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE; g->tin.tensor_type = &g->ttin;
    g->in.name = (char *)"X"; g->in.type = &g->tin;
    g->inp[0] = &g->in;
    g->graph.n_input = 1; g->graph.input = g->inp;
    onnx__value_info_proto__init(&g->out);
    g->outp[0] = &g->out;
    g->graph.n_output = 1; g->graph.output = g->outp;
}

static void gb_output(gb *g, const char *name) { g->out.name = (char *)name; }

/* Add a node; ins/outs are NULL-terminated arrays of string literals owned by the caller. */
static Onnx__NodeProto *gb_node(gb *g, const char *op, const char *name, const char **ins,
                                const char **outs) {
    Onnx__NodeProto *n = &g->nodes[g->graph.n_node];
    onnx__node_proto__init(n);
    n->op_type = (char *)op; n->name = (char *)name;
    n->input = (char **)ins; while (ins[n->n_input]) n->n_input++;
    n->output = (char **)outs; while (outs[n->n_output]) n->n_output++;
    n->attribute = &g->attrp[g->nattr];
    g->nodep[g->graph.n_node++] = n;
    return n;
}

/* Attributes go to the node added last. */
static Onnx__AttributeProto *gb_attr(gb *g, Onnx__NodeProto *n, const char *name) {
    Onnx__AttributeProto *a = &g->attrs[g->nattr];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    g->attrp[g->nattr++] = a;
    n->n_attribute++;
    return a;
}
static void gb_attr_int(gb *g, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = gb_attr(g, n, name);
    a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT; a->has_i = 1; a->i = v;
}
static void gb_attr_float(gb *g, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = gb_attr(g, n, name);
    a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT; a->has_f = 1; a->f = v;
}
static void gb_attr_ints(gb *g, Onnx__NodeProto *n, const char *name, int64_t *v, size_t k) {
    Onnx__AttributeProto *a = gb_attr(g, n, name);
    a->has_type = 1; a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS; a->n_ints = k; a->ints = v;
}

/* Float initializer; data must outlive the pack. */
static void gb_init_tensor(gb *g, const char *name, int ndim, const int64_t *dims, float *data) {
    int k = (int)g->graph.n_initializer;
    Onnx__TensorProto *t = &g->inits[k];
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1; t->data_type = 1;
    size_t count = 1;
    for (int i = 0; i < ndim; i++) { g->init_dims[k][i] = dims[i]; count *= (size_t)dims[i]; }
    t->n_dims = (size_t)ndim; t->dims = g->init_dims[k];
    t->n_float_data = count; t->float_data = data;
    g->initp[g->graph.n_initializer++] = t;
}

static uint8_t *gb_pack(gb *g, size_t *len) {
    *len = onnx__model_proto__get_packed_size(&g->model);
    uint8_t *buf = malloc(*len ? *len : 1);
    onnx__model_proto__pack(&g->model, buf);
    return buf;
}

static float W_CONV[2 * 9];
static const int64_t W_DIMS[4] = {2, 1, 3, 3};
static const char *IN_X_W[] = {"X", "W", NULL}, *OUT_C[] = {"c", NULL};

/* X -> Conv(W, pads 1) -> c ; then the caller adds more. */
static void gb_conv(gb *g, int with_init) {
    for (int i = 0; i < 18; i++) W_CONV[i] = 0.1f * (float)(i % 7) - 0.3f;
    Onnx__NodeProto *n = gb_node(g, "Conv", "conv0", IN_X_W, OUT_C);
    static int64_t pads[4] = {1, 1, 1, 1};
    gb_attr_ints(g, n, "pads", pads, 4);
    if (with_init) gb_init_tensor(g, "W", 4, W_DIMS, W_CONV);
}

/* Import the packed graph; returns rc and leaves the message in err. */
static int gb_import(gb *g, bq_model *m, char *err, size_t errlen) {
    size_t len;
    uint8_t *buf = gb_pack(g, &len);
    int rc = bq_onnx_import(m, buf, len, "g.onnx", NULL, err, errlen);
    free(buf);
    if (rc) assert_one_line(err);
    return rc;
}

static void test_graph_ok_and_clip(void **state) {
    (void)state;
    gb g;
    bq_model m;
    char err[512];
    static const char *r_in[] = {"c", NULL}, *r_out[] = {"r", NULL};
    static const char *k_lo[] = {"lo", NULL}, *k_hi[] = {"hi", NULL};
    static const char *cl_in[] = {"r", "lo", "hi", NULL}, *cl_out[] = {"y", NULL};
    /* Clip(0, 6) with bounds from Constant nodes -> ReLU6 */
    gb_init(&g, 13, 4, 4, NULL);
    gb_conv(&g, 1);
    gb_node(&g, "Relu", "relu0", r_in, r_out);
    static Onnx__TensorProto tlo, thi;
    static float vlo = 0.0f, vhi = 6.0f;
    onnx__tensor_proto__init(&tlo); onnx__tensor_proto__init(&thi);
    tlo.has_data_type = thi.has_data_type = 1; tlo.data_type = thi.data_type = 1;
    tlo.n_float_data = thi.n_float_data = 1; tlo.float_data = &vlo; thi.float_data = &vhi;
    Onnx__NodeProto *kn = gb_node(&g, "Constant", "k_lo", (const char *[]){NULL}, k_lo);
    gb_attr(&g, kn, "value")->t = &tlo;
    kn = gb_node(&g, "Constant", "k_hi", (const char *[]){NULL}, k_hi);
    gb_attr(&g, kn, "value")->t = &thi;
    /* the Relu is read by the Clip only: Relu + Clip(0, 6) merge into one ReLU6 */
    gb_node(&g, "Clip", "clip0", cl_in, cl_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), 0);
    assert_int_equal(m.n_nodes, 3);
    assert_int_equal(m.nodes[1].kind, BQ_OP_CONV);
    assert_int_equal(m.nodes[1].pad_t, 1);
    assert_int_equal(m.nodes[1].h, 4);
    assert_int_equal(m.nodes[2].kind, BQ_OP_RELU6);
    assert_true(W_CONV[5] == bq_param_data(&m, m.nodes[1].p_weight)[5]);
    bq_model_free(&m);
    /* Clip(-1, 1) directly on the conv -> clamp */
    vlo = -1.0f; vhi = 1.0f;
    cl_in[0] = "c";
    gb_init(&g, 13, 4, 4, NULL);
    gb_conv(&g, 1);
    kn = gb_node(&g, "Constant", "k_lo", (const char *[]){NULL}, k_lo);
    gb_attr(&g, kn, "value")->t = &tlo;
    kn = gb_node(&g, "Constant", "k_hi", (const char *[]){NULL}, k_hi);
    gb_attr(&g, kn, "value")->t = &thi;
    gb_node(&g, "Clip", "clip0", cl_in, cl_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nodes[2].kind, BQ_OP_CLAMP);
    assert_true(m.nodes[2].lo == -1.0f && m.nodes[2].hi == 1.0f);
    bq_model_free(&m);
    cl_in[0] = "r";
    /* opset 10: bounds are attributes */
    static const char *c_in[] = {"c", NULL};
    gb_init(&g, 10, 4, 4, NULL);
    gb_conv(&g, 1);
    Onnx__NodeProto *cn = gb_node(&g, "Clip", "clip_attr", c_in, cl_out);
    gb_attr_float(&g, cn, "min", 0.0f);
    gb_attr_float(&g, cn, "max", 6.0f);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), 0);
    assert_int_equal(m.nodes[2].kind, BQ_OP_RELU6);
    bq_model_free(&m);
}

static void test_gemm_folding(void **state) {
    (void)state;
    /* X (N,1,2,2) -> Flatten -> Gemm(B (3,4) transB, C (3), alpha 2, beta 0.5) */
    gb g;
    bq_model m;
    char err[512];
    static const char *f_in[] = {"X", NULL}, *f_out[] = {"f", NULL};
    static const char *g_in[] = {"f", "B", "C", NULL}, *g_out[] = {"y", NULL};
    static float B[12], C[3];
    for (int i = 0; i < 12; i++) B[i] = 0.25f * (float)i - 1.0f;
    for (int i = 0; i < 3; i++) C[i] = (float)i + 1.0f;
    gb_init(&g, 13, 2, 2, NULL);
    gb_node(&g, "Flatten", "flat", f_in, f_out);
    Onnx__NodeProto *n = gb_node(&g, "Gemm", "fc", g_in, g_out);
    gb_attr_int(&g, n, "transB", 1);
    gb_attr_float(&g, n, "alpha", 2.0f);
    gb_attr_float(&g, n, "beta", 0.5f);
    gb_init_tensor(&g, "B", 2, (const int64_t[]){3, 4}, B);
    gb_init_tensor(&g, "C", 1, (const int64_t[]){3}, C);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), 0);
    bq_exec ex;
    assert_int_equal(bq_exec_init(&ex, &m, 1, 0), 0);
    const float x[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    bq_exec_forward(&ex, &m, x, 1, 0);
    const float *y = ex.act[bq_model_output(&m)];
    for (int o = 0; o < 3; o++) {
        float want = 0.5f * C[o];
        for (int k = 0; k < 4; k++) want += 2.0f * x[k] * B[o * 4 + k];
        assert_true(fabsf(y[o] - want) < 1e-5f);
    }
    bq_exec_free(&ex);
    bq_model_free(&m);
}

static void test_conv1d(void **state) {
    (void)state;
    /* X (N, 1, 6) -> Conv(W (2, 1, 3), pads [1, 2], stride 2) runs as a (3, 1) kernel on 6x1 */
    gb g;
    bq_model m;
    char err[512];
    static float W[6] = {0.5f, -1.0f, 0.25f, 1.0f, 2.0f, -0.5f};
    static int64_t pads[2] = {1, 2}, strides[1] = {2};
    gb_init(&g, 13, 6, 0, NULL);
    Onnx__NodeProto *n = gb_node(&g, "Conv", "conv1d", IN_X_W, OUT_C);
    gb_attr_ints(&g, n, "pads", pads, 2);
    gb_attr_ints(&g, n, "strides", strides, 1);
    gb_init_tensor(&g, "W", 3, (const int64_t[]){2, 1, 3}, W);
    gb_output(&g, "c");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), 0);
    const bq_node *c = &m.nodes[1];
    assert_int_equal(c->kh, 3); assert_int_equal(c->kw, 1);
    assert_int_equal(c->h, 4);  /* (6 + 1 + 2 - 3) / 2 + 1 */
    assert_int_equal(c->w, 1);
    bq_exec ex;
    assert_int_equal(bq_exec_init(&ex, &m, 1, 0), 0);
    const float x[6] = {1, 2, 3, 4, 5, 6};
    bq_exec_forward(&ex, &m, x, 1, 0);
    const float *y = ex.act[1];
    for (int o = 0; o < 2; o++)
        for (int t = 0; t < 4; t++) {
            float want = 0.0f;
            for (int k = 0; k < 3; k++) {
                int i = 2 * t - 1 + k;
                if (i >= 0 && i < 6) want += W[o * 3 + k] * x[i];
            }
            assert_true(fabsf(y[o * 4 + t] - want) < 1e-5f);
        }
    bq_exec_free(&ex);
    bq_model_free(&m);
}

static void test_graph_errors(void **state) {
    (void)state;
    gb g;
    bq_model m;
    char err[512];
    static const char *r_in[] = {"c", NULL}, *r_out[] = {"y", NULL};
    /* missing initializer */
    gb_init(&g, 13, 4, 4, NULL);
    gb_conv(&g, 0);
    gb_node(&g, "Relu", "relu0", r_in, r_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "missing initializer"));
    assert_non_null(strstr(err, "'W'"));
    /* unsupported operator: names the op type, the node and the opset */
    gb_init(&g, 13, 4, 4, NULL);
    gb_conv(&g, 1);
    gb_node(&g, "Sigmoid", "sig0", r_in, r_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Sigmoid"));
    assert_non_null(strstr(err, "'sig0'"));
    assert_non_null(strstr(err, "opset 13"));
    /* dynamic spatial shape */
    gb_init(&g, 13, 4, 4, "H");
    gb_conv(&g, 1);
    gb_node(&g, "Relu", "relu0", r_in, r_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "dynamic"));
    assert_non_null(strstr(err, "'H'"));
    /* opset newer than supported */
    gb_init(&g, 18, 4, 4, NULL);
    gb_conv(&g, 1);
    gb_node(&g, "Relu", "relu0", r_in, r_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "opset 18"));
    /* a cycle: c + r2 -> a -> Relu -> r1 -> Relu -> r2 */
    static const char *a_in[] = {"c", "r2", NULL}, *a_out[] = {"a", NULL};
    static const char *r1_in[] = {"a", NULL}, *r1_out[] = {"r1", NULL};
    static const char *r2_in[] = {"r1", NULL}, *r2_out[] = {"r2", NULL};
    gb_init(&g, 13, 4, 4, NULL);
    gb_conv(&g, 1);
    gb_node(&g, "Add", "add0", a_in, a_out);
    gb_node(&g, "Relu", "relu1", r1_in, r1_out);
    gb_node(&g, "Relu", "relu2", r2_in, r2_out);
    gb_output(&g, "r1");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cycle"));
    /* a value produced twice */
    gb_init(&g, 13, 4, 4, NULL);
    gb_conv(&g, 1);
    gb_node(&g, "Relu", "relu0", r_in, OUT_C);
    gb_output(&g, "c");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "defined twice"));
    /* dilated conv: refused, not silently mis-run */
    gb_init(&g, 13, 6, 6, NULL);
    gb_conv(&g, 1);
    static int64_t dil[2] = {2, 2};
    gb_attr_ints(&g, g.nodep[0], "dilations", dil, 2);
    gb_node(&g, "Relu", "relu0", r_in, r_out);
    gb_output(&g, "y");
    assert_int_equal(gb_import(&g, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "dilations"));
}

/* ------------------------------------------------------------------ preprocessing YAML */

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void test_yaml(void **state) {
    (void)state;
    char dir[] = "/tmp/bq_onnx_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char y[256], onnx[256], err[512];
    snprintf(y, sizeof(y), "%s/p.yaml", dir);
    float mean = 0.0f, std = 1.0f;
    write_text(y, "# preprocessing\nmean: 0.5\nstd: 0.25\nlayout: NCHW\n");
    assert_int_equal(bq_onnx_read_yaml(y, &mean, &std, err, sizeof(err)), 0);
    assert_true(mean == 0.5f && std == 0.25f);
    write_text(y, "mean: 0.5\nmeen: 1\n");
    assert_int_equal(bq_onnx_read_yaml(y, &mean, &std, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "p.yaml:2:1: unknown key 'meen'"));
    write_text(y, "std: -1\n");
    assert_int_equal(bq_onnx_read_yaml(y, &mean, &std, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "p.yaml:1:6:"));
    write_text(y, "layout: NHWC\n");
    assert_int_equal(bq_onnx_read_yaml(y, &mean, &std, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NHWC"));
    write_text(y, "mean: [1\n");
    assert_int_equal(bq_onnx_read_yaml(y, &mean, &std, err, sizeof(err)), -1);
    assert_one_line(err);
    /* next to the model: <model>.onnx.yaml; options win over it */
    unsigned char *data;
    size_t len;
    assert_int_equal(bq_read_file(MODELS "tiny_res.onnx", &data, &len, err, sizeof(err)), 0);
    snprintf(onnx, sizeof(onnx), "%s/m.onnx", dir);
    assert_int_equal(bq_write_file_atomic(onnx, data, len, err, sizeof(err)), 0);
    free(data);
    bq_model m;
    assert_int_equal(bq_onnx_load(&m, onnx, NULL, err, sizeof(err)), 0);
    assert_true(fabsf(m.in_mean - 0.2860f) < 1e-6f && fabsf(m.in_std - 0.3530f) < 1e-6f);
    bq_model_free(&m);
    snprintf(y, sizeof(y), "%s/m.onnx.yaml", dir);
    write_text(y, "mean: 0.1307\nstd: 0.3081\n");
    assert_int_equal(bq_onnx_load(&m, onnx, NULL, err, sizeof(err)), 0);
    assert_true(fabsf(m.in_mean - 0.1307f) < 1e-6f && fabsf(m.in_std - 0.3081f) < 1e-6f);
    bq_model_free(&m);
    bq_onnx_options opt = {.has_std = 1, .std = 2.0f};
    assert_int_equal(bq_onnx_load(&m, onnx, &opt, err, sizeof(err)), 0);
    assert_true(fabsf(m.in_mean - 0.1307f) < 1e-6f && m.in_std == 2.0f);
    bq_model_free(&m);
    write_text(y, "std: 0\n");
    assert_int_equal(bq_onnx_load(&m, onnx, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "m.onnx.yaml:1:6:"));
    unlink(y);
    unlink(onnx);
    snprintf(y, sizeof(y), "%s/p.yaml", dir);
    unlink(y);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_res),
        cmocka_unit_test(test_tiny_mb),
        cmocka_unit_test(test_corrupt_bytes),
        cmocka_unit_test(test_graph_ok_and_clip),
        cmocka_unit_test(test_gemm_folding),
        cmocka_unit_test(test_conv1d),
        cmocka_unit_test(test_graph_errors),
        cmocka_unit_test(test_yaml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
