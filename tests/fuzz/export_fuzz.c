/*
 * export_fuzz.c — libFuzzer harness for the export-package checker. A package is a folder; the
 * harness fuzzes its manifest: input = the text of manifest.json, written into a scratch folder
 * next to the three .bin files of a real small package (tests/fuzz/export_pkg/, tiny_model.h
 * exported with 2 test images; $FUZZ_EXPORT_PKG overrides the folder), copied there once. Then
 * bq_export_check(folder, NULL) runs the whole check: manifest JSON, files, sizes and CRC-32s,
 * layer shapes and padding, array CRCs, and the recompute of test image 0.
 * Why the manifest: it holds every shape, offset and size the checker trusts; the .bin files are
 * covered by their CRC-32s, which a mutation of them fails at once.
 * Seeds: corpus/export/ (the package's manifest and cut-down variants); dictionary: export.dict.
 * A rejected package: one-line message.
 */
#include "fuzz_util.h"
#include "core/fileio.h"
#include "io/export.h"

static char pkg_dir[300];

static void copy_bins(void) {
    const char *src = getenv("FUZZ_EXPORT_PKG");
    if (!src || !*src) src = "tests/fuzz/export_pkg";
    const char *names[3] = {"weights.bin", "requant.bin", "tests.bin"};
    for (int i = 0; i < 3; i++) {
        char p[600], err[512];
        unsigned char *d;
        size_t n;
        snprintf(p, sizeof p, "%s/%s", src, names[i]);
        if (bq_read_file(p, &d, &n, err, sizeof err)) {
            fprintf(stderr, "export_fuzz: %s (run from the repository root or set FUZZ_EXPORT_PKG)\n", err);
            abort();
        }
        const char *dst = fuzz_file(names[i], d, n);
        free(d);
        snprintf(pkg_dir, sizeof pkg_dir, "%s", dst);
        *strrchr(pkg_dir, '/') = 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!pkg_dir[0]) copy_bins();
    fuzz_file("manifest.json", data, size);
    char err[512];
    err[0] = 0;
    if (bq_export_check(pkg_dir, NULL, NULL, err, sizeof err)) fuzz_check_err(err);
    return 0;
}
