/*
 * hw_fuzz.c — libFuzzer harness for the hardware-config reader: input = hw YAML text, fed to
 * bq_hwcfg_parse (schema loader + cross-field rules). Seeds: corpus/hw/ (configs/hw); dictionary:
 * hw.dict. A rejected text: one-line message; an accepted config passes bq_hwcfg_validate again and
 * its canonical text (the cache identity) is complete.
 */
#include "fuzz_util.h"
#include "hwcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_hwcfg c;
    char err[512];
    err[0] = 0;
    if (bq_hwcfg_parse(&c, (const char *)data, size, "fuzz.yaml", err, sizeof err)) {
        fuzz_check_err(err);
        return 0;
    }
    if (bq_hwcfg_validate(&c, err, sizeof err)) abort();
    char canon[4096];
    int n = bq_hwcfg_canonical(&c, canon, sizeof canon);
    if (n <= 0 || (size_t)n >= sizeof canon) abort();
    (void)bq_hwcfg_peak_binops(&c);
    return 0;
}
