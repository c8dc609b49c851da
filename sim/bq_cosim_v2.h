/*
 * bq_cosim_v2.h — the co-simulation of a whole network on an ISA v2 build (window_bytes > 0,
 * docs/whole_network.md §16, docs/cosim.md "Whole networks (ISA v2)"): ONE start per image.
 *
 * Once: the model is lowered by bq_lower_v2_full (sw/lower/lower_v2.h) into one program with its
 * memory image; packed weights and requant records are written once. Per image: the input region
 * and every layer's output tensor are filled with 0xA5 (stale data never passes), the input codes
 * (the integer reference's input node) are written as HWC, the whole program is pushed to the
 * three queues, the accelerator runs once, then every layer's output tensor is read back and every
 * real byte compared with the integer reference's codes of that layer's node (the RAW32 classifier:
 * acc0 per class, and the argmax); CYCLES and the 13 counters with the latency model's dry run of
 * the same program (strict; with opts.bits_only as information).
 * Waveforms (opts.trace_layer, opts.trace_path on the first mismatch) are windows of the one run:
 * layer i spans [sum of the stand-alone cycles before it, + its own) (docs/whole_network.md §11).
 * Faults: weight / requant bits over the layer's bytes, instr bits of its first execute
 * instruction in the program.
 *
 * Example (bq_cosim_run dispatches here when cfg->window_bytes > 0):
 *   int rc = bq_cosim_v2_run(&r, &acc, &q, &cfg, x, labels, n, &o, stdout, err, sizeof err);
 *   if (rc == 1) ...no whole-network program (err says why): run the per-layer path...
 */
#ifndef BQ_COSIM_V2_H
#define BQ_COSIM_V2_H

#include "bq_cosim.h"

/* Returns 0 when the run completed (mismatches are in r), -1 with err on an input or
 * infrastructure error (r empty), 1 with err = the lowering's line when the model has no
 * whole-network program (a max pool on the path, ...; r untouched). r must be set up by the caller
 * (hw, backend, hashes, mode, fault spec), as bq_cosim_run does. */
int bq_cosim_v2_run(bq_cosim_result *r, const bq_acc *acc, const bq_qmodel *q, const bq_hwcfg *cfg,
                    const float *x, const int *labels, int n, const bq_cosim_opts *o, FILE *log,
                    char *err, size_t errlen);

#endif
