/*
 * win.c — reference model of the window unit (see win.h). Three steps, as docs/whole_network.md
 * §4.2 describes them: the segments and read bursts of the fill, a byte image of the window buffer
 * filled from memory, and the gather of every column's K chunks from that image (bit-sliced into
 * planes), with the cycle of every plane write.
 */
#include "win.h"
#include <stdlib.h>
#include <string.h>
#include "core/errmsg.h"

/* One (segment, kernel row) of the fill: where its pixel span sits in the window buffer. */
typedef struct {
    long off;       /* buffer byte offset of pixel ix_a */
    int ix_a, span; /* first pixel, pixels (span 0: the row is outside the image) */
} win_row;

static int roundup(int v, int m) { return (v + m - 1) / m * m; }
static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }
static int is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

/* Output pixel of column ni. */
static void col_pixel(const bq_win_setup *s, const bq_win_run *r, int ni, long *oy, int *ox) {
    long n = (long)r->pix0 + ni;
    *oy = n / s->wo;
    *ox = (int)(n % s->wo);
}

/* Segment index of every column (maximal runs of columns in one output row); returns the count. */
static int segments(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, int *seg_of,
                    int *first_col, int *last_col) {
    int nseg = 0;
    long prev_oy = -1;
    for (int ni = 0; ni < c->dn; ni++) {
        long oy;
        int ox;
        col_pixel(s, r, ni, &oy, &ox);
        if (ni == 0 || oy != prev_oy) first_col[nseg++] = ni;
        seg_of[ni] = nseg - 1;
        last_col[nseg - 1] = ni;
        prev_oy = oy;
    }
    return nseg;
}

/* The fill's rows: rows[seg*kh + ky]; returns the buffer bytes (sum of span*cs). */
static long fill_rows(const bq_win_setup *s, const bq_win_run *r, int nseg,
                      const int *first_col, const int *last_col, win_row *rows) {
    long off = 0;
    for (int sg = 0; sg < nseg; sg++) {
        long oy;
        int oxf, oxl;
        col_pixel(s, r, first_col[sg], &oy, &oxf);
        col_pixel(s, r, last_col[sg], &oy, &oxl);
        int ix_a = imax(0, oxf * s->stride - s->pad_l);
        int ix_b = imin(s->wi - 1, oxl * s->stride - s->pad_l + s->kw - 1);
        for (int ky = 0; ky < s->kh; ky++) {
            long iy = oy * s->stride - s->pad_t + ky;
            win_row *w = &rows[sg * s->kh + ky];
            w->off = off;
            w->ix_a = ix_a;
            w->span = (iy >= 0 && iy < s->hi && ix_a <= ix_b) ? ix_b - ix_a + 1 : 0;
            off += (long)w->span * s->cs;
        }
    }
    return off;
}

long bq_win_window_bytes(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r) {
    int seg_of[128], first_col[128], last_col[128];
    if (c->dn < 1 || c->dn > 128 || s->kh < 1 || s->kh > 15 || s->wo < 1) return 0;
    int nseg = segments(c, s, r, seg_of, first_col, last_col);
    win_row rows[128 * 15];
    return fill_rows(s, r, nseg, first_col, last_col, rows);
}

static int check_cfg(const bq_win_cfg *c, char *err, size_t errlen) {
    if (c->dn < 1 || c->dn > 128) { bq_seterr(err, errlen, "win: dn %d outside 1..128", c->dn); return -1; }
    if (c->w_bits != 32 && c->w_bits != 64 && c->w_bits != 128) {
        bq_seterr(err, errlen, "win: memory width %d must be 32, 64 or 128 bits", c->w_bits);
        return -1;
    }
    if (!is_pow2(c->dk) || c->dk < 8 || c->dk % (c->w_bits / 8) != 0) {
        bq_seterr(err, errlen, "win: dk %d must be a power of two >= 8 and a multiple of Wb = %d "
                  "(one window-buffer beat per assembly cycle)", c->dk, c->w_bits / 8);
        return -1;
    }
    if (c->lr < 1 || c->rr < 1) { bq_seterr(err, errlen, "win: read latency and cycles per beat must be >= 1"); return -1; }
    if (c->window_bytes < c->w_bits / 8 || c->window_bytes % (c->w_bits / 8) != 0) {
        bq_seterr(err, errlen, "win: window_bytes %ld must be a positive multiple of Wb = %d",
                  c->window_bytes, c->w_bits / 8);
        return -1;
    }
    return 0;
}

/* One field against [lo, hi]; the message names the field. */
static int range(const char *what, long v, long lo, long hi, char *err, size_t errlen) {
    if (v >= lo && v <= hi) return 0;
    bq_seterr(err, errlen, "win: %s = %ld outside %ld..%ld", what, v, lo, hi);
    return -1;
}

static int check_setup(int wb, const bq_win_setup *s, char *err, size_t errlen) {
    if (range("SETUP hi", s->hi, 1, 1023, err, errlen) || range("SETUP wi", s->wi, 1, 1023, err, errlen) ||
        range("SETUP wo", s->wo, 1, 1023, err, errlen) || range("SETUP kh", s->kh, 1, 15, err, errlen) ||
        range("SETUP kw", s->kw, 1, 15, err, errlen) || range("SETUP stride", s->stride, 1, 15, err, errlen) ||
        range("SETUP pad_t (< kh)", s->pad_t, 0, s->kh - 1, err, errlen) ||
        range("SETUP pad_l (< kw)", s->pad_l, 0, s->kw - 1, err, errlen) ||
        range("SETUP cs", s->cs, wb, 4095, err, errlen) || range("SETUP ch_base", s->ch_base, 0, 4095, err, errlen) ||
        range("SETUP ch_hi", s->ch_hi, 1, 4095, err, errlen) ||
        range("SETUP ch_lo (< ch_hi)", s->ch_lo, 0, s->ch_hi - 1, err, errlen) ||
        range("SETUP z_a", s->z_a, 0, 255, err, errlen))
        return -1;
    if (s->cs % wb || s->ch_base % wb) {
        bq_seterr(err, errlen, "win: SETUP cs %d and ch_base %d must be multiples of Wb = %d", s->cs, s->ch_base, wb);
        return -1;
    }
    if (s->ch_base + roundup(s->ch_hi, wb) > s->cs) {
        bq_seterr(err, errlen, "win: SETUP tap slot ch_base %d + roundup(ch_hi %d, Wb) passes the pixel (cs %d); "
                  "lower ch_hi or ch_base", s->ch_base, s->ch_hi, s->cs);
        return -1;
    }
    if ((s->wo - 1) * s->stride - s->pad_l > s->wi - 1) {
        bq_seterr(err, errlen, "win: SETUP output column wo-1 = %d starts its window at x = %d, past the "
                  "input width %d; wo must match wi, stride and pad_l", s->wo - 1,
                  (s->wo - 1) * s->stride - s->pad_l, s->wi);
        return -1;
    }
    return 0;
}

int bq_win_check(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, char *err,
                 size_t errlen) {
    if (check_cfg(c, err, errlen)) return -1;
    int wb = c->w_bits / 8;
    if (check_setup(wb, s, err, errlen)) return -1;
    if (range("RUN pix0 (< 1024*wo)", r->pix0, 0, 1024L * s->wo - 1, err, errlen) ||
        range("RUN kc0", r->kc0, 0, 1023, err, errlen) || range("RUN t", r->t, 1, 65535, err, errlen) ||
        range("RUN nplanes", r->nplanes, 1, 8, err, errlen) ||
        range("RUN buf_base", r->buf_base, 0, 65535, err, errlen) || range("RUN keep", r->keep, 0, 1, err, errlen))
        return -1;
    if (r->dram_addr % (uint32_t)wb) {
        bq_seterr(err, errlen, "win: RUN dram_addr 0x%x is not a multiple of Wb = %d", r->dram_addr, wb);
        return -1;
    }
    /* the longest burst is the widest span; every span <= min(wi, (dn-1)*stride + kw) pixels */
    long span = imin(s->wi, (c->dn - 1) * s->stride + s->kw);
    if (span * s->cs / wb > 65535) {
        bq_seterr(err, errlen, "win: a fill burst of %ld pixels x %d bytes exceeds 65535 beats; lower cs or dn",
                  span, s->cs);
        return -1;
    }
    long need = bq_win_window_bytes(c, s, r);
    if (need > c->window_bytes) {
        bq_seterr(err, errlen, "win: the tile at pixel %u needs %ld window-buffer bytes, the buffer holds %ld; "
                  "raise window_bytes or split the channels", r->pix0, need, c->window_bytes);
        return -1;
    }
    return 0;
}

/* Byte k of column ni's K vector (§3), gathered from the window buffer image. */
static int k_byte(const bq_win_setup *s, const bq_win_run *r, int ni, int seg, int ct, long k,
                  const win_row *rows, const uint8_t *buf, long buf_len, uint8_t *out) {
    long t = k / ct;
    int cc = (int)(k % ct);
    if (t >= (long)s->kh * s->kw || cc < s->ch_lo || cc >= s->ch_hi) { *out = 0; return 0; }
    int ky = (int)(t / s->kw), kx = (int)(t % s->kw);
    long oy;
    int ox;
    col_pixel(s, r, ni, &oy, &ox);
    long iy = oy * s->stride - s->pad_t + ky;
    int ix = ox * s->stride - s->pad_l + kx;
    if (iy < 0 || iy >= s->hi || ix < 0 || ix >= s->wi) { *out = (uint8_t)s->z_a; return 0; }
    const win_row *w = &rows[seg * s->kh + ky];
    if (ix < w->ix_a || ix >= w->ix_a + w->span) return -1;   /* the fill missed a pixel: model bug */
    long at = w->off + (long)(ix - w->ix_a) * s->cs + s->ch_base + cc;
    if (at >= buf_len) return -1;
    *out = buf[at];
    return 0;
}

/* The read burst of fill row i (span > 0): its address and bytes (§4.2 step 1). */
static void row_burst(const bq_win_setup *s, const bq_win_run *r, const int *first_col, const win_row *rows,
                      int i, uint64_t *addr, uint64_t *len) {
    int sg = i / s->kh, ky = i % s->kh, ox;
    long oy;
    col_pixel(s, r, first_col[sg], &oy, &ox);
    long iy = oy * s->stride - s->pad_t + ky;
    *addr = r->dram_addr + ((uint64_t)iy * s->wi + (uint64_t)rows[i].ix_a) * (uint64_t)s->cs;
    *len = (uint64_t)rows[i].span * (uint64_t)s->cs;
}

/* Fill the buffer image and list the bursts (request order = rows order, spans > 0). */
static int fill(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, int nrows,
                const int *first_col, const win_row *rows, const uint8_t *mem, size_t mem_len, uint8_t *buf,
                bq_win_burst *bursts, int *nbursts, char *err, size_t errlen) {
    int wb = c->w_bits / 8, nb = 0;
    for (int i = 0; i < nrows; i++) {
        const win_row *w = &rows[i];
        if (!w->span) continue;
        uint64_t addr, len;
        row_burst(s, r, first_col, rows, i, &addr, &len);
        if (addr + len > mem_len) {
            bq_seterr(err, errlen, "win: burst %d reads bytes 0x%llx..0x%llx outside the memory image of %zu bytes",
                      nb, (unsigned long long)addr, (unsigned long long)(addr + len - 1), mem_len);
            return -1;
        }
        memcpy(buf + w->off, mem + addr, (size_t)len);
        bursts[nb].addr = (uint32_t)addr;
        bursts[nb].beats = (uint32_t)(len / (uint64_t)wb);
        nb++;
    }
    *nbursts = nb;
    return 0;
}

int bq_win_fill_bursts(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, bq_win_burst *out) {
    if (c->dn < 1 || c->dn > 128 || s->kh < 1 || s->kh > 15 || s->wo < 1) return -1;
    if (r->keep) return 0;
    int seg_of[128], first_col[128], last_col[128];
    int nseg = segments(c, s, r, seg_of, first_col, last_col);
    win_row rows[128 * 15];
    fill_rows(s, r, nseg, first_col, last_col, rows);
    int nb = 0;
    for (int i = 0; i < nseg * s->kh; i++) {
        if (!rows[i].span) continue;
        uint64_t addr, len;
        row_burst(s, r, first_col, rows, i, &addr, &len);
        out[nb].addr = (uint32_t)addr;
        out[nb].beats = (uint32_t)(len / (uint64_t)(c->w_bits / 8));
        nb++;
    }
    return nb;
}

long bq_win_assemble_cycles(const bq_win_cfg *c, int t, int nplanes) {
    return (long)c->dn * t * (c->dk / (c->w_bits / 8) + nplanes);
}

int bq_win_exec(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, const uint8_t *mem,
                size_t mem_len, const int *grant_wait, bq_win_result *out, char *err, size_t errlen) {
    if (bq_win_check(c, s, r, err, errlen)) return -1;
    int seg_of[128], first_col[128], last_col[128];
    int nseg = segments(c, s, r, seg_of, first_col, last_col);
    int nrows = nseg * s->kh;
    win_row *rows = calloc((size_t)nrows, sizeof *rows);
    bq_win_result res = {0};
    res.bursts = calloc((size_t)nrows + 1, sizeof *res.bursts);
    if (!rows || !res.bursts) goto oom;
    res.window_bytes = fill_rows(s, r, nseg, first_col, last_col, rows);
    uint8_t *buf = calloc((size_t)res.window_bytes + 1, 1);
    if (!buf) goto oom;
    if (fill(c, s, r, nrows, first_col, rows, mem, mem_len, buf, res.bursts, &res.nbursts, err, errlen)) {
        free(buf);
        goto fail;
    }
    /* fill timing: request from d+1, accepted after its wait, last beat a + Lr + (n-1)*Rr */
    long q = 1;
    if (r->keep) res.nbursts = 0;
    for (int b = 0; b < res.nbursts; b++) {
        long a = q + (grant_wait ? grant_wait[b] : 0);
        q = a + c->lr + (long)(res.bursts[b].beats - 1) * c->rr + 1;
    }
    /* assembly from q: per column and chunk, Dk/Wb beat cycles, then P plane writes */
    int wb = c->w_bits / 8, g = c->dk / wb, p = r->nplanes, ct = roundup(s->ch_hi, wb);
    int wbytes = c->dk / 8;
    res.nwrites = (long)c->dn * r->t * p;
    res.writes = calloc((size_t)res.nwrites, sizeof *res.writes);
    res.wdata = calloc((size_t)res.nwrites * (size_t)wbytes, 1);
    uint8_t *kv = malloc((size_t)c->dk);
    if (!res.writes || !res.wdata || !kv) { free(buf); free(kv); goto oom; }
    long wi = 0;
    for (int ni = 0; ni < c->dn; ni++) {
        for (int u = 0; u < r->t; u++) {
            long kc = (long)r->kc0 + u;
            for (int b = 0; b < c->dk; b++) {
                if (k_byte(s, r, ni, seg_of[ni], ct, kc * c->dk + b, rows, buf, res.window_bytes, &kv[b])) {
                    bq_seterr(err, errlen, "win: internal: column %d byte %ld not in the window buffer", ni,
                              kc * c->dk + b);
                    free(buf); free(kv);
                    goto fail;
                }
            }
            long base = q + ((long)ni * r->t + u) * (g + p);
            for (int j = 0; j < p; j++, wi++) {
                bq_win_write *w = &res.writes[wi];
                w->cycle = base + g + j;
                w->bank = ni;
                w->plane = j;
                w->kc = (int)kc;
                w->row = (uint32_t)r->buf_base + (uint32_t)j * (uint32_t)r->t + (uint32_t)u;
                uint8_t *d = res.wdata + wi * wbytes;
                for (int b = 0; b < c->dk; b++) d[b / 8] |= (uint8_t)(((kv[b] >> j) & 1) << (b % 8));
            }
        }
    }
    res.complete = q + bq_win_assemble_cycles(c, r->t, p) - 1;
    free(buf);
    free(kv);
    free(rows);
    *out = res;
    return 0;
oom:
    bq_seterr(err, errlen, "win: out of memory");
fail:
    free(rows);
    bq_win_result_free(&res);
    return -1;
}

void bq_win_result_free(bq_win_result *out) {
    free(out->bursts);
    free(out->writes);
    free(out->wdata);
    memset(out, 0, sizeof *out);
}
