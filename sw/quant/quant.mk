# sw/quant/quant.mk — quantizers, integer reference, export (issue 3).
#   make test-quant   quantize -> eval --int -> export -> export --check -> corruption caught (make test)

# End-to-end smoke test of the quantization CLI on a barely trained fres20 (a few CPU seconds):
# quantize (rtn W4A4) -> eval --int on 50 images (integer == fake-quant argmax) -> export for tiny ->
# export --check -> a flipped byte must be caught.
.PHONY: test-quant
TQ := $(BUILD)/test-quant
test-quant: $(BUILD)/brecq
	@rm -rf $(TQ) && mkdir -p $(TQ)
	@$(BUILD)/brecq train --arch fres20 --epochs 1 --steps 3 --no-val --threads 1 --out $(TQ)/m.bqm 2> $(TQ)/train.log
	@$(BUILD)/brecq quantize --model $(TQ)/m.bqm --recipe configs/quant/rtn_w4a4.yaml --out $(TQ)/q.bqq \
	  --report $(TQ)/q.json --threads 1 2> $(TQ)/quantize.log
	@$(BUILD)/brecq eval --model $(TQ)/m.bqm --quant $(TQ)/q.bqq --int --limit 50 --threads 1 \
	  --report $(TQ)/eval.json > $(TQ)/eval.log
	@# oneDNN's int8 is exact only with VNNI: capped below it, the int8 layers move to the float
	@# kernel and give the same report (oneDNN's own non-VNNI int8 gives other codes here)
	@ONEDNN_MAX_CPU_ISA=AVX512_CORE $(BUILD)/brecq eval --model $(TQ)/m.bqm --quant $(TQ)/q.bqq --int --limit 50 \
	  --threads 1 --report $(TQ)/eval_novnni.json > /dev/null
	@cmp -s $(TQ)/eval.json $(TQ)/eval_novnni.json || { echo "test-quant: FAILED (eval --int without VNNI differs)"; exit 1; }
	@# 1-LSB float near-ties may flip an argmax of this barely trained net on another CPU: >= 96%
	@sed 's/.*"argmax_agree": \([0-9.]*\).*/\1/' $(TQ)/eval.json | awk '{ exit !($$1 >= 0.96) }' || \
	  { echo "test-quant: FAILED (integer vs fake-quant argmax)"; cat $(TQ)/eval.log; exit 1; }
	@$(BUILD)/brecq export --quant $(TQ)/q.bqq --hw configs/hw/tiny.yaml --out $(TQ)/pkg --tests 1 > /dev/null
	@$(BUILD)/brecq export --check $(TQ)/pkg > $(TQ)/check.log || { echo "test-quant: FAILED (check)"; cat $(TQ)/check.log; exit 1; }
	@b=$$(od -An -tu1 -j100 -N1 $(TQ)/pkg/weights.bin); printf "\\$$(printf %o $$(( b ^ 1 )))" | \
	  dd of=$(TQ)/pkg/weights.bin bs=1 seek=100 conv=notrunc 2> /dev/null
	@if $(BUILD)/brecq export --check $(TQ)/pkg 2> $(TQ)/bad.err > /dev/null; then echo "test-quant: FAILED (corruption not detected)"; exit 1; fi
	@grep -q "weights.bin" $(TQ)/bad.err || { echo "test-quant: FAILED, unexpected error:"; cat $(TQ)/bad.err; exit 1; }
	@if $(BUILD)/brecq quantize --model $(TQ)/m.bqm --recipe $(TQ)/nope.yaml --out $(TQ)/x.bqq 2> /dev/null; then echo "test-quant: FAILED (missing recipe accepted)"; exit 1; fi
	@echo "test-quant: passed (quantize, eval --int, export, check, corruption detected)"

TEST_TARGETS += test-quant
CLEAN_DIRS += $(TQ)

# ---- integer reference speed beside the float eval (make bench; issue 19) ----
#   make bench-intref   fres20 at RTN W2A4, W4A4 and W8A8, mbv2t at W4A4, on 1 and 2 threads: float
#                       eval, fake-quant and integer img/s (all three integer kernels, checked equal)
#                       -> build/bench/intref.json, build/bench/intref_mbv2t.json (5-6 min at load 8)
BENCH_IQ := $(BUILD)/bench/intref
BENCH_IQ_ARGS ?= --images 1000 --reps 5 --threads 1,2
$(BUILD)/bench_intref: tests/bench/bench_intref.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
# one rule per model (a pattern rule with two targets would be one recipe making both)
define BENCH_IQ_RULE
$$(BENCH_IQ)/$(1)_%.bqq: $$(BUILD)/brecq configs/quant/%.yaml
	@mkdir -p $$(dir $$@)
	@$$(BUILD)/brecq quantize --model configs/models/$(1).bqm --recipe configs/quant/$$*.yaml --out $$@ \
	  > $$@.log 2>&1 || { tail -3 $$@.log; exit 1; }
endef
$(foreach m,fres20 mbv2t,$(eval $(call BENCH_IQ_RULE,$(m))))
.PHONY: bench-intref
bench-intref: $(BUILD)/bench_intref $(BENCH_IQ)/fres20_rtn_w2a4.bqq $(BENCH_IQ)/fres20_rtn_w4a4.bqq \
              $(BENCH_IQ)/fres20_rtn_w8a8.bqq $(BENCH_IQ)/mbv2t_rtn_w4a4.bqq
	$(BUILD)/bench_intref configs/models/fres20.bqm $(BENCH_IQ)/fres20_rtn_w2a4.bqq $(BENCH_IQ)/fres20_rtn_w4a4.bqq \
	  $(BENCH_IQ)/fres20_rtn_w8a8.bqq $(BENCH_IQ_ARGS) --json $(BUILD)/bench/intref.json
	$(BUILD)/bench_intref configs/models/mbv2t.bqm $(BENCH_IQ)/mbv2t_rtn_w4a4.bqq $(BENCH_IQ_ARGS) \
	  --json $(BUILD)/bench/intref_mbv2t.json
BENCH_TARGETS += bench-intref

# ---- data-parallel reconstruction on Open MPI (issue 23 item 4, docs/mpi_recon.md) ----
# Only dp_mpi.c includes <mpi.h> (MPI_CFLAGS / MPI_LIBS: sw/dse/dse.mk; the brecq links already
# take libmpi).
$(BUILD)/obj/sw/quant/dp_mpi.o $(ASAN)/obj/sw/quant/dp_mpi.o $(BUILD)/fuzz/obj/sw/quant/dp_mpi.o: PKG_CFLAGS += $(MPI_CFLAGS)
#   make test-mpi-recon   serial, mpirun -np 2 and -np 4 (dp_shards 4) give the same .bqq; refusals
.PHONY: test-mpi-recon
test-mpi-recon: $(BUILD)/brecq
	@MPIRUN="$(MPIRUN)" nice -n 5 bash tests/mpi_recon/test_mpi_recon.sh $(BUILD)/brecq
TEST_TARGETS += test-mpi-recon
#   make bench-mpi-recon  wall time 1 process vs 2 threads vs mpirun -np 2 (same bytes) -> build/bench/mpi_recon.json
MPI_RECON_REPEAT ?= 1
MPI_RECON_ITERS ?= 200
.PHONY: bench-mpi-recon
bench-mpi-recon: $(BUILD)/brecq
	@MPIRUN="$(MPIRUN)" bash tests/mpi_recon/bench_mpi_recon.sh $(BUILD)/brecq $(MPI_RECON_REPEAT) $(MPI_RECON_ITERS)
BENCH_TARGETS += bench-mpi-recon
