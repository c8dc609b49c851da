/*
 * codes.c — reference model of the result stage's CODES mode (see codes.h). Three steps, as
 * docs/whole_network.md §4.4 orders them: the residual block read (first && res), the compute of
 * every tile element into the output block buffer, the write burst of the pixel block (flush);
 * cycles by docs/hw_isa.md §4.4 (v1's residual read, compute and write timing).
 */
#include "codes.h"
#include <stdlib.h>
#include <string.h>
#include "core/errmsg.h"

/* One field against [lo, hi]; the message names the field. */
static int range(const char *what, long v, long lo, long hi, char *err, size_t errlen) {
    if (v >= lo && v <= hi) return 0;
    bq_seterr(err, errlen, "codes: %s = %ld outside %ld..%ld", what, v, lo, hi);
    return -1;
}

static int check_cfg(const bq_codes_cfg *c, char *err, size_t errlen) {
    if (range("dm", c->dm, 1, 128, err, errlen) || range("dn", c->dn, 1, 128, err, errlen) ||
        range("res_lanes", c->lanes, 1, c->dm, err, errlen) || range("read latency", c->lr, 1, 1 << 20, err, errlen) ||
        range("read cycles per beat", c->rr, 1, 1 << 20, err, errlen) ||
        range("write latency", c->lw, 1, 1 << 20, err, errlen) ||
        range("write cycles per beat", c->rw, 1, 1 << 20, err, errlen))
        return -1;
    if (c->dm % c->lanes) {
        bq_seterr(err, errlen, "codes: res_lanes %d must divide dm %d", c->lanes, c->dm);
        return -1;
    }
    if (c->w_bits != 32 && c->w_bits != 64 && c->w_bits != 128) {
        bq_seterr(err, errlen, "codes: memory width %d must be 32, 64 or 128 bits", c->w_bits);
        return -1;
    }
    int wb = c->w_bits / 8;
    if (c->block_channels < wb || c->block_channels > 4096 || c->block_channels % wb) {
        bq_seterr(err, errlen, "codes: block_channels %d must be a multiple of Wb = %d in %d..4096 (a pixel "
                  "row is whole memory beats)", c->block_channels, wb, wb);
        return -1;
    }
    return 0;
}

int bq_codes_init(bq_codes_state *st, const bq_codes_cfg *c, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    if (check_cfg(c, err, errlen)) return -1;
    size_t n = (size_t)c->dn * (size_t)c->block_channels;
    st->out_blk = calloc(n, 1);
    st->res_blk = calloc(n, 1);
    if (!st->out_blk || !st->res_blk) {
        bq_codes_free(st);
        bq_seterr(err, errlen, "codes: out of memory for two block buffers of %zu bytes", n);
        return -1;
    }
    st->cfg = *c;
    return 0;
}

void bq_codes_free(bq_codes_state *st) {
    free(st->out_blk);
    free(st->res_blk);
    memset(st, 0, sizeof *st);
}

int bq_codes_setup(bq_codes_state *st, const bq_codes_setup_regs *s, char *err, size_t errlen) {
    if (!st->out_blk) { bq_seterr(err, errlen, "codes: state not initialised (call bq_codes_init)"); return -1; }
    int wb = st->cfg.w_bits / 8, bc = st->cfg.block_channels;
    if (range("SETUP cs_out", s->cs_out, 1, bc < 4095 ? bc : 4095, err, errlen) ||
        range("SETUP cs_res", s->cs_res, 0, bc < 4095 ? bc : 4095, err, errlen) ||
        range("SETUP z_r", s->z_r, 0, 255, err, errlen))
        return -1;
    if (s->cs_out % wb || s->cs_res % wb) {
        bq_seterr(err, errlen, "codes: SETUP cs_out %d and cs_res %d must be multiples of Wb = %d (each pixel "
                  "starts on a beat)", s->cs_out, s->cs_res, wb);
        return -1;
    }
    if (s->out_base % (uint32_t)wb || s->res_base % (uint32_t)wb) {
        bq_seterr(err, errlen, "codes: SETUP out_base 0x%x and res_base 0x%x must be multiples of Wb = %d",
                  s->out_base, s->res_base, wb);
        return -1;
    }
    st->setup = *s;
    st->have_setup = 1;
    st->res_loaded = 0;   /* a new layer: its residual block is read again on `first` */
    return 0;
}

/* The burst of npix pixels of cs bytes from base + n0*cs: inside memory and <= 65535 beats. */
static int check_burst(const char *what, uint32_t base, uint32_t n0, int npix, int cs, int wb, size_t mem_len,
                       char *err, size_t errlen) {
    uint64_t addr = base + (uint64_t)n0 * (uint64_t)cs, len = (uint64_t)npix * (uint64_t)cs;
    if (len / (uint64_t)wb > 65535) {
        bq_seterr(err, errlen, "codes: the %s burst of %d pixels x %d bytes exceeds 65535 beats; lower npix",
                  what, npix, cs);
        return -1;
    }
    if (addr + len > mem_len || addr + len > ((uint64_t)1 << 32)) {
        bq_seterr(err, errlen, "codes: the %s burst covers bytes 0x%llx..0x%llx, outside the memory image of "
                  "%zu bytes; check n0 %u and the SETUP base", what, (unsigned long long)addr,
                  (unsigned long long)(addr + len - 1), mem_len, n0);
        return -1;
    }
    return 0;
}

int bq_codes_check(const bq_codes_state *st, const bq_codes_run_f *r, size_t mem_len, char *err,
                   size_t errlen) {
    const bq_codes_cfg *c = &st->cfg;
    const bq_codes_setup_regs *s = &st->setup;
    int wb = c->w_bits / 8;
    if (!st->out_blk) { bq_seterr(err, errlen, "codes: state not initialised (call bq_codes_init)"); return -1; }
    if (!st->have_setup) {
        bq_seterr(err, errlen, "codes: RUNC before any result SETUP; put the layer's SETUP first");
        return -1;
    }
    if (range("RUNC ch0", r->ch0, 0, 4095, err, errlen) ||
        range("RUNC npix (<= dn)", r->npix, 1, c->dn, err, errlen) ||
        range("RUNC mrows (<= dm)", r->mrows, 1, c->dm, err, errlen) ||
        range("RUNC first", r->first, 0, 1, err, errlen) || range("RUNC flush", r->flush, 0, 1, err, errlen) ||
        range("RUNC res", r->res, 0, 1, err, errlen) || range("RUNC z_o", r->z_o, 0, 255, err, errlen) ||
        range("RUNC lo", r->lo, 0, 255, err, errlen) || range("RUNC hi", r->hi, 0, 255, err, errlen) ||
        range("RUNC rq_entry", r->rq_entry, 0, 255, err, errlen) ||
        range("RUNC sig0", r->sig0, 0, 1, err, errlen) || range("RUNC sig1", r->sig1, 0, 1, err, errlen))
        return -1;
    if (r->ch0 + r->mrows > s->cs_out) {
        bq_seterr(err, errlen, "codes: RUNC rows ch0 %d + mrows %d pass the output pixel (cs_out %d); lower mrows "
                  "or raise cs_out", r->ch0, r->mrows, s->cs_out);
        return -1;
    }
    if (r->res && r->ch0 + r->mrows > s->cs_res) {
        bq_seterr(err, errlen, "codes: RUNC with res: rows ch0 %d + mrows %d pass the residual pixel (cs_res %d); "
                  "raise cs_res in the SETUP", r->ch0, r->mrows, s->cs_res);
        return -1;
    }
    if (r->res && !r->first && !(st->res_loaded && st->res_n0 == r->n0 && st->res_npix == r->npix)) {
        bq_seterr(err, errlen, "codes: RUNC with res but not first at pixel %u: the residual block does not hold "
                  "this pixel block; set first on the block's first tile", r->n0);
        return -1;
    }
    if (r->first && r->res && check_burst("residual read", s->res_base, r->n0, r->npix, s->cs_res, wb, mem_len,
                                          err, errlen))
        return -1;
    if (r->flush && check_burst("output write", s->out_base, r->n0, r->npix, s->cs_out, wb, mem_len, err, errlen))
        return -1;
    return 0;
}

uint8_t bq_codes_requant(int32_t acc, int32_t asum, const bq_codes_rq *rq, int res, int q_r, int z_r,
                         int z_o, int lo, int hi) {
    /* acc0 wraps mod 2^32 and t mod 2^64, as the hardware's adders do (numerics: never in practice) */
    int32_t acc0 = (int32_t)((uint32_t)acc - (uint32_t)rq->z_w * (uint32_t)asum + (uint32_t)rq->bias_eff);
    int64_t r = res ? (int64_t)q_r - z_r : 0;
    uint64_t t = (uint64_t)((int64_t)acc0 * (int64_t)rq->m_acc) + (uint64_t)(r * (int64_t)rq->m_res);
    int64_t y = (int64_t)(t + (1ull << (rq->sh - 1))) >> rq->sh;   /* gcc: arithmetic shift */
    int64_t q = y + z_o;
    if (q < lo) q = lo;   /* min(max(v, lo), hi): hi wins when lo > hi (hw_isa.md §1) */
    if (q > hi) q = hi;
    return (uint8_t)q;
}

long bq_codes_compute_cycles(int dm, int dn, int lanes) { return 6L * dm * dn / lanes; }

/* Cycles of the RUNC by hw_isa.md §4.4: read, compute C = 6*Dm*Dn/L, write. */
static void timing(const bq_codes_state *st, const bq_codes_run_f *r, const int *grant_wait, bq_codes_timing *t) {
    const bq_codes_cfg *c = &st->cfg;
    const bq_codes_setup_regs *s = &st->setup;
    uint32_t wb = (uint32_t)c->w_bits / 8;
    int nb = 0;
    memset(t, 0, sizeof *t);
    long start = 1;
    if (r->first && r->res) {
        bq_codes_burst *b = &t->bursts[nb];
        b->addr = s->res_base + r->n0 * (uint32_t)s->cs_res;
        b->beats = (uint32_t)r->npix * (uint32_t)s->cs_res / wb;
        b->request = 1;
        b->accept = b->request + (grant_wait ? grant_wait[nb] : 0);
        b->complete = b->accept + c->lr + (long)(b->beats - 1) * c->rr;
        start = b->complete + 1;
        nb++;
    }
    long cc = bq_codes_compute_cycles(c->dm, c->dn, c->lanes);
    t->compute_start = start;
    t->complete = start + cc - 1;
    if (r->flush) {
        bq_codes_burst *b = &t->bursts[nb];
        b->write = 1;
        b->addr = s->out_base + r->n0 * (uint32_t)s->cs_out;
        b->beats = (uint32_t)r->npix * (uint32_t)s->cs_out / wb;
        b->request = start + cc;
        b->accept = b->request + (grant_wait ? grant_wait[nb] : 0);
        b->complete = b->accept + 1 + (long)(b->beats - 1) * c->rw + c->lw;
        t->complete = b->complete;
        nb++;
    }
    t->nbursts = nb;
    t->resfree = r->sig0 ? start + cc - 1 : -1;
    t->written = r->sig1 ? t->complete : -1;
}

int bq_codes_run(bq_codes_state *st, const bq_codes_run_f *r, const int32_t *acc, const int32_t *asum,
                 const bq_codes_rq *rq, uint8_t *mem, size_t mem_len, const int *grant_wait,
                 bq_codes_timing *out, char *err, size_t errlen) {
    if (bq_codes_check(st, r, mem_len, err, errlen)) return -1;
    const bq_codes_cfg *c = &st->cfg;
    const bq_codes_setup_regs *s = &st->setup;
    /* the stored rows' shifts must be legal; rows past mrows (padded channels, all-zero records,
     * hw_isa.md §2.4) are discarded, so the model does not compute them */
    for (int mi = 0; mi < r->mrows; mi++)
        if (rq[mi].sh < 1 || rq[mi].sh > 62) {
            bq_seterr(err, errlen, "codes: requant record of tile row %d (entry %d) has sh %d outside 1..62; "
                      "the export must write records of every tile row", mi, r->rq_entry, rq[mi].sh);
            return -1;
        }
    int bc = c->block_channels;
    if (r->first && r->res) {
        /* the burst's pixels land in rows of block_channels bytes */
        for (int ni = 0; ni < r->npix; ni++)
            memcpy(st->res_blk + (size_t)ni * (size_t)bc,
                   mem + s->res_base + ((size_t)r->n0 + (size_t)ni) * (size_t)s->cs_res, (size_t)s->cs_res);
        st->res_loaded = 1;
        st->res_n0 = r->n0;
        st->res_npix = r->npix;
    }
    /* element order e = ni*Dm + mi; every column is stored (columns past npix are never written out) */
    for (int ni = 0; ni < c->dn; ni++)
        for (int mi = 0; mi < r->mrows; mi++) {
            size_t at = (size_t)ni * (size_t)bc + (size_t)(r->ch0 + mi);
            st->out_blk[at] = bq_codes_requant(acc[ni * c->dm + mi], asum[ni], &rq[mi], r->res, st->res_blk[at],
                                               s->z_r, r->z_o, r->lo, r->hi);
        }
    if (r->flush)
        for (int ni = 0; ni < r->npix; ni++)
            memcpy(mem + s->out_base + ((size_t)r->n0 + (size_t)ni) * (size_t)s->cs_out,
                   st->out_blk + (size_t)ni * (size_t)bc, (size_t)s->cs_out);
    timing(st, r, grant_wait, out);
    return 0;
}
