/*
 * isa.h — binary encoding of the accelerator instructions (docs/hw_isa.md section 3: v1, and the
 * v2 encodings of §3.5 that the RTL does not execute yet).
 *
 * Every instruction is 128 bits = 4 little-endian uint32 words (word0 = bits 31:0). The decoded
 * form is bq_instr (hwsched.h); encode and decode are exact inverses on every encoded field.
 * Which fields an instruction has is its *variant*, chosen by (stage, op, fetch target):
 * bq_isa_variant. v1 instructions (SYNC, RUN with fetch targets W/A/RQ) are variant RUN and keep
 * their v1 bits.
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

#include <stddef.h>
#include <stdint.h>

#include "hwsched.h"

/* The newest ISA the RTL implements (bqa_pkg::IsaVersion). The VERSION register reads it on a
 * build with the v2 units (window_bytes > 0) and 1 on a v1-only build: bq_hwcfg_isa_version. */
#define BQ_ISA_VERSION 2
#define BQ_ISA_BITS 128      /* one instruction */
#define BQ_ISA_HEAD_BITS 16  /* bits 15:0, common to all queues (op, wait*, sig*) */

/* The field table: the one definition of the instruction layout. bq_isa_encode/bq_isa_decode walk
 * it, and hwgen --pkg emits it as the SystemVerilog package bqa_pkg (one packed struct per queue,
 * docs/hw_rtl.md), so the C side and the RTL cannot disagree; tests/hw/test_isa.cpp checks the
 * generated package against this table through Verilator. */
enum { BQ_ISA_COMMON = -1 };           /* stage of the fields of bits 15:0 (every queue) */
enum { BQ_ISA_M1 = 1,                  /* encoded as value - 1 (value >= 1); SV name gets "_m1" */
       BQ_ISA_NZ = 2 };                /* value must be >= 1, encoded as is */
enum { BQ_ISA_ENUM_NONE = 0, BQ_ISA_ENUM_OP = 1, BQ_ISA_ENUM_TARGET = 2 };
/* Field variants (docs/whole_network.md §4). RUN: the v1 RUN of each stage (fetch targets W/A/RQ);
 * WIN: fetch RUN with target WIN; SETUP: fetch and result SETUP; CODES: result RUNC. */
enum { BQ_ISA_V_RUN = 0, BQ_ISA_V_WIN = 1, BQ_ISA_V_SETUP = 2, BQ_ISA_V_CODES = 3, BQ_ISA_NVARIANTS = 4 };
typedef struct {
    const char *name;   /* bq_instr member; the SV struct member is name (+ "_m1" with BQ_ISA_M1) */
    int8_t stage;       /* BQ_STAGE_* or BQ_ISA_COMMON */
    uint8_t variant;    /* BQ_ISA_V_* (0 for the common fields) */
    uint8_t lsb, width; /* bit position in the 128-bit instruction, width 1..32 (never crosses a word) */
    uint8_t flags;      /* BQ_ISA_M1 | BQ_ISA_NZ */
    uint8_t enum_id;    /* BQ_ISA_ENUM_*: SV type of the member (op_e, target_e) */
    uint16_t offset;    /* offsetof(bq_instr, name) */
    uint8_t size;       /* sizeof that member: 1, 2 or 4 */
} bq_isa_field;
extern const bq_isa_field bq_isa_fields[];
extern const int bq_isa_nfields;

/* The (stage, variant) pairs that have fields, in package order: hwgen --pkg emits one packed struct
 * per kind (sv_type) and tests/hw/test_isa.cpp probes each. `op`/`target`: an instruction of the
 * kind (target only for the fetch stage). */
typedef struct {
    int8_t stage;
    uint8_t variant, op, target;
    const char *sv_type, *what;
} bq_isa_kind;
extern const bq_isa_kind bq_isa_kinds[];
extern const int bq_isa_nkinds;

/* Variant of an instruction of `stage` with `op` (and, for fetch RUN, `target`); -1 when it has no
 * fields besides the head (SYNC) or is illegal (SETUP in execute, RUNC outside result, op > 3). */
int bq_isa_variant(int stage, int op, int target);

/* 1 if the v1 RTL executes *in (SYNC, or RUN with a fetch target W/A/RQ), else 0 (a v2 encoding). */
int bq_isa_is_v1(const bq_instr *in);

/* The table's invariants: every field inside its part (head 15:0, the rest 127:16), none crossing a
 * 32-bit word or wider than its bq_instr member, no two fields of the same (stage, variant) or of the
 * head overlapping, enum widths, and the fetch target at the same bits in RUN and WIN (decode reads
 * it to choose the variant). 0, or -1 with the first violation in err. */
int bq_isa_check(char *err, size_t errlen);

/* The SV enums: every value of an enum_id (type name, member name, value); ends with {0}. */
typedef struct {
    uint8_t enum_id;
    const char *sv_type, *sv_name;
    uint8_t width, value;
} bq_isa_enumval;
extern const bq_isa_enumval bq_isa_enumvals[];

/* Value of field f in *in as stored in bq_instr (not yet minus 1) / store it. */
uint32_t bq_isa_field_get(const bq_instr *in, const bq_isa_field *f);
void bq_isa_field_set(bq_instr *in, const bq_isa_field *f, uint32_t v);

/* Pack in (in->stage, in->op and the fetch in->target select the variant) into w[0..3]. Fields
 * wider than their encoding are a scheduler bug: returns -1 (w still filled with the truncated
 * values), else 0. An op without fields (SYNC, or illegal in the stage) encodes the head only. */
int bq_isa_encode(const bq_instr *in, uint32_t w[4]);

/* Unpack w for a queue of `stage` into *out (the derived fields beats/beats2 are left 0).
 * Returns 0, or -1 for an opcode illegal in that queue. v2 instructions decode (check
 * bq_isa_is_v1 where only v1 may run). */
int bq_isa_decode(int stage, const uint32_t w[4], bq_instr *out);

#endif
