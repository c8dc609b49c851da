# tests/tests.mk — engine benchmark (make bench) and CLI bad-input tests (make test).
#   make bench-engine     forward / forward+backward img/s of both models, both conv paths, sgemm
#   make bench-conv       fwd / dX / dW ms of every fres20+mbv2t conv geometry: direct, im2col, dnnl
#   make bench-bf16       BRECQ stage A/B ms per iteration of every fres20 unit: direct, dnnl FP32, dnnl BF16
#   make test-cli         bad input to every command: one-line errors, exit codes (make test)
#   make test-results-sh  tests/results/results.sh bookkeeping with a stand-in binary (make test)
$(BUILD)/bench_engine: tests/bench/bench_engine.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
.PHONY: bench-engine test-cli
bench-engine: $(BUILD)/bench_engine
	$(BUILD)/bench_engine build/bench/engine.json
BENCH_TARGETS += bench-engine
$(BUILD)/bench_conv: tests/bench/bench_conv.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
.PHONY: bench-conv
# libgomp spins after each parallel region unless told otherwise, which on a shared 2-core machine
# slows oneDNN's 2-thread runs 10-100x (docs/onednn.md): passive unless the caller sets it.
bench-conv: $(BUILD)/bench_conv
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BUILD)/bench_conv build/bench/conv.json
BENCH_TARGETS += bench-conv
$(BUILD)/bench_bf16: tests/bench/bench_bf16.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
.PHONY: bench-bf16
bench-bf16: $(BUILD)/bench_bf16
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BUILD)/bench_bf16 build/bench/bf16.json
BENCH_TARGETS += bench-bf16
test-cli: $(ASAN)/brecq $(BUILD)/brecq
	@bash tests/cli/test_cli.sh $(ASAN)/brecq $(BUILD)/brecq
TEST_TARGETS += test-cli
# tests/results/results.sh bookkeeping (workers, locks, reruns, engine bumps) with a stand-in binary
.PHONY: test-results-sh
test-results-sh:
	@bash tests/results/test_results_sh.sh
TEST_TARGETS += test-results-sh
