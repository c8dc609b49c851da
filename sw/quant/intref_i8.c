/*
 * intref_i8.c — exact int8 convolutions of the integer reference on oneDNN 2.6 (intref_i8.h).
 *
 * Per layer, up to two cached primitives (one per batch size seen; the least recently used is
 * replaced). Each holds: the forward-inference convolution (s8 src, s8 weights, s32 dst, layouts
 * chosen by oneDNN), its weights already reordered into the blocked layout, and reorders between
 * the caller's NCHW tensors and the primitive's layouts (skipped when they agree).
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

#define SLOTS_PER_LAYER 2

typedef struct {
    int n;                          /* batch size; 0 = empty */
    unsigned long tick;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t conv, src_reorder, dst_reorder;   /* reorders NULL when not needed */
    dnnl_memory_t user_src, src, weights, dst, user_dst;
} i8slot;

struct bq_i8ctx {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int n_layers;
    unsigned long tick;
    i8slot *slot;                   /* [n_layers * SLOTS_PER_LAYER] */
};

bq_i8ctx *bq_i8ctx_new(int n_layers) {
    bq_i8ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx) return NULL;
    ctx->n_layers = n_layers;
    ctx->slot = calloc((size_t)(n_layers > 0 ? n_layers : 1) * SLOTS_PER_LAYER, sizeof(i8slot));
    if (!ctx->slot) { free(ctx); return NULL; }
    return ctx;
}

static void slot_free(i8slot *s) {
    dnnl_primitive_t prims[3] = {s->conv, s->src_reorder, s->dst_reorder};
    for (int i = 0; i < 3; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    /* src/dst are separate objects only when a reorder exists */
    if (s->src && s->src != s->user_src) dnnl_memory_destroy(s->src);
    if (s->dst && s->dst != s->user_dst) dnnl_memory_destroy(s->dst);
    dnnl_memory_t mems[3] = {s->user_src, s->weights, s->user_dst};
    for (int i = 0; i < 3; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (s->pd) dnnl_primitive_desc_destroy(s->pd);
    memset(s, 0, sizeof(*s));
}

void bq_i8ctx_free(bq_i8ctx *ctx) {
    if (!ctx) return;
    for (int i = 0; i < ctx->n_layers * SLOTS_PER_LAYER; i++) slot_free(&ctx->slot[i]);
    free(ctx->slot);
    if (ctx->stream) dnnl_stream_destroy(ctx->stream);
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

/* A reorder from memory `from` into a new memory of layout want (NULL when the layouts agree:
 * then *to = from). */
static dnnl_status_t make_reorder(dnnl_engine_t eng, dnnl_memory_t from, const dnnl_memory_desc_t *want,
                                  int from_is_user, dnnl_memory_t *to, dnnl_primitive_t *reorder) {
    const dnnl_memory_desc_t *have;
    dnnl_status_t st = dnnl_memory_get_memory_desc(from, &have);
    if (st != dnnl_success) return st;
    *reorder = NULL;
    if (dnnl_memory_desc_equal(have, want)) { *to = from; return dnnl_success; }
    st = dnnl_memory_create(to, want, eng, DNNL_MEMORY_ALLOCATE);
    if (st != dnnl_success) return st;
    dnnl_primitive_desc_t rpd;
    st = from_is_user ? dnnl_reorder_primitive_desc_create(&rpd, have, eng, want, eng, NULL)
                      : dnnl_reorder_primitive_desc_create(&rpd, want, eng, have, eng, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    return st;
}

/* Create slot s for layer's geometry at batch cs->n: primitive, reorders, blocked weights. */
static int slot_create(bq_i8ctx *ctx, i8slot *s, int layer, const bq_conv_shape *cs,
                       const int8_t *w8, char *err, size_t errlen) {
    int g = cs->groups, hout = cs->hout, wout = cs->wout;
    dnnl_dims_t sd = {cs->n, cs->cin, cs->h, cs->w}, dd = {cs->n, cs->cout, hout, wout};
    dnnl_dims_t wd = {g, cs->cout / g, cs->cin / g, cs->kh, cs->kw};
    int wnd = 5;
    if (g == 1) { wd[0] = cs->cout; wd[1] = cs->cin; wd[2] = cs->kh; wd[3] = cs->kw; wnd = 4; }
    dnnl_dims_t strides = {cs->stride_h, cs->stride_w}, pl = {cs->pad_t, cs->pad_l}, pr = {cs->pad_b, cs->pad_r};
    dnnl_memory_desc_t src_any, w_any, dst_any, src_user, w_user, dst_user;
    dnnl_memory_t user_w = NULL;
    DN(dnnl_memory_desc_init_by_tag(&src_any, 4, sd, dnnl_s8, dnnl_format_tag_any), "source descriptor");
    DN(dnnl_memory_desc_init_by_tag(&w_any, wnd, wd, dnnl_s8, dnnl_format_tag_any), "weights descriptor");
    DN(dnnl_memory_desc_init_by_tag(&dst_any, 4, dd, dnnl_s32, dnnl_format_tag_any), "output descriptor");
    DN(dnnl_memory_desc_init_by_tag(&src_user, 4, sd, dnnl_s8, dnnl_nchw), "source descriptor");
    DN(dnnl_memory_desc_init_by_tag(&w_user, wnd, wd, dnnl_s8, g == 1 ? dnnl_oihw : dnnl_goihw),
       "weights descriptor");
    DN(dnnl_memory_desc_init_by_tag(&dst_user, 4, dd, dnnl_s32, dnnl_nchw), "output descriptor");
    dnnl_convolution_desc_t cd;
    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                          &src_any, &w_any, NULL, &dst_any, strides, pl, pr),
       "convolution descriptor");
    DN(dnnl_primitive_desc_create(&s->pd, &cd, NULL, ctx->eng, NULL), "primitive descriptor");
    DN(dnnl_primitive_create(&s->conv, s->pd), "primitive");
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_dst_md, 0);
    DN(dnnl_memory_create(&s->user_src, &src_user, ctx->eng, DNNL_MEMORY_NONE), "source memory");
    DN(dnnl_memory_create(&s->user_dst, &dst_user, ctx->eng, DNNL_MEMORY_NONE), "output memory");
    DN(make_reorder(ctx->eng, s->user_src, src_md, 1, &s->src, &s->src_reorder), "source reorder");
    DN(make_reorder(ctx->eng, s->user_dst, dst_md, 0, &s->dst, &s->dst_reorder), "output reorder");
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
    st = dnnl_primitive_execute(wr, ctx->stream, 2, wargs);
    if (st == dnnl_success) st = dnnl_stream_wait(ctx->stream);
    dnnl_primitive_destroy(wr);
    DN(st, "weights reorder");
    dnnl_memory_destroy(user_w);
    s->n = cs->n;
    return 0;
fail:
    if (user_w) dnnl_memory_destroy(user_w);
    slot_free(s);
    return -1;
}

/* The layer's slot for batch cs->n: found, or created in the least recently used place. */
static i8slot *slot_for(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, const int8_t *w8,
                        char *err, size_t errlen) {
    i8slot *slots = &ctx->slot[layer * SLOTS_PER_LAYER], *victim = &slots[0];
    for (int i = 0; i < SLOTS_PER_LAYER; i++) {
        if (slots[i].n == cs->n) return &slots[i];
        if (slots[i].tick < victim->tick) victim = &slots[i];
    }
    slot_free(victim);
    return slot_create(ctx, victim, layer, cs, w8, err, errlen) ? NULL : victim;
}

int bq_i8_conv(bq_i8ctx *ctx, int layer, const bq_conv_shape *cs, const int8_t *w8, int32_t *acc,
               const int8_t *x, char *err, size_t errlen) {
    if (layer < 0 || layer >= ctx->n_layers) {
        bq_seterr(err, errlen, "intref int8: layer %d out of range (%d layers)", layer, ctx->n_layers);
        return -1;
    }
    omp_set_num_threads(bq_num_threads());
    if (!ctx->eng) {
        dnnl_status_t st = dnnl_engine_create(&ctx->eng, dnnl_cpu, 0);
        if (st == dnnl_success) st = dnnl_stream_create(&ctx->stream, ctx->eng, dnnl_stream_default_flags);
        if (st != dnnl_success) {
            bq_seterr(err, errlen, "intref int8: oneDNN CPU engine not available (%s)", dnnl_status2str(st));
            return -1;
        }
    }
    i8slot *s = slot_for(ctx, layer, cs, w8, err, errlen);
    if (!s) return -1;
    s->tick = ++ctx->tick;
    DN(dnnl_memory_set_data_handle(s->user_src, (void *)x), "source memory");
    DN(dnnl_memory_set_data_handle(s->user_dst, acc), "output memory");
    if (s->src_reorder) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, s->user_src}, {DNNL_ARG_TO, s->src}};
        DN(dnnl_primitive_execute(s->src_reorder, ctx->stream, 2, a), "source reorder");
    }
    dnnl_exec_arg_t ca[3] = {{DNNL_ARG_SRC, s->src}, {DNNL_ARG_WEIGHTS, s->weights}, {DNNL_ARG_DST, s->dst}};
    DN(dnnl_primitive_execute(s->conv, ctx->stream, 3, ca), "convolution");
    if (s->dst_reorder) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, s->dst}, {DNNL_ARG_TO, s->user_dst}};
        DN(dnnl_primitive_execute(s->dst_reorder, ctx->stream, 2, a), "output reorder");
    }
    DN(dnnl_stream_wait(ctx->stream), "stream");
    return 0;
fail:
    return -1;
}
