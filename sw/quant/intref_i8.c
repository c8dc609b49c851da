/*
 * intref_i8.c — exact int8 convolutions of the integer reference on oneDNN 2.6 (intref_i8.h).
 *
 * Per layer, up to SLOTS_PER_LAYER cached primitives (one per batch size seen; the least recently
 * used is replaced). Each holds the forward-inference convolution (s8 NHWC source, s8 weights in
 * the layout oneDNN picks, s32 NHWC output, created for one thread, user-managed scratchpad) and
 * its weights already reordered. Per thread slot: a stream and a scratchpad buffer.
 */
#include "quant/intref_i8.h"
#include "core/errmsg.h"
#include "core/parallel.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

/* oneDNN's OpenMP runtime: the calling thread's team size (see conv_dnnl.c for why not <omp.h>). */
extern void omp_set_num_threads(int n);

/* full batch and last batch, each split into up to two per-thread sizes */
#define SLOTS_PER_LAYER 4

typedef struct {
    int n;                          /* batch size; 0 = empty */
    unsigned long tick;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t conv;
    dnnl_memory_t weights;
    size_t scratch_bytes;
} i8slot;

struct bq_i8ctx {
    dnnl_engine_t eng;
    int n_layers;
    unsigned long tick;
    i8slot *slot;                   /* [n_layers * SLOTS_PER_LAYER] */
    int n_threads;                  /* thread slots with a stream */
    dnnl_stream_t stream[BQ_MAX_THREADS];
    void *scratch[BQ_MAX_THREADS];  /* per thread slot, scratch_cap bytes each */
    size_t scratch_cap;
};

int bq_i8_exact_on_cpu(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_vnni || isa == dnnl_cpu_isa_avx512_core_bf16 ||
           isa == dnnl_cpu_isa_avx512_core_amx || isa == dnnl_cpu_isa_avx2_vnni;
}

bq_i8ctx *bq_i8ctx_new(int n_layers) {
    bq_i8ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) return NULL;
    ctx->n_layers = n_layers;
    ctx->slot = calloc((size_t)(n_layers > 0 ? n_layers : 1) * SLOTS_PER_LAYER, sizeof(i8slot));
    if (!ctx->slot) { free(ctx); return NULL; }
    return ctx;
}

static void slot_free(i8slot *s) {
    if (s->conv) dnnl_primitive_destroy(s->conv);
    if (s->weights) dnnl_memory_destroy(s->weights);
    if (s->pd) dnnl_primitive_desc_destroy(s->pd);
    memset(s, 0, sizeof(*s));
}

void bq_i8ctx_free(bq_i8ctx *ctx) {
    if (!ctx) return;
    for (int i = 0; i < ctx->n_layers * SLOTS_PER_LAYER; i++) slot_free(&ctx->slot[i]);
    free(ctx->slot);
    for (int t = 0; t < ctx->n_threads; t++) dnnl_stream_destroy(ctx->stream[t]);
    for (int t = 0; t < BQ_MAX_THREADS; t++) free(ctx->scratch[t]);
    if (ctx->eng) dnnl_engine_destroy(ctx->eng);
    free(ctx);
}

#define DN(call, what)                                                                            \
    do {                                                                                          \
        dnnl_status_t st_ = (call);                                                               \
        if (st_ != dnnl_success) {                                                                \
            bq_seterr(err, errlen, "intref int8: %s failed (%s) for layer %d (conv N=%d Cin=%d "   \
                      "%dx%d -> Cout=%d kernel %dx%d stride %d groups %d); the float/int16 "     \
                      "kernels give the same bits: run with BQ_INTREF_KERNEL=fp32",               \
                      what, dnnl_status2str(st_), layer, cs->n, cs->cin, cs->h, cs->w, cs->cout, \
                      cs->kh, cs->kw, cs->stride_h, cs->groups);                                  \
            goto fail;                                                                            \
        }                                                                                         \
    } while (0)

/* Create slot s for layer's geometry at batch cs->n: primitive (one thread, NHWC activations,
 * user scratchpad) and blocked weights. */
static int slot_create(bq_i8ctx *ctx, i8slot *s, int layer, const bq_conv_shape *cs,
                       const int8_t *w8, char *err, size_t errlen) {
    int g = cs->groups, hout = cs->hout, wout = cs->wout;
    dnnl_dims_t sd = {cs->n, cs->cin, cs->h, cs->w}, dd = {cs->n, cs->cout, hout, wout};
    dnnl_dims_t wd = {g, cs->cout / g, cs->cin / g, cs->kh, cs->kw};
    int wnd = 5;
    if (g == 1) { wd[0] = cs->cout; wd[1] = cs->cin; wd[2] = cs->kh; wd[3] = cs->kw; wnd = 4; }
    dnnl_dims_t strides = {cs->stride_h, cs->stride_w}, pl = {cs->pad_t, cs->pad_l}, pr = {cs->pad_b, cs->pad_r};
    dnnl_memory_desc_t src_md, w_any, dst_md, w_user;
    dnnl_memory_t user_w = NULL;
    dnnl_primitive_attr_t attr = NULL;
    DN(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_s8, dnnl_nhwc), "source descriptor");
    DN(dnnl_memory_desc_init_by_tag(&w_any, wnd, wd, dnnl_s8, dnnl_format_tag_any), "weights descriptor");
    DN(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_s32, dnnl_nhwc), "output descriptor");
    DN(dnnl_memory_desc_init_by_tag(&w_user, wnd, wd, dnnl_s8, g == 1 ? dnnl_oihw : dnnl_goihw),
       "weights descriptor");
    dnnl_convolution_desc_t cd;
    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                          &src_md, &w_any, NULL, &dst_md, strides, pl, pr),
       "convolution descriptor");
    DN(dnnl_primitive_attr_create(&attr), "attributes");
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad attribute");
    omp_set_num_threads(1);   /* the primitive splits its work for the one thread that runs it */
    DN(dnnl_primitive_desc_create(&s->pd, &cd, attr, ctx->eng, NULL), "primitive descriptor");
    DN(dnnl_primitive_create(&s->conv, s->pd), "primitive");
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *sp_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
    s->scratch_bytes = sp_md ? dnnl_memory_desc_get_size(sp_md) : 0;
    /* the weights: reordered once from the caller's (G)OIHW into the primitive's layout */
    DN(dnnl_memory_create(&user_w, &w_user, ctx->eng, (void *)w8), "weights memory");
    DN(dnnl_memory_create(&s->weights, w_md, ctx->eng, DNNL_MEMORY_ALLOCATE), "weights memory");
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t wr;
    DN(dnnl_reorder_primitive_desc_create(&rpd, &w_user, ctx->eng, w_md, ctx->eng, NULL), "weights reorder");
    dnnl_status_t st = dnnl_primitive_create(&wr, rpd);
    dnnl_primitive_desc_destroy(rpd);
    DN(st, "weights reorder");
    dnnl_exec_arg_t wargs[2] = {{DNNL_ARG_FROM, user_w}, {DNNL_ARG_TO, s->weights}};
    st = dnnl_primitive_execute(wr, ctx->stream[0], 2, wargs);
    if (st == dnnl_success) st = dnnl_stream_wait(ctx->stream[0]);
    dnnl_primitive_destroy(wr);
    DN(st, "weights reorder");
    dnnl_memory_destroy(user_w);
    dnnl_primitive_attr_destroy(attr);
    s->n = cs->n;
    return 0;
fail:
    if (user_w) dnnl_memory_destroy(user_w);
    if (attr) dnnl_primitive_attr_destroy(attr);
    slot_free(s);
    return -1;
}

static i8slot *slot_find(bq_i8ctx *ctx, int layer, int n) {
    i8slot *slots = &ctx->slot[layer * SLOTS_PER_LAYER];
    for (int i = 0; i < SLOTS_PER_LAYER; i++)
        if (slots[i].n == n) return &slots[i];
    return NULL;
}

/* The engine, and a stream and scratchpad of `bytes` for thread slots 0..threads-1. */
static int threads_ready(bq_i8ctx *ctx, int threads, size_t bytes, char *err, size_t errlen) {
    dnnl_status_t st = dnnl_success;
    if (!ctx->eng) st = dnnl_engine_create(&ctx->eng, dnnl_cpu, 0);
    for (; st == dnnl_success && ctx->n_threads < threads; ctx->n_threads++)
        st = dnnl_stream_create(&ctx->stream[ctx->n_threads], ctx->eng, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        bq_seterr(err, errlen, "intref int8: oneDNN CPU engine not available (%s)", dnnl_status2str(st));
        return -1;
    }
    if (bytes <= ctx->scratch_cap) return 0;
    for (int t = 0; t < BQ_MAX_THREADS; t++) {
        free(ctx->scratch[t]);
        ctx->scratch[t] = NULL;
    }
    ctx->scratch_cap = 0;
    for (int t = 0; t < BQ_MAX_THREADS; t++)
        if (!(ctx->scratch[t] = malloc(bytes))) {
            bq_seterr(err, errlen, "intref int8: out of memory (scratchpad of %zu bytes)", bytes);
            return -1;
        }
    ctx->scratch_cap = bytes;
    return 0;
}

int bq_i8_prepare(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, const int8_t *w8, int threads,
                  char *err, size_t errlen) {
    if (layer < 0 || layer >= ctx->n_layers || threads < 1 || threads > BQ_MAX_THREADS) {
        bq_seterr(err, errlen, "intref int8: layer %d or %d threads out of range (%d layers)", layer,
                  threads, ctx->n_layers);
        return -1;
    }
    if (threads_ready(ctx, threads, 0, err, errlen)) return -1;
    i8slot *s = slot_find(ctx, layer, cs->n);
    if (!s) {
        i8slot *slots = &ctx->slot[layer * SLOTS_PER_LAYER];
        s = &slots[0];
        for (int i = 1; i < SLOTS_PER_LAYER; i++)
            if (slots[i].tick < s->tick) s = &slots[i];
        slot_free(s);
        if (slot_create(ctx, s, layer, cs, w8, err, errlen)) return -1;
    }
    s->tick = ++ctx->tick;
    return threads_ready(ctx, threads, s->scratch_bytes, err, errlen);
}

int bq_i8_conv(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, int32_t *acc, const int8_t *x,
               int slot, char *err, size_t errlen) {
    i8slot *s = layer >= 0 && layer < ctx->n_layers ? slot_find(ctx, layer, cs->n) : NULL;
    if (!s || slot < 0 || slot >= ctx->n_threads) {
        bq_seterr(err, errlen, "intref int8: layer %d batch %d thread %d not prepared", layer, cs->n, slot);
        return -1;
    }
    omp_set_num_threads(1);
    dnnl_memory_t src = NULL, dst = NULL, sp = NULL;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *sp_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
    DN(dnnl_memory_create(&src, src_md, ctx->eng, (void *)x), "source memory");
    DN(dnnl_memory_create(&dst, dst_md, ctx->eng, acc), "output memory");
    int nargs = 3;
    dnnl_exec_arg_t ca[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, s->weights}, {DNNL_ARG_DST, dst}, {0, NULL}};
    if (s->scratch_bytes) {
        DN(dnnl_memory_create(&sp, sp_md, ctx->eng, ctx->scratch[slot]), "scratchpad memory");
        ca[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sp};
    }
    DN(dnnl_primitive_execute(s->conv, ctx->stream[slot], nargs, ca), "convolution");
    DN(dnnl_stream_wait(ctx->stream[slot]), "stream");
    dnnl_memory_destroy(src);
    dnnl_memory_destroy(dst);
    if (sp) dnnl_memory_destroy(sp);
    return 0;
fail:
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (sp) dnnl_memory_destroy(sp);
    return -1;
}
