/*
 * bench_hwmodel — time to build the [layer][wbits][abits] cost table and allocation scores per
 * second, for fres20- and mbv2t-shaped layer lists (GEMM shapes hard-coded from the built-in
 * architectures of sw/nn/arch.c, 1x28x28 input) on every accelerator config given.
 * Also reports the error of the table's output/residual-bits fold against exact dry runs.
 *
 *   build/bench_hwmodel configs/hw/tiny.yaml configs/hw/edge.yaml --json build/bench/hwmodel.json
 */
#include "bench_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "costtab.h"

#define RUNS 5

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int add_conv(bq_hw_net *net, const char *name, int cin, int cout, int k, int hout,
                    int groups, int in_q, int out_q, int res_q) {
    bq_hw_layer l;
    char err[256];
    if (bq_hw_layer_conv(&l, name, cin, cout, k, k, hout, hout, groups, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return bq_hw_net_add(net, &l, in_q, out_q, res_q);
}

/* fres20: stem, 3 stages x 3 basic blocks (16/32/64 ch; 28, 14, 7 px), 1x1 downsample shortcuts
 * quantized to 8 bits (-1), linear 64 -> 10 (RAW32). Quantizer q = block outputs and mids. */
static void build_fres20(bq_hw_net *net) {
    int q = 0, x = q++;   /* stem output quantizer */
    add_conv(net, "stem", 1, 16, 3, 28, 1, -1, x, -1);
    const int widths[3] = {16, 32, 64}, hw[3] = {28, 14, 7};
    int cin = 16;
    for (int s = 0; s < 3; s++)
        for (int b = 0; b < 3; b++) {
            char nm[48];
            int cout = widths[s], down = s > 0 && b == 0;
            int mid = q++, out = q++;
            snprintf(nm, sizeof nm, "s%db%d_conv1", s + 1, b + 1);
            add_conv(net, nm, cin, cout, 3, hw[s], 1, x, mid, -1);
            int res = x;
            if (down) {
                snprintf(nm, sizeof nm, "s%db%d_down", s + 1, b + 1);
                add_conv(net, nm, cin, cout, 1, hw[s], 1, x, -1, -1);
                res = -1;   /* shortcut quantizer: 8 bits */
            }
            snprintf(nm, sizeof nm, "s%db%d_conv2", s + 1, b + 1);
            int i = add_conv(net, nm, cout, cout, 3, hw[s], 1, mid, out, res);
            net->layers[i].has_residual = 1;
            net->res_q[i] = res;
            x = out;
            cin = cout;
        }
    bq_hw_layer fc;
    char err[256];
    bq_hw_layer_linear(&fc, "fc", 64, 10, err, sizeof err);
    fc.raw32 = 1;
    bq_hw_net_add(net, &fc, x, -1, -1);
}

/* mbv2t: stem 1->16; 8 inverted-residual blocks (t, c, s) with 1x1 expand, 3x3 depthwise,
 * 1x1 project (+ residual when s = 1 and cin = cout); head 1x1 96->256 at 7x7; linear 256->10. */
static void build_mbv2t(bq_hw_net *net) {
    static const int cfg[8][3] = {{1, 16, 1}, {4, 24, 2}, {4, 24, 1}, {4, 32, 2},
                                  {4, 32, 1}, {4, 64, 1}, {4, 64, 1}, {4, 96, 1}};
    int q = 0, x = q++;
    add_conv(net, "stem", 1, 16, 3, 28, 1, -1, x, -1);
    int cin = 16, h = 28;
    for (int b = 0; b < 8; b++) {
        int t = cfg[b][0], cout = cfg[b][1], s = cfg[b][2], hidden = cin * t;
        char nm[48];
        int y = x;
        if (t != 1) {
            int e = q++;
            snprintf(nm, sizeof nm, "b%d_expand", b + 1);
            add_conv(net, nm, cin, hidden, 1, h, 1, y, e, -1);
            y = e;
        }
        int ho = h / s, d = q++, o = q++;
        snprintf(nm, sizeof nm, "b%d_dw", b + 1);
        add_conv(net, nm, hidden, hidden, 3, ho, hidden, y, d, -1);
        snprintf(nm, sizeof nm, "b%d_project", b + 1);
        int res = (s == 1 && cin == cout) ? x : -2;
        int i = add_conv(net, nm, hidden, cout, 1, ho, 1, d, o, res >= -1 ? res : -1);
        if (res != -2) {
            net->layers[i].has_residual = 1;
            net->res_q[i] = res;
        } else {
            net->layers[i].has_residual = 0;
            net->res_q[i] = -1;
        }
        x = o;
        cin = cout;
        h = ho;
    }
    int hq = q++;
    add_conv(net, "head", 96, 256, 1, 7, 1, x, hq, -1);
    bq_hw_layer fc;
    char err[256];
    bq_hw_layer_linear(&fc, "fc", 256, 10, err, sizeof err);
    fc.raw32 = 1;
    bq_hw_net_add(net, &fc, hq, -1, -1);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static int rbits(void) {
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return 2 + (int)((rng * 2685821657736338717ULL) >> 61) % 7;   /* 2..8 */
}

int main(int argc, char **argv) {
    const char *json = NULL, *cfgs[8];
    int ncfg = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else if (ncfg < 8) cfgs[ncfg++] = argv[i];
    }
    if (!ncfg) {
        fprintf(stderr, "usage: bench_hwmodel CONFIG.yaml... [--json OUT]\n");
        return 2;
    }
    FILE *jf = NULL;
    if (json) {
        jf = fopen(json, "w");
        if (!jf) {
            fprintf(stderr, "bench_hwmodel: cannot write %s\n", json);
            return 1;
        }
        double la[3] = {0, 0, 0};
        FILE *lf = fopen("/proc/loadavg", "r");
        if (lf) {
            if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = -1;
            fclose(lf);
        }
        fprintf(jf, "{\n  \"bench\": \"hwmodel\",\n  \"runs\": %d,\n  \"loadavg_1min\": %.2f,\n"
                "  \"note\": \"medians of %d runs; *_cpu_* use the thread CPU clock (less sensitive "
                "to other processes on the machine)\",\n  \"results\": [", RUNS, la[0], RUNS);
    }
    printf("%-7s %-5s %6s %9s %9s %11s %11s %9s %10s %7s %10s %10s %10s\n", "net", "hw",
           "layers", "table_ms", "tab_cpu", "scores/s", "scores/cpu", "fold_max%", "fold_mean%",
           "conserv", "W8A8_cyc", "W4A4_cyc", "W2A2_cyc");
    int first = 1, fail = 0;
    for (int c = 0; c < ncfg; c++) {
        bq_hwcfg cfg;
        char err[512];
        if (bq_hwcfg_load(&cfg, cfgs[c], err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        for (int ni = 0; ni < 2; ni++) {
            bq_hw_net net;
            bq_hw_net_init(&net, 32);
            const char *nname = ni == 0 ? "fres20" : "mbv2t";
            if (ni == 0) build_fres20(&net);
            else build_mbv2t(&net);
            /* 1. table build time */
            double tb[RUNS], tbc[RUNS];
            bq_costtab t;
            for (int r = 0; r < RUNS; r++) {
                double t0 = now(), c0 = cpu_now();
                if (bq_costtab_build(&t, &cfg, &net, err, sizeof err)) {
                    fprintf(stderr, "%s\n", err);
                    return 1;
                }
                tb[r] = (now() - t0) * 1e3;
                tbc[r] = (cpu_now() - c0) * 1e3;
                if (r < RUNS - 1) bq_costtab_free(&t);
            }
            double build_ms = bench_median(tb, RUNS), build_cpu_ms = bench_median(tbc, RUNS);
            /* 2. scores per second over a pool of random allocations */
            enum { POOL = 4096 };
            uint8_t *wb = malloc((size_t)POOL * net.n), *qb = malloc((size_t)POOL * net.nq);
            for (int i = 0; i < POOL * net.n; i++) wb[i] = (uint8_t)rbits();
            for (int i = 0; i < POOL * net.nq; i++) qb[i] = (uint8_t)rbits();
            double rate[RUNS], ratec[RUNS];
            volatile int64_t sink = 0;
            for (int r = 0; r < RUNS; r++) {
                long count = 0;
                double t0 = now(), c0 = cpu_now(), el;
                do {
                    int64_t acc = 0;
                    for (int i = 0; i < POOL; i++)
                        acc += bq_costtab_score(&t, wb + (size_t)i * net.n, qb + (size_t)i * net.nq);
                    sink += acc;
                    count += POOL;
                    el = now() - t0;
                } while (el < 0.1);
                rate[r] = count / el;
                ratec[r] = count / (cpu_now() - c0);
            }
            double sps = bench_median(rate, RUNS), sps_cpu = bench_median(ratec, RUNS);
            /* 3. fold error against exact dry runs */
            double emax = 0, esum = 0;
            int cons = 0, nerr = 100;
            for (int i = 0; i < nerr; i++) {
                const uint8_t *w = wb + (size_t)i * net.n, *q = qb + (size_t)i * net.nq;
                bq_hw_net_apply(&net, w, q);
                int64_t ex = bq_hw_net_latency(&net, &cfg, NULL, err, sizeof err);
                if (ex < 0) {
                    fprintf(stderr, "%s\n", err);
                    return 1;
                }
                int64_t tab = bq_costtab_score(&t, w, q);
                double e = (double)(tab - ex) / (double)ex;
                if (e < 0 ? -e > emax : e > emax) emax = e < 0 ? -e : e;
                esum += e < 0 ? -e : e;
                cons += tab >= ex;
            }
            /* 4. uniform allocations, exact */
            int64_t uni[3];
            const int ub[3] = {8, 4, 2};
            uint8_t *w1 = malloc((size_t)net.n), *q1 = malloc((size_t)net.nq);
            for (int u = 0; u < 3; u++) {
                memset(w1, ub[u], (size_t)net.n);
                memset(q1, ub[u], (size_t)net.nq);
                bq_hw_net_apply(&net, w1, q1);
                uni[u] = bq_hw_net_latency(&net, &cfg, NULL, err, sizeof err);
                int64_t tab = bq_costtab_score(&t, w1, q1);
                if (u == 0 && tab != uni[u]) {   /* at W8A8 the fold is exact by construction */
                    fprintf(stderr, "bench_hwmodel: table %lld != exact %lld at W8A8\n",
                            (long long)tab, (long long)uni[u]);
                    fail = 1;
                }
            }
            printf("%-7s %-5s %6d %9.2f %9.2f %11.3g %11.3g %9.3f %10.3f %6d%% %10lld %10lld %10lld"
                   "\n", nname, cfg.name, net.n, build_ms, build_cpu_ms, sps, sps_cpu, 100 * emax,
                   100 * esum / nerr, cons * 100 / nerr, (long long)uni[0], (long long)uni[1],
                   (long long)uni[2]);
            if (jf) {
                fprintf(jf, "%s\n    {\"net\": \"%s\", \"hw\": \"%s\", \"hw_hash\": \"%016llx\", "
                        "\"layers\": %d, \"table_build_ms_median\": %.3f, \"table_build_cpu_ms_median\": %.3f, "
                        "\"scores_per_s_median\": %.0f, \"scores_per_cpu_s_median\": %.0f, "
                        "\"fold_err_max\": %.5f, "
                        "\"fold_err_mean\": %.5f, \"fold_conservative_frac\": %.2f, "
                        "\"uniform_cycles\": {\"w8a8\": %lld, \"w4a4\": %lld, \"w2a2\": %lld}, "
                        "\"clock_mhz\": %g, \"targets\": {\"table_ms\": 50, "
                        "\"scores_per_s\": 10000000}}",
                        first ? "" : ",", nname, cfg.name, (unsigned long long)cfg.hash, net.n,
                        build_ms, build_cpu_ms, sps, sps_cpu, emax, esum / nerr, (double)cons / nerr, (long long)uni[0],
                        (long long)uni[1], (long long)uni[2], cfg.clock_mhz);
                first = 0;
            }
            (void)sink;
            free(w1);
            free(q1);
            free(wb);
            free(qb);
            bq_costtab_free(&t);
            bq_hw_net_free(&net);
        }
    }
    if (jf) {
        fprintf(jf, "\n  ]\n}\n");
        fclose(jf);
    }
    return fail;
}
