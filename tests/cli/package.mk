# tests/cli/package.mk — the export package from the command line (make test).
#   make test-package     real package (fres20 W4A4, tiny) checks; eval --int --preds writes the integer path's predictions; shell corruptions named
.PHONY: test-package
test-package: $(ASAN)/brecq $(BUILD)/brecq
	@bash tests/cli/test_package.sh $(ASAN)/brecq $(BUILD)/brecq
TEST_TARGETS += test-package
