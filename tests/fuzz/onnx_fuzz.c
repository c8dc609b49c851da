/*
 * onnx_fuzz.c — libFuzzer harness for the ONNX importer: input = the bytes of a .onnx file, fed to
 * bq_onnx_import. Seeds: corpus/onnx/ (the small exported models and the backend node-test models
 * the importer handles, plus truncated/corrupted variants).
 *
 * The importer must either fail with a one-line message and nothing allocated, or return a model
 * that passes bq_model_validate and survives fuzz_exercise_model (fuzz_util.h).
 */
#include "fuzz_util.h"
#include "io/onnx_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_model m;
    char err[512];
    err[0] = 0;
    if (bq_onnx_import(&m, data, size, "fuzz.onnx", NULL, err, sizeof(err)) != 0) {
        fuzz_check_err(err);
        if (m.nodes || m.arena) abort();
        return 0;
    }
    fuzz_exercise_model(&m);
    bq_model_free(&m);
    return 0;
}
