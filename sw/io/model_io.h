/*
 * model_io.h — the native model file (format in docs/formats.md): a versioned header, the graph
 * (nodes, parameters, blocks), the parameter data, and a CRC-32 of everything before it.
 *
 *   if (bq_model_load(&m, "configs/models/fres20.bqm", err, sizeof err)) die(err);
 *   bq_model_save(&m, "out.bqm", err, sizeof err);    // atomic (temp file + rename)
 *
 * bq_model_load_any() also accepts ONNX files (by extension) when the ONNX importer is built.
 */
#ifndef BQ_MODEL_IO_H
#define BQ_MODEL_IO_H
#include <stddef.h>
#include <stdint.h>
#include "core/fileio.h"
#include "nn/graph.h"

#define BQ_MODEL_MAGIC "BQMODEL"
#define BQ_MODEL_VERSION 1u

int bq_model_save(const bq_model *m, const char *path, char *err, size_t errlen);
int bq_model_load(bq_model *m, const char *path, char *err, size_t errlen);
/* Serialise to / parse from memory (the file body); used by save/load and by tests. */
int bq_model_serialize(const bq_model *m, unsigned char **data, size_t *len);
/* The same bytes into b (stored, or passed to b's sink: hashing without a copy). */
void bq_model_serialize_to(const bq_model *m, bq_buf *b);
/* A bq_buf sink that runs FNV-1a over the bytes into *(uint64_t *)ctx. */
void bq_fnv_sink(void *ctx, const void *p, size_t n);
int bq_model_parse(bq_model *m, const unsigned char *data, size_t len, const char *name, char *err,
                   size_t errlen);
/* Hash identifying a model's content (graph + parameters): keys caches and manifests. */
uint64_t bq_model_hash(const bq_model *m);
#endif
