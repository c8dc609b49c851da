/* bq_cosim.c — host driver of the co-simulation (bq_cosim.h). */
#include "bq_cosim.h"
#include "core/errmsg.h"
#include "core/progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hw_params.h"   /* register map generated from the same YAML (build/gen/<cfg>/) */
#include "quant/intref.h"
#include "isa.h"
#include "latency.h"
#include "io/pack.h"
#include "lower/lower.h"
#include "bq_cosim_v2.h"

_Static_assert(BQ_HW_REG_MEM_WR_BEATS == BQ_HW_REG_CYCLES + 4 * (BQ_NCTR - 1),
               "the compared counters are consecutive registers from CYCLES");

const char *const bq_ctr_names[BQ_NCTR] = {
    "cycles", "f_busy", "f_idle", "f_stall", "e_busy", "e_idle", "e_stall",
    "r_busy", "r_idle", "r_stall", "e_beats", "mem_rd_beats", "mem_wr_beats"};

#define REC_BYTES 16

void bq_cosim_opts_default(bq_cosim_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_cycles = 0;   /* auto: 4x the latency model's cycles + 100000 */
}

int bq_cosim_check_regs(const bq_acc *acc, const bq_hwcfg *cfg, const char *cfg_path, char *err,
                        size_t errlen) {
    struct { const char *name; uint32_t addr; uint32_t want; } rows[] = {
        {"ID", BQ_HW_REG_ID, BQ_HW_ID_VALUE},
        {"VERSION", BQ_HW_REG_VERSION, (uint32_t)bq_hwcfg_isa_version(cfg)},
        {"DM", BQ_HW_REG_DM, (uint32_t)cfg->dm},
        {"DN", BQ_HW_REG_DN, (uint32_t)cfg->dn},
        {"DK", BQ_HW_REG_DK, (uint32_t)cfg->dk},
        {"ACC_BITS", BQ_HW_REG_ACC_BITS, (uint32_t)cfg->acc_bits},
        {"WEIGHT_DEPTH", BQ_HW_REG_WEIGHT_DEPTH, (uint32_t)cfg->weight_depth},
        {"ACT_DEPTH", BQ_HW_REG_ACT_DEPTH, (uint32_t)cfg->act_depth},
        {"REQUANT_DEPTH", BQ_HW_REG_REQUANT_DEPTH, (uint32_t)cfg->requant_depth},
        {"MEM_WIDTH_BITS", BQ_HW_REG_MEM_WIDTH_BITS, (uint32_t)cfg->mem_width_bits},
        {"RES_LANES", BQ_HW_REG_RES_LANES, (uint32_t)cfg->res_lanes},
        {"CONFIG_HASH_LO", BQ_HW_REG_CONFIG_HASH_LO, (uint32_t)cfg->hash},
        {"CONFIG_HASH_HI", BQ_HW_REG_CONFIG_HASH_HI, (uint32_t)(cfg->hash >> 32)},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint32_t v = acc->ops->reg_read(acc->ctx, rows[i].addr);
        if (v != rows[i].want) {
            bq_seterr(err, errlen,
                   "%s: register %s (0x%02X) = 0x%X, the config says 0x%X; rebuild the simulator "
                   "for this config (make cosim HW=%s) or pass the YAML it was built from",
                   cfg_path, rows[i].name, rows[i].addr, v, rows[i].want, cfg->name);
            return -1;
        }
    }
    return 0;
}

/* ---- one accelerator layer, prepared once, run per image ---- */
typedef struct {
    const bq_ilayer *L;
    bq_hw_layer hl;
    bq_sched_plan plan;
    bq_pack_geom geom;
    bq_sched_addr ad;
    uint64_t w_bytes, a_bytes, rq_bytes, r_bytes, o_bytes;
    uint32_t *words[BQ_NSTAGES];   /* encoded program, 4 words per instruction */
    int len[BQ_NSTAGES];
    int64_t model[BQ_NCTR];
    uint8_t *abuf, *obuf, *rbuf;   /* scratch: packed activations / outputs / residual */
    int32_t *col, *y;              /* scratch: (K, N) and (M, N) int32 */
    char pkg_diff[160];            /* the first difference package / driver's lowering, "" none */
    int fault_applied;             /* opts.fault flipped a bit of this layer */
} prep_layer;

static void prep_free(prep_layer *P) {
    for (int s = 0; s < BQ_NSTAGES; s++) free(P->words[s]);
    free(P->abuf); free(P->obuf); free(P->rbuf); free(P->col); free(P->y);
    memset(P, 0, sizeof *P);
}

/* Returns 1 if the bit is inside the buffer (and flipped), else 0. */
static int flip_bit(uint8_t *buf, uint64_t n, long bit) {
    if (bit < 0 || (uint64_t)bit / 8 >= n) return 0;
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    return 1;
}

/* Note the first difference of a layer between the package and the driver's own lowering. */
static void note_diff(prep_layer *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_diff(prep_layer *P, const char *fmt, ...) {
    if (P->pkg_diff[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->pkg_diff, sizeof P->pkg_diff, fmt, ap);
    va_end(ap);
}

/* With a package the accelerator gets the package's bytes at the package's addresses, as on a
 * board. Where they differ from the driver's own packing and lowering is noted (P->pkg_diff); the
 * run goes on, so the RTL's outputs against the integer reference show what the difference does.
 * -1 only when the driver cannot run the layer from the package: the layer is missing, or its
 * group or region sizes differ from the packing the driver uses for the activations. */
static int use_package_bytes(prep_layer *P, const bq_ilayer *L, const bq_pkg *pkg, const char *name,
                             uint8_t *wbuf, uint8_t *rqbuf, char *err, size_t errlen) {
    static const char *const region[5] = {"w", "a", "rq", "res", "out"};
    const int G = L->groups;
    const size_t wg = P->w_bytes / (uint64_t)G, rb = (size_t)REC_BYTES * P->plan.m_pad;
    const uint64_t size[5] = {P->w_bytes, P->a_bytes, P->rq_bytes, P->r_bytes, P->o_bytes};
    uint32_t *addr[5] = {&P->ad.w, &P->ad.a, &P->ad.rq, &P->ad.res, &P->ad.out};
    const bq_pkg_layer *K = bq_pkg_find(pkg, name);
    const char *why = NULL;
    if (!K) why = "is not in the package";
    else if (K->w_gs < wg || K->rq_gs < rb || K->w_size < K->w_gs * (size_t)(G - 1) + wg ||
             K->rq_size < K->rq_gs * (size_t)(G - 1) + rb)
        why = "has weight or requant group sizes that differ from this config's packing";
    for (int r = 0; K && !why && r < 5; r++)
        if (K->size[r] != size[r]) why = "has memory-map region sizes that differ from this config's packing";
    if (why) {
        bq_seterr(err, errlen, "%s/manifest.json: layer '%s' %s; re-export the package from this .bqq "
                  "and config", pkg->dir, name, why);
        return -1;
    }
    for (int r = 0; r < 5; r++) {
        if (K->addr[r] != *addr[r])
            note_diff(P, "memory map: %s_addr %zu, the driver's lowering %llu", region[r], K->addr[r],
                      (unsigned long long)*addr[r]);
        *addr[r] = (uint32_t)K->addr[r];   /* bq_export_check: inside memory.bytes */
    }
    for (int g = 0; g < G; g++) {
        const uint8_t *pw = pkg->weights + K->w_off + (size_t)g * K->w_gs;
        const uint8_t *pr = pkg->requant + K->rq_off + (size_t)g * K->rq_gs;
        for (size_t i = 0; i < wg; i++)
            if (pw[i] != wbuf[(size_t)g * wg + i]) { note_diff(P, "weights: group %d byte %zu", g, i); break; }
        /* RAW32 writes acc0: only bias_eff (bytes 0..3) and z_w (byte 12) are used */
        for (size_t i = 0; i < rb; i++)
            if ((!L->raw32 || i % REC_BYTES < 4 || i % REC_BYTES == 12) && pr[i] != rqbuf[(size_t)g * rb + i]) {
                note_diff(P, "requant: group %d byte %zu", g, i);
                break;
            }
        memcpy(wbuf + (size_t)g * wg, pw, wg);
        memcpy(rqbuf + (size_t)g * rb, pr, rb);
    }
    return 0;
}

/* The package's three programs replace the driver's (P->words); a difference is noted. */
static int use_package_programs(prep_layer *P, const bq_pkg *pkg, const char *name, char *err, size_t errlen) {
    const bq_pkg_layer *K = bq_pkg_find(pkg, name);
    for (int s = 0; s < BQ_NSTAGES; s++) {
        size_t n = 4 * K->prog_len[s];
        uint32_t *w = malloc(sizeof(uint32_t) * (n ? n : 1));
        if (!w) { bq_seterr(err, errlen, "out of memory"); return -1; }
        for (size_t i = 0; i < n; i++) w[i] = bq_st_le32(pkg->programs + K->prog_off[s] + 4 * i);
        if (K->prog_len[s] != (size_t)P->len[s])
            note_diff(P, "programs: queue %d has %zu instructions, the driver's lowering %d", s,
                      K->prog_len[s], P->len[s]);
        for (size_t i = 0; i < n && (size_t)P->len[s] == K->prog_len[s]; i++)
            if (w[i] != P->words[s][i]) { note_diff(P, "programs: queue %d instruction %zu", s, i / 4); break; }
        free(P->words[s]);
        P->words[s] = w;
        P->len[s] = (int)K->prog_len[s];
    }
    return 0;
}

/* Take the layer's lowering (plan, memory map, programs, model counters: sw/lower/lower.h);
 * pack weights and requant records into memory at its addresses. */
static int prep_layer_init(prep_layer *P, const bq_acc *acc, const bq_ilayer *L,
                           const bq_lower_acc *A, const bq_cosim_opts *o, const char *name,
                           char *err, size_t errlen) {
    memset(P, 0, sizeof *P);
    P->L = L;
    P->hl = A->hl;
    P->plan = A->plan;
    P->geom = A->geom;
    P->ad = A->ad;
    P->w_bytes = A->w_bytes; P->a_bytes = A->a_bytes; P->o_bytes = A->o_bytes;
    P->r_bytes = A->r_bytes; P->rq_bytes = A->rq_bytes;
    const bq_sched_plan *p = &P->plan;
    const int G = L->groups;
    const uint64_t wg = P->w_bytes / (uint64_t)G;
    /* weights and requant records, written once */
    uint8_t *wbuf = calloc(1, P->w_bytes), *rqbuf = calloc(1, P->rq_bytes);
    P->abuf = calloc(1, P->a_bytes);
    P->obuf = calloc(1, P->o_bytes);
    P->rbuf = P->r_bytes ? calloc(1, P->r_bytes) : NULL;
    P->col = malloc(sizeof(int32_t) * (size_t)L->K * L->N);
    P->y = malloc(sizeof(int32_t) * (size_t)L->M * L->N);
    if (!wbuf || !rqbuf || !P->abuf || !P->obuf || (P->r_bytes && !P->rbuf) || !P->col || !P->y) {
        free(wbuf); free(rqbuf);
        bq_seterr(err, errlen, "layer '%s': out of memory", name);
        return -1;
    }
    for (int g = 0; g < G; g++) {
        bq_pack_weights(wbuf + (size_t)g * wg, L->codes + (size_t)g * L->M * L->K, &P->geom, L->wbits);
        bq_lower_pack_requant(rqbuf + (size_t)REC_BYTES * g * p->m_pad, L, g, p->m_pad);
    }
    if (o->pkg && use_package_bytes(P, L, o->pkg, name, wbuf, rqbuf, err, errlen)) {
        free(wbuf); free(rqbuf);
        return -1;
    }
    int fault_here = o->fault != BQ_FAULT_NONE && !strcmp(o->fault_layer, name);
    if (fault_here && o->fault == BQ_FAULT_WEIGHT) P->fault_applied = flip_bit(wbuf, wg, o->fault_bit);
    if (fault_here && o->fault == BQ_FAULT_REQUANT) P->fault_applied = flip_bit(rqbuf, P->rq_bytes, o->fault_bit);
    int rc = acc->ops->mem_write(acc->ctx, P->ad.w, wbuf, P->w_bytes) ||
             acc->ops->mem_write(acc->ctx, P->ad.rq, rqbuf, P->rq_bytes);
    free(wbuf); free(rqbuf);
    if (rc) { bq_seterr(err, errlen, "layer '%s': memory write failed", name); return -1; }

    /* the lowering's program and its dry run by the latency model (the counters to compare); with
     * a package, the package's programs replace the words below */
    const bq_latency *lat = &A->lat;
    int64_t m[BQ_NCTR] = {lat->cycles, lat->busy[0], lat->idle[0], lat->stall[0], lat->busy[1],
                          lat->idle[1], lat->stall[1], lat->busy[2], lat->idle[2], lat->stall[2],
                          lat->e_beats, lat->rd_beats, lat->wr_beats};
    memcpy(P->model, m, sizeof m);
    for (int s = 0; s < BQ_NSTAGES; s++) {
        P->len[s] = A->len[s];
        P->words[s] = malloc(sizeof(uint32_t) * 4 * (size_t)(A->len[s] ? A->len[s] : 1));
        if (!P->words[s]) { bq_seterr(err, errlen, "out of memory"); return -1; }
        memcpy(P->words[s], A->words[s], sizeof(uint32_t) * 4 * (size_t)A->len[s]);
    }
    if (o->pkg && use_package_programs(P, o->pkg, name, err, errlen)) return -1;
    if (fault_here && o->fault == BQ_FAULT_INSTR && P->len[BQ_STAGE_EXEC] > 0 &&
        o->fault_bit >= 0 && o->fault_bit < 128) {
        P->words[BQ_STAGE_EXEC][o->fault_bit / 32] ^= 1u << (o->fault_bit % 32);
        P->fault_applied = 1;
    }
    return 0;
}

/* Write the operands of one image, push the program, run, read the counters and the outputs.
 * out: (cout, N) codes or raw: (cout) acc0. Returns 0, or -1 on a time-out / I/O error. */
static int run_prepared(prep_layer *P, const bq_acc *acc, const uint8_t *in, const uint8_t *res,
                        uint8_t *out, int32_t *raw, int64_t ctr[BQ_NCTR], int64_t max_cycles) {
    const bq_ilayer *L = P->L;
    const int G = L->groups;
    uint64_t ag = P->a_bytes / G, og = P->o_bytes / G, rg = G && P->r_bytes ? P->r_bytes / G : 0;
    for (int g = 0; g < G; g++) {
        bq_intref_im2col(P->col, in, L, g);
        bq_pack_acts(P->abuf + (size_t)g * ag, P->col, &P->geom, L->abits);
        if (res) {
            for (size_t i = 0; i < (size_t)L->M * L->N; i++)
                P->y[i] = res[(size_t)g * L->M * L->N + i];
            bq_pack_tiles(P->rbuf + (size_t)g * rg, P->y, &P->geom, L->rbits);
        }
    }
    memset(P->obuf, 0xA5, P->o_bytes);   /* stale data must never pass for a result */
    if (acc->ops->mem_write(acc->ctx, P->ad.a, P->abuf, P->a_bytes) ||
        (res && acc->ops->mem_write(acc->ctx, P->ad.res, P->rbuf, P->r_bytes)) ||
        acc->ops->mem_write(acc->ctx, P->ad.out, P->obuf, P->o_bytes))
        return -1;
    for (int s = 0; s < BQ_NSTAGES; s++)
        for (int i = 0; i < P->len[s]; i++)
            if (acc->ops->push(acc->ctx, s, P->words[s] + 4 * (size_t)i)) return -1;
    int rc = acc->ops->run(acc->ctx, max_cycles);
    for (int c = 0; c < BQ_NCTR; c++)
        ctr[c] = acc->ops->reg_read(acc->ctx, BQ_HW_REG_CYCLES + 4u * (uint32_t)c);
    if (rc) return -1;
    if (acc->ops->mem_read(acc->ctx, P->ad.out, P->obuf, P->o_bytes)) return -1;
    for (int g = 0; g < G; g++) {
        bq_unpack_tiles(P->y, P->obuf + (size_t)g * og, &P->geom, L->raw32 ? 32 : L->obits);
        for (size_t i = 0; i < (size_t)L->M * L->N; i++) {
            size_t o = (size_t)g * L->M * L->N + i;
            if (L->raw32) raw[o] = P->y[i];
            else out[o] = (uint8_t)P->y[i];
        }
    }
    return 0;
}

void bq_cosim_note_first(bq_cosim_result *r, int image, const char *layer, int c, int p, int wout,
                         long want, long got) {
    if (r->first.valid) return;
    r->first.valid = 1;
    r->first.image = image;
    snprintf(r->first.layer, sizeof r->first.layer, "%s", layer);
    r->first.channel = c;
    r->first.y = wout > 0 ? p / wout : 0;
    r->first.x = wout > 0 ? p % wout : 0;
    r->first.expected = want;
    r->first.got = got;
}

int bq_cosim_passed(const bq_cosim_result *r) {
    int bits = r->mismatches == 0 && r->timeouts == 0 && r->package_diffs == 0 && r->selftest_mismatches == 0;
    return bits && (r->bits_only || (r->cycle_mismatches == 0 && r->counter_mismatches == 0));
}

void bq_cosim_result_free(bq_cosim_result *r) {
    free(r->layers);
    memset(r, 0, sizeof *r);
}

/* One cosim run: the reference, the prepared accelerator layers and the RTL's codes of the
 * current image. */
typedef struct {
    bq_cosim_result *r;
    const bq_acc *acc;
    const bq_model *m;
    const bq_cosim_opts *o;
    FILE *log;
    const int *labels;
    int n, ncls;
    bq_intnet net;
    bq_lowered lw;         /* the lowering: programs, memory map, execution order */
    prep_layer *P;         /* per qmodel layer */
    uint8_t **codes;       /* per node: the RTL's (or host's) codes of the current image */
    int32_t *logits;       /* the RTL's logits of the current image */
    int *pref;             /* the reference's class per image */
    double t_all;          /* start of the image loop */
} cosim_run;

/* A package made for another hw config or qmodel is refused before any work. */
static int check_package(const bq_cosim_result *r, const bq_cosim_opts *o, const bq_hwcfg *cfg,
                         char *err, size_t errlen) {
    if (o->pkg->hw_hash == cfg->hash && o->pkg->qmodel_hash == r->q_hash) return 0;
    bq_seterr(err, errlen, "%s: package made for hw '%s' (hash %016llx) and qmodel %016llx, this run "
           "is hw '%s' (%016llx) and qmodel %016llx; export the package from this .bqq and config",
           o->pkg->dir, o->pkg->hw_name, (unsigned long long)o->pkg->hw_hash,
           (unsigned long long)o->pkg->qmodel_hash, cfg->name, (unsigned long long)cfg->hash,
           (unsigned long long)r->q_hash);
    return -1;
}

/* The accelerator view (must match the reference layer for layer) and the per-run buffers. */
static int alloc_run(cosim_run *S, char *err, size_t errlen) {
    const bq_model *m = S->m;
    S->r->layers = calloc((size_t)m->n_nodes, sizeof *S->r->layers);
    S->P = calloc((size_t)S->net.n_layers, sizeof *S->P);
    S->codes = calloc((size_t)m->n_nodes, sizeof *S->codes);
    S->ncls = S->net.L[S->net.n_layers - 1].cout;
    S->logits = calloc((size_t)S->ncls, sizeof *S->logits);
    if (!S->r->layers || !S->P || !S->codes || !S->logits) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int i = 0; i < m->n_nodes; i++)
        if (S->net.codes[i]) {
            S->codes[i] = malloc(bq_node_size(&m->nodes[i]));
            if (!S->codes[i]) { bq_seterr(err, errlen, "out of memory"); return -1; }
        }
    return 0;
}

/* The layer list in the lowering's execution order: accelerator layers (prepared once: program,
 * weights, requant records in memory) and host layers (GAP, max pool, flatten). */
static int prepare_layers(cosim_run *S, const bq_hwcfg *cfg, char *err, size_t errlen) {
    const bq_model *m = S->m;
    bq_cosim_result *r = S->r;
    if (bq_lower_net(&S->lw, &S->net, cfg, err, errlen)) return -1;
    for (int s = 0; s < S->lw.n_steps; s++) {
        const bq_lower_step *st = &S->lw.steps[s];
        int l = st->layer;
        bq_cosim_layer *E = &r->layers[r->n_layers++];
        E->node = l >= 0 ? S->net.L[l].out_node : st->node;
        E->layer = l;
        if (l < 0) {
            snprintf(E->name, sizeof E->name, "%s", m->nodes[st->node].name);
            E->host_op = bq_step_name(st->kind);
            continue;
        }
        const bq_ilayer *L = &S->net.L[l];
        snprintf(E->name, sizeof E->name, "%s", m->nodes[L->node].name);
        E->on_acc = 1;
        E->m = L->M; E->k = L->K; E->n = L->N; E->groups = L->groups;
        E->wbits = L->wbits; E->abits = L->abits; E->obits = L->raw32 ? 32 : L->obits;
        E->rbits = L->res_node >= 0 ? L->rbits : 0; E->raw32 = L->raw32;
        if (prep_layer_init(&S->P[l], S->acc, L, &S->lw.acc[l], S->o, E->name, err, errlen))
            return -1;
        if (S->P[l].pkg_diff[0]) {   /* an export that differs from the driver's own lowering */
            r->package_diffs++;
            if (S->log) fprintf(S->log, "cosim: PACKAGE DIFFERS layer '%s': %s (the run uses the "
                                "package's)\n", E->name, S->P[l].pkg_diff);
        }
        E->order = S->P[l].plan.order;
        memcpy(E->model, S->P[l].model, sizeof E->model);
    }
    if (S->log) fprintf(S->log, "cosim: %s (%s backend): %d layers, %.1f KiB of accelerator memory\n",
                        cfg->name, r->backend, r->n_layers, (double)S->lw.mem_bytes / 1024);
    return 0;
}

/* Every counter equal to the model's; with acc->idle_after_done the three stage-idle counters may
 * all exceed it by one equal amount >= 0 (run_i stays set while a host polls STATUS after done). */
int bq_cosim_counters_match(const bq_acc *acc, const int64_t ctr[BQ_NCTR], const int64_t model[BQ_NCTR]) {
    int64_t d = acc->idle_after_done ? ctr[BQ_CTR_F_IDLE] - model[BQ_CTR_F_IDLE] : 0;
    if (d < 0) return 0;
    for (int c = 0; c < BQ_NCTR; c++) {
        int idle = c == BQ_CTR_F_IDLE || c == BQ_CTR_E_IDLE || c == BQ_CTR_R_IDLE;
        if (ctr[c] != model[c] + (idle ? d : 0)) return 0;
    }
    return 1;
}

/* Counters of one layer run against the latency model; returns |CYCLES error|. */
static int64_t count_cycles(cosim_run *S, bq_cosim_layer *E, const int64_t ctr[BQ_NCTR], int b) {
    bq_cosim_result *r = S->r;
    r->sim_cycles += ctr[BQ_CTR_CYCLES];
    if (b == 0) memcpy(E->rtl, ctr, sizeof E->rtl);
    int64_t ce = ctr[BQ_CTR_CYCLES] - E->model[BQ_CTR_CYCLES];
    if (ce < 0) ce = -ce;
    if (ce > E->worst_cycle_err) E->worst_cycle_err = ce;
    if (ce > r->worst_cycle_err) r->worst_cycle_err = ce;
    if (ce) r->cycle_mismatches++;
    if (!bq_cosim_counters_match(S->acc, ctr, E->model)) { E->counter_mismatch_images++; r->counter_mismatches++; }
    return ce;
}

/* Elements of the RTL's output (codes or RAW32 logits) that differ from the reference's. */
static long compare_outputs(cosim_run *S, const bq_cosim_layer *E, const bq_ilayer *L,
                            const uint8_t *out, int b) {
    int img = S->o->first_image + b;
    long bad = 0;
    if (L->raw32) {
        const int32_t *want = S->net.logits + (size_t)b * S->ncls;
        for (int c = 0; c < S->ncls; c++)
            if (S->logits[c] != want[c]) {
                if (!bad) bq_cosim_note_first(S->r, img, E->name, c, 0, 0, want[c], S->logits[c]);
                bad++;
            }
        S->r->logit_mismatches += bad;
        return bad;
    }
    size_t osz = bq_node_size(&S->m->nodes[E->node]);
    const uint8_t *want = S->net.codes[L->out_node] + (size_t)b * osz;
    for (size_t i = 0; i < osz; i++)
        if (out[i] != want[i]) {
            if (!bad)
                bq_cosim_note_first(S->r, img, E->name, (int)(i / (size_t)L->N), (int)(i % (size_t)L->N),
                           L->cs.wout, want[i], out[i]);
            bad++;
        }
    return bad;
}

/* The RTL's output of layer E on image img against the package's self-test vector (tests.bin
 * codes), when the package has one for this image; returns the differing elements. */
static long selftest_layer(cosim_run *S, const bq_cosim_layer *E, const bq_ilayer *L, const uint8_t *out,
                           int img) {
    const bq_pkg_test *T = S->o->pkg ? bq_pkg_test_of(S->o->pkg, img) : NULL;
    if (!T) return 0;
    const uint8_t *want = S->o->pkg->tests + T->codes_off[E->layer];
    size_t n = L->raw32 ? (size_t)S->ncls : bq_node_size(&S->m->nodes[E->node]);
    long bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += L->raw32 ? (int32_t)bq_st_le32(want + 4 * i) != S->logits[i] : want[i] != out[i];
    S->r->selftest_layers++;
    S->r->selftest_mismatches += bad;
    if (bad && S->log)
        fprintf(S->log, "cosim: SELF-TEST MISMATCH image %d layer '%s': %ld elements differ from the "
                "package's tests.bin\n", img, E->name, bad);
    return bad;
}

/* Keep a waveform of the first mismatching layer: run it again, traced. */
static void trace_rerun(cosim_run *S, prep_layer *PL, const bq_cosim_layer *E, const uint8_t *res,
                        int64_t limit, int b) {
    const bq_ilayer *L = PL->L;
    bq_cosim_result *r = S->r;
    const bq_acc *acc = S->acc;
    int64_t c2[BQ_NCTR];
    uint8_t *tmp = L->raw32 ? NULL : malloc(bq_node_size(&S->m->nodes[E->node]));
    int32_t *traw = calloc((size_t)S->ncls, sizeof *traw);
    if ((L->raw32 || tmp) && traw && acc->ops->trace(acc->ctx, S->o->trace_path, 0, -1) == 0) {
        run_prepared(PL, acc, S->codes[L->in_node], res, tmp, traw, c2, limit);
        acc->ops->trace(acc->ctx, NULL, 0, 0);
        snprintf(r->first.trace, sizeof r->first.trace, "%s", S->o->trace_path);
        if (S->log) fprintf(S->log, "cosim: waveform of layer '%s' (image %d): %s\n", E->name,
                            S->o->first_image + b, S->o->trace_path);
    }
    free(tmp); free(traw);
}

/* --trace: arm the waveform of layer E's run on the first image (one per process). */
static int trace_arm(cosim_run *S, const bq_cosim_layer *E, int b) {
    const bq_cosim_opts *o = S->o;
    if (!o->trace_layer[0] || b != 0 || S->r->trace[0] || strcmp(o->trace_layer, E->name)) return 0;
    remove(o->trace_file);   /* a stale file must not pass for this run's waveform */
    if (S->acc->ops->trace(S->acc->ctx, o->trace_file, o->trace_from, o->trace_to) == 0) return 1;
    if (S->log) fprintf(S->log, "cosim: warning: --trace %s: the backend refused the waveform\n", E->name);
    return 0;
}

/* Close the armed waveform; a window that starts after the layer's last cycle leaves no file. */
static void trace_done(cosim_run *S, const bq_cosim_layer *E, int b, int64_t cycles) {
    const bq_cosim_opts *o = S->o;
    S->acc->ops->trace(S->acc->ctx, NULL, 0, 0);
    FILE *f = fopen(o->trace_file, "rb");
    if (f) fclose(f);
    if (!S->log) { if (f) snprintf(S->r->trace, sizeof S->r->trace, "%s", o->trace_file); return; }
    if (!f) {
        fprintf(S->log, "cosim: warning: --trace %s:%lld:%lld: the window starts after the layer's "
                "last cycle (CYCLES %lld); no waveform written\n", E->name, (long long)o->trace_from,
                (long long)o->trace_to, (long long)cycles);
        return;
    }
    snprintf(S->r->trace, sizeof S->r->trace, "%s", o->trace_file);
    if (o->trace_to < 0)
        fprintf(S->log, "cosim: waveform of layer '%s' (image %d, whole run, %lld cycles): %s\n", E->name,
                o->first_image + b, (long long)cycles, o->trace_file);
    else
        fprintf(S->log, "cosim: waveform of layer '%s' (image %d, cycles %lld..%lld of %lld): %s\n",
                E->name, o->first_image + b, (long long)o->trace_from, (long long)o->trace_to,
                (long long)cycles, o->trace_file);
}

/* Run accelerator layer E on image b; returns the differing elements (a time-out counts 1). */
static long run_acc_layer(cosim_run *S, bq_cosim_layer *E, int b) {
    const bq_cosim_opts *o = S->o;
    bq_cosim_result *r = S->r;
    FILE *log = S->log;
    int img = o->first_image + b;
    prep_layer *PL = &S->P[E->layer];
    const bq_ilayer *L = PL->L;
    const uint8_t *res = L->res_node >= 0 ? S->codes[L->res_node] : NULL;
    uint8_t *out = L->raw32 ? NULL : S->codes[L->out_node];
    int64_t ctr[BQ_NCTR];
    double t0 = bq_now();
    /* a time-out catches a deadlock; a board's memory may be much slower than the model */
    int64_t limit = o->max_cycles > 0 ? o->max_cycles
                    : o->bits_only ? 64 * E->model[BQ_CTR_CYCLES] + 1000000
                                   : 4 * E->model[BQ_CTR_CYCLES] + 100000;
    int tracing = trace_arm(S, E, b);
    int rc = run_prepared(PL, S->acc, S->codes[L->in_node], res, out, S->logits, ctr, limit);
    E->wall_s += bq_now() - t0;
    if (tracing) trace_done(S, E, b, ctr[BQ_CTR_CYCLES]);
    int64_t ce = count_cycles(S, E, ctr, b);
    long bad;
    if (rc) {
        r->timeouts++;
        bad = 1;
        if (log) fprintf(log, "cosim: image %d layer '%s': time-out after %lld cycles "
                         "(model: %lld)\n", img, E->name,
                         (long long)ctr[BQ_CTR_CYCLES], (long long)E->model[BQ_CTR_CYCLES]);
        bq_cosim_note_first(r, img, E->name, -1, 0, 0, -1, -1);
    } else {
        bad = compare_outputs(S, E, L, out, b);
        selftest_layer(S, E, L, out, img);
    }
    if (bad && log) {
        fprintf(log, "cosim: MISMATCH image %d layer '%s': %ld elements differ", img, E->name, bad);
        if (r->first.valid && !strcmp(r->first.layer, E->name) && r->first.image == img)
            fprintf(log, "; first: channel %d pixel (y %d, x %d) expected %ld got %ld",
                    r->first.channel, r->first.y, r->first.x, r->first.expected, r->first.got);
        fputc('\n', log);
    }
    if (ce && log)
        fprintf(log, "cosim: %s image %d layer '%s': RTL %lld, latency model %lld\n",
                o->bits_only ? "CYCLES (information, bits-only)" : "CYCLES",
                img, E->name, (long long)ctr[0], (long long)E->model[0]);
    if (bad && o->trace_path && !r->first.trace[0] && S->acc->ops->trace &&
        !strcmp(r->first.layer, E->name))
        trace_rerun(S, PL, E, res, limit, b);
    return bad;
}

/* Host layer E (GAP, max pool, flatten) on the RTL's codes; returns the differing elements. */
static long run_host_layer(cosim_run *S, const bq_cosim_layer *E, int b) {
    const bq_model *m = S->m;
    const bq_node *nd = &m->nodes[E->node];
    const bq_node *pin = &m->nodes[nd->in[0]];
    size_t osz = bq_node_size(nd);
    const uint8_t *src = S->codes[nd->in[0]];
    uint8_t *dst = S->codes[E->node];
    if (nd->kind == BQ_OP_GAP) bq_intref_gap(dst, src, pin->c, pin->h * pin->w);
    else if (nd->kind == BQ_OP_MAXPOOL) bq_intref_maxpool(dst, src, nd, pin);
    else memcpy(dst, src, osz);
    const uint8_t *want = S->net.codes[E->node] + (size_t)b * osz;
    long bad = 0;
    for (size_t i = 0; i < osz; i++)
        if (dst[i] != want[i]) {
            if (!bad) bq_cosim_note_first(S->r, S->o->first_image + b, E->name, (int)(i / ((size_t)nd->h * nd->w)),
                                 (int)(i % ((size_t)nd->h * nd->w)), nd->w, want[i], dst[i]);
            bad++;
        }
    return bad;
}

/* Argmax of the RTL's logits, with the reference's rule (numerics §4). */
static int rtl_class(const cosim_run *S) { return bq_intnet_argmax(&S->net, S->logits); }

/* Image b through every layer (up to opts.until), then its class. Returns 1 to stop the run
 * (stop_on_mismatch and this image mismatched). */
static int run_image(cosim_run *S, int b) {
    const bq_cosim_opts *o = S->o;
    bq_cosim_result *r = S->r;
    long mism_before = r->mismatches;
    const size_t in_sz = bq_node_size(&S->m->nodes[0]);
    memcpy(S->codes[0], S->net.codes[0] + (size_t)b * in_sz, in_sz);   /* input quantization: host */
    for (int e = 0; e < r->n_layers; e++) {
        bq_cosim_layer *E = &r->layers[e];
        long bad = E->on_acc ? run_acc_layer(S, E, b) : run_host_layer(S, E, b);
        E->mismatches += bad;
        r->mismatches += bad;
        if (o->until[0] && !strcmp(o->until, E->name)) { r->partial = 1; break; }
    }
    int img = o->first_image + b, mism = r->mismatches != mism_before;
    r->images++;
    if (o->pkg && bq_pkg_test_of(o->pkg, img)) r->selftest_images++;
    if (r->partial) {
        if (S->log) fprintf(S->log, "cosim: image %d/%d (test #%d): %s up to layer '%s', %.1f s\n", b + 1,
                            S->n, img, mism ? "MISMATCH" : "bit-exact", o->until, bq_now() - S->t_all);
        return o->stop_on_mismatch && mism;
    }
    int best = rtl_class(S);
    r->pred_agree += best == S->pref[b];
    if (S->labels) r->correct_rtl += best == S->labels[b];
    if (S->log) fprintf(S->log, "cosim: image %d/%d (test #%d): %s, class %d (reference %d%s), %.1f s\n",
                        b + 1, S->n, img, mism ? "MISMATCH" : "bit-exact", best, S->pref[b],
                        S->labels ? (best == S->labels[b] ? ", correct" : ", wrong") : "",
                        bq_now() - S->t_all);
    return o->stop_on_mismatch && mism;
}

static void run_free(cosim_run *S) {
    if (S->P) for (int l = 0; l < S->net.n_layers; l++) prep_free(&S->P[l]);
    free(S->P);
    if (S->codes) for (int i = 0; i < S->m->n_nodes; i++) free(S->codes[i]);
    free(S->codes);
    free(S->logits);
    free(S->pref);
    bq_lowered_free(&S->lw);
    bq_intnet_free(&S->net);
}

static const char *const fault_kinds[] = {"none", "weight", "requant", "instr"};

/* --fault and --trace must name an accelerator layer, and a fault bit must be one the driver can
 * flip: a request that would silently do nothing is an error. */
static int check_requests(cosim_run *S, char *err, size_t errlen) {
    const bq_cosim_opts *o = S->o;
    const bq_cosim_result *r = S->r;
    const bq_cosim_layer *F = NULL, *T = NULL;
    for (int e = 0; e < r->n_layers; e++) {
        if (!r->layers[e].on_acc) continue;
        if (!strcmp(r->layers[e].name, o->fault_layer)) F = &r->layers[e];
        if (!strcmp(r->layers[e].name, o->trace_layer)) T = &r->layers[e];
    }
    if (o->fault != BQ_FAULT_NONE && !F) {
        bq_seterr(err, errlen, "--fault %s: no accelerator layer '%s'; the layer names are the "
                  "\"name\" fields of a clean run's cosim_report.json", r->fault, o->fault_layer);
        return -1;
    }
    if (F && !S->P[F->layer].fault_applied) {
        const prep_layer *P = &S->P[F->layer];
        bq_seterr(err, errlen, "--fault %s: bit %ld is outside what it flips in layer '%s' (weight: "
                  "%llu bits of group 0, requant: %llu bits, instr: 0..127); choose a smaller bit",
                  r->fault, o->fault_bit, o->fault_layer,
                  (unsigned long long)(P->w_bytes / (uint64_t)P->L->groups * 8),
                  (unsigned long long)(P->rq_bytes * 8));
        return -1;
    }
    if (o->trace_layer[0] && !T) {
        bq_seterr(err, errlen, "--trace %s: no accelerator layer of that name; the layer names are the "
                  "\"name\" fields of cosim_report.json (host layers have no waveform)", o->trace_layer);
        return -1;
    }
    if (o->trace_layer[0] && !S->acc->ops->trace) {
        bq_seterr(err, errlen, "--trace %s: the %s backend cannot record waveforms; run it on the "
                  "simulator (build/sim/<cfg>/cosim)", o->trace_layer, r->backend);
        return -1;
    }
    return 0;
}

/* Every self-test vector of the package has the size of its layer's output. */
static int check_selftests(cosim_run *S, char *err, size_t errlen) {
    const bq_pkg *pkg = S->o->pkg;
    for (int t = 0; pkg && t < pkg->n_tests; t++)
        for (int e = 0; e < S->r->n_layers; e++) {
            const bq_cosim_layer *E = &S->r->layers[e];
            if (!E->on_acc) continue;
            size_t want = E->raw32 ? 4 * (size_t)S->ncls : bq_node_size(&S->m->nodes[E->node]);
            if (E->layer >= pkg->n_layers || pkg->test[t].codes_size[E->layer] != want) {
                bq_seterr(err, errlen, "%s/manifest.json: field 'tests[%d].layers[%d].codes': %zu bytes, "
                          "layer '%s' outputs %zu; re-export the package from this .bqq and config",
                          pkg->dir, t, E->layer, E->layer < pkg->n_layers ? pkg->test[t].codes_size[E->layer] : 0,
                          E->name, want);
                return -1;
            }
        }
    return 0;
}

/* After the run: what the injected fault changed; a fault that changed no output says so. */
static void fault_verdict(bq_cosim_result *r, FILE *log) {
    r->fault_effect = r->mismatches || r->timeouts ? "output" : r->counter_mismatches ? "counters" : "none";
    if (!strcmp(r->fault_effect, "output") || !log) return;
    fprintf(log, "cosim: warning: --fault %s changed no output in %d image(s)%s; the flipped bit is not "
            "used by this data (padding, a zero tile, a masked field), so this run tests nothing: "
            "choose another bit\n", r->fault, r->images,
            !strcmp(r->fault_effect, "counters") ? " (only the counters differ)" : "");
}

int bq_cosim_run(bq_cosim_result *r, const bq_acc *acc, const bq_qmodel *q, const bq_hwcfg *cfg,
                 const float *x, const int *labels, int n, const bq_cosim_opts *o, FILE *log,
                 char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    snprintf(r->hw, sizeof r->hw, "%s", cfg->name);
    snprintf(r->backend, sizeof r->backend, "%s", acc->backend ? acc->backend : "?");
    r->hw_hash = cfg->hash;
    r->q_hash = bq_qmodel_hash(q);
    r->bits_only = o->bits_only;
    r->first_image = o->first_image;
    if (o->fault != BQ_FAULT_NONE)
        snprintf(r->fault, sizeof r->fault, "%s:%s:%ld", fault_kinds[o->fault], o->fault_layer, o->fault_bit);
    r->program = "per-layer";
    if (cfg->window_bytes > 0 && !o->per_layer) {   /* a v2 build: one start per image */
        if (o->pkg) {   /* the per-layer reader: a v2 build runs version 3 packages (pkg3) */
            bq_seterr(err, errlen, "--package %s: a per-layer package on a v2 build; export the "
                      "whole-network package (version 3) for this config", o->pkg->dir);
            return -1;
        }
        if (o->pkg3) snprintf(r->package, sizeof r->package, "%s", o->pkg3->dir);
        int rc = bq_cosim_v2_run(r, acc, q, cfg, x, labels, n, o, log, err, errlen);
        if (rc < 0) return -1;
        if (rc == 0) {
            if (o->fault != BQ_FAULT_NONE) fault_verdict(r, log);
            return 0;
        }
        if (o->pkg3) {   /* then no whole-network package can exist for it either */
            char why[256];
            snprintf(why, sizeof why, "%s", err);
            bq_seterr(err, errlen, "--package %s: this model has no whole-network program (%s)",
                      o->pkg3->dir, why);
            return -1;
        }
        /* no whole-network program: the per-layer programs, which the v2 RTL runs too */
        snprintf(r->program_note, sizeof r->program_note, "no whole-network program, the per-layer "
                 "programs ran instead: %s", err);
        if (log) fprintf(log, "cosim: %s\n", r->program_note);
        err[0] = 0;
    } else if (cfg->window_bytes > 0) {
        snprintf(r->program_note, sizeof r->program_note, "--per-layer on a v2 build");
    }
    if (o->pkg) {
        snprintf(r->package, sizeof r->package, "%s", o->pkg->dir);
        if (check_package(r, o, cfg, err, errlen)) return -1;
    }
    cosim_run S;
    memset(&S, 0, sizeof S);
    S.r = r; S.acc = acc; S.m = &q->model; S.o = o; S.log = log; S.labels = labels; S.n = n;
    if (bq_intnet_init(&S.net, q, n, err, errlen)) return -1;
    int ret = -1;
    if (alloc_run(&S, err, errlen) || prepare_layers(&S, cfg, err, errlen) ||
        check_requests(&S, err, errlen) || check_selftests(&S, err, errlen))
        goto done;
    /* the reference, all images at once */
    bq_intnet_forward(&S.net, x, n);
    S.pref = malloc(sizeof(int) * (size_t)n);
    if (!S.pref) { bq_seterr(err, errlen, "out of memory"); goto done; }
    bq_intnet_predict(&S.net, n, S.pref);
    S.t_all = bq_now();
    for (int b = 0; b < n; b++)
        if (run_image(&S, b)) break;
    r->wall_s = bq_now() - S.t_all;
    if (o->fault != BQ_FAULT_NONE) fault_verdict(r, log);
    ret = 0;
done:
    run_free(&S);
    if (ret) { free(r->layers); r->layers = NULL; r->n_layers = 0; }
    return ret;
}

/* ---- reports ---- */
static int is_whole(const bq_cosim_result *r) { return r->program && !strcmp(r->program, "whole-network"); }

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

static FILE *open_tmp(const char *path, char *tmp, size_t n, char *err, size_t errlen) {
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) bq_seterr(err, errlen, "%s: cannot write; check the directory exists and is writable", tmp);
    return f;
}

static int close_rename(FILE *f, const char *tmp, const char *path, char *err, size_t errlen) {
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        bq_seterr(err, errlen, "%s: write failed (disk full?)", path);
        remove(tmp);
        return -1;
    }
    return 0;
}

int bq_cosim_write_json(const bq_cosim_result *r, const char *path, char *err, size_t errlen) {
    char tmp[1024];
    FILE *f = open_tmp(path, tmp, sizeof tmp, err, errlen);
    if (!f) return -1;
    fprintf(f, "{\n  \"format\": \"brecq-cosim\", \"version\": 1,\n  \"hw\": ");
    json_str(f, r->hw);
    fprintf(f, ", \"hw_hash\": \"%016llx\", \"model\": ", (unsigned long long)r->hw_hash);
    json_str(f, r->model);
    fprintf(f, ", \"q_hash\": \"%016llx\", \"backend\": ", (unsigned long long)r->q_hash);
    json_str(f, r->backend);
    fprintf(f, ", \"package\": ");
    if (r->package[0]) json_str(f, r->package); else fprintf(f, "null");
    fprintf(f, ",\n  \"images\": %d, \"mismatches\": %ld, \"logit_mismatches\": %ld, "
            "\"cycle_mismatches\": %ld, \"counter_mismatches\": %ld, \"timeouts\": %ld, "
            "\"worst_cycle_error\": %lld,\n", r->images, r->mismatches, r->logit_mismatches,
            r->cycle_mismatches, r->counter_mismatches, r->timeouts, (long long)r->worst_cycle_err);
    fprintf(f, "  \"package_diffs\": %ld, \"selftest_images\": %d, \"selftest_layers\": %ld, "
            "\"selftest_mismatches\": %ld,\n", r->package_diffs, r->selftest_images, r->selftest_layers,
            r->selftest_mismatches);
    fprintf(f, "  \"pred_agree\": %d, \"correct\": %d, \"sim_cycles\": %lld, \"wall_s\": %.3f, "
            "\"sim_cycles_per_s\": %.0f, \"wall_s_per_image\": %.3f,\n", r->pred_agree, r->correct_rtl,
            (long long)r->sim_cycles, r->wall_s, r->wall_s > 0 ? (double)r->sim_cycles / r->wall_s : 0.0,
            r->images ? r->wall_s / r->images : 0.0);
    fprintf(f, "  \"mode\": \"%s\", \"partial\": %d, \"program\": \"%s\", \"program_note\": ",
            r->bits_only ? "bits-only" : "strict", r->partial, r->program ? r->program : "per-layer");
    json_str(f, r->program_note);
    fprintf(f, ", \"trace\": ");
    if (r->trace[0]) json_str(f, r->trace); else fprintf(f, "null");
    fprintf(f, ",\n  \"fault\": ");
    if (r->fault[0]) {
        fprintf(f, "{\"spec\": ");
        json_str(f, r->fault);
        fprintf(f, ", \"effect\": \"%s\"}", r->fault_effect ? r->fault_effect : "not run");
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\n  \"first_mismatch\": ");
    if (r->first.valid) {
        fprintf(f, "{\"image\": %d, \"layer\": ", r->first.image);
        json_str(f, r->first.layer);
        fprintf(f, ", \"channel\": %d, \"y\": %d, \"x\": %d, \"expected\": %ld, \"got\": %ld, \"waveform\": ",
                r->first.channel, r->first.y, r->first.x, r->first.expected, r->first.got);
        json_str(f, r->first.trace);
        fprintf(f, "},\n");
    } else {
        fprintf(f, "null,\n");
    }
    if (is_whole(r)) {   /* the one run per image: its counters against the model's */
        fprintf(f, "  \"network\": {\"instructions\": [%ld, %ld, %ld], \"rtl\": {", r->net_instrs[0],
                r->net_instrs[1], r->net_instrs[2]);
        for (int c = 0; c < BQ_NCTR; c++)
            fprintf(f, "%s\"%s\": %lld", c ? ", " : "", bq_ctr_names[c], (long long)r->net_rtl[c]);
        fprintf(f, "}, \"model\": {");
        for (int c = 0; c < BQ_NCTR; c++)
            fprintf(f, "%s\"%s\": %lld", c ? ", " : "", bq_ctr_names[c], (long long)r->net_model[c]);
        fprintf(f, "}},\n");
    }
    fprintf(f, "  \"host_layers\": [");
    int first = 1;
    for (int e = 0; e < r->n_layers; e++)
        if (!r->layers[e].on_acc) {   /* whole-network: none (the GAP runs on the accelerator) */
            fprintf(f, "%s{\"name\": ", first ? "" : ", ");
            json_str(f, r->layers[e].name);
            fprintf(f, ", \"op\": \"%s\"}", r->layers[e].host_op);
            first = 0;
        }
    fprintf(f, "],\n  \"layers\": [\n");
    for (int e = 0; e < r->n_layers; e++) {
        const bq_cosim_layer *E = &r->layers[e];
        fprintf(f, "    {\"name\": ");
        json_str(f, E->name);
        if (!E->on_acc) {
            fprintf(f, ", \"on\": \"host\", \"op\": \"%s\", \"mismatches\": %ld}", E->host_op, E->mismatches);
        } else if (is_whole(r)) {   /* no per-layer counters: one run for the whole network */
            fprintf(f, ", \"on\": \"accelerator\", \"kind\": \"%s\", \"M\": %d, \"K\": %d, \"N\": %d, "
                    "\"groups\": %d, \"wbits\": %d, \"abits\": %d, \"obits\": %d, \"rbits\": %d, "
                    "\"raw32\": %d, \"order\": \"%s\", \"model_cycles_standalone\": %lld, \"mismatches\": %ld}",
                    E->host_op, E->m, E->k, E->n, E->groups, E->wbits, E->abits, E->obits, E->rbits,
                    E->raw32, bq_loop_order_name(E->order), (long long)E->model[0], E->mismatches);
        } else {
            fprintf(f, ", \"on\": \"accelerator\", \"M\": %d, \"K\": %d, \"N\": %d, \"groups\": %d, "
                    "\"wbits\": %d, \"abits\": %d, \"obits\": %d, \"rbits\": %d, \"raw32\": %d, \"order\": \"%s\", "
                    "\"rtl_cycles\": %lld, \"model_cycles\": %lld, \"worst_cycle_error\": %lld, "
                    "\"counter_mismatch_images\": %ld, \"mismatches\": %ld, \"wall_s\": %.3f,\n      \"rtl\": {",
                    E->m, E->k, E->n, E->groups, E->wbits, E->abits, E->obits, E->rbits, E->raw32,
                    bq_loop_order_name(E->order), (long long)E->rtl[0], (long long)E->model[0],
                    (long long)E->worst_cycle_err, E->counter_mismatch_images, E->mismatches, E->wall_s);
            for (int c = 0; c < BQ_NCTR; c++)
                fprintf(f, "%s\"%s\": %lld", c ? ", " : "", bq_ctr_names[c], (long long)E->rtl[c]);
            fprintf(f, "},\n      \"model\": {");
            for (int c = 0; c < BQ_NCTR; c++)
                fprintf(f, "%s\"%s\": %lld", c ? ", " : "", bq_ctr_names[c], (long long)E->model[c]);
            fprintf(f, "}}");
        }
        fprintf(f, "%s\n", e + 1 < r->n_layers ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return close_rename(f, tmp, path, err, errlen);
}

/* The whole-network part of the markdown report: the one run's counters, then per layer its
 * mismatches and the model's stand-alone cycles (information: the RTL runs them back to back). */
static void write_md_whole(FILE *f, const bq_cosim_result *r) {
    int same = 1;
    for (int c = 0; c < BQ_NCTR; c++) same &= r->net_rtl[c] == r->net_model[c];
    fprintf(f, "Program: **whole network**, one start per image (%ld / %ld / %ld instructions in the "
            "fetch / execute / result queues); host steps: input quantization only. Image %d: CYCLES "
            "RTL %lld, latency model %lld; all %d counters equal: %s.\n\n| counter | RTL | model |\n"
            "|---|---|---|\n", r->net_instrs[0], r->net_instrs[1], r->net_instrs[2], r->first_image,
            (long long)r->net_rtl[0], (long long)r->net_model[0], BQ_NCTR, same ? "yes" : "no");
    for (int c = 0; c < BQ_NCTR; c++)
        fprintf(f, "| %s | %lld | %lld |\n", bq_ctr_names[c], (long long)r->net_rtl[c],
                (long long)r->net_model[c]);
    fprintf(f, "\n| layer | kind | M | K | N | g | w/a/o(/r) bits | order | model cycles (stand-alone) "
            "| mismatches |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int e = 0; e < r->n_layers; e++) {
        const bq_cosim_layer *E = &r->layers[e];
        char bits[32];
        if (E->rbits) snprintf(bits, sizeof bits, "%d/%d/%d/%d", E->wbits, E->abits, E->obits, E->rbits);
        else snprintf(bits, sizeof bits, "%d/%d/%d", E->wbits, E->abits, E->obits);
        fprintf(f, "| `%s` | %s | %d | %d | %d | %d | %s | %s | %lld | %ld |\n", E->name, E->host_op,
                E->m, E->k, E->n, E->groups, bits, bq_loop_order_name(E->order), (long long)E->model[0],
                E->mismatches);
    }
}

int bq_cosim_write_md(const bq_cosim_result *r, const char *path, char *err, size_t errlen) {
    char tmp[1024];
    FILE *f = open_tmp(path, tmp, sizeof tmp, err, errlen);
    if (!f) return -1;
    int ok = bq_cosim_passed(r);
    fprintf(f, "## cosim: %s on %s — %s%s\n\n", r->model, r->hw, ok ? "PASS" : "FAIL",
            r->bits_only ? " (bits-only: the counters are information)" : "");
    if (r->fault[0])
        fprintf(f, "Fault injected: `%s`, effect: **%s**%s.\n\n", r->fault, r->fault_effect ? r->fault_effect : "not run",
                r->fault_effect && strcmp(r->fault_effect, "output") ? " (WARNING: it changed no output)" : "");
    if (r->trace[0]) fprintf(f, "Waveform (--trace): `%s`.\n\n", r->trace);
    fprintf(f, "| images | output mismatches | logit mismatches | cycle mismatches | counter mismatches | "
            "worst cycle error | time-outs | RTL argmax = reference | RTL correct | simulated cycles | "
            "cycles/s | wall s/image |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fprintf(f, "| %d | %ld | %ld | %ld | %ld | %lld | %ld | %d/%d | %d/%d | %lld | %.0f | %.2f |\n\n",
            r->images, r->mismatches, r->logit_mismatches, r->cycle_mismatches, r->counter_mismatches,
            (long long)r->worst_cycle_err, r->timeouts, r->pred_agree, r->images, r->correct_rtl, r->images,
            (long long)r->sim_cycles, r->wall_s > 0 ? (double)r->sim_cycles / r->wall_s : 0.0,
            r->images ? r->wall_s / r->images : 0.0);
    if (r->first.valid) {
        fprintf(f, "**First mismatch**: image %d, layer `%s`, channel %d, pixel (y %d, x %d): expected %ld, "
                "got %ld.%s%s%s\n\n", r->first.image, r->first.layer, r->first.channel, r->first.y, r->first.x,
                r->first.expected, r->first.got, r->first.trace[0] ? " Waveform: `" : "", r->first.trace,
                r->first.trace[0] ? "`" : "");
    }
    if (r->package[0])
        fprintf(f, "Weights, requant records, memory map and programs: export package `%s`; layers "
                "differing from the driver's own lowering: %ld. Self-test vectors (tests.bin): %d "
                "image(s), %ld layer runs compared, %ld elements differ.\n\n", r->package,
                r->package_diffs, r->selftest_images, r->selftest_layers, r->selftest_mismatches);
    else
        fprintf(f, "Weights, requant records and programs: packed and lowered by the driver (no package).\n\n");
    if (r->program_note[0]) fprintf(f, "Program: per-layer on a v2 build: %s.\n\n", r->program_note);
    if (is_whole(r)) {
        write_md_whole(f, r);
        return close_rename(f, tmp, path, err, errlen);
    }
    fprintf(f, "Host layers (not run by the accelerator): input quantization");
    for (int e = 0; e < r->n_layers; e++)
        if (!r->layers[e].on_acc) fprintf(f, ", `%s` (%s)", r->layers[e].name, r->layers[e].host_op);
    fprintf(f, ".\n\n| layer | M | K | N | g | w/a/o(/r) bits | order | RTL cycles | model cycles | "
            "error | E busy/stall (RTL) | R busy/stall (RTL) | counters equal | mismatches |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int e = 0; e < r->n_layers; e++) {
        const bq_cosim_layer *E = &r->layers[e];
        if (!E->on_acc) {
            fprintf(f, "| `%s` (host %s) | | | | | | | | | | | | | %ld |\n", E->name, E->host_op, E->mismatches);
            continue;
        }
        char bits[32];
        if (E->rbits) snprintf(bits, sizeof bits, "%d/%d/%d/%d", E->wbits, E->abits, E->obits, E->rbits);
        else snprintf(bits, sizeof bits, "%d/%d/%d", E->wbits, E->abits, E->obits);
        fprintf(f, "| `%s` | %d | %d | %d | %d | %s | %s | %lld | %lld | %lld | %lld/%lld | %lld/%lld | %s | %ld |\n",
                E->name, E->m, E->k, E->n, E->groups, bits, bq_loop_order_name(E->order), (long long)E->rtl[0],
                (long long)E->model[0], (long long)(E->rtl[0] - E->model[0]), (long long)E->rtl[BQ_CTR_E_BUSY],
                (long long)E->rtl[BQ_CTR_E_STALL], (long long)E->rtl[BQ_CTR_R_BUSY],
                (long long)E->rtl[BQ_CTR_R_STALL], E->counter_mismatch_images ? "no" : "yes", E->mismatches);
    }
    return close_rename(f, tmp, path, err, errlen);
}
