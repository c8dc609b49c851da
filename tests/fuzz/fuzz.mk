# tests/fuzz/fuzz.mk — libFuzzer harnesses (clang, ASan+UBSan) for every reader: issue 24 item 4,
# docs/reliability.md "Fuzzing". One harness per reader, seeds in tests/fuzz/corpus/<harness>/.
#
#   make fuzz              every harness FUZZ_SECONDS (600) each, one after another; corpora grow in
#                          build/fuzz/corpus/ (kept: a second run resumes), crashes in build/fuzz/artifacts/
#   make fuzz-long         every harness FUZZ_LONG_SECONDS (3600) each, the same corpora, and each run
#                          appended to docs/fuzz_log.json (hours add up across sessions)
#   make test-fuzz-smoke   (part of make test) replay each committed corpus + FUZZ_SMOKE_SECONDS (3) of fuzzing
# FUZZ_ONLY="bqm npy" restricts any of them to some harnesses.

FUZZ_HARNESSES := onnx bqm bqq export recipe bits flow hw dataset dse idx png jpeg npy npz selftest
FUZZ_ONLY          ?= $(FUZZ_HARNESSES)
FUZZ_SECONDS       ?= 600
FUZZ_LONG_SECONDS  ?= 3600
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_CC            ?= clang
FUZZ_FLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer $(INCS)
CLEAN_DIRS += $(BUILD)/fuzz

# the library once more, instrumented for coverage (fuzzer-no-link) and the sanitizers
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS))
$(BUILD)/fuzz/obj/%.o: %.c $(GEN_HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@
-include $(FUZZ_OBJS:.o=.d)
$(BUILD)/fuzz/libbrecq.a: $(FUZZ_OBJS)
	@rm -f $@; ar rcs $@ $^

# harness binaries: png and jpeg share image_fuzz; npz is npy_fuzz.c built with -DFUZZ_NPZ
FUZZ_BINS := $(sort $(foreach h,$(FUZZ_ONLY),$(BUILD)/fuzz/$(if $(filter png jpeg,$(h)),image,$(h))_fuzz))
FUZZ_HDRS := tests/fuzz/fuzz_util.h tests/fuzz/tiny_model.h
$(BUILD)/fuzz/%_fuzz: tests/fuzz/%_fuzz.c $(FUZZ_HDRS) $(BUILD)/fuzz/libbrecq.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -Wall -Wextra -Werror -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(BUILD)/fuzz/libbrecq.a $(PKG_LIBS)
$(BUILD)/fuzz/npz_fuzz: tests/fuzz/npy_fuzz.c $(FUZZ_HDRS) $(BUILD)/fuzz/libbrecq.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -Wall -Wextra -Werror -DFUZZ_NPZ -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(BUILD)/fuzz/libbrecq.a $(PKG_LIBS)
# the self-test driver's readers are not in the library (a board links them without it): compiled in
FUZZ_ST_SRCS := sim/bq_json.c sim/bq_selftest_pkg.c
$(BUILD)/fuzz/selftest_fuzz: tests/fuzz/selftest_fuzz.c $(FUZZ_ST_SRCS) sim/bq_json.h sim/bq_selftest_pkg.h $(FUZZ_HDRS) $(BUILD)/fuzz/libbrecq.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -Isim -Wall -Wextra -Werror -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_ST_SRCS) $(BUILD)/fuzz/libbrecq.a $(PKG_LIBS)

.PHONY: fuzz fuzz-long test-fuzz-smoke fuzz-bins
fuzz-bins: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	nice -n 15 bash tests/fuzz/run_fuzz.sh run $(FUZZ_SECONDS) $(BUILD) $(FUZZ_ONLY)
fuzz-long: $(FUZZ_BINS)
	nice -n 15 bash tests/fuzz/run_fuzz.sh long $(FUZZ_LONG_SECONDS) $(BUILD) $(FUZZ_ONLY)
test-fuzz-smoke: $(FUZZ_BINS)
	bash tests/fuzz/run_fuzz.sh smoke $(FUZZ_SMOKE_SECONDS) $(BUILD) $(FUZZ_ONLY)
TEST_TARGETS += test-fuzz-smoke
