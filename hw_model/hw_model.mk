# hw_model — accelerator config, scheduler, latency model (library code joins libbrecq through the
# top Makefile's wildcard). This fragment adds:
#   build/hwgen                        config -> RTL/C headers generator (its own main, not in libbrecq)
#   build/gen/<name>/hw_params.{svh,h} generated for every configs/hw/<name>.yaml
#   build/gen/bqa_pkg.sv               the RTL's ISA package, from the C field table of hw_model/isa.c
#                                      (first in HW_SV, hw/hw.mk); build/gen/bqa_isa_probe.sv its test
#   make test-hwmodel       generator smoke test on every shipped config and the ISA package
#   make test-hwmodel-xref  scheduler programs vs the RTL timing reference, 120 layers (make test)
#   make bench-hwmodel      cost-table build time and scores/s -> build/bench/hwmodel.json

HW_CONFIGS   := $(wildcard configs/hw/*.yaml)
HW_GEN_SVH   := $(patsubst configs/hw/%.yaml,$(BUILD)/gen/%/hw_params.svh,$(HW_CONFIGS))

$(BUILD)/hwgen: hw_model/tools/hwgen.c hw_model/hwcfg.c hw_model/hwcfg.h hw_model/isa.c hw_model/isa.h hw_model/hwsched.h \
                sw/core/errmsg.c sw/core/errmsg.h sw/core/yamldoc.c sw/core/yamldoc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ hw_model/tools/hwgen.c hw_model/hwcfg.c hw_model/isa.c sw/core/errmsg.c sw/core/yamldoc.c $(PKG_LIBS)

# the ISA package and its probe (configuration-independent)
$(BUILD)/gen/bqa_pkg.sv $(BUILD)/gen/bqa_isa_probe.sv &: $(BUILD)/hwgen
	@mkdir -p $(dir $@)
	$(BUILD)/hwgen --pkg $(BUILD)/gen/bqa_pkg.sv --isa-probe $(BUILD)/gen/bqa_isa_probe.sv

$(BUILD)/gen/%/hw_params.svh $(BUILD)/gen/%/hw_params.h: configs/hw/%.yaml $(BUILD)/hwgen
	@mkdir -p $(dir $@)
	$(BUILD)/hwgen $< --svh $(BUILD)/gen/$*/hw_params.svh --h $(BUILD)/gen/$*/hw_params.h

.PHONY: hwgen-all test-hwmodel bench-hwmodel
hwgen-all: $(HW_GEN_SVH) $(BUILD)/gen/bqa_pkg.sv

# Generator checks: every shipped config generates; a broken config fails with file:line:col.
test-hwmodel: $(HW_GEN_SVH) $(BUILD)/gen/bqa_pkg.sv
	@mkdir -p $(BUILD)/test-hwmodel
	@printf 'name: bad\nclock_mhz: 50\narray:\n  dm: 4\n  dn: 4\n  dk: 30\n' > $(BUILD)/test-hwmodel/bad.yaml
	@if $(BUILD)/hwgen $(BUILD)/test-hwmodel/bad.yaml --svh $(BUILD)/test-hwmodel/bad.svh 2> $(BUILD)/test-hwmodel/bad.err; then \
	  echo "test-hwmodel: FAILED (hwgen accepted dk: 30)"; exit 1; fi
	@grep -q "bad.yaml:6:7: 'array.dk' must be a power of two" $(BUILD)/test-hwmodel/bad.err || \
	  { echo "test-hwmodel: FAILED, unexpected error:"; cat $(BUILD)/test-hwmodel/bad.err; exit 1; }
	@for f in $(HW_GEN_SVH); do grep -q '`define BQ_HW_CONFIG_HASH' $$f || { echo "test-hwmodel: FAILED ($$f)"; exit 1; }; done
	@for t in head_t fetch_instr_t fetch_win_t fetch_setup_t exec_instr_t result_instr_t result_codes_t result_setup_t op_e target_e; do \
	  grep -q "} $$t;" $(BUILD)/gen/bqa_pkg.sv || { echo "test-hwmodel: FAILED (bqa_pkg.sv lacks $$t)"; exit 1; }; done
	@# the v2 keys reach the RTL: tiny with window_bytes/block_channels set generates the two defines,
	@# and bqa_top elaborated from that header alone (no -G) is the v2 build (lint-clean)
	@mkdir -p $(BUILD)/test-hwmodel/tiny_v2
	@sed -e 's/^  # window_bytes:/  window_bytes:/' -e 's/^  # block_channels:/  block_channels:/' configs/hw/tiny.yaml > $(BUILD)/test-hwmodel/tiny_v2.yaml
	@$(BUILD)/hwgen $(BUILD)/test-hwmodel/tiny_v2.yaml --svh $(BUILD)/test-hwmodel/tiny_v2/hw_params.svh
	@grep -qE '`define BQ_HW_WINDOW_BYTES +2048 ' $(BUILD)/test-hwmodel/tiny_v2/hw_params.svh && \
	  grep -qE '`define BQ_HW_BLOCK_CHANNELS +256 ' $(BUILD)/test-hwmodel/tiny_v2/hw_params.svh || \
	  { echo "test-hwmodel: FAILED (the v2 keys of tiny_v2.yaml are not in its hw_params.svh)"; exit 1; }
	@grep -qE '`define BQ_HW_WINDOW_BYTES +0 ' $(BUILD)/gen/tiny/hw_params.svh || \
	  { echo "test-hwmodel: FAILED (tiny's hw_params.svh should have BQ_HW_WINDOW_BYTES 0)"; exit 1; }
	@if command -v verilator > /dev/null; then \
	  verilator --lint-only -Wall -Ihw -I$(BUILD)/test-hwmodel/tiny_v2 $(HW_SV) --top-module bqa_top || \
	  { echo "test-hwmodel: FAILED (bqa_top from the tiny_v2 header)"; exit 1; }; fi
	@echo "test-hwmodel: passed ($(words $(HW_CONFIGS)) configs generated, bad config rejected, ISA package generated, v2 keys reach bqa_top)"

TEST_TARGETS  += test-hwmodel

# Benchmark: cost-table build time and allocation scores/s for fres20/mbv2t-shaped layer lists.
# Built straight from hw_model/*.c so it does not depend on the rest of libbrecq.
HWM_SRCS := $(wildcard hw_model/*.c)
# the sw/ helpers the hw_model tools link with (error line, YAML loader, thread pool)
HWM_SW_C := sw/core/errmsg.c sw/core/yamldoc.c sw/core/parallel.c
HWM_HDRS := $(wildcard hw_model/*.h)
$(BUILD)/bench_hwmodel: tests/bench/bench_hwmodel.c tests/bench/bench_util.h $(HWM_SRCS) $(HWM_SW_C) $(HWM_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ tests/bench/bench_hwmodel.c $(HWM_SRCS) $(HWM_SW_C) $(PKG_LIBS)

bench-hwmodel: $(BUILD)/bench_hwmodel
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench_hwmodel configs/hw/tiny.yaml configs/hw/edge.yaml --json $(BUILD)/bench/hwmodel.json

BENCH_TARGETS += bench-hwmodel

# Cross-check of the latency model against the RTL helper's timing reference (C++, header-only,
# tests/hw/bqa_timing_ref.h); skipped with a message when that reference is not in the tree.
HWM_XREF_REF := tests/hw/bqa_timing_ref.h
# the hw_model sources plus the two sw/ helpers they use (error line, YAML loader)
HWM_XREF_C := hw_model/hwcfg.c hw_model/hwlayer.c hw_model/hwsched.c hw_model/latency.c hw_model/isa.c \
              hw_model/codes.c \
              sw/core/errmsg.c sw/core/yamldoc.c
$(BUILD)/xref_timing: tests/hw_model/xref_timing.cpp $(HWM_XREF_C) $(HWM_HDRS) sw/core/errmsg.h sw/core/yamldoc.h
	@mkdir -p $(BUILD)/obj/xref
	@for f in $(HWM_XREF_C); do \
	  $(CC) $(CFLAGS) $(PKG_CFLAGS) -c $$f -o $(BUILD)/obj/xref/$$(basename $$f .c).o || exit 1; done
	$(CXX) -std=c++17 -O2 -Wall -Wextra -Werror -iquote hw_model -Itests/hw -isystem /usr/share/verilator/include \
	  -o $@ tests/hw_model/xref_timing.cpp $(patsubst %.c,$(BUILD)/obj/xref/%.o,$(notdir $(HWM_XREF_C))) $(PKG_LIBS)

.PHONY: test-hwmodel-xref
test-hwmodel-xref:
	@if [ -f $(HWM_XREF_REF) ]; then $(MAKE) --no-print-directory $(BUILD)/xref_timing && \
	  $(BUILD)/xref_timing configs/hw/tiny.yaml configs/hw/edge.yaml; \
	else echo "test-hwmodel-xref: skipped ($(HWM_XREF_REF) not present)"; fi
TEST_TARGETS += test-hwmodel-xref
