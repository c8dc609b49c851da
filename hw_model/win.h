/*
 * win.h — reference model of the fetch path's window unit (docs/whole_network.md §2-§4.2, issue 22):
 * a fetch RUN with target WIN reads the input rows a tile of Dn output pixels needs from an HWC byte
 * feature map into a window buffer (one read burst per segment and kernel row), then gathers each
 * column's K vector (tap-major, §3) chunk by chunk and writes its P bit-planes into activation bank
 * `ni`. This model knows nothing of the RTL (hw/bqa_win.sv): it fills a byte image of the window
 * buffer burst by burst as §4.2 says, gathers from it, and counts cycles with the formulas of §4.2
 * under the reference memory of docs/hw_isa.md §4.1.
 *
 * Example:
 *   bq_win_cfg c = {.dn = 2, .dk = 64, .w_bits = 64, .lr = 4, .rr = 1, .window_bytes = 2048};
 *   bq_win_setup s = {.hi = 8, .wi = 8, .wo = 8, .kh = 3, .kw = 3, .stride = 1, .pad_t = 1,
 *                     .pad_l = 1, .cs = 8, .ch_base = 0, .ch_lo = 0, .ch_hi = 3, .z_a = 7};
 *   bq_win_run r = {.dram_addr = 0, .pix0 = 6, .kc0 = 0, .t = 2, .nplanes = 4, .buf_base = 0};
 *   bq_win_result out;
 *   if (bq_win_exec(&c, &s, &r, mem, mem_len, NULL, &out, err, sizeof err) == 0) { ...; bq_win_result_free(&out); }
 */
#ifndef BQ_WIN_H
#define BQ_WIN_H
#include <stddef.h>
#include <stdint.h>

#define BQ_WIN_PIX0_MAX (1u << 20)   /* pix0 < 2^20: hi, wi are 10-bit fields */

typedef struct {
    int dn, dk;          /* array columns, bits per bit-plane word (= K elements per chunk) */
    int w_bits;          /* memory port width W (32, 64, 128); Wb = W/8 */
    int lr, rr;          /* read latency, cycles per beat (docs/hw_isa.md §0) */
    long window_bytes;   /* window buffer capacity */
} bq_win_cfg;

typedef struct {         /* fetch SETUP (docs/whole_network.md §4.1) */
    int hi, wi, wo, kh, kw, stride, pad_t, pad_l;
    int cs, ch_base, ch_lo, ch_hi, z_a;
} bq_win_setup;

typedef struct {         /* fetch RUN, target WIN (§4.2) */
    uint32_t dram_addr, pix0;
    int kc0, t, nplanes, buf_base, keep;
} bq_win_run;

typedef struct { uint32_t addr, beats; } bq_win_burst;

typedef struct {         /* one act-bank write: plane `plane` of chunk `kc` of column `bank` */
    long cycle;          /* cycle after dispatch (dispatch = 0) */
    int bank, plane, kc;
    uint32_t row;        /* buf_base + plane*T + (kc - kc0), not reduced modulo the bank depth */
} bq_win_write;

typedef struct {
    bq_win_burst *bursts;  /* the fill's read bursts in request order (none with keep) */
    int nbursts;
    bq_win_write *writes;  /* in cycle order: column, chunk, plane */
    long nwrites;
    uint8_t *wdata;        /* nwrites * dk/8 bytes: write w's word, bit b = bit b%8 of byte b/8 */
    long complete;         /* completion cycle (the last plane write) after dispatch */
    long window_bytes;     /* window buffer bytes the tile needs (sum over segments, ky of span*cs) */
} bq_win_result;

/* Field ranges of SETUP and RUN against the config (widths of §4.1-4.2, the multiples of Wb, the
 * geometry rules the unit relies on: pad_t < kh, pad_l < kw, every output column's window starting
 * inside the row, pix0 < 1024*wo, bursts <= 65535 beats, the tile's rows fitting window_bytes).
 * 0, or -1 with one line in err naming the field and the fix. */
int bq_win_check(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, char *err,
                 size_t errlen);

/* Window buffer bytes the tile of RUN r needs (0 with every row outside the image). */
long bq_win_window_bytes(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r);

/* Run one WIN instruction dispatched in cycle 0 on memory mem[0..mem_len). grant_wait (NULL: no
 * contention) gives, per burst, the cycles its request waits for the port before it is accepted.
 * keep: the window buffer is taken to hold this tile's rows (the caller guarantees it: same
 * dram_addr, pix0 and geometry as the last fill), so no burst is made; the bytes are still those of
 * the definition (§3). Checks with bq_win_check; reads outside mem are an error.
 * 0, or -1 with a message (out untouched). Free with bq_win_result_free. */
int bq_win_exec(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, const uint8_t *mem,
                size_t mem_len, const int *grant_wait, bq_win_result *out, char *err, size_t errlen);

void bq_win_result_free(bq_win_result *out);

/* The fill's read bursts of RUN r in request order, without memory (what bq_win_exec requests; the
 * latency model times them): out holds at least dn*kh entries. The count (0 with keep or every row
 * outside the image), or -1 when dn/kh/wo are out of range (check with bq_win_check first). */
int bq_win_fill_bursts(const bq_win_cfg *c, const bq_win_setup *s, const bq_win_run *r, bq_win_burst *out);

/* Assembly cycles of a RUN of t K-chunks and nplanes planes: dn*t*(dk/Wb + nplanes) (§4.2 step 2;
 * bq_win_exec and the latency model use this one definition). */
long bq_win_assemble_cycles(const bq_win_cfg *c, int t, int nplanes);

#endif
