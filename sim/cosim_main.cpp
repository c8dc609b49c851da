// cosim_main.cpp -- the SystemC system of the co-simulation (docs/cosim.md): the verilated bqa_top
// (verilator --sc), a memory model with the bandwidth and latency of the hw YAML (docs/hw_isa.md
// §4.1, the same behaviour as the reference memory of tests/hw), and the host port (instruction
// queue feeders, reset/run control). The host program itself is C (bq_cosim_main, sim/cosim_cli.c)
// and reaches this system only through the access layer of sim/bq_acc.h (the "systemc" backend
// below). Built once per accelerator config: parameters come from build/gen/<cfg>/hw_params.h.
#include <systemc.h>
#include <verilated.h>
#if VM_TRACE_FST   // verilator --trace-fst (sim/sim.mk); without it --trace is refused
#include <verilated_fst_sc.h>
#else
struct VerilatedFstSc {   // stand-in: never constructed
    bool isOpen() const { return false; }
    void open(const char *) {}
    void close() {}
};
#endif

#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "Vbqa_top.h"
#include "bq_acc.h"
#include "hw_params.h"

static const int kW = BQ_HW_MEM_WIDTH_BITS;
static const int kWb = kW / 8;
static const int kRr = (kWb + BQ_HW_READ_BYTES_PER_CYCLE - 1) / BQ_HW_READ_BYTES_PER_CYCLE < 1
                           ? 1 : (kWb + BQ_HW_READ_BYTES_PER_CYCLE - 1) / BQ_HW_READ_BYTES_PER_CYCLE;
static const int kRw = (kWb + BQ_HW_WRITE_BYTES_PER_CYCLE - 1) / BQ_HW_WRITE_BYTES_PER_CYCLE < 1
                           ? 1 : (kWb + BQ_HW_WRITE_BYTES_PER_CYCLE - 1) / BQ_HW_WRITE_BYTES_PER_CYCLE;
static_assert(kW == 32 || kW == 64, "the SystemC harness maps the memory port to uint32_t/uint64_t");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the memory model copies words as little-endian bytes");
typedef std::conditional<kW == 64, uint64_t, uint32_t>::type MemWord;   // Verilator --sc port type

// ---- memory model: one transaction at a time, read latency Lr and Rr cycles per beat, write beats
// every Rw cycles and the response Lw cycles after the last beat (docs/hw_isa.md §4.1).
// Clocked by the Clock module below: tick() at the end of a cycle (reads what the RTL drove in it),
// apply() at the falling edge of the next one (drives the outputs tick() computed). ----
SC_MODULE(MemModel) {
    sc_in<bool> req_valid, req_write, wvalid;
    sc_in<uint32_t> req_addr, req_beats;
    sc_in<MemWord> wdata;
    sc_out<bool> req_ready, rvalid, wready, wdone, busy_o;
    sc_out<MemWord> rdata;

    std::vector<uint8_t> mem;
    long extra_lr = 0;   // +mem_read_extra=N: reads N cycles slower than the YAML (not the ideal model)
    bool busy = false, wr = false;
    long cyc = 0, acc_cycle = 0;
    int n = 0, k = 0;
    uint64_t addr = 0;
    bool d_ready = true, d_rvalid = false, d_wready = false, d_wdone = false;   // driven this cycle
    MemWord d_rdata = 0;

    void clear() {   // after a time-out: idle, nothing offered
        busy = false; d_ready = true; d_rvalid = d_wready = d_wdone = false; d_rdata = 0;
        apply();
    }
    MemWord word(uint64_t a) const {   // little-endian; bytes beyond the array read as 0
        MemWord v = 0;
        if (a + kWb <= mem.size()) memcpy(&v, &mem[a], kWb);
        else for (int i = 0; i < kWb; i++) v |= (MemWord)(a + i < mem.size() ? mem[a + i] : 0) << (8 * i);
        return v;
    }

    void tick() {
        // what happened in cycle `cyc` (the RTL's outputs, settled before the rising edge)
        bool fire = req_valid.read() && d_ready;
        if (fire) {
            busy = true; wr = req_write.read(); acc_cycle = cyc; n = (int)req_beats.read(); k = 0;
            addr = req_addr.read();
        } else if (busy) {
            if (!wr && d_rvalid) { k++; if (k == n) busy = false; }
            if (wr && wvalid.read() && d_wready) {
                uint64_t a = addr + (uint64_t)k * kWb;
                if (a + kWb > mem.size()) mem.resize(a + kWb, 0);
                MemWord v = wdata.read();
                memcpy(&mem[a], &v, kWb);   // little-endian host, as the byte loop it replaces
                k++;
            }
            if (wr && d_wdone) busy = false;
        }
        cyc++;
        // outputs for cycle `cyc`
        d_ready = !busy; d_rvalid = d_wready = d_wdone = false;
        d_rdata = 0;
        if (busy && !wr && k < n && cyc == acc_cycle + BQ_HW_READ_LATENCY + extra_lr + (long)k * kRr) {
            d_rvalid = true;
            d_rdata = word(addr + (uint64_t)k * kWb);
        }
        if (busy && wr) {
            if (k < n && cyc == acc_cycle + 1 + (long)k * kRw) d_wready = true;
            if (k == n && cyc == acc_cycle + 1 + (long)(n - 1) * kRw + BQ_HW_WRITE_LATENCY) d_wdone = true;
        }
    }
    // Writes only what changed: even an unchanged sc_signal write costs a virtual call and a compare.
    bool a_ready = false, a_rvalid = false, a_wready = false, a_wdone = false, a_busy = false, a_valid = false;
    MemWord a_rdata = 0;
    void apply() {
        if (!a_valid || d_ready != a_ready) req_ready.write(a_ready = d_ready);
        if (!a_valid || d_rvalid != a_rvalid) rvalid.write(a_rvalid = d_rvalid);
        if (!a_valid || d_wready != a_wready) wready.write(a_wready = d_wready);
        if (!a_valid || d_wdone != a_wdone) wdone.write(a_wdone = d_wdone);
        if (!a_valid || d_rdata != a_rdata) rdata.write(a_rdata = d_rdata);
        if (!a_valid || busy != a_busy) busy_o.write(a_busy = busy);
        a_valid = true;
    }
    SC_CTOR(MemModel) {}
};

// ---- host port: reset, queue pre-fill with run_i = 0, run until done (docs/hw_isa.md §4).
// Clocked like the memory model: tick() at the end of a cycle, apply() at the next falling edge. ----
SC_MODULE(HostPort) {
    sc_out<bool> rst_n, run;
    sc_out<bool> q_valid[3];
    sc_out<sc_bv<128>> q_data[3];
    sc_in<bool> q_ready[3];
    sc_in<bool> done, mem_busy;

    struct Ins { uint32_t w[4]; };
    std::deque<Ins> q[3];
    enum { IDLE, RESET, PREFILL, RUN } state = IDLE;
    long count = 0, max_cycles = 0, iq = 32;
    bool finished = false, timed_out = false;
    bool n_rst = true, n_run = false;   // rst_n and run_i for the next cycle
    // What the queue ports show: the 128-bit sc_bv of an instruction is costly to build and to
    // write (it was half of the run time when rebuilt every cycle), so q_data is written only when
    // a queue's head changes (head_id counts the pops since start()) and q_valid only on a change.
    long head_id[3] = {0, 0, 0}, shown_id[3] = {-1, -1, -1};
    bool shown_valid[3] = {false, false, false};

    void present() {
        for (int s = 0; s < 3; s++) {
            bool v = state != IDLE && state != RESET && !q[s].empty();
            if (v != shown_valid[s]) { q_valid[s].write(v); shown_valid[s] = v; }
            if (v && shown_id[s] != head_id[s]) {
                sc_bv<128> d;
                for (int w = 0; w < 4; w++) d.range(32 * w + 31, 32 * w) = q[s].front().w[w];
                q_data[s].write(d);
                shown_id[s] = head_id[s];
            }
        }
    }
    bool a_rst = false, a_run = false, a_valid = false;   // last written (apply writes changes only)
    void apply() {
        if (!a_valid || n_rst != a_rst) rst_n.write(a_rst = n_rst);
        if (!a_valid || n_run != a_run) run.write(a_run = n_run);
        a_valid = true;
        present();
    }
    void start(long max) {
        state = RESET; count = 0; max_cycles = max; finished = timed_out = false;
        for (int s = 0; s < 3; s++) { head_id[s] = 0; shown_id[s] = -1; }
        n_rst = false; n_run = false;
        apply();
    }
    void tick() {
        if (state == IDLE) return;
        if (state != RESET)   // instructions accepted in the cycle that just ended
            for (int s = 0; s < 3; s++)
                if (shown_valid[s] && q_ready[s].read() && !q[s].empty()) { q[s].pop_front(); head_id[s]++; }
        count++;
        if (state == RESET) {
            if (count == 2) { n_rst = true; state = PREFILL; count = 0; }
        } else if (state == PREFILL) {
            if (count == iq) { n_run = true; state = RUN; count = 0; }
        } else if (state == RUN && count > max_cycles) {
            timed_out = finished = true; state = IDLE; n_run = false;
        }
    }
    // Done: every instruction consumed, done_o and the memory idle, as settled at the end of the
    // cycle. run_i then drops before the next rising edge, so the done cycle itself is not clocked
    // with run_i = 1 and the stage counters add up to CYCLES (docs/hw_isa.md §4.5, §5), as in
    // tests/hw/test_top.cpp.
    bool done_now() {
        return state == RUN && q[0].empty() && q[1].empty() && q[2].empty() && done.read() &&
               !mem_busy.read();
    }
    void finish() { finished = true; state = IDLE; n_run = false; apply(); }
    SC_CTOR(HostPort) {}
};

// ---- the clock: one method drives clk and clocks the two models above, so the verilated model is
// evaluated twice per cycle (rising edge alone; falling edge together with its new inputs) instead
// of three times with an sc_clock plus two clocked processes, and there are no other processes.
// Rising edges at 5 ns + 10 ns * k, as an sc_clock("clk", 10, SC_NS, 0.5, 5, SC_NS, true).
// A run stops (sc_pause) at the end of its done cycle, before that rising edge. ----
SC_MODULE(Clock) {
    sc_out<bool> clk;
    MemModel *mem = nullptr;
    HostPort *host = nullptr;
    // waveform window of the armed run (bq_acc.h trace): opened at run cycle `tr_from`, closed at
    // `tr_to`; cycles count from the rise of run_i (HostPort::count in state RUN)
    VerilatedFstSc *tfp = nullptr;
    std::string tr_path;
    long tr_from = 0, tr_to = -1;
    bool tr_armed = false;
    void trace_window() {
        if (!tr_armed || host->state != HostPort::RUN) return;
        if (!tfp->isOpen() && host->count == tr_from) tfp->open(tr_path.c_str());
        else if (tfp->isOpen() && host->count == tr_to) { tfp->close(); tr_armed = false; }
    }
    bool high = false, started = false;
    const sc_time half{5, SC_NS}, period{10, SC_NS};   // built once: an sc_time from a double is not free

    void step() {
        if (!started) { started = true; next_trigger(half); return; }
        if (high) {   // falling edge: the inputs of the new cycle
            clk.write(false); mem->apply(); host->apply(); high = false;
            next_trigger(half);
            return;
        }
        // end of a cycle: everything the RTL drove in it has settled
        if (host->done_now()) { host->finish(); sc_pause(); next_trigger(period); return; }
        mem->tick();
        host->tick();
        if (tr_armed && tr_to >= 0) trace_window();
        if (host->timed_out) { host->apply(); sc_pause(); next_trigger(period); return; }
        clk.write(true); high = true;
        next_trigger(half);
    }
    SC_CTOR(Clock) { SC_METHOD(step); }
};

// ---- the system ----
struct System {
    sc_signal<bool> clk{"clk"};
    sc_signal<bool> rst_n{"rst_n"}, done{"done"}, mem_busy{"mem_busy"};
    sc_signal<bool> run{"run"}, q_valid[3];
    sc_signal<bool> q_ready[3];
    sc_signal<sc_bv<128>> q_data[3];
    sc_signal<bool> req_valid, req_ready, req_write, rvalid, wvalid, wready, wdone;
    sc_signal<uint32_t> req_addr, req_beats, reg_addr, reg_rdata;
    sc_signal<MemWord> rdata, wdata;
    std::unique_ptr<Vbqa_top> top;
    std::unique_ptr<MemModel> mem;
    std::unique_ptr<HostPort> host;
    std::unique_ptr<Clock> clock;

    System() {
        top.reset(new Vbqa_top("bqa_top"));
        mem.reset(new MemModel("mem"));
        host.reset(new HostPort("host"));
        clock.reset(new Clock("clock"));
        clock->clk(clk); clock->mem = mem.get(); clock->host = host.get();
        Vbqa_top &t = *top;
        t.clk_i(clk); t.rst_ni(rst_n); t.run_i(run);
        t.fq_valid_i(q_valid[0]); t.fq_ready_o(q_ready[0]); t.fq_data_i(q_data[0]);
        t.eq_valid_i(q_valid[1]); t.eq_ready_o(q_ready[1]); t.eq_data_i(q_data[1]);
        t.rq_valid_i(q_valid[2]); t.rq_ready_o(q_ready[2]); t.rq_data_i(q_data[2]);
        t.mem_req_valid_o(req_valid); t.mem_req_ready_i(req_ready); t.mem_req_write_o(req_write);
        t.mem_req_addr_o(req_addr); t.mem_req_beats_o(req_beats);
        t.mem_rvalid_i(rvalid); t.mem_rdata_i(rdata);
        t.mem_wvalid_o(wvalid); t.mem_wready_i(wready); t.mem_wdata_o(wdata); t.mem_wdone_i(wdone);
        t.reg_addr_i(reg_addr); t.reg_rdata_o(reg_rdata); t.done_o(done);
        MemModel &m = *mem;
        m.req_valid(req_valid); m.req_write(req_write); m.wvalid(wvalid);
        m.req_addr(req_addr); m.req_beats(req_beats); m.wdata(wdata);
        m.req_ready(req_ready); m.rvalid(rvalid); m.wready(wready); m.wdone(wdone); m.busy_o(mem_busy);
        m.rdata(rdata);
        HostPort &h = *host;
        h.rst_n(rst_n); h.run(run); h.done(done); h.mem_busy(mem_busy);
        for (int s = 0; s < 3; s++) { h.q_valid[s](q_valid[s]); h.q_data[s](q_data[s]); h.q_ready[s](q_ready[s]); }
    }
    void settle() { for (int i = 0; i < 4; i++) sc_start(SC_ZERO_TIME); }   // deltas only
};

// ---- the "systemc" backend of the access layer ----
extern "C" {
static uint32_t be_reg_read(void *ctx, uint32_t addr) {
    System *s = (System *)ctx;
    s->reg_addr.write(addr);
    s->settle();
    return s->reg_rdata.read();
}
static int be_mem_write(void *ctx, uint64_t addr, const void *src, size_t n) {
    System *s = (System *)ctx;
    if (s->mem->mem.size() < addr + n) s->mem->mem.resize(addr + n, 0);
    memcpy(&s->mem->mem[addr], src, n);
    return 0;
}
static int be_mem_read(void *ctx, uint64_t addr, void *dst, size_t n) {
    System *s = (System *)ctx;
    if (s->mem->mem.size() < addr + n) return -1;
    memcpy(dst, &s->mem->mem[addr], n);
    return 0;
}
static int be_push(void *ctx, int stage, const uint32_t w[4]) {
    System *s = (System *)ctx;
    if (stage < 0 || stage > 2) return -1;
    HostPort::Ins in;
    memcpy(in.w, w, sizeof in.w);
    s->host->q[stage].push_back(in);
    return 0;
}
static int be_run(void *ctx, int64_t max_cycles) {
    System *s = (System *)ctx;
    s->host->iq = (long)be_reg_read(ctx, BQ_HW_REG_IQ_DEPTH);
    Clock &c = *s->clock;
    if (c.tr_armed && c.tr_to < 0) c.tfp->open(c.tr_path.c_str());   // whole run, from its reset
    s->host->start((long)max_cycles);
    while (!s->host->finished && sc_get_status() != SC_STOPPED) sc_start();
    bool to = s->host->timed_out;
    for (int q = 0; q < 3; q++) s->host->q[q].clear();
    if (to) s->mem->clear();
    s->settle();
    if (c.tr_armed) { if (c.tfp->isOpen()) c.tfp->close(); c.tr_armed = false; }   // the armed run only
    return to ? -1 : 0;
}
static int be_trace(void *ctx, const char *path, int64_t from, int64_t to) {
    System *s = (System *)ctx;
    Clock &c = *s->clock;
    if (!path) {
        if (c.tfp && c.tfp->isOpen()) c.tfp->close();
        c.tr_armed = false;
        return 0;
    }
#if VM_TRACE_FST
    if (c.tfp || from < 0 || (to >= 0 && to <= from)) return -1;   // one waveform per process
    c.tfp = new VerilatedFstSc;
    s->top->trace(c.tfp, 99);
#else
    (void)s; (void)from; (void)to;
    return -1;
#endif
    c.tr_path = path; c.tr_from = (long)from; c.tr_to = (long)to; c.tr_armed = true;
    return 0;
}}

int sc_main(int argc, char **argv) {
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);   // read when the kernel starts
    Verilated::commandArgs(argc, argv);
#if VM_TRACE_FST
    Verilated::traceEverOn(true);
#endif
    // settle() runs delta cycles with nothing to do at times: not worth a warning
    sc_report_handler::set_actions(SC_ID_NO_SC_START_ACTIVITY_, SC_DO_NOTHING);
    System sys;
    static const bq_acc_ops ops = {be_reg_read, be_mem_write, be_mem_read, be_push, be_run, be_trace};
    for (int i = 1; i < argc; i++) {   // simulator plusargs (the C host program skips '+' arguments)
        if (strncmp(argv[i], "+mem_read_extra=", 16)) continue;
        char *end;
        long v = strtol(argv[i] + 16, &end, 10);
        if (!argv[i][16] || *end || v < 0 || v > 100000) {
            fprintf(stderr, "cosim: %s: want +mem_read_extra=N, N extra read cycles in [0, 100000]\n", argv[i]);
            return 2;
        }
        sys.mem->extra_lr = v;
    }
    bq_acc acc = {&ops, &sys, "systemc", 1};
    sys.settle();   // elaboration
    int rc = bq_host_main(argc, argv, &acc);   // --selftest: the package self-test
    sys.top->final();
    if (sys.clock->tfp) { sys.clock->tfp->close(); delete sys.clock->tfp; }
    return rc;
}
