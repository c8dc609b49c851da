/*
 * onnx_fuzz.c — libFuzzer harness for the ONNX importer (`make fuzz`, clang with
 * -fsanitize=fuzzer,address,undefined). Seeds: tests/fuzz/corpus/ (the small exported models and
 * the backend node-test models the importer handles, plus truncated/corrupted variants).
 *
 * For every input: bq_onnx_import must either fail with a non-empty one-line message, or return a
 * model that passes bq_model_validate; an accepted model is also BN-folded and, when small, run
 * forward on one zero image, so geometry the importer let through is exercised by the engine.
 * Any violation aborts (a crash for libFuzzer).
 */
#include "nn/exec.h"
#include "nn/graph.h"
#include "io/onnx_import.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FWD_LIMIT 200000   /* run the forward pass only when activations + params are small */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_model m;
    char err[512];
    err[0] = 0;
    if (bq_onnx_import(&m, data, size, "fuzz.onnx", NULL, err, sizeof(err)) != 0) {
        if (!err[0] || strchr(err, '\n') || m.nodes || m.arena) abort();
        return 0;
    }
    char verr[256];
    if (bq_model_validate(&m, verr, sizeof(verr))) abort();
    bq_model f;
    if (bq_model_fold_bn(&f, &m, verr, sizeof(verr)) == 0) bq_model_free(&f);
    size_t total = m.arena_count, pool = 0;
    for (int i = 0; i < m.n_nodes; i++) {
        total += bq_node_size(&m.nodes[i]) * (m.nodes[i].kind == BQ_OP_CONV ? 1 + (size_t)m.nodes[i].kh * m.nodes[i].kw : 1);
        pool |= m.nodes[i].kind == BQ_OP_MAXPOOL;
    }
    if (total < FWD_LIMIT) {
        bq_exec ex;
        /* max-pool needs the argmax buffer bq_exec allocates only in train mode */
        if (bq_exec_init(&ex, &m, 1, pool != 0) == 0) {
            memset(ex.act[0], 0, sizeof(float) * bq_node_size(&m.nodes[0]));
            bq_exec_forward(&ex, &m, NULL, 1, 0);
            bq_exec_free(&ex);
        }
    }
    bq_model_free(&m);
    return 0;
}
