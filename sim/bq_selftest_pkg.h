/*
 * bq_selftest_pkg.h — the export package as the self-test driver (bq_selftest.h) sees it: only
 * what a host needs to replay the package's self-test vectors layer by layer on the accelerator
 * (docs/formats.md "Export package", docs/bringup.md "The self-test driver"). Plain C on libc and
 * zlib (crc32): no engine code, so a board driver links it without libbrecq.a.
 *
 * Format version 3 (docs/formats.md "Whole-network package"): the same checks on its fields, the
 * tensors of `memory`, the program's three ranges and, per test, `input` and every layer's `out`;
 * per layer only name, weights, requant, w_addr, rq_addr, out tensor, raw32, cout and cycles are
 * read (layers[i].m = cout, obits 32 for the RAW32 classifier; steps = every layer in order).
 *
 * Loading checks, in order, each failure one line naming the file and the part:
 * manifest_crc32 (the manifest's own bytes), format and version, the fields read (missing or of the
 * wrong type), the tile geometry against the array (M_pad, N_pad, group strides), every range the
 * driver uses (inside its file, CRC-32: weights, requant, the three programs of every layer; act,
 * res and out of every test layer), then each .bin file's size and whole-file CRC-32 (the padding).
 *
 * Example:
 *   bq_st_pkg p; if (bq_st_pkg_load(&p, "pkg", err, n)) { fprintf(stderr, "%s\n", err); exit(2); }
 *   const bq_st_layer *L = &p.layers[p.steps[0]];
 *   ... p.weights + L->w.off ... p.tests_bin + p.tests[0].layers[L->index].out.off ...
 *   bq_st_pkg_free(&p);
 */
#ifndef BQ_SELFTEST_PKG_H
#define BQ_SELFTEST_PKG_H

#include <stddef.h>
#include <stdint.h>

/* A little-endian 32-bit word of a package or of the accelerator's memory (every driver reads them). */
static inline uint32_t bq_st_le32(const uint8_t *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A byte range of a .bin file: {offset, size, crc32} of the manifest. */
typedef struct {
    size_t off, size;
    uint32_t crc;
} bq_st_range;

enum { BQ_ST_W, BQ_ST_A, BQ_ST_RQ, BQ_ST_RES, BQ_ST_OUT, BQ_ST_NREG };

/* Version 3: one tensor of the memory map (HWC codes, or the classifier's RAW32 tiles). */
typedef struct {
    char name[64];
    uint64_t addr, bytes;
    int c, h, w, cs, raw32;         /* cs: bytes per pixel (HWC; 0 for RAW32) */
} bq_st_tensor;

typedef struct {
    char name[64];
    int index;
    int out_tensor;                 /* version 3: index into tensors[] */
    int m, n, groups, m_pad, n_pad, hout, wout;
    int obits;                      /* output planes; 32 for the RAW32 classifier */
    int64_t cycles;                 /* the latency model's CYCLES on the ideal memory */
    uint64_t addr[BQ_ST_NREG], size[BQ_ST_NREG];   /* memory map `mem` */
    bq_st_range w, rq, prog[3];     /* weights.bin, requant.bin, programs.bin (fetch, execute, result) */
} bq_st_layer;

typedef struct {
    bq_st_range act, res, out;      /* tests.bin; res.size 0 without a shortcut */
    size_t out_gs;                  /* out_group_stride */
} bq_st_tlayer;

typedef struct {
    int image, label, pred;
    bq_st_range input;              /* version 3: the input tensor's bytes (HWC codes) */
    int32_t *logits;                /* [classes] */
    bq_st_tlayer *layers;           /* [n_layers], by layer index */
} bq_st_test;

typedef struct {
    char dir[512];
    int version;                    /* 2: per-layer package; 3: whole network (one program) */
    /* version 3 only: the memory map's tensors (0 = the network input, 1 + i = layer i's
     * output), the whole program's three queues and its cycles on the ideal memory */
    int n_tensors;
    bq_st_tensor *tensors;
    bq_st_range program[3];
    int64_t cycles;
    uint64_t hw_hash;
    char hw_name[32];
    int dm, dn, dk, mem_width_bits;
    size_t tpb;                     /* tile plane bytes: ceil(dm*dn / W) * W/8 (docs/hw_isa.md §0) */
    int n_layers, n_steps, n_tests;
    bq_st_layer *layers;
    int *steps;                     /* layer indices of the {"op": "layer"} steps, in steps order */
    bq_st_test *tests;
    int out_layer, classes;         /* output.layer (index), output.classes */
    float *logit_scale;             /* [classes], float32 as the manifest prints it */
    uint8_t *weights, *requant, *programs, *tests_bin;   /* whole files */
    size_t weights_len, requant_len, programs_len, tests_len;
} bq_st_pkg;

/* Read and check dir (manifest.json and the four .bin files). Returns 0, or -1 with one line in
 * err: "dir/file: the part: what is wrong; fix". */
int bq_st_pkg_load(bq_st_pkg *p, const char *dir, char *err, size_t errlen);
void bq_st_pkg_free(bq_st_pkg *p);

#endif
