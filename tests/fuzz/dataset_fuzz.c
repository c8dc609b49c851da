/*
 * dataset_fuzz.c — libFuzzer harness for the dataset YAML reader: input = dataset YAML text,
 * written to a scratch file and read by bq_dataspec_load (schema, mean/std lists, kind rules,
 * path rebasing). Seeds: corpus/dataset/; dictionary: dataset.dict. A rejected text: one-line
 * message. The sources an accepted spec names are not opened (their readers have their own
 * harnesses: idx, png, jpeg, npy, npz), so a fuzzed path cannot make the run read the real data set.
 */
#include "fuzz_util.h"
#include "io/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_dataspec s;
    char err[512];
    err[0] = 0;
    if (bq_dataspec_load(&s, fuzz_file("data.yaml", data, size), err, sizeof err)) fuzz_check_err(err);
    return 0;
}
