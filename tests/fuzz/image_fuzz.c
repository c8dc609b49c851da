/*
 * image_fuzz.c — libFuzzer harness for the image decoder: input = the bytes of a PNG or JPEG file
 * (bq_image_decode_rgb chooses by signature), written to a scratch file and decoded; a decoded
 * image is resized (shorter side 7) and centre-cropped (5) into grey and RGB, as an image folder's
 * evaluation preprocessing does. One binary, two corpora: `png` (corpus/png/) and `jpeg`
 * (corpus/jpeg/), so each decoder gets its own seeds and run time.
 * A rejected file: one-line message naming it.
 */
#include "fuzz_util.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *rgb = NULL;
    int h = 0, w = 0;
    char err[512];
    err[0] = 0;
    if (bq_image_decode_rgb(fuzz_file("img", data, size), &rgb, &h, &w, err, sizeof err)) {
        fuzz_check_err(err);
        if (rgb) abort();
        return 0;
    }
    if (!rgb || h < 1 || w < 1) abort();
    bq_image_geom g;
    if (bq_image_geometry(h, w, 7, 5, &g) == 0) {
        uint8_t out[3 * 5 * 5];
        bq_image_prep(rgb, h, w, &g, 1, out);
        bq_image_prep(rgb, h, w, &g, 3, out);
    }
    free(rgb);
    return 0;
}
