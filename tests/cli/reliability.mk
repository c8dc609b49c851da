# tests/cli/reliability.mk — kill-and-resume and allocation-failure tests (docs/reliability.md).
#   make test-kill        SIGKILL train, quantize, search, run and dse >= 20 times each at seeded random moments; results byte-identical
#   make test-kill-short  the same with 3 kills of train and quantize (make test)
#   make test-alloc       fail the N-th allocation for a seeded sample of ALLOC_SAMPLE (20) N along info/eval/quantize/export/run/dse,
#                         and of at most 6 N along train/search/BRECQ and QDrop quantize/eval --int/latency/export --check (make test)
#   make test-alloc-full  ... for every N from 1 to K of each command
KILL_SEED ?= 1
ALLOC_SEED ?= 1
# N values sampled per command in make test (every N: make test-alloc-full); 20 keeps make test near 15 min
ALLOC_SAMPLE ?= 20
.PHONY: test-kill test-kill-short test-alloc test-alloc-full
test-kill: $(BUILD)/brecq
	@nice -n 5 bash tests/cli/kill_resume.sh $(BUILD)/brecq 20 $(KILL_SEED)
test-kill-short: $(BUILD)/brecq
	@nice -n 5 bash tests/cli/kill_resume.sh $(BUILD)/brecq 3 $(KILL_SEED) train quantize
TEST_TARGETS += test-kill-short

# the test build: ASan+UBSan brecq whose own allocations go through tests/cli/alloc_hook.c
ALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=aligned_alloc
$(ASAN)/brecq-allocfail: tests/cli/alloc_hook.c $(patsubst %.c,$(ASAN)/obj/%.o,$(wildcard sw/cli/*.c)) $(ASAN)/libbrecq.a
	$(CC) $(CFLAGS_SAN) $(ALLOC_WRAP) -o $@ $^ $(PKG_LIBS)
test-alloc: $(ASAN)/brecq-allocfail
	@nice -n 5 bash tests/cli/alloc_fail.sh $(ASAN)/brecq-allocfail $(ALLOC_SAMPLE) $(ALLOC_SEED)
test-alloc-full: $(ASAN)/brecq-allocfail
	@nice -n 5 bash tests/cli/alloc_fail.sh $(ASAN)/brecq-allocfail 0 $(ALLOC_SEED)
TEST_TARGETS += test-alloc
