/*
 * dse_report.c — dse.json, report.md and timing.json of a merged sweep. See dse_merge.h.
 * Numbers are printed with fixed formats (%.17g for the objective), so the same sweep gives the
 * same bytes whatever ran it.
 */
#include "dse/dse_merge.h"

#include <stdio.h>
#include <string.h>

static void json_str(bq_buf *b, const char *s) {
    bq_buf_put(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') bq_buf_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) bq_buf_printf(b, "\\u%04x", (unsigned char)*s);
        else bq_buf_put(b, s, 1);
    }
    bq_buf_put(b, "\"", 1);
}

static void json_params(bq_buf *b, const bq_hwcfg *c) {
    bq_buf_printf(b, "{\"dm\": %d, \"dn\": %d, \"dk\": %d, \"res_lanes\": %d, \"weight_depth\": %d, "
                  "\"act_depth\": %d, \"regions\": %d, \"requant_depth\": %d, \"width_bits\": %d, "
                  "\"read_bytes_per_cycle\": %d, \"write_bytes_per_cycle\": %d, "
                  "\"read_latency\": %d, \"write_latency\": %d, \"clock_mhz\": %.17g}",
                  c->dm, c->dn, c->dk, c->res_lanes, c->weight_depth, c->act_depth, c->regions,
                  c->requant_depth, c->mem_width_bits, c->read_bytes_per_cycle,
                  c->write_bytes_per_cycle, c->read_latency, c->write_latency, c->clock_mhz);
}

static void json_configs(const bq_dse *d, const bq_dse_synth *sy, bq_buf *b) {
    bq_buf_printf(b, "  \"configs\": [\n");
    for (int c = 0; c < d->n_cfg; c++) {
        const bq_dse_config *C = &d->cfgs[c];
        bq_buf_printf(b, "    {\"name\": ");
        json_str(b, C->cfg.name);
        bq_buf_printf(b, ", \"key\": \"%s\", \"valid\": %s, \"params\": ", C->key,
                      C->valid ? "true" : "false");
        json_params(b, &C->cfg);
        if (C->valid)
            bq_buf_printf(b, ", \"resources\": {\"lut\": %ld, \"ff\": %ld, \"bram18\": %ld, "
                          "\"dsp\": %ld}", C->res.lut, C->res.ff, C->res.bram18, C->res.dsp);
        const bq_resources *S = C->valid ? bq_dse_synth_of(sy, c) : NULL;
        if (S)   /* measured by the synthesis phase, beside the model's estimate above */
            bq_buf_printf(b, ", \"synth\": {\"lut\": %ld, \"ff\": %ld, \"bram18\": %ld, \"dsp\": %ld}",
                          S->lut, S->ff, S->bram18, S->dsp);
        if (C->valid) bq_buf_printf(b, "}");
        else {
            bq_buf_printf(b, ", \"why\": ");
            json_str(b, C->why);
            bq_buf_printf(b, "}");
        }
        bq_buf_printf(b, "%s\n", c + 1 < d->n_cfg ? "," : "");
    }
    bq_buf_printf(b, "  ],\n");
}

static void json_row(const bq_dse *d, const bq_dse_row *r, bq_buf *b) {
    bq_buf_printf(b, "{\"model\": \"%s\", \"budget\": ", d->models[r->model].label);
    json_str(b, d->spec.budgets[r->budget]);
    bq_buf_printf(b, ", \"config\": \"%s\", \"status\": \"%s\", \"budget_cycles\": %lld, "
                  "\"w8a8_cycles\": %lld, \"min_cycles\": %lld, \"feasible\": %s",
                  d->cfgs[r->config].cfg.name, r->status ? "error" : "ok",
                  (long long)r->budget_cycles, (long long)r->w8a8_cycles,
                  (long long)r->min_cycles, r->feasible ? "true" : "false");
    if (r->feasible)
        bq_buf_printf(b, ", \"objective\": %.17g, \"cycles\": %lld, \"us\": %.6f, \"size_bits\": %lld, "
                      "\"alloc\": \"%s\", \"front_lut\": %s, \"front_bram\": %s",
                      r->objective, (long long)r->cycles, r->us, (long long)r->size_bits, r->alloc,
                      r->front_lut ? "true" : "false", r->front_bram ? "true" : "false");
    if (r->top1 >= 0) bq_buf_printf(b, ", \"top1_pct\": %.2f", r->top1);
    bq_buf_printf(b, "}");
}

void bq_dse_json(const bq_dse *d, const bq_dse_row *rows, int n, const bq_dse_synth *sy, bq_buf *b) {
    const bq_dse_spec *s = &d->spec;
    bq_buf_printf(b, "{\n  \"dse\": ");
    json_str(b, s->name);
    bq_buf_printf(b, ", \"version\": %d, \"base\": ", BQ_DSE_VERSION);
    json_str(b, s->base);
    bq_buf_printf(b, ",\n  \"objective\": \"search objective: sum of Fisher-weighted group "
                  "sensitivities (~2x KL increase; lower is better)\",\n  \"models\": [");
    for (int m = 0; m < d->n_models; m++) {
        const bq_dse_model *M = &d->models[m];
        bq_buf_printf(b, "%s{\"label\": \"%s\", \"path\": ", m ? ", " : "", M->label);
        json_str(b, M->path);
        bq_buf_printf(b, ", \"hash\": \"%016llx\", \"base_w8a8_cycles\": %lld, \"budgets\": [",
                      (unsigned long long)M->hash, (long long)M->base_w8a8);
        for (int j = 0; j < d->n_budgets; j++) {
            const bq_dse_budget *B = &M->budgets[j];
            bq_buf_printf(b, "%s{\"expr\": ", j ? ", " : "");
            json_str(b, B->expr);
            if (B->is_cycles) bq_buf_printf(b, ", \"cycles\": %lld}", (long long)B->cycles);
            else bq_buf_printf(b, ", \"us\": %.6f}", B->us);
        }
        bq_buf_printf(b, "]}");
    }
    bq_buf_printf(b, "],\n  \"n_configs\": %d, \"n_valid\": %d,\n", d->n_cfg, d->n_valid);
    json_configs(d, sy, b);
    bq_buf_printf(b, "  \"points\": [\n");
    for (int i = 0; i < n; i++) {
        bq_buf_printf(b, "    ");
        json_row(d, &rows[i], b);
        bq_buf_printf(b, "%s\n", i + 1 < n ? "," : "");
    }
    bq_buf_printf(b, "  ],\n  \"best\": [\n");
    int first = 1;
    for (int m = 0; m < d->n_models; m++)
        for (int j = 0; j < d->n_budgets; j++) {
            int i = bq_dse_best(d, rows, n, m, j);
            if (i < 0) continue;
            bq_buf_printf(b, "%s    ", first ? "" : ",\n");
            json_row(d, &rows[i], b);
            first = 0;
        }
    bq_buf_printf(b, "\n  ]\n}\n");
}

static void md_row(const bq_dse *d, const bq_dse_row *r, bq_buf *b) {
    const bq_dse_config *C = &d->cfgs[r->config];
    bq_buf_printf(b, "| %s | %s |", d->spec.budgets[r->budget], C->cfg.name);
    bq_buf_printf(b, " %d | %d | %d | %d | %d/%d | %d | %.0f | %.2f | %.6g | %ld | %ld | %ld "
                  "| %ld | `bits/%s-%s.yaml` |", C->cfg.dm, C->cfg.dn, C->cfg.dk,
                  C->cfg.res_lanes, C->cfg.weight_depth, C->cfg.act_depth, C->cfg.mem_width_bits,
                  C->cfg.clock_mhz, r->us, r->objective, C->res.lut, C->res.ff, C->res.bram18,
                  C->res.dsp, d->models[r->model].label, r->alloc);
    /* the accuracy phase's column: rows it did not run on show "-" */
    if (d->spec.brecq_recipe[0] && r->top1 >= 0) bq_buf_printf(b, " %.2f |", r->top1);
    else if (d->spec.brecq_recipe[0]) bq_buf_printf(b, " - |");
    bq_buf_printf(b, "\n");
}

static const char kHead[] =
    "| budget | config | dm | dn | dk | lanes | wdepth/adepth | port bits | MHz | latency us | objective "
    "| LUT | FF | BRAM18 | DSP | allocation |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    "---|---|---|\n";
static const char kHeadAcc[] =
    "| budget | config | dm | dn | dk | lanes | wdepth/adepth | port bits | MHz | latency us | objective "
    "| LUT | FF | BRAM18 | DSP | allocation | int top-1 % |\n|---|---|---|---|---|---|---|---|---|---|"
    "---|---|---|---|---|---|---|\n";

static void md_model(const bq_dse *d, const bq_dse_row *rows, int n, int m, bq_buf *b) {
    const bq_dse_model *M = &d->models[m];
    const char *head = d->spec.brecq_recipe[0] ? kHeadAcc : kHead;
    bq_buf_printf(b, "\n## %s (`%s`)\n\nW8A8 on the base config: %lld cycles.\n\n"
                  "### Best config per budget\n\n%s", M->label, M->path,
                  (long long)M->base_w8a8, head);
    for (int j = 0; j < d->n_budgets; j++) {
        int i = bq_dse_best(d, rows, n, m, j);
        if (i < 0) bq_buf_printf(b, "| %s | (no config meets it) |\n", d->spec.budgets[j]);
        else md_row(d, &rows[i], b);
    }
    for (int j = 0; j < d->n_budgets; j++) {
        int nf = 0, nfeas = 0;
        for (int i = 0; i < n; i++)
            if (rows[i].model == m && rows[i].budget == j) {
                nfeas += rows[i].feasible;
                nf += rows[i].front_lut;
            }
        bq_buf_printf(b, "\n### Budget %s: %d configs meet it; %d on the (objective, latency, LUT) "
                      "front\n\n%s", d->spec.budgets[j], nfeas, nf, head);
        for (int i = 0; i < n; i++)
            if (rows[i].model == m && rows[i].budget == j && rows[i].front_lut) md_row(d, &rows[i], b);
    }
    if (d->spec.plots)
        bq_buf_printf(b, "\n![objective vs latency](%s_latency.svg)\n![objective vs LUT](%s_lut.svg)\n"
                      "![objective vs BRAM](%s_bram.svg)\n", M->label, M->label, M->label);
    int measured = 0;
    for (int i = 0; i < n; i++) measured += rows[i].model == m && rows[i].top1 >= 0;
    if (d->spec.plots && measured)
        bq_buf_printf(b, "![integer top-1 vs latency](%s_top1.svg)\n", M->label);
}

/* Measured (synthesis phase) vs estimated (resource model) resources per synthesised config. */
static void md_synth(const bq_dse *d, const bq_dse_synth *sy, bq_buf *b) {
    if (!sy->n) return;
    bq_buf_printf(b, "\n## Synthesis (`%s`, yosys synth_xilinx xc7) vs the resource model\n\n"
                  "| config | LUT synth / model | FF synth / model | BRAM18 synth / model | DSP synth / "
                  "model | LUT synth/model |\n|---|---|---|---|---|---|\n", sy->script);
    for (int j = 0; j < sy->n; j++) {
        const bq_dse_config *C = &d->cfgs[sy->cfg[j]];
        const bq_resources *S = &sy->res[j], *E = &C->res;
        bq_buf_printf(b, "| %s | %ld / %ld | %ld / %ld | %ld / %ld | %ld / %ld | ", C->cfg.name,
                      S->lut, E->lut, S->ff, E->ff, S->bram18, E->bram18, S->dsp, E->dsp);
        if (E->lut > 0) bq_buf_printf(b, "%.2f |\n", (double)S->lut / (double)E->lut);
        else bq_buf_printf(b, "- |\n");
    }
}

void bq_dse_report_md(const bq_dse *d, const bq_dse_row *rows, int n, const bq_dse_synth *sy,
                      bq_buf *b) {
    bq_buf_printf(b, "# DSE %s\n\nBase `%s`; %d configs (%d valid), %d model(s), %d budget(s). "
                  "Objective: the search's predicted loss (sum of Fisher-weighted sensitivities; "
                  "lower is better). Resources: hw_model/resources.h estimate. Allocation files: "
                  "bits.yaml for `brecq quantize --bits`.\n", d->spec.name, d->spec.base, d->n_cfg,
                  d->n_valid, d->n_models, d->n_budgets);
    static const char *const kRowsName[] = {"none", "best", "front", "all"};
    if (d->spec.brecq_recipe[0])
        bq_buf_printf(b, "\nInteger top-1: BRECQ with `%s` (each row's allocation as --bits), then "
                      "`brecq eval --int` on %d test images; run on the rows selected by "
                      "`brecq_rows: %s` (identical allocations once; \"-\": not run).\n",
                      d->spec.brecq_recipe, d->spec.test_images, kRowsName[d->spec.brecq_rows]);
    for (int m = 0; m < d->n_models; m++) md_model(d, rows, n, m, b);
    md_synth(d, sy, b);
    int shown = 0;
    for (int c = 0; c < d->n_cfg; c++) {
        if (d->cfgs[c].valid) continue;
        if (!shown++) bq_buf_printf(b, "\n## Invalid configs (the RTL cannot be generated)\n\n");
        if (shown <= 50) bq_buf_printf(b, "- %s: %s\n", d->cfgs[c].cfg.name, d->cfgs[c].why);
    }
    if (shown > 50) bq_buf_printf(b, "- ... and %d more (dse.json lists all)\n", shown - 50);
    int errs = 0;
    for (int i = 0; i < n; i++) errs += rows[i].status && rows[i].budget == 0;
    if (errs) bq_buf_printf(b, "\n%d (config, model) units were rejected by the scheduler "
                            "(dse.json: status \"error\").\n", errs);
}

void bq_dse_timing_json(const bq_dse *d, const bq_dse_row *rows, int n, bq_buf *b) {
    bq_buf_printf(b, "{\"dse\": \"%s\", \"units\": [\n", d->spec.name);
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (rows[i].budget != 0) continue;
        bq_buf_printf(b, "%s  {\"model\": \"%s\", \"config\": \"%s\", \"seconds\": %.3f}",
                      first ? "" : ",\n", d->models[rows[i].model].label,
                      d->cfgs[rows[i].config].cfg.name, rows[i].seconds);
        first = 0;
    }
    bq_buf_printf(b, "\n]}\n");
}
