/*
 * recipe_fuzz.c — libFuzzer harness for the recipe reader: input = recipe YAML text, fed to
 * bq_recipe_parse (the schema loader, sw/core/yamldoc.h, behind it). Seeds: corpus/recipe/ (the
 * configs/quant recipes); dictionary: recipe.dict (its keys and enum values).
 * A rejected text: one-line message.
 */
#include "fuzz_util.h"
#include "quant/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_recipe r;
    char err[512];
    err[0] = 0;
    if (bq_recipe_parse(&r, (const char *)data, size, "fuzz.yaml", err, sizeof err)) fuzz_check_err(err);
    return 0;
}
