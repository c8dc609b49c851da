/* test_resources.c — the resource model against every committed yosys run
 * (docs/resource_calib.json, `make resource-calib`): BRAM, LUTRAM and DSP exact; LUTs and FFs within
 * the documented error (docs/resource_model.md): a calibration run's own cells within 3 % or 8
 * cells (the fit reproduces what it was fitted on), a held-out module within 30 % or 16 cells, a
 * whole config within 10 % (tiny and edge as `make synth` measured them, hw/resource_calib.recorded,
 * and the calibration's own whole-config runs). A formula change that breaks any point fails here. */
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hwcfg.h"
#include "resources.h"

#define CALIB "docs/resource_calib.json"

/* The number after "key": inside s (first occurrence), or -1. */
static double num_after(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(s, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}
/* Copy the string value of "key" into out. */
static void str_after(const char *s, const char *key, char *out, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(s, pat);
    out[0] = 0;
    if (!p) return;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < n) out[i] = p[i], i++;
    out[i] = 0;
}

typedef struct { long lut, ff, bram18, ramb36, lutram, dsp; } counts;
static counts counts_of(const char *obj) {   /* obj points at {"lut":..,...} */
    counts c;
    c.lut = (long)num_after(obj, "lut"), c.ff = (long)num_after(obj, "ff");
    c.ramb36 = (long)num_after(obj, "ramb36");
    c.bram18 = (long)num_after(obj, "ramb18") + 2 * c.ramb36;
    c.lutram = (long)num_after(obj, "lutram"), c.dsp = (long)num_after(obj, "dsp");
    return c;
}

/* "params":{"A":1,"B":2} -> names/values; returns the count. */
static int params_of(const char *line, char names[][32], long *vals, int cap) {
    const char *p = strstr(line, "\"params\":{");
    int n = 0;
    if (!p) return 0;
    p += strlen("\"params\":{");
    while (*p == '"' && n < cap) {
        const char *q = strchr(p + 1, '"');
        snprintf(names[n], 32, "%.*s", (int)(q - p - 1), p + 1);
        vals[n++] = strtol(q + 2, (char **)&p, 10);
        if (*p == ',') p++;
    }
    return n;
}

static int within(long est, long meas, double rel, long floor_abs) {
    long d = labs(est - meas), tol = (long)(rel * (double)meas);
    return d <= (tol > floor_abs ? tol : floor_abs);
}

/* Apply a config run's yaml overrides (key=value of the array/buffers/memory sections). */
static void apply(bq_hwcfg *c, const char names[][32], const long *v, int n) {
    for (int i = 0; i < n; i++) {
        const char *k = names[i];
        int x = (int)v[i];
        if (!strcmp(k, "dm")) c->dm = x;
        else if (!strcmp(k, "dn")) c->dn = x;
        else if (!strcmp(k, "dk")) c->dk = x;
        else if (!strcmp(k, "res_lanes")) c->res_lanes = x;
        else if (!strcmp(k, "weight_depth")) c->weight_depth = x;
        else if (!strcmp(k, "act_depth")) c->act_depth = x;
        else if (!strcmp(k, "requant_depth")) c->requant_depth = x;
        else if (!strcmp(k, "width_bits")) c->mem_width_bits = x;
        else if (!strcmp(k, "read_bytes_per_cycle")) c->read_bytes_per_cycle = x;
        else if (!strcmp(k, "write_bytes_per_cycle")) c->write_bytes_per_cycle = x;
        else fail_msg("calibration config key %s not known to the test", k);
    }
}

static int check_line(const char *line, int *nmod, int *ncfg) {
    char id[64], kind[16], target[32], names[12][32], err[256];
    long vals[12];
    str_after(line, "id", id, sizeof id);
    str_after(line, "kind", kind, sizeof kind);
    str_after(line, "target", target, sizeof target);
    int n = params_of(line, names, vals, 12);
    bq_resources r;
    counts m;
    long floor_abs;
    if (!strcmp(kind, "module")) {
        const char *pn[12];
        for (int i = 0; i < n; i++) pn[i] = names[i];
        assert_int_equal(bq_resources_module(target, pn, vals, n, &r, err, sizeof err), 0);
        m = counts_of(strstr(line, "\"own\":"));
        floor_abs = 16;   /* held out; a calibration run must match its own fit far closer */
        (*nmod)++;
    } else {
        bq_hwcfg c;   /* a shipped config by name, else tiny with the run's overrides */
        char path[96];
        snprintf(path, sizeof path, "configs/hw/%s.yaml", target);
        FILE *t = fopen(path, "r");
        if (t) fclose(t);
        else snprintf(path, sizeof path, "configs/hw/tiny.yaml");
        assert_int_equal(bq_hwcfg_load(&c, path, err, sizeof err), 0);
        apply(&c, (const char(*)[32])names, vals, n);
        assert_int_equal(bq_resources_estimate(&c, &r, err, sizeof err), 0);
        m = counts_of(strstr(line, "\"total\":"));
        floor_abs = 0;
        (*ncfg)++;
    }
    char role[16];
    str_after(line, "role", role, sizeof role);
    double rel = floor_abs ? 0.30 : 0.10;   /* held-out module (a sanity bound) / whole config */
    if (!strcmp(role, "calib")) rel = 0.03, floor_abs = 8;
    int ok = r.bram18 == m.bram18 && r.ramb36 == m.ramb36 && r.lutram == m.lutram &&
             r.dsp == m.dsp && within(r.lut, m.lut, rel, floor_abs) &&
             within(r.ff, m.ff, rel, floor_abs);
    /* one Markdown row per point: docs/resource_model.md's error table is this output */
    print_message("| %s | %s | %ld | %ld | %+.1f %% | %ld | %ld | %+.1f %% | %ld / %ld | %ld / %ld | "
                  "%ld / %ld |\n", id, role, r.lut, m.lut,
                  m.lut ? 100.0 * (double)(r.lut - m.lut) / (double)m.lut : 0.0, r.ff, m.ff,
                  m.ff ? 100.0 * (double)(r.ff - m.ff) / (double)m.ff : 0.0, r.bram18, m.bram18,
                  r.lutram, m.lutram, r.dsp, m.dsp);
    if (!ok)
        print_error("%s: model %ld LUT %ld FF %ld RAMB18 (%ld as RAMB36) %ld LUTRAM %ld DSP, yosys "
                    "%ld / %ld / %ld (%ld) / %ld / %ld\n", id, r.lut, r.ff, r.bram18, r.ramb36,
                    r.lutram, r.dsp, m.lut, m.ff, m.bram18, m.ramb36, m.lutram, m.dsp);
    return ok;
}

static void test_calibration_points(void **st) {
    (void)st;
    FILE *f = fopen(CALIB, "r");
    assert_non_null(f);
    char line[4096];
    int nmod = 0, ncfg = 0, bad = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "\"id\":")) bad += !check_line(line, &nmod, &ncfg);
    fclose(f);
    print_message("%d module runs, %d whole configs checked, %d outside the documented error\n",
                  nmod, ncfg, bad);
    assert_true(nmod >= 20);   /* the file was read, not silently empty */
    assert_int_equal(bad, 0);
}

/* The BRAM rule on shapes with a known mapping, and bad input. */
static void test_ram_rule_and_errors(void **st) {
    (void)st;
    bq_resources r = {0};
    bq_resources_ram(256, 1024, &r);   /* 15 x RAMB18 1K x 18 beats 8 x RAMB36 1K x 36 */
    assert_int_equal(r.bram18, 15);
    assert_int_equal(r.ramb36, 0);
    memset(&r, 0, sizeof r);
    bq_resources_ram(128, 64, &r);     /* 43 x RAM64M (3 bits) beats 4 x RAMB18 */
    assert_int_equal(r.lutram, 43);
    assert_int_equal(r.bram18, 0);
    char err[256] = "";
    const char *pn[] = {"Dq"};
    long pv[] = {3};
    assert_int_equal(bq_resources_module("bqa_dpu", pn, pv, 1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "no parameter 'Dq'"));
    assert_int_equal(bq_resources_module("bqa_nope", NULL, NULL, 0, &r, err, sizeof err), -1);
    const char *wn[] = {"W"};
    long wv[] = {0};   /* would divide by zero */
    assert_int_equal(bq_resources_module("bqa_result", wn, wv, 1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "bqa_result.W must be >= 1"));
    bq_hwcfg c;
    assert_int_equal(bq_hwcfg_load(&c, "configs/hw/tiny.yaml", err, sizeof err), 0);
    c.res_lanes = 3;   /* does not divide dm = 2 */
    assert_int_equal(bq_resources_estimate(&c, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "res_lanes"));
    assert_int_equal(bq_hwcfg_load(&c, "configs/hw/tiny_v2.yaml", err, sizeof err), 0);
    assert_int_equal(bq_resources_estimate(&c, &r, err, sizeof err), -1);   /* v2 units: not modelled */
    assert_non_null(strstr(err, "tiny_v2: no resource estimate for an ISA v2 build"));
    assert_null(strchr(err, '\n'));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibration_points),
        cmocka_unit_test(test_ram_rule_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
