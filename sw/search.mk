# sw/search.mk — mixed-precision search: solver benchmark (make bench).
#   bench-search   GA and exact solver on a fres20-sized problem on `edge` -> build/bench/search.json
# The unit tests (tests/unit/test_search.c, test_mcnemar.c, test_plot.c) join `make test` through
# the top Makefile's wildcard.

$(BUILD)/bench_search: tests/bench/bench_search.c $(BUILD)/libbrecq.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)

.PHONY: bench-search
bench-search: $(BUILD)/bench_search
	@mkdir -p $(BUILD)/bench
	$(BUILD)/bench_search configs/hw/edge.yaml $(BUILD)/bench/search.json

BENCH_TARGETS += bench-search
