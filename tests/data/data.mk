# tests/data/data.mk — the dataset sources end to end (docs/data.md).
#   make test-data        PNG folder vs IDX top-1 on the full test set, the pixel cache, one-line errors
#                         within 1 s, and the engine's logits on 20 committed RGB PNGs vs PyTorch's
#   make realdata         the honest real-data check (PyTorch-trained CNN on Fashion-MNIST as RGB PNGs;
#                         python3-torch, tens of minutes; resumable; NOT part of make test)
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
