/*
 * bqq_fuzz.c — libFuzzer harness for the quantized-model reader: input = the bytes of a .bqq file,
 * written to a scratch file (bq_qmodel_load reads paths only) and loaded twice: as given, and with
 * both CRC-32s recomputed (the embedded model's, when its length field fits, and the file's), so the
 * framing, placement and bq_qmodel_validate checks see the mutated fields. Seeds: corpus/bqq/.
 *
 * A rejected input: one-line message. An accepted model: printed, hashed, checked for the integer
 * path (bq_qmodel_check_integer may refuse it, with a message) and its embedded model exercised.
 */
#include "fuzz_util.h"
#include "quant/qmodel.h"

#define BQQ_MODEL_AT 64   /* docs/formats.md: magic 8, version 4, hashes 16, method 16, bits 12, len 8 */

static void load_one(const unsigned char *data, size_t size) {
    const char *path = fuzz_file("fuzz.bqq", data, size);
    bq_qmodel q;
    char err[512];
    err[0] = 0;
    if (bq_qmodel_load(&q, path, err, sizeof err)) {
        fuzz_check_err(err);
        return;
    }
    static FILE *null_out;
    if (!null_out && !(null_out = fopen("/dev/null", "w"))) abort();
    bq_qmodel_print(&q, null_out);
    (void)bq_qmodel_hash(&q);
    err[0] = 0;
    if (bq_qmodel_check_integer(&q, err, sizeof err)) fuzz_check_err(err);
    fuzz_exercise_model(&q.model);
    bq_qmodel_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_one(data, size);
    if (size < BQQ_MODEL_AT + 8) return 0;
    unsigned char *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint64_t mlen = 0;
    for (int i = 7; i >= 0; i--) mlen = mlen << 8 | fixed[56 + i];
    if (mlen >= 8 && mlen <= size - 4 - BQQ_MODEL_AT) fuzz_fix_crc(fixed + BQQ_MODEL_AT, (size_t)mlen);
    fuzz_fix_crc(fixed, size);
    if (memcmp(fixed, data, size)) load_one(fixed, size);
    free(fixed);
    return 0;
}
