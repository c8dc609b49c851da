/*
 * hwsched.c — planning and emission of one layer's programs. See hwsched.h and
 * docs/latency_model.md (loop orders, token protocol, region placement).
 */
#include "core/errmsg.h"
#include "hwsched.h"
#include "latency.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

const char *bq_loop_order_name(int order) {
    switch (order) {
    case BQ_ORDER_W_RESIDENT: return "w-resident";
    case BQ_ORDER_M_OUTER: return "m-outer";
    case BQ_ORDER_N_OUTER: return "n-outer";
    case BQ_ORDER_K_SPLIT: return "k-split";
    default: return "?";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* program storage */

void bq_program_init(bq_program *p) { memset(p, 0, sizeof *p); }

void bq_program_free(bq_program *p) {
    for (int s = 0; s < BQ_NSTAGES; s++) {
        free(p->ins[s]);
        free(p->tins[s]);
    }
    for (int l = 0; l < 2; l++) {
        free(p->itbase[l]);
        free(p->itvirt[l]);
    }
    free(p->wp_beats);
    free(p->wp_off);
    free(p->wp_n);
    free(p->wp_asm);
    memset(p, 0, sizeof *p);
}

void bq_program_reset(bq_program *p) {
    for (int s = 0; s < BQ_NSTAGES; s++) p->len[s] = 0;
    p->nit[0] = p->nit[1] = 0;
    p->nwp = p->nwpbeats = 0;
}

int bq_program_append(bq_program *pr, int stage, const bq_instr *in, uint64_t key, int iter0,
                      int iter1) {
    int n = pr->len[stage];
    if (n == pr->cap[stage]) {
        int nc = pr->cap[stage] ? pr->cap[stage] * 2 : 256;
        bq_tinstr *nt = realloc(pr->tins[stage], sizeof *nt * (size_t)nc);
        if (!nt) return -1;
        pr->tins[stage] = nt;
        pr->cap[stage] = nc;
    }
    if (!pr->timing_only && n == pr->fcap[stage]) {
        int nc = pr->fcap[stage] ? pr->fcap[stage] * 2 : 256;
        if (nc <= n) nc = 2 * n;
        bq_instr *ni = realloc(pr->ins[stage], sizeof *ni * (size_t)nc);
        if (!ni) return -1;
        pr->ins[stage] = ni;
        pr->fcap[stage] = nc;
    }
    bq_tinstr *t = &pr->tins[stage][n];
    t->key = key;
    t->iter[0] = iter0;
    t->iter[1] = iter1;
    if (!pr->timing_only) {
        pr->ins[stage][n] = *in;
        pr->ins[stage][n].stage = (uint8_t)stage;
    }
    pr->len[stage]++;
    return 0;
}

int bq_program_iter_begin(bq_program *pr, int level, long virt) {
    if (pr->nit[level] == pr->capit[level]) {
        int nc = pr->capit[level] ? pr->capit[level] * 2 : 64;
        int *nb = realloc(pr->itbase[level], sizeof *nb * 3 * (size_t)nc);
        if (nb) pr->itbase[level] = nb;
        long *nv = realloc(pr->itvirt[level], sizeof *nv * (size_t)nc);
        if (nv) pr->itvirt[level] = nv;
        if (!nb || !nv) return -1;
        pr->capit[level] = nc;
    }
    int i = pr->nit[level]++;
    for (int s = 0; s < BQ_NSTAGES; s++) pr->itbase[level][3 * i + s] = pr->len[s];
    pr->itvirt[level][i] = virt;
    return i;
}

int bq_program_win_profile(bq_program *pr, const uint32_t *beats, int n, int64_t assemble) {
    for (int i = 0; i < pr->nwp; i++)
        if (pr->wp_n[i] == n && pr->wp_asm[i] == assemble &&
            (n == 0 || !memcmp(pr->wp_beats + pr->wp_off[i], beats, sizeof *beats * (size_t)n)))
            return i;
    if (pr->nwp == pr->capwp) {
        int nc = pr->capwp ? pr->capwp * 2 : 16;
        int *no = realloc(pr->wp_off, sizeof *no * (size_t)nc);
        if (no) pr->wp_off = no;
        int *nn = realloc(pr->wp_n, sizeof *nn * (size_t)nc);
        if (nn) pr->wp_n = nn;
        int64_t *na = realloc(pr->wp_asm, sizeof *na * (size_t)nc);
        if (na) pr->wp_asm = na;
        if (!no || !nn || !na) return -1;
        pr->capwp = nc;
    }
    if (pr->nwpbeats + n > pr->capwpbeats) {
        int nc = pr->capwpbeats ? pr->capwpbeats : 64;
        while (nc < pr->nwpbeats + n) nc *= 2;
        uint32_t *nb = realloc(pr->wp_beats, sizeof *nb * (size_t)nc);
        if (!nb) return -1;
        pr->wp_beats = nb;
        pr->capwpbeats = nc;
    }
    if (n) memcpy(pr->wp_beats + pr->nwpbeats, beats, sizeof *beats * (size_t)n);
    int i = pr->nwp++;
    pr->wp_off[i] = pr->nwpbeats;
    pr->wp_n[i] = n;
    pr->wp_asm[i] = assemble;
    pr->nwpbeats += n;
    return i;
}

/* ------------------------------------------------------------------------------------------ */
/* accumulator range */

int64_t bq_sched_acc_worst(int k, int wbits, int abits, int w_signed, int a_signed) {
    int64_t wmax = w_signed ? (int64_t)1 << (wbits - 1) : ((int64_t)1 << wbits) - 1;
    int64_t amax = a_signed ? (int64_t)1 << (abits - 1) : ((int64_t)1 << abits) - 1;
    int64_t wspan = ((int64_t)1 << wbits) - 1;   /* max |q_w - z_w| */
    int64_t aspan = ((int64_t)1 << abits) - 1;   /* max |q_a - z_a| */
    int64_t kk = k;
    int64_t acc = kk * wmax * amax;              /* |sum q_w q_a| */
    int64_t asum = kk * amax;                    /* |sum q_a| */
    int64_t corr = kk * wspan * amax;            /* |acc - z_w asum| = |sum (q_w - z_w) q_a| */
    int64_t bias = kk * aspan * wspan;           /* |z_a sum q_w - K z_w z_a| = |z_a sum(q_w-z_w)| */
    int64_t m = acc;
    if (asum > m) m = asum;
    if (corr > m) m = corr;
    if (bias > m) m = bias;
    return m;
}

/* ------------------------------------------------------------------------------------------ */
/* plan */

/* Tiling, K chunks, requant placement, checks, and the candidate orders (w_fits). The order set
 * here is the traffic rule's guess; bq_sched_plan_layer_x picks the final one by dry runs. */
static int plan_base(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
                     size_t errlen) {
    memset(p, 0, sizeof *p);
    if (bq_hw_layer_check(l, err, errlen) != 0) return -1;
    p->layer = *l;
    const int dm = cfg->dm, dn = cfg->dn, dk = cfg->dk, wb = l->wbits, ab = l->abits;
    const int Wb = cfg->mem_width_bits / 8;
    const int64_t wordb = dk / 8;   /* bytes per Dk-bit word */

    /* accumulator */
    p->acc_worst = bq_sched_acc_worst(l->k, wb, ab, l->w_signed, l->a_signed);
    p->acc_bits_needed = 1;
    while (p->acc_bits_needed < 63 && ((int64_t)1 << (p->acc_bits_needed - 1)) - 1 < p->acc_worst)
        p->acc_bits_needed++;
    if (p->acc_bits_needed > cfg->acc_bits) {
        bq_seterr(err, errlen, "layer '%s': the accumulator could overflow: K = %d terms at W%dA%d "
               "reach |%lld| and need %d bits, the accelerator has %d; lower the bit-widths or "
               "split K over several layers", l->name, l->k, wb, ab, (long long)p->acc_worst,
               p->acc_bits_needed, cfg->acc_bits);
        return -1;
    }

    p->mt = (int)cdiv(l->m, dm);
    p->kc = (int)cdiv(l->k, dk);
    p->nt = (int)cdiv(l->n, dn);
    p->m_pad = p->mt * dm;
    p->k_pad = p->kc * dk;
    p->n_pad = p->nt * dn;
    p->regions = cfg->regions;
    p->w_region = cfg->weight_depth / cfg->regions;
    p->a_region = cfg->act_depth / cfg->regions;

    int kmax_w = p->w_region / wb, kmax_a = p->a_region / ab;
    if (kmax_w < 1) {
        bq_seterr(err, errlen, "layer '%s': a weight region holds %d words per bank but one K word at "
               "%d weight bits needs %d; raise buffers.weight_depth or lower buffers.regions",
               l->name, p->w_region, wb, wb);
        return -1;
    }
    if (kmax_a < 1) {
        bq_seterr(err, errlen, "layer '%s': an activation region holds %d words per bank but one K "
               "word at %d activation bits needs %d; raise buffers.act_depth or lower "
               "buffers.regions", l->name, p->a_region, ab, ab);
        return -1;
    }
    int kmax = kmax_w < kmax_a ? kmax_w : kmax_a;
    if (kmax > 65535) kmax = 65535;
    if (p->kc <= kmax) {
        p->kcw = p->kc;
        p->kch = 1;
        int64_t w_all = (int64_t)wb * p->mt * p->kc;   /* rows per bank for all of W */
        int64_t w_bytes = (int64_t)wb * p->m_pad * p->kc * wordb;
        int64_t a_bytes = (int64_t)ab * p->n_pad * p->kc * wordb;
        p->w_fits = w_all <= p->w_region;
        if (p->w_fits) {
            p->order = BQ_ORDER_W_RESIDENT;
        } else {
            /* weights stationary per stripe (activations re-read mt times) versus activations
             * stationary per stripe (weights re-read nt times): the smaller traffic wins. */
            int64_t t_m = w_bytes + (int64_t)p->mt * a_bytes;
            int64_t t_n = a_bytes + (int64_t)p->nt * w_bytes;
            p->order = t_m <= t_n ? BQ_ORDER_M_OUTER : BQ_ORDER_N_OUTER;
        }
    } else {
        p->order = BQ_ORDER_K_SPLIT;
        /* as few chunks as fit, balanced (a short last chunk cannot hide its fetch) */
        p->kch = (int)cdiv(p->kc, kmax);
        p->kcw = (int)cdiv(p->kc, p->kch);
    }

    /* requant records: all at once if they fit, else per group in a ring of >= 2 groups */
    int e_use = cfg->requant_depth / dm;   /* entries per bank */
    if (e_use > 256) e_use = 256;          /* rq_entry is 8 bits */
    int64_t all = (int64_t)l->groups * p->mt;
    if (all <= e_use) {
        p->rq_all = 1;
        p->rq_slots = l->groups;
    } else {
        p->rq_all = 0;
        p->rq_slots = e_use / p->mt;
        if (p->rq_slots < 2 || l->groups == 1) {
            bq_seterr(err, errlen, "layer '%s': the requant RAM holds %d channels (%d entries per bank"
                   "), the layer needs %d per group and %d in total; raise "
                   "buffers.requant_depth to at least %lld", l->name, cfg->requant_depth, e_use,
                   p->m_pad, (int)(all * dm), (long long)(l->groups == 1 ? all * dm : 2 * p->m_pad));
            return -1;
        }
    }

    p->tpb = (int)(cdiv((int64_t)dm * dn, cfg->mem_width_bits) * Wb);
    p->w_plane_bytes = (uint64_t)p->mt * p->kc * dm * wordb;
    p->a_plane_bytes = (uint64_t)p->nt * p->kc * dn * wordb;
    p->w_group_bytes = p->w_plane_bytes * wb;
    p->a_group_bytes = p->a_plane_bytes * ab;
    p->o_tile_bytes = l->raw32 ? (uint64_t)4 * dm * dn : (uint64_t)l->obits * p->tpb;
    p->r_tile_bytes = l->has_residual ? (uint64_t)l->rbits * p->tpb : 0;

    /* burst lengths must fit the 16-bit beat count */
    int64_t beats_w = (int64_t)p->kcw * dm * wordb / Wb, beats_a = (int64_t)p->kcw * dn * wordb / Wb;
    int64_t beats_q = (p->rq_all ? all : p->mt) * dm * 16 / Wb;
    if (beats_w > 65535 || beats_a > 65535 || beats_q > 65535) {
        bq_seterr(err, errlen, "layer '%s': a fetch burst would need more than 65535 beats (weights "
               "%lld, activations %lld, requant %lld); use smaller buffer regions",
               l->name, (long long)beats_w, (long long)beats_a, (long long)beats_q);
        return -1;
    }
    return 0;
}

int bq_sched_plan_tiles(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
                        size_t errlen) {
    return plan_base(p, cfg, l, err, errlen);
}

/* A lower bound on CYCLES of plan p: the memory port serves one transaction at a time and the first
 * request is accepted in cycle 1 at the earliest, so CYCLES >= 1 + the sum of every transaction's
 * busy time (docs/hw_isa.md 4.1). Used to skip dry runs of orders that cannot win. */
static int64_t port_lower_bound(const bq_sched_plan *p, const bq_hwcfg *cfg) {
    const bq_hw_layer *l = &p->layer;
    const int64_t Wb = cfg->mem_width_bits / 8, wordb = cfg->dk / 8;
    const int64_t Lr = cfg->read_latency, Lw = cfg->write_latency;
    const int64_t Rr = (Wb + cfg->read_bytes_per_cycle - 1) / cfg->read_bytes_per_cycle;
    const int64_t Rw = (Wb + cfg->write_bytes_per_cycle - 1) / cfg->write_bytes_per_cycle;
    const int64_t G = l->groups, MT = p->mt, NT = p->nt, KC = p->kc;
#define RD(beats) (Lr + ((int64_t)(beats) - 1) * Rr + 1)   /* busy cycles of one read burst */
    int64_t wstripe = l->wbits * RD(KC * cfg->dm * wordb / Wb);
    int64_t astripe = l->abits * RD(KC * cfg->dn * wordb / Wb);
    int64_t per_group;
    switch (p->order) {
    case BQ_ORDER_W_RESIDENT: per_group = MT * wstripe + NT * astripe; break;
    case BQ_ORDER_M_OUTER: per_group = MT * (wstripe + NT * astripe); break;
    case BQ_ORDER_N_OUTER: per_group = NT * (astripe + MT * wstripe); break;
    default: return 0;   /* k-split: the only candidate, never compared */
    }
    int64_t rq = p->rq_all ? RD(G * MT * cfg->dm * 16 / Wb) : G * RD(MT * cfg->dm * 16 / Wb);
    int64_t tiles = G * MT * NT;
    int64_t res = (int64_t)(2 + (int64_t)(p->o_tile_bytes / Wb - 1) * Rw + Lw) +
                  (l->has_residual ? RD(p->r_tile_bytes / Wb) : 0);
#undef RD
    return 1 + G * per_group + rq + tiles * res;
}

int bq_sched_plan_layer_x(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l,
                          bq_program *scratch, bq_latency *best, char *err, size_t errlen) {
    if (plan_base(p, cfg, l, err, errlen) != 0) return -1;
    int cand[3], nc = 0;
    if (p->order == BQ_ORDER_K_SPLIT) {
        cand[nc++] = BQ_ORDER_K_SPLIT;
    } else {   /* preference on equal cycles: this order */
        if (p->w_fits) cand[nc++] = BQ_ORDER_W_RESIDENT;
        cand[nc++] = BQ_ORDER_M_OUTER;
        /* n-outer re-reads a group's weights for every column; for grouped layers (depthwise:
         * hundreds of one-row GEMMs) it is not a candidate: it only adds weight traffic there,
         * and its dry run is not periodic per group (slow) */
        if (l->groups == 1) cand[nc++] = BQ_ORDER_N_OUTER;
    }
    bq_program own;
    if (!scratch) {
        bq_program_init(&own);
        scratch = &own;
    }
    bq_sched_plan bp = *p;
    bq_latency bl, r;
    int rc = 0;
    memset(&bl, 0, sizeof bl);
    int have = 0;
    for (int i = 0; i < nc; i++) {
        bq_sched_plan q = *p;
        q.order = cand[i];
        /* a later candidate wins only with strictly fewer cycles: skip it if it cannot */
        if (have && port_lower_bound(&q, cfg) >= bl.cycles) continue;
        if (bq_latency_plan(&r, &q, cfg, scratch, err, errlen) != 0) {
            rc = -1;
            break;
        }
        if (!have || r.cycles < bl.cycles) {
            bp = q;
            bl = r;
            have = 1;
        }
    }
    if (scratch == &own) bq_program_free(&own);
    if (rc != 0) return -2;   /* the dry run failed, not the layer: see hwsched.h */
    *p = bp;
    if (best) *best = bl;
    return 0;
}

int bq_sched_plan_layer(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
                        size_t errlen) {
    return bq_sched_plan_layer_x(p, cfg, l, NULL, NULL, err, errlen);
}

/* ------------------------------------------------------------------------------------------ */
/* emission */

typedef bq_sched_gen emitter;   /* the emitter state is the generator (sched.h) */

uint64_t bq_tkey(const bq_instr *in) {
    return (uint64_t)in->beats | (uint64_t)(in->beats2 & 0xffffu) << 32 |
           (uint64_t)(in->op & 1) << 48 | (uint64_t)(in->op >> 1 & 1) << 60 | (uint64_t)in->wait0 << 49 | (uint64_t)in->wait1 << 50 |
           (uint64_t)in->sig0 << 51 | (uint64_t)in->sig1 << 52 | (uint64_t)in->res << 53 |
           (uint64_t)(in->target & 3) << 54 | (uint64_t)(in->nplanes & 15) << 56;
}

static void push(emitter *em, int stage, bq_instr *in) {
    if (em->bad) return;
    in->stage = (uint8_t)stage;
    int it[2] = {-1, -1};
    if (stage == BQ_STAGE_EXEC)
        for (int l = 0; l < 2; l++) {
            it[l] = em->pend_iter[l];
            em->pend_iter[l] = -1;
        }
    if (bq_program_append(em->prog, stage, in, bq_tkey(in), it[0], it[1]) != 0) {
        em->bad = 1;
        bq_seterr(em->err, em->errlen, "layer '%s': out of memory building the program",
                  em->p->layer.name);
    }
}

/* Start an iteration of the periodic loop at `level`: remember where each program stands. */
static void iter_begin(emitter *em, int level) {
    if (em->bad) return;
    int i = bq_program_iter_begin(em->prog, level, 0);   /* itvirt set by bq_sched_gen_next */
    if (i < 0) {
        em->bad = 1;
        bq_seterr(em->err, em->errlen, "out of memory building the program");
        return;
    }
    em->pend_iter[level] = i;
}

static uint32_t addr32(emitter *em, uint64_t a, const char *what) {
    if (a > 0xffffffffull && !em->bad) {
        em->bad = 2;
        bq_seterr(em->err, em->errlen, "layer '%s': the %s address 0x%llx does not fit 32 bits; "
               "place the operands lower in memory", em->p->layer.name, what,
               (unsigned long long)a);
    }
    return (uint32_t)a;
}

/* A fetch RUN that may overwrite a region only after `p_req` FREED tokens have been popped. */
static void fetch_load(emitter *em, int target, int nplanes, uint64_t dram, uint64_t stride,
                       int buf_base, int t, long p_req, int filled) {
    const bq_hwcfg *c = em->cfg;
    const int Wb = c->mem_width_bits / 8;
    long need = p_req - em->popped;
    bq_instr in;
    for (long i = 1; i < need; i++) {   /* extra tokens: one SYNC each */
        memset(&in, 0, sizeof in);
        in.op = BQ_OP_SYNC;
        in.wait0 = 1;
        push(em, BQ_STAGE_FETCH, &in);
    }
    if (need > 0) em->popped = p_req;
    memset(&in, 0, sizeof in);
    in.op = BQ_OP_RUN;
    in.wait0 = need > 0;
    in.sig0 = (uint8_t)filled;
    in.target = (uint8_t)target;
    in.nplanes = (uint8_t)nplanes;
    in.dram_addr = addr32(em, dram, target == BQ_TGT_W ? "weight" : target == BQ_TGT_A
                                                                    ? "activation" : "requant");
    in.plane_stride = addr32(em, stride, "plane stride");
    in.buf_base = (uint16_t)buf_base;
    in.t = (uint16_t)t;
    int64_t d = target == BQ_TGT_A ? c->dn : c->dm;
    int64_t unit = target == BQ_TGT_RQ ? 16 : c->dk / 8;
    in.beats = (uint32_t)((int64_t)t * d * unit / Wb);
    push(em, BQ_STAGE_FETCH, &in);
}



/* Execute one K chunk of one output tile: one RUN over all wbits x abits plane pairs and nk
 * words, operands from bank rows wbase/abase with plane strides wstride/astride. On the final
 * chunk (`last`) it commits the tile to the result slot: it waits for RESFREE of the previous
 * tile, which the RTL checks only at the last beat (so execution overlaps the result stage),
 * and signals RESRDY. */
static void exec_chunk(emitter *em, int wbase, int wstride, int abase, int astride, int nk,
                       int wait_filled, int sig_freed, int clear, int last) {
    const bq_hw_layer *l = &em->p->layer;
    const int wb = l->wbits, ab = l->abits;
    bq_instr in;
    memset(&in, 0, sizeof in);
    in.op = BQ_OP_RUN;
    in.wbits = (uint8_t)wb;
    in.abits = (uint8_t)ab;
    in.wsigned = (uint8_t)l->w_signed;
    in.asigned = (uint8_t)l->a_signed;
    in.w0 = 0;
    in.wn = (uint8_t)wb;
    in.a0 = 0;
    in.an = (uint8_t)ab;
    in.wbase = (uint16_t)wbase;
    in.abase = (uint16_t)abase;
    in.wstride = (uint16_t)wstride;
    in.astride = (uint16_t)astride;
    in.nk = (uint16_t)nk;
    in.clear = (uint8_t)clear;
    in.asum = 1;   /* weight-loop index 0 covers every (activation plane, K word) once */
    in.wait0 = (uint8_t)wait_filled;
    in.sig0 = (uint8_t)sig_freed;
    in.beats = (uint32_t)(wb * ab * nk);
    if (last) {
        in.commit = 1;
        in.sig1 = 1;                      /* RESRDY */
        in.wait1 = em->tile > 0;          /* RESFREE of the previous tile, at the last beat */
    }
    push(em, BQ_STAGE_EXEC, &in);
    if (sig_freed) em->signaled++;
}

/* Result RUN for tile (g, m, n), emitted right after the tile's committing execute RUN. */
static void result_tile(emitter *em, int g, int m, int n) {
    const bq_sched_plan *p = em->p;
    const bq_hw_layer *l = &p->layer;
    const int Wb = em->cfg->mem_width_bits / 8;
    bq_instr in;
    memset(&in, 0, sizeof in);
    in.op = BQ_OP_RUN;
    in.wait0 = 1;                                  /* RESRDY */
    in.sig0 = em->tile + 1 < em->tiles;            /* RESFREE, except after the last tile */
    in.mode = (uint8_t)l->raw32;
    in.obits = (uint8_t)(l->raw32 ? 1 : l->obits);
    in.res = (uint8_t)l->has_residual;
    in.rbits = (uint8_t)(l->has_residual ? l->rbits : 1);
    in.z_r = (uint8_t)l->z_r;
    in.z_o = (uint8_t)l->z_o;
    in.lo = (uint8_t)l->lo;
    in.hi = (uint8_t)(l->hi < 0 ? (1 << in.obits) - 1 : l->hi);
    uint64_t t = ((uint64_t)g * p->mt * p->nt + (uint64_t)n * p->mt + (uint64_t)m);
    in.out_addr = addr32(em, em->ad.out + t * p->o_tile_bytes, "output");
    in.res_addr = l->has_residual ? addr32(em, em->ad.res + t * p->r_tile_bytes, "residual") : 0;
    in.rq_entry = (uint8_t)(p->rq_all ? g * p->mt + m : (g % p->rq_slots) * p->mt + m);
    in.beats = (uint32_t)(p->o_tile_bytes / (uint64_t)Wb);
    in.beats2 = (uint32_t)(p->r_tile_bytes / (uint64_t)Wb);
    push(em, BQ_STAGE_RESULT, &in);
    em->tile++;
}

/* Requant records of group g (per-group mode), or of the whole layer (g < 0, rq_all). */
static void fetch_rq(emitter *em, int g, long p_req) {
    const bq_sched_plan *p = em->p;
    if (g < 0) {
        fetch_load(em, BQ_TGT_RQ, 1, em->ad.rq, 0, 0, p->layer.groups * p->mt, 0, 0);
        return;
    }
    uint64_t dram = em->ad.rq + (uint64_t)16 * g * p->m_pad;
    fetch_load(em, BQ_TGT_RQ, 1, dram, 0, (g % p->rq_slots) * p->mt, p->mt, p_req, 0);
}

/* ---- token requirements (FREED tokens that must have been popped before a load), shared by
 * the emitter and by the signature roller below so both see the same numbers ---- */
static long preq_ring(long idx, long ring, long per) {   /* load idx reuses the region of idx-ring */
    return idx >= ring ? (idx - ring + 1) * per : 0;
}
/* requant records of group g: result must be done with group g-S, i.e. the first tile of group
 * g-S+1 committed; `first_sload_of_group` = index of that group's first S-load, `span` = S-loads
 * up to and including its first commit. */
static long preq_rq(long g, long S, long sloads_per_group, long span) {
    return g >= S ? (g - S + 1) * sloads_per_group + span : 0;
}

/* ---- the loop nest as a resumable generator of level-0 iterations ----
 * Every order is a two-level loop: outer index o in [0, O) (level 1) and inner index i in [0, I)
 * (level 0). emit_iter(o, i) emits one inner iteration; the very first call also emits the
 * whole-layer requant load and the last one the FREED drain. */

static void emit_iter(emitter *em, long o, long i) {
    const bq_sched_plan *p = em->p;
    const bq_hwcfg *cfg = em->cfg;
    const bq_hw_layer *l = &p->layer;
    const int MT = p->mt, NT = p->nt, KC = p->kc, R = p->regions, S = p->rq_slots;
    const int wb = l->wbits, ab = l->abits;
    const uint64_t wrow = (uint64_t)cfg->dm * cfg->dk / 8;   /* bytes of one K word, all W banks */
    const uint64_t arow = (uint64_t)cfg->dn * cfg->dk / 8;
    switch (p->order) {
    case BQ_ORDER_W_RESIDENT: {
        /* per group g = o: the MT weight stripes once (stripe m right before the first tile that
         * needs it, so execution starts after one stripe); per n = i: A(g,n), then all m tiles.
         * S-loads = A loads. Stripe m of group g sits at rows rw*w_region + m*wb*KC. */
        int g = (int)o, n = (int)i;
        uint64_t wg = em->ad.w + (uint64_t)g * p->w_group_bytes;
        uint64_t ag = em->ad.a + (uint64_t)g * p->a_group_bytes;
        int rw = g % R;
        long wreq = preq_ring(g, R, NT);
        if (n == 0) {
            iter_begin(em, 1);
            if (!p->rq_all) fetch_rq(em, g, preq_rq(g, S, NT, 1));
        }
        iter_begin(em, 0);
        long j = (long)g * NT + n;
        int ra = (int)(j % R);
        if (n == 0)
            fetch_load(em, BQ_TGT_W, wb, wg, p->w_plane_bytes, rw * p->w_region, KC, wreq, 0);
        fetch_load(em, BQ_TGT_A, ab, ag + n * (uint64_t)KC * arow, p->a_plane_bytes,
                   ra * p->a_region, KC, preq_ring(j, R, 1), 1);
        for (int m = 0; m < MT; m++) {
            if (n == 0 && m > 0)
                fetch_load(em, BQ_TGT_W, wb, wg + m * (uint64_t)KC * wrow, p->w_plane_bytes,
                           rw * p->w_region + m * wb * KC, KC, wreq, 1);
            exec_chunk(em, rw * p->w_region + m * wb * KC, KC, ra * p->a_region, KC, KC,
                       m == 0 || n == 0, m == MT - 1, 1, 1);
            result_tile(em, g, m, n);
        }
        break;
    }
    case BQ_ORDER_M_OUTER: {
        /* per (g, m) = o: W stripe once; per n = i: A(g,m,n) and one tile. S-loads = A loads. */
        long w = o;
        int g = (int)(o / MT), m = (int)(o % MT), n = (int)i;
        uint64_t wg = em->ad.w + (uint64_t)g * p->w_group_bytes;
        uint64_t ag = em->ad.a + (uint64_t)g * p->a_group_bytes;
        int rw = (int)(w % R);
        if (n == 0) {
            iter_begin(em, 1);
            if (!p->rq_all && m == 0) fetch_rq(em, g, preq_rq(g, S, (long)MT * NT, 1));
            fetch_load(em, BQ_TGT_W, wb, wg + m * (uint64_t)KC * wrow, p->w_plane_bytes,
                       rw * p->w_region, KC, preq_ring(w, R, NT), 0);
        }
        iter_begin(em, 0);
        long j = w * NT + n;
        int ra = (int)(j % R);
        fetch_load(em, BQ_TGT_A, ab, ag + n * (uint64_t)KC * arow, p->a_plane_bytes,
                   ra * p->a_region, KC, preq_ring(j, R, 1), 1);
        exec_chunk(em, rw * p->w_region, KC, ra * p->a_region, KC, KC, 1, 1, 1, 1);
        result_tile(em, g, m, n);
        break;
    }
    case BQ_ORDER_N_OUTER: {
        /* per (g, n) = o: A stripe once; per m = i: W(g,n,m) and one tile. S-loads = W loads. */
        long a = o;
        int g = (int)(o / NT), n = (int)(o % NT), m = (int)i;
        uint64_t wg = em->ad.w + (uint64_t)g * p->w_group_bytes;
        uint64_t ag = em->ad.a + (uint64_t)g * p->a_group_bytes;
        int ra = (int)(a % R);
        if (m == 0) {
            iter_begin(em, 1);
            if (!p->rq_all && n == 0) fetch_rq(em, g, preq_rq(g, S, (long)MT * NT, 1));
            fetch_load(em, BQ_TGT_A, ab, ag + n * (uint64_t)KC * arow, p->a_plane_bytes,
                       ra * p->a_region, KC, preq_ring(a, R, MT), 0);
        }
        iter_begin(em, 0);
        long j = a * MT + m;
        int rw = (int)(j % R);
        fetch_load(em, BQ_TGT_W, wb, wg + m * (uint64_t)KC * wrow, p->w_plane_bytes,
                   rw * p->w_region, KC, preq_ring(j, R, 1), 1);
        exec_chunk(em, rw * p->w_region, KC, ra * p->a_region, KC, KC, 1, 1, 1, 1);
        result_tile(em, g, m, n);
        break;
    }
    case BQ_ORDER_K_SPLIT:
    default: {
        /* per (g, m) = o, n = i, chunk c: W chunk and A chunk (a pair, one region each).
         * S-loads = pairs. */
        int g = (int)(o / MT), m = (int)(o % MT), n = (int)i;
        uint64_t wg = em->ad.w + (uint64_t)g * p->w_group_bytes;
        uint64_t ag = em->ad.a + (uint64_t)g * p->a_group_bytes;
        if (n == 0) {
            iter_begin(em, 1);
            if (!p->rq_all && m == 0)
                fetch_rq(em, g, preq_rq(g, S, (long)MT * NT * p->kch, p->kch));
        }
        iter_begin(em, 0);
        for (int c = 0; c < p->kch; c++) {
            long j = (((long)g * MT + m) * NT + n) * p->kch + c;
            int k0 = c * p->kcw, nk = KC - k0 < p->kcw ? KC - k0 : p->kcw;
            int r = (int)(j % R);
            fetch_load(em, BQ_TGT_W, wb, wg + ((uint64_t)m * KC + k0) * wrow, p->w_plane_bytes,
                       r * p->w_region, nk, preq_ring(j, R, 1), 0);
            fetch_load(em, BQ_TGT_A, ab, ag + ((uint64_t)n * KC + k0) * arow, p->a_plane_bytes,
                       r * p->a_region, nk, preq_ring(j, R, 1), 1);
            exec_chunk(em, r * p->w_region, nk, r * p->a_region, nk, nk, 1, 1, c == 0,
                       c == p->kch - 1);
        }
        result_tile(em, g, m, n);
        break;
    }
    }
}

/* Signature of inner iteration (o, i): everything that makes its instructions differ from
 * another iteration's in a timing-relevant field — the position flags (first iteration of an
 * outer, requant load present, first / last tile of the layer) and the number of FREED tokens
 * each of its loads pops. It mirrors emit_iter's sequence of fetch_load calls (same p_req
 * helpers); *popped is rolled forward as the emitter would. */
static uint64_t iter_sig(const bq_sched_gen *g, long o, long i, long *popped) {
    const bq_sched_plan *p = g->p;
    const long MT = p->mt, NT = p->nt, R = p->regions, S = p->rq_slots;
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
#define LOAD(req)                                         \
    do {                                                  \
        long need_ = (req) - *popped;                     \
        MIX(need_ > 0 ? need_ : 0);                       \
        if (need_ > 0) *popped = (req);                   \
    } while (0)
    MIX(i == 0);
    MIX(o == 0 && i == 0);                      /* first tile: no RESFREE wait */
    MIX(o == g->O - 1 && i == g->I - 1);        /* last tile: no RESFREE signal */
    switch (p->order) {
    case BQ_ORDER_W_RESIDENT: {
        long gi = o, j = o * NT + i;
        if (i == 0 && !p->rq_all) LOAD(preq_rq(gi, S, NT, 1));
        if (i == 0) LOAD(preq_ring(gi, R, NT));
        LOAD(preq_ring(j, R, 1));
        if (i == 0)
            for (long m = 1; m < MT; m++) LOAD(preq_ring(gi, R, NT));
        break;
    }
    case BQ_ORDER_M_OUTER: {
        long gi = o / MT, m = o % MT;
        MIX(i == 0 && !p->rq_all && m == 0);
        if (i == 0 && !p->rq_all && m == 0) LOAD(preq_rq(gi, S, MT * NT, 1));
        if (i == 0) LOAD(preq_ring(o, R, NT));
        LOAD(preq_ring(o * NT + i, R, 1));
        break;
    }
    case BQ_ORDER_N_OUTER: {
        long gi = o / NT, n = o % NT;
        MIX(i == 0 && !p->rq_all && n == 0);
        if (i == 0 && !p->rq_all && n == 0) LOAD(preq_rq(gi, S, MT * NT, 1));
        if (i == 0) LOAD(preq_ring(o, R, MT));
        LOAD(preq_ring(o * MT + i, R, 1));
        break;
    }
    default: {   /* K_SPLIT */
        long gi = o / MT, m = o % MT;
        MIX(i == 0 && !p->rq_all && m == 0);
        if (i == 0 && !p->rq_all && m == 0) LOAD(preq_rq(gi, S, MT * NT * p->kch, p->kch));
        for (long c = 0; c < p->kch; c++) {
            long j = (o * NT + i) * p->kch + c;
            LOAD(preq_ring(j, R, 1));
            LOAD(preq_ring(j, R, 1));
        }
        break;
    }
    }
#undef LOAD
#undef MIX
    return h;
}

int bq_sched_gen_init(bq_sched_gen *g, bq_program *prog, const bq_sched_plan *p,
                      const bq_hwcfg *cfg, const bq_sched_addr *addr, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    g->prog = prog;
    g->p = p;
    g->cfg = cfg;
    if (addr) g->ad = *addr;
    g->err = err;
    g->errlen = errlen;
    g->pend_iter[0] = g->pend_iter[1] = -1;
    g->last_o = -1;
    const bq_hw_layer *l = &p->layer;
    const int Wb = cfg->mem_width_bits / 8;
    const uint32_t al[5] = {g->ad.w, g->ad.a, g->ad.rq, g->ad.out, g->ad.res};
    for (int i = 0; i < 5; i++)
        if (al[i] % (uint32_t)Wb) {
            bq_seterr(err, errlen, "layer '%s': operand base addresses must be %d-byte aligned "
                   "(memory word), got 0x%x", l->name, Wb, al[i]);
            return -1;
        }
    const long G = l->groups;
    g->tiles = G * p->mt * p->nt;
    switch (p->order) {
    case BQ_ORDER_W_RESIDENT: g->O = G; g->I = p->nt; break;
    case BQ_ORDER_N_OUTER: g->O = G * p->nt; g->I = p->mt; break;
    default: g->O = G * p->mt; g->I = p->nt; break;   /* M_OUTER, K_SPLIT */
    }
    return 0;
}

int bq_sched_gen_next(bq_sched_gen *g) {
    if (g->done) return 0;
    if (g->bad) return -1;
    if (!g->started) {
        g->started = 1;
        if (g->p->rq_all) fetch_rq(g, -1, 0);
    }
    if (g->i == 0) {   /* outer iteration starts: remember counters for the level-1 delta */
        for (int c = 0; c < 3; c++) g->d1[c] = g->ctr_outer[c];
        g->ctr_outer[0] = g->popped;
        g->ctr_outer[1] = g->signaled;
        g->ctr_outer[2] = g->tile;
        for (int c = 0; c < 3; c++) g->d1[c] = g->ctr_outer[c] - g->d1[c];
    }
    long before[3] = {g->popped, g->signaled, g->tile};
    int nit0 = g->prog->nit[0], nit1 = g->prog->nit[1];
    g->last_o = g->o;
    g->last_i = g->i;
    g->last_popped = g->popped;
    emit_iter(g, g->o, g->i);
    if (g->bad) return -1;
    /* virtual indices of the records just opened */
    for (int r = nit0; r < g->prog->nit[0]; r++) g->prog->itvirt[0][r] = g->o * g->I + g->i;
    for (int r = nit1; r < g->prog->nit[1]; r++) g->prog->itvirt[1][r] = g->o;
    g->d0[0] = g->popped - before[0];
    g->d0[1] = g->signaled - before[1];
    g->d0[2] = g->tile - before[2];
    if (++g->i == g->I) {
        g->i = 0;
        g->o++;
    }
    if (g->o >= g->O) {
        /* drain the FREED tokens nobody waited for, so every FIFO ends at 0 */
        for (long k = g->popped; k < g->signaled; k++) {
            bq_instr in;
            memset(&in, 0, sizeof in);
            in.op = BQ_OP_SYNC;
            in.wait0 = 1;
            push(g, BQ_STAGE_FETCH, &in);
        }
        g->popped = g->signaled;
        g->done = 1;
    }
    return g->bad ? -1 : 1;
}

long bq_sched_gen_steady(const bq_sched_gen *g, int level, long from) {
    (void)from;
    if (g->done || g->o >= g->O) return 0;
    long k = 0;
    if (level == 0) {
        /* reference: the last emitted inner iteration; candidates: the next ones of the outer */
        if (g->last_o < 0 || g->last_o != g->o) return 0;
        long pop = g->last_popped;
        uint64_t ref = iter_sig(g, g->last_o, g->last_i, &pop);
        for (long i = g->i; i < g->I; i++, k++)
            if (iter_sig(g, g->o, i, &pop) != ref) break;
        return k;
    }
    /* level 1: the generator must be inside the outer iteration it started last (o), whose
     * start counters it remembers; reference = outer o-1, which must equal outer o */
    if (g->i == 0 || g->o < 1) return 0;
    long pop = g->ctr_outer[0] - g->d1[0];
    uint64_t ref = 0, cur = 0;
    for (long i = 0; i < g->I; i++) ref = ref * 31 + iter_sig(g, g->o - 1, i, &pop);
    if (pop != g->ctr_outer[0]) return 0;
    for (long i = 0; i < g->I; i++) cur = cur * 31 + iter_sig(g, g->o, i, &pop);
    if (cur != ref) return 0;
    for (long o = g->o + 1; o < g->O; o++, k++) {
        uint64_t x = 0;
        for (long i = 0; i < g->I; i++) x = x * 31 + iter_sig(g, o, i, &pop);
        if (x != ref) break;
    }
    return k;
}

void bq_sched_gen_skip(bq_sched_gen *g, int level, long k) {
    const long *d = level == 0 ? g->d0 : g->d1;
    g->popped += k * d[0];
    g->signaled += k * d[1];
    g->tile += k * d[2];
    if (level == 0) {
        /* the last emitted iteration now stands for iteration i+k-1 (identical signature) */
        g->last_popped += k * d[0];
        g->last_i = g->i + k - 1;
        g->i += k;
        if (g->i >= g->I) {   /* jumped to the end of the outer iteration */
            g->i -= g->I;
            g->o++;
        }
    } else {
        g->o += k;
        g->last_o += k;
        g->last_popped += k * d[0];
        for (int c = 0; c < 3; c++) g->ctr_outer[c] += k * d[c];
    }
}

int bq_sched_build(bq_program *prog, const bq_sched_plan *p, const bq_hwcfg *cfg,
                   const bq_sched_addr *addr, char *err, size_t errlen) {
    bq_sched_gen g;
    if (bq_sched_gen_init(&g, prog, p, cfg, addr, err, errlen) != 0) return -1;
    int r;
    while ((r = bq_sched_gen_next(&g)) > 0) {
    }
    return r < 0 ? -1 : 0;
}
