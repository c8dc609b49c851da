// cosim_axi_main.cpp -- the co-simulation through the AXI shell (docs/cosim.md "Through the AXI
// shell"): the verilated bqa_axi_top with the AXI4 memory slave model of tests/hw/bqa_axi_mem.h on
// its master port, driven by the same C host program (bq_cosim_main) through the register
// protocol of the board backend (sim/bq_acc_mmio.c) whose register accesses are AXI4-Lite
// transactions here (tests/hw/bqa_axi_shell.h). Thin on purpose: one clock, no SystemC kernel
// (the slave model is a cycle model already), every protocol decision lives in the shared code.
// Plusargs (the C host program skips '+' arguments):
//   +axi_base=A     AXI address of accelerator address 0, written to BASE (default 0x40000140: a
//                   page offset, so transactions split at 4 KiB boundaries)
//   +mem_mib=N      bytes of memory behind it, MiB (default 256; untouched pages cost nothing)
//   +axi_jitter=J +axi_stall=P +axi_max_run=S +axi_seed=N   random latency: 0..J extra cycles per
//                   burst, every slave READY/VALID dropped with probability P % (at most S cycles
//                   in a row); the run is then bits-only (counters are information) unless --strict
// Exit status: the host program's; 1 as well if the slave saw a protocol error or ERR is set.
#include <verilated.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "Vbqa_axi_top.h"
#include "bq_acc.h"
#include "bq_acc_mmio.h"
#include "bqa_axi_mem.h"
#include "bqa_axi_shell.h"
#include "hw_params.h"

struct AxiOpts {
    uint64_t base = 0x40000140ull, mem_mib = 256;
    uint64_t jitter = 0, stall_pct = 0, max_run = 3, seed = 1;
};

// "+name=N" with N in [lo, hi] (C literal) into *v; 0 if argv is not this plusarg, 1 taken, -1 bad.
static int plusarg(const char *a, const char *name, uint64_t lo, uint64_t hi, uint64_t *v) {
    size_t n = strlen(name);
    if (strncmp(a, name, n) || a[n] != '=') return 0;
    char *end;
    unsigned long long x = strtoull(a + n + 1, &end, 0);
    if (!a[n + 1] || *end || x < lo || x > hi) {
        fprintf(stderr, "cosim_axi: %s: want %s=N with N in [%llu, %llu]\n", a, name,
                (unsigned long long)lo, (unsigned long long)hi);
        return -1;
    }
    *v = x;
    return 1;
}

static int parse_plusargs(int argc, char **argv, AxiOpts *o) {
    const int wb = BQ_HW_MEM_WIDTH_BITS / 8;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '+') continue;
        int r = 0;
        if (!r) r = plusarg(argv[i], "+axi_base", 0, 0xffffffffull, &o->base);
        if (!r) r = plusarg(argv[i], "+mem_mib", 1, 4095, &o->mem_mib);
        if (!r) r = plusarg(argv[i], "+axi_jitter", 0, 1000, &o->jitter);
        if (!r) r = plusarg(argv[i], "+axi_stall", 0, 90, &o->stall_pct);
        if (!r) r = plusarg(argv[i], "+axi_max_run", 1, 100, &o->max_run);
        if (!r) r = plusarg(argv[i], "+axi_seed", 1, ~0ull, &o->seed);
        if (r < 0) return -1;
        if (!r) { fprintf(stderr, "cosim_axi: unknown plusarg '%s' (see sim/cosim_axi_main.cpp)\n", argv[i]); return -1; }
    }
    if (o->base % wb) {
        fprintf(stderr, "cosim_axi: +axi_base=0x%llx: must be a multiple of the beat (%d bytes)\n",
                (unsigned long long)o->base, wb);
        return -1;
    }
    // the whole window must be addressable with AddrBits (tests/hw/bqa_axi_mem.h checks accesses)
    if (BQ_HW_AXI_ADDR_BITS < 64 && o->base + (o->mem_mib << 20) > (1ull << BQ_HW_AXI_ADDR_BITS)) {
        fprintf(stderr, "cosim_axi: +axi_base=0x%llx + +mem_mib=%llu exceeds the %d-bit AXI address space\n",
                (unsigned long long)o->base, (unsigned long long)o->mem_mib, BQ_HW_AXI_ADDR_BITS);
        return -1;
    }
    return 0;
}

// the AXI4-Lite window as the register bus of bq_acc_mmio
static uint32_t bus_rd(void *ctx, uint32_t off) { return ((Shell *)ctx)->read(off); }
static void bus_wr(void *ctx, uint32_t off, uint32_t v) { ((Shell *)ctx)->write(off, v); }

int main(int argc, char **argv) {
    AxiOpts o;
    if (parse_plusargs(argc, argv, &o)) return 2;
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vbqa_axi_top>(ctx.get());
    size_t mem_size = (size_t)o.mem_mib << 20;
    uint8_t *mem = (uint8_t *)calloc(mem_size, 1);   // zero pages are mapped lazily
    if (!mem) { fprintf(stderr, "cosim_axi: +mem_mib=%llu: out of memory\n", (unsigned long long)o.mem_mib); return 2; }

    // the slave's fixed timing is the config's memory (docs/hw_rtl.md "AXI shell")
    AxiMemCfg mc;
    mc.Wb = BQ_HW_MEM_WIDTH_BITS / 8;
    mc.Lr = BQ_HW_READ_LATENCY; mc.Lw = BQ_HW_WRITE_LATENCY;
    mc.Rr = std::max(1, (mc.Wb + BQ_HW_READ_BYTES_PER_CYCLE - 1) / BQ_HW_READ_BYTES_PER_CYCLE);
    mc.Rw = std::max(1, (mc.Wb + BQ_HW_WRITE_BYTES_PER_CYCLE - 1) / BQ_HW_WRITE_BYTES_PER_CYCLE);
    mc.jitter = (int)o.jitter; mc.p_stall = (double)o.stall_pct / 100.0; mc.max_run = (int)o.max_run;
    mc.seed = o.seed;
    const bool random = o.jitter > 0 || o.stall_pct > 0;
    AxiMem am(mc, mem, mem_size, o.base);

    Shell sh{top.get()};
    sh.mem = &am;
    sh.hard_reset();

    bq_acc acc;
    bq_acc_mmio m;
    bq_mmio_bus bus = {bus_rd, bus_wr, &sh};
    bq_acc_mmio_init_bus(&m, &acc, &bus, mem, mem_size);
    m.write_base = 1;
    m.base = o.base;
    acc.backend = "axi";
    // fixed latency: the latency model of the config (memory.interface: axi) is exact, except the
    // idle counters grow while run stays set for the host's last STATUS polls (bq_acc.h)
    acc.ideal_memory = !random;
    acc.idle_after_done = 1;
    printf("cosim_axi: AXI base 0x%llx, %llu MiB, %s memory (Lr %d Lw %d Rr %d Rw %d",
           (unsigned long long)o.base, (unsigned long long)o.mem_mib, random ? "random" : "fixed",
           mc.Lr, mc.Lw, mc.Rr, mc.Rw);
    if (random) printf(", jitter %d, stall %llu %% max %d in a row, seed %llu", mc.jitter,
                       (unsigned long long)o.stall_pct, mc.max_run, (unsigned long long)o.seed);
    printf(")\n");

    int rc = bq_host_main(argc, argv, &acc);   // --selftest: the package self-test
    uint32_t err = sh.read(R_ERR);
    printf("cosim_axi: %ld cycles, %ld read / %ld write bursts, %ld / %ld beats, %ld protocol errors, ERR 0x%x\n",
           sh.cyc, am.rd_bursts, am.wr_bursts, am.rd_beats, am.wr_beats, am.errors, err);
    if (am.errors) fprintf(stderr, "cosim_axi: AXI protocol error: %s\n", am.first_error.c_str());
    if (err) fprintf(stderr, "cosim_axi: ERR register 0x%x (bit0 read, bit1 write response error, bit2 push to a full FIFO)\n", err);
    if (rc == 0 && (am.errors || err)) rc = 1;
    bq_acc_mmio_free(&m);
    top->final();
    free(mem);
    return rc;
}
