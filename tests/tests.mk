# tests/tests.mk — engine benchmark (make bench) and CLI bad-input tests (make test).
#   make bench-engine     forward / forward+backward img/s of both models, both conv paths, sgemm
#   make bench-conv       fwd / dX / dW ms of every fres20+mbv2t conv geometry: direct, im2col, dnnl
#   make bench-bf16       BRECQ stage A/B ms per iteration of every fres20 unit: direct, dnnl FP32, dnnl BF16
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
# ---- side by side with PyTorch (issue 19 item 5; docs/brecq.md "Side by side with PyTorch") ----
#   make bench-torch      engine vs PyTorch on the same shapes and threads: per-unit stage A/B
#                         ms/iter (fres20, mbv2t), FP training and float/integer eval img/s
#                         -> build/bench/torch_side.json + .md (PyTorch columns skipped without torch)
$(BUILD)/bench_torch_side: tests/bench/bench_torch_side.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
# The PyTorch side runs under Debian's /usr/bin/python3 (python3-torch; a development tool, never a
# build or test dependency): without it the table keeps the engine columns and says so. With it,
# the engine times each unit (bench_torch_side --only) right before PyTorch times the same unit,
# so both halves of a row see the same machine load. Both sides get OMP_WAIT_POLICY=passive
# (spinning OpenMP threads distort any shared-machine timing).
TORCH_PYTHON ?= /usr/bin/python3
.PHONY: bench-torch
bench-torch: $(BUILD)/bench_torch_side $(BENCH_IQ)/fres20_rtn_w4a4.bqq $(BENCH_IQ)/fres20_rtn_w8a8.bqq
	@mkdir -p $(BUILD)/bench
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BUILD)/bench_torch_side --json $(BUILD)/bench/torch_engine.json \
	  $$($(TORCH_PYTHON) -c 'import torch' 2> /dev/null && echo --no-unit-timing) \
	  --int $(BENCH_IQ)/fres20_rtn_w4a4.bqq --int $(BENCH_IQ)/fres20_rtn_w8a8.bqq
	@if command -v $(TORCH_PYTHON) > /dev/null; then \
	  OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(TORCH_PYTHON) tests/bench/torch_side.py $(BUILD)/bench/torch_engine.json \
	    --interleave $(BUILD)/bench_torch_side --out $(BUILD)/bench/torch_side.json --md $(BUILD)/bench/torch_side.md; \
	else echo "bench-torch: no $(TORCH_PYTHON): PyTorch columns skipped; engine numbers in $(BUILD)/bench/torch_engine.json"; fi
BENCH_TARGETS += bench-torch

# the bad-input catalogue: each case corrupts one field/file/flag and must fail cleanly
$(BUILD)/bad_file: tests/cli/bad_file.c
	$(CC) $(CFLAGS) -o $@ $< -lz
.PHONY: test-bad-inputs
test-bad-inputs: $(ASAN)/brecq $(BUILD)/brecq $(BUILD)/bad_file
	@bash tests/cli/bad_inputs.sh $(ASAN)/brecq $(BUILD)/brecq $(BUILD)/bad_file
TEST_TARGETS += test-bad-inputs
