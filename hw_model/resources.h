/*
 * resources.h — FPGA resource estimate of an accelerator config (issue 23 item 2).
 *
 * The estimate is a documented formula over the YAML parameters (docs/resource_model.md), built
 * from per-module terms and calibrated on yosys `synth_xilinx -family xc7` runs
 * (docs/resource_calib.json). BRAM and DSP counts follow yosys's mapping rules exactly; LUT and FF
 * counts are fitted and checked on held-out configs.
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
} bq_resources;

/* Estimate a config's resources from its YAML parameters. 0, or -1 + one-line message. */
int bq_resources_estimate(const bq_hwcfg *cfg, bq_resources *r, char *err, size_t errlen);

#endif
