# sw/search/search.mk — mixed-precision search: solver benchmark (make bench).
#   make bench-search   GA and exact solver on a fres20-sized problem on `edge` -> build/bench/search.json
#   make test-search-cli  `brecq search` end to end: infeasible budget, bad unit, cache reuse, a v2
#                         config (whole-network cycles; a window too small refused) (make test)
# The unit tests (tests/unit/search/test_search.c, test_mcnemar.c, test_plot.c) join `make test` through
# the top Makefile's wildcard.

$(BUILD)/bench_search: tests/bench/bench_search.c $(BUILD)/libbrecq.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)

.PHONY: bench-search
bench-search: $(BUILD)/bench_search
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench_search configs/hw/edge.yaml $(BUILD)/bench/search.json

BENCH_TARGETS += bench-search

# `brecq search` command-line checks, through a driver that calls bq_cmd_search directly (so they
# do not depend on the dispatcher's command table): infeasible budget -> exit 2 with the smallest
# feasible budget; malformed budget -> exit 2; a feasible budget runs end to end on small
# candidate sets (sensitivities measured on 4 images of an untrained model: plumbing, not
# accuracy), and a rerun takes every sensitivity from the cache and gives the same allocation.
SEARCH_TS := $(BUILD)/test-search
$(BUILD)/search_cli_driver: tests/search/search_cli_driver.c $(BUILD)/obj/sw/cli/cmd_search.o \
                            $(BUILD)/obj/sw/cli/cli_data.o $(BUILD)/obj/sw/cli/cli_run.o \
                            $(BUILD)/obj/sw/cli/cli.o $(BUILD)/libbrecq.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

.PHONY: test-search-cli
test-search-cli: $(BUILD)/search_cli_driver $(BUILD)/brecq
	@mkdir -p $(SEARCH_TS)
	@$(BUILD)/search_cli_driver mk fres20 $(SEARCH_TS)/fres20.bqm
	@rc=0; $(BUILD)/search_cli_driver search --model $(SEARCH_TS)/fres20.bqm --hw configs/hw/edge.yaml \
	  --budget 0.3x > $(SEARCH_TS)/infeasible.out 2> $(SEARCH_TS)/infeasible.err || rc=$$?; \
	  [ $$rc = 2 ] || { echo "test-search-cli: FAILED (0.3x: exit $$rc, want 2)"; cat $(SEARCH_TS)/infeasible.err; exit 1; }; \
	  grep -Eq "below the all-minimum-bits latency; the smallest feasible budget is [0-9]+ cycles \([0-9.]+ us\)" $(SEARCH_TS)/infeasible.err || \
	  { echo "test-search-cli: FAILED (infeasible message)"; cat $(SEARCH_TS)/infeasible.err; exit 1; }
	@rc=0; $(BUILD)/search_cli_driver search --model $(SEARCH_TS)/fres20.bqm --hw configs/hw/edge.yaml \
	  --budget 12furlongs > /dev/null 2> $(SEARCH_TS)/badunit.err || rc=$$?; \
	  [ $$rc = 2 ] && grep -q "unknown unit 'furlongs'" $(SEARCH_TS)/badunit.err || \
	  { echo "test-search-cli: FAILED (bad unit: exit $$rc)"; cat $(SEARCH_TS)/badunit.err; exit 1; }
	@rm -f $(SEARCH_TS)/bits.yaml $(SEARCH_TS)/report.json $(SEARCH_TS)/sens.cache
	@rc=0; $(BUILD)/search_cli_driver search --model $(SEARCH_TS)/fres20.bqm --hw configs/hw/edge.yaml \
	  --budget 0.6x --wbits 2,4 --abits 2,4 --images 4 --cache $(SEARCH_TS)/sens.cache \
	  --out $(SEARCH_TS)/bits.yaml --report $(SEARCH_TS)/report.json > $(SEARCH_TS)/feasible.out 2> $(SEARCH_TS)/feasible.err || rc=$$?; \
	  [ $$rc = 0 ] && grep -q "W2A2 [0-9]* yes" $(SEARCH_TS)/feasible.out && grep -q "^  exact" $(SEARCH_TS)/feasible.out && \
	  grep -q "measured" $(SEARCH_TS)/feasible.out && grep -q "wbits" $(SEARCH_TS)/bits.yaml && [ -s $(SEARCH_TS)/report.json ] || \
	  { echo "test-search-cli: FAILED (feasible budget: exit $$rc)"; cat $(SEARCH_TS)/feasible.out $(SEARCH_TS)/feasible.err; exit 1; }
	@rc=0; $(BUILD)/search_cli_driver search --model $(SEARCH_TS)/fres20.bqm --hw configs/hw/edge.yaml \
	  --budget 0.6x --wbits 2,4 --abits 2,4 --images 4 --cache $(SEARCH_TS)/sens.cache \
	  --out $(SEARCH_TS)/bits2.yaml > $(SEARCH_TS)/cached.out 2> $(SEARCH_TS)/cached.err || rc=$$?; \
	  [ $$rc = 0 ] && grep -q "0 candidates measured" $(SEARCH_TS)/cached.out && cmp -s $(SEARCH_TS)/bits.yaml $(SEARCH_TS)/bits2.yaml || \
	  { echo "test-search-cli: FAILED (rerun with the cache: exit $$rc)"; cat $(SEARCH_TS)/cached.out $(SEARCH_TS)/cached.err; exit 1; }
	@sed -e 's/^  # window_bytes: 16384 .*/  window_bytes: 16384/' -e 's/^  # block_channels: 512 .*/  block_channels: 512/' \
	  configs/hw/edge.yaml > $(SEARCH_TS)/edge_v2.yaml
	@sed 's/^  window_bytes: 16384/  window_bytes: 2048/' $(SEARCH_TS)/edge_v2.yaml > $(SEARCH_TS)/edge_v2_small.yaml
	@rc=0; $(BUILD)/search_cli_driver search --model $(SEARCH_TS)/fres20.bqm --hw $(SEARCH_TS)/edge_v2.yaml \
	  --budget 0.95x --wbits 2,4 --abits 2,4 --images 4 > $(SEARCH_TS)/v2.out 2> $(SEARCH_TS)/v2.err || rc=$$?; \
	  [ $$rc = 0 ] && grep -q "(ISA v2, whole-network program).*= 695985 cycles" $(SEARCH_TS)/v2.out && grep -q "^  exact" $(SEARCH_TS)/v2.out || \
	  { echo "test-search-cli: FAILED (v2 config: exit $$rc)"; cat $(SEARCH_TS)/v2.out $(SEARCH_TS)/v2.err; exit 1; }
	@rc=0; $(BUILD)/search_cli_driver search --model $(SEARCH_TS)/fres20.bqm --hw $(SEARCH_TS)/edge_v2_small.yaml \
	  --budget 0.95x --images 4 > $(SEARCH_TS)/v2small.out 2> $(SEARCH_TS)/v2small.err || rc=$$?; \
	  [ $$rc = 1 ] && [ ! -s $(SEARCH_TS)/v2small.out ] && [ $$(wc -l < $(SEARCH_TS)/v2small.err) = 1 ] && \
	  grep -q "layer 'gap'.*raise window_bytes to at least 12544" $(SEARCH_TS)/v2small.err || \
	  { echo "test-search-cli: FAILED (v2 window too small: exit $$rc)"; cat $(SEARCH_TS)/v2small.out $(SEARCH_TS)/v2small.err; exit 1; }
	@$(BUILD)/brecq latency --model fres20 --hw configs/hw/edge_v2.yaml > $(SEARCH_TS)/lat_v2.out 2>&1 && \
	  grep -q "^total .* 695985 .* 736222 *0.95 *(one program" $(SEARCH_TS)/lat_v2.out && \
	  grep -q "^gap .* 50790 .* host " $(SEARCH_TS)/lat_v2.out || \
	  { echo "test-search-cli: FAILED (brecq latency on edge_v2 without --v2: not the whole-network program)"; cat $(SEARCH_TS)/lat_v2.out; exit 1; }
	@$(BUILD)/brecq latency --model fres20 --hw configs/hw/edge.yaml > $(SEARCH_TS)/lat_v1.out 2>&1 && \
	  grep -q "^total .* 736222 " $(SEARCH_TS)/lat_v1.out || \
	  { echo "test-search-cli: FAILED (brecq latency on edge: not the v1 per-layer total)"; cat $(SEARCH_TS)/lat_v1.out; exit 1; }
	@echo "test-search-cli: passed (infeasible budget, bad unit, end-to-end search with sensitivities, cache reuse, v2 config: whole-network cycles, window too small refused before any search work; brecq latency: whole network on edge_v2 by default with each layer's v1 cycles beside it, per layer on edge)"

TEST_TARGETS += test-search-cli
