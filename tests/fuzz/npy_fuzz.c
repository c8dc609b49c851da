/*
 * npy_fuzz.c — libFuzzer harness for the NumPy readers. Input = the bytes of a file, written to a
 * scratch file and loaded by bq_npy_load: as `.npy` (header and data), as the same bytes' header
 * alone (header_only), and through bq_npy_parse_header from memory. The npz harness is the same
 * binary built with -DFUZZ_NPZ: the bytes as an `.npz` archive, members "x" and "y" loaded.
 * Seeds: corpus/npy/, corpus/npz/.
 * A rejected file: one-line message, nothing allocated; an accepted array: data present unless its
 * dtype is unsupported, count = product of the shape (without wrapping), nbytes >= count.
 */
#include "fuzz_util.h"
#include "io/npy.h"

static void check_array(const bq_npy *a, int header_only) {
    size_t count = 1;
    for (int i = 0; i < a->ndim; i++)   /* a shape whose product wraps must be refused */
        if (a->shape[i] < 0 || __builtin_mul_overflow(count, (size_t)a->shape[i], &count)) abort();
    if (a->ndim < 0 || a->ndim > 8 || count != a->count ||
        (a->dtype != BQ_NPY_OTHER && a->nbytes < count)) abort();
    if (!header_only && a->dtype != BQ_NPY_OTHER && !a->data) abort();
    if (a->data && a->nbytes) {   /* touch both ends: ASan checks the allocation's size */
        volatile uint8_t s = ((const uint8_t *)a->data)[0] ^ ((const uint8_t *)a->data)[a->nbytes - 1];
        (void)s;
    }
}

static void load_one(const char *path, const char *key, int header_only) {
    bq_npy a;
    char err[512];
    err[0] = 0;
    if (bq_npy_load(&a, path, key, header_only, err, sizeof err)) {
        fuzz_check_err(err);
        if (a.data) abort();
        return;
    }
    check_array(&a, header_only);
    bq_npy_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef FUZZ_NPZ
    const char *path = fuzz_file("fuzz.npz", data, size);
    load_one(path, "x", 0);
    load_one(path, "y", 0);
#else
    const char *path = fuzz_file("fuzz.npy", data, size);
    load_one(path, NULL, 0);
    load_one(path, NULL, 1);
    bq_npy a;
    size_t off;
    char err[512];
    err[0] = 0;
    memset(&a, 0, sizeof a);
    if (bq_npy_parse_header(data, size, "fuzz.npy", &a, &off, err, sizeof err)) fuzz_check_err(err);
    else if (off > size) abort();
#endif
    return 0;
}
