# tests/results/results.mk — the BRECQ engine's benchmark and result table (issue 4).
#
#   make bench-recon   ms per reconstruction iteration for every fres20 unit at batch 32, the GFLOP/s
#                      that is, cblas_sgemm GFLOP/s of the same run, estimated full W4A4 wall time,
#                      then the full default W4A4 reconstruction itself on both cores (its wall time
#                      and peak RSS: ~25 min; BENCH_FULL=0 skips it); JSON in
#                      build/bench/recon.json. Part of `make bench`. Run it on an otherwise idle
#                      machine (`make results-stop` first if `make results` is running): it prints
#                      the load average before and after.
#   make results       docs/results.md + docs/results.json: every cell of the accuracy table (hours;
#                      runs niced, caches finished cells, resumes killed ones). Run it in the
#                      background: `nohup make results > build/results.log 2>&1 &`.
#   make results-render  only re-render the docs from the finished cells (+ the paired McNemar tests).
#   make results-stop    a running `make results` starts no new cell (running cells finish and are
#                        recorded): frees the machine for a benchmark without losing work
#   make results-status  which cells are done, running (with their last progress line), stale, waiting;
#                        the hours of work left (finished cells' median times)

$(BUILD)/bench_recon: tests/bench/bench_recon.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)

.PHONY: bench-recon results results-render results-status results-stop
BENCH_FULL ?= 1
bench-recon: $(BUILD)/bench_recon
	@mkdir -p $(BUILD)/bench
	BENCH_FULL=$(BENCH_FULL) $(BUILD)/bench_recon $(BUILD)/bench/recon.json
BENCH_TARGETS += bench-recon

# The script runs from a private copy: bash reads a script while it executes it, so editing
# tests/results/results.sh during a multi-hour run must not change the running one.
RESULTS_DIR ?= build/results
export RESULTS_DIR
results: $(BUILD)/brecq
	@mkdir -p $(RESULTS_DIR)
	cp tests/results/results.sh $(RESULTS_DIR)/results.sh.run
	nice -n 10 bash $(RESULTS_DIR)/results.sh.run
results-render: $(BUILD)/brecq
	bash tests/results/results.sh --only-render
results-status:
	@bash tests/results/results.sh --status
results-stop:
	@bash tests/results/results.sh --stop
# build/results is the multi-session cache of finished cells: `make clean` keeps it (rm -rf it by hand)

# make budget: top-1 against reconstruction iterations per unit (issue 19; tests/results/budget.sh):
# docs/budget.md/.json/.svg. Hours; runs niced, resumes, never recomputes a finished point.
BUDGET_DIR ?= build/budget
export BUDGET_DIR
.PHONY: budget budget-render budget-status budget-stop
budget: $(BUILD)/brecq
	@mkdir -p $(BUDGET_DIR)
	cp tests/results/budget.sh $(BUDGET_DIR)/budget.sh.run
	cp tests/results/results.sh $(BUDGET_DIR)/results.sh
	nice -n 15 bash $(BUDGET_DIR)/budget.sh.run
budget-render:
	bash tests/results/budget.sh --only-render
budget-status:
	@bash tests/results/budget.sh --status
budget-stop:
	@bash tests/results/budget.sh --stop
