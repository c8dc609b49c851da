/*
 * brecq latency — per-layer cycles of a model on an accelerator config (the hw_model dry run).
 *
 *   brecq latency --model M --hw H [--bits B.yaml] [--report R.json]
 *
 * M: a quantized model (.bqq: its bits are used), a float model (.bqm / .onnx: quantizers placed
 * with the default 8-bit allocation, then --bits applied), or a built-in architecture name
 * (fres20, mbv2t; only the geometry matters for latency). H: configs/hw/<name>.yaml, or just
 * <name>. Prints one row per layer (GEMM shape, bits, loop order, cycles, µs, bound, efficiency)
 * and the network total; the JSON report holds `total_cycles` and per-layer `cycles`.
 */
#include "cli.h"
#include "core/errmsg.h"
#include "costtab.h"
#include "hwcfg.h"
#include "latency.h"
#include "io/model_io.h"
#include "lower/lower.h"
#include "quant/qmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kUsage =
    "usage: brecq latency --model M --hw H [--bits B.yaml] [--report R.json]\n"
    "  M: .bqq (its bits), .bqm/.onnx (8-bit default, then --bits), or fres20/mbv2t\n"
    "  H: configs/hw/<name>.yaml or <name>";

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int write_report(const char *path, const char *model, const bq_hwcfg *cfg,
                        const bq_hw_net *net, const bq_latency *r, int64_t total,
                        uint64_t model_hash) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    static const char *st[3] = {"fetch", "execute", "result"};
    fprintf(f, "{\n  \"model\": \"%s\",\n  \"model_hash\": \"%016llx\",\n  \"hw\": \"%s\",\n"
            "  \"hw_hash\": \"%016llx\",\n  \"clock_mhz\": %g,\n  \"total_cycles\": %lld,\n"
            "  \"total_us\": %.3f,\n  \"layers\": [", model, (unsigned long long)model_hash,
            cfg->name, (unsigned long long)cfg->hash, cfg->clock_mhz, (long long)total,
            (double)total / cfg->clock_mhz);
    for (int i = 0; i < net->n; i++) {
        const bq_hw_layer *l = &net->layers[i];
        const bq_latency *x = &r[i];
        fprintf(f, "%s\n    {\"name\": \"%s\", \"m\": %d, \"k\": %d, \"n\": %d, \"groups\": %d, "
                "\"wbits\": %d, \"abits\": %d, \"obits\": %d, \"rbits\": %d, \"raw32\": %d, "
                "\"order\": \"%s\", \"cycles\": %lld, \"us\": %.3f, \"bound\": \"%s\", "
                "\"exec_eff\": %.4f, \"eff\": %.4f, \"e_beats\": %lld, \"rd_beats\": %lld, "
                "\"wr_beats\": %lld, \"bytes\": {\"w\": %lld, \"a\": %lld, \"rq\": %lld, "
                "\"res\": %lld, \"out\": %lld}",
                i ? "," : "", l->name, l->m, l->k, l->n, l->groups, l->wbits, l->abits,
                l->raw32 ? 32 : l->obits, l->has_residual ? l->rbits : 0, l->raw32,
                bq_loop_order_name(x->order), (long long)x->cycles, x->us, x->bound, x->exec_eff,
                x->eff, (long long)x->e_beats, (long long)x->rd_beats, (long long)x->wr_beats,
                (long long)x->bytes_w, (long long)x->bytes_a, (long long)x->bytes_rq,
                (long long)x->bytes_res, (long long)x->bytes_out);
        for (int s = 0; s < 3; s++)
            fprintf(f, ", \"%s\": {\"busy\": %lld, \"stall\": %lld, \"idle\": %lld}", st[s],
                    (long long)x->busy[s], (long long)x->stall[s], (long long)x->idle[s]);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

int bq_cmd_latency(int argc, char **argv) {
    const char *model = NULL, *hw = NULL, *bits = NULL, *report = NULL;
    bq_cli_opt opts[] = {
        {"model", 1, &model, "model: .bqq, .bqm, .onnx, or fres20/mbv2t (geometry only)"},
        {"hw", 1, &hw, "accelerator config: configs/hw/<name>.yaml or <name>"},
        {"bits", 1, &bits, "bits.yaml (layer -> {wbits, abits}) applied before timing"},
        {"report", 1, &report, "write the per-layer table as JSON"},
    };
    int rc = bq_cli_parse(argc, argv, opts, 4, kUsage);
    if (rc) return rc == 1 ? 0 : 2;
    if (!model || !hw) {
        bq_cli_error("latency", "--model and --hw are required; %s", kUsage);
        return 2;
    }
    if (bq_cli_check_outputs("latency", opts, 4, "report", NULL)) return 2;
    char err[512], hwpath[1024];
    if (!ends_with(hw, ".yaml") && !strchr(hw, '/'))
        snprintf(hwpath, sizeof hwpath, "configs/hw/%s.yaml", hw);
    else
        snprintf(hwpath, sizeof hwpath, "%s", hw);
    bq_hwcfg cfg;
    if (bq_hwcfg_load(&cfg, hwpath, err, sizeof err)) {
        bq_cli_error("latency", "%s", err);
        return 1;
    }

    bq_qmodel q;
    bq_model fp;
    int have_q = 0, have_fp = 0, ret = 1;
    bq_hw_net net;
    memset(&net, 0, sizeof net);
    bq_latency *res = NULL;
    uint64_t mhash = 0;
    if (ends_with(model, ".bqq")) {
        if (bq_cli_load_qmodel("latency", model, &q)) goto out;
        have_q = 1;
        mhash = q.src_hash;
    } else {
        if (access(model, F_OK) != 0 && (!strcmp(model, "fres20") || !strcmp(model, "mbv2t"))) {
            if (bq_arch_build(&fp, model, 0) != 0) {   /* a known name: out of memory */
                bq_cli_error("latency", "out of memory building architecture '%s'", model);
                goto out;
            }
        } else if (bq_cli_load_model("latency", model, &fp)) {
            goto out;
        }
        have_fp = 1;
        mhash = bq_model_hash(&fp);
        bq_qmodel_opts qo = {.wbits = 8, .abits = 8, .first_last_8bit = 1};
        if (bq_qmodel_init(&q, &fp, &qo, err, sizeof err)) {
            bq_cli_error("latency", "%s: %s", model, err);
            goto out;
        }
        have_q = 1;
    }
    if (bits && bq_qmodel_apply_bits(&q, bits, err, sizeof err)) {
        bq_cli_error("latency", "%s", err);
        goto out;
    }
    if (bq_lower_hw_net(&net, &q, err, sizeof err)) {
        bq_cli_error("latency", "%s: %s", model, err);
        goto out;
    }
    res = calloc((size_t)(net.n ? net.n : 1), sizeof *res);
    if (!res) {
        bq_cli_error("latency", "out of memory");
        goto out;
    }
    int64_t total = bq_hw_net_latency(&net, &cfg, res, err, sizeof err);
    if (total < 0) {
        bq_cli_error("latency", "%s (on %s)", err, hwpath);
        goto out;
    }
    /* array as rows x cols x DPU width (dm x dn x dk), the order export and synth print */
    printf("%s on %s (%dx%dx%d, %g MHz, hash %016llx)\n", model, cfg.name, cfg.dm, cfg.dn, cfg.dk,
           cfg.clock_mhz, (unsigned long long)cfg.hash);
    printf("%-16s %18s %3s %3s %3s %-10s %10s %10s %-7s %6s %6s\n", "layer", "GEMM MxKxN (xg)",
           "W", "A", "O", "order", "cycles", "us", "bound", "e_eff", "eff");
    for (int i = 0; i < net.n; i++) {
        const bq_hw_layer *l = &net.layers[i];
        char shape[48];
        if (l->groups > 1)
            snprintf(shape, sizeof shape, "%dx%dx%d x%d", l->m, l->k, l->n, l->groups);
        else
            snprintf(shape, sizeof shape, "%dx%dx%d", l->m, l->k, l->n);
        char ob[8];
        snprintf(ob, sizeof ob, "%d", l->obits);
        printf("%-16.16s %18s %3d %3d %3s %-10s %10lld %10.2f %-7s %6.3f %6.3f\n", l->name, shape,
               l->wbits, l->abits, l->raw32 ? "32" : ob, bq_loop_order_name(res[i].order),
               (long long)res[i].cycles, res[i].us, res[i].bound, res[i].exec_eff, res[i].eff);
    }
    printf("%-16s %18s %3s %3s %3s %-10s %10lld %10.2f\n", "total", "", "", "", "", "",
           (long long)total, (double)total / cfg.clock_mhz);
    if (report && write_report(report, model, &cfg, &net, res, total, mhash)) {
        bq_cli_error("latency", "cannot write report %s", report);
        goto out;
    }
    ret = 0;
out:
    free(res);
    bq_hw_net_free(&net);
    if (have_q) bq_qmodel_free(&q);
    if (have_fp) bq_model_free(&fp);
    return ret;
}
