# tests/tests.mk — engine benchmark (make bench) and CLI bad-input tests (make test).
#   make bench-engine     forward / forward+backward img/s of both models, both conv paths, sgemm
#   make bench-conv       fwd / dX / dW ms of every fres20+mbv2t conv geometry: direct, im2col, dnnl
#   make test-cli         bad input to every command: one-line errors, exit codes (make test)
#   make test-results-sh  tests/results/results.sh bookkeeping with a stand-in binary (make test)
#   make test-bad-inputs  the bad-input catalogue (docs/reliability.md) on the ASan+UBSan build (make test)
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
test-cli: $(ASAN)/brecq $(BUILD)/brecq
	@bash tests/cli/test_cli.sh $(ASAN)/brecq $(BUILD)/brecq
TEST_TARGETS += test-cli
# tests/results/results.sh bookkeeping (workers, locks, reruns, engine bumps) with a stand-in binary
.PHONY: test-results-sh
test-results-sh:
	@bash tests/results/test_results_sh.sh
TEST_TARGETS += test-results-sh
# the bad-input catalogue: each case corrupts one field/file/flag and must fail cleanly
$(BUILD)/bad_file: tests/cli/bad_file.c
	$(CC) $(CFLAGS) -o $@ $< -lz
.PHONY: test-bad-inputs
test-bad-inputs: $(ASAN)/brecq $(BUILD)/brecq $(BUILD)/bad_file
	@bash tests/cli/bad_inputs.sh $(ASAN)/brecq $(BUILD)/brecq $(BUILD)/bad_file
TEST_TARGETS += test-bad-inputs
