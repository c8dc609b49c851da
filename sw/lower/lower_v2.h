/*
 * lower_v2.h — a quantized model as the layer list of a whole-network ISA v2 program
 * (hw_model/hwsched_v2.h, docs/whole_network.md §5, §11): every conv / linear layer with its conv
 * geometry and producers, and the graph's global average pools as depthwise layers (kernel = the
 * image, 1-bit weights, §5). Geometry only (latency); the exporter (build step 5) adds the data.
 *
 * Example:
 *   bq_v2_layer ls[BQ_V2_MAX_LAYERS];
 *   int n = bq_lower_v2_net(ls, BQ_V2_MAX_LAYERS, &q, err, sizeof err);
 *   if (n < 0) ...report err...
 */
#ifndef BQ_LOWER_V2_H
#define BQ_LOWER_V2_H

#include <stddef.h>

#include "costtab.h"
#include "hwsched_v2.h"
#include "quant/qmodel.h"

/* Fill ls[0 .. n) in execution order; returns n, or -1 with "layer 'x': what; fix" (a max pool
 * or average pool on the path keeps the model off the whole-network path; more than max layers). */
int bq_lower_v2_net(bq_v2_layer *ls, int max, const bq_qmodel *q, char *err, size_t errlen);

/* Attach the whole-network view (bq_lower_v2_net; a GAP becomes a fixed layer of the view) to
 * net, built by bq_lower_hw_net from the same q: on a v2 config (window_bytes > 0) the latency
 * and the cost table are then the v2 ones (costtab.h). 0, or -1 with the message (a layer off the
 * v2 path, e.g. after a max pool). */
int bq_lower_hw_net_v2(bq_hw_net *net, const bq_qmodel *q, char *err, size_t errlen);

#endif
