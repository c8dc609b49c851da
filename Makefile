# brecq-hw — top-level build.
#
#   make            build the library and the `brecq` CLI (build/brecq)
#   make test       everything under -Werror, unit tests under ASan+UBSan, then each part's tests
#   make demo       the main job on the embedded default (README)
#   make bench      benchmarks: tables on stdout, JSON in build/bench/ (+ a 21-min BRECQ run; BENCH_FULL=0 skips it)
#   make deps       install the Debian packages the project needs (as root), or print the line
#
# Parts add themselves through `<dir>/*.mk` fragments, which append to:
#   LIB_SRCS (C sources of libbrecq), TEST_TARGETS, BENCH_TARGETS, LINT_TARGETS, CLEAN_DIRS.

ifeq ($(origin CC),default)
CC := gcc
endif
OPT      ?= -O2 -march=native
CSTD     := -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L
INCS     := -iquote sw -iquote hw_model -iquote build/gen
PKGS     := yaml-0.1 openblas zlib libprotobuf-c libpng libjpeg
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldnnl -lgomp -lm -lpthread
CFLAGS   := $(CSTD) $(OPT) $(INCS)
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_SAN := $(CSTD) -O1 -g $(SAN) $(INCS)

BUILD    := build
ASAN     := build/asan

# oneDNN's OpenMP threads must not spin between calls on a 2-core machine (docs/onednn.md); the
# brecq tool sets this itself, the benchmarks and test programs get it from here.
OMP_WAIT_POLICY ?= passive
export OMP_WAIT_POLICY

# Debian packages the project needs (build, run and test). `make deps` installs what is missing.
DEB_PKGS := build-essential pkg-config libopenblas-dev libyaml-dev zlib1g-dev dataset-fashion-mnist \
            libcmocka-dev verilator libsystemc-dev protobuf-c-compiler libprotobuf-c-dev \
            libonnx-dev libonnx-testdata yosys gnuplot-nox clang libclang-rt-14-dev libdnnl-dev \
            libpng-dev libjpeg62-turbo-dev openmpi-bin libopenmpi-dev

# the library: every stage folder of sw/ (not sw/cli/, the command-line front end) and hw_model/
SW_STAGES := core nn quant lower search io flow dse
LIB_SRCS := $(foreach d,$(SW_STAGES),$(wildcard sw/$(d)/*.c)) $(wildcard hw_model/*.c)
TEST_TARGETS :=
BENCH_TARGETS :=
LINT_TARGETS :=
CLEAN_DIRS :=
GEN_HEADERS :=

.PHONY: all deps deps-check test unit-test demo bench lint clean help
all: deps-check $(BUILD)/brecq

help:
	@sed -n '2,7p' Makefile
	@echo "# Targets of the parts (first line of each; the full text is in the named .mk file):"
	@for f in $(sort $(wildcard */*.mk */*/*.mk)); do grep -h '^#  *make ' $$f | sed "s|\$$|   [$$f]|"; done

include $(sort $(wildcard */*.mk */*/*.mk))

LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB_SOBJS := $(patsubst %.c,$(ASAN)/obj/%.o,$(LIB_SRCS))

$(BUILD)/obj/%.o: %.c $(GEN_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
$(ASAN)/obj/%.o: %.c $(GEN_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libbrecq.a: $(LIB_OBJS)
	@rm -f $@; ar rcs $@ $^
$(ASAN)/libbrecq.a: $(LIB_SOBJS)
	@rm -f $@; ar rcs $@ $^

CLI_SRCS := $(wildcard sw/cli/*.c)
$(BUILD)/brecq: $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS)) $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)
$(ASAN)/brecq: $(patsubst %.c,$(ASAN)/obj/%.o,$(CLI_SRCS)) $(ASAN)/libbrecq.a
	$(CC) $(CFLAGS_SAN) -o $@ $^ $(PKG_LIBS)

# ---- unit tests (cmocka), each tests/unit/<stage>/test_*.c is one executable, run under ASan+UBSan ----
# tests/unit/ mirrors sw/ (one folder per stage, plus hw_model/).
UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN)/tests/%,$(UNIT_SRCS))
$(ASAN)/tests/%: tests/unit/%.c $(ASAN)/libbrecq.a tests/unit/testutil.h tests/unit/export_fixture.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(ASAN)/libbrecq.a $(PKG_LIBS) -lcmocka

unit-test: deps-check $(UNIT_BINS) $(ASAN)/brecq $(BUILD)/brecq
	@bash tests/run_unit.sh $(UNIT_BINS)

# make test: build everything the tests use at -j2 first (so the two lanes never build the same
# file at once), then run the test groups in two lanes side by side (tests/run_lanes.sh; the lanes
# hold the same groups as before, only the order changed). The hw lane takes the Verilator and
# whole-tree groups, the sw lane the unit tests and the CLI groups (and test-results-sh, 190 s: on a
# clean clone at load ~4 the hw lane took 1109 s with it, the sw lane 803 s; 2026-12-08). TEST_JOBS=1 runs the lanes one
# after the other. `make test-serial` is the old one-after-the-other form of the same groups.
TEST_JOBS   ?= 2
TEST_LANE_HW = $(filter test-hw% test-cosim% test-dse-acc test-dse-synth test-data-example test-flow,$(TEST_TARGETS))
TEST_LANE_SW = unit-test $(filter-out $(TEST_LANE_HW),$(TEST_TARGETS))
.PHONY: test-build test-serial
test: deps-check
	@$(MAKE) --no-print-directory -j2 test-build
	@bash tests/run_lanes.sh "$(MAKE)" "$(TEST_JOBS)" "$(TEST_LANE_SW)" "$(TEST_LANE_HW)"
	@echo "make test: all test groups passed"
test-build: all $(UNIT_BINS) $(ASAN)/brecq hwgen-all
test-serial: deps-check all unit-test $(TEST_TARGETS)
	@echo "make test-serial: all test groups passed"

bench: deps-check all $(BENCH_TARGETS)

# the README's main command: the default flow (fres20, Fashion-MNIST, edge) -> build/demo/report.md.
# It builds everything the flow runs, the simulator of the flow's accelerator (its `hw:` key, a
# configs/hw/<name>.yaml) included. FLOW=configs/flows/smoke.yaml runs another flow the same way.
FLOW    ?= configs/flows/default.yaml
FLOW_HW  = $(shell sed -n 's|^hw: *configs/hw/\([A-Za-z0-9_-]*\)\.yaml.*|\1|p' $(FLOW) 2>/dev/null)
demo: deps-check $(BUILD)/brecq
	@test -f $(FLOW) || { echo "make demo: FLOW=$(FLOW): no such file"; exit 2; }
	@test -n "$(FLOW_HW)" || { echo "make demo: $(FLOW): its 'hw:' key must name a configs/hw/<name>.yaml"; exit 2; }
	@$(MAKE) --no-print-directory $(SIM_B)/$(FLOW_HW)/cosim
	@start=$$(date +%s); nice -n 10 $(BUILD)/brecq run $(FLOW) && \
	  echo "demo: report $$(sed -n 's|^out: *\([^ #]*\).*|\1|p' $(FLOW))/report.md, wall $$(( $$(date +%s) - start )) s"

lint: $(LINT_TARGETS)

# ---- dependencies ----
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "deps: missing packages; run as root:"; echo "  apt-get install -y $$missing"; exit 1; fi
# deps-check is cheap: it only runs `make deps` when a package is missing.
deps-check:
	@for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || { $(MAKE) --no-print-directory deps; break; }; done

clean:
	rm -rf $(BUILD) $(CLEAN_DIRS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
