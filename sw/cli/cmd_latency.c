/*
 * brecq latency — per-layer cycles of a model on an accelerator config (the hw_model dry run).
 *
 *   brecq latency --model M --hw H [--bits B.yaml] [--report R.json]
 *                 [--v2 [--window-bytes N --block-channels N]]
 *
 * M: a quantized model (.bqq: its bits are used), a float model (.bqm / .onnx: quantizers placed
 * with the default 8-bit allocation, then --bits applied), or a built-in architecture name
 * (fres20, mbv2t; only the geometry matters for latency). H: configs/hw/<name>.yaml, or just
 * <name>. Prints one row per layer (GEMM shape, bits, loop order, cycles, µs, bound, efficiency)
 * and the network total; the JSON report holds `total_cycles` and per-layer `cycles`.
 * --v2: the whole network as one ISA v2 program (docs/whole_network.md §11): per layer its
 * stand-alone cycles and window bytes, and the dry run of the one program (= their sum); the
 * config needs buffers.window_bytes / block_channels (or the two options). A config that has them
 * (an ISA v2 build, e.g. configs/hw/tiny_v2.yaml) gets this without --v2: that build runs the
 * network as one program, so its per-layer v1 costs would not be its latency.
 */
#include "cli.h"
#include "core/errmsg.h"
#include "costtab.h"
#include "hwcfg.h"
#include "latency.h"
#include "io/model_io.h"
#include "lower/lower.h"
#include "lower/lower_v2.h"
#include "quant/qmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *kUsage =
    "usage: brecq latency --model M --hw H [--bits B.yaml] [--report R.json]\n"
    "  M: .bqq (its bits), .bqm/.onnx (8-bit default, then --bits), or fres20/mbv2t\n"
    "  H: configs/hw/<name>.yaml or <name>\n"
    "  --v2: whole-network ISA v2 program (--window-bytes N --block-channels N set the v2 keys);\n"
    "       the default on a config with buffers.window_bytes (an ISA v2 build)";

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

/* v1 cycles of the v2 layer named `name` (the same array without the v2 units: the host im2col's
 * between layers, not counted), or -1 for a layer v1 runs on the host (the GAP). */
static int64_t v1_cycles_of(const bq_hw_net *net, const bq_latency *v1, const char *name) {
    for (int l = 0; l < net->n; l++)
        if (!strcmp(net->layers[l].name, name)) return v1[l].cycles;
    return -1;
}

/* --v2: plan the whole network, print each layer's stand-alone cycles and the one program's,
 * beside each layer's v1 cycles on the same array (issue 22: what moving im2col on chip changed). */
static int latency_v2(const char *model, const bq_hwcfg *cfg, const bq_qmodel *q, const char *report) {
    char err[512] = "";
    int ret = 1, n = -1;
    bq_hw_net net1;
    memset(&net1, 0, sizeof net1);
    bq_latency *v1 = NULL;
    bq_v2_layer *ls = calloc(BQ_V2_MAX_LAYERS, sizeof *ls);
    bq_v2_plan *plans = calloc(BQ_V2_MAX_LAYERS, sizeof *plans);
    bq_v2_memplan *mp = calloc(1, sizeof *mp);
    int64_t *cyc = calloc(BQ_V2_MAX_LAYERS, sizeof *cyc);
    bq_program pr;
    bq_program_init(&pr);
    if (!ls || !plans || !mp || !cyc) {
        bq_cli_error("latency", "out of memory");
        goto out;
    }
    n = bq_lower_v2_net(ls, BQ_V2_MAX_LAYERS, q, err, sizeof err);
    if (n < 0 || bq_v2_net_plan(plans, mp, cfg, ls, n, err, sizeof err)) {
        bq_cli_error("latency", "%s: %s (on %s)", model, err, cfg->name);
        goto out;
    }
    /* v1 on the same array: the v2 keys cleared (v1 programs do not use the v2 units) */
    bq_hwcfg cfg1 = *cfg;
    cfg1.window_bytes = cfg1.block_channels = 0;
    cfg1.hash = bq_hwcfg_hash(&cfg1);
    if (bq_lower_hw_net(&net1, q, err, sizeof err) ||
        !(v1 = calloc((size_t)(net1.n ? net1.n : 1), sizeof *v1))) {
        bq_cli_error("latency", "%s: %s", model, v1 || err[0] ? err : "out of memory");
        goto out;
    }
    int64_t v1_total = bq_hw_net_latency(&net1, &cfg1, v1, err, sizeof err);
    if (v1_total < 0) {
        bq_cli_error("latency", "%s: v1 programs: %s (on %s)", model, err, cfg->name);
        goto out;
    }
    printf("%s on %s, ISA v2 whole-network program (%dx%dx%d, %g MHz, window %d B, block %d B); v1 =\n"
           "the layer's v1 program on the same array (host im2col between layers, not counted)\n",
           model, cfg->name, cfg->dm, cfg->dn, cfg->dk, cfg->clock_mhz, cfg->window_bytes,
           cfg->block_channels);
    printf("%-16s %-24s %3s %3s %3s %-10s %7s %10s %10s %10s %6s\n", "layer", "conv", "W", "A", "O",
           "order", "window", "cycles", "us", "v1", "v2/v1");
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        bq_latency r;
        bq_program_reset(&pr);
        if (bq_v2_build(&pr, &plans[i], cfg, &mp->addr[i], 0, 0, err, sizeof err) ||
            bq_latency_program(&r, &pr, &plans[i].base, cfg, 1, err, sizeof err)) {
            bq_cli_error("latency", "%s", err);
            goto out;
        }
        const bq_v2_layer *l = &ls[i];
        char shape[64];
        snprintf(shape, sizeof shape, "%d->%d %dx%d k%dx%d s%d%s", l->cin, l->cout, l->hi, l->wi, l->kh,
                 l->kw, l->stride, l->depthwise ? " dw" : "");
        char ob[8];
        snprintf(ob, sizeof ob, "%d", l->hw.obits);
        cyc[i] = r.cycles;
        sum += r.cycles;
        int64_t c1 = v1_cycles_of(&net1, v1, l->hw.name);
        char c1s[24], ratio[16];
        if (c1 > 0) {
            snprintf(c1s, sizeof c1s, "%lld", (long long)c1);
            snprintf(ratio, sizeof ratio, "%.2f", (double)r.cycles / (double)c1);
        } else {
            snprintf(c1s, sizeof c1s, "host");
            snprintf(ratio, sizeof ratio, "-");
        }
        printf("%-16.16s %-24.24s %3d %3d %3s %-10s %7ld %10lld %10.2f %10s %6s\n", l->hw.name, shape,
               l->hw.wbits, l->hw.abits, l->hw.raw32 ? "32" : ob,
               bq_loop_order_name(plans[i].base.order), plans[i].window_max, (long long)r.cycles,
               r.us, c1s, ratio);
    }
    bq_latency whole;
    bq_program_reset(&pr);
    if (bq_v2_net_build(&pr, plans, mp, cfg, n, err, sizeof err) ||
        bq_latency_program(&whole, &pr, &plans[0].base, cfg, 1, err, sizeof err)) {
        bq_cli_error("latency", "%s", err);
        goto out;
    }
    if (whole.cycles != sum) {   /* docs/whole_network.md §11: the layers add up exactly */
        bq_cli_error("latency", "the whole program takes %lld cycles, its layers %lld; this is a "
                     "scheduler bug", (long long)whole.cycles, (long long)sum);
        goto out;
    }
    printf("%-16s %-24s %3s %3s %3s %-10s %7s %10lld %10.2f %10lld %6.2f  (one program, %llu bytes "
           "of memory)\n", "total", "", "", "", "", "", "", (long long)whole.cycles, whole.us,
           (long long)v1_total, (double)whole.cycles / (double)v1_total, (unsigned long long)mp->end);
    if (report) {   /* written to a temporary name and renamed, as the v1 report */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", report, (int)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f) {
            bq_cli_error("latency", "cannot write report %s", report);
            goto out;
        }
        fprintf(f, "{\n  \"model\": \"%s\",\n  \"hw\": \"%s\",\n  \"hw_hash\": \"%016llx\",\n"
                "  \"isa\": 2,\n  \"total_cycles\": %lld,\n  \"total_us\": %.3f,\n"
                "  \"v1_total_cycles\": %lld,\n"
                "  \"memory_bytes\": %llu,\n  \"layers\": [", model, cfg->name,
                (unsigned long long)cfg->hash, (long long)whole.cycles, whole.us,
                (long long)v1_total, (unsigned long long)mp->end);
        for (int i = 0; i < n; i++)   /* v1_cycles -1: the layer runs on the host in v1 (GAP) */
            fprintf(f, "%s\n    {\"name\": \"%s\", \"order\": \"%s\", \"window_bytes\": %ld, "
                    "\"cycles\": %lld, \"v1_cycles\": %lld}", i ? "," : "", ls[i].hw.name,
                    bq_loop_order_name(plans[i].base.order), plans[i].window_max, (long long)cyc[i],
                    (long long)v1_cycles_of(&net1, v1, ls[i].hw.name));
        fprintf(f, "\n  ]\n}\n");
        if (fclose(f) != 0 || rename(tmp, report) != 0) {
            remove(tmp);
            bq_cli_error("latency", "cannot write report %s", report);
            goto out;
        }
    }
    ret = 0;
out:
    bq_program_free(&pr);
    bq_hw_net_free(&net1);
    free(v1);
    free(ls);
    free(plans);
    free(mp);
    free(cyc);
    return ret;
}

int bq_cmd_latency(int argc, char **argv) {
    const char *model = NULL, *hw = NULL, *bits = NULL, *report = NULL, *v2 = NULL, *wbytes = NULL,
               *bchan = NULL;
    bq_cli_opt opts[] = {
        {"model", 1, &model, "model: .bqq, .bqm, .onnx, or fres20/mbv2t (geometry only)"},
        {"hw", 1, &hw, "accelerator config: configs/hw/<name>.yaml or <name>"},
        {"bits", 1, &bits, "bits.yaml (layer -> {wbits, abits}) applied before timing"},
        {"report", 1, &report, "write the per-layer table as JSON"},
        {"v2", 0, &v2, "the whole network as one ISA v2 program (docs/whole_network.md)"},
        {"window-bytes", 1, &wbytes, "with --v2: buffers.window_bytes of the config"},
        {"block-channels", 1, &bchan, "with --v2: buffers.block_channels of the config"},
    };
    int rc = bq_cli_parse(argc, argv, opts, 7, kUsage);
    if (rc) return rc == 1 ? 0 : 2;
    if (!model || !hw) {
        bq_cli_error("latency", "--model and --hw are required; %s", kUsage);
        return 2;
    }
    if (bq_cli_check_outputs("latency", opts, 7, "report", NULL)) return 2;
    if ((wbytes || bchan) && !v2) {
        bq_cli_error("latency", "--window-bytes and --block-channels go with --v2; %s", kUsage);
        return 2;
    }
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
    if (wbytes || bchan) {
        char *e1 = NULL, *e2 = NULL;
        if (wbytes) cfg.window_bytes = (int)strtol(wbytes, &e1, 10);
        if (bchan) cfg.block_channels = (int)strtol(bchan, &e2, 10);
        if ((e1 && *e1) || (e2 && *e2) || bq_hwcfg_validate(&cfg, err, sizeof err)) {
            bq_cli_error("latency", "--window-bytes %s / --block-channels %s: %s", wbytes ? wbytes : "-",
                         bchan ? bchan : "-", (e1 && *e1) || (e2 && *e2) ? "not integers" : err);
            return 2;
        }
        cfg.hash = bq_hwcfg_hash(&cfg);
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
    if (v2 || cfg.window_bytes > 0) {
        ret = latency_v2(model, &cfg, &q, report);
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
