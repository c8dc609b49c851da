/*
 * idx_fuzz.c — libFuzzer harness for the IDX folder reader: input = a little-endian u32 n, then the
 * images file (n bytes, clamped to what is there), then the labels file (the rest). Both are written
 * uncompressed into a scratch folder as t10k-{images-idx3,labels-idx1}-ubyte.gz (zlib's gzread
 * reads plain files as they are, so the gzip layer, zlib's own, is not what is fuzzed) and opened
 * by bq_dataset_load(folder, "test"). Seeds: corpus/idx/ (small IDX pairs in that framing).
 * A rejected folder: one-line message; an accepted one has n >= 1, 1 channel, h, w >= 1 and labels
 * 0..9, and batches one image.
 */
#include "fuzz_util.h"
#include "nn/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t n = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    data += 4; size -= 4;
    if (n > size) n = size;
    const char *ip = fuzz_file("t10k-images-idx3-ubyte.gz", data, n);
    fuzz_file("t10k-labels-idx1-ubyte.gz", data + n, size - n);
    char dir[300];
    snprintf(dir, sizeof dir, "%s", ip);
    *strrchr(dir, '/') = 0;
    bq_dataset d;
    char err[512];
    err[0] = 0;
    if (bq_dataset_load(&d, dir, "test", err, sizeof err)) {
        fuzz_check_err(err);
        return 0;
    }
    if (d.n < 1 || d.c != 1 || d.h < 1 || d.w < 1 || !d.pixels || !d.labels) abort();
    for (int i = 0; i < d.n; i++)
        if (d.labels[i] < 0 || d.labels[i] > 9) abort();
    if ((size_t)d.h * d.w <= 1u << 20) {
        float *x = malloc(sizeof(float) * d.h * d.w);
        int idx = d.n - 1, y;
        if (x) bq_dataset_batch(&d, &idx, 1, x, &y, 0.5f, 0.25f, NULL);
        free(x);
    }
    bq_dataset_free(&d);
    return 0;
}
