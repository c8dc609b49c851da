/*
 * qmodel_check.h — validation of a loaded quantized model (.bqq) beyond what its reader checks.
 *
 * bq_qmodel_load (qmodel.c) checks the framing, the embedded model (bq_model_validate) and that
 * the stored placement matches the graph; this adds the value checks every consumer relies on:
 * roles known, bits in range, scales finite and > 0, zero points in range, layer/quantizer
 * indices inside the model. bq_qmodel_load runs it after reading, so every consumer (the CLI,
 * the flow's reload of its own cached .bqq, benches) gets a checked model.
 */
#ifndef BQ_QMODEL_CHECK_H
#define BQ_QMODEL_CHECK_H
#include <stddef.h>
#include "quant/qmodel.h"

/* 0, or -1 with "path: quantizer/layer ...: what; fix" (path only names the file). */
int bq_qmodel_validate(const bq_qmodel *q, const char *path, char *err, size_t errlen);
#endif
