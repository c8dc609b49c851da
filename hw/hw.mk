# hw -- the bit-serial accelerator RTL (hw/bqa_*.sv) and its Verilator tests (tests/hw/).
#   make hw-lint        verilator --lint-only -Wall on every module alone and on the top (tiny, edge)
#   make test-hw        fast tests (part of `make test`): one harness per module (DPU, array, requant
#                       lane, unpack, fifo, token, ram, regs, mem_arb, exec, fetch, result) + whole top
#                       + the FPGA wrapper + test_isa (the generated ISA package bqa_pkg against the
#                       C field table and encoder of hw_model/isa.c) + test_win (the window unit
#                       bqa_win against its C model hw_model/win.c) + test_fetch_win (bqa_fetch with
#                       the window unit wired in, WindowBytes > 0) + test_result_codes (bqa_result in CODES
#                       mode, BlockChannels > 0, against hw_model/codes.c) + test_top_written (the WRITTEN
#                       token through bqa_top with ISA v2) + test_top_v2 (a whole v2 network on bqa_top from one
#                       start, tiny-like and edge-like: outputs, CYCLES, counters, each layer's last write vs the
#                       latency model) + test_axi_top_v2 (the same through the AXI shell, tiny-like)
#   make test-hw-full   the same harnesses with +full (longer random runs) and more shapes; top: all 64
#                       (wbits, abits) pairs x signedness, odd shapes, K refills, extremes, ties; tiny and edge
#   make bench-hw       M=64 K=576 N=256 at 4/4 bits on tiny: execute efficiency, simulated cycles/s
#   make synth          yosys generic + synth_xilinx (xc7) of every config in HW_SYNTH_CFGS
#                       -> build/hw/synth/<cfg>_{xc7,gen}.stat, the table build/hw/synth/report.md (copied
#                       into docs/hw_rtl.md by hand) and the same per config as JSON in
#                       build/hw/synth/report.json; arrays are named rows x cols x DPU width (Dm x Dn x Dk).
#     HW_SYNTH_CFGS     which configs: names of configs/hw/<name>.yaml, space-separated (default
#                       "tiny edge"; e.g. `make synth HW_SYNTH_CFGS=tiny`). tiny ~13 min, edge ~40 min
#                       wall on the shared 2-core machine; the resource model (make resource-calib,
#                       docs/resource_model.md) predicts the counts without a run.
#   make resource-calib the yosys runs behind the resource model (hw/resource_calib.points: modules at
#                       several parameter values, three whole configs), one at a time under nice -n 15,
#                       resumable (finished runs in build/hw/calib/ are kept) -> docs/resource_calib.json
#   make fpga           synth_ice40 + nextpnr-ice40 (HX8K) for tiny as configured -> logic cells, BRAM,
#                       I/O and Fmax on stdout and in build/hw/fpga/tiny_report.txt (make fpga-report:
#                       that report again from the last run's log)
#   make fpga-units     the iCE40 Fmax of the ISA v2 units, each alone between flip-flops (hw/fmax/*.sv
#                       fixtures: tiny-like window unit, result stage without / with CODES mode) ->
#                       build/hw/fpga/units_report.txt (docs/whole_network.md §6)
#   make test-isa-pkg   only the ISA package check (test_isa, also part of test-hw)
#   make test-hw-v2-refused  the v1 stages stop on their assertions when given a v2 instruction (make test)
# Parameters come from build/gen/<cfg>/hw_params.svh (hw_model's generator); the instruction fields from
# the package build/gen/bqa_pkg.sv (hwgen --pkg, from hw_model/isa.c's field table).

# `make fpga` needs the open iCE40 flow from Debian (deps-check/deps expand DEB_PKGS lazily).
DEB_PKGS  += nextpnr-ice40 fpga-icestorm

# The ISA package is generated (hwgen --pkg, from the C field table of hw_model/isa.c; rule in
# hw_model/hw_model.mk) and must come first: every verilator/yosys file list here and in sim/sim.mk
# is $(HW_SV), package first. HW_MODS: the modules (each linted as top).
HW_PKG    := $(BUILD)/gen/bqa_pkg.sv
HW_MODS   := $(sort $(wildcard hw/bqa_*.sv))
HW_SV     := $(HW_PKG) $(HW_MODS)
HW_B      := $(BUILD)/hw
HW_TBH    := tests/hw/bqa_tb.h tests/hw/bqa_prog.h
HW_VFLAGS := --cc --exe --build -Wall --assert -j 2 -MAKEFLAGS "OPT_FAST=-O2 OPT_GLOBAL=-O2"
HW_CFLAGS := -I$(CURDIR)/tests/hw
# verilate(dir, top, exe, sv sources, cpp, extra verilator flags, extra CFLAGS)
hw_verilate = @mkdir -p $(HW_B)/$(1) && nice -n 10 verilator $(HW_VFLAGS) -Mdir $(HW_B)/$(1) \
  --top-module $(2) $(6) -CFLAGS "$(HW_CFLAGS) $(7)" -o $(3) $(4) $(abspath $(5)) \
  > $(HW_B)/$(1)/build.log 2>&1 || { tail -40 $(HW_B)/$(1)/build.log; exit 1; }

$(HW_B)/dpu32/test_dpu: hw/bqa_dpu.sv tests/hw/test_dpu.cpp $(HW_TBH)
	$(call hw_verilate,dpu32,bqa_dpu,test_dpu,hw/bqa_dpu.sv,tests/hw/test_dpu.cpp,-GDk=32,-DTB_DK=32)
# the same DPU tests with the synthesised popcount tree instead of $countones (Dk 32 and 64)
$(HW_B)/dpu32t/test_dpu: hw/bqa_dpu.sv tests/hw/test_dpu.cpp $(HW_TBH)
	$(call hw_verilate,dpu32t,bqa_dpu,test_dpu,hw/bqa_dpu.sv,tests/hw/test_dpu.cpp,-GDk=32 +define+BQA_TREE_POPCOUNT,-DTB_DK=32)
$(HW_B)/dpu64t/test_dpu: hw/bqa_dpu.sv tests/hw/test_dpu.cpp $(HW_TBH)
	$(call hw_verilate,dpu64t,bqa_dpu,test_dpu,hw/bqa_dpu.sv,tests/hw/test_dpu.cpp,-GDk=64 +define+BQA_TREE_POPCOUNT,-DTB_DK=64)
$(HW_B)/dpu256/test_dpu: hw/bqa_dpu.sv tests/hw/test_dpu.cpp $(HW_TBH)
	$(call hw_verilate,dpu256,bqa_dpu,test_dpu,hw/bqa_dpu.sv,tests/hw/test_dpu.cpp,-GDk=256,-DTB_DK=256)
$(HW_B)/array_tiny/test_array: hw/bqa_array.sv hw/bqa_dpu.sv tests/hw/test_array.cpp $(HW_TBH)
	$(call hw_verilate,array_tiny,bqa_array,test_array,hw/bqa_array.sv hw/bqa_dpu.sv,tests/hw/test_array.cpp,-GDm=4 -GDn=4 -GDk=32,-DTB_DM=4 -DTB_DN=4 -DTB_DK=32)
$(HW_B)/array_odd/test_array: hw/bqa_array.sv hw/bqa_dpu.sv tests/hw/test_array.cpp $(HW_TBH)
	$(call hw_verilate,array_odd,bqa_array,test_array,hw/bqa_array.sv hw/bqa_dpu.sv,tests/hw/test_array.cpp,-GDm=3 -GDn=5 -GDk=64,-DTB_DM=3 -DTB_DN=5 -DTB_DK=64)
$(HW_B)/rq_lane/test_rq_lane: hw/bqa_rq_lane.sv tests/hw/test_rq_lane.cpp $(HW_TBH)
	$(call hw_verilate,rq_lane,bqa_rq_lane,test_rq_lane,hw/bqa_rq_lane.sv,tests/hw/test_rq_lane.cpp,,)
$(HW_B)/top_%/test_top: $(HW_SV) tests/hw/test_top.cpp $(HW_TBH) $(BUILD)/gen/%/hw_params.svh $(BUILD)/gen/%/hw_params.h
	$(call hw_verilate,top_$*,bqa_top,test_top,$(HW_SV),tests/hw/test_top.cpp,-I$(BUILD)/gen/$* -Ihw,-I$(CURDIR)/$(BUILD)/gen/$*)
# the FPGA wrapper around bqa_top (tiny's parameters, 2-deep queues): its wiring against a model
$(HW_B)/fpga_wrap/test_fpga_wrap: $(HW_SV) tests/hw/test_fpga_wrap.cpp $(HW_TBH) $(BUILD)/gen/tiny/hw_params.svh $(BUILD)/gen/tiny/hw_params.h
	$(call hw_verilate,fpga_wrap,bqa_fpga_wrap,test_fpga_wrap,$(HW_SV),tests/hw/test_fpga_wrap.cpp,-I$(BUILD)/gen/tiny -Ihw,-I$(CURDIR)/$(BUILD)/gen/tiny)

# bqa_unpack in its three shapes: W > UB (tiny words), UB > W (edge words), requant records
$(HW_B)/unpack_%/test_unpack: hw/bqa_unpack.sv tests/hw/test_unpack.cpp $(HW_TBH)
	$(call hw_verilate,unpack_$*,bqa_unpack,test_unpack,hw/bqa_unpack.sv,tests/hw/test_unpack.cpp,$(HW_UNPACK_G_$*),$(HW_UNPACK_D_$*))
HW_UNPACK_G_w = -GUB=32 -GD=4 -GW=64 -GRowBits=9
HW_UNPACK_D_w = -DTB_UB=32 -DTB_D=4 -DTB_W=64 -DTB_ROWBITS=9
HW_UNPACK_G_n = -GUB=256 -GD=8 -GW=64 -GRowBits=10
HW_UNPACK_D_n = -DTB_UB=256 -DTB_D=8 -DTB_W=64 -DTB_ROWBITS=10
HW_UNPACK_G_q = -GUB=128 -GD=4 -GW=64 -GRowBits=6
HW_UNPACK_D_q = -DTB_UB=128 -DTB_D=4 -DTB_W=64 -DTB_ROWBITS=6


# ---- module harnesses of the small blocks (each drives the module's ports against a plain model) ----
# bqa_fifo as the instruction queues (128 x 16), as in the FPGA wrapper (128 x 2), odd (37 x 5), 1 deep
$(HW_B)/fifo_%/test_fifo: hw/bqa_fifo.sv tests/hw/test_fifo.cpp $(HW_TBH)
	$(call hw_verilate,fifo_$*,bqa_fifo,test_fifo,hw/bqa_fifo.sv,tests/hw/test_fifo.cpp,-GWidth=$(word 1,$(subst x, ,$*)) -GDepth=$(word 2,$(subst x, ,$*)),-DTB_WIDTH=$(word 1,$(subst x, ,$*)) -DTB_DEPTH=$(word 2,$(subst x, ,$*)))
# bqa_token with 8 bits (as used) and 3 bits (the top count is reached often)
$(HW_B)/token_%/test_token: hw/bqa_token.sv tests/hw/test_token.cpp $(HW_TBH)
	$(call hw_verilate,token_$*,bqa_token,test_token,hw/bqa_token.sv,tests/hw/test_token.cpp,-GBits=$*,-DTB_BITS=$*)
# bqa_ram_1r1w as tiny's banks (64 x 256), requant banks (128 x 256), odd (33 x 5), edge's banks
$(HW_B)/ram_%/test_ram: hw/bqa_ram_1r1w.sv tests/hw/test_ram.cpp $(HW_TBH)
	$(call hw_verilate,ram_$*,bqa_ram_1r1w,test_ram,hw/bqa_ram_1r1w.sv,tests/hw/test_ram.cpp,-GWidth=$(word 1,$(subst x, ,$*)) -GDepth=$(word 2,$(subst x, ,$*)),-DTB_WIDTH=$(word 1,$(subst x, ,$*)) -DTB_DEPTH=$(word 2,$(subst x, ,$*)))
HW_REGS_P := Dm=3 Dn=5 Dk=128 WDepth=1024 ADepth=512 RqDepth=96 MemWidth=128 IqDepth=7 Lanes=3
$(HW_B)/regs/test_regs: hw/bqa_regs.sv tests/hw/test_regs.cpp $(HW_TBH)
	$(call hw_verilate,regs,bqa_regs,test_regs,hw/bqa_regs.sv,tests/hw/test_regs.cpp,$(patsubst %,-G%,$(HW_REGS_P)) "-GConfigHash=64'h0123456789abcdef",-DTB_DM=3 -DTB_DN=5 -DTB_DK=128 -DTB_WD=1024 -DTB_AD=512 -DTB_RQD=96 -DTB_MW=128 -DTB_IQ=7 -DTB_LANES=3 -DTB_HASH=0x0123456789abcdefull)
$(HW_B)/mem_arb/test_mem_arb: hw/bqa_mem_arb.sv tests/hw/test_mem_arb.cpp $(HW_TBH)
	$(call hw_verilate,mem_arb,bqa_mem_arb,test_mem_arb,hw/bqa_mem_arb.sv,tests/hw/test_mem_arb.cpp,,)
# bqa_exec with tiny's 256-row banks (8 address bits) and 512 / 1024 rows
$(HW_B)/exec_%/test_exec: $(HW_PKG) hw/bqa_exec.sv tests/hw/test_exec.cpp tests/hw/bqa_stage_env.h $(HW_TBH)
	$(call hw_verilate,exec_$*,bqa_exec,test_exec,$(HW_PKG) hw/bqa_exec.sv,tests/hw/test_exec.cpp,-GWAddrBits=$(word 1,$(subst x, ,$*)) -GAAddrBits=$(word 2,$(subst x, ,$*)),-DTB_WAB=$(word 1,$(subst x, ,$*)) -DTB_AAB=$(word 2,$(subst x, ,$*)))
# bqa_fetch in three shapes: tiny (2x2x64, UB = W), 4x4x32 (W/UB = 2 units per beat), edge (8x8x256, 4 beats per unit)
$(HW_B)/fetch_%/test_fetch: $(HW_PKG) hw/bqa_fetch.sv hw/bqa_unpack.sv tests/hw/test_fetch.cpp tests/hw/bqa_stage_env.h $(HW_TBH)
	$(call hw_verilate,fetch_$*,bqa_fetch,test_fetch,$(HW_PKG) hw/bqa_fetch.sv hw/bqa_unpack.sv,tests/hw/test_fetch.cpp,$(call hw_fetch_g,$(HW_FETCH_$*)),$(call hw_fetch_d,$(HW_FETCH_$*)))
HW_FETCH_t = 2 2 64 64 8 8 8
HW_FETCH_o = 4 4 32 64 9 9 6
HW_FETCH_e = 8 8 256 64 10 10 6
hw_fetch_g = -GDm=$(word 1,$(1)) -GDn=$(word 2,$(1)) -GDk=$(word 3,$(1)) -GW=$(word 4,$(1)) -GWAddrBits=$(word 5,$(1)) -GAAddrBits=$(word 6,$(1)) -GQAddrBits=$(word 7,$(1))
hw_fetch_d = -DTB_DM=$(word 1,$(1)) -DTB_DN=$(word 2,$(1)) -DTB_DK=$(word 3,$(1)) -DTB_W=$(word 4,$(1)) -DTB_WAB=$(word 5,$(1)) -DTB_AAB=$(word 6,$(1)) -DTB_QAB=$(word 7,$(1))
# bqa_result (+ bqa_rq_lane): tiny (2x2, W 64, L 1), 4x3 with W 32 and L 2, edge (8x8, W 64, L 8)
$(HW_B)/result_%/test_result: $(HW_PKG) hw/bqa_result.sv hw/bqa_rq_lane.sv tests/hw/test_result.cpp tests/hw/bqa_stage_env.h $(HW_TBH)
	$(call hw_verilate,result_$*,bqa_result,test_result,$(HW_PKG) hw/bqa_result.sv hw/bqa_rq_lane.sv,tests/hw/test_result.cpp,$(call hw_result_g,$(HW_RESULT_$*)),$(call hw_result_d,$(HW_RESULT_$*)))
HW_RESULT_t = 2 2 64 1 8
HW_RESULT_o = 4 3 32 2 6
HW_RESULT_e = 8 8 64 8 6
hw_result_g = -GDm=$(word 1,$(1)) -GDn=$(word 2,$(1)) -GW=$(word 3,$(1)) -GLanes=$(word 4,$(1)) -GQAddrBits=$(word 5,$(1))
hw_result_d = -DTB_DM=$(word 1,$(1)) -DTB_DN=$(word 2,$(1)) -DTB_W=$(word 3,$(1)) -DTB_L=$(word 4,$(1)) -DTB_QAB=$(word 5,$(1))
# the ISA package against the C field table and encoder (isa.c compiled as C, linked into the harness)
$(HW_B)/isa/isa.o: hw_model/isa.c hw_model/isa.h hw_model/hwsched.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(HW_B)/isa/test_isa: $(HW_PKG) $(BUILD)/gen/bqa_isa_probe.sv $(HW_B)/isa/isa.o tests/hw/test_isa.cpp $(HW_TBH)
	$(call hw_verilate,isa,bqa_isa_probe,test_isa,$(HW_PKG) $(BUILD)/gen/bqa_isa_probe.sv,tests/hw/test_isa.cpp,-LDFLAGS $(abspath $(HW_B)/isa/isa.o),-I$(CURDIR)/hw_model)

# ---- the AXI shell (docs/hw_rtl.md "AXI shell"): the master alone in three shapes, the register slave,
# the whole wrapper on tiny against the AXI memory model (host FIFOs deep enough to preload a program;
# full tier: edge, and tiny with 4-beat bursts and 64-bit addresses) ----
HW_AXI_TBH := tests/hw/bqa_axi_mem.h tests/hw/bqa_axi_shell.h $(HW_TBH)
$(HW_B)/axi_master_%/test_axi_master: hw/bqa_axi_master.sv tests/hw/test_axi_master.cpp $(HW_AXI_TBH)
	$(call hw_verilate,axi_master_$*,bqa_axi_master,test_axi_master,hw/bqa_axi_master.sv,tests/hw/test_axi_master.cpp,$(call hw_axim_g,$(HW_AXIM_$*)),$(call hw_axim_d,$(HW_AXIM_$*)))
HW_AXIM_t = 64 32 1 256
HW_AXIM_s = 32 64 4 4
HW_AXIM_w = 128 40 2 16
hw_axim_g = -GMemWidth=$(word 1,$(1)) -GAddrBits=$(word 2,$(1)) -GIdBits=$(word 3,$(1)) -GMaxBurst=$(word 4,$(1))
hw_axim_d = -DTB_W=$(word 1,$(1)) -DTB_AB=$(word 2,$(1)) -DTB_ID=$(word 3,$(1)) -DTB_MB=$(word 4,$(1))
$(HW_B)/axil_regs/test_axil_regs: hw/bqa_axil_regs.sv tests/hw/test_axil_regs.cpp $(HW_TBH)
	$(call hw_verilate,axil_regs,bqa_axil_regs,test_axil_regs,hw/bqa_axil_regs.sv,tests/hw/test_axil_regs.cpp,"-GBaseAddr=64'h0000000123456780",-DTB_BASE=0x0000000123456780ull)
$(HW_B)/axi_top_%/test_axi_top: $(HW_SV) tests/hw/test_axi_top.cpp tests/hw/bqa_timing_ref.h $(HW_AXI_TBH) $(BUILD)/gen/%/hw_params.svh $(BUILD)/gen/%/hw_params.h
	$(call hw_verilate,axi_top_$*,bqa_axi_top,test_axi_top,$(HW_SV),tests/hw/test_axi_top.cpp,-I$(BUILD)/gen/$* -Ihw -GHostQDepth=512,-I$(CURDIR)/$(BUILD)/gen/$*)
$(HW_B)/axi_top_b4/test_axi_top: $(HW_SV) tests/hw/test_axi_top.cpp tests/hw/bqa_timing_ref.h $(HW_AXI_TBH) $(BUILD)/gen/tiny/hw_params.svh $(BUILD)/gen/tiny/hw_params.h
	$(call hw_verilate,axi_top_b4,bqa_axi_top,test_axi_top,$(HW_SV),tests/hw/test_axi_top.cpp,-I$(BUILD)/gen/tiny -Ihw -GHostQDepth=512 -GMaxBurst=4 -GAddrBits=64,-I$(CURDIR)/$(BUILD)/gen/tiny -DTB_MAX_BURST=4 -DTB_ADDR_BITS=64)
HW_AXI_FAST := $(HW_B)/axi_master_t/test_axi_master $(HW_B)/axi_master_s/test_axi_master $(HW_B)/axil_regs/test_axil_regs \
               $(HW_B)/axi_top_tiny/test_axi_top
HW_AXI_FULL := $(HW_B)/axi_master_w/test_axi_master $(HW_B)/axi_top_b4/test_axi_top $(HW_B)/axi_top_edge/test_axi_top

HW_SMALL_FAST := $(HW_B)/isa/test_isa $(HW_B)/fifo_128x16/test_fifo $(HW_B)/fifo_37x5/test_fifo $(HW_B)/token_8/test_token \
                 $(HW_B)/token_3/test_token $(HW_B)/ram_64x256/test_ram $(HW_B)/ram_128x256/test_ram \
                 $(HW_B)/regs/test_regs $(HW_B)/mem_arb/test_mem_arb $(HW_B)/exec_8x8/test_exec \
                 $(HW_B)/fetch_t/test_fetch $(HW_B)/fetch_o/test_fetch $(HW_B)/result_t/test_result \
                 $(HW_B)/result_o/test_result
HW_SMALL_FULL := $(HW_B)/fifo_128x2/test_fifo $(HW_B)/fifo_8x1/test_fifo $(HW_B)/ram_33x5/test_ram \
                 $(HW_B)/ram_256x1024/test_ram $(HW_B)/exec_9x10/test_exec $(HW_B)/fetch_e/test_fetch \
                 $(HW_B)/result_e/test_result

HW_FAST_BINS := $(HW_B)/dpu32/test_dpu $(HW_B)/dpu32t/test_dpu $(HW_B)/array_tiny/test_array $(HW_B)/rq_lane/test_rq_lane \
                $(HW_B)/unpack_w/test_unpack $(HW_B)/unpack_n/test_unpack $(HW_B)/unpack_q/test_unpack \
                $(HW_SMALL_FAST) $(HW_B)/top_tiny/test_top $(HW_B)/fpga_wrap/test_fpga_wrap $(HW_AXI_FAST)
HW_FULL_BINS := $(HW_FAST_BINS) $(HW_SMALL_FULL) $(HW_AXI_FULL) $(HW_B)/dpu256/test_dpu $(HW_B)/dpu64t/test_dpu $(HW_B)/array_odd/test_array $(HW_B)/top_edge/test_top

# ---- bqa_win, the window unit (docs/whole_network.md §4.2; not yet wired into bqa_fetch), against its C
# reference model hw_model/win.c (compiled as C and linked into the harness): tiny-like (Dn 2, Dk 64,
# W 64), edge-like (Dn 8, Dk 256, W 64); full tier also Dn 3, Dk 32, W 128 (2 beats per K-chunk) ----
$(HW_B)/win/win.o: hw_model/win.c hw_model/win.h sw/core/errmsg.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(HW_B)/win/errmsg.o: sw/core/errmsg.c sw/core/errmsg.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(HW_B)/win_%/test_win: hw/bqa_win.sv hw/bqa_ram_1r1w.sv tests/hw/test_win.cpp tests/hw/bqa_win_gen.h $(HW_B)/win/win.o $(HW_B)/win/errmsg.o $(HW_TBH)
	$(call hw_verilate,win_$*,bqa_win,test_win,hw/bqa_win.sv hw/bqa_ram_1r1w.sv,tests/hw/test_win.cpp,$(call hw_win_g,$(HW_WIN_$*)) -LDFLAGS "$(abspath $(HW_B)/win/win.o) $(abspath $(HW_B)/win/errmsg.o)",$(call hw_win_d,$(HW_WIN_$*)) -I$(CURDIR)/hw_model)
HW_WIN_t = 2 64 64 8 2048
HW_WIN_e = 8 256 64 10 16384
HW_WIN_w = 3 32 128 9 4096
hw_win_g = -GDn=$(word 1,$(1)) -GDk=$(word 2,$(1)) -GW=$(word 3,$(1)) -GAAddrBits=$(word 4,$(1)) -GWindowBytes=$(word 5,$(1))
hw_win_d = -DTB_DN=$(word 1,$(1)) -DTB_DK=$(word 2,$(1)) -DTB_W=$(word 3,$(1)) -DTB_AAB=$(word 4,$(1)) -DTB_WINB=$(word 5,$(1))
HW_FAST_BINS += $(HW_B)/win_t/test_win   # edge-like and Dn 3 in test-hw-full only (make test time)
HW_FULL_BINS += $(HW_B)/win_t/test_win $(HW_B)/win_e/test_win $(HW_B)/win_w/test_win
# bqa_fetch with the window unit wired in (WindowBytes > 0; bqa_top keeps 0): SETUP / WIN interleaved
# with v1 fetches, WIN against hw_model/win.c; tiny-like and edge-like shapes as test_fetch's t / e
$(HW_B)/fetchw_%/test_fetch_win: $(HW_PKG) hw/bqa_fetch.sv hw/bqa_unpack.sv hw/bqa_win.sv hw/bqa_ram_1r1w.sv tests/hw/test_fetch_win.cpp tests/hw/bqa_stage_env.h tests/hw/bqa_win_gen.h $(HW_B)/win/win.o $(HW_B)/win/errmsg.o $(HW_TBH)
	$(call hw_verilate,fetchw_$*,bqa_fetch,test_fetch_win,$(HW_PKG) hw/bqa_fetch.sv hw/bqa_unpack.sv hw/bqa_win.sv hw/bqa_ram_1r1w.sv,tests/hw/test_fetch_win.cpp,$(call hw_fetch_g,$(HW_FETCHW_$*)) -GWindowBytes=$(word 8,$(HW_FETCHW_$*)) -LDFLAGS "$(abspath $(HW_B)/win/win.o) $(abspath $(HW_B)/win/errmsg.o)",$(call hw_fetch_d,$(HW_FETCHW_$*)) -DTB_WINB=$(word 8,$(HW_FETCHW_$*)) -I$(CURDIR)/hw_model)
HW_FETCHW_t = 2 2 64 64 8 8 8 2048
HW_FETCHW_e = 8 8 256 64 10 10 6 16384
HW_FAST_BINS += $(HW_B)/fetchw_t/test_fetch_win   # edge-like in test-hw-full only
HW_FULL_BINS += $(HW_B)/fetchw_t/test_fetch_win $(HW_B)/fetchw_e/test_fetch_win
# bqa_result with CODES mode (BlockChannels > 0, docs/whole_network.md §4.3-4.4 and §10): layers of RUNCs
# with v1 RUNs between, RUNCs against hw_model/codes.c; tiny-like (2x2, W 64, L 1, 64 B rows), edge-like
# (8x8, W 64, L 8, 512 B rows), 4x3 with W 128 and L 2 (256 B rows)
$(HW_B)/codes/codes.o: hw_model/codes.c hw_model/codes.h sw/core/errmsg.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(HW_B)/resultc_%/test_result_codes: $(HW_PKG) hw/bqa_result.sv hw/bqa_rq_lane.sv hw/bqa_ram_1r1w.sv tests/hw/test_result_codes.cpp tests/hw/bqa_stage_env.h $(HW_B)/codes/codes.o $(HW_B)/win/errmsg.o $(HW_TBH)
	$(call hw_verilate,resultc_$*,bqa_result,test_result_codes,$(HW_PKG) hw/bqa_result.sv hw/bqa_rq_lane.sv hw/bqa_ram_1r1w.sv,tests/hw/test_result_codes.cpp,$(call hw_result_g,$(HW_RESULTC_$*)) -GBlockChannels=$(word 6,$(HW_RESULTC_$*)) -LDFLAGS "$(abspath $(HW_B)/codes/codes.o) $(abspath $(HW_B)/win/errmsg.o)",$(call hw_result_d,$(HW_RESULTC_$*)) -DTB_BC=$(word 6,$(HW_RESULTC_$*)) -I$(CURDIR)/hw_model)
HW_RESULTC_t = 2 2 64 1 8 64
HW_RESULTC_e = 8 8 64 8 6 512
HW_RESULTC_w = 4 3 128 2 6 256
HW_FAST_BINS += $(HW_B)/resultc_t/test_result_codes $(HW_B)/resultc_e/test_result_codes   # 4x3 / W 128 in test-hw-full only
HW_FULL_BINS += $(HW_B)/resultc_t/test_result_codes $(HW_B)/resultc_e/test_result_codes $(HW_B)/resultc_w/test_result_codes
# bqa_top with ISA v2 (tiny's parameters, WindowBytes 2048, BlockChannels 64): the WRITTEN token flows
# from the result's RUNC (sig1, at wdone) to the fetch's wait1, and without it the fetch stays blocked
$(HW_B)/top_written/test_top_written: $(HW_SV) tests/hw/test_top_written.cpp $(HW_B)/codes/codes.o $(HW_B)/win/errmsg.o $(HW_TBH) $(BUILD)/gen/tiny/hw_params.svh $(BUILD)/gen/tiny/hw_params.h
	$(call hw_verilate,top_written,bqa_top,test_top_written,$(HW_SV),tests/hw/test_top_written.cpp,-I$(BUILD)/gen/tiny -Ihw -GWindowBytes=2048 -GBlockChannels=64 -LDFLAGS "$(abspath $(HW_B)/codes/codes.o) $(abspath $(HW_B)/win/errmsg.o)",-I$(CURDIR)/$(BUILD)/gen/tiny -I$(CURDIR)/hw_model)
# (test-hw-full only: test_top_v2 in test-hw checks every layer's WRITTEN cycle of whole networks)
HW_FULL_BINS += $(HW_B)/top_written/test_top_written

.PHONY: hw-lint test-hw test-hw-full bench-hw synth fpga fpga-report test-isa-pkg
test-isa-pkg: $(HW_B)/isa/test_isa
	@$(HW_B)/isa/test_isa

# The v1 RTL refuses the ISA v2 encodings loudly (docs/hw_isa.md §3.5): each stage harness run with
# its instruction 0 made a v2 one (+v2=...) must stop on that stage's assertion, naming it.
# <harness>:<v2 kind>:<assertion text>
HW_V2_REFUSED := fetch_t/test_fetch:setup:bqa_fetch:.illegal.op fetch_t/test_fetch:win:bqa_fetch:.illegal.target \
                 exec_8x8/test_exec:setup:bqa_exec:.illegal.op.2 exec_8x8/test_exec:runc:bqa_exec:.illegal.op.3 \
                 result_t/test_result:setup:bqa_result:.illegal.op result_t/test_result:runc:bqa_result:.illegal.op
.PHONY: test-hw-v2-refused
test-hw-v2-refused: $(HW_B)/fetch_t/test_fetch $(HW_B)/exec_8x8/test_exec $(HW_B)/result_t/test_result
	@mkdir -p $(HW_B)/v2_refused; n=0; \
	for c in $(HW_V2_REFUSED); do \
	  t=$${c%%:*}; r=$${c#*:}; k=$${r%%:*}; want=$${r#*:}; log=$(HW_B)/v2_refused/$$(dirname $$t)_$$k.log; \
	  if $(HW_B)/$$t +v2=$$k > $$log 2>&1; then echo "test-hw-v2-refused: FAILED, $$t ran +v2=$$k to the end"; exit 1; fi; \
	  grep -q "$$want" $$log || { echo "test-hw-v2-refused: FAILED, $$t +v2=$$k did not stop on '$$want':"; tail -5 $$log; exit 1; }; \
	  n=$$((n + 1)); done; \
	echo "test-hw-v2-refused: passed ($$n v2 instructions refused by the v1 fetch, exec and result assertions)"
TEST_TARGETS += test-hw-v2-refused
# CODES mode refuses illegal RUNCs on bqa_result's assertions (the rules of hw_model/codes.c it relies on)
HW_CODES_REFUSED := nosetup:RUNC.before.any.result.SETUP chan:RUNC.ch0.+.mrows.passes.cs_out resnofirst:RUNC.with.res.but.not.first
.PHONY: test-hw-codes-refused
test-hw-codes-refused: $(HW_B)/resultc_t/test_result_codes
	@mkdir -p $(HW_B)/codes_refused; n=0; \
	for c in $(HW_CODES_REFUSED); do k=$${c%%:*}; want=$${c#*:}; log=$(HW_B)/codes_refused/$$k.log; \
	  if $(HW_B)/resultc_t/test_result_codes +bad=$$k > $$log 2>&1; then echo "test-hw-codes-refused: FAILED, +bad=$$k ran to the end"; exit 1; fi; \
	  grep -q "bqa_result: $$want" $$log || { echo "test-hw-codes-refused: FAILED, +bad=$$k did not stop on '$$want':"; tail -5 $$log; exit 1; }; \
	  n=$$((n + 1)); done; \
	echo "test-hw-codes-refused: passed ($$n illegal RUNCs refused by bqa_result's CODES assertions)"
TEST_TARGETS += test-hw-codes-refused


bench-hw: $(HW_B)/top_tiny/test_top
	@mkdir -p $(BUILD)/bench
	$(HW_B)/top_tiny/test_top +bench

hw-lint: $(HW_PKG) $(BUILD)/gen/tiny/hw_params.svh $(BUILD)/gen/edge/hw_params.svh
	@for f in $(HW_MODS); do \
	  verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) --top-module $$(basename $$f .sv) || exit 1; done
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/edge $(HW_SV) --top-module bqa_top
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) --top-module bqa_fetch -GWindowBytes=2048   # with the window unit
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) --top-module bqa_result -GDm=2 -GDn=2 -GW=64 -GBlockChannels=64   # CODES mode
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) --top-module bqa_result -GDm=8 -GDn=8 -GW=64 -GLanes=8 -GBlockChannels=512
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) --top-module bqa_top -GWindowBytes=2048 -GBlockChannels=64   # ISA v2
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) hw/fmax/bqa_fmax_win.sv --top-module bqa_fmax_win   # Fmax fixtures
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) hw/fmax/bqa_fmax_result.sv --top-module bqa_fmax_result
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/edge $(HW_SV) --top-module bqa_top -GWindowBytes=16384 -GBlockChannels=512
	@verilator --lint-only -Wall -Ihw -Ibuild/gen/tiny $(HW_SV) --top-module bqa_axi_top -GWindowBytes=2048 -GBlockChannels=64   # AXI shell, ISA v2
	@echo "hw-lint: $(words $(HW_MODS)) modules lint clean with bqa_pkg (each as top; bqa_top for tiny and edge; bqa_fetch with WindowBytes 2048; bqa_result with BlockChannels 64 / 512; bqa_top v2 for tiny and edge; bqa_axi_top v2)"

TEST_TARGETS  += test-hw
BENCH_TARGETS += bench-hw
LINT_TARGETS  += hw-lint

# ---- synthesis (yosys 0.23), hierarchical: each distinct module is synthesised once ----
HW_YS_READ = read_verilog -sv -DSYNTHESIS -I$(BUILD)/gen/$(1) -Ihw $(HW_SV)
$(HW_B)/synth/%_xc7.stat: $(HW_SV) $(BUILD)/gen/%/hw_params.svh
	@mkdir -p $(dir $@)
	nice -n 10 yosys -q -l $(HW_B)/synth/$*_xc7.log -p "$(call HW_YS_READ,$*); synth_xilinx -family xc7 -top bqa_top; tee -q -o $@ stat -top bqa_top"
$(HW_B)/synth/%_gen.stat: $(HW_SV) $(BUILD)/gen/%/hw_params.svh
	@mkdir -p $(dir $@)
	nice -n 10 yosys -q -l $(HW_B)/synth/$*_gen.log -p "$(call HW_YS_READ,$*); synth -top bqa_top -run :fine; opt -fast -full; techmap; opt -fast; abc -fast; opt_clean; tee -q -o $@ stat -top bqa_top"

# the configs `make synth` synthesises (override on the command line: make synth HW_SYNTH_CFGS=tiny)
HW_SYNTH_CFGS ?= tiny edge
synth: $(foreach c,$(HW_SYNTH_CFGS),$(HW_B)/synth/$(c)_xc7.stat $(HW_B)/synth/$(c)_gen.stat)
	@{ echo '| config | Dm x Dn x Dk (rows x cols x DPU width) | LUT | FF | BRAM | LUTRAM | DSP | CARRY4 | one DPU (xc7) | BISMO model LUT/DPU (1.17*Dk+44) | array LUTs (ours) | BISMO array LUTs | generic `synth` (yosys internal gate + FF cells, memories) |'; \
	   echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"; \
	   for c in $(HW_SYNTH_CFGS); do g=$(BUILD)/gen/$$c/hw_params.svh; \
	     dm=$$(awk '/BQ_HW_DM /{print $$3}' $$g); dn=$$(awk '/BQ_HW_DN /{print $$3}' $$g); dk=$$(awk '/BQ_HW_DK /{print $$3}' $$g); \
	     sh hw/synth_report.sh $$c $(HW_B)/synth/$${c}_xc7.stat $(HW_B)/synth/$${c}_gen.stat $$dm $$dn $$dk; done; } > $(HW_B)/synth/report.md
	@{ echo '{"tool":"yosys 0.23, hierarchical; lut = LUT1-6 + INV, bram18 = RAMB18 + 2 x RAMB36","configs":['; sep=''; \
	   for c in $(HW_SYNTH_CFGS); do g=$(BUILD)/gen/$$c/hw_params.svh; \
	     dm=$$(awk '/BQ_HW_DM /{print $$3}' $$g); dn=$$(awk '/BQ_HW_DN /{print $$3}' $$g); dk=$$(awk '/BQ_HW_DK /{print $$3}' $$g); \
	     [ -z "$$sep" ] || printf ',\n'; sh hw/synth_report.sh $$c $(HW_B)/synth/$${c}_xc7.stat $(HW_B)/synth/$${c}_gen.stat $$dm $$dn $$dk json; sep=1; done; \
	   printf '\n]}\n'; } > $(HW_B)/synth/report.json.tmp && mv $(HW_B)/synth/report.json.tmp $(HW_B)/synth/report.json
	@cat $(HW_B)/synth/report.md
	@echo "synth: report in $(HW_B)/synth/report.md and report.json (the .md copied into docs/hw_rtl.md by hand when it changes)"

# ---- the resource model's calibration (docs/resource_model.md) ----
.PHONY: resource-calib
resource-calib: $(BUILD)/hwgen $(HW_PKG) $(BUILD)/gen/tiny/hw_params.svh
	bash hw/resource_calib.sh hw/resource_calib.points $(HW_B)/calib docs/resource_calib.json

# ---- place and route of tiny as configured on an iCE40 HX8K (pin-limited wrapper, 2-deep instruction queues) ----
# The report keeps the first utilisation block (packer: LCs, BRAM, I/O; the lines start "Info:<TAB>")
# and the last "Max frequency" (after routing). The former `grep -E "...|SB_IO" | tail -6` lost the
# utilisation: "SB_IO" also matches the pin nets ($SB_IO_IN / $SB_IO_OUT) of the critical-path reports
# and the "Max delay" lines printed after routing, and those filled the last six lines.
HW_FPGA_MHZ ?= $(shell awk '/^clock_mhz:/{print $$2}' configs/hw/tiny.yaml)
$(HW_B)/fpga/tiny.json: $(HW_SV) $(BUILD)/gen/tiny/hw_params.svh
	@mkdir -p $(dir $@)
	nice -n 10 yosys -q -l $(HW_B)/fpga/tiny_yosys.log -p "$(call HW_YS_READ,tiny); synth_ice40 -top bqa_fpga_wrap -json $@; tee -q -o $(HW_B)/fpga/tiny_ice40.stat stat"
fpga: $(HW_B)/fpga/tiny.json
	nice -n 10 nextpnr-ice40 --hx8k --package ct256 --json $< --asc $(HW_B)/fpga/tiny.asc \
	  --freq $(HW_FPGA_MHZ) --timing-allow-fail -l $(HW_B)/fpga/tiny_nextpnr.log -q
	@$(MAKE) --no-print-directory fpga-report
# v2 units alone on the HX8K (docs/whole_network.md §6): UNIT = top:chparam-args
HW_FMAX_UNITS := win:bqa_fmax_win: result_v1:bqa_fmax_result:-set_BlockChannels_0 result_codes:bqa_fmax_result:-set_BlockChannels_64
$(HW_B)/fpga/unit_%.log: $(HW_SV) hw/fmax/bqa_fmax_win.sv hw/fmax/bqa_fmax_result.sv $(BUILD)/gen/tiny/hw_params.svh
	@mkdir -p $(dir $@)
	@u='$(filter $*:%,$(HW_FMAX_UNITS))'; top=$$(echo $$u | cut -d: -f2); cp=$$(echo $$u | cut -d: -f3 | tr _ ' '); \
	  nice -n 10 yosys -q -l $(HW_B)/fpga/unit_$*_yosys.log -p "$(call HW_YS_READ,tiny); read_verilog -sv -DSYNTHESIS -Ihw hw/fmax/$$top.sv; $${cp:+chparam $$cp $$top;} synth_ice40 -top $$top -json $(HW_B)/fpga/unit_$*.json" && \
	  nice -n 10 nextpnr-ice40 --hx8k --package ct256 --json $(HW_B)/fpga/unit_$*.json --freq $(HW_FPGA_MHZ) \
	    --timing-allow-fail -l $@.tmp -q && mv $@.tmp $@
.PHONY: fpga-units
fpga-units: $(foreach u,$(HW_FMAX_UNITS),$(HW_B)/fpga/unit_$(firstword $(subst :, ,$(u))).log)
	@for u in $(foreach u,$(HW_FMAX_UNITS),$(firstword $(subst :, ,$(u)))); do \
	  echo "$$u: $$(grep -E '^Info:[[:space:]]+(ICESTORM_LC|ICESTORM_RAM):' $(HW_B)/fpga/unit_$$u.log | head -2 | sed 's/^Info:[[:space:]]*//' | tr -s ' ' | paste -sd';'); $$(grep 'Max frequency' $(HW_B)/fpga/unit_$$u.log | tail -1 | sed 's/^Info:[[:space:]]*//')"; \
	done | tee $(HW_B)/fpga/units_report.txt
# the report of the last `make fpga` run (from its nextpnr log; no place and route)
fpga-report:
	@{ echo "make fpga: tiny ($(HW_FPGA_MHZ) MHz target) on iCE40 HX8K ct256, log of $$(date -u -r $(HW_B)/fpga/tiny_nextpnr.log '+%Y-%m-%d %H:%M UTC')"; \
	   grep -E "^Info:[[:space:]]+(ICESTORM_LC|ICESTORM_RAM|SB_IO):" $(HW_B)/fpga/tiny_nextpnr.log | head -3; \
	   grep "Max frequency" $(HW_B)/fpga/tiny_nextpnr.log | tail -1; } | sed 's/^Info:[[:space:]]*/  /' > $(HW_B)/fpga/tiny_report.txt
	@cat $(HW_B)/fpga/tiny_report.txt
	@grep -q ICESTORM_LC $(HW_B)/fpga/tiny_report.txt && grep -q "Max frequency" $(HW_B)/fpga/tiny_report.txt || \
	  { echo "fpga: utilisation or Fmax missing from $(HW_B)/fpga/tiny_nextpnr.log"; exit 1; }

# ---- a whole network on bqa_top with ISA v2 (docs/whole_network.md §12): the program of hwsched_v2 started
# once; every layer's output tensor against the naive network of tests/unit/hw_model/v2_ref.[ch] (shared
# with test_v2_exec, whose build therefore links v2_ref.c too), CYCLES and the counters against the latency
# model's dry run, each layer's last write against the model's cumulative layer cycles. The C model and
# the reference are linked from libbrecq.a / v2_ref.o (built with CFLAGS). tiny-like and edge-like builds:
# HW_TOPV2_<x> = config, WindowBytes, BlockChannels (sized for the full tier's fres20 and mbv2t, §12)
V2_REF_SRC := tests/unit/hw_model/v2_ref.c
# the C executor of v2 programs (v2_exec.[ch]): test_v2_exec (naive network) and test_lower_v2_exec
# (real quantized models lowered by bq_lower_v2_full against the integer reference)
V2_EXEC_SRC := tests/unit/hw_model/v2_exec.c
$(ASAN)/tests/hw_model/test_v2_exec: tests/unit/hw_model/test_v2_exec.c $(V2_REF_SRC) $(V2_EXEC_SRC) tests/unit/hw_model/v2_ref.h tests/unit/hw_model/v2_exec.h $(ASAN)/libbrecq.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(V2_REF_SRC) $(V2_EXEC_SRC) $(ASAN)/libbrecq.a $(PKG_LIBS) -lcmocka
$(ASAN)/tests/lower/test_lower_v2_exec: tests/unit/lower/test_lower_v2_exec.c $(V2_EXEC_SRC) tests/unit/hw_model/v2_exec.h $(ASAN)/libbrecq.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -Itests/unit -Itests/unit/hw_model -o $@ $< $(V2_EXEC_SRC) $(ASAN)/libbrecq.a $(PKG_LIBS) -lcmocka
$(ASAN)/tests/hw_model/test_sched_v2: tests/unit/hw_model/test_sched_v2.c $(V2_REF_SRC) tests/unit/hw_model/v2_ref.h $(ASAN)/libbrecq.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(V2_REF_SRC) $(ASAN)/libbrecq.a $(PKG_LIBS) -lcmocka
V2_REF_DEPS := $(V2_REF_SRC) tests/unit/hw_model/v2_ref.h $(wildcard hw_model/*.h)
$(HW_B)/v2ref/v2_ref.o: $(V2_REF_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
HW_TOPV2_t = tiny 24576 256
HW_TOPV2_e = edge 65536 512
$(HW_B)/topv2_%/test_top_v2: $(HW_SV) tests/hw/test_top_v2.cpp tests/hw/bqa_v2_net.h $(V2_REF_DEPS) $(HW_B)/v2ref/v2_ref.o $(BUILD)/libbrecq.a $(HW_TBH) $(BUILD)/gen/tiny/hw_params.svh $(BUILD)/gen/edge/hw_params.h $(BUILD)/gen/edge/hw_params.svh $(BUILD)/gen/tiny/hw_params.h
	@rm -f $@   # Verilator's own make does not see the linked C objects change: relink
	$(call hw_verilate,topv2_$*,bqa_top,test_top_v2,$(HW_SV),tests/hw/test_top_v2.cpp,-I$(BUILD)/gen/$(word 1,$(HW_TOPV2_$*)) -Ihw -GWindowBytes=$(word 2,$(HW_TOPV2_$*)) -GBlockChannels=$(word 3,$(HW_TOPV2_$*)) -LDFLAGS "$(abspath $(HW_B)/v2ref/v2_ref.o) $(abspath $(BUILD)/libbrecq.a) -lyaml -lm",-I$(CURDIR)/$(BUILD)/gen/$(word 1,$(HW_TOPV2_$*)) -I$(CURDIR)/hw_model -I$(CURDIR)/tests/unit/hw_model -I$(CURDIR)/sw -DTB_CFG_YAML=\\\"$(CURDIR)/configs/hw/$(word 1,$(HW_TOPV2_$*)).yaml\\\" -DTB_WINB=$(word 2,$(HW_TOPV2_$*)) -DTB_BC=$(word 3,$(HW_TOPV2_$*)))
HW_FAST_BINS += $(HW_B)/topv2_t/test_top_v2   # edge in test-hw-full only (its build is ~45 s of make test)
HW_FULL_BINS += $(HW_B)/topv2_t/test_top_v2 $(HW_B)/topv2_e/test_top_v2
# the same through the AXI shell (bqa_axi_top, host FIFOs of 262144 instructions so a whole program is pushed
# before the one start): fixed-latency AXI memory: outputs, CYCLES and counters exact vs the model with the
# AXI interface; random latency / back-pressure: outputs exact. tiny-like in test-hw, edge-like in test-hw-full
$(HW_B)/axiv2_%/test_axi_top_v2: $(HW_SV) tests/hw/test_axi_top_v2.cpp tests/hw/bqa_v2_net.h $(V2_REF_DEPS) $(HW_B)/v2ref/v2_ref.o $(BUILD)/libbrecq.a $(HW_AXI_TBH) $(BUILD)/gen/tiny/hw_params.svh $(BUILD)/gen/edge/hw_params.h $(BUILD)/gen/edge/hw_params.svh $(BUILD)/gen/tiny/hw_params.h
	@rm -f $@   # Verilator's own make does not see the linked C objects change: relink
	$(call hw_verilate,axiv2_$*,bqa_axi_top,test_axi_top_v2,$(HW_SV),tests/hw/test_axi_top_v2.cpp,-I$(BUILD)/gen/$(word 1,$(HW_TOPV2_$*)) -Ihw -GHostQDepth=262144 -GWindowBytes=$(word 2,$(HW_TOPV2_$*)) -GBlockChannels=$(word 3,$(HW_TOPV2_$*)) -LDFLAGS "$(abspath $(HW_B)/v2ref/v2_ref.o) $(abspath $(BUILD)/libbrecq.a) -lyaml -lm",-I$(CURDIR)/$(BUILD)/gen/$(word 1,$(HW_TOPV2_$*)) -I$(CURDIR)/hw_model -I$(CURDIR)/tests/unit/hw_model -I$(CURDIR)/sw -DTB_CFG_YAML=\\\"$(CURDIR)/configs/hw/$(word 1,$(HW_TOPV2_$*)).yaml\\\" -DTB_WINB=$(word 2,$(HW_TOPV2_$*)) -DTB_BC=$(word 3,$(HW_TOPV2_$*)))
HW_FAST_BINS += $(HW_B)/axiv2_t/test_axi_top_v2
HW_FULL_BINS += $(HW_B)/axiv2_t/test_axi_top_v2 $(HW_B)/axiv2_e/test_axi_top_v2

# Last in the file: a rule's prerequisites are expanded when make reads the rule, so every
# harness appended to HW_FAST_BINS / HW_FULL_BINS above is built (not only run) by these.
test-hw: $(HW_FAST_BINS)
	@fail=0; for t in $(HW_FAST_BINS); do $$t || fail=1; done; \
	if [ $$fail = 0 ]; then echo "test-hw: passed"; else echo "test-hw: FAILED"; exit 1; fi
test-hw-full: $(HW_FULL_BINS)
	@fail=0; for t in $(HW_FULL_BINS); do nice -n 10 $$t +full || fail=1; done; \
	if [ $$fail = 0 ]; then echo "test-hw-full: passed"; else echo "test-hw-full: FAILED"; exit 1; fi
