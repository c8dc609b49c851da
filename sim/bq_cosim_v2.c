/* bq_cosim_v2.c — the whole-network co-simulation on an ISA v2 build (bq_cosim_v2.h). */
#include "bq_cosim_v2.h"
#include "core/errmsg.h"
#include "core/progress.h"

#include <stdlib.h>
#include <string.h>

#include "hw_params.h"   /* register map of the simulator's config (build/gen/<cfg>/) */
#include "isa.h"
#include "lower/lower_v2.h"
#include "quant/intref.h"

/* One whole-network run: the reference, the lowering and its encoded program, the host copy of
 * the accelerator's memory image. */
typedef struct {
    bq_cosim_result *r;
    const bq_acc *acc;
    const bq_model *m;
    const bq_cosim_opts *o;
    FILE *log;
    const int *labels;
    int n, ncls;
    int last;                      /* last layer compared (opts.until), lw.n - 1 without */
    int trace_layer;               /* --trace: its layer, -1 none */
    int fault_instr;               /* --fault instr: index of the layer's first execute instruction
                                      in the program, -1 none */
    int64_t *start;                /* [n] the model's cycle at which layer i starts in the run: the
                                      sum of the stand-alone cycles before it (§11: exact) */
    bq_intnet net;
    bq_lowered_v2 lw;
    uint32_t *words[BQ_NSTAGES];   /* the program, encoded: 4 words per instruction */
    uint8_t *mem;                  /* host copy of the memory image (lw.mem_bytes) */
    uint64_t out_lo, out_hi;       /* every layer's output tensor lies in [out_lo, out_hi) */
    uint8_t *out;                  /* one layer's output as read back (CHW, largest layer) */
    int32_t *logits;               /* the RTL's logits of the current image */
    int *pref;                     /* the reference's class per image */
    int64_t model[BQ_NCTR];        /* the latency model's dry run of the program */
    double t_all;
} v2_run;

static void v2_free(v2_run *S) {
    for (int s = 0; s < BQ_NSTAGES; s++) free(S->words[s]);
    free(S->mem);
    free(S->out);
    free(S->logits);
    free(S->pref);
    free(S->start);
    bq_lowered_v2_free(&S->lw);
    bq_intnet_free(&S->net);
}

static const char *layer_kind(const bq_lowered_v2 *lw, int i) {
    if (lw->qlayer[i] < 0) return "gap";
    if (lw->layers[i].hw.raw32) return "linear";
    return lw->layers[i].depthwise ? "depthwise" : "conv";
}

/* The report's layer list (one entry per v2 layer, execution order) and the size checks of every
 * output tensor against the reference node it is compared with. */
static int v2_layers(v2_run *S, char *err, size_t errlen) {
    const bq_lowered_v2 *lw = &S->lw;
    bq_cosim_result *r = S->r;
    r->layers = calloc((size_t)lw->n, sizeof *r->layers);
    if (!r->layers) { bq_seterr(err, errlen, "out of memory"); return -1; }
    size_t biggest = 0;
    for (int i = 0; i < lw->n; i++) {
        const bq_v2_layer *v = &lw->layers[i];
        bq_cosim_layer *E = &r->layers[r->n_layers++];
        snprintf(E->name, sizeof E->name, "%s", S->m->nodes[lw->node[i]].name);
        E->node = lw->node_out[i];
        E->layer = i;
        E->on_acc = 1;
        E->host_op = layer_kind(lw, i);
        E->m = v->hw.m; E->k = v->hw.k; E->n = v->hw.n; E->groups = v->hw.groups;
        E->wbits = v->hw.wbits; E->abits = v->hw.abits; E->obits = v->hw.raw32 ? 32 : v->hw.obits;
        E->rbits = v->hw.has_residual ? v->hw.rbits : 0;
        E->raw32 = v->hw.raw32;
        E->order = lw->plans[i].base.order;
        E->model[BQ_CTR_CYCLES] = lw->cycles[i];   /* stand-alone cycles: information */
        size_t got = bq_lowered_v2_out_size(lw, i);
        size_t want = v->hw.raw32 ? 4 * (size_t)S->ncls : bq_node_size(&S->m->nodes[E->node]);
        if (got != want) {
            bq_seterr(err, errlen, "layer '%s': its output tensor holds %zu bytes, the reference's "
                      "node '%s' %zu; a lowering bug (sw/lower/lower_v2.c), report it", E->name, got,
                      S->m->nodes[E->node].name, want);
            return -1;
        }
        if (got > biggest) biggest = got;
    }
    S->out = malloc(biggest);
    S->start = malloc(sizeof(int64_t) * (size_t)lw->n);
    if (!S->out || !S->start) { bq_seterr(err, errlen, "out of memory"); return -1; }
    for (int i = 0; i < lw->n; i++) S->start[i] = i ? S->start[i - 1] + lw->cycles[i - 1] : 0;
    return 0;
}

/* The memory plan: input at 0, then every output tensor, then weights and requant records
 * (bq_v2_net_plan); the driver rewrites [0, out_hi) per image and reads [out_lo, out_hi) back. */
static int v2_regions(v2_run *S, char *err, size_t errlen) {
    const bq_v2_memplan *mp = &S->lw.mp;
    S->out_lo = UINT64_MAX;
    S->out_hi = S->lw.mem_bytes;
    for (int i = 0; i < S->lw.n; i++) {
        if (mp->out[i] < S->out_lo) S->out_lo = mp->out[i];
        if (mp->w[i] < S->out_hi) S->out_hi = mp->w[i];
        if (mp->rq[i] < S->out_hi) S->out_hi = mp->rq[i];
    }
    for (int i = 0; i < S->lw.n; i++)
        if (mp->out[i] >= S->out_hi || mp->input != 0 || S->out_lo == 0) {
            bq_seterr(err, errlen, "memory plan: input at %u, layer %d's output at %u, weights from "
                      "%llu; the driver expects input, outputs, then weights (hw_model/hwsched_v2.c "
                      "bq_v2_net_plan)", mp->input, i, mp->out[i], (unsigned long long)S->out_hi);
            return -1;
        }
    return 0;
}

/* --fault instr:LAYER:BIT: where layer f's first execute instruction is in the program (the
 * layers' programs are appended in order, bq_v2_net_build: rebuild layers 0..f to count). */
static int instr_fault_at(v2_run *S, int f, const bq_hwcfg *cfg, char *err, size_t errlen) {
    const bq_lowered_v2 *lw = &S->lw;
    const bq_cosim_opts *o = S->o;
    bq_program p;
    bq_program_init(&p);
    int before = 0, rc = 0;
    for (int i = 0; i <= f && !rc; i++) {
        if (i == f) before = p.len[BQ_STAGE_EXEC];
        rc = bq_v2_build(&p, &lw->plans[i], cfg, &lw->mp.addr[i], i > 0, i + 1 < lw->n, err, errlen);
    }
    int mine = p.len[BQ_STAGE_EXEC] - before;
    bq_program_free(&p);
    if (rc) return -1;
    if (o->fault_bit < 0 || o->fault_bit >= 128 || mine < 1) {
        bq_seterr(err, errlen, "--fault %s: bit %ld is outside what it flips in layer '%s' (instr: "
                  "0..127 of its first execute instruction); choose a smaller bit", S->r->fault,
                  o->fault_bit, o->fault_layer);
        return -1;
    }
    S->fault_instr = before;
    return 0;
}

/* The report index of the layer called `name`, -1 for none. */
static int layer_index(const v2_run *S, const char *name) {
    for (int i = 0; i < S->r->n_layers; i++)
        if (!strcmp(S->r->layers[i].name, name)) return i;
    return -1;
}

/* --fault (weight / requant bits, or an instruction bit, of a named layer), --trace and --until:
 * a request that would do nothing or cannot be done is an error. */
static int v2_requests(v2_run *S, const bq_hwcfg *cfg, char *err, size_t errlen) {
    const bq_cosim_opts *o = S->o;
    bq_cosim_result *r = S->r;
    S->trace_layer = -1;
    S->fault_instr = -1;
    if (o->trace_layer[0]) S->trace_layer = layer_index(S, o->trace_layer);
    if (o->trace_layer[0] && S->trace_layer < 0) {
        bq_seterr(err, errlen, "--trace %s: no accelerator layer of that name; the layer names are the "
                  "\"name\" fields of cosim_report.json", o->trace_layer);
        return -1;
    }
    if (o->trace_layer[0] && !S->acc->ops->trace) {
        bq_seterr(err, errlen, "--trace %s: the %s backend cannot record waveforms; run it on the "
                  "simulator (build/sim/<cfg>/cosim)", o->trace_layer, r->backend);
        return -1;
    }
    S->last = S->lw.n - 1;
    if (o->until[0]) {
        S->last = layer_index(S, o->until);
        if (S->last < 0) {
            bq_seterr(err, errlen, "--until %s: no layer of that name; the layer names are the "
                      "\"name\" fields of a clean run's cosim_report.json", o->until);
            return -1;
        }
    }
    if (o->fault == BQ_FAULT_NONE) return 0;
    const int f = layer_index(S, o->fault_layer);
    if (f < 0) {
        bq_seterr(err, errlen, "--fault %s: no accelerator layer '%s'; the layer names are the "
                  "\"name\" fields of a clean run's cosim_report.json", r->fault, o->fault_layer);
        return -1;
    }
    if (o->fault == BQ_FAULT_INSTR) return instr_fault_at(S, f, cfg, err, errlen);
    uint8_t *buf = o->fault == BQ_FAULT_WEIGHT ? S->lw.w[f] : S->lw.rq[f];
    uint64_t bytes = o->fault == BQ_FAULT_WEIGHT ? S->lw.w_bytes[f] : S->lw.rq_bytes[f];
    if (o->fault_bit < 0 || (uint64_t)o->fault_bit / 8 >= bytes) {
        bq_seterr(err, errlen, "--fault %s: bit %ld is outside what it flips in layer '%s' (weight: "
                  "%llu bits, requant: %llu bits); choose a smaller bit", r->fault, o->fault_bit,
                  o->fault_layer, (unsigned long long)(S->lw.w_bytes[f] * 8),
                  (unsigned long long)(S->lw.rq_bytes[f] * 8));
        return -1;
    }
    buf[o->fault_bit / 8] ^= (uint8_t)(1u << (o->fault_bit % 8));
    return 0;
}

/* One difference of the package from the driver's own lowering: a log line (the run goes on with
 * the package's bytes, so the RTL's outputs against the reference show what it does). */
static void pkg_diff(v2_run *S, const char *where, const char *what, size_t at, unsigned pkg, unsigned own) {
    S->r->package_diffs++;
    if (S->log) fprintf(S->log, "cosim: PACKAGE DIFFERS %s: %s %zu (package %u, the driver's lowering %u; "
                        "the run uses the package's)\n", where, what, at, pkg, own);
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    size_t k = 0;
    while (k < n && a[k] == b[k]) k++;
    return k;
}

/* --package (version 3): its memory map must be the driver's (else -1, one line: the driver's
 * buffers follow its own plan); its weights and requant records replace the driver's (a
 * difference is noted per layer and part), before any fault is applied. */
static int v2_package_data(v2_run *S, const bq_hwcfg *cfg, char *err, size_t errlen) {
    const bq_st_pkg *p = S->o->pkg3;
    bq_lowered_v2 *lw = &S->lw;
    const char *why = NULL;
    int bad = -1;
    if (p->hw_hash != cfg->hash) {
        bq_seterr(err, errlen, "%s: package made for hw '%s' (hash %016llx), this run is hw '%s' (%016llx); "
                  "export the package from this .bqq and config", p->dir, p->hw_name,
                  (unsigned long long)p->hw_hash, cfg->name, (unsigned long long)cfg->hash);
        return -1;
    }
    if (p->n_layers != lw->n || p->n_tensors < 1 || p->tensors[0].addr != lw->mp.input)
        why = "has another layer list or input address";
    for (int i = 0; !why && i < lw->n; i++) {
        const bq_st_layer *L = &p->layers[i];
        bad = i;
        if (strcmp(L->name, S->r->layers[i].name)) why = "is not the driver's layer of that position";
        else if (L->out_tensor < 0 || L->out_tensor >= p->n_tensors ||
                 p->tensors[L->out_tensor].addr != lw->mp.out[i] || L->addr[BQ_ST_W] != lw->mp.w[i] ||
                 L->addr[BQ_ST_RQ] != lw->mp.rq[i])
            why = "has another address (output tensor, weights or requant records)";
        else if (L->w.size != lw->w_bytes[i] || L->rq.size != lw->rq_bytes[i])
            why = "has another weight or requant size";
    }
    if (why) {
        bq_seterr(err, errlen, "%s/manifest.json: layer %d ('%s') %s than this driver's lowering of the "
                  ".bqq; re-export the package from this .bqq and config", p->dir, bad,
                  bad >= 0 ? S->r->layers[bad].name : "", why);
        return -1;
    }
    for (int i = 0; i < lw->n; i++) {
        const bq_st_layer *L = &p->layers[i];
        char where[96];
        snprintf(where, sizeof where, "layer '%s'", L->name);
        size_t k = first_diff(p->weights + L->w.off, lw->w[i], L->w.size);
        if (k < L->w.size) pkg_diff(S, where, "weights: byte", k, p->weights[L->w.off + k], lw->w[i][k]);
        memcpy(lw->w[i], p->weights + L->w.off, L->w.size);
        k = first_diff(p->requant + L->rq.off, lw->rq[i], L->rq.size);
        if (k < L->rq.size) pkg_diff(S, where, "requant records: byte", k, p->requant[L->rq.off + k], lw->rq[i][k]);
        memcpy(lw->rq[i], p->requant + L->rq.off, L->rq.size);
    }
    if (p->cycles != S->lw.lat.cycles)
        pkg_diff(S, "network", "cycles: value", 0, (unsigned)p->cycles, (unsigned)S->lw.lat.cycles);
    return 0;
}

/* --package: the package's program replaces the driver's encoded words (a difference is noted). */
static int v2_package_program(v2_run *S, char *err, size_t errlen) {
    const bq_st_pkg *p = S->o->pkg3;
    for (int s = 0; s < BQ_NSTAGES; s++) {
        size_t n = p->program[s].size / 16, own = (size_t)S->lw.prog.len[s];
        uint32_t *w = malloc(sizeof(uint32_t) * 4 * (n ? n : 1));
        if (!w) { bq_seterr(err, errlen, "out of memory"); return -1; }
        for (size_t i = 0; i < 4 * n; i++) w[i] = bq_st_le32(p->programs + p->program[s].off + 4 * i);
        size_t k = 0;
        while (k < n && k < own && !memcmp(w + 4 * k, S->words[s] + 4 * k, 16)) k++;
        if (n != own) pkg_diff(S, "program", "instructions in queue", (size_t)s, (unsigned)n, (unsigned)own);
        else if (k < n) pkg_diff(S, "program", "first differing instruction of queue", (size_t)s, (unsigned)k, (unsigned)k);
        free(S->words[s]);
        S->words[s] = w;
        S->r->net_instrs[s] = (long)n;
    }
    return 0;
}

/* --package: image b's outputs (as read back) against the package's self-test vector of that
 * image, if it has one: every real byte of every tensor, the classifier's logits. */
static void v2_selftest(v2_run *S, int b) {
    const bq_st_pkg *p = S->o->pkg3;
    const int img = S->o->first_image + b;
    const bq_st_test *T = NULL;
    for (int t = 0; p && t < p->n_tests && !T; t++)
        if (p->tests[t].image == img) T = &p->tests[t];
    if (!T) return;
    bq_cosim_result *r = S->r;
    r->selftest_images++;
    for (int i = 0; i <= S->last; i++) {
        const bq_st_layer *L = &p->layers[i];
        const bq_st_tensor *X = &p->tensors[L->out_tensor];
        const uint8_t *want = p->tests_bin + T->layers[i].out.off, *got = S->mem + X->addr;
        long bad = 0;
        if (X->raw32)
            for (int c = 0; c < S->ncls; c++) bad += T->logits[c] != S->logits[c];
        else
            for (size_t px = 0; px < (size_t)X->h * X->w; px++)
                for (int c = 0; c < X->c; c++)
                    bad += want[px * (size_t)X->cs + (size_t)c] != got[px * (size_t)X->cs + (size_t)c];
        r->selftest_layers++;
        r->selftest_mismatches += bad;
        if (bad && S->log)
            fprintf(S->log, "cosim: SELF-TEST MISMATCH image %d layer '%s': %ld elements differ from the "
                    "package's tests.bin\n", img, L->name, bad);
    }
}

/* Encode the program once; write weights and requant records once (the whole memory image). */
static int v2_load(v2_run *S, char *err, size_t errlen) {
    const bq_program *prog = &S->lw.prog;
    for (int s = 0; s < BQ_NSTAGES; s++) {
        S->words[s] = malloc(sizeof(uint32_t) * 4 * (size_t)(prog->len[s] ? prog->len[s] : 1));
        if (!S->words[s]) { bq_seterr(err, errlen, "out of memory"); return -1; }
        for (int i = 0; i < prog->len[s]; i++)
            if (bq_isa_encode(&prog->ins[s][i], S->words[s] + 4 * (size_t)i)) {
                bq_seterr(err, errlen, "queue %d instruction %d: a field does not fit its encoding; "
                          "a scheduler bug (hw_model/hwsched_v2.c), report it", s, i);
                return -1;
            }
        S->r->net_instrs[s] = prog->len[s];
    }
    if (S->o->pkg3 && v2_package_program(S, err, errlen)) return -1;
    if (S->fault_instr >= 0)   /* after the encoding: a bit of the instruction as the RTL gets it */
        S->words[BQ_STAGE_EXEC][4 * (size_t)S->fault_instr + (size_t)S->o->fault_bit / 32] ^=
            1u << (S->o->fault_bit % 32);
    S->mem = calloc(1, S->lw.mem_bytes);
    if (!S->mem) { bq_seterr(err, errlen, "out of memory (%llu bytes of memory image)",
                             (unsigned long long)S->lw.mem_bytes); return -1; }
    bq_lowered_v2_load(&S->lw, S->mem);
    if (S->acc->ops->mem_write(S->acc->ctx, 0, S->mem, S->lw.mem_bytes)) {
        bq_seterr(err, errlen, "memory write of %llu bytes failed", (unsigned long long)S->lw.mem_bytes);
        return -1;
    }
    const bq_latency *lat = &S->lw.lat;
    int64_t m[BQ_NCTR] = {lat->cycles, lat->busy[0], lat->idle[0], lat->stall[0], lat->busy[1],
                          lat->idle[1], lat->stall[1], lat->busy[2], lat->idle[2], lat->stall[2],
                          lat->e_beats, lat->rd_beats, lat->wr_beats};
    memcpy(S->model, m, sizeof m);
    memcpy(S->r->net_model, m, sizeof m);
    return 0;
}

/* Image b's operands: input codes as HWC over a 0xA5-filled input region (padding channel bytes
 * must be masked by every reader), every output tensor 0xA5. Then the whole program and one run.
 * Returns 0, 1 on a time-out, -1 on an I/O error of the backend. */
static int v2_run_image(v2_run *S, int b, int64_t ctr[BQ_NCTR]) {
    const bq_acc *acc = S->acc;
    memset(S->mem, 0xA5, S->out_hi);
    bq_lowered_v2_write_input(&S->lw, &S->net, b, S->mem);
    if (acc->ops->mem_write(acc->ctx, 0, S->mem, S->out_hi)) return -1;
    for (int s = 0; s < BQ_NSTAGES; s++)
        for (int i = 0; i < S->lw.prog.len[s]; i++)
            if (acc->ops->push(acc->ctx, s, S->words[s] + 4 * (size_t)i)) return -1;
    const bq_cosim_opts *o = S->o;
    int64_t limit = o->max_cycles > 0 ? o->max_cycles
                    : o->bits_only ? 64 * S->model[BQ_CTR_CYCLES] + 1000000
                                   : 4 * S->model[BQ_CTR_CYCLES] + 100000;
    int rc = acc->ops->run(acc->ctx, limit);
    for (int c = 0; c < BQ_NCTR; c++)
        ctr[c] = acc->ops->reg_read(acc->ctx, BQ_HW_REG_CYCLES + 4u * (uint32_t)c);
    /* after a time-out too: the 0xA5 left in a tensor names the first layer that did not finish */
    if (acc->ops->mem_read(acc->ctx, S->out_lo, S->mem + S->out_lo, S->out_hi - S->out_lo)) return -1;
    return rc ? 1 : 0;
}

/* Layer i's output of image b against the reference; returns the differing elements. */
static long v2_compare_layer(v2_run *S, int i, int b) {
    const bq_lowered_v2 *lw = &S->lw;
    bq_cosim_result *r = S->r;
    bq_cosim_layer *E = &r->layers[i];
    const bq_v2_layer *v = &lw->layers[i];
    int img = S->o->first_image + b;
    long bad = 0;
    bq_lowered_v2_read_output(lw, i, S->mem, S->out);
    if (v->hw.raw32) {
        memcpy(S->logits, S->out, sizeof(int32_t) * (size_t)S->ncls);
        const int32_t *want = S->net.logits + (size_t)b * S->ncls;
        for (int c = 0; c < S->ncls; c++)
            if (S->logits[c] != want[c]) {
                if (!bad) bq_cosim_note_first(r, img, E->name, c, 0, 0, want[c], S->logits[c]);
                bad++;
            }
        r->logit_mismatches += bad;
    } else {
        const size_t npix = (size_t)v->ho * v->wo, osz = npix * (size_t)v->cout;
        const uint8_t *want = S->net.codes[E->node] + (size_t)b * osz;
        for (size_t k = 0; k < osz; k++)
            if (S->out[k] != want[k]) {
                if (!bad)
                    bq_cosim_note_first(r, img, E->name, (int)(k / npix), (int)(k % npix), v->wo,
                                        want[k], S->out[k]);
                bad++;
            }
    }
    if (bad && S->log) {
        fprintf(S->log, "cosim: MISMATCH image %d layer '%s': %ld elements differ", img, E->name, bad);
        if (r->first.valid && !strcmp(r->first.layer, E->name) && r->first.image == img)
            fprintf(S->log, "; first: channel %d pixel (y %d, x %d) expected %ld got %ld",
                    r->first.channel, r->first.y, r->first.x, r->first.expected, r->first.got);
        fputc('\n', S->log);
    }
    E->mismatches += bad;
    r->mismatches += bad;
    return bad;
}

/* The whole run's counters against the model's dry run of the same program. */
static void v2_count(v2_run *S, const int64_t ctr[BQ_NCTR], int b) {
    bq_cosim_result *r = S->r;
    int img = S->o->first_image + b;
    r->sim_cycles += ctr[BQ_CTR_CYCLES];
    if (b == 0) memcpy(r->net_rtl, ctr, sizeof r->net_rtl);
    int64_t ce = ctr[BQ_CTR_CYCLES] - S->model[BQ_CTR_CYCLES];
    if (ce < 0) ce = -ce;
    if (ce > r->worst_cycle_err) r->worst_cycle_err = ce;
    if (ce) r->cycle_mismatches++;
    if (bq_cosim_counters_match(S->acc, ctr, S->model)) return;
    r->counter_mismatches++;
    if (!S->log) return;
    fprintf(S->log, "cosim: %s image %d (whole network):", S->o->bits_only ? "counters (information, "
            "bits-only)" : "COUNTERS DIFFER", img);
    for (int c = 0; c < BQ_NCTR; c++)
        if (ctr[c] != S->model[c])
            fprintf(S->log, " %s RTL %lld model %lld;", bq_ctr_names[c], (long long)ctr[c],
                    (long long)S->model[c]);
    fputc('\n', S->log);
}

/* Argmax of the RTL's logits, with the reference's rule (numerics §4). */
static int v2_class(const v2_run *S) { return bq_intnet_argmax(&S->net, S->logits); }

/* Arm a waveform of the next run: layer t's span of the network run ([start, start + its
 * stand-alone cycles), counted from run_i rising), or [start + from, start + to) with to >= 0.
 * 0, or -1 when the backend refuses. */
static int v2_trace_arm(v2_run *S, const char *path, int t, int64_t from, int64_t to) {
    int64_t a = S->start[t] + from, b = to < 0 ? S->start[t] + S->lw.cycles[t] : S->start[t] + to;
    remove(path);   /* a stale file must not pass for this run's waveform */
    return S->acc->ops->trace(S->acc->ctx, path, a, b);
}

/* Close an armed waveform; 1 if the file exists. */
static int v2_trace_done(v2_run *S, const char *path) {
    S->acc->ops->trace(S->acc->ctx, NULL, 0, 0);
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The first mismatch of the run is in image b: run it again with the waveform of the mismatching
 * layer's span (opts.trace_path, one waveform per process). */
static void v2_trace_rerun(v2_run *S, int b) {
    bq_cosim_result *r = S->r;
    const char *path = S->o->trace_path;
    int t = layer_index(S, r->first.layer);
    int64_t ctr[BQ_NCTR];
    if (t < 0 || !path || !S->acc->ops->trace || v2_trace_arm(S, path, t, 0, -1)) return;
    int rc = v2_run_image(S, b, ctr);
    if (!v2_trace_done(S, path) || rc < 0) return;
    snprintf(r->first.trace, sizeof r->first.trace, "%s", path);
    if (S->log) fprintf(S->log, "cosim: waveform of layer '%s' (image %d, network cycles %lld..%lld, the "
                        "layer's span by the model): %s\n", r->first.layer, S->o->first_image + b,
                        (long long)S->start[t], (long long)(S->start[t] + S->lw.cycles[t]), path);
}

/* v2_run_image, with the --trace waveform on image 0 when one is requested. */
static int v2_run_traced(v2_run *S, int b, int64_t ctr[BQ_NCTR]) {
    const bq_cosim_opts *o = S->o;
    const int t = S->trace_layer;
    if (b != 0 || t < 0) return v2_run_image(S, b, ctr);
    int tracing = !v2_trace_arm(S, o->trace_file, t, o->trace_from, o->trace_to);
    if (!tracing && S->log)
        fprintf(S->log, "cosim: warning: --trace %s: the backend refused the waveform\n", o->trace_layer);
    int rc = v2_run_image(S, b, ctr);
    if (!tracing || !v2_trace_done(S, o->trace_file)) return rc;
    snprintf(S->r->trace, sizeof S->r->trace, "%s", o->trace_file);
    if (S->log) fprintf(S->log, "cosim: waveform of layer '%s' (image %d, network cycles %lld..%lld; the "
                        "layer spans %lld..%lld by the model): %s\n", o->trace_layer, o->first_image,
                        (long long)(S->start[t] + o->trace_from),
                        (long long)(o->trace_to < 0 ? S->start[t] + S->lw.cycles[t] : S->start[t] + o->trace_to),
                        (long long)S->start[t], (long long)(S->start[t] + S->lw.cycles[t]), o->trace_file);
    return rc;
}

/* Image b: one run, every layer compared, the counters, the class. Returns 1 to stop the run
 * (stop_on_mismatch and this image mismatched), -1 on a backend I/O error. */
static int v2_image(v2_run *S, int b) {
    bq_cosim_result *r = S->r;
    const int img = S->o->first_image + b;
    const long mism_before = r->mismatches;
    int64_t ctr[BQ_NCTR];
    double t0 = bq_now();
    int rc = v2_run_traced(S, b, ctr);
    if (rc < 0) return -1;
    v2_count(S, ctr, b);
    for (int i = 0; i <= S->last; i++) v2_compare_layer(S, i, b);
    if (S->o->pkg3 && rc == 0) v2_selftest(S, b);
    if (rc) {
        r->timeouts++;
        if (S->log) fprintf(S->log, "cosim: image %d: time-out after %lld cycles (model: %lld)%s%s%s\n",
                            img, (long long)ctr[BQ_CTR_CYCLES], (long long)S->model[BQ_CTR_CYCLES],
                            r->first.valid ? "; first layer whose output differs: '" : "",
                            r->first.valid ? r->first.layer : "", r->first.valid ? "'" : "");
        bq_cosim_note_first(r, img, r->layers[S->last].name, -1, 0, 0, -1, -1);
    }
    r->images++;
    int mism = r->mismatches != mism_before || rc;
    if (mism && r->first.valid && r->first.image == img && !r->first.trace[0] && !r->trace[0] &&
        S->trace_layer < 0)
        v2_trace_rerun(S, b);
    double dt = bq_now() - t0;
    if (S->last < S->lw.n - 1) {
        r->partial = 1;
        if (S->log) fprintf(S->log, "cosim: image %d/%d (test #%d): %s up to layer '%s', CYCLES %lld "
                            "(model %lld), %.1f s\n", b + 1, S->n, img, mism ? "MISMATCH" : "bit-exact",
                            S->o->until, (long long)ctr[0], (long long)S->model[0], dt);
        return S->o->stop_on_mismatch && mism;
    }
    int best = v2_class(S);
    r->pred_agree += best == S->pref[b];
    if (S->labels) r->correct_rtl += best == S->labels[b];
    if (S->log) fprintf(S->log, "cosim: image %d/%d (test #%d): %s, class %d (reference %d%s), CYCLES "
                        "%lld (model %lld), %.1f s\n", b + 1, S->n, img, mism ? "MISMATCH" : "bit-exact",
                        best, S->pref[b], S->labels ? (best == S->labels[b] ? ", correct" : ", wrong") : "",
                        (long long)ctr[0], (long long)S->model[0], dt);
    return S->o->stop_on_mismatch && mism;
}

int bq_cosim_v2_run(bq_cosim_result *r, const bq_acc *acc, const bq_qmodel *q, const bq_hwcfg *cfg,
                    const float *x, const int *labels, int n, const bq_cosim_opts *o, FILE *log,
                    char *err, size_t errlen) {
    v2_run S;
    memset(&S, 0, sizeof S);
    S.r = r; S.acc = acc; S.m = &q->model; S.o = o; S.log = log; S.labels = labels; S.n = n;
    if (bq_intnet_init(&S.net, q, n, err, errlen)) return -1;
    S.ncls = S.net.L[S.net.n_layers - 1].cout;
    if (bq_lower_v2_full(&S.lw, &S.net, cfg, err, errlen)) {
        bq_intnet_free(&S.net);
        return 1;   /* no whole-network program: the caller decides (per-layer path) */
    }
    int ret = -1;
    r->program = "whole-network";
    S.logits = calloc((size_t)S.ncls, sizeof *S.logits);
    S.pref = malloc(sizeof(int) * (size_t)n);
    if (!S.logits || !S.pref) { bq_seterr(err, errlen, "out of memory"); goto done; }
    if (v2_layers(&S, err, errlen) || v2_regions(&S, err, errlen) ||
        (o->pkg3 && v2_package_data(&S, cfg, err, errlen)) || v2_requests(&S, cfg, err, errlen) ||
        v2_load(&S, err, errlen))
        goto done;
    if (log) fprintf(log, "cosim: %s (%s backend): whole-network program, %d layers, %ld/%ld/%ld "
                     "instructions (fetch/execute/result), %.1f KiB of accelerator memory, model %lld "
                     "cycles per image\n", cfg->name, r->backend, S.lw.n, r->net_instrs[0],
                     r->net_instrs[1], r->net_instrs[2], (double)S.lw.mem_bytes / 1024,
                     (long long)S.model[BQ_CTR_CYCLES]);
    bq_intnet_forward(&S.net, x, n);   /* the reference, all images at once */
    bq_intnet_predict(&S.net, n, S.pref);
    S.t_all = bq_now();
    for (int b = 0; b < n; b++) {
        int rc = v2_image(&S, b);
        if (rc < 0) { bq_seterr(err, errlen, "image %d: the backend's memory or queue access failed",
                                o->first_image + b); goto done; }
        if (rc) break;
    }
    r->wall_s = bq_now() - S.t_all;
    ret = 0;
done:
    v2_free(&S);
    if (ret) { free(r->layers); r->layers = NULL; r->n_layers = 0; }
    return ret;
}
