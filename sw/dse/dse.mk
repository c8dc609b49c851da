# sw/dse/dse.mk — `brecq dse`: design-space exploration, resumable, on Open MPI (docs/dse.md).
#   make test-dse     a small sweep: serial; killed and resumed (same bytes); mpirun -np 2 (same bytes)
#   make test-dse-acc the accuracy phase (BRECQ + integer top-1): rerun computes nothing, -np 2 same bytes
#   make test-dse-synth the synthesis phase (stand-in for yosys): cached per config, -np 2 same bytes
#   make dse-worked   the worked sweep of docs/dse.md (configs/dse/worked.yaml) -> build/dse/worked/
#   make bench-dse    wall time of a 72-unit sweep serial and on 1, 2, 4 MPI ranks (table + JSON)
# The unit test (tests/unit/dse/test_dse.c: grid expansion, Pareto) joins `make test` through the
# top Makefile's wildcard.

# Open MPI: only dse_mpi.c includes <mpi.h> and only the brecq binaries link libmpi (flags from
# Debian's mpicc wrapper; the unit tests never reference dse_mpi.o, so they do not need it).
MPI_CFLAGS = $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   = $(shell mpicc --showme:link 2>/dev/null)
$(BUILD)/obj/sw/dse/dse_mpi.o $(ASAN)/obj/sw/dse/dse_mpi.o $(BUILD)/fuzz/obj/sw/dse/dse_mpi.o: PKG_CFLAGS += $(MPI_CFLAGS)
# every link of the whole command set (sw/cli/*.o) pulls dse_mpi.o in
$(BUILD)/brecq $(ASAN)/brecq $(ASAN)/brecq-allocfail: PKG_LIBS += $(MPI_LIBS)

# mpirun as root (CI containers) needs these; --oversubscribe lets 4 ranks share 2 cores.
MPIRUN ?= env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe

.PHONY: test-dse dse-worked
test-dse: $(BUILD)/brecq
	@MPIRUN="$(MPIRUN)" bash tests/dse/test_dse.sh $(BUILD)/brecq
TEST_TARGETS += test-dse

# the accuracy phase (BRECQ + integer top-1 per chosen row): configs/dse/small_acc.yaml
.PHONY: test-dse-acc
test-dse-acc: $(BUILD)/brecq
	@MPIRUN="$(MPIRUN)" bash tests/dse/test_dse_acc.sh $(BUILD)/brecq
TEST_TARGETS += test-dse-acc

# the synthesis phase with a stand-in for yosys (tests/dse/synth_standin.sh, which runs hwgen)
.PHONY: test-dse-synth
test-dse-synth: $(BUILD)/brecq $(BUILD)/hwgen
	@MPIRUN="$(MPIRUN)" bash tests/dse/test_dse_synth.sh $(BUILD)/brecq
TEST_TARGETS += test-dse-synth

dse-worked: $(BUILD)/brecq
	nice -n 5 $(BUILD)/brecq dse configs/dse/worked.yaml

# `make bench-dse`: wall time of configs/dse/mpi_bench.yaml serial and on 1, 2, 4 ranks
# (tests/dse/bench_dse.sh; table + build/bench/dse.json with the load average). DSE_REPEAT runs.
DSE_REPEAT ?= 3
.PHONY: bench-dse
bench-dse: $(BUILD)/brecq
	@MPIRUN="$(MPIRUN)" bash tests/dse/bench_dse.sh $(BUILD)/brecq $(DSE_REPEAT)
BENCH_TARGETS += bench-dse
