/*
 * export_fuzz.c — libFuzzer harness for the export-package checker. A package is a folder; the
 * harness fuzzes its manifest: input = the text of manifest.json, written into a scratch folder
 * next to the four .bin files of a real small package (tests/fuzz/export_pkg/, tiny_model.h
 * exported with 2 test images; $FUZZ_EXPORT_PKG overrides the folder), copied there once; a
 * manifest saying "version": 3 goes next to the whole-network package's files instead
 * (tests/fuzz/export_pkg_v3/, the same model on v2 units; $FUZZ_EXPORT_PKG_V3). Then
 * bq_export_check(folder, NULL) runs the whole check: manifest JSON, files, sizes and CRC-32s,
 * layer shapes and padding, array CRCs, and the recompute of test image 0.
 * Why the manifest: it holds every shape, offset and size the checker trusts; the .bin files are
 * covered by their CRC-32s, which a mutation of them fails at once.
 * Seeds: corpus/export/ (both packages' manifests and cut-down variants); dictionary: export.dict.
 * A rejected package: one-line message.
 */
#include "fuzz_util.h"
#include "core/fileio.h"
#include "io/export.h"

#include <sys/stat.h>

/* [0]: the version 2 package's folder, [1]: version 3's (a subfolder v3/ of the scratch folder) */
static char pkg_dir[2][300];

/* Copy the four .bin files of src into dir. */
static void copy_bins(const char *src, const char *dir) {
    const char *names[4] = {"weights.bin", "requant.bin", "tests.bin", "programs.bin"};
    for (int i = 0; i < 4; i++) {
        char p[600], err[512];
        unsigned char *d;
        size_t n;
        snprintf(p, sizeof p, "%s/%s", src, names[i]);
        if (bq_read_file(p, &d, &n, err, sizeof err)) {
            fprintf(stderr, "export_fuzz: %s (run from the repository root or set FUZZ_EXPORT_PKG)\n", err);
            abort();
        }
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (bq_write_file_atomic(p, d, n, err, sizeof err)) abort();
        free(d);
    }
}

static void setup(void) {
    const char *src = getenv("FUZZ_EXPORT_PKG"), *src3 = getenv("FUZZ_EXPORT_PKG_V3");
    snprintf(pkg_dir[0], sizeof pkg_dir[0], "%s", fuzz_dir());
    snprintf(pkg_dir[1], sizeof pkg_dir[1], "%s/v3", fuzz_dir());
    mkdir(pkg_dir[1], 0700);
    copy_bins(src && *src ? src : "tests/fuzz/export_pkg", pkg_dir[0]);
    copy_bins(src3 && *src3 ? src3 : "tests/fuzz/export_pkg_v3", pkg_dir[1]);
}

/* A manifest that says version 3 is checked next to the version 3 package's files. */
static int says_v3(const uint8_t *data, size_t size) {
    static const char key[] = "\"version\": 3";
    for (size_t i = 0; i + sizeof key - 1 <= size; i++)
        if (!memcmp(data + i, key, sizeof key - 1)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!pkg_dir[0][0]) setup();
    const char *dir = pkg_dir[says_v3(data, size)];
    char path[400], err[512];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
    err[0] = 0;
    if (bq_export_check(dir, NULL, NULL, err, sizeof err)) fuzz_check_err(err);
    return 0;
}
