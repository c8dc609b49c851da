/*
 * resources.h — FPGA resource estimate of an accelerator config (issue 23 item 2).
 *
 * The estimate is a documented formula over the YAML parameters (docs/resource_model.md): the
 * design is synthesised hierarchically (each distinct module once), so a config's total is the sum
 * over the modules of bqa_top of (instances x the module's own cells), and each module's own cells
 * are a short formula in its RTL parameters. BRAM and LUTRAM counts follow yosys's memory mapping
 * rules exactly (the costs in yosys's xc7 BRAM/LUTRAM libraries, not fitted); DSPs are 3 per requant
 * lane; LUT and FF terms are calibrated on yosys `synth_xilinx -family xc7` runs
 * (docs/resource_calib.json, `make resource-calib`) and checked on held-out runs.
 *
 * Example:
 *   bq_resources r; char err[256];
 *   if (bq_resources_estimate(&cfg, &r, err, sizeof err)) { fprintf(stderr, "%s\n", err); ... }
 *   printf("%ld LUT, %ld FF, %ld RAMB18, %ld DSP\n", r.lut, r.ff, r.bram18, r.dsp);
 */
#ifndef BQ_RESOURCES_H
#define BQ_RESOURCES_H

#include <stddef.h>

#include "hwcfg.h"

typedef struct {
    long lut;     /* LUT-equivalents on xc7 (yosys synth_xilinx), the model's estimate */
    long ff;      /* flip-flops */
    long bram18;  /* RAMB18 count; one RAMB36 counts as 2 */
    long dsp;     /* DSP48E1 */
    /* added after the interface above was fixed */
    long ramb36;  /* of bram18: how many came as RAMB36E1 (each counted as 2 in bram18) */
    long lutram;  /* LUTRAM cells (RAM32M / RAM64M / RAM128X1D), not counted in lut */
} bq_resources;

/* Estimate a config's resources from its YAML parameters. 0, or -1 + one-line message. */
int bq_resources_estimate(const bq_hwcfg *cfg, bq_resources *r, char *err, size_t errlen);
/* (An ISA v2 build, window_bytes > 0, is refused with one line: its units are not modelled.) */

/* One module's own cells (without its submodules), module named as in hw/ ("bqa_dpu", ...), RTL
 * parameters by name (names[i] = values[i]; missing ones take the RTL's defaults). This is what
 * the calibration runs measure; bq_resources_estimate sums it over bqa_top's instances.
 * 0, or -1 + message (unknown module or parameter). */
int bq_resources_module(const char *module, const char *const *names, const long *values, int n,
                        bq_resources *r, char *err, size_t errlen);

/* How yosys 0.23 (memory_libmap, xc7 libraries) maps a width x depth RAM with one write and one
 * registered read port: adds RAMB18/RAMB36, LUTRAM cells and the read register's FFs to *r. */
void bq_resources_ram(long width, long depth, bq_resources *r);

#endif
