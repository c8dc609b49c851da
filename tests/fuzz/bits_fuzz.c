/*
 * bits_fuzz.c — libFuzzer harness for the bits.yaml reader: input = bits YAML text, applied by
 * bq_qmodel_apply_bits_text to a fresh quantized model of tiny_model.h (layer names stem, a_conv1,
 * a_conv2, a_down, dw, fc). Seeds: corpus/bits/; dictionary: bits.dict.
 * A rejected text: one-line message; an accepted one leaves every layer's wbits in 2..8 and every
 * quantizer's bits 0 or 2..8.
 */
#include "fuzz_util.h"
#include "quant/qmodel.h"
#include "tiny_model.h"

static bq_model fp;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fp.nodes && tiny_model_build(&fp)) abort();
    bq_qmodel q;
    bq_qmodel_opts o = {4, 4, 1};
    char err[512];
    if (bq_qmodel_init(&q, &fp, &o, err, sizeof err)) abort();
    err[0] = 0;
    if (bq_qmodel_apply_bits_text(&q, (const char *)data, size, "bits.yaml", err, sizeof err)) {
        fuzz_check_err(err);
    } else {
        for (int l = 0; l < q.n_layers; l++)
            if (q.layers[l].wbits < 2 || q.layers[l].wbits > 8) abort();
        for (int a = 0; a < q.n_aq; a++)
            if (q.aq[a].bits != 0 && (q.aq[a].bits < 2 || q.aq[a].bits > 8)) abort();
    }
    bq_qmodel_free(&q);
    return 0;
}
