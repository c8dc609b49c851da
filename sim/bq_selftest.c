/* bq_selftest.c — the package self-test driver (bq_selftest.h). Depends on the access layer, the
 * package reader (libc, zlib) and the generated register offsets only: this is what a board
 * driver without model code looks like (docs/bringup.md "The self-test driver"). */
#include "bq_selftest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bq_selftest_pkg.h"
#include "hw_params.h"

static const char *usage =
    "usage: selftest --package DIR [--out DIR] [--images N] [--layer NAME] [--max-cycles C] [-v]\n"
    "  replays the package's self-test vectors on the accelerator (version 2: layer by layer; version 3:\n"
    "  the whole network from one start per image) and compares\n"
    "  (docs/bringup.md \"The self-test driver\"); exit 0 pass, 1 mismatch, 2 input/setup error\n";

typedef struct {
    const char *pkg_dir, *out_dir, *layer;
    long images, max_cycles;
    int verbose;
} st_opts;

/* The first element that differed in a run. */
typedef struct {
    int valid, image, group, channel, y, x;
    char layer[64];
    long long expected, got;
} st_first;

typedef struct {
    int images, layer_runs;
    long mismatches;         /* output elements that differ from `out` */
    long bad_runs;           /* layer runs with any difference or a time-out */
    long pred_mismatches;    /* images whose argmax differs from tests[t].pred */
    long logit_mismatches;   /* classifier values that differ from tests[t].logits */
    long cycle_diffs;        /* layer runs whose CYCLES differs from `cycles` (ideal memory only) */
    long timeouts;
    long long sim_cycles;
    double wall_s;
    st_first first;
    long long *rtl_cycles;   /* [n_layers]: CYCLES of the last run of the layer, -1 not run */
    long *layer_mism;        /* [n_layers]: elements that differed, all images */
} st_stats;

static long long parse_num(const char *opt, const char *s, long long lo, long long hi, int *bad) {
    char *e;
    long long v = strtoll(s, &e, 10);
    if (!*s || *e || v < lo || v > hi) {
        fprintf(stderr, "selftest: %s '%s': must be an integer in [%lld, %lld]\n", opt, s, lo, hi);
        *bad = 1;
    }
    return v;
}

/* 0 ok, 1 --help, 2 usage error (printed). */
static int parse_args(int argc, char **argv, st_opts *o) {
    memset(o, 0, sizeof *o);
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--selftest") || k[0] == '+') continue;   /* the dispatcher's / the simulator's */
        if (!strcmp(k, "-v") || !strcmp(k, "--verbose")) { o->verbose = 1; continue; }
        if (!strcmp(k, "--help") || !strcmp(k, "-h")) { fputs(usage, stdout); return 1; }
        if (!v) { fprintf(stderr, "selftest: %s needs a value\n%s", k, usage); return 2; }
        if (!strcmp(k, "--package")) o->pkg_dir = v;
        else if (!strcmp(k, "--out")) o->out_dir = v;
        else if (!strcmp(k, "--layer")) o->layer = v;
        else if (!strcmp(k, "--images")) o->images = (long)parse_num(k, v, 1, 1000000, &bad);
        else if (!strcmp(k, "--max-cycles")) o->max_cycles = (long)parse_num(k, v, 1, 2000000000L, &bad);
        else { fprintf(stderr, "selftest: unknown option '%s'\n%s", k, usage); return 2; }
        i++;
    }
    if (bad) return 2;
    if (!o->pkg_dir) { fprintf(stderr, "selftest: --package DIR is required\n%s", usage); return 2; }
    return 0;
}

static uint32_t rd(const bq_acc *acc, uint32_t a) { return acc->ops->reg_read(acc->ctx, a); }

/* Bring-up step 2: is this the accelerator the package was exported for? */
static int identify(const bq_acc *acc, const bq_st_pkg *p) {
    struct { const char *name; uint32_t addr, want; } rows[] = {
        {"ID", BQ_HW_REG_ID, BQ_HW_ID_VALUE},
        {"VERSION", BQ_HW_REG_VERSION, BQ_HW_ISA_VERSION},
        {"DM", BQ_HW_REG_DM, (uint32_t)p->dm},
        {"DN", BQ_HW_REG_DN, (uint32_t)p->dn},
        {"DK", BQ_HW_REG_DK, (uint32_t)p->dk},
        {"MEM_WIDTH_BITS", BQ_HW_REG_MEM_WIDTH_BITS, (uint32_t)p->mem_width_bits},
        {"CONFIG_HASH_LO", BQ_HW_REG_CONFIG_HASH_LO, (uint32_t)p->hw_hash},
        {"CONFIG_HASH_HI", BQ_HW_REG_CONFIG_HASH_HI, (uint32_t)(p->hw_hash >> 32)},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint32_t v = rd(acc, rows[i].addr);
        if (v == rows[i].want) continue;
        if (i == 0)
            fprintf(stderr, "selftest: register ID (0x00) = 0x%08X, not 0x%08X \"BQA1\": this is not the accelerator; "
                    "check the register window (--dev, --reg-base)\n", v, rows[i].want);
        else
            fprintf(stderr, "selftest: register %s (0x%02X) = 0x%X, %s/manifest.json says 0x%X (hw '%s'); rebuild the "
                    "accelerator for this config or export the package for the accelerator's config\n",
                    rows[i].name, rows[i].addr, v, p->dir, rows[i].want, p->hw_name);
        return -1;
    }
    printf("selftest: accelerator ID 0x%08X, version %u, config hash %016llx = %s hw.hash ('%s'), %s backend, %s\n",
           rd(acc, BQ_HW_REG_ID), rd(acc, BQ_HW_REG_VERSION), (unsigned long long)p->hw_hash, p->dir, p->hw_name,
           acc->backend ? acc->backend : "?", acc->ideal_memory ? "ideal memory: CYCLES checked" :
           "not the ideal memory: CYCLES is information");
    return 0;
}

/* Bring-up step 3: every layer's weights and requant records at their addresses, once. */
static int load_constants(const bq_acc *acc, const bq_st_pkg *p) {
    for (int i = 0; i < p->n_layers; i++) {
        const bq_st_layer *L = &p->layers[i];
        if (acc->ops->mem_write(acc->ctx, L->addr[BQ_ST_W], p->weights + L->w.off, L->w.size) ||
            acc->ops->mem_write(acc->ctx, L->addr[BQ_ST_RQ], p->requant + L->rq.off, L->rq.size)) {
            fprintf(stderr, "selftest: layer '%s': writing its weights/requant records at 0x%llx/0x%llx failed; the "
                    "accelerator memory must hold the package's memory map (memory.bytes; --mem-size)\n", L->name,
                    (unsigned long long)L->addr[BQ_ST_W], (unsigned long long)L->addr[BQ_ST_RQ]);
            return -1;
        }
    }
    return 0;
}

/* Element (channel c, pixel px) of one group's output tiles (docs/hw_isa.md §2.3): tile (mt, nt)
 * at (nt*MT + mt) * tile bytes, element e = ni*Dm + mi; plane b holds bit b of every element. */
static long long tile_elem(const uint8_t *grp, const bq_st_pkg *p, const bq_st_layer *L, int c, int px) {
    size_t dm = (size_t)p->dm, dn = (size_t)p->dn, mt_n = (size_t)L->m_pad / dm;
    size_t tile = (size_t)px / dn * mt_n + (size_t)c / dm, e = (size_t)px % dn * dm + (size_t)c % dm;
    if (L->obits == 32) return (int32_t)bq_st_le32(grp + tile * 4 * dm * dn + 4 * e);
    const uint8_t *t0 = grp + tile * (size_t)L->obits * p->tpb;
    long long v = 0;
    for (int b = 0; b < L->obits; b++) v |= (long long)((t0[(size_t)b * p->tpb + e / 8] >> (e % 8)) & 1u) << b;
    return v;
}

/* Elements of the real M x N of every group that differ; the first one into st->first. */
static long compare_out(const uint8_t *got, const uint8_t *want, const bq_st_pkg *p, const bq_st_layer *L,
                        size_t gs, int image, st_stats *st, st_first *f) {
    long bad = 0;
    for (int g = 0; g < L->groups; g++)
        for (int c = 0; c < L->m; c++)
            for (int px = 0; px < L->n; px++) {
                long long e = tile_elem(want + (size_t)g * gs, p, L, c, px), v = tile_elem(got + (size_t)g * gs, p, L, c, px);
                if (e == v) continue;
                if (!bad++) {
                    *f = (st_first){1, image, g, g * L->m + c, px / L->wout, px % L->wout, "", e, v};
                    snprintf(f->layer, sizeof f->layer, "%s", L->name);
                }
            }
    if (bad && !st->first.valid) st->first = *f;
    return bad;
}

/* The documented prediction rule of `output` (docs/formats.md, numerics §4), in float32. */
static int argmax(const int32_t *acc0, const float *scale, int n) {
    int best = 0;
    float bv = (float)acc0[0] * scale[0];
    for (int c = 1; c < n; c++) {
        float v = (float)acc0[c] * scale[c];
        if (v > bv) { bv = v; best = c; }
    }
    return best;
}

/* Bring-up steps 4-7 for one layer: operands, 0xA5 output, programs, run, read back. Returns 0,
 * 1 time-out, -1 setup error (printed). *cycles: the CYCLES register after the run. */
static int run_layer(const bq_acc *acc, const bq_st_pkg *p, const bq_st_layer *L, const bq_st_tlayer *V,
                     uint8_t *obuf, int64_t limit, long long *cycles) {
    void *c = acc->ctx;
    size_t osz = (size_t)L->size[BQ_ST_OUT];
    memset(obuf, 0xA5, osz);   /* stale data must never pass for a result */
    if (acc->ops->mem_write(c, L->addr[BQ_ST_A], p->tests_bin + V->act.off, V->act.size) ||
        (V->res.size && acc->ops->mem_write(c, L->addr[BQ_ST_RES], p->tests_bin + V->res.off, V->res.size)) ||
        acc->ops->mem_write(c, L->addr[BQ_ST_OUT], obuf, osz)) {
        fprintf(stderr, "selftest: layer '%s': writing its operands failed; the accelerator memory must hold the "
                "package's memory map (memory.bytes; --mem-size)\n", L->name);
        return -1;
    }
    for (int s = 0; s < 3; s++)
        for (size_t k = 0; k < L->prog[s].size / 16; k++) {
            const uint8_t *b = p->programs + L->prog[s].off + 16 * k;
            uint32_t w[4] = {bq_st_le32(b), bq_st_le32(b + 4), bq_st_le32(b + 8), bq_st_le32(b + 12)};
            if (acc->ops->push(c, s, w)) { fprintf(stderr, "selftest: layer '%s': push to queue %d refused\n", L->name, s); return -1; }
        }
    int to = acc->ops->run(c, limit);
    *cycles = (long long)rd(acc, BQ_HW_REG_CYCLES);
    if (acc->ops->mem_read(c, L->addr[BQ_ST_OUT], obuf, osz)) {
        fprintf(stderr, "selftest: layer '%s': reading its output region failed\n", L->name);
        return -1;
    }
    return to ? 1 : 0;
}

/* The classifier's extra checks: its int32 values against tests[t].logits and the argmax rule. */
static void check_prediction(const uint8_t *obuf, const bq_st_pkg *p, const bq_st_test *T, int t, st_stats *st) {
    const bq_st_layer *L = &p->layers[p->out_layer];
    int32_t *acc0 = malloc(sizeof *acc0 * (size_t)p->classes);
    if (!acc0) return;
    long bad = 0;
    for (int c = 0; c < p->classes; c++) {
        acc0[c] = (int32_t)tile_elem(obuf, p, L, c, 0);
        bad += acc0[c] != T->logits[c];
    }
    int pred = argmax(acc0, p->logit_scale, p->classes);
    st->logit_mismatches += bad;
    if (pred != T->pred) {
        st->pred_mismatches++;
        printf("selftest: MISMATCH image %d (test #%d): the accelerator's logits give class %d, tests[%d].pred is %d\n",
               T->image, t, pred, t, T->pred);
    } else if (bad) {
        printf("selftest: MISMATCH image %d (test #%d): %ld logits differ from tests[%d].logits\n", T->image, t, bad, t);
    }
    free(acc0);
}

/* One layer run of test t: run, compare, cycles; prints per the verbosity. Returns -1 on a setup error. */
static int replay_step(const bq_acc *acc, const bq_st_pkg *p, const st_opts *o, int t, int s, uint8_t *obuf,
                       st_stats *st) {
    const bq_st_test *T = &p->tests[t];
    const bq_st_layer *L = &p->layers[p->steps[s]];
    const bq_st_tlayer *V = &T->layers[L->index];
    int64_t limit = o->max_cycles > 0 ? o->max_cycles
                  : acc->ideal_memory ? 4 * L->cycles + 100000 : 64 * L->cycles + 1000000;
    long long cyc;
    int r = run_layer(acc, p, L, V, obuf, limit, &cyc);
    if (r < 0) return -1;
    st->layer_runs++;
    st->sim_cycles += cyc;
    st->rtl_cycles[L->index] = cyc;
    st_first f = {0};
    long bad = r ? 0 : compare_out(obuf, p->tests_bin + V->out.off, p, L, V->out_gs, T->image, st, &f);
    int cdiff = !r && acc->ideal_memory && cyc != L->cycles;
    st->mismatches += bad;
    st->layer_mism[L->index] += bad;
    st->cycle_diffs += cdiff;
    st->timeouts += r;
    st->bad_runs += r || bad;
    if (r)
        printf("selftest: TIME-OUT image %d (test #%d) step %d/%d layer '%s': not done after %lld cycles (model %lld)\n",
               T->image, t, s + 1, p->n_steps, L->name, cyc, (long long)L->cycles);
    else if (bad)
        printf("selftest: MISMATCH image %d (test #%d) step %d/%d layer '%s': %ld of %lld elements differ from tests.bin "
               "'out'; first: channel %d, pixel (y %d, x %d), expected %lld, got %lld\n", T->image, t, s + 1, p->n_steps,
               L->name, bad, (long long)L->groups * L->m * L->n, f.channel, f.y, f.x, f.expected, f.got);
    if (cdiff)
        printf("selftest: CYCLES image %d layer '%s': %lld, the package's model says %lld (%+lld)\n", T->image, L->name,
               cyc, (long long)L->cycles, cyc - (long long)L->cycles);
    if (o->verbose && !r && !bad)
        printf("selftest: image %d (test #%d) step %d/%d layer '%s': %lld elements equal, CYCLES %lld (model %lld%s)\n",
               T->image, t, s + 1, p->n_steps, L->name, (long long)L->groups * L->m * L->n, cyc, (long long)L->cycles,
               acc->ideal_memory ? "" : ", information");
    if (!r && L->index == p->out_layer) check_prediction(obuf, p, T, t, st);
    return 0;
}

/* Version 3: the real bytes of tensor T (HWC: channels < c of every pixel; RAW32: the real words
 * of the tiles) that differ; the first one into st->first. */
static long compare_tensor(const uint8_t *got, const uint8_t *want, const bq_st_pkg *p, const bq_st_layer *L,
                           int image, st_stats *st) {
    const bq_st_tensor *T = &p->tensors[L->out_tensor];
    long bad = 0;
    for (int px = 0; px < T->h * T->w; px++)
        for (int c = 0; c < T->c; c++) {
            long long e, v;
            if (T->raw32) {
                e = tile_elem(want, p, L, c, px);
                v = tile_elem(got, p, L, c, px);
            } else {
                e = want[(size_t)px * (size_t)T->cs + (size_t)c];
                v = got[(size_t)px * (size_t)T->cs + (size_t)c];
            }
            if (e == v) continue;
            if (!bad++ && !st->first.valid) {
                st->first = (st_first){1, image, 0, c, px / T->w, px % T->w, "", e, v};
                snprintf(st->first.layer, sizeof st->first.layer, "%s", L->name);
            }
        }
    return bad;
}

/* Version 3, one image: the input tensor, 0xA5 in every output tensor, the whole program pushed,
 * one start; then every layer's output tensor read back and compared, CYCLES against `cycles`
 * (ideal memory), the classifier's logits and argmax. -1 on a setup error (printed). */
static int replay_image3(const bq_acc *acc, const bq_st_pkg *p, const st_opts *o, int t, uint8_t *buf,
                         st_stats *st) {
    void *c = acc->ctx;
    const bq_st_test *T = &p->tests[t];
    if (acc->ops->mem_write(c, p->tensors[0].addr, p->tests_bin + T->input.off, T->input.size)) goto mem;
    for (int i = 1; i < p->n_tensors; i++) {
        memset(buf, 0xA5, (size_t)p->tensors[i].bytes);   /* stale data must never pass for a result */
        if (acc->ops->mem_write(c, p->tensors[i].addr, buf, (size_t)p->tensors[i].bytes)) goto mem;
    }
    for (int s = 0; s < 3; s++)
        for (size_t k = 0; k < p->program[s].size / 16; k++) {
            const uint8_t *b = p->programs + p->program[s].off + 16 * k;
            uint32_t w[4] = {bq_st_le32(b), bq_st_le32(b + 4), bq_st_le32(b + 8), bq_st_le32(b + 12)};
            if (acc->ops->push(c, s, w)) { fprintf(stderr, "selftest: program: push to queue %d refused\n", s); return -1; }
        }
    int64_t limit = o->max_cycles > 0 ? o->max_cycles
                  : acc->ideal_memory ? 4 * p->cycles + 100000 : 64 * p->cycles + 1000000;
    int to = acc->ops->run(c, limit);
    long long cyc = (long long)rd(acc, BQ_HW_REG_CYCLES);
    st->layer_runs++;
    st->sim_cycles += cyc;
    if (to) {
        st->timeouts++;
        st->bad_runs++;
        printf("selftest: TIME-OUT image %d (test #%d): the whole program is not done after %lld cycles (model %lld)\n",
               T->image, t, cyc, (long long)p->cycles);
        return 0;
    }
    long img_bad = 0;
    for (int i = 0; i < p->n_layers; i++) {
        const bq_st_layer *L = &p->layers[i];
        if (o->layer && strcmp(o->layer, L->name)) continue;
        const bq_st_tensor *X = &p->tensors[L->out_tensor];
        if (acc->ops->mem_read(c, X->addr, buf, (size_t)X->bytes)) goto mem;
        long bad = compare_tensor(buf, p->tests_bin + T->layers[i].out.off, p, L, T->image, st);
        st->rtl_cycles[i] = 0;   /* compared (one start: no per-layer CYCLES) */
        st->layer_mism[i] += bad;
        st->mismatches += bad;
        img_bad += bad;
        if (bad)
            printf("selftest: MISMATCH image %d (test #%d) layer '%s': %ld of %lld real bytes of tensor '%s' differ "
                   "from tests.bin\n", T->image, t, L->name, bad, (long long)X->c * X->h * X->w * (X->raw32 ? 4 : 1),
                   X->name);
        else if (o->verbose)
            printf("selftest: image %d (test #%d) layer '%s': tensor '%s' equal (%d x %d x %d)\n", T->image, t, L->name,
                   X->name, X->c, X->h, X->w);
        if (i == p->out_layer) check_prediction(buf, p, T, t, st);
    }
    st->bad_runs += img_bad > 0;
    int cdiff = acc->ideal_memory && cyc != p->cycles;
    st->cycle_diffs += cdiff;
    printf("selftest: image %d (test #%d): one start, CYCLES %lld (package %lld%s)%s\n", T->image, t, cyc,
           (long long)p->cycles, acc->ideal_memory ? "" : ", information", cdiff ? " DIFFERS" : "");
    return 0;
mem:
    fprintf(stderr, "selftest: image %d: writing or reading a tensor failed; the accelerator memory must hold the "
            "package's memory map (memory.bytes; --mem-size)\n", T->image);
    return -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int replay_all3(const bq_acc *acc, const bq_st_pkg *p, const st_opts *o, st_stats *st) {
    size_t omax = 0;
    for (int i = 0; i < p->n_tensors; i++)
        if (p->tensors[i].bytes > omax) omax = (size_t)p->tensors[i].bytes;
    uint8_t *buf = malloc(omax);
    if (!buf) { fprintf(stderr, "selftest: out of memory\n"); return -1; }
    int n_img = o->images > 0 && o->images < p->n_tests ? (int)o->images : p->n_tests, rc = 0;
    double t0 = now_s();
    for (int t = 0; t < n_img && !rc; t++, st->images++) rc = replay_image3(acc, p, o, t, buf, st);
    st->wall_s = now_s() - t0;
    free(buf);
    return rc;
}

static int replay_all(const bq_acc *acc, const bq_st_pkg *p, const st_opts *o, st_stats *st) {
    if (p->version == 3) return replay_all3(acc, p, o, st);
    size_t omax = 0;
    for (int i = 0; i < p->n_layers; i++)
        if (p->layers[i].size[BQ_ST_OUT] > omax) omax = (size_t)p->layers[i].size[BQ_ST_OUT];
    uint8_t *obuf = malloc(omax ? omax : 1);
    if (!obuf) { fprintf(stderr, "selftest: out of memory\n"); return -1; }
    int n_img = o->images > 0 && o->images < p->n_tests ? (int)o->images : p->n_tests, rc = 0;
    double t0 = now_s();
    for (int t = 0; t < n_img && !rc; t++) {
        for (int s = 0; s < p->n_steps && !rc; s++)
            if (!o->layer || !strcmp(o->layer, p->layers[p->steps[s]].name)) rc = replay_step(acc, p, o, t, s, obuf, st);
        st->images++;
    }
    st->wall_s = now_s() - t0;
    free(obuf);
    return rc;
}

/* DIR/selftest.json, written to a temporary name and renamed (never half-written). */
static int write_report(const char *dir, const bq_st_pkg *p, const bq_acc *acc, const st_stats *st, int n_layers_run,
                        int pass) {
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/selftest.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) { fprintf(stderr, "selftest: %s: cannot write; --out must be an existing directory\n", tmp); return -1; }
    fprintf(f, "{\n  \"format\": \"brecq-selftest\", \"version\": 1, \"package\": \"%s\", \"hw\": \"%s\", "
            "\"hw_hash\": \"%016llx\",\n  \"backend\": \"%s\", \"cycles_checked\": %s, \"images\": %d, \"layers\": %d, "
            "\"layer_runs\": %d,\n  \"mismatches\": %ld, \"bad_layer_runs\": %ld, \"logit_mismatches\": %ld, "
            "\"pred_mismatches\": %ld, \"cycle_differences\": %ld, \"timeouts\": %ld,\n  \"sim_cycles\": %lld, "
            "\"wall_s\": %.3f, \"pass\": %s, \"package_version\": %d, \"package_cycles\": %lld,\n", p->dir, p->hw_name, (unsigned long long)p->hw_hash,
            acc->backend ? acc->backend : "?", acc->ideal_memory ? "true" : "false", st->images, n_layers_run,
            st->layer_runs, st->mismatches, st->bad_runs, st->logit_mismatches, st->pred_mismatches, st->cycle_diffs,
            st->timeouts, st->sim_cycles, st->wall_s, pass ? "true" : "false", p->version,
            p->version == 3 ? (long long)p->cycles : -1LL);
    const st_first *m = &st->first;
    if (m->valid)
        fprintf(f, "  \"first_mismatch\": {\"image\": %d, \"layer\": \"%s\", \"group\": %d, \"channel\": %d, \"y\": %d, "
                "\"x\": %d, \"expected\": %lld, \"got\": %lld},\n", m->image, m->layer, m->group, m->channel, m->y, m->x,
                m->expected, m->got);
    else
        fputs("  \"first_mismatch\": null,\n", f);
    fputs("  \"per_layer\": [", f);
    for (int s = 0, k = 0; s < p->n_steps; s++) {
        const bq_st_layer *L = &p->layers[p->steps[s]];
        if (st->rtl_cycles[L->index] < 0) continue;
        if (p->version == 3)   /* one start per image: CYCLES is the whole program's (top level) */
            fprintf(f, "%s\n    {\"name\": \"%s\", \"model_cycles\": %lld, \"cycles\": null, \"mismatches\": %ld}",
                    k++ ? "," : "", L->name, (long long)L->cycles, st->layer_mism[L->index]);
        else
            fprintf(f, "%s\n    {\"name\": \"%s\", \"model_cycles\": %lld, \"cycles\": %lld, \"mismatches\": %ld}",
                    k++ ? "," : "", L->name, (long long)L->cycles, st->rtl_cycles[L->index], st->layer_mism[L->index]);
    }
    fputs("\n  ]\n}\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        fprintf(stderr, "selftest: %s: write failed; check the disk\n", path);
        return -1;
    }
    return 0;
}

/* Layers that ran (--layer can narrow it; unknown names are an error). */
static int layers_to_run(const bq_st_pkg *p, const st_opts *o) {
    if (!o->layer) return p->n_steps;
    for (int s = 0; s < p->n_steps; s++)
        if (!strcmp(o->layer, p->layers[p->steps[s]].name)) return 1;
    fprintf(stderr, "selftest: --layer '%s': no accelerator step of that name in %s/manifest.json\n", o->layer, p->dir);
    return -1;
}

int bq_selftest_main(int argc, char **argv, const bq_acc *acc) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    st_opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : 2;
    char err[768];
    bq_st_pkg p;
    if (bq_st_pkg_load(&p, o.pkg_dir, err, sizeof err)) { fprintf(stderr, "selftest: %s\n", err); return 2; }
    st_stats st;
    memset(&st, 0, sizeof st);
    st.rtl_cycles = malloc(sizeof *st.rtl_cycles * (size_t)p.n_layers);
    st.layer_mism = calloc((size_t)p.n_layers, sizeof *st.layer_mism);
    int rc = 2, nl = layers_to_run(&p, &o);
    if (!st.rtl_cycles || !st.layer_mism) { fprintf(stderr, "selftest: out of memory\n"); goto out; }
    for (int i = 0; i < p.n_layers; i++) st.rtl_cycles[i] = -1;
    if (nl < 0 || identify(acc, &p) || load_constants(acc, &p) || replay_all(acc, &p, &o, &st)) goto out;
    int pass = !st.mismatches && !st.timeouts && !st.cycle_diffs && !st.pred_mismatches && !st.logit_mismatches;
    if (o.out_dir && write_report(o.out_dir, &p, acc, &st, nl, pass)) goto out;
    printf("selftest: %d images x %d layers: %ld mismatches, %ld cycle differences%s; %ld predictions and %ld logits "
           "differ, %ld time-outs; %lld cycles in %.1f s -> %s\n", st.images, nl, st.mismatches, st.cycle_diffs,
           acc->ideal_memory ? "" : " (not checked: not the ideal memory)", st.pred_mismatches, st.logit_mismatches,
           st.timeouts, st.sim_cycles, st.wall_s, pass ? "PASS" : "FAIL");
    rc = pass ? 0 : 1;
out:
    free(st.rtl_cycles);
    free(st.layer_mism);
    bq_st_pkg_free(&p);
    return rc;
}
