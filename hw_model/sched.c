/*
 * sched.c — planning and emission of one layer's programs. See sched.h and
 * docs/latency_model.md (loop orders, token protocol, region placement).
 */
#include "sched.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

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
    for (int l = 0; l < 2; l++) free(p->itbase[l]);
    memset(p, 0, sizeof *p);
}

void bq_program_reset(bq_program *p) {
    for (int s = 0; s < BQ_NSTAGES; s++) p->len[s] = 0;
    p->nit[0] = p->nit[1] = 0;
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

int bq_sched_plan_layer(bq_sched_plan *p, const bq_hwcfg *cfg, const bq_hw_layer *l, char *err,
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
        seterr(err, errlen, "layer '%s': the accumulator could overflow: K = %d terms at W%dA%d "
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
        seterr(err, errlen, "layer '%s': a weight region holds %d words per bank but one K word at "
               "%d weight bits needs %d; raise buffers.weight_depth or lower buffers.regions",
               l->name, p->w_region, wb, wb);
        return -1;
    }
    if (kmax_a < 1) {
        seterr(err, errlen, "layer '%s': an activation region holds %d words per bank but one K "
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
        if (w_all <= p->w_region) {
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
        p->kcw = kmax;
        p->kch = (int)cdiv(p->kc, kmax);
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
            seterr(err, errlen, "layer '%s': the requant RAM holds %d channels (%d entries per bank"
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
        seterr(err, errlen, "layer '%s': a fetch burst would need more than 65535 beats (weights "
               "%lld, activations %lld, requant %lld); use smaller buffer regions",
               l->name, (long long)beats_w, (long long)beats_a, (long long)beats_q);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* emission */

typedef struct {
    bq_program *prog;
    const bq_sched_plan *p;
    const bq_hwcfg *cfg;
    bq_sched_addr ad;
    long popped;          /* FREED tokens popped by fetch so far */
    long signaled;        /* FREED tokens signalled by execute so far */
    long tile;            /* output tiles emitted so far */
    long tiles;           /* output tiles of the layer */
    int pend_iter[2];     /* iteration record waiting for its first execute instruction, or -1 */
    int bad;              /* 1: out of memory, 2: field overflow (err filled) */
    char *err;
    size_t errlen;
} emitter;

static uint64_t tkey_of(const bq_instr *in) {
    return (uint64_t)in->beats | (uint64_t)(in->beats2 & 0xffffu) << 32 |
           (uint64_t)in->op << 48 | (uint64_t)in->wait0 << 49 | (uint64_t)in->wait1 << 50 |
           (uint64_t)in->sig0 << 51 | (uint64_t)in->sig1 << 52 | (uint64_t)in->res << 53 |
           (uint64_t)(in->target & 3) << 54 | (uint64_t)(in->nplanes & 15) << 56;
}

static void push(emitter *em, int stage, bq_instr *in) {
    bq_program *pr = em->prog;
    if (em->bad) return;
    int n = pr->len[stage];
    if (n == pr->cap[stage]) {
        int nc = pr->cap[stage] ? pr->cap[stage] * 2 : 256;
        bq_tinstr *nt = realloc(pr->tins[stage], sizeof *nt * (size_t)nc);
        if (!nt) goto oom;
        pr->tins[stage] = nt;
        pr->cap[stage] = nc;
    }
    if (!pr->timing_only && n == pr->fcap[stage]) {
        int nc = pr->fcap[stage] ? pr->fcap[stage] * 2 : 256;
        if (nc <= n) nc = 2 * n;
        bq_instr *ni = realloc(pr->ins[stage], sizeof *ni * (size_t)nc);
        if (!ni) goto oom;
        pr->ins[stage] = ni;
        pr->fcap[stage] = nc;
    }
    in->stage = (uint8_t)stage;
    bq_tinstr *t = &pr->tins[stage][pr->len[stage]];
    t->key = tkey_of(in);
    t->iter[0] = t->iter[1] = -1;
    if (stage == BQ_STAGE_EXEC)
        for (int l = 0; l < 2; l++)
            if (em->pend_iter[l] >= 0) {
                t->iter[l] = em->pend_iter[l];
                em->pend_iter[l] = -1;
            }
    if (!pr->timing_only) pr->ins[stage][n] = *in;
    pr->len[stage]++;
    return;
oom:
    em->bad = 1;
    seterr(em->err, em->errlen, "layer '%s': out of memory building the program",
           em->p->layer.name);
}

/* Start an iteration of the periodic loop at `level`: remember where each program stands. */
static void iter_begin(emitter *em, int level) {
    bq_program *pr = em->prog;
    if (em->bad) return;
    if (pr->nit[level] == pr->capit[level]) {
        int nc = pr->capit[level] ? pr->capit[level] * 2 : 64;
        int *nb = realloc(pr->itbase[level], sizeof *nb * 3 * (size_t)nc);
        if (!nb) {
            em->bad = 1;
            seterr(em->err, em->errlen, "out of memory building the program");
            return;
        }
        pr->itbase[level] = nb;
        pr->capit[level] = nc;
    }
    int i = pr->nit[level]++;
    for (int s = 0; s < BQ_NSTAGES; s++) pr->itbase[level][3 * i + s] = pr->len[s];
    em->pend_iter[level] = i;
}

static uint32_t addr32(emitter *em, uint64_t a, const char *what) {
    if (a > 0xffffffffull && !em->bad) {
        em->bad = 2;
        seterr(em->err, em->errlen, "layer '%s': the %s address 0x%llx does not fit 32 bits; "
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

int bq_sched_build(bq_program *prog, const bq_sched_plan *p, const bq_hwcfg *cfg,
                   const bq_sched_addr *addr, char *err, size_t errlen) {
    emitter E;
    memset(&E, 0, sizeof E);
    emitter *em = &E;
    E.prog = prog;
    E.p = p;
    E.cfg = cfg;
    if (addr) E.ad = *addr;
    E.err = err;
    E.errlen = errlen;
    E.pend_iter[0] = E.pend_iter[1] = -1;
    const bq_hw_layer *l = &p->layer;
    const int Wb = cfg->mem_width_bits / 8;
    const uint32_t al[5] = {E.ad.w, E.ad.a, E.ad.rq, E.ad.out, E.ad.res};
    for (int i = 0; i < 5; i++)
        if (al[i] % (uint32_t)Wb) {
            seterr(err, errlen, "layer '%s': operand base addresses must be %d-byte aligned "
                   "(memory word), got 0x%x", l->name, Wb, al[i]);
            return -1;
        }
    const int G = l->groups, MT = p->mt, NT = p->nt, KC = p->kc, R = p->regions;
    const int S = p->rq_slots;
    const int wb = l->wbits, ab = l->abits;
    const uint64_t wrow = (uint64_t)cfg->dm * cfg->dk / 8;   /* bytes of one K word, all W banks */
    const uint64_t arow = (uint64_t)cfg->dn * cfg->dk / 8;
    E.tiles = (long)G * MT * NT;
    if (p->rq_all) fetch_rq(em, -1, 0);

    switch (p->order) {
    case BQ_ORDER_W_RESIDENT:
        /* per group: the MT weight stripes once (stripe m right before the first tile that needs
         * it, so execution starts after one stripe); per n: A(g,n), then all m tiles.
         * S-loads = A loads. Stripe m of group g sits at rows rw*w_region + m*wb*KC. */
        for (int g = 0; g < G; g++) {
            iter_begin(em, 1);
            uint64_t wg = E.ad.w + (uint64_t)g * p->w_group_bytes;
            uint64_t ag = E.ad.a + (uint64_t)g * p->a_group_bytes;
            if (!p->rq_all) fetch_rq(em, g, g >= S ? (long)(g - S + 1) * NT + 1 : 0);
            int rw = g % R;
            long wreq = g >= R ? (long)(g - R + 1) * NT : 0;
            for (int n = 0; n < NT; n++) {
                iter_begin(em, 0);
                long j = (long)g * NT + n;
                int ra = (int)(j % R);
                if (n == 0)
                    fetch_load(em, BQ_TGT_W, wb, wg, p->w_plane_bytes, rw * p->w_region, KC, wreq,
                               0);
                fetch_load(em, BQ_TGT_A, ab, ag + n * (uint64_t)KC * arow, p->a_plane_bytes,
                           ra * p->a_region, KC, j >= R ? j - R + 1 : 0, 1);
                for (int m = 0; m < MT; m++) {
                    if (n == 0 && m > 0)
                        fetch_load(em, BQ_TGT_W, wb, wg + m * (uint64_t)KC * wrow,
                                   p->w_plane_bytes, rw * p->w_region + m * wb * KC, KC, wreq, 1);
                    exec_chunk(em, rw * p->w_region + m * wb * KC, KC, ra * p->a_region, KC, KC,
                               m == 0 || n == 0, m == MT - 1, 1, 1);
                    result_tile(em, g, m, n);
                }
            }
        }
        break;
    case BQ_ORDER_M_OUTER:
        /* per (g, m): W stripe once; per n: A(g,m,n) and one tile. S-loads = A loads. */
        for (int g = 0; g < G; g++)
            for (int m = 0; m < MT; m++) {
                iter_begin(em, 1);
                long w = (long)g * MT + m;
                uint64_t wg = E.ad.w + (uint64_t)g * p->w_group_bytes;
                uint64_t ag = E.ad.a + (uint64_t)g * p->a_group_bytes;
                if (!p->rq_all && m == 0)
                    fetch_rq(em, g, g >= S ? (long)(g - S + 1) * MT * NT + 1 : 0);
                int rw = (int)(w % R);
                fetch_load(em, BQ_TGT_W, wb, wg + m * (uint64_t)KC * wrow, p->w_plane_bytes,
                           rw * p->w_region, KC, w >= R ? (w - R + 1) * NT : 0, 0);
                for (int n = 0; n < NT; n++) {
                    iter_begin(em, 0);
                    long j = w * NT + n;
                    int ra = (int)(j % R);
                    fetch_load(em, BQ_TGT_A, ab, ag + n * (uint64_t)KC * arow, p->a_plane_bytes,
                               ra * p->a_region, KC, j >= R ? j - R + 1 : 0, 1);
                    exec_chunk(em, rw * p->w_region, KC, ra * p->a_region, KC, KC, 1, 1, 1, 1);
                    result_tile(em, g, m, n);
                }
            }
        break;
    case BQ_ORDER_N_OUTER:
        /* per (g, n): A stripe once; per m: W(g,n,m) and one tile. S-loads = W loads. */
        for (int g = 0; g < G; g++)
            for (int n = 0; n < NT; n++) {
                iter_begin(em, 1);
                long a = (long)g * NT + n;
                uint64_t wg = E.ad.w + (uint64_t)g * p->w_group_bytes;
                uint64_t ag = E.ad.a + (uint64_t)g * p->a_group_bytes;
                if (!p->rq_all && n == 0)
                    fetch_rq(em, g, g >= S ? (long)(g - S + 1) * MT * NT + 1 : 0);
                int ra = (int)(a % R);
                fetch_load(em, BQ_TGT_A, ab, ag + n * (uint64_t)KC * arow, p->a_plane_bytes,
                           ra * p->a_region, KC, a >= R ? (a - R + 1) * MT : 0, 0);
                for (int m = 0; m < MT; m++) {
                    iter_begin(em, 0);
                    long j = a * MT + m;
                    int rw = (int)(j % R);
                    fetch_load(em, BQ_TGT_W, wb, wg + m * (uint64_t)KC * wrow, p->w_plane_bytes,
                               rw * p->w_region, KC, j >= R ? j - R + 1 : 0, 1);
                    exec_chunk(em, rw * p->w_region, KC, ra * p->a_region, KC, KC, 1, 1, 1, 1);
                    result_tile(em, g, m, n);
                }
            }
        break;
    case BQ_ORDER_K_SPLIT:
    default:
        /* per (g, m, n, chunk): W chunk and A chunk (a pair, one region each). S-loads = pairs. */
        for (int g = 0; g < G; g++)
            for (int m = 0; m < MT; m++) {
                iter_begin(em, 1);
                uint64_t wg = E.ad.w + (uint64_t)g * p->w_group_bytes;
                uint64_t ag = E.ad.a + (uint64_t)g * p->a_group_bytes;
                if (!p->rq_all && m == 0)
                    fetch_rq(em, g, g >= S ? (long)(g - S + 1) * MT * NT * p->kch + p->kch : 0);
                for (int n = 0; n < NT; n++) {
                    iter_begin(em, 0);
                    for (int c = 0; c < p->kch; c++) {
                        long j = (((long)g * MT + m) * NT + n) * p->kch + c;
                        int k0 = c * p->kcw, nk = KC - k0 < p->kcw ? KC - k0 : p->kcw;
                        int r = (int)(j % R);
                        fetch_load(em, BQ_TGT_W, wb, wg + ((uint64_t)m * KC + k0) * wrow,
                                   p->w_plane_bytes, r * p->w_region, nk, j >= R ? j - R + 1 : 0,
                                   0);
                        fetch_load(em, BQ_TGT_A, ab, ag + ((uint64_t)n * KC + k0) * arow,
                                   p->a_plane_bytes, r * p->a_region, nk, j >= R ? j - R + 1 : 0,
                                   1);
                        exec_chunk(em, r * p->w_region, nk, r * p->a_region, nk, nk, 1, 1, c == 0,
                                   c == p->kch - 1);
                    }
                    result_tile(em, g, m, n);
                }
            }
        break;
    }
    /* drain the FREED tokens nobody waited for, so every FIFO ends at 0 */
    for (long i = E.popped; i < E.signaled; i++) {
        bq_instr in;
        memset(&in, 0, sizeof in);
        in.op = BQ_OP_SYNC;
        in.wait0 = 1;
        push(em, BQ_STAGE_FETCH, &in);
    }
    E.popped = E.signaled;
    return E.bad ? -1 : 0;
}
