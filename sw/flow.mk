# sw/flow.mk — `brecq run` flows (issue 8; docs/flow.md).
#   make demo        (top Makefile) configs/flows/default.yaml -> build/demo/report.md
#   make demo-flow   the same flow without the dependency check
#   make mixed       the acceptance table: configs/flows/mixed_fres20.yaml + mixed_mbv2t.yaml
#                    (3 budgets each, searched vs best uniform, both BRECQ, McNemar) ->
#                    docs/mixed_precision.json; long, resumable (rerun continues), run it niced
#   make test-flow   configs/flows/smoke.yaml end to end, then a rerun that must skip every step

.PHONY: demo-flow mixed test-flow
demo-flow: $(BUILD)/brecq
	nice -n 10 $(BUILD)/brecq run configs/flows/default.yaml

mixed: $(BUILD)/brecq
	nice -n 10 $(BUILD)/brecq run configs/flows/mixed_fres20.yaml configs/flows/mixed_mbv2t.yaml \
	  --mp-json docs/mixed_precision.json

FLOW_TS := $(BUILD)/test-flow
test-flow: $(BUILD)/brecq
	@mkdir -p $(FLOW_TS)
	@rm -rf build/flow-smoke
	@$(BUILD)/brecq run configs/flows/smoke.yaml > $(FLOW_TS)/run1.out 2> $(FLOW_TS)/run1.err || \
	  { echo "test-flow: FAILED (first run)"; tail -20 $(FLOW_TS)/run1.err; exit 1; }
	@for f in report.md sensitivity.json latency/latency.json mixed_vs_uniform.json \
	  search/mixed_0.json search/mixed_0_bits.yaml eval/mixed_0.json export/manifest.json; do \
	  [ -s build/flow-smoke/$$f ] || { echo "test-flow: FAILED (missing $$f)"; exit 1; }; done
	@grep -q "cosim: " build/flow-smoke/report.md || { echo "test-flow: FAILED (no cosim line)"; exit 1; }
	@$(BUILD)/brecq run configs/flows/smoke.yaml > $(FLOW_TS)/run2.out 2> $(FLOW_TS)/run2.err || \
	  { echo "test-flow: FAILED (rerun)"; tail -20 $(FLOW_TS)/run2.err; exit 1; }
	@grep -q "0 measured" $(FLOW_TS)/run2.err && grep -q "skipped" $(FLOW_TS)/run2.err && \
	  grep -q "integer evaluation cached" $(FLOW_TS)/run2.err || \
	  { echo "test-flow: FAILED (rerun did not resume from the finished steps)"; cat $(FLOW_TS)/run2.err; exit 1; }
	@echo "test-flow: passed (smoke flow end to end, rerun skipped every finished step)"
