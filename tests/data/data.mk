# tests/data/data.mk — the dataset sources end to end (docs/data.md).
#   make test-data        PNG folder vs IDX top-1 on the full test set, the pixel cache, one-line errors within 1 s
$(BUILD)/idx2png: tests/data/idx2png.c $(BUILD)/libbrecq.a
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libbrecq.a $(PKG_LIBS)
.PHONY: test-data
test-data: $(BUILD)/brecq $(BUILD)/idx2png
	@bash tests/data/test_data.sh $(BUILD)/brecq $(BUILD)/idx2png
TEST_TARGETS += test-data
