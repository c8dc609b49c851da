/*
 * bqm_fuzz.c — libFuzzer harness for the native model reader: input = the bytes of a .bqm file,
 * fed to bq_model_parse twice: as given (the CRC-32 trailer catches most mutations) and with the
 * trailer recomputed (fuzz_fix_crc), so the framing, bounds and bq_model_validate checks behind the
 * checksum see the mutated fields. Seeds: corpus/bqm/.
 *
 * A rejected input: one-line message. An accepted model: fuzz_exercise_model, and its serialisation
 * parses back to the same hash.
 */
#include "fuzz_util.h"
#include "io/model_io.h"

static void parse_one(const unsigned char *data, size_t size) {
    bq_model m;
    char err[512];
    err[0] = 0;
    if (bq_model_parse(&m, data, size, "fuzz.bqm", err, sizeof err)) {
        fuzz_check_err(err);
        return;
    }
    fuzz_exercise_model(&m);
    unsigned char *again;
    size_t len;
    if (bq_model_serialize(&m, &again, &len) == 0) {
        bq_model r;
        if (bq_model_parse(&r, again, len, "again.bqm", err, sizeof err)) abort();
        if (bq_model_hash(&r) != bq_model_hash(&m)) abort();
        bq_model_free(&r);
        free(again);
    }
    bq_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    parse_one(data, size);
    if (size < 8) return 0;
    unsigned char *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fuzz_fix_crc(fixed, size);
    if (memcmp(fixed + size - 4, data + size - 4, 4)) parse_one(fixed, size);
    free(fixed);
    return 0;
}
