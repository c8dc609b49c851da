/*
 * conv_dnnl.c — conv2d on oneDNN 2.6 (BQ_CONV_DNNL); the contract and the context are described in
 * conv_dnnl.h, the measurements (speed, reorders, threads, determinism) in docs/onednn.md.
 *
 * One cache entry = one convolution primitive for (geometry, batch, direction, bias, threads):
 *   forward         : src, weights (in), bias (in, plain), dst (out, overwritten)
 *   backward-data   : diff_dst, weights (in), diff_src (out, ADDED into dinp)
 *   backward-weights: src, diff_dst (in), diff_weights, diff_bias (out, ADDED into dweight/dbias)
 * Tensors are described to oneDNN as "any" layout so it picks its blocked formats (nChw16c,
 * OIhw16i16o, ...); each argument whose chosen layout differs from the user's NCHW / (G)OIHW gets
 * a reorder into (or out of) a slice of the context's workspace. An output that is added into
 * always goes through a reorder with a sum post-op (dst = src + 1 * dst), blocked or not. The
 * backward-data/-weights primitives are created with the forward primitive descriptor as their
 * hint, which is kept alive in the entry. Scratchpads are user-managed: a slice of the workspace.
 */
#include "nn/conv_dnnl.h"
#include "core/errmsg.h"
#include "core/parallel.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* oneDNN's OpenMP runtime (libgomp, linked by the Makefile). Declared here rather than through
 * <omp.h>, which lives in GCC's private include directory (clang builds, e.g. the fuzzer, do not
 * see it): sets the calling thread's team size for the parallel regions it starts. */
extern void omp_set_num_threads(int n);

#define CACHE_SLOTS 64         /* fres20 has 8 conv geometries, mbv2t 20; x 3 directions per batch */
#define WS_ALIGN 64
#define MAX_ARGS 4

typedef struct {
    int geo[16];               /* n cin h w cout kh kw sh sw pt pl pb pr groups hout wout */
    int dir, bias, nthr;
    int bf16;                  /* bf16 src/weights/diff_dst, f32 outputs (bq_dnnl_ctx_set_bf16) */
} ckey;

/* One argument of the primitive. mem is the primitive-side memory object: it points into the
 * workspace when a reorder is needed, else straight at the caller's buffer. */
typedef struct {
    int arg;                   /* DNNL_ARG_* of the convolution */
    int out, accumulate;       /* written by the primitive; added into the caller's buffer */
    dnnl_memory_t user, mem;   /* the caller's layout / the primitive's layout */
    dnnl_primitive_t reorder;  /* user -> mem (in) or mem -> user (out); NULL when not needed */
    size_t off;                /* mem's slice of the workspace (when reorder) */
} carg;

typedef struct {
    int used;
    unsigned long tick;
    ckey k;
    dnnl_primitive_desc_t hint, pd;
    dnnl_primitive_t prim;
    carg a[MAX_ARGS];
    int na;
    dnnl_memory_t scratch;     /* user-managed scratchpad (NULL if none) */
    size_t scratch_off, ws_need;
    char impl[64];
} entry;

struct bq_dnnl_ctx {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    entry slot[CACHE_SLOTS];
    unsigned long tick;
    void *ws;
    size_t ws_cap;
    int timing;
    int bf16;                  /* compute mode of new calls (part of the cache key) */
    int warned;                /* the FP32 fallback warning was printed (once per context) */
    bq_dnnl_stats st;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

static const char *dir_name(int dir) {
    return dir == BQ_DNNL_FWD ? "forward" : dir == BQ_DNNL_BWD_DATA ? "backward-data"
                                                                    : "backward-weights";
}

/* The fix named at the end depends on the mode: FP32 users pick another conv implementation;
 * bf16 is chosen in the recipe. */
static void set_fail(char *err, size_t errlen, const bq_dnnl_ctx *ctx, const bq_conv_shape *cs,
                     int dir, const char *what, dnnl_status_t st) {
    bq_seterr(err, errlen,
              "conv_dnnl: %s%s %s (%s) for conv N=%d Cin=%d %dx%d -> Cout=%d kernel %dx%d stride "
              "%dx%d pads %d,%d,%d,%d groups %d; %s", ctx->bf16 ? "bf16 " : "",
              dir_name(dir), what, st == dnnl_out_of_memory ? "out of memory" : dnnl_status2str(st),
              cs->n, cs->cin, cs->h, cs->w, cs->cout, cs->kh, cs->kw, cs->stride_h, cs->stride_w,
              cs->pad_t, cs->pad_l, cs->pad_b, cs->pad_r, cs->groups,
              ctx->bf16 ? "use 'compute: fp32' in the recipe" : "run with BQ_CONV=direct");
}

#define DN(call, what)                                                                            \
    do {                                                                                          \
        dnnl_status_t st_ = (call);                                                               \
        if (st_ != dnnl_success) {                                                                \
            set_fail(err, errlen, ctx, cs, dir, what, st_);                                       \
            goto fail;                                                                            \
        }                                                                                         \
    } while (0)

/* ---------------------------------------------------------------- context */

bq_dnnl_ctx *bq_dnnl_ctx_new(void) { return calloc(1, sizeof(bq_dnnl_ctx)); }

static void entry_free(entry *e) {
    for (int i = 0; i < e->na; i++) {
        if (e->a[i].reorder) dnnl_primitive_destroy(e->a[i].reorder);
        if (e->a[i].mem && e->a[i].mem != e->a[i].user) dnnl_memory_destroy(e->a[i].mem);
        if (e->a[i].user) dnnl_memory_destroy(e->a[i].user);
    }
    if (e->scratch) dnnl_memory_destroy(e->scratch);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    if (e->hint) dnnl_primitive_desc_destroy(e->hint);
    memset(e, 0, sizeof(*e));
}

void bq_dnnl_ctx_free(bq_dnnl_ctx *ctx) {
    if (!ctx) return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (ctx->slot[i].used) entry_free(&ctx->slot[i]);
    if (ctx->stream) dnnl_stream_destroy(ctx->stream);
    if (ctx->eng) dnnl_engine_destroy(ctx->eng);
    free(ctx->ws);
    free(ctx);
}

const bq_dnnl_stats *bq_dnnl_ctx_stats(const bq_dnnl_ctx *ctx) { return &ctx->st; }
void bq_dnnl_ctx_set_timing(bq_dnnl_ctx *ctx, int on) { ctx->timing = on; }
void bq_dnnl_ctx_set_bf16(bq_dnnl_ctx *ctx, int on) { ctx->bf16 = on != 0; }
int bq_dnnl_ctx_bf16(const bq_dnnl_ctx *ctx) { return ctx->bf16; }

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    default: return "older";
    }
}

void bq_dnnl_describe(char *buf, size_t len) {
    const dnnl_version_t *v = dnnl_version();
    const char *rt = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP"
                     : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                     : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential" : "other";
    snprintf(buf, len, "oneDNN %d.%d.%d (%s runtime), ISA %s", v->major, v->minor, v->patch, rt,
             isa_name(dnnl_get_effective_cpu_isa()));
}

/* oneDNN's bf16 convolutions need AVX512-BF16 (avx512_core_bf16, or AMX which includes it);
 * below that it only has reference (or bf16-emulating) kernels, far slower than FP32. The
 * effective ISA honours ONEDNN_MAX_CPU_ISA; BQ_FAKE_NO_BF16=1 (tests only) pretends it is
 * missing without touching oneDNN's once-per-process ISA latch. */
int bq_dnnl_bf16_available(char *isa, size_t len) {
    dnnl_cpu_isa_t eff = dnnl_get_effective_cpu_isa();
    const char *fake = getenv("BQ_FAKE_NO_BF16");
    int faked = fake && strcmp(fake, "1") == 0;
    if (isa) snprintf(isa, len, "%s%s", isa_name(eff), faked ? ", hidden by BQ_FAKE_NO_BF16=1" : "");
    if (faked) return 0;
    return eff == dnnl_cpu_isa_avx512_core_bf16 || eff == dnnl_cpu_isa_avx512_core_amx;
}

static int ctx_ready(bq_dnnl_ctx *ctx, const bq_conv_shape *cs, int dir, char *err,
                     size_t errlen) {
    if (ctx->stream) return 0;
    DN(dnnl_engine_create(&ctx->eng, dnnl_cpu, 0), "CPU engine creation failed");
    DN(dnnl_stream_create(&ctx->stream, ctx->eng, dnnl_stream_default_flags),
       "stream creation failed");
    return 0;
fail:
    if (ctx->eng) dnnl_engine_destroy(ctx->eng);
    ctx->eng = NULL;
    return -1;
}

/* Grow the workspace to at least `need` bytes (contents are not kept: only per-call data lives
 * there). */
static int ws_reserve(bq_dnnl_ctx *ctx, size_t need) {
    if (need <= ctx->ws_cap) return 0;
    void *p = aligned_alloc(WS_ALIGN, round_up(need, WS_ALIGN));
    if (!p) return -1;
    free(ctx->ws);
    ctx->ws = p;
    ctx->ws_cap = round_up(need, WS_ALIGN);
    ctx->st.ws_bytes = ctx->ws_cap;
    return 0;
}

/* ---------------------------------------------------------------- building an entry */

static void user_md(dnnl_memory_desc_t *md, int which, const bq_conv_shape *cs) {
    /* which: 0 src (N,Cin,H,W)  1 weights (Cout,Cin/g,Kh,Kw) or (G,Cout/g,Cin/g,Kh,Kw)
     *        2 dst (N,Cout,Hout,Wout)  3 bias (Cout) */
    dnnl_dims_t d;
    switch (which) {
    case 0:
        d[0] = cs->n; d[1] = cs->cin; d[2] = cs->h; d[3] = cs->w;
        dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_nchw);
        break;
    case 1:
        if (cs->groups == 1) {
            d[0] = cs->cout; d[1] = cs->cin; d[2] = cs->kh; d[3] = cs->kw;
            dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_oihw);
        } else {
            d[0] = cs->groups; d[1] = cs->cout / cs->groups; d[2] = cs->cin / cs->groups;
            d[3] = cs->kh; d[4] = cs->kw;
            dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, dnnl_goihw);
        }
        break;
    case 2:
        d[0] = cs->n; d[1] = cs->cout; d[2] = cs->hout; d[3] = cs->wout;
        dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_nchw);
        break;
    default:
        d[0] = cs->cout;
        dnnl_memory_desc_init_by_tag(md, 1, d, dnnl_f32, dnnl_x);
        break;
    }
}

/* The same shape with layout "any" and data type dt (bias stays plain f32). */
static void any_md(dnnl_memory_desc_t *md, int which, const bq_conv_shape *cs,
                   dnnl_data_type_t dt) {
    dnnl_memory_desc_t u;
    user_md(&u, which, cs);
    if (which == 3) { *md = u; return; }
    dnnl_memory_desc_init_by_tag(md, u.ndims, u.dims, dt, dnnl_format_tag_any);
}

/* Data types of src, weights, dst for direction dir. FP32: all f32. BF16: what the primitive
 * reads is bf16 (src, weights, diff_dst) and what it writes is f32 (dst, diff_src,
 * diff_weights): accumulation stays f32 inside oneDNN's bf16 kernels (vdpbf16ps), and the
 * outputs are added into f32 buffers without a second rounding. */
static void dir_types(dnnl_data_type_t t[3], int dir, int bf16) {
    const dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32;
    t[0] = dir == BQ_DNNL_BWD_DATA ? dnnl_f32 : lo;      /* src / diff_src */
    t[1] = dir == BQ_DNNL_BWD_WEIGHTS ? dnnl_f32 : lo;   /* weights / diff_weights */
    t[2] = dir == BQ_DNNL_FWD ? dnnl_f32 : lo;           /* dst / diff_dst */
}

static void make_key(ckey *k, const bq_conv_shape *cs, int dir, int bias, int nthr, int bf16) {
    memset(k, 0, sizeof(*k));
    const int g[16] = {cs->n, cs->cin, cs->h, cs->w, cs->cout, cs->kh, cs->kw, cs->stride_h,
                       cs->stride_w, cs->pad_t, cs->pad_l, cs->pad_b, cs->pad_r, cs->groups,
                       cs->hout, cs->wout};
    memcpy(k->geo, g, sizeof g);
    k->dir = dir;
    k->bias = bias;
    k->nthr = nthr;
    k->bf16 = bf16;
}

/* Add argument `arg` (user layout `which`) to e; out/accumulate as in carg. Creates the reorder
 * when the primitive's layout differs from the user's, or when the output is added into. */
static int add_arg(bq_dnnl_ctx *ctx, entry *e, int arg, int which, int out, int accumulate,
                   const bq_conv_shape *cs, int dir, size_t *ws_off, char *err, size_t errlen) {
    carg *a = &e->a[e->na++];
    a->arg = arg;
    a->out = out;
    a->accumulate = accumulate;
    dnnl_memory_desc_t umd;
    user_md(&umd, which, cs);
    const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(e->pd, dnnl_query_exec_arg_md, arg);
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (!pmd) {
        set_fail(err, errlen, ctx, cs, dir, "argument query failed", dnnl_invalid_arguments);
        return -1;
    }
    DN(dnnl_memory_create(&a->user, &umd, ctx->eng, DNNL_MEMORY_NONE), "memory creation failed");
    if (dnnl_memory_desc_equal(&umd, pmd) && !accumulate) {
        a->mem = a->user;      /* same layout: the primitive reads/writes the caller's buffer */
        return 0;
    }
    DN(dnnl_memory_create(&a->mem, pmd, ctx->eng, DNNL_MEMORY_NONE), "memory creation failed");
    a->off = *ws_off;
    *ws_off += round_up(dnnl_memory_desc_get_size(pmd), WS_ALIGN);
    if (accumulate) {
        DN(dnnl_primitive_attr_create(&attr), "attribute creation failed");
        DN(dnnl_post_ops_create(&po), "post-op creation failed");
        DN(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op failed");
        DN(dnnl_primitive_attr_set_post_ops(attr, po), "post-op attribute failed");
    }
    if (out)
        DN(dnnl_reorder_primitive_desc_create(&rpd, pmd, ctx->eng, &umd, ctx->eng, attr),
           "reorder from oneDNN's layout to NCHW is not supported");
    else
        DN(dnnl_reorder_primitive_desc_create(&rpd, &umd, ctx->eng, pmd, ctx->eng, attr),
           "reorder from NCHW to oneDNN's layout is not supported");
    DN(dnnl_primitive_create(&a->reorder, rpd), "reorder creation failed");
    dnnl_primitive_desc_destroy(rpd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return 0;
fail:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return -1;
}

/* The forward primitive descriptor a backward one is created from (oneDNN takes its layouts as
 * the hint): a forward of the key's precision (FP32, or bf16 in / f32 out) without bias. Not the
 * backward's own mix of types: f32 diff_src with bf16 weights has no forward implementation. */
static int build_hint(bq_dnnl_ctx *ctx, entry *e, const ckey *k, const bq_conv_shape *cs,
                      char *err, size_t errlen) {
    const int dir = k->dir;
    dnnl_data_type_t t[3];
    dir_types(t, BQ_DNNL_FWD, k->bf16);
    dnnl_memory_desc_t src, wei, dst;
    any_md(&src, 0, cs, t[0]);
    any_md(&wei, 1, cs, t[1]);
    any_md(&dst, 2, cs, t[2]);
    const dnnl_dims_t strides = {cs->stride_h, cs->stride_w};
    const dnnl_dims_t pad_l = {cs->pad_t, cs->pad_l}, pad_r = {cs->pad_b, cs->pad_r};
    dnnl_convolution_desc_t fd;
    DN(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                          &src, &wei, NULL, &dst, strides, pad_l, pad_r),
       "descriptor rejected the geometry");
    DN(dnnl_primitive_desc_create(&e->hint, &fd, NULL, ctx->eng, NULL),
       "has no forward implementation to hint from");
    return 0;
fail:
    return -1;
}

/* Build entry e for key k (e is zeroed; on failure it is left for entry_free). */
static int entry_build(bq_dnnl_ctx *ctx, entry *e, const ckey *k, const bq_conv_shape *cs,
                       char *err, size_t errlen) {
    const int dir = k->dir;
    dnnl_data_type_t t[3];
    dir_types(t, dir, k->bf16);
    dnnl_memory_desc_t src, wei, dst, bias;
    any_md(&src, 0, cs, t[0]);
    any_md(&wei, 1, cs, t[1]);
    any_md(&dst, 2, cs, t[2]);
    any_md(&bias, 3, cs, dnnl_f32);
    const dnnl_dims_t strides = {cs->stride_h, cs->stride_w};
    const dnnl_dims_t pad_l = {cs->pad_t, cs->pad_l}, pad_r = {cs->pad_b, cs->pad_r};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_convolution_desc_t fd, bd;
    DN(dnnl_primitive_attr_create(&attr), "attribute creation failed");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user),
       "scratchpad attribute failed");
    if (dir == BQ_DNNL_FWD) {
        DN(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                              &src, &wei, k->bias ? &bias : NULL, &dst, strides,
                                              pad_l, pad_r),
           "descriptor rejected the geometry");
        DN(dnnl_primitive_desc_create(&e->pd, &fd, attr, ctx->eng, NULL),
           "has no implementation");
    } else {
        if (build_hint(ctx, e, k, cs, err, errlen)) goto fail;
        if (dir == BQ_DNNL_BWD_DATA)
            DN(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src, &wei,
                                                        &dst, strides, pad_l, pad_r),
               "descriptor rejected the geometry");
        else
            DN(dnnl_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &src,
                                                           &wei, k->bias ? &bias : NULL, &dst,
                                                           strides, pad_l, pad_r),
               "descriptor rejected the geometry");
        DN(dnnl_primitive_desc_create(&e->pd, &bd, attr, ctx->eng, e->hint),
           "has no implementation");
    }
    dnnl_primitive_attr_destroy(attr);
    attr = NULL;
    DN(dnnl_primitive_create(&e->prim, e->pd), "primitive creation failed");
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(e->impl, sizeof e->impl, "%s", impl);
    size_t off = 0;
    int bad = 0;
    if (dir == BQ_DNNL_FWD) {
        bad |= add_arg(ctx, e, DNNL_ARG_SRC, 0, 0, 0, cs, dir, &off, err, errlen);
        if (!bad) bad |= add_arg(ctx, e, DNNL_ARG_WEIGHTS, 1, 0, 0, cs, dir, &off, err, errlen);
        if (!bad && k->bias) bad |= add_arg(ctx, e, DNNL_ARG_BIAS, 3, 0, 0, cs, dir, &off, err, errlen);
        if (!bad) bad |= add_arg(ctx, e, DNNL_ARG_DST, 2, 1, 0, cs, dir, &off, err, errlen);
    } else if (dir == BQ_DNNL_BWD_DATA) {
        bad |= add_arg(ctx, e, DNNL_ARG_DIFF_DST, 2, 0, 0, cs, dir, &off, err, errlen);
        if (!bad) bad |= add_arg(ctx, e, DNNL_ARG_WEIGHTS, 1, 0, 0, cs, dir, &off, err, errlen);
        if (!bad) bad |= add_arg(ctx, e, DNNL_ARG_DIFF_SRC, 0, 1, 1, cs, dir, &off, err, errlen);
    } else {
        bad |= add_arg(ctx, e, DNNL_ARG_SRC, 0, 0, 0, cs, dir, &off, err, errlen);
        if (!bad) bad |= add_arg(ctx, e, DNNL_ARG_DIFF_DST, 2, 0, 0, cs, dir, &off, err, errlen);
        if (!bad) bad |= add_arg(ctx, e, DNNL_ARG_DIFF_WEIGHTS, 1, 1, 1, cs, dir, &off, err, errlen);
        if (!bad && k->bias)
            bad |= add_arg(ctx, e, DNNL_ARG_DIFF_BIAS, 3, 1, 1, cs, dir, &off, err, errlen);
    }
    if (bad) return -1;
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(e->pd, dnnl_query_scratchpad_md, 0);
    size_t sbytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (sbytes) {
        DN(dnnl_memory_create(&e->scratch, smd, ctx->eng, DNNL_MEMORY_NONE),
           "scratchpad memory creation failed");
        e->scratch_off = off;
        off += round_up(sbytes, WS_ALIGN);
    }
    e->ws_need = off;
    if (ws_reserve(ctx, off)) {
        set_fail(err, errlen, ctx, cs, dir, "workspace allocation failed", dnnl_out_of_memory);
        return -1;
    }
    return 0;
fail:
    if (attr) dnnl_primitive_attr_destroy(attr);
    return -1;
}

/* The entry for (cs, dir, bias) at the current thread count: cached, or built (evicting the least
 * recently used entry when the cache is full). NULL with err set when oneDNN refuses. */
static entry *lookup(bq_dnnl_ctx *ctx, const bq_conv_shape *cs, int dir, int bias, char *err,
                     size_t errlen) {
    if (ctx_ready(ctx, cs, dir, err, errlen)) return NULL;
    const int nthr = bq_num_threads();
    omp_set_num_threads(nthr);
    ckey k;
    make_key(&k, cs, dir, bias, nthr, ctx->bf16);
    entry *victim = NULL;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        entry *e = &ctx->slot[i];
        if (e->used && memcmp(&e->k, &k, sizeof k) == 0) {
            e->tick = ++ctx->tick;
            ctx->st.hits++;
            return e;
        }
        if (!victim || (victim->used && (!e->used || e->tick < victim->tick))) victim = e;
    }
    if (victim->used) {
        entry_free(victim);
        ctx->st.evicted++;
    }
    ctx->st.misses++;
    if (entry_build(ctx, victim, &k, cs, err, errlen)) {
        entry_free(victim);
        return NULL;
    }
    victim->used = 1;
    victim->k = k;
    victim->tick = ++ctx->tick;
    return victim;
}

/* ---------------------------------------------------------------- running an entry */

static dnnl_status_t exec2(bq_dnnl_ctx *ctx, dnnl_primitive_t p, dnnl_memory_t from,
                           dnnl_memory_t to) {
    const dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    double t0 = ctx->timing ? now_s() : 0.0;
    dnnl_status_t st = dnnl_primitive_execute(p, ctx->stream, 2, args);
    if (ctx->timing) {
        dnnl_stream_wait(ctx->stream);
        ctx->st.t_reorder += now_s() - t0;
    }
    return st;
}

/* Run e with the caller's buffers ptr[i] for argument i (in e->a order). */
static int entry_run(bq_dnnl_ctx *ctx, entry *e, void *const *ptr, const bq_conv_shape *cs,
                     char *err, size_t errlen) {
    const int dir = e->k.dir;
    dnnl_exec_arg_t args[MAX_ARGS + 1];
    int nargs = 0;
    omp_set_num_threads(e->k.nthr);
    for (int i = 0; i < e->na; i++) {
        carg *a = &e->a[i];
        DN(dnnl_memory_set_data_handle(a->user, ptr[i]), "set_data_handle failed");
        if (a->mem != a->user)
            DN(dnnl_memory_set_data_handle(a->mem, (char *)ctx->ws + a->off),
               "set_data_handle failed");
        if (!a->out && a->reorder) DN(exec2(ctx, a->reorder, a->user, a->mem), "reorder failed");
        args[nargs].arg = a->arg;
        args[nargs].memory = a->mem;
        nargs++;
    }
    if (e->scratch) {
        DN(dnnl_memory_set_data_handle(e->scratch, (char *)ctx->ws + e->scratch_off),
           "set_data_handle failed");
        args[nargs].arg = DNNL_ARG_SCRATCHPAD;
        args[nargs].memory = e->scratch;
        nargs++;
    }
    double t0 = ctx->timing ? now_s() : 0.0;
    DN(dnnl_primitive_execute(e->prim, ctx->stream, nargs, args), "execution failed");
    if (ctx->timing) {
        dnnl_stream_wait(ctx->stream);
        ctx->st.t_conv += now_s() - t0;
    }
    for (int i = 0; i < e->na; i++) {
        carg *a = &e->a[i];
        if (a->out && a->reorder) DN(exec2(ctx, a->reorder, a->mem, a->user), "reorder failed");
    }
    DN(dnnl_stream_wait(ctx->stream), "stream wait failed");
    ctx->st.calls++;
    return 0;
fail:
    return -1;
}

/* ---------------------------------------------------------------- public entry points */

static int check_ctx(bq_dnnl_ctx *ctx, char *err, size_t errlen) {
    if (ctx) return 0;
    bq_seterr(err, errlen, "conv_dnnl: no context (create one with bq_dnnl_ctx_new)");
    return -1;
}

int bq_conv2d_dnnl_forward(bq_dnnl_ctx *ctx, float *out, const float *inp, const float *weight,
                           const float *bias, const bq_conv_shape *cs, char *err, size_t errlen) {
    if (check_ctx(ctx, err, errlen)) return -1;
    entry *e = lookup(ctx, cs, BQ_DNNL_FWD, bias != NULL, err, errlen);
    if (!e) return -1;
    void *ptr[MAX_ARGS] = {(void *)inp, (void *)weight};
    int i = 2;
    if (bias) ptr[i++] = (void *)bias;
    ptr[i] = out;
    return entry_run(ctx, e, ptr, cs, err, errlen);
}

int bq_conv2d_dnnl_backward(bq_dnnl_ctx *ctx, float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            const bq_conv_shape *cs, char *err, size_t errlen) {
    if (check_ctx(ctx, err, errlen)) return -1;
    /* every primitive first (the fallible part), so a refusal leaves the outputs untouched */
    entry *ed = dinp ? lookup(ctx, cs, BQ_DNNL_BWD_DATA, 0, err, errlen) : NULL;
    if (dinp && !ed) return -1;
    entry *ew = dweight ? lookup(ctx, cs, BQ_DNNL_BWD_WEIGHTS, dbias != NULL, err, errlen) : NULL;
    if (dweight && !ew) return -1;
    if (ed) {
        void *ptr[MAX_ARGS] = {(void *)dout, (void *)weight, dinp};
        if (entry_run(ctx, ed, ptr, cs, err, errlen)) return -1;
    }
    if (ew) {
        void *ptr[MAX_ARGS] = {(void *)inp, (void *)dout, dweight, dbias};
        if (entry_run(ctx, ew, ptr, cs, err, errlen)) return -1;
    } else if (dbias) {
        /* bias gradient alone: no primitive for a plane sum */
        const size_t plane = (size_t)cs->hout * cs->wout;
        for (int n = 0; n < cs->n; n++)
            for (int c = 0; c < cs->cout; c++) {
                const float *g = dout + ((size_t)n * cs->cout + c) * plane;
                float s = 0.0f;
                for (size_t i = 0; i < plane; i++) s += g[i];
                dbias[c] += s;
            }
    }
    return 0;
}

const char *bq_conv2d_dnnl_impl(bq_dnnl_ctx *ctx, const bq_conv_shape *cs, bq_dnnl_dir dir,
                                int with_bias, char *err, size_t errlen) {
    if (check_ctx(ctx, err, errlen)) return NULL;
    entry *e = lookup(ctx, cs, (int)dir, with_bias, err, errlen);
    return e ? e->impl : NULL;
}

/* ---------------------------------------------------------------- the ops.h dispatch */

/* Record the first failure of a void call and decide what the caller does. FP32: the direct
 * kernel runs instead (returns -1), but only when no primitive of this call completed (lookups
 * come first, so a refused shape writes nothing), with a warning on stderr the first time in this
 * context. BF16: no fallback to another precision (returns 0, the outputs are not computed): the
 * failure is counted in st.errors and the caller must check it (reconstruct.c does after every
 * unit; it also builds every primitive before any work, bq_exec_conv_preflight). */
static int dispatch_end(bq_dnnl_ctx *ctx, int rc, long calls0, const char *err) {
    if (rc == 0) return 0;
    if (!ctx->st.first_error[0]) snprintf(ctx->st.first_error, sizeof ctx->st.first_error, "%s", err);
    if (ctx->bf16) {
        ctx->st.errors++;
        return 0;
    }
    ctx->st.fallbacks++;
    if (!ctx->warned) {
        ctx->warned = 1;
        fprintf(stderr, "warning: %s (the direct FP32 kernel ran instead; further fallbacks in "
                "this context are counted, not printed)\n", err);
    }
    return ctx->st.calls == calls0 ? -1 : 0;
}

int bq_conv2d_dnnl_op_forward(float *out, const float *inp, const float *weight, const float *bias,
                              const bq_conv_shape *cs) {
    bq_dnnl_ctx *tmp = cs->dnnl ? NULL : bq_dnnl_ctx_new(), *ctx = cs->dnnl ? cs->dnnl : tmp;
    if (!ctx) return -1;
    char err[256] = "";
    long calls0 = ctx->st.calls;
    int rc = bq_conv2d_dnnl_forward(ctx, out, inp, weight, bias, cs, err, sizeof err);
    rc = dispatch_end(ctx, rc, calls0, err);
    bq_dnnl_ctx_free(tmp);
    return rc;
}

int bq_conv2d_dnnl_op_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const bq_conv_shape *cs) {
    bq_dnnl_ctx *tmp = cs->dnnl ? NULL : bq_dnnl_ctx_new(), *ctx = cs->dnnl ? cs->dnnl : tmp;
    if (!ctx) return -1;
    char err[256] = "";
    long calls0 = ctx->st.calls;
    int rc = bq_conv2d_dnnl_backward(ctx, dinp, dweight, dbias, dout, inp, weight, cs, err,
                                     sizeof err);
    rc = dispatch_end(ctx, rc, calls0, err);
    bq_dnnl_ctx_free(tmp);
    return rc;
}
