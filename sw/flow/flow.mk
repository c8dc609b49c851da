# sw/flow/flow.mk — `brecq run` flows (issue 8; docs/flow.md).
#   make demo        (top Makefile) configs/flows/default.yaml -> build/demo/report.md; FLOW=other.yaml
#   make mixed       the acceptance table: configs/flows/mixed_fres20.yaml + mixed_mbv2t.yaml
#                    (3 budgets each, searched vs best uniform, both BRECQ, McNemar) ->
#                    docs/mixed_precision.json; long, resumable (rerun continues), run it niced
#   make test-flow   `make demo FLOW=configs/flows/smoke.yaml` in a fresh copy of the tree with nothing
#                    built (the main command's own code path from a clean state; every step, cosim
#                    included, must run and pass), then a rerun that must skip every step (make test)

.PHONY: mixed test-flow

mixed: $(BUILD)/brecq
	nice -n 10 $(BUILD)/brecq run configs/flows/mixed_fres20.yaml configs/flows/mixed_mbv2t.yaml \
	  --mp-json docs/mixed_precision.json

# test-flow: the README's main command itself (`make demo`), with the smoke flow, in a fresh copy of
# the tree (the files git tracks or would track, no build/): everything is built from nothing, as on
# a fresh clone. Every step must run, cosim included; a rerun must then skip every finished step.
FLOW_TS := $(BUILD)/test-flow
test-flow:
	@rm -rf $(FLOW_TS) && mkdir -p $(FLOW_TS)/tree
	@git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"' | \
	  tar -cf - -T - | tar -xf - -C $(FLOW_TS)/tree
	@test ! -e $(FLOW_TS)/tree/build || { echo "test-flow: FAILED (the copy has a build/ folder)"; exit 1; }
	@cd $(FLOW_TS)/tree && $(MAKE) --no-print-directory demo FLOW=configs/flows/smoke.yaml \
	  > ../run1.out 2> ../run1.err || \
	  { echo "test-flow: FAILED (make demo FLOW=configs/flows/smoke.yaml on a fresh copy)"; \
	    tail -20 $(FLOW_TS)/run1.out $(FLOW_TS)/run1.err; exit 1; }
	@for f in report.md sensitivity.json latency/latency.json mixed_vs_uniform.json \
	  search/mixed_0.json search/mixed_0_bits.yaml eval/mixed_0.json export/manifest.json \
	  cosim/cosim_report.json; do \
	  [ -s $(FLOW_TS)/tree/build/flow-smoke/$$f ] || { echo "test-flow: FAILED (missing $$f)"; exit 1; }; done
	@grep -q "^cosim: passed on 1 images" $(FLOW_TS)/tree/build/flow-smoke/report.md || \
	  { echo "test-flow: FAILED (cosim did not pass:"; grep "^cosim:" $(FLOW_TS)/tree/build/flow-smoke/report.md; exit 1; }
	@if grep -n "not run\|FAILED" $(FLOW_TS)/tree/build/flow-smoke/report.md; then \
	  echo "test-flow: FAILED (a step of the report above was not run)"; exit 1; fi
	@cd $(FLOW_TS)/tree && $(MAKE) --no-print-directory demo FLOW=configs/flows/smoke.yaml \
	  > ../run2.out 2> ../run2.err || \
	  { echo "test-flow: FAILED (rerun)"; tail -20 $(FLOW_TS)/run2.err; exit 1; }
	@grep -q "0 measured" $(FLOW_TS)/run2.err && grep -q "skipped" $(FLOW_TS)/run2.err && \
	  grep -q "integer evaluation cached" $(FLOW_TS)/run2.err && grep -q "cosim: passed (cached" \
	  $(FLOW_TS)/tree/build/flow-smoke/report.md || \
	  { echo "test-flow: FAILED (rerun did not resume from the finished steps)"; cat $(FLOW_TS)/run2.err; exit 1; }
	@rm -rf $(FLOW_TS)/tree/build/obj $(FLOW_TS)/tree/build/sim
	@echo "test-flow: passed (make demo FLOW=configs/flows/smoke.yaml on a fresh copy, every step incl. cosim; rerun skipped every finished step)"
TEST_TARGETS += test-flow
