/*
 * node_runner.c — runs the ONNX backend node tests (Debian's libonnx-testdata) through the
 * importer and the engine, and compares the outputs.
 *
 *   onnx_node_runner --dir /usr/share/libonnx-testdata/data/node \
 *       --expect tests/onnx/node_expected.txt --report build/onnx/node_report.txt [--only NAME]
 *
 * A test directory is a *candidate* when every node of its model.onnx is one of the operators
 * the importer supports. For a candidate, input_0.pb of each test_data_set_* is the image batch
 * (first graph input; its dim 0 is the batch) and input_k.pb (k >= 1) are given to the importer
 * as constants named after graph input k (node tests feed weights as inputs). The model is
 * imported, run forward with bq_exec on the whole batch, and output_0.pb is compared
 * elementwise with |got - want| <= ATOL + RTOL * |want|.
 *
 * Outcome per candidate: PASS, FAIL (numbers differ, or the engine output has the wrong size),
 * SKIP (the importer refused the model or its data: the reason is the importer's one-line
 * message, e.g. a 3-D Conv, broadcasting Add, non-float32 data). The expected outcome of every
 * candidate is committed in --expect ("name PASS|SKIP"); any FAIL, any outcome different from
 * the expected one, or an expected test that is missing makes the run fail, so a regression or
 * a silently growing skip list cannot pass. Exit status 0 on success, 1 otherwise.
 */
#include "nn/exec.h"
#include "core/fileio.h"
#include "nn/graph.h"
#include "io/onnx_import.h"
#include "onnx/onnx.pb-c.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RTOL 1e-3   /* the ONNX backend tests' default relative tolerance */
#define ATOL 1e-5   /* absolute floor for values near zero (sgemm summation order) */
#define MAX_INPUTS 8

static const char *const SUPPORTED[] = {
    "Conv", "BatchNormalization", "Relu", "Clip", "Add", "GlobalAveragePool", "AveragePool",
    "MaxPool", "Flatten", "Reshape", "Gemm", "MatMul", "Identity", "Constant",
};

typedef struct { char name[128]; char status[8]; char reason[640]; } result;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* 1 when every node uses a supported default-domain operator; else 0 and the first other op. */
static int all_supported(const Onnx__ModelProto *mp, char *other, size_t cap) {
    const Onnx__GraphProto *g = mp->graph;
    if (!g || !g->n_node) { snprintf(other, cap, "(empty graph)"); return 0; }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        int ok = 0;
        int dflt = !n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx");
        for (size_t k = 0; dflt && n->op_type && k < sizeof(SUPPORTED) / sizeof(*SUPPORTED); k++)
            if (!strcmp(n->op_type, SUPPORTED[k])) ok = 1;
        if (!ok) { snprintf(other, cap, "%s", n->op_type ? n->op_type : "?"); return 0; }
    }
    return 1;
}

/* Load dir/name into t; returns 0, 1 when the file does not exist, -1 on a parse error. */
static int load_tensor(const char *dir, const char *name, bq_onnx_tensor *t, char *err,
                       size_t errlen) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) return 1;
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    char e[300];
    int rc = bq_onnx_tensor_parse(t, data, len, e, sizeof(e));
    if (rc) snprintf(err, errlen, "%s: %s", name, e);
    free(data);
    return rc ? -1 : 0;
}

/* Run one test_data_set directory against model bytes. Fills r->status / reason. */
static void run_set(result *r, const Onnx__ModelProto *mp, const unsigned char *model,
                    size_t model_len, const char *set_dir) {
    bq_onnx_tensor in[MAX_INPUTS], out;
    memset(in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    int n_in = 0;
    char err[512];
    const Onnx__GraphProto *g = mp->graph;
    /* graph inputs that are not initializers, in order */
    const char *names[MAX_INPUTS];
    int n_names = 0;
    for (size_t k = 0; k < g->n_input && n_names < MAX_INPUTS; k++) {
        int init = 0;
        for (size_t j = 0; j < g->n_initializer; j++)
            if (g->initializer[j]->name && !strcmp(g->initializer[j]->name, g->input[k]->name)) init = 1;
        if (!init) names[n_names++] = g->input[k]->name;
    }
    for (int k = 0; k < n_names; k++) {
        const Onnx__ValueInfoProto *vi = NULL;
        for (size_t j = 0; j < g->n_input; j++)
            if (g->input[j]->name == names[k]) vi = g->input[j];
        if (!vi || !vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            snprintf(r->status, 8, "SKIP");
            snprintf(r->reason, sizeof(r->reason), "graph input '%s' is not a tensor (sequence or "
                     "optional type)", names[k]);
            goto done;
        }
    }
    for (; n_in < MAX_INPUTS; n_in++) {
        char fn[32];
        snprintf(fn, sizeof(fn), "input_%d.pb", n_in);
        int rc = load_tensor(set_dir, fn, &in[n_in], err, sizeof(err));
        if (rc == 1) break;
        if (rc < 0) { snprintf(r->status, 8, "SKIP"); snprintf(r->reason, sizeof(r->reason), "%s", err); goto done; }
    }
    if (n_in == 0 || n_in != n_names) {
        snprintf(r->status, 8, "SKIP");
        snprintf(r->reason, sizeof(r->reason), "%d input files for %d graph inputs", n_in, n_names);
        goto done;
    }
    int rc = load_tensor(set_dir, "output_0.pb", &out, err, sizeof(err));
    if (rc) {
        snprintf(r->status, 8, "SKIP");
        snprintf(r->reason, sizeof(r->reason), "%s", rc > 0 ? "no output_0.pb" : err);
        goto done;
    }
    if (in[0].dtype != 1 || out.dtype != 1) {
        snprintf(r->status, 8, "SKIP");
        snprintf(r->reason, sizeof(r->reason), "data type %d -> %d; the engine runs float32 only",
                 in[0].dtype, out.dtype);
        goto done;
    }
    bq_onnx_options opt = {0};
    opt.no_yaml = 1;
    opt.n_consts = n_in - 1;
    opt.const_names = names + 1;
    opt.consts = in + 1;
    bq_model m;
    if (bq_onnx_import(&m, model, model_len, "model.onnx", &opt, err, sizeof(err))) {
        snprintf(r->status, 8, "SKIP");
        snprintf(r->reason, sizeof(r->reason), "%s", err + (strncmp(err, "model.onnx: ", 12) ? 0 : 12));
        goto done;
    }
    int n = in[0].ndim >= 1 ? (int)in[0].dims[0] : 0;
    const bq_node *o = &m.nodes[bq_model_output(&m)];
    size_t per_in = (size_t)m.in_c * m.in_h * m.in_w, per_out = bq_node_size(o);
    if (n < 1 || in[0].count != (size_t)n * per_in || out.count != (size_t)n * per_out) {
        snprintf(r->status, 8, "FAIL");
        snprintf(r->reason, sizeof(r->reason), "sizes: input %zu for batch %d x %zu, output %zu "
                 "for %zu per image", in[0].count, n, per_in, out.count, per_out);
        bq_model_free(&m);
        goto done;
    }
    /* train-mode buffers when the model has a max-pool: the engine's eval forward needs the
     * argmax buffer that bq_exec only allocates in train mode (bn_train stays 0: eval BN) */
    int need_train = 0;
    for (int i = 0; i < m.n_nodes; i++) need_train |= m.nodes[i].kind == BQ_OP_MAXPOOL;
    bq_exec ex;
    if (bq_exec_init(&ex, &m, n, need_train)) {
        snprintf(r->status, 8, "FAIL"); snprintf(r->reason, sizeof(r->reason), "out of memory");
        bq_model_free(&m);
        goto done;
    }
    bq_exec_forward(&ex, &m, in[0].f, n, 0);
    const float *got = ex.act[bq_model_output(&m)];
    double worst = 0.0;
    size_t bad = 0, worst_i = 0;
    for (size_t i = 0; i < out.count; i++) {
        double d = fabs((double)got[i] - out.f[i]), lim = ATOL + RTOL * fabs(out.f[i]);
        if (!(d <= lim) && !(isnan(got[i]) && isnan(out.f[i]))) {
            if (!bad || d > worst) { worst = d; worst_i = i; }
            bad++;
        }
    }
    if (bad) {
        snprintf(r->status, 8, "FAIL");
        snprintf(r->reason, sizeof(r->reason), "%zu of %zu values differ; worst at %zu: got %g "
                 "want %g", bad, out.count, worst_i, got[worst_i], out.f[worst_i]);
    } else if (!r->status[0] || !strcmp(r->status, "PASS")) {
        snprintf(r->status, 8, "PASS");
        snprintf(r->reason, sizeof(r->reason), "%zu values, batch %d, %d engine nodes", out.count,
                 n, m.n_nodes);
    }
    bq_exec_free(&ex);
    bq_model_free(&m);
done:
    for (int k = 0; k < n_in; k++) bq_onnx_tensor_free(&in[k]);
    bq_onnx_tensor_free(&out);
}

int main(int argc, char **argv) {
    const char *dir = NULL, *expect = NULL, *report = NULL, *only = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--report") && i + 1 < argc) report = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "-v")) verbose = 1;
        else {
            fprintf(stderr, "usage: %s --dir NODE_DIR [--expect FILE] [--report FILE] "
                    "[--only NAME] [-v]\n", argv[0]);
            return 2;
        }
    }
    if (!dir) { fprintf(stderr, "onnx node tests: --dir is required\n"); return 2; }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "onnx node tests: %s: cannot open; install libonnx-testdata "
                "(apt-get install libonnx-testdata)\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n_names = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (only && strcmp(e->d_name, only)) continue;
        if (n_names == cap) {
            cap = cap ? 2 * cap : 256;
            char **p = realloc(names, sizeof(char *) * cap);
            if (!p) return 1;
            names = p;
        }
        names[n_names++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n_names, sizeof(char *), cmp_str);
    result *res = calloc(n_names ? n_names : 1, sizeof(result));
    FILE *rep = report ? fopen(report, "w") : NULL;
    if (report && !rep) { fprintf(stderr, "onnx node tests: cannot write %s\n", report); return 1; }
    size_t n_cand = 0, n_pass = 0, n_skip = 0, n_fail = 0, n_other = 0;
    for (size_t t = 0; t < n_names; t++) {
        char path[1024], err[512];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir, names[t]);
        unsigned char *model;
        size_t len;
        if (bq_read_file(path, &model, &len, err, sizeof(err))) continue;
        Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, model);
        char other[64];
        if (!mp || !all_supported(mp, other, sizeof(other))) {
            if (rep) fprintf(rep, "%-56s OTHER  operator %s\n", names[t], mp ? other : "(unparsable)");
            n_other++;
            if (mp) onnx__model_proto__free_unpacked(mp, NULL);
            free(model);
            continue;
        }
        result *r = &res[n_cand++];
        snprintf(r->name, sizeof(r->name), "%s", names[t]);
        int sets = 0;
        for (int s = 0; s < 16; s++) {
            char sd[1100];
            snprintf(sd, sizeof(sd), "%s/%s/test_data_set_%d", dir, names[t], s);
            if (!is_dir(sd)) break;
            run_set(r, mp, model, len, sd);
            sets++;
            if (strcmp(r->status, "PASS")) break;
        }
        if (!sets) { snprintf(r->status, 8, "SKIP"); snprintf(r->reason, sizeof(r->reason), "no test_data_set"); }
        if (!strcmp(r->status, "PASS")) n_pass++;
        else if (!strcmp(r->status, "SKIP")) n_skip++;
        else n_fail++;
        if (rep) fprintf(rep, "%-56s %-6s %s\n", r->name, r->status, r->reason);
        if (verbose) printf("%-56s %-6s %s\n", r->name, r->status, r->reason);
        onnx__model_proto__free_unpacked(mp, NULL);
        free(model);
    }
    if (rep) fclose(rep);
    int ok = n_fail == 0;
    for (size_t i = 0; i < n_cand; i++)
        if (!strcmp(res[i].status, "FAIL")) printf("FAIL %s: %s\n", res[i].name, res[i].reason);
    /* compare with the committed expectations */
    if (expect) {
        FILE *f = fopen(expect, "r");
        if (!f) { fprintf(stderr, "onnx node tests: cannot read %s\n", expect); return 1; }
        char line[512];
        size_t n_exp = 0;
        while (fgets(line, sizeof(line), f)) {
            char nm[128], st[16];
            if (line[0] == '#' || sscanf(line, "%127s %15s", nm, st) != 2) continue;
            if (only && strcmp(nm, only)) continue;
            n_exp++;
            size_t i = 0;
            while (i < n_cand && strcmp(res[i].name, nm)) i++;
            if (i == n_cand) { printf("MISSING %s (expected %s)\n", nm, st); ok = 0; continue; }
            if (strcmp(res[i].status, st)) {
                printf("CHANGED %s: expected %s, got %s (%s)\n", nm, st, res[i].status, res[i].reason);
                ok = 0;
            }
        }
        fclose(f);
        if (n_exp != n_cand) {
            printf("onnx node tests: %zu candidates but %zu expectations; update %s\n", n_cand,
                   n_exp, expect);
            ok = 0;
        }
    }
    printf("onnx node tests: %zu directories, %zu with supported operators: %zu passed, %zu "
           "skipped, %zu failed (%zu use other operators)\n", n_names, n_cand, n_pass, n_skip,
           n_fail, n_other);
    for (size_t t = 0; t < n_names; t++) free(names[t]);
    free(names);
    free(res);
    return ok ? 0 : 1;
}
