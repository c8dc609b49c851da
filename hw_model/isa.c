/* isa.c — instruction encoding of docs/hw_isa.md section 3. See isa.h. */
#include "isa.h"

#include <string.h>

/* put v into bits [lo, lo+n) of *w; returns 1 if v did not fit */
static int put(uint32_t *w, int lo, int n, uint32_t v) {
    uint32_t mask = n == 32 ? 0xffffffffu : ((1u << n) - 1u);
    *w |= (v & mask) << lo;
    return (v & ~mask) != 0;
}
static uint32_t get(uint32_t w, int lo, int n) {
    uint32_t mask = n == 32 ? 0xffffffffu : ((1u << n) - 1u);
    return (w >> lo) & mask;
}

int bq_isa_encode(const bq_instr *in, uint32_t w[4]) {
    int bad = 0;
    w[0] = w[1] = w[2] = w[3] = 0;
    bad |= put(&w[0], 0, 4, in->op);
    bad |= put(&w[0], 8, 1, in->wait0);
    bad |= put(&w[0], 9, 1, in->wait1);
    bad |= put(&w[0], 12, 1, in->sig0);
    bad |= put(&w[0], 13, 1, in->sig1);
    if (in->op != BQ_OP_RUN) return bad ? -1 : 0;
    switch (in->stage) {
    case BQ_STAGE_FETCH:
        bad |= put(&w[0], 16, 2, in->target);
        bad |= in->nplanes < 1 || put(&w[0], 18, 3, (uint32_t)in->nplanes - 1);
        w[1] = in->dram_addr;
        w[2] = in->plane_stride;
        bad |= put(&w[3], 0, 16, in->buf_base);
        bad |= in->t < 1 || put(&w[3], 16, 16, in->t);
        break;
    case BQ_STAGE_EXEC:
        bad |= put(&w[0], 16, 1, in->clear);
        bad |= put(&w[0], 17, 1, in->commit);
        bad |= put(&w[0], 18, 1, in->asum);
        bad |= in->wbits < 1 || put(&w[0], 20, 3, (uint32_t)in->wbits - 1);
        bad |= in->abits < 1 || put(&w[0], 24, 3, (uint32_t)in->abits - 1);
        bad |= put(&w[0], 28, 1, in->wsigned);
        bad |= put(&w[0], 29, 1, in->asigned);
        bad |= put(&w[1], 0, 16, in->wbase);
        bad |= put(&w[1], 16, 16, in->abase);
        bad |= put(&w[2], 0, 16, in->wstride);
        bad |= put(&w[2], 16, 16, in->astride);
        bad |= in->nk < 1 || put(&w[3], 0, 16, in->nk);
        bad |= put(&w[3], 16, 3, in->w0);
        bad |= in->wn < 1 || put(&w[3], 20, 3, (uint32_t)in->wn - 1);
        bad |= put(&w[3], 24, 3, in->a0);
        bad |= in->an < 1 || put(&w[3], 28, 3, (uint32_t)in->an - 1);
        break;
    case BQ_STAGE_RESULT:
        bad |= put(&w[0], 16, 1, in->mode);
        bad |= in->obits < 1 || put(&w[0], 17, 3, (uint32_t)in->obits - 1);
        bad |= put(&w[0], 20, 1, in->res);
        bad |= in->rbits < 1 || put(&w[0], 21, 3, (uint32_t)in->rbits - 1);
        bad |= put(&w[0], 24, 8, in->z_r);
        w[1] = in->out_addr;
        w[2] = in->res_addr;
        bad |= put(&w[3], 0, 8, in->z_o);
        bad |= put(&w[3], 8, 8, in->lo);
        bad |= put(&w[3], 16, 8, in->hi);
        bad |= put(&w[3], 24, 8, in->rq_entry);
        break;
    default:
        return -1;
    }
    return bad ? -1 : 0;
}

int bq_isa_decode(int stage, const uint32_t w[4], bq_instr *out) {
    memset(out, 0, sizeof *out);
    out->stage = (uint8_t)stage;
    out->op = (uint8_t)get(w[0], 0, 4);
    out->wait0 = (uint8_t)get(w[0], 8, 1);
    out->wait1 = (uint8_t)get(w[0], 9, 1);
    out->sig0 = (uint8_t)get(w[0], 12, 1);
    out->sig1 = (uint8_t)get(w[0], 13, 1);
    if (out->op == BQ_OP_SYNC) return 0;
    if (out->op != BQ_OP_RUN) return -1;
    switch (stage) {
    case BQ_STAGE_FETCH:
        out->target = (uint8_t)get(w[0], 16, 2);
        out->nplanes = (uint8_t)(get(w[0], 18, 3) + 1);
        out->dram_addr = w[1];
        out->plane_stride = w[2];
        out->buf_base = (uint16_t)get(w[3], 0, 16);
        out->t = (uint16_t)get(w[3], 16, 16);
        return out->target <= BQ_TGT_RQ ? 0 : -1;
    case BQ_STAGE_EXEC:
        out->clear = (uint8_t)get(w[0], 16, 1);
        out->commit = (uint8_t)get(w[0], 17, 1);
        out->asum = (uint8_t)get(w[0], 18, 1);
        out->wbits = (uint8_t)(get(w[0], 20, 3) + 1);
        out->abits = (uint8_t)(get(w[0], 24, 3) + 1);
        out->wsigned = (uint8_t)get(w[0], 28, 1);
        out->asigned = (uint8_t)get(w[0], 29, 1);
        out->wbase = (uint16_t)get(w[1], 0, 16);
        out->abase = (uint16_t)get(w[1], 16, 16);
        out->wstride = (uint16_t)get(w[2], 0, 16);
        out->astride = (uint16_t)get(w[2], 16, 16);
        out->nk = (uint16_t)get(w[3], 0, 16);
        out->w0 = (uint8_t)get(w[3], 16, 3);
        out->wn = (uint8_t)(get(w[3], 20, 3) + 1);
        out->a0 = (uint8_t)get(w[3], 24, 3);
        out->an = (uint8_t)(get(w[3], 28, 3) + 1);
        return 0;
    case BQ_STAGE_RESULT:
        out->mode = (uint8_t)get(w[0], 16, 1);
        out->obits = (uint8_t)(get(w[0], 17, 3) + 1);
        out->res = (uint8_t)get(w[0], 20, 1);
        out->rbits = (uint8_t)(get(w[0], 21, 3) + 1);
        out->z_r = (uint8_t)get(w[0], 24, 8);
        out->out_addr = w[1];
        out->res_addr = w[2];
        out->z_o = (uint8_t)get(w[3], 0, 8);
        out->lo = (uint8_t)get(w[3], 8, 8);
        out->hi = (uint8_t)get(w[3], 16, 8);
        out->rq_entry = (uint8_t)get(w[3], 24, 8);
        return 0;
    default:
        return -1;
    }
}
