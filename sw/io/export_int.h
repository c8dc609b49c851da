/*
 * export_int.h — what the two package writers / checkers share (export.c: format version 2,
 * per layer; export_v2.c: format version 3, the whole network). Not a public API.
 */
#ifndef BQ_EXPORT_INT_H
#define BQ_EXPORT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "core/fileio.h"
#include "hwcfg.h"
#include "nn/data.h"
#include "quant/intref.h"
#include "quant/qmodel.h"

#define BQ_EXP_NBINS 4   /* weights, requant, tests, programs (.bin and .hex each) */

/* ---- writer ---- */
uint32_t bq_exp_crc(const void *p, size_t n);
/* Reserve an aligned (BQ_EXPORT_ALIGN), zeroed range of n bytes at the end of b; its offset. */
size_t bq_exp_reserve(bq_buf *b, size_t n);
void bq_exp_pad(bq_buf *b);   /* pad b to the alignment */
/* {"offset", "size", "crc32"} of a range of b, into the manifest text j. */
void bq_exp_json_range(bq_buf *j, const bq_buf *b, size_t off, size_t size);
/* Node names go into JSON strings unescaped: refuse quotes, backslashes, control characters. */
int bq_exp_check_names(const bq_model *m, char *err, size_t errlen);
/* "files" and manifest_crc32: the manifest's last lines. bins: weights, requant, tests, programs. */
void bq_exp_manifest_tail(bq_buf *J, const bq_buf *const bins[BQ_EXP_NBINS], int wb);
/* Write the four .bin (+ .hex, wb bytes a line) and manifest.json into DIR.tmp.PID, then rename
 * onto dir. 0, or -1 with the message naming dir. */
int bq_exp_publish(const bq_buf *const bins[BQ_EXP_NBINS], const bq_buf *J, int wb, const char *dir,
                   char *err, size_t errlen);

/* The integer reference run of the first n test images of d (export.c): x, labels, preds malloc'd
 * (the caller frees them, also after a failure). 0, or -1 out of memory. */
int bq_exp_run_tests(const bq_qmodel *q, bq_intnet *net, const bq_dataset *d, int n, float **x,
                     int **labels, int **preds, char *err, size_t errlen);

/* ---- checker: the parsed manifest and its fields ---- */
typedef struct {
    yaml_document_t doc;
    const char *dir;
    char *err;
    size_t errlen;
} bq_exp_mf;

typedef struct { const char *name; unsigned char *data; size_t len; } bq_exp_bin;

yaml_node_t *bq_exp_mget(bq_exp_mf *f, yaml_node_t *map, const char *key);
int bq_exp_mint(bq_exp_mf *f, yaml_node_t *map, const char *where, const char *key, long long lo,
                long long hi, long long *out);
const char *bq_exp_mstr(bq_exp_mf *f, yaml_node_t *map, const char *where, const char *key);
int bq_exp_mbool(bq_exp_mf *f, yaml_node_t *map, const char *where, const char *key, int *out);
const char *bq_exp_mcrc(bq_exp_mf *f, yaml_node_t *map, const char *where);
/* A {offset, size, crc32} range inside b (size == want unless want is 0); its bytes or NULL. */
const unsigned char *bq_exp_mrange(bq_exp_mf *f, yaml_node_t *map, const char *where, const char *key,
                                   const bq_exp_bin *b, size_t want);
int64_t bq_exp_rd_le(const unsigned char *p, int n);
/* Every .bin listed, read (bins[i].name set by the caller), of the listed size; CRCs kept. */
int bq_exp_check_files(bq_exp_mf *f, bq_exp_bin bins[BQ_EXP_NBINS], const char *bin_crc[BQ_EXP_NBINS],
                       yaml_node_t *root, char *path, size_t pathlen);
int bq_exp_check_file_crcs(bq_exp_mf *f, const bq_exp_bin bins[BQ_EXP_NBINS],
                           const char *const bin_crc[BQ_EXP_NBINS]);
int bq_exp_check_manifest_crc(bq_exp_mf *f, const unsigned char *text);

/* ---- format version 3 (export_v2.c) ---- */
/* bq_export on a v2 config (window_bytes > 0); same contract. */
int bq_export_v3(const bq_qmodel *q, const bq_hwcfg *hw, const bq_dataset *d, int n_tests,
                 const char *dir, char *err, size_t errlen);
/* bq_export_check of a version 3 manifest (format and version already read). */
int bq_export_check_v3(bq_exp_mf *f, yaml_node_t *root, const unsigned char *text, const char *layer,
                       FILE *log);

#endif
