# sim -- co-simulation: the verilated accelerator (verilator --sc) in a SystemC system with a memory
# model and a C host driver (docs/cosim.md).
#   make cosim         MODEL (fres20) quantized with QUANT (rtn_w4a4; a configs/quant/ recipe name),
#                      optional BITS=bits.yaml (mixed allocation), on each HW (tiny edge), COSIM_IMAGES
#                      (4) test images, each run from its export package (<run dir>/package)
#                      -> build/cosim/cosim_report.{md,json}; non-zero on any mismatch
#   make cosim-full    fres20 and mbv2t x {W8A8, W4A4, W2A4, mixed} x {tiny, edge, tiny_v2, edge_v2},
#                      COSIM_IMAGES=32 (v2 configs: COSIM_FULL_V2_IMAGES=8)
#                      (subsets: COSIM_FULL_MODELS, COSIM_FULL_QUANTS, COSIM_FULL_HW; COSIM_NICE=10),
#                      then cosim-full-assert: one image per run on the simulator with RTL assertions
#                      (after cosim-axi-full, the same matrix through the AXI shell; COSIM_FULL_AXI=0: not)
#   make test-cosim    (part of `make test`) one image on tiny from a package + fault injection, an
#                      export bug with recomputed hashes, a corrupted byte per package part, --trace, bits-only,
#                      the board backend's argument/device checks and the worked example of
#                      docs/bringup.md (tests/cosim/); one image of fres20 on tiny_v2 as ONE whole-network
#                      program from its version 3 package, faults, waveforms, package bugs, refusals, a
#                      max-pool model per layer (test_cosim_v2.sh); the self-test driver on a version 3
#                      package (test_selftest_v3.sh)
#   make bench-cosim   (part of `make bench`) simulated cycles/s and wall s/image, tiny and edge
# Models: configs/models/$(MODEL).bqm, or COSIM_BQM=path.bqm; `make cosim-quick-model` trains a
# quick one (bit-exactness needs no accuracy).

SIM_B        := $(BUILD)/sim
COSIM_OUT    := $(BUILD)/cosim
COSIM_IMAGES ?= 4
HW           ?= tiny edge
MODEL        ?= fres20
QUANT        ?= rtn_w4a4
BITS         ?=
COSIM_BQM    ?= $(if $(wildcard configs/models/$(MODEL).bqm),configs/models/$(MODEL).bqm,$(COSIM_OUT)/models/$(MODEL)_quick.bqm)
# the package self-test driver (docs/bringup.md "The self-test driver"): no engine code
SELFTEST_SRCS := sim/bq_selftest.c sim/bq_selftest_pkg.c sim/bq_json.c
SIM_DRV_SRCS := sim/bq_cosim.c sim/bq_cosim_v2.c sim/cosim_cli.c sim/bq_acc_mmio.c sim/bq_acc_uio.c sim/bq_pkg.c \
                sim/bq_host_main.c sim/bq_board_main.c $(SELFTEST_SRCS)
SIM_HDRS     := $(wildcard sim/*.h)
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE := 1
# Speed (docs/cosim.md, "Simulation speed"): -O3, X values resolved the fast way (the RTL resets
# every register it reads). Two simulators per config: `cosim` without the RTL's assertions (they
# cost 20-30%), and `cosim_assert` with them (--assert: e.g. the bank-row collision rule of
# bqa_ram_1r1w), which cosim-full runs on one image of every run (timing is data independent, so
# one image exercises the whole schedule). --trace-fst stays compiled in for the mismatch
# waveform; while no trace is open it costs a flag store per evaluation.
SIM_VFLAGS   := --sc --exe --build --trace-fst -Wall -Wno-fatal -j 2 --x-assign fast --x-initial fast \
                -MAKEFLAGS "OPT_FAST=-O3 OPT_GLOBAL=-O2"

# the C driver, compiled with gcc per config (the register map comes from build/gen/<cfg>/hw_params.h)
$(SIM_B)/%/libbqdrv.a: $(SIM_DRV_SRCS) $(SIM_HDRS) $(wildcard sw/*/*.h hw_model/*.h) $(BUILD)/gen/%/hw_params.h
	@mkdir -p $(SIM_B)/$*/obj
	@flock $(SIM_B)/$*/.lock sh -c 'for f in $(SIM_DRV_SRCS); do \
	  $(CC) $(CFLAGS) $(PKG_CFLAGS) -Isim -I$(BUILD)/gen/$* -c $$f -o $(SIM_B)/$*/obj/$$(basename $$f .c).o || exit 1; done; \
	  rm -f $@.tmp; ar rcs $@.tmp $(patsubst sim/%.c,$(SIM_B)/$*/obj/%.o,$(SIM_DRV_SRCS)) && mv -f $@.tmp $@'

# verilate and build the simulator of config $* into $@: $(1) directory under build/sim/<cfg>/,
# $(2) extra verilator flags. One build at a time per config (make test / make bench of other
# sessions may run concurrently); cosim_sim is removed first: verilator's makefile does not track
# the -LDFLAGS libraries (and its VPATH includes the parent directory, so the exe must not be
# called like build/sim/<cfg>/cosim).
sim_verilate = @mkdir -p $(SIM_B)/$*/$(1); \
  flock $(SIM_B)/$*/.lock sh -c 'rm -f $(SIM_B)/$*/$(1)/cosim_sim && nice -n 10 verilator $(SIM_VFLAGS) $(2) \
  -Mdir $(SIM_B)/$*/$(1) --top-module bqa_top -Ihw -I$(BUILD)/gen/$* \
  -CFLAGS "-std=c++17 -I$(CURDIR)/sim -I$(CURDIR)/$(BUILD)/gen/$*" \
  -LDFLAGS "$(CURDIR)/$(SIM_B)/$*/libbqdrv.a $(CURDIR)/$(BUILD)/libbrecq.a $(PKG_LIBS)" \
  -o cosim_sim $(HW_SV) $(CURDIR)/sim/cosim_main.cpp > $(SIM_B)/$*/build_$(1).log 2>&1 \
  && cp $(SIM_B)/$*/$(1)/cosim_sim $@.tmp && mv -f $@.tmp $@' \
  || { tail -40 $(SIM_B)/$*/build_$(1).log; exit 1; }
SIM_DEPS = $(HW_SV) sim/cosim_main.cpp $(SIM_HDRS) $(SIM_B)/%/libbqdrv.a $(BUILD)/libbrecq.a \
           $(BUILD)/gen/%/hw_params.svh $(BUILD)/gen/%/hw_params.h

# the SystemC simulators of config <cfg>
$(SIM_B)/%/cosim: $(SIM_DEPS)
	$(call sim_verilate,v-fast,)
$(SIM_B)/%/cosim_assert: $(SIM_DEPS)
	$(call sim_verilate,v-assert,--assert)

# the board program (memory-mapped backend): compiled and linked, never run here
$(SIM_B)/%/cosim_board: sim/cosim_board.c $(SIM_B)/%/libbqdrv.a $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) -Isim -I$(BUILD)/gen/$* -o $@ $< $(SIM_B)/$*/libbqdrv.a $(BUILD)/libbrecq.a $(PKG_LIBS)

# the package self-test on a board: its own sources, the board backend, sw/core/errmsg.c, libc and
# zlib, linked WITHOUT libbrecq.a: that it links is the proof it needs no scheduler or model code
# (tests/cosim/test_selftest.sh also checks the symbols); the ASan+UBSan build for its error paths
SELFTEST_BOARD_SRCS = sim/selftest_board.c sim/bq_board_main.c $(SELFTEST_SRCS) sim/bq_acc_mmio.c sim/bq_acc_uio.c sw/core/errmsg.c
$(SIM_B)/%/selftest_board: $(SELFTEST_BOARD_SRCS) $(SIM_HDRS) sw/core/errmsg.h $(BUILD)/gen/%/hw_params.h
	$(CC) $(CFLAGS) -Isim -I$(BUILD)/gen/$* -o $@ $(SELFTEST_BOARD_SRCS) -lz
$(ASAN)/sim/selftest_board: $(SELFTEST_BOARD_SRCS) $(SIM_HDRS) sw/core/errmsg.h $(BUILD)/gen/tiny/hw_params.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) -Isim -I$(BUILD)/gen/tiny -o $@ $(SELFTEST_BOARD_SRCS) -lz
# the self-test driver against a fake accelerator (no simulator), under ASan+UBSan
$(ASAN)/sim/test_selftest: tests/cosim/test_selftest.c $(SELFTEST_SRCS) $(SIM_HDRS) $(ASAN)/libbrecq.a \
                           tests/unit/testutil.h tests/fuzz/tiny_model.h tests/unit/export_fixture.h $(BUILD)/gen/tiny/hw_params.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -Isim -Itests/unit -I$(BUILD)/gen/tiny -o $@ tests/cosim/test_selftest.c \
	  $(SELFTEST_SRCS) $(ASAN)/libbrecq.a $(PKG_LIBS) -lcmocka

# the board backend's argument checks and device errors (no board needed), under ASan+UBSan
$(ASAN)/sim/test_acc_uio: tests/cosim/test_acc_uio.c sim/bq_acc_uio.c sim/bq_acc_uio.h $(ASAN)/libbrecq.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) -Isim -Itests/unit -o $@ tests/cosim/test_acc_uio.c sim/bq_acc_uio.c $(ASAN)/libbrecq.a -lcmocka

# the driver's package reader (bq_pkg.c) on packages of the tiny test model, under ASan+UBSan
$(ASAN)/sim/test_pkg: tests/cosim/test_pkg.c sim/bq_pkg.c sim/bq_pkg.h $(ASAN)/libbrecq.a tests/unit/testutil.h tests/fuzz/tiny_model.h tests/unit/export_fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -Isim -Itests/unit -o $@ tests/cosim/test_pkg.c sim/bq_pkg.c $(ASAN)/libbrecq.a $(PKG_LIBS) -lcmocka

# quantized models for cosim (keyed by model and recipe; BITS adds a suffix)
$(COSIM_OUT)/models/%_quick.bqm: | $(BUILD)/brecq
	@mkdir -p $(dir $@)
	nice -n 10 $(BUILD)/brecq train --arch $* --epochs 1 --steps 50 --out $@
cosim-quick-model: $(COSIM_OUT)/models/$(MODEL)_quick.bqm

COSIM_TAG = $(MODEL)_$(QUANT)$(if $(BITS),_$(basename $(notdir $(BITS))))
COSIM_Q   = $(COSIM_OUT)/models/$(COSIM_TAG).bqq
$(COSIM_OUT)/models/%.bqq: $(COSIM_BQM) | $(BUILD)/brecq
	@mkdir -p $(dir $@)
	nice -n 10 $(BUILD)/brecq quantize --model $(COSIM_BQM) --recipe configs/quant/$(QUANT).yaml \
	  $(if $(BITS),--bits $(BITS)) --out $@ > $@.log 2>&1 || { tail -5 $@.log; exit 1; }

.PHONY: cosim cosim-full cosim-full-assert test-cosim bench-cosim sim-build cosim-quick-model
SIM_HW ?= tiny edge
sim-build: $(foreach h,$(SIM_HW),$(SIM_B)/$(h)/cosim $(SIM_B)/$(h)/cosim_board $(SIM_B)/$(h)/selftest_board)

# The run's export package, as a board gets it: `brecq export` of the .bqq for the hw config into
# <run dir>/package, with COSIM_PKG_TESTS self-test images; kept while newer than the .bqq, the
# YAML and brecq (the driver refuses a package of another qmodel or config by its hashes anyway).
# $(1) hw, $(2) quantized model, $(3) run dir
COSIM_PKG_TESTS ?= 2
cosim_pkg = p=$(3)/package; if [ ! -f $$p/manifest.json ] || [ $(2) -nt $$p/manifest.json ] || \
  [ configs/hw/$(1).yaml -nt $$p/manifest.json ] || [ $(BUILD)/brecq -nt $$p/manifest.json ]; then \
  nice -n $(COSIM_NICE) $(BUILD)/brecq export --quant $(2) --hw configs/hw/$(1).yaml --tests $(COSIM_PKG_TESTS) \
  --out $$p > $(3)/export.log 2>&1 || tail -3 $(3)/export.log; fi
# one run from its package: $(1) hw, $(2) quantized model, $(3) out dir, $(4) images, $(5) name.
# The driver runs the package's bytes and programs and compares with the integer reference of the
# .bqq (and tests.bin); a failed export leaves no manifest, so the run fails naming it.
# A v2 config (window_bytes > 0) runs the whole-network program per image (sim/bq_cosim_v2.h), from
# its whole-network package (export format version 3).
cosim_is_v2 = grep -Eq '^ *window_bytes: *[1-9]' configs/hw/$(1).yaml
# $(1) hw, $(2) quantized model, $(3) run dir: the package, and $$pk its option
cosim_pkg_opt = $(call cosim_pkg,$(1),$(2),$(3)); pk="--package $(3)/package"
cosim_run = mkdir -p $(3) && rm -f $(3)/cosim_report.json && $(call cosim_pkg_opt,$(1),$(2),$(3)); \
  nice -n $(COSIM_NICE) $(SIM_B)/$(1)/cosim --hw configs/hw/$(1).yaml --qmodel $(2) --images $(4) --out $(3) \
  --name $(5) $$pk > $(3)/cosim.log 2>&1; rc=$$?; tail -4 $(3)/cosim.log; \
  if [ ! -f $(3)/cosim_report.json ]; then echo "cosim: $(3)/cosim_report.json missing"; rc=1; fi

cosim: $(foreach h,$(HW),$(SIM_B)/$(h)/cosim) $(COSIM_BQM) | $(BUILD)/brecq
	@$(MAKE) --no-print-directory $(COSIM_Q) MODEL=$(MODEL) QUANT=$(QUANT) BITS=$(BITS)
	@fail=0; runs=""; for h in $(HW); do \
	  d=$(COSIM_OUT)/$(COSIM_TAG)_$$h; $(call cosim_run,$$h,$(COSIM_Q),$$d,$(COSIM_IMAGES),$(COSIM_TAG)); \
	  [ $$rc = 0 ] || fail=1; runs="$$runs $$d"; done; \
	  sh sim/cosim_merge.sh $(COSIM_OUT) $$runs || fail=1; \
	  echo "cosim: report $(COSIM_OUT)/cosim_report.md"; exit $$fail

COSIM_FULL_QUANTS ?= rtn_w8a8 rtn_w4a4 rtn_w2a4 mixed
COSIM_FULL_MODELS ?= fres20 mbv2t
COSIM_FULL_HW     ?= tiny edge tiny_v2 edge_v2
# images per run of a v2 config (whole-network program) in cosim-full: 8, not 32 (time: one image of
# the 8 runs per v2 config costs ~250 s of simulation on the shared 2-core machine, docs/cosim.md
# "Whole networks (ISA v2)"); COSIM_IMAGES on the command line sets both
COSIM_FULL_V2_IMAGES ?= 8
COSIM_NICE        ?= 10
# the loop over the matrix: quantizes each model once, then $(FULL_BODY) with $$tag, $$h and the
# run directory $$d set (FULL_BODY is target-specific: the runs, or the runs with assertions)
cosim_full_loop = for m in $(COSIM_FULL_MODELS); do for qn in $(COSIM_FULL_QUANTS); do \
  if [ $$qn = mixed ]; then qa="QUANT=rtn_w4a4 BITS=tests/cosim/mixed_$$m.yaml"; tag=$${m}_rtn_w4a4_mixed_$$m; \
  else qa="QUANT=$$qn"; tag=$${m}_$$qn; fi; \
  $(MAKE) --no-print-directory MODEL=$$m $$qa $(COSIM_OUT)/models/$$tag.bqq || { fail=1; continue; }; \
  for h in $(COSIM_FULL_HW); do d=$(COSIM_OUT)/full/$${tag}_$$h; $(FULL_BODY); done; done; done

cosim-full: FULL_BODY = n=32; if $(call cosim_is_v2,$$h); then n=$(COSIM_FULL_V2_IMAGES); fi; \
  $(call cosim_run,$$h,$(COSIM_OUT)/models/$$tag.bqq,$$d,$(if $(filter command line,$(origin COSIM_IMAGES)),$(COSIM_IMAGES),$$n),$$tag); \
  [ $$rc = 0 ] || fail=1; runs="$$runs $$d"
cosim-full: $(foreach h,$(COSIM_FULL_HW),$(SIM_B)/$(h)/cosim $(SIM_B)/$(h)/cosim_assert) | $(BUILD)/brecq
	@fail=0; runs=""; $(cosim_full_loop); \
	  sh sim/cosim_merge.sh $(COSIM_OUT)/full $$runs || fail=1; \
	  echo "cosim-full: report $(COSIM_OUT)/full/cosim_report.md"; \
	  $(MAKE) --no-print-directory cosim-full-assert || fail=1; exit $$fail

# every run of the matrix once more, one image, on the simulator with the RTL's assertions: an
# assertion failure stops the simulator (no report, non-zero exit)
cosim-full-assert: FULL_BODY = a=$$d/assert; mkdir -p $$a && rm -f $$a/cosim_report.json; \
  $(call cosim_pkg_opt,$$h,$(COSIM_OUT)/models/$$tag.bqq,$$d); \
  nice -n $(COSIM_NICE) $(SIM_B)/$$h/cosim_assert --hw configs/hw/$$h.yaml --qmodel $(COSIM_OUT)/models/$$tag.bqq \
    --images 1 --out $$a --name $$tag --no-trace $$pk > $$a/cosim.log 2>&1 && [ -f $$a/cosim_report.json ] \
  && echo "cosim-full-assert: $${tag}_$$h: 1 image with RTL assertions, PASS" \
  || { fail=1; echo "cosim-full-assert: $${tag}_$$h: FAIL, see $$a/cosim.log"; tail -3 $$a/cosim.log; }
cosim-full-assert: $(foreach h,$(COSIM_FULL_HW),$(SIM_B)/$(h)/cosim_assert) | $(BUILD)/brecq
	@fail=0; $(cosim_full_loop); exit $$fail

test-cosim: $(SIM_B)/tiny/cosim $(SIM_B)/tiny/cosim_board $(ASAN)/sim/test_acc_uio $(ASAN)/sim/test_pkg $(BUILD)/brecq \
            $(SIM_B)/tiny_v2/cosim
	@$(MAKE) --no-print-directory MODEL=fres20 QUANT=rtn_w4a4 $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq
	@$(ASAN)/sim/test_acc_uio
	@$(ASAN)/sim/test_pkg
	@sh tests/cosim/test_board.sh $(SIM_B)/tiny/cosim_board
	@sh tests/cosim/test_cosim.sh $(SIM_B)/tiny/cosim $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq $(COSIM_OUT)/test $(BUILD)/brecq
	@sh tests/cosim/test_bringup.sh $(COSIM_OUT)/bringup
	@sh tests/cosim/test_cosim_v2.sh $(SIM_B)/tiny_v2/cosim configs/hw/tiny_v2.yaml \
	  $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq $(COSIM_OUT)/test_v2 $(BUILD)/brecq
	@BRECQ=$(BUILD)/brecq sh tests/cosim/test_selftest_v3.sh $(SIM_B)/tiny_v2/cosim configs/hw/tiny_v2.yaml \
	  $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq $(COSIM_OUT)/selftest_v3

bench-cosim: $(SIM_B)/tiny/cosim $(SIM_B)/edge/cosim | $(BUILD)/brecq
	@$(MAKE) --no-print-directory MODEL=fres20 QUANT=rtn_w4a4 $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq
	@mkdir -p $(BUILD)/bench; fail=0; runs=""; for h in tiny edge; do d=$(COSIM_OUT)/bench_$$h; \
	  $(call cosim_run,$$h,$(COSIM_OUT)/models/fres20_rtn_w4a4.bqq,$$d,1,fres20_rtn_w4a4); \
	  [ $$rc = 0 ] || fail=1; runs="$$runs $$d"; done; \
	  sh sim/cosim_merge.sh $(COSIM_OUT)/bench $$runs > /dev/null; \
	  cp $(COSIM_OUT)/bench/cosim_report.json $(BUILD)/bench/cosim.json; \
	  sh sim/cosim_merge.sh --bench $$runs; echo "bench-cosim: load average $$(cut -d" " -f1-3 /proc/loadavg) (2 cores shared)"; echo "bench-cosim: JSON $(BUILD)/bench/cosim.json"; exit $$fail

TEST_TARGETS  += test-cosim
BENCH_TARGETS += bench-cosim
CLEAN_DIRS    += $(SIM_B) $(COSIM_OUT)
# kept although intermediate in the pattern chains (deleting the generated headers made a rerun of
# `make demo` rebuild the simulator)
.PRECIOUS: $(BUILD)/gen/%/hw_params.h $(BUILD)/gen/%/hw_params.svh $(SIM_B)/%/libbqdrv.a $(SIM_B)/%/cosim $(SIM_B)/%/cosim_assert $(SIM_B)/%/cosim_board $(SIM_B)/%/selftest_board $(COSIM_OUT)/models/%.bqq $(COSIM_OUT)/models/%_quick.bqm

# ---- through the AXI shell (docs/cosim.md "Through the AXI shell"): build/sim_axi/<cfg>/ holds
# hw.yaml (the config with memory.interface: axi, so the latency model adds the shell's cycles and
# the config hash is the shell's), its generated headers, the driver and cosim_axi (bqa_axi_top +
# the AXI slave model of tests/hw/bqa_axi_mem.h, sim/cosim_axi_main.cpp).
#   make cosim-axi       like make cosim (MODEL, QUANT, BITS, HW, COSIM_IMAGES) with a fixed-latency
#                        AXI memory -> build/cosim_axi/cosim_report.md; COSIM_AXI_ARGS adds plusargs
#   make test-cosim-axi  (part of `make test`) one image on tiny, fixed and random latency; the
#                        register protocol against a fake bus (tests/cosim/test_acc_mmio.c); the
#                        package self-test driver (tests/cosim/test_selftest.{sh,c}, selftest_board)
#   make cosim-axi-full  the cosim-full matrix through the shell, fixed latency (COSIM_IMAGES, 4);
#                        a prerequisite of cosim-full unless COSIM_FULL_AXI=0
# HostQDepth is deep enough for the longest layer program of fres20/mbv2t, and on a v2 config for
# the whole network's program (the driver preloads it all before run, so the queues never starve at
# AXI4-Lite speed); --assert keeps the AXI master's
# protocol assertions on. One build at a time per config (flock), as for the SystemC simulators.
SIM_AXI_B         := $(BUILD)/sim_axi
COSIM_AXI_OUT     := $(BUILD)/cosim_axi
COSIM_AXI_QDEPTH  ?= 4096
# a v2 config pushes the whole network's program before its one start: mbv2t on tiny_v2 has 152,203
# fetch instructions (docs/whole_network.md §12 used the same depth)
COSIM_AXI_QDEPTH_V2 ?= 262144
axi_qdepth = $(if $(shell grep -Eq '^ *window_bytes: *[1-9]' configs/hw/$(1).yaml && echo v2),$(COSIM_AXI_QDEPTH_V2),$(COSIM_AXI_QDEPTH))
COSIM_AXI_ARGS    ?=
COSIM_FULL_AXI    ?= 1
SIM_AXI_TBH       := tests/hw/bqa_axi_mem.h tests/hw/bqa_axi_shell.h tests/hw/bqa_tb.h

$(SIM_AXI_B)/%/hw.yaml: configs/hw/%.yaml
	@mkdir -p $(dir $@)
	@if grep -q '^ *interface:' $<; then echo "$<: sets memory.interface; cosim-axi adds 'interface: axi' itself: remove the key"; exit 1; fi
	sed '/^memory:/a\  interface: axi         # added by sim/sim.mk for the AXI shell co-simulation' $< > $@.tmp && mv -f $@.tmp $@
$(SIM_AXI_B)/%/gen/hw_params.svh $(SIM_AXI_B)/%/gen/hw_params.h: $(SIM_AXI_B)/%/hw.yaml $(BUILD)/hwgen
	@mkdir -p $(SIM_AXI_B)/$*/gen
	$(BUILD)/hwgen $< --svh $(SIM_AXI_B)/$*/gen/hw_params.svh --h $(SIM_AXI_B)/$*/gen/hw_params.h
$(SIM_AXI_B)/%/libbqdrv.a: $(SIM_DRV_SRCS) $(SIM_HDRS) $(wildcard sw/*/*.h hw_model/*.h) $(SIM_AXI_B)/%/gen/hw_params.h
	@mkdir -p $(SIM_AXI_B)/$*/obj
	@flock $(SIM_AXI_B)/$*/.lock sh -c 'for f in $(SIM_DRV_SRCS); do \
	  $(CC) $(CFLAGS) $(PKG_CFLAGS) -Isim -I$(SIM_AXI_B)/$*/gen -c $$f -o $(SIM_AXI_B)/$*/obj/$$(basename $$f .c).o || exit 1; done; \
	  rm -f $@.tmp; ar rcs $@.tmp $(patsubst sim/%.c,$(SIM_AXI_B)/$*/obj/%.o,$(SIM_DRV_SRCS)) && mv -f $@.tmp $@'
$(SIM_AXI_B)/%/cosim_axi: $(HW_SV) sim/cosim_axi_main.cpp $(SIM_HDRS) $(SIM_AXI_TBH) $(SIM_AXI_B)/%/libbqdrv.a \
                          $(BUILD)/libbrecq.a $(SIM_AXI_B)/%/gen/hw_params.svh
	@mkdir -p $(SIM_AXI_B)/$*/v; flock $(SIM_AXI_B)/$*/.lock sh -c 'rm -f $(SIM_AXI_B)/$*/v/cosim_axi_sim && \
	nice -n 10 verilator --cc --exe --build --assert -Wall -Wno-fatal -j 2 --x-assign fast --x-initial fast \
	  -MAKEFLAGS "OPT_FAST=-O3 OPT_GLOBAL=-O2" -Mdir $(SIM_AXI_B)/$*/v --top-module bqa_axi_top \
	  -GHostQDepth=$(call axi_qdepth,$*) -Ihw -I$(SIM_AXI_B)/$*/gen \
	  -CFLAGS "-std=c++17 -I$(CURDIR)/sim -I$(CURDIR)/tests/hw -I$(CURDIR)/$(SIM_AXI_B)/$*/gen" \
	  -LDFLAGS "$(CURDIR)/$(SIM_AXI_B)/$*/libbqdrv.a $(CURDIR)/$(BUILD)/libbrecq.a $(PKG_LIBS)" \
	  -o cosim_axi_sim $(HW_SV) $(CURDIR)/sim/cosim_axi_main.cpp > $(SIM_AXI_B)/$*/build.log 2>&1 \
	  && cp $(SIM_AXI_B)/$*/v/cosim_axi_sim $@.tmp && mv -f $@.tmp $@' \
	  || { tail -40 $(SIM_AXI_B)/$*/build.log; exit 1; }

# one run through the shell: $(1) hw, $(2) quantized model, $(3) out dir, $(4) images, $(5) name
cosim_axi_run = mkdir -p $(3) && rm -f $(3)/cosim_report.json && \
  nice -n $(COSIM_NICE) $(SIM_AXI_B)/$(1)/cosim_axi --hw $(SIM_AXI_B)/$(1)/hw.yaml --qmodel $(2) --images $(4) \
  --out $(3) --name $(5) --no-trace $(COSIM_AXI_ARGS) > $(3)/cosim.log 2>&1; rc=$$?; tail -3 $(3)/cosim.log; \
  if [ ! -f $(3)/cosim_report.json ]; then echo "cosim-axi: $(3)/cosim_report.json missing"; rc=1; fi

.PHONY: cosim-axi cosim-axi-full test-cosim-axi
cosim-axi: $(foreach h,$(HW),$(SIM_AXI_B)/$(h)/cosim_axi $(SIM_AXI_B)/$(h)/hw.yaml) $(COSIM_BQM)
	@$(MAKE) --no-print-directory $(COSIM_Q) MODEL=$(MODEL) QUANT=$(QUANT) BITS=$(BITS)
	@fail=0; runs=""; for h in $(HW); do \
	  d=$(COSIM_AXI_OUT)/$(COSIM_TAG)_$$h; $(call cosim_axi_run,$$h,$(COSIM_Q),$$d,$(COSIM_IMAGES),$(COSIM_TAG)); \
	  [ $$rc = 0 ] || fail=1; runs="$$runs $$d"; done; \
	  sh sim/cosim_merge.sh $(COSIM_AXI_OUT) $$runs || fail=1; \
	  echo "cosim-axi: report $(COSIM_AXI_OUT)/cosim_report.md"; exit $$fail

cosim-axi-full: FULL_BODY = d=$(COSIM_AXI_OUT)/full/$${tag}_$$h; $(call cosim_axi_run,$$h,$(COSIM_OUT)/models/$$tag.bqq,$$d,$(COSIM_IMAGES),$$tag); \
  [ $$rc = 0 ] || fail=1; runs="$$runs $$d"
cosim-axi-full: $(foreach h,$(COSIM_FULL_HW),$(SIM_AXI_B)/$(h)/cosim_axi $(SIM_AXI_B)/$(h)/hw.yaml)
	@fail=0; runs=""; $(cosim_full_loop); \
	  sh sim/cosim_merge.sh $(COSIM_AXI_OUT)/full $$runs || fail=1; \
	  echo "cosim-axi-full: report $(COSIM_AXI_OUT)/full/cosim_report.md"; exit $$fail
ifneq ($(COSIM_FULL_AXI),0)
cosim-full: cosim-axi-full
endif

# the register protocol against a fake bus (preload, streaming, BASE, time-out), under ASan+UBSan
$(ASAN)/sim/test_acc_mmio: tests/cosim/test_acc_mmio.c sim/bq_acc_mmio.c sim/bq_acc_mmio.h sim/bq_acc.h \
                           $(BUILD)/gen/tiny/hw_params.h tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) -Isim -Itests/unit -I$(BUILD)/gen/tiny -o $@ tests/cosim/test_acc_mmio.c sim/bq_acc_mmio.c -lcmocka
test-cosim-axi: $(SIM_AXI_B)/tiny/cosim_axi $(SIM_AXI_B)/tiny/hw.yaml $(ASAN)/sim/test_acc_mmio \
                $(SIM_B)/tiny/selftest_board $(ASAN)/sim/selftest_board $(ASAN)/sim/test_selftest $(BUILD)/brecq
	@$(MAKE) --no-print-directory MODEL=fres20 QUANT=rtn_w4a4 $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq
	@$(ASAN)/sim/test_acc_mmio
	@$(ASAN)/sim/test_selftest
	@sh tests/cosim/test_cosim_axi.sh $(SIM_AXI_B)/tiny/cosim_axi $(SIM_AXI_B)/tiny/hw.yaml \
	  $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq $(COSIM_AXI_OUT)/test
	@sh tests/cosim/test_selftest.sh $(SIM_AXI_B)/tiny/cosim_axi $(SIM_AXI_B)/tiny/hw.yaml \
	  $(COSIM_OUT)/models/fres20_rtn_w4a4.bqq $(COSIM_AXI_OUT)/selftest $(SIM_B)/tiny/selftest_board $(ASAN)/sim/selftest_board

TEST_TARGETS += test-cosim-axi
CLEAN_DIRS   += $(SIM_AXI_B) $(COSIM_AXI_OUT)
.PRECIOUS: $(SIM_AXI_B)/%/hw.yaml $(SIM_AXI_B)/%/gen/hw_params.h $(SIM_AXI_B)/%/gen/hw_params.svh $(SIM_AXI_B)/%/libbqdrv.a $(SIM_AXI_B)/%/cosim_axi
