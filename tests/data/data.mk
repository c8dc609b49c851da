# tests/data/data.mk — the dataset sources end to end (docs/data.md).
#   make test-data        PNG folder vs IDX top-1 on the full test set, the pixel cache, one-line errors
#                         within 1 s, and the engine's logits on 20 committed RGB PNGs vs PyTorch's
#   make test-data-example  docs/data.md's worked example (JPEGs + ONNX model -> cosim report) as written
#   make realdata         the honest real-data check (PyTorch-trained CNN on Fashion-MNIST as RGB PNGs;
#                         python3-torch, tens of minutes; resumable; NOT part of make test;
#                         REALDATA_EXTRA="brecq:2:4:5000:1250" adds cells with another schedule)
$(BUILD)/idx2png: tests/data/idx2png.c $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
$(BUILD)/data_logits: tests/data/data_logits.c $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
.PHONY: test-data realdata
test-data: $(BUILD)/brecq $(BUILD)/idx2png $(BUILD)/data_logits
	@bash tests/data/test_data.sh $(BUILD)/brecq $(BUILD)/idx2png $(BUILD)/data_logits
realdata: $(BUILD)/brecq
	bash tests/data/realdata.sh $(BUILD)/brecq
TEST_TARGETS += test-data
# tests/onnx/predict_schedule.py (docs/onnx.md "An afternoon on 2 cores") on a hand-made probe
.PHONY: test-predict-schedule
test-predict-schedule:
	@bash tests/onnx/test_predict.sh
TEST_TARGETS += test-predict-schedule
.PHONY: test-data-example
test-data-example: $(BUILD)/brecq $(SIM_B)/tiny/cosim
	@bash tests/data/worked_example.sh $(BUILD)/brecq $(SIM_B)/tiny/cosim
TEST_TARGETS += test-data-example
#   make bench-data       images/s of PNG/JPEG/npy decoding (32x32, 224x224) and, when build/realnet
#                         has them (tests/onnx/make_torchvision.py --rgb224, realnet_steps.sh rtn),
#                         float and integer eval images/s and peak RSS of ResNet-18 / MobileNetV2 at 224
$(BUILD)/bench_data: tests/bench/bench_data.c tests/bench/bench_util.h $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
.PHONY: bench-data
bench-data: $(BUILD)/bench_data $(BUILD)/brecq
	bash tests/bench/bench_data.sh $(BUILD)/bench_data $(BUILD)/brecq build/bench/data.json
BENCH_TARGETS += bench-data
