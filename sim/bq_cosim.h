/*
 * bq_cosim.h — the host driver of a co-simulation: a quantized model runs layer by layer on an
 * accelerator reached through bq_acc.h, and every layer is checked bit for bit against the integer
 * reference (sw/quant/intref.h) and cycle for cycle against the latency model (hw_model/latency.h).
 *
 * Per image, in node order (the order of bq_intnet_forward):
 *   input quantization (host) -> for every conv/linear layer: im2col of the RTL's previous codes
 *   (bq_intref_im2col) -> bit-planes (bq_pack_acts); packed weights (bq_pack_weights), 16-byte
 *   requant records (docs/hw_isa.md §2.4), residual tile planes (bq_pack_tiles) written to memory;
 *   the scheduler's program (bq_sched_build + bq_isa_encode) pushed to the three queues; run;
 *   (with opts.pkg: the package's weights, requant records, addresses and programs instead, and
 *   the outputs also compared with its self-test vectors; docs/cosim.md "From the package")
 *   output tiles read back (bq_unpack_tiles) and compared with the reference codes (or acc0 logits);
 *   counters (CYCLES, per-stage busy/idle/stall, beats) compared with bq_latency_program.
 *   GAP / max pool / flatten run on the host (listed in the report as host layers).
 * The next layer always consumes the codes the RTL produced, not the reference's.
 *
 * Example:
 *   bq_cosim_opts o; bq_cosim_opts_default(&o);
 *   bq_cosim_result r;
 *   if (bq_cosim_run(&r, &acc, &q, &cfg, x, labels, n, &o, stdout, err, sizeof err)) die(err);
 *   bq_cosim_write_json(&r, "cosim_report.json", err, sizeof err);
 *   bq_cosim_result_free(&r);
 */
#ifndef BQ_COSIM_H
#define BQ_COSIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bq_acc.h"
#include "bq_pkg.h"
#include "bq_selftest_pkg.h"
#include "hwcfg.h"
#include "quant/qmodel.h"

/* Counters compared per layer, in this order (register addresses in docs/hw_isa.md §5). */
enum {
    BQ_CTR_CYCLES = 0, BQ_CTR_F_BUSY, BQ_CTR_F_IDLE, BQ_CTR_F_STALL, BQ_CTR_E_BUSY, BQ_CTR_E_IDLE,
    BQ_CTR_E_STALL, BQ_CTR_R_BUSY, BQ_CTR_R_IDLE, BQ_CTR_R_STALL, BQ_CTR_E_BEATS, BQ_CTR_RD_BEATS,
    BQ_CTR_WR_BEATS, BQ_NCTR
};
extern const char *const bq_ctr_names[BQ_NCTR];

/* Fault injection (tests/cosim): one bit flipped in what the driver writes for one layer. */
typedef enum {
    BQ_FAULT_NONE = 0,
    BQ_FAULT_WEIGHT,    /* bit `bit` of the layer's packed weight bytes (group 0) */
    BQ_FAULT_REQUANT,   /* bit `bit` of the layer's requant records (record c = bits 128c..) */
    BQ_FAULT_INSTR,     /* bit `bit` (0..127) of the layer's first execute instruction */
} bq_fault_kind;

typedef struct {
    int first_image;         /* index into the test set of image 0 */
    const char *trace_path;  /* FST of the first mismatching layer (re-run traced); NULL: none */
    bq_fault_kind fault;
    char fault_layer[48];    /* layer (node) name the fault applies to */
    long fault_bit;
    int64_t max_cycles;      /* per layer run, time-out = failure; 0: 4x the model's cycles + 100000 */
    int stop_on_mismatch;    /* stop after the first image with a mismatch */
    const bq_pkg *pkg;       /* export package: its weights, requant records, addresses and
                                programs are what the accelerator gets (differences from the
                                driver's own lowering fail the run), its self-test vectors are
                                compared too; NULL: the driver's own packing and programs */
    char until[48];          /* "": whole network; else stop each image after this layer (tests) */
    int bits_only;           /* 1: only output bits (and time-outs) fail a run; the counters are
                                compared with the latency model as information (a memory that is
                                not the ideal model, docs/bringup.md) */
    char trace_layer[48];    /* --trace: waveform of this layer's run on the first image; "" none */
    int64_t trace_from, trace_to;   /* its cycle window after run_i rises; to < 0: whole run */
    const char *trace_file;  /* where that waveform goes */
    int per_layer;           /* v2 build (window_bytes > 0): 1 runs the per-layer (v1) programs
                                instead of the whole-network program (sim/bq_cosim_v2.h) */
    const bq_st_pkg *pkg3;   /* v2 build: a whole-network package (format version 3, read by
                                bq_st_pkg_load): its weights, requant records and program are what
                                the accelerator gets, its self-test vectors are compared; NULL none */
} bq_cosim_opts;

void bq_cosim_opts_default(bq_cosim_opts *o);

typedef struct {
    char name[48];
    int node, layer;          /* graph node; qmodel layer index or -1 (host layer) */
    int on_acc;               /* 1 accelerator, 0 host */
    const char *host_op;      /* host layers: "gap", "maxpool", "flatten"; whole-network
                                 layers (all on the accelerator): "conv", "depthwise", "gap", "linear" */
    int m, k, n, groups, wbits, abits, obits, rbits, raw32, order;
    int64_t rtl[BQ_NCTR];     /* counters of image 0 */
    int64_t model[BQ_NCTR];   /* latency model (same program) */
    int64_t worst_cycle_err;  /* max over images of |rtl CYCLES - model cycles| */
    long counter_mismatch_images;   /* images where any counter differs */
    long mismatches;          /* output elements that differ, over all images */
    double wall_s;            /* wall time of the RTL runs of this layer, all images */
} bq_cosim_layer;

typedef struct {
    int valid, image;         /* image index in the test set */
    char layer[48];
    int channel, y, x;        /* output element (x = y = 0 for linear) */
    long expected, got;
    char trace[256];          /* FST of the re-run layer, "" if none */
} bq_cosim_first;

typedef struct {
    char hw[32], model[64], backend[16];
    char package[512];        /* export package used, "" if none */
    long package_diffs;       /* layers whose package bytes, addresses or programs differ from the
                                 driver's own lowering (each also logged with the first place) */
    int selftest_images;      /* images of the run with a self-test vector in the package */
    long selftest_layers;     /* accelerator layer runs compared with tests.bin */
    long selftest_mismatches; /* output elements that differ from tests.bin */
    uint64_t hw_hash, q_hash;
    int n_layers;             /* entries of `layers` (accelerator and host layers, node order) */
    bq_cosim_layer *layers;
    int images;               /* images completed */
    long mismatches;          /* differing output elements, all layers and images */
    long logit_mismatches;    /* of which in the classifier */
    long cycle_mismatches;    /* (layer, image) pairs whose CYCLES differ from the model */
    long counter_mismatches;  /* (layer, image) pairs where any counter differs */
    int64_t worst_cycle_err;
    long timeouts;
    int partial;              /* 1: images stopped at opts.until (no logits compared) */
    int pred_agree;           /* images whose RTL argmax equals the reference argmax */
    int correct_rtl;          /* images whose RTL argmax equals the label */
    int64_t sim_cycles;       /* total CYCLES of all runs */
    double wall_s;            /* wall time of all RTL runs (incl. host steps between layers) */
    bq_cosim_first first;
    int first_image;          /* test-set index of the run's image 0 */
    int bits_only;            /* the mode of the run (opts.bits_only) */
    char trace[256];          /* --trace waveform written, "" if none */
    char fault[96];           /* --fault KIND:LAYER:BIT of the run, "" if none */
    const char *fault_effect; /* "output" (an output differed or a time-out), "counters" (only
                                 counters differed), "none" (nothing changed: a warning); NULL */
    const char *program;      /* "per-layer" (one start per layer, host steps between) or
                                 "whole-network" (ISA v2: one start per image, sim/bq_cosim_v2.h) */
    char program_note[320];   /* a v2 build running per-layer: why ("" otherwise) */
    int64_t net_rtl[BQ_NCTR];   /* whole-network: the counters of image 0's one run */
    int64_t net_model[BQ_NCTR]; /* whole-network: the latency model's dry run of the program */
    long net_instrs[3];         /* whole-network: instructions pushed per queue */
} bq_cosim_result;

/* Read the accelerator's read-only configuration registers and compare them with cfg (ID,
 * VERSION, DM, DN, DK, ACC_BITS, depths, memory width, lanes, config hash). Returns 0, or -1 with
 * "register NAME = v, configs/hw/x.yaml says w; rebuild the simulator for this config". */
int bq_cosim_check_regs(const bq_acc *acc, const bq_hwcfg *cfg, const char *cfg_path, char *err,
                        size_t errlen);

/* Run n images (x: (n, c, h, w) normalised floats, labels may be NULL) through q on acc.
 * Fills r (free with bq_cosim_result_free). Progress and mismatches go to log (may be NULL).
 * Returns 0 when the run completed (mismatches are in r, not an error), -1 with err on an
 * input/infrastructure error (model not integer-ready, layer does not fit cfg, I/O). */
int bq_cosim_run(bq_cosim_result *r, const bq_acc *acc, const bq_qmodel *q, const bq_hwcfg *cfg,
                 const float *x, const int *labels, int n, const bq_cosim_opts *o, FILE *log,
                 char *err, size_t errlen);
void bq_cosim_result_free(bq_cosim_result *r);
/* The verdict: no output mismatch (integer reference and, with a package, its self-test vectors),
 * no time-out, no package difference, and (strict mode) every counter equal to the latency model. */
int bq_cosim_passed(const bq_cosim_result *r);

/* Shared with the whole-network driver (sim/bq_cosim_v2.c). counters_match: every counter equal
 * to the model's (acc->idle_after_done: the three idle counters may exceed it by one equal
 * amount). note_first: record the first mismatch (once per run); p is the pixel index, wout the
 * image width (y = p / wout, x = p % wout). */
int bq_cosim_counters_match(const bq_acc *acc, const int64_t ctr[BQ_NCTR], const int64_t model[BQ_NCTR]);
void bq_cosim_note_first(bq_cosim_result *r, int image, const char *layer, int c, int p, int wout,
                         long want, long got);

/* Reports (docs/cosim.md "Report"). 0, or -1 with err. */
int bq_cosim_write_json(const bq_cosim_result *r, const char *path, char *err, size_t errlen);
int bq_cosim_write_md(const bq_cosim_result *r, const char *path, char *err, size_t errlen);

#endif
