// bqa_win_gen.h -- the random legal window geometry shared by test_win (the unit) and test_fetch_win
// (the unit inside the fetch stage): dense k x k, 1x1, depthwise (one byte of one beat), the first
// layer (C = 1) and odd kernels, each checked legal by hw_model/win.c before it is used.
#ifndef BQA_WIN_GEN_H
#define BQA_WIN_GEN_H

#include "bqa_tb.h"
extern "C" {
#include "win.h"
}

// A random legal SETUP for a unit with Dn columns, Dk-bit words, a W-bit port and win_bytes of
// window; *ho receives the output height.
static bq_win_setup win_random_setup(TbRng &rng, int dn, int dk, int w, long win_bytes, int *ho) {
    const int wb = w / 8;
    bq_win_setup s{};
    for (;;) {
        int kind = rng.range(0, 4);
        s.kh = s.kw = kind == 1 ? 1 : 3;
        if (kind == 4) { s.kh = rng.range(1, 5); s.kw = rng.range(1, 5); }
        s.stride = rng.range(1, 2);
        s.pad_t = kind == 1 ? 0 : rng.range(0, s.kh / 2);
        s.pad_l = kind == 1 ? 0 : rng.range(0, s.kw / 2);
        s.hi = rng.range(s.kh, 11); s.wi = rng.range(s.kw, 11);
        s.wo = (s.wi + 2 * s.pad_l - s.kw) / s.stride + 1;
        *ho = (s.hi + 2 * s.pad_t - s.kh) / s.stride + 1;
        s.cs = wb * rng.range(1, 6);
        s.z_a = rng.range(0, 255);
        s.ch_base = 0; s.ch_lo = 0; s.ch_hi = rng.range(1, s.cs);
        if (kind == 2) {               // depthwise: one byte of one beat
            int ch = rng.range(0, s.cs - 1);
            s.ch_base = ch / wb * wb; s.ch_lo = ch % wb; s.ch_hi = s.ch_lo + 1;
        } else if (kind == 3) {        // first layer, C = 1
            s.cs = wb; s.ch_hi = 1;
        } else if (rng.range(0, 4) == 0) {
            s.ch_lo = rng.range(0, s.ch_hi - 1);
        }
        bq_win_cfg c = {dn, dk, w, 1, 1, win_bytes};
        bq_win_run r = {0, 0, 0, 1, 1, 0, 0};
        char err[256];
        if (bq_win_check(&c, &s, &r, err, sizeof err) == 0) return s;
    }
}

#endif
