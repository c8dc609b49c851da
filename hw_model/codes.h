/*
 * codes.h — reference model of the result stage's CODES mode (docs/whole_network.md §2, §4.3-4.4,
 * issue 22 step 3): a result RUNC turns one Dm x Dn accumulator tile into output codes (the v1
 * output-stage arithmetic of docs/hw_isa.md §1), stores them as bytes into a block buffer of Dn
 * pixels x block_channels bytes (HWC, §2), optionally adds a residual read once per pixel block,
 * and with `flush` writes the pixel block to memory in one burst. The m tiles of a pixel block run
 * back to back (`first` on the first, `flush` on the last). This model knows nothing of the RTL: it
 * keeps byte images of the two block buffers, moves bytes as §4.4 says and counts cycles with the
 * formulas of hw_isa.md §4.4 under the reference memory of hw_isa.md §4.1.
 *
 * Example:
 *   bq_codes_cfg c = {.dm = 2, .dn = 2, .lanes = 1, .w_bits = 64, .lr = 4, .rr = 1, .lw = 3, .rw = 1,
 *                     .block_channels = 16};
 *   bq_codes_state st;
 *   bq_codes_setup_regs s = {.out_base = 0x1000, .cs_out = 8};
 *   if (bq_codes_init(&st, &c, err, sizeof err) || bq_codes_setup(&st, &s, err, sizeof err)) ...;
 *   bq_codes_run_f r = {.n0 = 0, .ch0 = 0, .npix = 2, .mrows = 2, .first = 1, .flush = 1, .hi = 255};
 *   bq_codes_timing t;
 *   if (bq_codes_run(&st, &r, acc, asum, rq, mem, mem_len, NULL, &t, err, sizeof err)) ...;
 *   bq_codes_free(&st);
 */
#ifndef BQ_CODES_H
#define BQ_CODES_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int dm, dn;           /* array rows (output channels), columns (pixels) */
    int lanes;            /* L: elements requantised in parallel, divides dm */
    int w_bits;           /* memory port width W (32, 64, 128); Wb = W/8 */
    int lr, rr, lw, rw;   /* read / write latency, cycles per beat (docs/hw_isa.md §0) */
    int block_channels;   /* Cmax: bytes per pixel row of each block buffer (multiple of Wb) */
} bq_codes_cfg;

typedef struct {          /* result SETUP (docs/whole_network.md §4.3) */
    uint32_t out_base, res_base;
    int cs_out, cs_res, z_r;
} bq_codes_setup_regs;

typedef struct {          /* result RUNC (§4.4), the decoded values (npix, mrows are not "- 1") */
    uint32_t n0;          /* first output pixel of the block */
    int ch0, npix, mrows; /* channel of tile row 0, pixels in the block, tile rows stored */
    int first, flush, res;
    int z_o, lo, hi, rq_entry;
    int sig0, sig1;       /* RESFREE / WRITTEN tokens */
} bq_codes_run_f;

typedef struct {          /* requant record (docs/hw_isa.md §2.4) of one tile row */
    int32_t bias_eff;
    uint32_t m_acc, m_res;
    uint8_t z_w, sh;
} bq_codes_rq;

typedef struct {
    uint8_t *out_blk;     /* output block buffer, byte [ni*block_channels + c] */
    uint8_t *res_blk;     /* residual block buffer, same layout */
    bq_codes_cfg cfg;
    bq_codes_setup_regs setup;
    int have_setup;       /* a SETUP was taken since init */
    int res_loaded;       /* the residual block holds pixels [res_n0, res_n0 + res_npix) */
    uint32_t res_n0;
    int res_npix;
} bq_codes_state;

typedef struct {          /* one memory transaction of a RUNC, cycles after dispatch (dispatch = 0) */
    uint32_t addr, beats;
    int write;
    long request, accept, complete;   /* complete: read = last beat, write = wdone */
} bq_codes_burst;

typedef struct {
    bq_codes_burst bursts[2];  /* residual read (first && res), then the write (flush), in order */
    int nbursts;
    long compute_start;        /* s: first compute cycle; compute is s .. s+C-1, C = 6*Dm*Dn/L */
    long resfree;              /* s+C-1, the RESFREE push (-1 without sig0) */
    long complete;             /* wdone with flush, else s+C-1 */
    long written;              /* WRITTEN push = complete (-1 without sig1) */
} bq_codes_timing;

/* Check the config (Dm, Dn <= 128, L divides Dm, W, latencies >= 1, block_channels a positive
 * multiple of Wb <= 4096) and allocate the two block buffers (zeroed). 0, or -1 with a message. */
int bq_codes_init(bq_codes_state *st, const bq_codes_cfg *c, char *err, size_t errlen);
void bq_codes_free(bq_codes_state *st);

/* Result SETUP: checks the fields (cs_out 1..4095 and cs_res 0..4095 multiples of Wb and <=
 * block_channels, bases Wb-aligned, z_r 0..255) and latches them; forgets the residual block.
 * 0, or -1 with a message (state unchanged). */
int bq_codes_setup(bq_codes_state *st, const bq_codes_setup_regs *s, char *err, size_t errlen);

/* The RUNC fields against the config, the latched SETUP and the memory image of mem_len bytes:
 * widths of §4.4, npix <= Dn, mrows <= Dm, ch0 + mrows <= cs_out (and <= cs_res with res), bursts
 * <= 65535 beats and inside memory, res without first only on the residual block loaded for the
 * same n0 and npix. 0, or -1 with one line naming the field and the fix. */
int bq_codes_check(const bq_codes_state *st, const bq_codes_run_f *r, size_t mem_len, char *err,
                   size_t errlen);

/* Execute one RUNC dispatched in cycle 0. acc: Dm*Dn int32, element e = ni*Dm + mi (hw_isa.md
 * §2.3); asum: Dn int32; rq: the Dm records of entry rq_entry (row mi = channel ch0 + mi). mem is
 * read (residual) and written (flush). grant_wait (NULL: no contention): cycles each burst's request
 * waits for the port, in burst order. Checks everything (also the stored rows' sh in 1..62)
 * before it changes anything: 0, or -1 with a message (state, mem and *out untouched). */
int bq_codes_run(bq_codes_state *st, const bq_codes_run_f *r, const int32_t *acc, const int32_t *asum,
                 const bq_codes_rq *rq, uint8_t *mem, size_t mem_len, const int *grant_wait,
                 bq_codes_timing *out, char *err, size_t errlen);

/* Result-stage compute cycles of one tile, 6*Dm*Dn/L (docs/hw_isa.md §4.4): the one definition,
 * used here and by the latency model (latency.c). */
long bq_codes_compute_cycles(int dm, int dn, int lanes);

/* The output stage for one element (docs/hw_isa.md §1): acc0 = acc - z_w*asum + bias_eff mod 2^32,
 * t = acc0*m_acc + (q_r - z_r)*m_res mod 2^64, y = (t + 2^(sh-1)) >>> sh, clamp(y + z_o, lo, hi).
 * res 0: the residual term is 0. sh must be 1..62. */
uint8_t bq_codes_requant(int32_t acc, int32_t asum, const bq_codes_rq *rq, int res, int q_r, int z_r,
                         int z_o, int lo, int hi);

#endif
