// bqa_tb.h -- shared pieces of the Verilator harnesses for hw/bqa_*.sv:
//   * bit access into Verilator signals of any width (CData..QData, VlWide<N>)
//   * a deterministic RNG
//   * the plain golden model of docs/hw_isa.md §1 (int64 math)
//   * a tiny check/report helper: every harness ends with "N passed, M failed" and exit status.
#pragma once
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <verilated.h>

// ---- bit access ----
template <typename T> static inline void tb_set_bits(T &sig, int off, int n, uint64_t v) {
    for (int i = 0; i < n; i++) {
        T bit = (T)1 << (off + i);
        if ((v >> i) & 1) sig |= bit; else sig &= (T)~bit;
    }
}
template <std::size_t N> static inline void tb_set_bits(VlWide<N> &sig, int off, int n, uint64_t v) {
    for (int i = 0; i < n; i++) {
        int b = off + i;
        uint32_t m = 1u << (b % 32);
        if ((v >> i) & 1) sig[b / 32] |= m; else sig[b / 32] &= ~m;
    }
}
template <typename T> static inline uint64_t tb_get_bits(const T &sig, int off, int n) {
    return (uint64_t)(sig >> off) & (n >= 64 ? ~0ull : ((1ull << n) - 1));
}
template <std::size_t N> static inline uint64_t tb_get_bits(const VlWide<N> &sig, int off, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        int b = off + i;
        v |= (uint64_t)((sig[b / 32] >> (b % 32)) & 1u) << i;
    }
    return v;
}

// ---- RNG (xorshift64*) ----
struct TbRng {
    uint64_t s;
    explicit TbRng(uint64_t seed) : s(seed ? seed : 0x9E3779B97F4A7C15ull) {}
    uint64_t next() { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return s * 2685821657736338717ull; }
    uint32_t u32() { return (uint32_t)(next() >> 32); }
    int range(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }  // inclusive
};

// ---- golden model ----
// Two's complement / unsigned code of `bits` bits -> its integer value.
static inline int64_t g_code_value(uint32_t code, int bits, bool sgn) {
    code &= (1u << bits) - 1;
    if (sgn && (code >> (bits - 1)) & 1) return (int64_t)code - (1ll << bits);
    return code;
}
// Requant record (docs/hw_isa.md §2.4).
struct GRec { int32_t bias; uint32_t m_acc, m_res; uint8_t z_w, sh; };
// Output stage, docs/hw_isa.md §1 / numerics.md §3. Returns q; *acc0 gets acc0.
static inline int64_t g_requant(int32_t acc, int32_t asum, const GRec &r, bool res_en, uint8_t q_r,
                                uint8_t z_r, uint8_t z_o, uint8_t lo, uint8_t hi, int32_t *acc0) {
    int32_t a0 = (int32_t)((uint32_t)acc - (uint32_t)((int64_t)r.z_w * asum) + (uint32_t)r.bias);
    if (acc0) *acc0 = a0;
    int64_t rr = res_en ? (int64_t)q_r - (int64_t)z_r : 0;
    uint64_t t = (uint64_t)((int64_t)a0 * (int64_t)r.m_acc) + (uint64_t)(rr * (int64_t)r.m_res);
    uint64_t rnd = r.sh ? (1ull << (r.sh - 1)) : 0;
    int64_t y = (int64_t)(t + rnd) >> r.sh;   // arithmetic shift (gcc/clang)
    int64_t v = y + z_o;
    int64_t m = v < lo ? lo : v;
    return m > hi ? hi : m;
}

// ---- reporting ----
struct TbReport {
    long pass = 0, fail = 0;
    const char *name;
    explicit TbReport(const char *n) : name(n) {}
    bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4))) {
        if (ok) { pass++; return true; }
        fail++;
        if (fail <= 20) {
            va_list ap; va_start(ap, fmt);
            fprintf(stderr, "%s: MISMATCH: ", name); vfprintf(stderr, fmt, ap); fputc('\n', stderr);
            va_end(ap);
        }
        return false;
    }
    int finish() {
        printf("%s: %ld passed, %ld failed\n", name, pass, fail);
        return fail ? 1 : 0;
    }
};

// ---- clocking: inputs are set while the clock is low, then one rising edge ----
template <typename M> static inline void tb_tick(M *m) {
    m->clk_i = 0; m->eval();
    m->clk_i = 1; m->eval();
}
static inline bool tb_has_arg(int argc, char **argv, const char *a) {
    for (int i = 1; i < argc; i++) if (!strcmp(argv[i], a)) return true;
    return false;
}
