/*
 * latency.c — event simulation of the three stages with the timing of docs/hw_isa.md section 4.
 *
 * Conventions (as in the ISA page): a token pushed in cycle c is visible from c+1; a stage may
 * dispatch its head in the completion cycle of the previous instruction; the memory port serves
 * one transaction at a time, the result stage wins when both request in the same cycle.
 *
 * Events are processed in time order; at equal times result before fetch before execute (only
 * the port grant order matters, and it is the RTL's priority). Every token a stage waits for was
 * pushed by an event at or before its push cycle, so processing in time order is exact.
 */
#include "core/errmsg.h"
#include "latency.h"
#include "codes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INF INT64_MAX

/* ---- token FIFO: visible times of pushed, not yet popped tokens (non-decreasing) ---- */
typedef struct {
    int64_t *v;
    int head, n, cap;   /* ring buffer, cap a power of two */
} tokq;

static int tq_push(tokq *q, int64_t vis) {
    if (q->n == q->cap) {
        int nc = q->cap ? q->cap * 2 : 64;
        int64_t *nv = malloc(sizeof *nv * (size_t)nc);
        if (!nv) return -1;
        for (int i = 0; i < q->n; i++) nv[i] = q->v[(q->head + i) & (q->cap - 1)];
        free(q->v);
        q->v = nv;
        q->head = 0;
        q->cap = nc;
    }
    q->v[(q->head + q->n) & (q->cap - 1)] = vis;
    q->n++;
    return 0;
}
static int64_t tq_front(const tokq *q) { return q->n ? q->v[q->head] : INF; }
static void tq_pop(tokq *q) {
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
}

/* counters that grow with time; shifted together by the skipper */
enum { C_STALL0, C_STALL1, C_STALL2, C_EBEATS, C_RD, C_WR, C_PORT, C_BW, C_BA, C_BRQ, C_BRES,
       C_BOUT, C_SK0, C_SK1, C_SK2, C_NCNT };   /* C_SK*: instructions jumped over per stage */

/* Snapshots kept per loop level: a state that repeats every p iterations (p < SNAP_RING) is
 * found. Near the balance of fetch and execute time (tiny, depthwise, a ~ w/2) the port's reads
 * and writes interleave with a period of several iterations and never repeat after one. */
#define SNAP_RING 8

typedef struct {
    int valid, rec;
    int64_t d;
    int n;
    int64_t vec[64];
    int64_t cnt[C_NCNT];
} snapshot;

typedef struct {
    const bq_program *pr;
    bq_sched_gen *gen;          /* lazy emission (NULL: the program is complete) */
    const bq_hwcfg *cfg;
    int64_t Lr, Lw, Rr, Rw, C, Wb;
    int pc[BQ_NSTAGES];
    int phase[BQ_NSTAGES];      /* 0: head not dispatched; fetch 1: plane request pending;
                                   result 1: residual read pending, 2: write pending */
    int plane;                  /* fetch: plane being requested */
    int64_t req[BQ_NSTAGES];    /* cycle from which the pending port request is presented */
    int64_t free_at[BQ_NSTAGES];/* the stage may dispatch from this cycle (completion cycle) */
    int64_t busy_end[BQ_NSTAGES];/* last cycle of the previous instruction (-1 at start) */
    int64_t last_done[BQ_NSTAGES]; /* for CYCLES: fetch/result completion, exec last beat + 2 */
    int64_t port_free;          /* first cycle in which the port is not busy */
    tokq tq[BQ_NTOK];
    int64_t cnt[C_NCNT];
    int max_tokens;
    int64_t events;
    snapshot snap[2][SNAP_RING];   /* per level: the snapshots of the last iterations, by rec */
} sim;

static int tok_push(sim *s, int t, int64_t vis) {
    if (tq_push(&s->tq[t], vis) != 0) return -1;
    if (s->tq[t].n > s->max_tokens) s->max_tokens = s->tq[t].n;
    return 0;
}

/* Earliest cycle of the stage's next event, INF if blocked on a token not yet pushed or done. */
static int64_t next_time(const sim *s, int st) {
    if (st == BQ_STAGE_FETCH && s->phase[st] == 1) return s->req[st] > s->port_free ? s->req[st] : s->port_free;
    if (st == BQ_STAGE_EXEC && s->phase[st] == 1) {   /* last beat held until RESFREE */
        int64_t v = tq_front(&s->tq[BQ_TOK_RESFREE]);
        return v > s->req[st] ? v : s->req[st];
    }
    if (st == BQ_STAGE_RESULT && s->phase[st] != 0)
        return s->req[st] > s->port_free ? s->req[st] : s->port_free;
    if (s->pc[st] >= s->pr->len[st]) return INF;
    const uint64_t k = s->pr->tins[st][s->pc[st]].key;
    int64_t t = s->free_at[st];
    int w0 = -1, w1 = -1;
    if (st == BQ_STAGE_FETCH) {
        w0 = BQ_T_WAIT0(k) ? BQ_TOK_FREED : -1;
        w1 = BQ_T_WAIT1(k) ? BQ_TOK_WRITTEN : -1;   /* v2: the previous layer's last write */
    }
    else if (st == BQ_STAGE_EXEC) w0 = BQ_T_WAIT0(k) ? BQ_TOK_FILLED : -1;   /* wait1: last beat */
    else w0 = BQ_T_WAIT0(k) ? BQ_TOK_RESRDY : -1;
    if (w0 >= 0) {
        int64_t v = tq_front(&s->tq[w0]);
        if (v > t) t = v;
    }
    if (w1 >= 0) {
        int64_t v = tq_front(&s->tq[w1]);
        if (v > t) t = v;
    }
    return t;
}

static void account_dispatch(sim *s, int st, int64_t d) {
    int64_t from = s->busy_end[st] + 1;
    if (d > from) s->cnt[C_STALL0 + st] += d - from;
}

/* A fetch RUN completes in cycle c: FILLED (sig0) pushed then, the stage free from c. */
static int fetch_done(sim *s, int sig0, int64_t c) {
    if (sig0 && tok_push(s, BQ_TOK_FILLED, c + 1)) return -1;
    s->free_at[BQ_STAGE_FETCH] = s->busy_end[BQ_STAGE_FETCH] = s->last_done[BQ_STAGE_FETCH] = c;
    s->pc[BQ_STAGE_FETCH]++;
    return 0;
}

/* A result instruction completes in cycle c: WRITTEN (sig1, v2) pushed then. */
static int result_done(sim *s, int sig1, int64_t c) {
    if (sig1 && tok_push(s, BQ_TOK_WRITTEN, c + 1)) return -1;
    s->phase[BQ_STAGE_RESULT] = 0;
    s->free_at[BQ_STAGE_RESULT] = s->busy_end[BQ_STAGE_RESULT] = s->last_done[BQ_STAGE_RESULT] = c;
    s->pc[BQ_STAGE_RESULT]++;
    return 0;
}

/* Result compute from cycle sc (C cycles, RESFREE at its last); then the write burst, or (a RUNC
 * without flush) completion at the last compute cycle. */
static int result_compute(sim *s, uint64_t k, int64_t sc) {
    if (BQ_T_SIG0(k) && tok_push(s, BQ_TOK_RESFREE, sc + s->C)) return -1;
    if (BQ_T_OP(k) == BQ_OP_RUNC && BQ_T_BEATS(k) == 0) return result_done(s, BQ_T_SIG1(k), sc + s->C - 1);
    s->phase[BQ_STAGE_RESULT] = 2;
    s->req[BQ_STAGE_RESULT] = sc + s->C;
    return 0;
}

/* Process the event of stage st at time t. Returns 0 or -1 (out of memory). */
static int step(sim *s, int st, int64_t t) {
    const uint64_t k = s->pr->tins[st][s->pc[st]].key;
    const int op = BQ_T_OP(k), wait0 = BQ_T_WAIT0(k), wait1 = BQ_T_WAIT1(k);
    const int sig0 = BQ_T_SIG0(k), sig1 = BQ_T_SIG1(k);
    s->events++;
    if (st == BQ_STAGE_EXEC) {
        /* dispatch in d (FILLED checked here), beats d+1 .. d+N; the last beat (cycle c) is held
         * while the instruction waits for RESFREE (wait1), popped in c; c is the completion. */
        int64_t c;
        if (s->phase[st] == 0) {
            int64_t d = t;
            if (wait0) tq_pop(&s->tq[BQ_TOK_FILLED]);
            account_dispatch(s, st, d);
            int64_t n = op == BQ_OP_RUN ? (int64_t)BQ_T_BEATS(k) : 1;   /* SYNC: one empty beat */
            if (op == BQ_OP_RUN) s->cnt[C_EBEATS] += n;
            if (wait1) {
                s->phase[st] = 1;
                s->req[st] = d + n;
                return 0;
            }
            c = d + n;
        } else {
            c = t;
            tq_pop(&s->tq[BQ_TOK_RESFREE]);
            s->cnt[C_STALL1] += c - s->req[st];   /* hold cycles */
            s->phase[st] = 0;
        }
        if (sig0 && tok_push(s, BQ_TOK_FREED, c + 1)) return -1;
        if (sig1 && tok_push(s, BQ_TOK_RESRDY, c + 3)) return -1;
        s->free_at[st] = c;
        s->busy_end[st] = c;
        s->last_done[st] = c + 2;
        s->pc[st]++;
        return 0;
    }
    if (st == BQ_STAGE_FETCH) {
        const int win = op == BQ_OP_RUN && BQ_T_TARGET(k) == BQ_TGT_WIN;
        if (s->phase[st] == 0) {
            int64_t d = t;
            if (wait0) tq_pop(&s->tq[BQ_TOK_FREED]);
            if (wait1) tq_pop(&s->tq[BQ_TOK_WRITTEN]);
            account_dispatch(s, st, d);
            if (op == BQ_OP_SYNC || op == BQ_OP_SETUP) {   /* SETUP: timed as a SYNC (§4.1) */
                if (sig0 && tok_push(s, BQ_TOK_FILLED, d + 2)) return -1;
                s->free_at[st] = s->busy_end[st] = s->last_done[st] = d + 1;
                s->pc[st]++;
                return 0;
            }
            s->plane = 0;
            if (win && s->pr->wp_n[BQ_T_BEATS(k)] == 0)   /* keep, or no row inside the image */
                return fetch_done(s, sig0, d + s->pr->wp_asm[BQ_T_BEATS(k)]);
            s->phase[st] = 1;
            s->req[st] = d + 1;
            return 0;
        }
        /* grant of plane (WIN: fill burst) `plane` at t */
        const int prof = (int)BQ_T_BEATS(k);
        int64_t a = t, n = win ? s->pr->wp_beats[s->pr->wp_off[prof] + s->plane] : BQ_T_BEATS(k);
        s->cnt[C_STALL0] += a - s->req[st];
        int64_t l = a + s->Lr + (n - 1) * s->Rr;
        s->port_free = l + 1;
        s->cnt[C_RD] += n;
        s->cnt[C_PORT] += l - a + 1;
        s->cnt[BQ_T_TARGET(k) == BQ_TGT_W ? C_BW : BQ_T_TARGET(k) == BQ_TGT_RQ ? C_BRQ : C_BA] += n * s->Wb;
        if (++s->plane < (win ? s->pr->wp_n[prof] : BQ_T_NPLANES(k))) {
            s->req[st] = l + 1;
            return 0;
        }
        s->phase[st] = 0;
        /* WIN: assembly from the cycle after the fill's last beat (docs/whole_network.md §4.2) */
        return fetch_done(s, sig0, win ? l + s->pr->wp_asm[prof] : l);
    }
    /* result */
    if (s->phase[st] == 0) {
        int64_t d = t;
        if (wait0) tq_pop(&s->tq[BQ_TOK_RESRDY]);
        account_dispatch(s, st, d);
        if (op == BQ_OP_SYNC || op == BQ_OP_SETUP) {   /* SETUP: timed as a SYNC (§4.3) */
            if (sig0 && tok_push(s, BQ_TOK_RESFREE, d + 2)) return -1;
            return result_done(s, sig1, d + 1);
        }
        /* v1 RUN: residual read with res; RUNC: only on the block's first tile (beats2 > 0) */
        if (op == BQ_OP_RUNC ? BQ_T_BEATS2(k) > 0 : BQ_T_RES(k)) {
            s->phase[st] = 1;
            s->req[st] = d + 1;
            return 0;
        }
        return result_compute(s, k, d + 1);
    }
    if (s->phase[st] == 1) {   /* residual read granted */
        int64_t a = t, n = BQ_T_BEATS2(k);
        s->cnt[C_STALL2] += a - s->req[st];
        int64_t l = a + s->Lr + (n - 1) * s->Rr;
        s->port_free = l + 1;
        s->cnt[C_RD] += n;
        s->cnt[C_PORT] += l - a + 1;
        s->cnt[C_BRES] += n * s->Wb;
        return result_compute(s, k, l + 1);
    }
    /* write granted */
    int64_t a = t, n = BQ_T_BEATS(k);
    s->cnt[C_STALL2] += a - s->req[st];
    int64_t e = a + 1 + (n - 1) * s->Rw + s->Lw;
    s->port_free = e + 1;
    s->cnt[C_WR] += n;
    s->cnt[C_PORT] += e - a + 1;
    s->cnt[C_BOUT] += n * s->Wb;
    return result_done(s, sig1, e);
}

/* ---- exact steady-state skipping ---- */

static int take_snapshot(const sim *s, snapshot *sn, int level, int rec, int64_t d) {
    const int *base = &s->pr->itbase[level][3 * rec];
    int n = 0;
    sn->valid = 1;
    sn->rec = rec;
    sn->d = d;
    for (int st = 0; st < BQ_NSTAGES; st++) {
        sn->vec[n++] = s->pc[st] - base[st];
        sn->vec[n++] = s->phase[st];
        sn->vec[n++] = s->phase[st] ? s->req[st] - d : 0;
        sn->vec[n++] = s->free_at[st] - d;
        sn->vec[n++] = s->busy_end[st] - d;
    }
    sn->vec[n++] = s->plane;
    sn->vec[n++] = s->port_free > d ? s->port_free - d : 0;
    for (int t = 0; t < BQ_NTOK; t++) {
        const tokq *q = &s->tq[t];
        sn->vec[n++] = q->n;
        for (int i = 0; i < q->n; i++) {
            if (n >= 64) return -1;   /* too many tokens in flight to compare: no skipping */
            int64_t v = q->v[(q->head + i) & (q->cap - 1)] - d;
            sn->vec[n++] = v > 0 ? v : 0;
        }
    }
    sn->n = n;
    memcpy(sn->cnt, s->cnt, sizeof sn->cnt);
    return 0;
}

/* Largest k such that iterations rec .. rec+k-1 (and the head of rec+k) repeat the instructions
 * of iteration rec-1 in every stage, as seen from the stages' current positions. */
static long periodic_span(const sim *s, int level, int rec, const int *len) {
    const bq_program *pr = s->pr;
    const int *ib = pr->itbase[level];
    long k = 0;
    for (;;) {
        long j = k + 1;
        if (rec + j >= pr->nit[level]) break;
        int ok = 1;
        for (int st = 0; st < BQ_NSTAGES && ok; st++) {
            if (ib[3 * (rec + j) + st] - ib[3 * (rec + j - 1) + st] != len[st]) ok = 0;
            /* window of this step: positions pc + (j-1)*len .. pc + j*len (inclusive) */
            long lo = s->pc[st] + (j - 1) * (long)len[st], hi = s->pc[st] + j * (long)len[st];
            for (long x = lo; x <= hi && ok; x++)
                if (x >= pr->len[st] || x - len[st] < 0 ||
                    pr->tins[st][x].key != pr->tins[st][x - len[st]].key)
                    ok = 0;
        }
        if (!ok) break;
        k = j;
    }
    return k;
}

static void shift_all(sim *s, int64_t dt) {
    for (int st = 0; st < BQ_NSTAGES; st++) {
        if (s->phase[st]) s->req[st] += dt;
        s->free_at[st] += dt;
        s->busy_end[st] += dt;
        s->last_done[st] += dt;
    }
    s->port_free += dt;
    for (int t = 0; t < BQ_NTOK; t++) {
        tokq *q = &s->tq[t];
        for (int i = 0; i < q->n; i++) q->v[(q->head + i) & (q->cap - 1)] += dt;
    }
}

/* The snapshot of iteration rec - p (p >= 1) if it equals cur (cur taken p iterations later). */
static const snapshot *ring_match(const sim *s, int level, const snapshot *cur, int p) {
    if (cur->rec - p < 0) return NULL;
    const snapshot *c = &s->snap[level][(cur->rec - p) % SNAP_RING];
    if (!c->valid || c->rec != cur->rec - p || c->n != cur->n || cur->d <= c->d ||
        memcmp(c->vec, cur->vec, sizeof cur->vec[0] * (size_t)cur->n) != 0)
        return NULL;
    return c;
}

static void ring_reset(sim *s, int level, const snapshot *cur) {
    for (int i = 0; i < SNAP_RING; i++) s->snap[level][i].valid = 0;
    if (cur) s->snap[level][cur->rec % SNAP_RING] = *cur;
}

/* Instructions per stage of iteration rec-1 of `level` (up to the start of rec). */
static void iter_len(const sim *s, int level, int rec, int len[BQ_NSTAGES]) {
    const int *ib = s->pr->itbase[level];
    for (int st = 0; st < BQ_NSTAGES; st++) len[st] = ib[3 * rec + st] - ib[3 * (rec - 1) + st];
}

/* Jump m periods ahead: every time moves by m*(cur->d - prev->d) and every counter grows by m
 * times its change from prev to cur. The caller moves its own positions, then refresh_ref. */
static void jump_periods(sim *s, const snapshot *cur, const snapshot *prev, long m) {
    shift_all(s, m * (cur->d - prev->d));
    for (int c = 0; c < C_NCNT; c++) s->cnt[c] += m * (cur->cnt[c] - prev->cnt[c]);
}

/* After a jump, cur (shifted) is the reference for the following iterations. */
static void refresh_ref(sim *s, int level, snapshot *cur, const snapshot *prev, long m) {
    cur->d += m * (cur->d - prev->d);
    memcpy(cur->cnt, s->cnt, sizeof cur->cnt);
    ring_reset(s, level, cur);
}

/* Lazy program (s->gen): the state at iteration rec equals the state p iterations earlier
 * shifted by D cycles. If iterations rec-p .. rec-1, the emitted ones after them and the next k
 * not emitted yet are all identical, every further p of them take D cycles and add the counters
 * of the last p; jump over m = k / p whole periods. Returns 1 if it jumped. */
static int skip_lazy(sim *s, int level, int rec, snapshot *cur, const snapshot *prev, int p) {
    const bq_program *pr = s->pr;
    const int *ib = pr->itbase[level];
    int len[BQ_NSTAGES];   /* one iteration */
    iter_len(s, level, rec, len);
    for (int r = rec - p + 1; r < rec; r++)
        for (int st = 0; st < BQ_NSTAGES; st++)
            if (ib[3 * r + st] - ib[3 * (r - 1) + st] != len[st]) return 0;
    /* the emitted instructions from iteration rec-p on repeat with one iteration's length... */
    for (int st = 0; st < BQ_NSTAGES; st++)
        for (int x = ib[3 * (rec - p + 1) + st]; x < pr->len[st]; x++)
            if (pr->tins[st][x].key != pr->tins[st][x - len[st]].key) return 0;
    /* ...and the generator guarantees the iterations not emitted yet */
    long k = bq_sched_gen_steady(s->gen, level, pr->itvirt[level][rec]);
    long m = k / p;
    if (m <= 0) return 0;
    k = m * p;
    jump_periods(s, cur, prev, m);
    for (int st = 0; st < BQ_NSTAGES; st++) s->cnt[C_SK0 + st] += k * len[st];
    bq_sched_gen_skip(s->gen, level, k);
    bq_program *pw = s->gen->prog;
    for (int r = rec + 1; r < pw->nit[level]; r++) pw->itvirt[level][r] += k;
    if (level == 1)
        for (int r = 0; r < pw->nit[0]; r++)
            if (pw->itbase[0][3 * r + BQ_STAGE_EXEC] >= ib[3 * rec + BQ_STAGE_EXEC])
                pw->itvirt[0][r] += k * s->gen->I;
    refresh_ref(s, level, cur, prev, m);
    return 1;
}

/* Called when execute is about to dispatch the first instruction of iteration `rec` of `level`
 * at cycle d. Returns 1 if iterations were skipped (state moved forward), 0 otherwise. */
static int try_skip(sim *s, int level, int rec, int64_t d) {
    snapshot cur;
    if (take_snapshot(s, &cur, level, rec, d) != 0) {
        ring_reset(s, level, NULL);
        return 0;
    }
    if (s->gen) {
        for (int p = 1; p < SNAP_RING; p++) {
            const snapshot *prev = ring_match(s, level, &cur, p);
            if (!prev) continue;
            /* on a jump the history restarts from cur (earlier snapshots predate it) */
            if (skip_lazy(s, level, rec, &cur, prev, p)) return 1;
            break;   /* the smallest period did not allow a jump; a multiple of it will not */
        }
        s->snap[level][rec % SNAP_RING] = cur;
        return 0;
    }
    /* complete program: period 1, the span read off the instructions */
    const snapshot *prev = ring_match(s, level, &cur, 1);
    if (prev) {
        int len[BQ_NSTAGES];
        iter_len(s, level, rec, len);
        long k = periodic_span(s, level, rec, len);
        if (k > 0) {
            jump_periods(s, &cur, prev, k);
            for (int st = 0; st < BQ_NSTAGES; st++) s->pc[st] += (int)(k * len[st]);
            /* the state at rec+k equals cur shifted; keep it as the reference for rec+k+1 */
            cur.rec = rec + (int)k;
            refresh_ref(s, level, &cur, prev, k);
            return 1;
        }
    }
    s->snap[level][rec % SNAP_RING] = cur;
    return 0;
}

static int simulate(bq_latency *out, const bq_program *prog, bq_sched_gen *gen,
                    const bq_sched_plan *p, const bq_hwcfg *cfg, int skip, char *err,
                    size_t errlen) {
    sim S;
    memset(&S, 0, sizeof S);
    sim *s = &S;
    int rc = -1;
    s->pr = prog;
    s->gen = gen;
    s->cfg = cfg;
    s->Wb = cfg->mem_width_bits / 8;
    s->Lr = bq_hwcfg_port_read_latency(cfg);   /* + the AXI shell's cycles (memory.interface) */
    s->Lw = bq_hwcfg_port_write_latency(cfg);
    s->Rr = (s->Wb + cfg->read_bytes_per_cycle - 1) / cfg->read_bytes_per_cycle;
    s->Rw = (s->Wb + cfg->write_bytes_per_cycle - 1) / cfg->write_bytes_per_cycle;
    s->C = bq_codes_compute_cycles(cfg->dm, cfg->dn, cfg->res_lanes);   /* the same as codes.c */
    for (int st = 0; st < BQ_NSTAGES; st++) {
        s->busy_end[st] = -1;
        s->last_done[st] = -1;
    }
    static const int order[BQ_NSTAGES] = {BQ_STAGE_RESULT, BQ_STAGE_FETCH, BQ_STAGE_EXEC};
    for (;;) {
        while (s->gen && !s->gen->done &&
               (s->pc[0] >= prog->len[0] || s->pc[1] >= prog->len[1] || s->pc[2] >= prog->len[2]))
            if (bq_sched_gen_next(s->gen) < 0) goto cleanup;   /* message already in err */
        int best = -1;
        int64_t bt = INF;
        for (int i = 0; i < BQ_NSTAGES; i++) {
            int st = order[i];
            int64_t t = next_time(s, st);
            if (t < bt) {
                bt = t;
                best = st;
            }
        }
        if (best < 0) break;
        if (skip && best == BQ_STAGE_EXEC && s->phase[best] == 0) {
            const bq_tinstr *ti = &prog->tins[best][s->pc[best]];
            if (ti->iter[1] >= 0 && try_skip(s, 1, ti->iter[1], bt)) continue;
            if (ti->iter[0] >= 0 && try_skip(s, 0, ti->iter[0], bt)) continue;
        }
        if (step(s, best, bt) != 0) {
            bq_seterr(err, errlen, "layer '%s': out of memory in the latency model", p->layer.name);
            goto cleanup;
        }
    }
    for (int st = 0; st < BQ_NSTAGES; st++)
        if (s->pc[st] < prog->len[st] || s->phase[st]) {
            bq_seterr(err, errlen, "layer '%s': the program deadlocks (stage %d stuck at instruction "
                   "%d of %d waiting for a token); this is a scheduler bug", p->layer.name, st,
                   s->pc[st], prog->len[st]);
            goto cleanup;
        }
    for (int t = 0; t < BQ_NTOK; t++)
        if (s->tq[t].n) {
            bq_seterr(err, errlen, "layer '%s': %d tokens left in FIFO %d at the end of the program "
                   "(scheduler bug)", p->layer.name, s->tq[t].n, t);
            goto cleanup;
        }
    if (s->max_tokens > 255) {
        bq_seterr(err, errlen, "layer '%s': %d tokens outstanding in one FIFO; the RTL counts to 255 "
               "(scheduler bug)", p->layer.name, s->max_tokens);
        goto cleanup;
    }
    memset(out, 0, sizeof *out);
    int64_t last = -1;
    for (int st = 0; st < BQ_NSTAGES; st++)
        if (s->last_done[st] > last) last = s->last_done[st];
    out->cycles = last + 1;
    for (int st = 0; st < BQ_NSTAGES; st++) {
        int64_t end = s->busy_end[st];   /* last completion (exec: last beat) */
        out->stall[st] = s->cnt[C_STALL0 + st];
        out->idle[st] = out->cycles - 1 - end;
        out->busy[st] = out->cycles - out->stall[st] - out->idle[st];
        out->instrs[st] = prog->len[st] + s->cnt[C_SK0 + st];
    }
    out->e_beats = s->cnt[C_EBEATS];
    out->rd_beats = s->cnt[C_RD];
    out->wr_beats = s->cnt[C_WR];
    out->port_busy = s->cnt[C_PORT];
    out->bytes_w = s->cnt[C_BW];
    out->bytes_a = s->cnt[C_BA];
    out->bytes_rq = s->cnt[C_BRQ];
    out->bytes_res = s->cnt[C_BRES];
    out->bytes_out = s->cnt[C_BOUT];
    out->us = (double)out->cycles / cfg->clock_mhz;
    double useful = 2.0 * bq_hw_layer_macs(&p->layer) * p->layer.wbits * p->layer.abits;
    double peak = bq_hwcfg_peak_binops(cfg);
    out->exec_eff = out->e_beats ? useful / ((double)out->e_beats * peak) : 0;
    out->eff = out->cycles ? useful / ((double)out->cycles * peak) : 0;
    int64_t eb = out->e_beats, pb = out->port_busy;
    int64_t rc_cycles = s->C * (int64_t)(prog->len[BQ_STAGE_RESULT]);
    out->bound = eb >= pb && eb >= rc_cycles ? "compute" : pb >= rc_cycles ? "memory" : "output";
    out->order = p->order;
    out->sim_events = s->events;
    rc = 0;
cleanup:
    for (int t = 0; t < BQ_NTOK; t++) free(s->tq[t].v);
    return rc;
}

int bq_latency_program(bq_latency *out, const bq_program *prog, const bq_sched_plan *p,
                       const bq_hwcfg *cfg, int skip, char *err, size_t errlen) {
    return simulate(out, prog, NULL, p, cfg, skip, err, errlen);
}

int bq_latency_plan(bq_latency *out, const bq_sched_plan *p, const bq_hwcfg *cfg,
                    bq_program *scratch, char *err, size_t errlen) {
    bq_sched_gen g;
    bq_program_reset(scratch);
    scratch->timing_only = 1;
    if (bq_sched_gen_init(&g, scratch, p, cfg, NULL, err, errlen) != 0) return -1;
    return simulate(out, scratch, &g, p, cfg, 1, err, errlen);
}

int bq_latency_layer(bq_latency *out, const bq_hwcfg *cfg, const bq_hw_layer *l,
                     bq_program *scratch, char *err, size_t errlen) {
    bq_sched_plan p;
    return bq_sched_plan_layer_x(&p, cfg, l, scratch, out, err, errlen);
}
