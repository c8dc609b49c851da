/*
 * bq_pkg.h — the co-simulation driver's view of an export package (docs/formats.md "Export
 * package", written by `brecq export`, sw/io/export.h): the manifest's identity (format, version,
 * qmodel hash, hw config hash) and, per layer, the packed weight bytes and requant records with
 * their group strides, the layer's memory map (region addresses and sizes) and its three
 * instruction programs (programs.bin, 16 bytes per instruction), and the self-test vectors
 * (tests.bin: per test image the expected output codes of every layer). The driver writes THESE
 * bytes at THESE addresses and pushes THESE programs, as a board would; it compares them with its
 * own lowering of the quantized model only to report where a package differs (docs/cosim.md).
 * Before any of that the package passes the full checker (bq_export_check: CRC-32 of every part,
 * fields, programs, one-layer recompute), so a corrupted part is refused with a message naming it.
 *
 * The manifest is read with a small key scanner that relies on the writer's fixed key order
 * inside each layer object (name ... weights{offset,size} weight_group_stride requant{offset,size}
 * requant_group_stride mem{w_addr ... out_size} programs{fetch{offset,size} execute{..} result{..}});
 * `brecq export --check` is the full validator.
 *
 * Example:
 *   bq_pkg p; if (bq_pkg_load(&p, "out/pkg", err, n)) ...
 *   const bq_pkg_layer *L = bq_pkg_find(&p, "s1b1_conv1");
 *   ... p.weights + L->w_off + g * L->w_gs ...
 *   bq_pkg_free(&p);
 */
#ifndef BQ_PKG_H
#define BQ_PKG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char name[48];
    int index;                      /* qmodel layer index ("index") */
    size_t w_off, w_size, w_gs;     /* bytes in weights.bin: offset, size (all groups), group stride */
    size_t rq_off, rq_size, rq_gs;  /* bytes in requant.bin */
    size_t addr[5], size[5];        /* memory map: weights, activations, requant, shortcut, output */
    size_t prog_off[3], prog_len[3];/* per queue (fetch, execute, result): offset in programs.bin,
                                       instructions (16 bytes each) */
} bq_pkg_layer;

/* One self-test image: its test-set index and, per layer index, the range of its expected output
 * codes in tests.bin ((Cout, Hout, Wout) u8, or Cout int32 for the RAW32 classifier). */
typedef struct {
    int image;
    size_t *codes_off, *codes_size;   /* [n_layers], by layer index */
} bq_pkg_test;

typedef struct {
    char dir[512];
    uint64_t qmodel_hash, hw_hash;
    char hw_name[32];
    int n_layers;
    bq_pkg_layer *layers;
    uint8_t *weights, *requant, *programs, *tests;   /* whole files */
    size_t weights_len, requant_len, programs_len, tests_len;
    int n_tests;
    bq_pkg_test *test;
} bq_pkg;

/* Check the package with bq_export_check, then read dir/manifest.json and the four .bin files.
 * Returns 0, or -1 with "dir/file: the part: what is wrong; fix" in err (missing file, a corrupted
 * part, wrong format/version, a layer's range outside its file). */
int bq_pkg_load(bq_pkg *p, const char *dir, char *err, size_t errlen);
void bq_pkg_free(bq_pkg *p);
/* The layer named `name`, or NULL. */
const bq_pkg_layer *bq_pkg_find(const bq_pkg *p, const char *name);
/* The self-test of test-set image `image`, or NULL (the package has none for it). */
const bq_pkg_test *bq_pkg_test_of(const bq_pkg *p, int image);

#endif
