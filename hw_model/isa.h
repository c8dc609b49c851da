/*
 * isa.h — binary encoding of the accelerator instructions (docs/hw_isa.md section 3, v1).
 *
 * Every instruction is 128 bits = 4 little-endian uint32 words (word0 = bits 31:0). The decoded
 * form is bq_instr (hwsched.h); encode and decode are exact inverses on every encoded field.
 *
 * Example (write the execute queue of a built program):
 *   for (int i = 0; i < prog.len[BQ_STAGE_EXEC]; i++) {
 *       uint32_t w[4];
 *       bq_isa_encode(&prog.ins[BQ_STAGE_EXEC][i], w);
 *       fwrite(w, 4, 4, f);   // on a little-endian host
 *   }
 */
#ifndef BQ_ISA_H
#define BQ_ISA_H

#include <stdint.h>

#include "hwsched.h"

#define BQ_ISA_VERSION 1

/* Pack in (in->stage selects the field layout) into w[0..3]. Fields wider than their encoding are
 * a scheduler bug: returns -1 (w still filled with the truncated values), else 0. */
int bq_isa_encode(const bq_instr *in, uint32_t w[4]);

/* Unpack w for a queue of `stage` into *out (the derived fields beats/beats2 are left 0).
 * Returns 0, or -1 for an illegal opcode. */
int bq_isa_decode(int stage, const uint32_t w[4], bq_instr *out);

#endif
