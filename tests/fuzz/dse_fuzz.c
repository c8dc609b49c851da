/*
 * dse_fuzz.c — libFuzzer harness for the DSE spec reader (`brecq dse DSE.yaml`, sw/dse/dse_spec.c):
 * input = DSE YAML text, written to a scratch file (bq_dse_load reads paths only) and loaded.
 * Seeds: corpus/dse/ (configs/dse and edge cases); dictionary: dse.dict. A rejected text: one-line
 * message. An accepted spec must hold what the sweep trusts: counts within their caps, bit lists
 * sorted and unique in 2..8, grid values >= 1; each budget string goes through bq_budget_parse (what
 * bq_dse_prepare does with it) and a grid of at most FUZZ_DSE_EXPAND configs is expanded on a fixed
 * base (tiny's values), so the expansion's validation and resource estimate see fuzzed values.
 * Not opened: the files an accepted spec names (base, models, configs, data: each has its own
 * harness or is a path a fuzzer must not walk), so a spec with `configs:` is not expanded.
 */
#include "fuzz_util.h"
#include "dse/dse.h"

#define FUZZ_DSE_EXPAND 64

static const char kBase[] =
    "name: tiny\nclock_mhz: 15\n"
    "array: {dm: 2, dn: 2, dk: 64, acc_bits: 32, res_lanes: 1}\n"
    "buffers: {weight_depth: 256, act_depth: 256, regions: 2, requant_depth: 512}\n"
    "memory: {width_bits: 64, read_bytes_per_cycle: 8, write_bytes_per_cycle: 8, read_latency: 12,"
    " write_latency: 12}\n";

static void check_bits(const int *v, int n) {
    if (n < 1 || n > BQ_SEARCH_MAX_BITS) abort();
    for (int i = 0; i < n; i++)
        if (v[i] < 2 || v[i] > 8 || (i && v[i - 1] >= v[i])) abort();
}

static void check_spec(const bq_dse_spec *s) {
    if (s->n_models < 1 || s->n_models > BQ_DSE_MAX_MODELS) abort();
    if (s->n_budgets < 1 || s->n_budgets > BQ_DSE_MAX_BUDGETS) abort();
    if (s->n_configs < 0 || s->n_configs > BQ_DSE_MAX_LIST) abort();
    if (!s->name[0] || !s->base[0] || !s->out[0] || s->sens_images < 1) abort();
    for (int m = 0; m < s->n_models; m++)
        if (!s->models[m][0] || !memchr(s->models[m], 0, BQ_DSE_PATH)) abort();
    for (int a = 0; a < BQ_DSE_N_AXES; a++) {
        if (s->n_axis[a] < 0 || s->n_axis[a] > BQ_DSE_MAX_VALUES) abort();
        for (int i = 0; i < s->n_axis[a]; i++)
            if (s->axis[a][i] < 1) abort();
    }
    check_bits(s->space.wbits, s->space.n_wbits);
    check_bits(s->space.abits, s->space.n_abits);
}

/* Each budget as bq_dse_prepare resolves it (base clock 15 MHz, a W8A8 latency of 10^6 cycles). */
static void check_budgets(const bq_dse_spec *s) {
    for (int j = 0; j < s->n_budgets; j++) {
        int64_t cyc = 0;
        char err[512];
        err[0] = 0;
        if (bq_budget_parse(s->budgets[j], 15.0, 1000000, &cyc, err, sizeof err)) fuzz_check_err(err);
        else if (cyc < 0) abort();
    }
}

static void check_expand(const bq_dse_spec *s) {
    long total = bq_dse_grid_size(s);
    if (total < 1) abort();
    if (s->n_configs || total > FUZZ_DSE_EXPAND) return;
    bq_hwcfg base;
    char err[768];
    if (bq_hwcfg_parse(&base, kBase, sizeof kBase - 1, "base.yaml", err, sizeof err)) abort();
    bq_dse_config *c = NULL;
    int n = 0;
    err[0] = 0;
    if (bq_dse_expand(s, &base, &c, &n, err, sizeof err)) {
        fuzz_check_err(err);
        if (c || n) abort();
        return;
    }
    if (n != total) abort();
    for (int i = 0; i < n; i++)
        if (c[i].valid ? bq_hwcfg_validate(&c[i].cfg, err, sizeof err) != 0 : !c[i].why[0]) abort();
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bq_dse_spec *s = malloc(sizeof *s);   /* ~40 KB: off the stack */
    char err[512];
    if (!s) abort();
    err[0] = 0;
    if (bq_dse_load(s, fuzz_file("dse.yaml", data, size), err, sizeof err)) fuzz_check_err(err);
    else {
        check_spec(s);
        check_budgets(s);
        check_expand(s);
    }
    free(s);
    return 0;
}
