/*
 * flow_fuzz.c — libFuzzer harness for the flow reader: input = flow YAML text, written to a scratch
 * file (bq_flow_load reads paths only) and loaded. Seeds: corpus/flow/ (configs/flows); dictionary:
 * flow.dict. A rejected text: one-line message. Only the reader runs: the files an accepted flow
 * names (model, recipe, hw) are not opened.
 */
#include "fuzz_util.h"
#include "flow/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_flow_cfg c;
    char err[512];
    err[0] = 0;
    if (bq_flow_load(&c, fuzz_file("flow.yaml", data, size), err, sizeof err)) fuzz_check_err(err);
    return 0;
}
