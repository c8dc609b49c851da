/* v2_exec.c — the executor of v2_exec.h (moved from test_v2_exec.c; the checks that were cmocka
 * asserts are now -1 with a message). */
#include "v2_exec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record the first failure in x->err; always -1. */
static int failf(v2_machine *x, const char *fmt, ...) {
    if (!x->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, sizeof x->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint8_t *wrow(v2_machine *x, int bank, long row) {
    return x->wbank + ((size_t)bank * x->cfg->weight_depth + (size_t)(row % x->cfg->weight_depth)) *
                          (size_t)(x->cfg->dk / 8);
}
static uint8_t *arow(v2_machine *x, int bank, long row) {
    return x->abank + ((size_t)bank * x->cfg->act_depth + (size_t)(row % x->cfg->act_depth)) *
                          (size_t)(x->cfg->dk / 8);
}

/* The timing view of a WIN (its fill profile in the program's table) must list exactly the
 * bursts win.c made, so the latency model times what the window unit does. */
static int check_profile(v2_machine *x, const bq_program *pr, uint64_t key, const bq_win_result *wr) {
    int prof = (int)BQ_T_BEATS(key);
    if (prof < 0 || prof >= pr->nwp) return failf(x, "WIN: fill profile %d of %d", prof, pr->nwp);
    if (pr->wp_n[prof] != wr->nbursts)
        return failf(x, "WIN: profile %d has %d bursts, win.c made %d", prof, pr->wp_n[prof], wr->nbursts);
    for (int b = 0; b < wr->nbursts; b++)
        if (pr->wp_beats[pr->wp_off[prof] + b] != wr->bursts[b].beats)
            return failf(x, "WIN: profile %d burst %d has %u beats, win.c %u", prof, b,
                         (unsigned)pr->wp_beats[pr->wp_off[prof] + b], (unsigned)wr->bursts[b].beats);
    /* completion = (last beat + 1, or dispatch + 1) + assembly - 1, win.c's own cycle count */
    if (!(pr->wp_asm[prof] >= 1 && pr->wp_asm[prof] <= wr->complete))
        return failf(x, "WIN: profile %d assembles in %lld cycles, win.c completes in %lld", prof,
                     (long long)pr->wp_asm[prof], (long long)wr->complete);
    x->profiles_checked++;
    return 0;
}

static int do_fetch(v2_machine *x, const bq_instr *in, const bq_program *pr, uint64_t key) {
    const bq_hwcfg *c = x->cfg;
    char err[256] = "";
    if (in->op == BQ_OP_SETUP) {
        x->ws = (bq_win_setup){.hi = in->in_h, .wi = in->in_w, .wo = in->out_w, .kh = in->kh,
                               .kw = in->kw, .stride = in->stride, .pad_t = in->pad_t,
                               .pad_l = in->pad_l, .cs = in->cs, .ch_base = in->ch_base,
                               .ch_lo = in->ch_lo, .ch_hi = in->ch_hi, .z_a = in->z_a};
        return 0;
    }
    if (in->op != BQ_OP_RUN) return 0;
    if (in->target == BQ_TGT_WIN) {
        bq_win_run r = {.dram_addr = in->dram_addr, .pix0 = in->pix0, .kc0 = in->kc0, .t = in->t,
                        .nplanes = in->nplanes, .buf_base = in->buf_base, .keep = in->keep};
        bq_win_result wr;
        if (bq_win_exec(&x->wc, &x->ws, &r, x->mem, x->mem_len, NULL, &wr, err, sizeof err))
            return failf(x, "WIN: %s", err);
        int rc = check_profile(x, pr, key, &wr);
        for (long i = 0; i < wr.nwrites && !rc; i++)
            memcpy(arow(x, wr.writes[i].bank, wr.writes[i].row), wr.wdata + i * (c->dk / 8),
                   (size_t)c->dk / 8);
        bq_win_result_free(&wr);
        return rc;
    }
    int D = in->target == BQ_TGT_A ? c->dn : c->dm;
    int unit = in->target == BQ_TGT_RQ ? 16 : c->dk / 8;
    for (int p = 0; p < in->nplanes; p++) {
        size_t base = in->dram_addr + (size_t)p * in->plane_stride;
        if (base + (size_t)in->t * D * unit > x->mem_len)
            return failf(x, "fetch: bytes %zu .. %zu beyond the memory image (%zu)", base,
                         base + (size_t)in->t * D * unit, x->mem_len);
        for (long u = 0; u < (long)in->t * D; u++) {
            const uint8_t *src = x->mem + base + (size_t)u * unit;
            int bank = (int)(u % D);
            long row = in->buf_base + (long)p * in->t + u / D;
            if (in->target == BQ_TGT_W) memcpy(wrow(x, bank, row), src, (size_t)unit);
            else if (in->target == BQ_TGT_A) memcpy(arow(x, bank, row), src, (size_t)unit);
            else {
                if (row >= x->rq_entries)
                    return failf(x, "fetch RQ: entry %ld beyond the %d of a bank", row, x->rq_entries);
                bq_codes_rq *r = &x->rqram[bank * x->rq_entries + row];
                memcpy(&r->bias_eff, src, 4);
                memcpy(&r->m_acc, src + 4, 4);
                memcpy(&r->m_res, src + 8, 4);
                r->z_w = src[12];
                r->sh = src[13];
            }
        }
    }
    return 0;
}

static int popc(const uint8_t *a, const uint8_t *b, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += __builtin_popcount((unsigned)(a[i] & b[i]));
    return s;
}

/* hw_isa.md §1: the beats of one execute RUN. */
static void do_exec(v2_machine *x, const bq_instr *in) {
    const bq_hwcfg *c = x->cfg;
    const int dm = c->dm, dn = c->dn, wordb = c->dk / 8;
    if (in->op != BQ_OP_RUN) return;
    if (in->clear) {
        memset(x->acc, 0, sizeof x->acc);
        memset(x->asum, 0, sizeof x->asum);
    }
    uint8_t ones[512];
    memset(ones, 0xff, sizeof ones);
    for (int ii = 0; ii < in->wn; ii++)
        for (int jj = 0; jj < in->an; jj++)
            for (int kc = 0; kc < in->nk; kc++) {
                int i = in->w0 + ii, j = in->a0 + jj;
                long wa = in->wbase + (long)ii * in->wstride + kc, aa = in->abase + (long)jj * in->astride + kc;
                int neg = (i == in->wbits - 1 && in->wsigned) ^ (j == in->abits - 1 && in->asigned);
                for (int ni = 0; ni < dn; ni++) {
                    const uint8_t *av = arow(x, ni, aa);
                    for (int mi = 0; mi < dm; mi++) {
                        uint32_t term = (uint32_t)popc(wrow(x, mi, wa), av, wordb) << (i + j);
                        x->acc[ni * dm + mi] = (int32_t)((uint32_t)x->acc[ni * dm + mi] + (neg ? -term : term));
                    }
                    if (in->asum && ii == 0) {
                        uint32_t term = (uint32_t)popc(ones, av, wordb) << j;
                        int sneg = j == in->abits - 1 && in->asigned;
                        x->asum[ni] = (int32_t)((uint32_t)x->asum[ni] + (sneg ? -term : term));
                    }
                }
            }
    if (in->commit) {
        memcpy(x->slot, x->acc, sizeof x->slot);
        memcpy(x->slot_asum, x->asum, sizeof x->slot_asum);
    }
}

static int do_result(v2_machine *x, const bq_instr *in) {
    const bq_hwcfg *c = x->cfg;
    char err[256] = "";
    const int dm = c->dm;
    if (in->op == BQ_OP_SETUP) {
        bq_codes_setup_regs s = {.out_base = in->out_base, .res_base = in->res_base,
                                 .cs_out = in->cs_out, .cs_res = in->cs_res, .z_r = in->z_r};
        if (bq_codes_setup(&x->cs, &s, err, sizeof err)) return failf(x, "result SETUP: %s", err);
        return 0;
    }
    bq_codes_rq rq[V2_EXEC_MAX_D];
    for (int mi = 0; mi < dm; mi++) rq[mi] = x->rqram[mi * x->rq_entries + in->rq_entry];
    if (in->op == BQ_OP_RUNC) {
        bq_codes_run_f r = {.n0 = in->n0, .ch0 = in->ch0, .npix = in->npix, .mrows = in->mrows,
                            .first = in->first, .flush = in->flush, .res = in->res, .z_o = in->z_o,
                            .lo = in->lo, .hi = in->hi, .rq_entry = in->rq_entry, .sig0 = in->sig0,
                            .sig1 = in->sig1};
        bq_codes_timing t;
        if (bq_codes_run(&x->cs, &r, x->slot, x->slot_asum, rq, x->mem, x->mem_len, NULL, &t, err,
                         sizeof err))
            return failf(x, "RUNC: %s", err);
        return 0;
    }
    if (in->op == BQ_OP_RUN) {   /* RAW32: acc0 per element */
        if (in->mode != 1) return failf(x, "result RUN: mode %d, only RAW32 (1) in v2", in->mode);
        for (int e = 0; e < dm * c->dn; e++) {
            const bq_codes_rq *r = &rq[e % dm];
            int32_t acc0 = (int32_t)((uint32_t)x->slot[e] - (uint32_t)r->z_w * (uint32_t)x->slot_asum[e / dm] +
                                     (uint32_t)r->bias_eff);
            if (in->out_addr + 4u * (uint32_t)e + 4 > x->mem_len)
                return failf(x, "RAW32: word at %u beyond the memory image", in->out_addr + 4u * (uint32_t)e);
            memcpy(x->mem + in->out_addr + 4 * e, &acc0, 4);
        }
    }
    return 0;
}

/* Token rules of docs/hw_isa.md §3 / whole_network.md §4.5, functionally: can the head dispatch? */
static int ready(const v2_machine *x, int st, const bq_instr *in) {
    if (st == BQ_STAGE_FETCH)
        return (!in->wait0 || x->tok[BQ_TOK_FREED]) && (!in->wait1 || x->tok[BQ_TOK_WRITTEN]);
    if (st == BQ_STAGE_EXEC)
        return (!in->wait0 || x->tok[BQ_TOK_FILLED]) && (!in->wait1 || x->tok[BQ_TOK_RESFREE]);
    return !in->wait0 || x->tok[BQ_TOK_RESRDY];
}

static int dispatch(v2_machine *x, int st, const bq_instr *in, const bq_program *pr, uint64_t key) {
    static const int waits[3][2] = {{BQ_TOK_FREED, BQ_TOK_WRITTEN}, {BQ_TOK_FILLED, BQ_TOK_RESFREE},
                                    {BQ_TOK_RESRDY, -1}};
    static const int sigs[3][2] = {{BQ_TOK_FILLED, -1}, {BQ_TOK_FREED, BQ_TOK_RESRDY},
                                   {BQ_TOK_RESFREE, BQ_TOK_WRITTEN}};
    int rc = 0;
    if (in->wait0) x->tok[waits[st][0]]--;
    if (in->wait1 && waits[st][1] >= 0) x->tok[waits[st][1]]--;
    if (st == BQ_STAGE_FETCH) rc = do_fetch(x, in, pr, key);
    else if (st == BQ_STAGE_EXEC) do_exec(x, in);
    else rc = do_result(x, in);
    if (in->sig0) x->tok[sigs[st][0]]++;
    if (in->sig1 && sigs[st][1] >= 0) x->tok[sigs[st][1]]++;
    return rc;
}

int v2_exec_init(v2_machine *x, const bq_hwcfg *c, uint8_t *mem, size_t mem_len, char *err,
                 size_t errlen) {
    memset(x, 0, sizeof *x);
    if (c->dm > V2_EXEC_MAX_D || c->dn > V2_EXEC_MAX_D || c->dk / 8 > 512) {
        snprintf(err, errlen, "v2_exec: array %d x %d x %d beyond the executor's %d x %d x 4096",
                 c->dm, c->dn, c->dk, V2_EXEC_MAX_D, V2_EXEC_MAX_D);
        return -1;
    }
    x->cfg = c;
    x->mem = mem;
    x->mem_len = mem_len;
    x->wbank = calloc((size_t)c->dm * c->weight_depth, (size_t)c->dk / 8);
    x->abank = calloc((size_t)c->dn * c->act_depth, (size_t)c->dk / 8);
    x->rq_entries = c->requant_depth / c->dm;
    x->rqram = calloc((size_t)c->requant_depth, sizeof *x->rqram);
    if (!x->wbank || !x->abank || !x->rqram) {
        v2_exec_free(x);
        snprintf(err, errlen, "v2_exec: out of memory for the banks");
        return -1;
    }
    bq_codes_cfg cc = {.dm = c->dm, .dn = c->dn, .lanes = c->res_lanes, .w_bits = c->mem_width_bits,
                       .lr = 1, .rr = 1, .lw = 1, .rw = 1, .block_channels = c->block_channels};
    if (bq_codes_init(&x->cs, &cc, err, errlen)) {
        free(x->wbank);
        free(x->abank);
        free(x->rqram);
        x->wbank = x->abank = NULL;
        x->rqram = NULL;
        return -1;
    }
    x->wc = (bq_win_cfg){.dn = c->dn, .dk = c->dk, .w_bits = c->mem_width_bits, .lr = 1, .rr = 1,
                         .window_bytes = c->window_bytes};
    return 0;
}

void v2_exec_free(v2_machine *x) {
    if (x->wbank) bq_codes_free(&x->cs);
    free(x->wbank);
    free(x->abank);
    free(x->rqram);
    x->wbank = x->abank = NULL;
    x->rqram = NULL;
}

int v2_exec_run(v2_machine *x, const bq_program *pr, int policy, char *err, size_t errlen) {
    int pc[3] = {0, 0, 0};
    static const int order[2][3] = {{BQ_STAGE_FETCH, BQ_STAGE_EXEC, BQ_STAGE_RESULT},
                                    {BQ_STAGE_RESULT, BQ_STAGE_EXEC, BQ_STAGE_FETCH}};
    x->err[0] = 0;
    for (;;) {
        int moved = 0;
        for (int k = 0; k < 3 && !moved; k++) {
            int st = order[policy][k];
            if (pc[st] < pr->len[st] && ready(x, st, &pr->ins[st][pc[st]])) {
                if (dispatch(x, st, &pr->ins[st][pc[st]], pr, pr->tins[st][pc[st]].key)) {
                    snprintf(err, errlen, "stage %d instruction %d: %s", st, pc[st], x->err);
                    return -1;
                }
                pc[st]++;
                moved = 1;
            }
        }
        if (!moved) break;
    }
    for (int st = 0; st < 3; st++)
        if (pc[st] != pr->len[st]) {
            snprintf(err, errlen, "deadlock: stage %d stopped at instruction %d of %d (tokens "
                     "FREED %d WRITTEN %d FILLED %d RESFREE %d RESRDY %d)", st, pc[st], pr->len[st],
                     x->tok[BQ_TOK_FREED], x->tok[BQ_TOK_WRITTEN], x->tok[BQ_TOK_FILLED],
                     x->tok[BQ_TOK_RESFREE], x->tok[BQ_TOK_RESRDY]);
            return -1;
        }
    for (int t = 0; t < BQ_NTOK; t++)
        if (x->tok[t]) {
            snprintf(err, errlen, "token FIFO %d holds %d at the end of the program (the epilogue "
                     "must return every FIFO to 0)", t, x->tok[t]);
            return -1;
        }
    return 0;
}
