/*
 * hwsched_v2.c — planning and emission of ISA v2 programs (see hwsched_v2.h and
 * docs/whole_network.md §11 for the decisions). The token protocol is v1's (docs/latency_model.md):
 * every fetch that fills a buffer region signals FILLED once per execute instruction that waits,
 * every execute instruction that finishes with a region signals FREED, and a fetch that overwrites
 * region j of a ring of R waits until the FREED tokens of the instructions that used it are popped.
 */
#include "core/errmsg.h"
#include "hwsched_v2.h"
#include "isa.h"
#include "win.h"
#include "codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int roundup(int v, int m) { return (v + m - 1) / m * m; }

int bq_v2_layer_conv(bq_v2_layer *l, const char *name, int cin, int cout, int hi, int wi, int kh,
                     int kw, int stride, int pad, int depthwise, char *err, size_t errlen) {
    memset(l, 0, sizeof *l);
    if (cin < 1 || cout < 1 || hi < 1 || wi < 1 || kh < 1 || kw < 1 || stride < 1 || pad < 0 ||
        hi + 2 * pad < kh || wi + 2 * pad < kw || (depthwise && cin != cout)) {
        bq_seterr(err, errlen, "layer '%s': impossible geometry (cin %d, cout %d, %dx%d input, %dx%d "
                  "kernel, stride %d, pad %d%s); fix the layer", name, cin, cout, hi, wi, kh, kw,
                  stride, pad, depthwise ? ", depthwise needs cin = cout" : "");
        return -1;
    }
    int ho = (hi + 2 * pad - kh) / stride + 1, wo = (wi + 2 * pad - kw) / stride + 1;
    if (bq_hw_layer_conv(&l->hw, name, cin, cout, kh, kw, ho, wo, depthwise ? cin : 1, err, errlen))
        return -1;
    l->cin = cin;
    l->cout = cout;
    l->hi = hi;
    l->wi = wi;
    l->ho = ho;
    l->wo = wo;
    l->kh = kh;
    l->kw = kw;
    l->stride = stride;
    l->pad_t = l->pad_l = pad;
    l->depthwise = depthwise;
    l->in_from = l->res_from = -1;
    return 0;
}

int bq_v2_layer_linear(bq_v2_layer *l, const char *name, int in, int out, char *err, size_t errlen) {
    if (bq_v2_layer_conv(l, name, in, out, 1, 1, 1, 1, 1, 0, 0, err, errlen)) return -1;
    l->hw.raw32 = 1;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* plan */

/* The fetch SETUP of the layer (dense: the whole pixel; depthwise: channel c's byte). */
static bq_win_setup win_setup(const bq_v2_plan *p, int c) {
    const bq_v2_layer *v = &p->v;
    bq_win_setup s = {.hi = v->hi, .wi = v->wi, .wo = v->wo, .kh = v->kh, .kw = v->kw,
                      .stride = v->stride, .pad_t = v->pad_t, .pad_l = v->pad_l, .cs = p->cs_in,
                      .ch_base = 0, .ch_lo = 0, .ch_hi = v->cin, .z_a = v->z_a};
    if (v->depthwise) {
        s.ch_base = c / p->ct * p->ct;
        s.ch_lo = c % p->ct;
        s.ch_hi = s.ch_lo + 1;
    }
    return s;
}

static bq_win_cfg win_cfg(const bq_hwcfg *cfg) {
    bq_win_cfg c = {.dn = cfg->dn, .dk = cfg->dk, .w_bits = cfg->mem_width_bits,
                    .lr = bq_hwcfg_port_read_latency(cfg),
                    .rr = (cfg->mem_width_bits / 8 + cfg->read_bytes_per_cycle - 1) /
                          cfg->read_bytes_per_cycle,
                    .window_bytes = cfg->window_bytes};
    return c;
}

int bq_v2_plan_layer(bq_v2_plan *p, const bq_hwcfg *cfg, const bq_v2_layer *l, char *err,
                     size_t errlen) {
    memset(p, 0, sizeof *p);
    const char *name = l->hw.name;
    const int Wb = cfg->mem_width_bits / 8;
    if (cfg->window_bytes <= 0 || cfg->block_channels <= 0) {
        bq_seterr(err, errlen, "layer '%s': config '%s' has no ISA v2 units (buffers.window_bytes and "
                  "buffers.block_channels are 0); set both to run whole-network programs", name,
                  cfg->name);
        return -1;
    }
    if (l->hw.groups != 1 && !l->depthwise) {
        bq_seterr(err, errlen, "layer '%s': grouped convolution (%d groups) other than depthwise has "
                  "no v2 schedule yet; run it per layer (v1)", name, l->hw.groups);
        return -1;
    }
    if (l->hw.raw32 && l->hw.has_residual) {
        bq_seterr(err, errlen, "layer '%s': a RAW32 layer cannot add a residual; drop one of them",
                  name);
        return -1;
    }
    p->v = *l;
    p->ct = l->depthwise ? Wb : roundup(l->cin, Wb);
    p->cs_in = l->depthwise ? roundup(l->cin, Wb) : p->ct;
    p->cs_out = roundup(l->cout, Wb);
    p->cs_res = l->hw.has_residual ? p->cs_out : 0;
    /* tiling on the tap-major K (zeros at padded bytes are real multiply-adds for the array; the
     * accumulator check is then conservative) */
    bq_hw_layer hw = l->hw;
    hw.k = l->kh * l->kw * p->ct;
    if (bq_sched_plan_tiles(&p->base, cfg, &hw, err, errlen)) return -1;
    bq_sched_plan *b = &p->base;
    if (b->order == BQ_ORDER_K_SPLIT) {
        bq_seterr(err, errlen, "layer '%s': K = %d (tap-major, %d-byte tap slots) needs %d words per "
                  "bank at W%dA%d, more than one buffer region; v2 has no K split yet: raise "
                  "buffers.act_depth/weight_depth or lower buffers.regions", name, hw.k, p->ct,
                  b->kc, hw.wbits, hw.abits);
        return -1;
    }
    if (!b->rq_all && !l->depthwise) {   /* depthwise: a ring of rq_slots entries (emit_depthwise) */
        bq_seterr(err, errlen, "layer '%s': its %d requant entries do not fit the requant RAM at once "
                  "(%d per bank); v2 loads them once per layer: raise buffers.requant_depth to %lld",
                  name, hw.groups * b->mt, cfg->requant_depth / cfg->dm,
                  (long long)hw.groups * b->mt * cfg->dm);
        return -1;
    }
    if (!l->hw.raw32 && (b->m_pad > cfg->block_channels || p->cs_out > cfg->block_channels)) {
        bq_seterr(err, errlen, "layer '%s': %d output channels (M_pad %d, %d bytes per pixel) do not "
                  "fit a block-buffer row of buffers.block_channels = %d; raise block_channels",
                  name, l->cout, b->m_pad, p->cs_out, cfg->block_channels);
        return -1;
    }
    if (l->depthwise) {
        p->w_resident = (int64_t)l->cin * hw.wbits * b->kc <= b->w_region;
    } else {
        p->w_resident = b->w_fits;
    }
    b->order = p->w_resident ? BQ_ORDER_W_RESIDENT : BQ_ORDER_N_OUTER;
    /* the largest window of any tile, and the fields of that tile's WIN */
    bq_win_cfg wc = win_cfg(cfg);
    bq_win_setup ws = win_setup(p, 0);
    long worst_pix = 0;
    for (long n = 0; n < b->nt; n++) {
        bq_win_run r = {.pix0 = (uint32_t)(n * cfg->dn), .t = b->kc, .nplanes = hw.abits};
        long need = bq_win_window_bytes(&wc, &ws, &r);
        if (need > p->window_max) {
            p->window_max = need;
            worst_pix = n * cfg->dn;
        }
    }
    if (p->window_max > cfg->window_bytes) {
        bq_seterr(err, errlen, "layer '%s': the tile at output pixel %ld needs %ld window-buffer bytes, "
                  "buffers.window_bytes is %d; raise window_bytes to at least %ld (channel slicing "
                  "is not implemented)", name, worst_pix, p->window_max, cfg->window_bytes,
                  p->window_max);
        return -1;
    }
    bq_win_run r = {.pix0 = (uint32_t)worst_pix, .t = b->kc, .nplanes = hw.abits};
    char werr[256];
    if (bq_win_check(&wc, &ws, &r, werr, sizeof werr)) {
        bq_seterr(err, errlen, "layer '%s': %s", name, werr);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* emission */

typedef struct {
    bq_program *prog;
    const bq_v2_plan *p;
    const bq_hwcfg *cfg;
    bq_v2_addr ad;
    bq_win_cfg wc;
    bq_win_setup ws;      /* the fetch SETUP in force */
    bq_codes_state cs;    /* result SETUP / RUNC checks (bq_codes_check) */
    long popped, signaled, tile, tiles;
    int pend_iter;        /* level-0 record waiting for its first execute instruction */
    int wait_next;        /* the next fetch instruction waits for WRITTEN */
    int signal_next;
    int bad;
    char *err;
    size_t errlen;
} v2em;

static int fail(v2em *em, const char *what) {
    if (!em->bad) bq_seterr(em->err, em->errlen, "layer '%s': %s", em->p->v.hw.name, what);
    em->bad = 1;
    return -1;
}

/* Encode (every field must fit) and append with the key (0: bq_tkey). */
static void push(v2em *em, int stage, bq_instr *in, int64_t key) {
    if (em->bad) return;
    in->stage = (uint8_t)stage;
    if (stage == BQ_STAGE_FETCH && em->wait_next) {
        in->wait1 = 1;   /* the layer's first fetch instruction: WRITTEN of the previous layer */
        em->wait_next = 0;
    }
    uint32_t w[4];
    if (bq_isa_encode(in, w) != 0) {
        char m[160];
        snprintf(m, sizeof m, "a field of a stage-%d op-%d instruction does not fit its ISA encoding "
                 "(docs/hw_isa.md §3.5); shrink the layer", stage, in->op);
        fail(em, m);
        return;
    }
    int it = -1;
    if (stage == BQ_STAGE_EXEC) {
        it = em->pend_iter;
        em->pend_iter = -1;
    }
    if (bq_program_append(em->prog, stage, in, key >= 0 ? (uint64_t)key : bq_tkey(in), it, -1))
        fail(em, "out of memory building the program");
}

/* FREED tokens: the next fetch may overwrite its region after p_req have been popped; extra
 * tokens beyond one are popped by SYNCs. Returns the next instruction's wait0. */
static int take_freed(v2em *em, long p_req) {
    long need = p_req - em->popped;
    for (long i = 1; i < need; i++) {
        bq_instr in = {.op = BQ_OP_SYNC, .wait0 = 1};
        push(em, BQ_STAGE_FETCH, &in, -1);
    }
    if (need <= 0) return 0;
    em->popped = p_req;
    return 1;
}

static long preq_ring(long idx, long ring, long per) {   /* load idx reuses the region of idx-ring */
    return idx >= ring ? (idx - ring + 1) * per : 0;
}

static void fetch_setup(v2em *em, int c) {
    em->ws = win_setup(em->p, c);
    const bq_win_setup *s = &em->ws;
    bq_instr in = {.op = BQ_OP_SETUP, .in_h = (uint16_t)s->hi, .in_w = (uint16_t)s->wi,
                   .out_w = (uint16_t)s->wo, .kh = (uint8_t)s->kh, .kw = (uint8_t)s->kw,
                   .stride = (uint8_t)s->stride, .pad_t = (uint8_t)s->pad_t,
                   .pad_l = (uint8_t)s->pad_l, .cs = (uint16_t)s->cs, .ch_base = (uint16_t)s->ch_base,
                   .ch_lo = (uint16_t)s->ch_lo, .ch_hi = (uint16_t)s->ch_hi, .z_a = (uint8_t)s->z_a};
    push(em, BQ_STAGE_FETCH, &in, -1);
}

/* v1 fetch RUN of weights (target W) or requant records (RQ). */
static void fetch_v1(v2em *em, int target, int nplanes, uint64_t dram, uint64_t stride, int buf_base,
                     int t, long p_req, int filled) {
    const int Wb = em->cfg->mem_width_bits / 8;
    int w0 = take_freed(em, p_req);
    if (dram + (uint64_t)stride * (uint64_t)(nplanes - 1) > 0xffffffffull) {
        fail(em, "an operand address does not fit 32 bits; place the operands lower in memory");
        return;
    }
    bq_instr in = {.op = BQ_OP_RUN, .wait0 = (uint8_t)w0, .sig0 = (uint8_t)filled,
                   .target = (uint8_t)target, .nplanes = (uint8_t)nplanes,
                   .dram_addr = (uint32_t)dram, .plane_stride = (uint32_t)stride,
                   .buf_base = (uint16_t)buf_base, .t = (uint16_t)t};
    int64_t unit = target == BQ_TGT_RQ ? 16 : em->cfg->dk / 8;
    in.beats = (uint32_t)((int64_t)t * em->cfg->dm * unit / Wb);
    push(em, BQ_STAGE_FETCH, &in, -1);
}

/* Weights of stripe m (dense) or channel g (depthwise) into bank rows buf_base. */
static void fetch_w(v2em *em, int g, int m, int buf_base, long p_req, int filled) {
    const bq_sched_plan *b = &em->p->base;
    uint64_t dram = em->ad.w + (uint64_t)g * b->w_group_bytes +
                    (uint64_t)m * b->kc * em->cfg->dm * (em->cfg->dk / 8);
    fetch_v1(em, BQ_TGT_W, b->layer.wbits, dram, b->w_plane_bytes, buf_base, b->kc, p_req, filled);
}

/* WIN of the tile at pixel block n into act rows buf_base (§4.2). */
static void fetch_win(v2em *em, long n, int buf_base, int keep, long p_req, int filled) {
    const bq_sched_plan *b = &em->p->base;
    int w0 = take_freed(em, p_req);
    bq_win_run r = {.dram_addr = em->ad.in, .pix0 = (uint32_t)(n * em->cfg->dn), .kc0 = 0,
                    .t = b->kc, .nplanes = b->layer.abits, .buf_base = buf_base, .keep = keep};
    char werr[256];
    if (bq_win_check(&em->wc, &em->ws, &r, werr, sizeof werr)) {
        fail(em, werr);
        return;
    }
    bq_win_burst bursts[128 * 15];
    int nb = bq_win_fill_bursts(&em->wc, &em->ws, &r, bursts);
    uint32_t beats[128 * 15];
    for (int i = 0; i < nb; i++) beats[i] = bursts[i].beats;
    int prof = bq_program_win_profile(em->prog, beats, nb < 0 ? 0 : nb,
                                      bq_win_assemble_cycles(&em->wc, r.t, r.nplanes));
    if (nb < 0 || prof < 0) {
        fail(em, "out of memory building the program");
        return;
    }
    bq_instr in = {.op = BQ_OP_RUN, .wait0 = (uint8_t)w0, .sig0 = (uint8_t)filled,
                   .target = BQ_TGT_WIN, .nplanes = (uint8_t)r.nplanes, .dram_addr = r.dram_addr,
                   .buf_base = (uint16_t)buf_base, .t = (uint16_t)r.t, .keep = (uint8_t)keep,
                   .kc0 = 0, .pix0 = r.pix0, .beats = (uint32_t)prof};
    push(em, BQ_STAGE_FETCH, &in, -1);
}

/* One execute RUN: the whole K of one tile, committed (v1's exec_chunk with one chunk). */
static void exec_tile(v2em *em, int wbase, int abase, int wait_filled, int sig_freed) {
    const bq_sched_plan *b = &em->p->base;
    const bq_hw_layer *l = &b->layer;
    bq_instr in = {.op = BQ_OP_RUN, .wbits = (uint8_t)l->wbits, .abits = (uint8_t)l->abits,
                   .wsigned = (uint8_t)l->w_signed, .asigned = (uint8_t)l->a_signed,
                   .wn = (uint8_t)l->wbits, .an = (uint8_t)l->abits, .wbase = (uint16_t)wbase,
                   .abase = (uint16_t)abase, .wstride = (uint16_t)b->kc, .astride = (uint16_t)b->kc,
                   .nk = (uint16_t)b->kc, .clear = 1, .asum = 1, .wait0 = (uint8_t)wait_filled,
                   .sig0 = (uint8_t)sig_freed, .commit = 1, .sig1 = 1,
                   .wait1 = (uint8_t)(em->tile > 0)};
    in.beats = (uint32_t)(l->wbits * l->abits * b->kc);
    push(em, BQ_STAGE_EXEC, &in, -1);
    if (sig_freed) em->signaled++;
}

static void result_setup(v2em *em) {
    const bq_v2_plan *p = em->p;
    bq_codes_setup_regs r = {.out_base = em->ad.out, .res_base = p->cs_res ? em->ad.res : 0,
                             .cs_out = p->cs_out, .cs_res = p->cs_res, .z_r = p->v.hw.z_r};
    char cerr[256];
    if (!p->v.hw.raw32 && bq_codes_setup(&em->cs, &r, cerr, sizeof cerr)) {
        fail(em, cerr);
        return;
    }
    bq_instr in = {.op = BQ_OP_SETUP, .out_base = r.out_base, .res_base = r.res_base,
                   .cs_out = (uint16_t)r.cs_out, .cs_res = (uint16_t)r.cs_res, .z_r = (uint8_t)r.z_r};
    push(em, BQ_STAGE_RESULT, &in, -1);
}

/* The result of tile (m or channel, pixel block n): RUNC rows ch0 .. ch0+mrows-1, or (RAW32) the
 * v1 RUN writing the tile's int32 words. */
static void result_tile(v2em *em, long n, int m, int ch0, int mrows, int first, int flush,
                        int rq_entry) {
    const bq_v2_plan *p = em->p;
    const bq_hw_layer *l = &p->v.hw;
    const int Wb = em->cfg->mem_width_bits / 8, dn = em->cfg->dn;
    int last = em->tile + 1 == em->tiles;
    bq_instr in = {.wait0 = 1, .sig0 = (uint8_t)!last, .sig1 = (uint8_t)(last && em->signal_next),
                   .z_o = (uint8_t)l->z_o, .lo = (uint8_t)l->lo, .rq_entry = (uint8_t)rq_entry};
    if (l->raw32) {
        uint64_t t = (uint64_t)n * p->base.mt + (uint64_t)m, out = em->ad.out + t * p->base.o_tile_bytes;
        if (out > 0xffffffffull) {
            fail(em, "the output address does not fit 32 bits; place the operands lower in memory");
            return;
        }
        in.op = BQ_OP_RUN;
        in.mode = 1;
        in.obits = 1;
        in.rbits = 1;
        in.hi = 1;
        in.out_addr = (uint32_t)out;
        in.beats = (uint32_t)(p->base.o_tile_bytes / (uint64_t)Wb);
        push(em, BQ_STAGE_RESULT, &in, -1);
        em->tile++;
        return;
    }
    int npix = (int)((long)l->n - n * dn < dn ? (long)l->n - n * dn : dn);
    bq_codes_run_f r = {.n0 = (uint32_t)(n * dn), .ch0 = ch0, .npix = npix, .mrows = mrows,
                        .first = first, .flush = flush, .res = l->has_residual, .z_o = l->z_o,
                        .lo = l->lo, .hi = l->hi < 0 ? (1 << l->obits) - 1 : l->hi,
                        .rq_entry = rq_entry, .sig0 = in.sig0, .sig1 = in.sig1};
    char cerr[256];
    if (bq_codes_check(&em->cs, &r, (size_t)1 << 32, cerr, sizeof cerr)) {
        fail(em, cerr);
        return;
    }
    if (first && r.res) {   /* what bq_codes_run records: the residual block holds this block */
        em->cs.res_loaded = 1;
        em->cs.res_n0 = r.n0;
        em->cs.res_npix = r.npix;
    }
    in.op = BQ_OP_RUNC;
    in.res = (uint8_t)r.res;
    in.hi = (uint8_t)r.hi;
    in.n0 = r.n0;
    in.ch0 = (uint16_t)ch0;
    in.npix = (uint8_t)npix;
    in.mrows = (uint8_t)mrows;
    in.first = (uint8_t)first;
    in.flush = (uint8_t)flush;
    in.beats = flush ? (uint32_t)(npix * p->cs_out / Wb) : 0;
    in.beats2 = first && r.res ? (uint32_t)(npix * p->cs_res / Wb) : 0;
    push(em, BQ_STAGE_RESULT, &in, -1);
    em->tile++;
}

static void iter_begin(v2em *em, long n) {
    if (em->bad) return;
    em->pend_iter = bq_program_iter_begin(em->prog, 0, n);
    if (em->pend_iter < 0) fail(em, "out of memory building the program");
}

/* Dense layer: per pixel block n one WIN, then the MT tiles of the block back to back. */
static void emit_dense(v2em *em) {
    const bq_sched_plan *b = &em->p->base;
    const int MT = b->mt, KC = b->kc, R = b->regions, wb = b->layer.wbits, dm = em->cfg->dm;
    const int M = b->layer.m;
    for (long n = 0; n < b->nt && !em->bad; n++) {
        iter_begin(em, n);
        int ra = (int)(n % R);
        if (em->p->w_resident) {
            if (n == 0) fetch_w(em, 0, 0, 0, 0, 0);
            fetch_win(em, n, ra * b->a_region, 0, preq_ring(n, R, 1), 1);
        } else {
            fetch_win(em, n, ra * b->a_region, 0, preq_ring(n, R, MT), 0);
        }
        for (int m = 0; m < MT; m++) {
            int wbase;
            if (em->p->w_resident) {
                wbase = m * wb * KC;
                if (n == 0 && m > 0) fetch_w(em, 0, m, wbase, 0, 1);
                exec_tile(em, wbase, ra * b->a_region, m == 0 || n == 0, m == MT - 1);
            } else {
                long j = n * MT + m;
                wbase = (int)(j % R) * b->w_region;
                fetch_w(em, 0, m, wbase, preq_ring(j, R, 1), 1);
                exec_tile(em, wbase, ra * b->a_region, 1, 1);
            }
            int rows = M - m * dm < dm ? M - m * dm : dm;
            result_tile(em, n, m, m * dm, rows, m == 0, m == MT - 1, m);
        }
    }
}

/* Depthwise: per pixel block n, per channel c (§5: tile outer, channel inner) a SETUP selecting
 * the channel, a WIN (keep after the block's first channel), the channel's tile (M = 1). When the
 * C records do not fit the requant RAM, channel c's record is loaded into entry c % S before its
 * tile j = n*C + c: the result stage is done with tile j-S's record once execute has committed
 * tile j-S+1 (the commit waits for RESFREE of j-S), i.e. after j-S+2 FREED tokens. */
static void emit_depthwise(v2em *em) {
    const bq_sched_plan *b = &em->p->base;
    const int C = em->p->v.cin, KC = b->kc, R = b->regions, wb = b->layer.wbits;
    int cur = 0;   /* channel the SETUP in force selects (the layer's first SETUP: 0; each block
                      after the first starts with a SETUP back to channel 0) */
    for (long n = 0; n < b->nt && !em->bad; n++) {
        iter_begin(em, n);
        for (int c = 0; c < C && !em->bad; c++) {
            long j = n * C + c;
            int ra = (int)(j % R), wbase;
            if (!b->rq_all)   /* the channel's record into slot c % S once tile j-S is done */
                fetch_v1(em, BQ_TGT_RQ, 1, em->ad.rq + (uint64_t)16 * c * b->m_pad, 0,
                         c % b->rq_slots, 1, j >= b->rq_slots ? j - b->rq_slots + 2 : 0, 0);
            if (c != cur) {
                fetch_setup(em, c);
                cur = c;
            }
            if (em->p->w_resident) {
                wbase = c * wb * KC;
                fetch_win(em, n, ra * b->a_region, c > 0, preq_ring(j, R, 1), n > 0);
                if (n == 0) fetch_w(em, c, 0, wbase, 0, 1);
            } else {
                wbase = (int)(j % R) * b->w_region;
                fetch_win(em, n, ra * b->a_region, c > 0, preq_ring(j, R, 1), 0);
                fetch_w(em, c, 0, wbase, preq_ring(j, R, 1), 1);
            }
            exec_tile(em, wbase, ra * b->a_region, 1, 1);
            result_tile(em, n, 0, c, 1, c == 0, c == C - 1, b->rq_all ? c : c % b->rq_slots);
        }
    }
}

int bq_v2_build(bq_program *prog, const bq_v2_plan *p, const bq_hwcfg *cfg, const bq_v2_addr *addr,
                int wait_prev, int signal_next, char *err, size_t errlen) {
    v2em em;
    memset(&em, 0, sizeof em);
    em.prog = prog;
    em.p = p;
    em.cfg = cfg;
    if (addr) em.ad = *addr;
    em.wc = win_cfg(cfg);
    em.pend_iter = -1;
    em.wait_next = wait_prev;
    em.signal_next = signal_next;
    em.err = err;
    em.errlen = errlen;
    const int Wb = cfg->mem_width_bits / 8;
    const uint32_t al[5] = {em.ad.in, em.ad.w, em.ad.rq, em.ad.out, em.ad.res};
    for (int i = 0; i < 5; i++)
        if (al[i] % (uint32_t)Wb) {
            bq_seterr(err, errlen, "layer '%s': operand base addresses must be %d-byte aligned "
                      "(memory word), got 0x%x", p->v.hw.name, Wb, al[i]);
            return -1;
        }
    bq_codes_cfg cc = {.dm = cfg->dm, .dn = cfg->dn, .lanes = cfg->res_lanes,
                       .w_bits = cfg->mem_width_bits, .lr = bq_hwcfg_port_read_latency(cfg),
                       .rr = 1, .lw = bq_hwcfg_port_write_latency(cfg), .rw = 1,
                       .block_channels = cfg->block_channels};
    if (bq_codes_init(&em.cs, &cc, err, errlen)) return -1;
    const bq_sched_plan *b = &p->base;
    em.tiles = (long)b->layer.groups * b->mt * b->nt;
    fetch_setup(&em, 0);
    result_setup(&em);
    if (b->rq_all) fetch_v1(&em, BQ_TGT_RQ, 1, em.ad.rq, 0, 0, b->layer.groups * b->mt, 0, 0);
    if (p->v.depthwise)
        emit_depthwise(&em);
    else
        emit_dense(&em);
    /* epilogue: pop the FREED tokens nobody waited for (RESFREE: the last result signals none) */
    for (long k = em.popped; k < em.signaled && !em.bad; k++) {
        bq_instr in = {.op = BQ_OP_SYNC, .wait0 = 1};
        push(&em, BQ_STAGE_FETCH, &in, -1);
    }
    bq_codes_free(&em.cs);
    return em.bad ? -1 : 0;
}

void bq_v2_pack_weights(const bq_v2_plan *p, const bq_hwcfg *cfg, const int *codes, uint8_t *out) {
    const bq_sched_plan *b = &p->base;
    const bq_v2_layer *v = &p->v;
    const int dm = cfg->dm, wordb = cfg->dk / 8, M = b->layer.m, taps = v->kh * v->kw;
    const int cin_g = v->depthwise ? 1 : v->cin, wb = b->layer.wbits;
    memset(out, 0, (size_t)(b->w_group_bytes * (uint64_t)b->layer.groups));
    for (int g = 0; g < b->layer.groups; g++)
        for (int m = 0; m < M; m++)
            for (int ci = 0; ci < cin_g; ci++)
                for (int t = 0; t < taps; t++) {
                    int code = codes[((g * M + m) * cin_g + ci) * taps + t];
                    long k = (long)t * p->ct + (v->depthwise ? g % p->ct : ci);
                    long kc = k / cfg->dk, bit = k % cfg->dk;
                    int mt = m / dm, mi = m % dm;
                    for (int pl = 0; pl < wb; pl++) {
                        if (!((unsigned)code >> pl & 1u)) continue;
                        uint64_t at = (uint64_t)g * b->w_group_bytes +
                                      ((((uint64_t)pl * b->mt + mt) * b->kc + kc) * dm + mi) * wordb;
                        out[at + bit / 8] |= (uint8_t)(1u << (bit % 8));
                    }
                }
}

/* ------------------------------------------------------------------------------------------ */
/* whole network */

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

int bq_v2_net_plan(bq_v2_plan *plans, bq_v2_memplan *mp, const bq_hwcfg *cfg,
                   const bq_v2_layer *layers, int nlayers, char *err, size_t errlen) {
    memset(mp, 0, sizeof *mp);
    const uint64_t Wb = (uint64_t)cfg->mem_width_bits / 8;
    if (nlayers < 1 || nlayers > BQ_V2_MAX_LAYERS) {
        bq_seterr(err, errlen, "network: %d layers, a whole-network program takes 1..%d", nlayers,
                  BQ_V2_MAX_LAYERS);
        return -1;
    }
    uint64_t in_bytes = 0;
    for (int i = 0; i < nlayers; i++) {
        const bq_v2_layer *l = &layers[i];
        if (bq_v2_plan_layer(&plans[i], cfg, l, err, errlen)) return -1;
        const int srcs[2] = {l->in_from, l->hw.has_residual ? l->res_from : -2};
        for (int k = 0; k < 2; k++) {
            int f = srcs[k];
            if (f == -2) continue;
            if (f < -1 || f >= i) {
                bq_seterr(err, errlen, "layer '%s': its %s comes from layer %d; use an earlier layer "
                          "or -1 (the network input)", l->hw.name, k ? "residual" : "input", f);
                return -1;
            }
            int c = k ? l->cout : l->cin, h = k ? l->ho : l->hi, w = k ? l->wo : l->wi;
            if (f < 0) {
                uint64_t need = (uint64_t)h * w * (uint64_t)roundup(c, (int)Wb);
                if (need > in_bytes) in_bytes = need;
                continue;
            }
            const bq_v2_layer *pr = &layers[f];
            if (pr->hw.raw32 || pr->cout != c || pr->ho != h || pr->wo != w) {
                bq_seterr(err, errlen, "layer '%s': its %s (%d x %d x %d) does not match the output of "
                          "layer '%s' (%d x %d x %d%s)", l->hw.name, k ? "residual" : "input", h, w,
                          c, pr->hw.name, pr->ho, pr->wo, pr->cout, pr->hw.raw32 ? ", RAW32" : "");
                return -1;
            }
        }
    }
    uint64_t at = 0;
    mp->input = 0;
    at = align_up(in_bytes, Wb);
    for (int i = 0; i < nlayers; i++) {
        const bq_v2_plan *p = &plans[i];
        mp->out[i] = (uint32_t)at;
        uint64_t bytes = p->v.hw.raw32 ? (uint64_t)p->base.mt * p->base.nt * p->base.o_tile_bytes
                                       : (uint64_t)p->v.ho * p->v.wo * p->cs_out;
        at = align_up(at + bytes, Wb);
    }
    for (int i = 0; i < nlayers; i++) {
        const bq_v2_plan *p = &plans[i];
        mp->w[i] = (uint32_t)at;
        at = align_up(at + p->base.w_group_bytes * (uint64_t)p->base.layer.groups, Wb);
        mp->rq[i] = (uint32_t)at;
        at = align_up(at + (uint64_t)16 * p->base.layer.groups * p->base.m_pad, Wb);
    }
    mp->end = at;
    if (at > 0xffffffffull) {
        bq_seterr(err, errlen, "network: the memory plan needs %llu bytes, more than the 32-bit "
                  "address space", (unsigned long long)at);
        return -1;
    }
    for (int i = 0; i < nlayers; i++) {
        const bq_v2_layer *l = &layers[i];
        bq_v2_addr *a = &mp->addr[i];
        a->in = l->in_from < 0 ? mp->input : mp->out[l->in_from];
        a->res = !l->hw.has_residual ? 0 : l->res_from < 0 ? mp->input : mp->out[l->res_from];
        a->out = mp->out[i];
        a->w = mp->w[i];
        a->rq = mp->rq[i];
    }
    return 0;
}

int bq_v2_net_build(bq_program *prog, const bq_v2_plan *plans, const bq_v2_memplan *mp,
                    const bq_hwcfg *cfg, int nlayers, char *err, size_t errlen) {
    for (int i = 0; i < nlayers; i++)
        if (bq_v2_build(prog, &plans[i], cfg, &mp->addr[i], i > 0, i + 1 < nlayers, err, errlen))
            return -1;
    return 0;
}
