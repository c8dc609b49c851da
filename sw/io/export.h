/*
 * export.h — the export package of a quantized model for the accelerator (docs/formats.md,
 * "Export package"), and its checker.
 *
 * A package is a directory (format "brecq-export" version 2; every field in docs/formats.md):
 *   manifest.json   hashes, hw config, memory map size, input layout and quantisation (with the
 *                   float32 normalisation constants), per layer: op, links, geometry, GEMM sizes,
 *                   bits, zero points, clamp, ranges of its packed weights, requant records and
 *                   three programs, its memory-map regions, loop order and model cycles; the
 *                   execution order (steps, host-step parameters); the output scales; per test
 *                   image the self-test vectors; per file size and CRC-32; manifest_crc32 last.
 *   weights.bin     packed bit-plane weights (hw_isa.md §2.1), per layer its weights region
 *   requant.bin     16-byte requant records (hw_isa.md §2.4), per layer its requant region
 *   programs.bin    per layer and queue the 16-byte instructions (docs/hw_isa.md), in order
 *   tests.bin       test vectors (hw_isa.md §2.2 / §2.3 layouts)
 *   *.hex           the same bytes for $readmemh: one memory word (W/8 bytes, most significant
 *                   byte first) per line, line i = bytes [i*W/8, (i+1)*W/8)
 * Everything accelerator-side comes from the one lowering (sw/lower/lower.h).
 * Written into DIR.tmp.<pid> and renamed onto DIR at the end (an existing DIR is replaced only
 * after the new package is complete).
 *
 * Example:
 *   bq_hwcfg hw; bq_hwcfg_load(&hw, "configs/hw/tiny.yaml", err, n);
 *   bq_export(&q, &hw, &test_set, 2, "out/pkg", err, n);
 *   bq_export_check("out/pkg", stdout, err, n);     // checksums, shapes, one-layer recompute
 */
#ifndef BQ_EXPORT_H
#define BQ_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/data.h"
#include "hwcfg.h"
#include "quant/qmodel.h"

#define BQ_EXPORT_FORMAT "brecq-export"
#define BQ_EXPORT_VERSION 2         /* per-layer package (ISA v1 configs) */
#define BQ_EXPORT_VERSION_WHOLE 3   /* whole-network package (v2 configs: window_bytes > 0) */
#define BQ_EXPORT_ALIGN 64   /* every array in a .bin file starts at a multiple of this */

/* Write the package of q for accelerator hw into dir (a v2 config, window_bytes > 0: format
 * version 3, one whole-network program, docs/formats.md "Whole-network package"), with `n_tests` test images (the first of the
 * test set d; d may be NULL with n_tests = 0). Returns 0; -1 with err about the model (not
 * integer-ready, a layer does not fit the config); -2 when writing dir failed (err names dir, never
 * its temporary `dir.tmp.PID`). */
int bq_export(const bq_qmodel *q, const bq_hwcfg *hw, const bq_dataset *d, int n_tests,
              const char *dir, char *err, size_t errlen);

/* Validate a package: manifest version and fields, file sizes, every range's CRC-32 and size
 * against its shape, the memory map, every program instruction, the steps and the output, then
 * recompute layers of test image 0 from the unpacked bits with plain int64 arithmetic and compare
 * with the expected outputs bit for bit (layer = NULL: every layer; else only that one); last the
 * whole-file CRC-32s and manifest_crc32 (version 3: its own checks, export_v2.c). A corruption is named by the part it hit. Progress lines go to `log` (FILE*, may be NULL). Returns 0, or -1 with
 * "file: field: what is wrong". */
int bq_export_check(const char *dir, const char *layer, void *log, char *err, size_t errlen);

#endif
