# sw/io/onnx.mk — ONNX import (issue 9): protobuf-c code generated at build time from Debian's
# onnx.proto (libonnx-dev), the backend node tests and the exported-ResNet accuracy check. See
# docs/onnx.md; the importer's libFuzzer harness is in tests/fuzz/ (fuzz.mk).
#
#   make onnx-test      node tests + ResNet accuracy (both part of `make test`)

ONNX_PROTO := /usr/include/onnx/onnx.proto
ONNX_GEN_C := $(BUILD)/gen/onnx/onnx.pb-c.c
ONNX_GEN_H := $(BUILD)/gen/onnx/onnx.pb-c.h
LIB_SRCS    += $(ONNX_GEN_C)
GEN_HEADERS += $(ONNX_GEN_H)

$(ONNX_GEN_H): $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I/usr/include onnx/onnx.proto
$(ONNX_GEN_C): $(ONNX_GEN_H)
	@test -f $@ || { rm -f $<; $(MAKE) --no-print-directory $<; }

# ---- backend node tests: every model of libonnx-testdata whose operators are all supported ----
ONNX_NODE_DIR ?= /usr/share/libonnx-testdata/data/node
$(ASAN)/tests/onnx_node_runner: tests/onnx/node_runner.c $(ASAN)/libbrecq.a $(GEN_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -o $@ $< $(ASAN)/libbrecq.a $(PKG_LIBS)

.PHONY: onnx-test onnx-node-test onnx-resnet-test onnx-cli-test
onnx-node-test: $(ASAN)/tests/onnx_node_runner
	@mkdir -p $(BUILD)/onnx
	$(ASAN)/tests/onnx_node_runner --dir $(ONNX_NODE_DIR) --expect tests/onnx/node_expected.txt \
	  --report $(BUILD)/onnx/node_report.txt

# ---- a torchvision-style ResNet exported from PyTorch: brecq eval must match PyTorch's top-1 ----
ONNX_RESNETS := tests/onnx/models/resnet8.onnx tests/onnx/models/resnet8_bn.onnx
onnx-resnet-test: $(BUILD)/brecq
	@mkdir -p $(BUILD)/onnx
	@for m in $(ONNX_RESNETS); do \
	  $(BUILD)/brecq eval --model $$m --report $(BUILD)/onnx/$$(basename $$m .onnx).json >/dev/null || exit 1; \
	  bash tests/onnx/check_accuracy.sh tests/onnx/models/resnet8.json $(BUILD)/onnx/$$(basename $$m .onnx).json $$m || exit 1; \
	done

# ---- `brecq info x.onnx` and one-line errors for bad files through the CLI ----
onnx-cli-test: $(BUILD)/brecq
	@bash tests/onnx/cli_test.sh $(BUILD)/brecq

onnx-test: onnx-node-test onnx-resnet-test onnx-cli-test onnx-tv-test
TEST_TARGETS += onnx-test

# ---- torchvision layouts (tests/onnx/make_torchvision.py): float logits, RTN, integer path ----
$(ASAN)/tests/onnx_logits_check: tests/onnx/logits_check.c $(ASAN)/libbrecq.a $(GEN_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_SAN) $(PKG_CFLAGS) -o $@ $< $(ASAN)/libbrecq.a $(PKG_LIBS)
$(BUILD)/tests/onnx_logits_check: tests/onnx/logits_check.c $(BUILD)/libbrecq.a $(GEN_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)

.PHONY: onnx-tv-test
onnx-tv-test: $(BUILD)/brecq $(ASAN)/tests/onnx_logits_check
	@bash tests/onnx/tv_test.sh $(BUILD)/brecq $(ASAN)/tests/onnx_logits_check
