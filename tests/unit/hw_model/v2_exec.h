/*
 * v2_exec.h — the instruction-level C executor of whole-network ISA v2 programs (moved out of
 * test_v2_exec.c so the lowering test tests/unit/lower/test_lower_v2_exec.c runs real models on
 * it): fetch W / RQ as docs/hw_isa.md §3.1, WIN through win.c, execute by the bit-serial
 * arithmetic of hw_isa.md §1 on the bank words, results through codes.c (CODES) or as RAW32,
 * under one of two token-respecting interleavings. Plain C11, no test framework: errors are
 * returned as -1 with a one-line message.
 *
 * Example:
 *   v2_machine *x = malloc(sizeof *x);
 *   if (v2_exec_init(x, &cfg, mem, mem_len, err, sizeof err) ||
 *       v2_exec_run(x, &prog, 0, err, sizeof err)) ...report err...
 *   v2_exec_free(x);
 */
#ifndef BQ_V2_EXEC_H
#define BQ_V2_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "codes.h"
#include "hwcfg.h"
#include "hwsched.h"
#include "win.h"

#define V2_EXEC_MAX_D 128   /* largest Dm, Dn the executor's accumulators hold */

typedef struct {
    const bq_hwcfg *cfg;
    uint8_t *mem;             /* the memory image (the caller's) */
    size_t mem_len;
    uint8_t *wbank, *abank;   /* [bank][row][Dk/8] */
    bq_codes_rq *rqram;       /* [bank][entry] */
    int rq_entries;
    int32_t acc[V2_EXEC_MAX_D * V2_EXEC_MAX_D], asum[V2_EXEC_MAX_D];
    int32_t slot[V2_EXEC_MAX_D * V2_EXEC_MAX_D], slot_asum[V2_EXEC_MAX_D];
    bq_win_cfg wc;
    bq_win_setup ws;
    bq_codes_state cs;
    int tok[BQ_NTOK];
    long profiles_checked;    /* WIN fill profiles found equal to win.c's bursts */
    char err[256];            /* the first failure */
} v2_machine;

/* Banks, requant RAM and result stage for cfg over mem[0 .. mem_len). 0, or -1 with the message. */
int v2_exec_init(v2_machine *x, const bq_hwcfg *cfg, uint8_t *mem, size_t mem_len, char *err,
                 size_t errlen);
void v2_exec_free(v2_machine *x);

/* Run the program to the end. policy 0: fetch runs ahead as far as its tokens allow (a missing
 * FREED wait overwrites a region still in use); policy 1: result, then execute first (a missing
 * FILLED / RESRDY wait reads stale data). Every WIN's fill profile in the program's timing table
 * must list exactly win.c's bursts; at the end every stage is done and every token FIFO is 0.
 * 0, or -1 with the message (a WIN / RUNC the units refuse, an access beyond mem, a deadlock). */
int v2_exec_run(v2_machine *x, const bq_program *pr, int policy, char *err, size_t errlen);

#endif
