/* v2_ref.c — the naive integer network of v2_ref.h (moved out of test_v2_exec.c so the RTL harness
 * test_top_v2 checks against the same reference). */
#include "v2_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t v2_rnd(v2_rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}
int v2_rnd_in(v2_rng *r, int lo, int hi) { return lo + (int)(v2_rnd(r) % (uint32_t)(hi - lo + 1)); }

static int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static int ref_requant(int64_t acc0, const bq_codes_rq *r, int res, int q_r, int z_r, int z_o, int lo,
                       int hi) {
    int64_t t = acc0 * (int64_t)r->m_acc + (res ? (int64_t)(q_r - z_r) * (int64_t)r->m_res : 0);
    int64_t y = floordiv(t + ((int64_t)1 << (r->sh - 1)), (int64_t)1 << r->sh) + z_o;
    return (int)(y < lo ? lo : y > hi ? hi : y);
}

/* acc0 of output (oy, ox, co) from the HWC input `in` (cs bytes per pixel). */
static int64_t ref_acc0(const bq_v2_layer *l, const v2_layer_data *d, const uint8_t *in, int cs,
                        int oy, int ox, int co) {
    int64_t acc = 0, asum = 0;
    int cin_g = l->depthwise ? 1 : l->cin, taps = l->kh * l->kw, M = l->hw.m;
    int g = l->depthwise ? co : 0, m = l->depthwise ? 0 : co;
    for (int ci = 0; ci < cin_g; ci++)
        for (int ky = 0; ky < l->kh; ky++)
            for (int kx = 0; kx < l->kw; kx++) {
                int iy = oy * l->stride - l->pad_t + ky, ix = ox * l->stride - l->pad_l + kx;
                int c = l->depthwise ? co : ci;
                int a = (iy < 0 || iy >= l->hi || ix < 0 || ix >= l->wi) ? l->z_a
                                                                         : in[(iy * l->wi + ix) * cs + c];
                int wv = d->w[((g * M + m) * cin_g + ci) * taps + ky * l->kw + kx];
                acc += (int64_t)wv * a;
                asum += a;
            }
    const bq_codes_rq *r = &d->rq[co];
    return (int64_t)(int32_t)(acc - (int64_t)r->z_w * asum + r->bias_eff);
}

int v2_ref_conv(bq_v2_layer *l, const char *name, int cin, int cout, int h, int k, int s, int pad,
                int dw, int wb, int ab, int ob, char *err, size_t errlen) {
    if (bq_v2_layer_conv(l, name, cin, cout, h, h, k, k, s, pad, dw, err, errlen)) return -1;
    l->hw.wbits = wb;
    l->hw.abits = ab;
    l->hw.obits = ob;
    return 0;
}

/* Random weights and requant records for a layer, given the codes of its input (naive), such that
 * the outputs spread over the code range (so the clamp cannot hide wrong sums). */
static int make_data(const bq_v2_layer *l, v2_layer_data *d, const uint8_t *in, int cs_in, v2_rng *rng) {
    int cin_g = l->depthwise ? 1 : l->cin, taps = l->kh * l->kw, nw = l->hw.groups * l->hw.m * cin_g * taps;
    d->w = calloc((size_t)nw, sizeof *d->w);
    d->rq = calloc((size_t)l->cout, sizeof *d->rq);
    if (!d->w || !d->rq) return -1;
    int wb = l->hw.wbits;
    for (int i = 0; i < nw; i++)
        d->w[i] = l->hw.w_signed ? v2_rnd_in(rng, -(1 << (wb - 1)), (1 << (wb - 1)) - 1)
                                 : v2_rnd_in(rng, 0, (1 << wb) - 1);
    for (int co = 0; co < l->cout; co++) {
        bq_codes_rq *r = &d->rq[co];
        r->z_w = (uint8_t)(l->hw.w_signed ? 0 : v2_rnd_in(rng, 0, (1 << wb) - 1));
        r->bias_eff = v2_rnd_in(rng, -50, 50);
        r->sh = 1;   /* for the range scan below */
        r->m_acc = 1;
    }
    if (l->hw.raw32) return 0;
    /* scale per channel: acc0 range over the layer -> codes 0 .. 2^obits - 1 */
    int qmax = (1 << l->hw.obits) - 1;
    for (int co = 0; co < l->cout; co++) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (int oy = 0; oy < l->ho; oy++)
            for (int ox = 0; ox < l->wo; ox++) {
                int64_t a = ref_acc0(l, d, in, cs_in, oy, ox, co);
                if (a < lo) lo = a;
                if (a > hi) hi = a;
            }
        int64_t span = hi - lo + 1;
        bq_codes_rq *r = &d->rq[co];
        r->sh = 20;
        r->m_acc = (uint32_t)(((int64_t)qmax << 20) / span);
        if (r->m_acc == 0) r->m_acc = 1;
        r->bias_eff -= (int32_t)lo;   /* lo maps near 0 (z_o is per layer) */
        r->m_res = (uint32_t)v2_rnd_in(rng, 0, 1 << 18);
    }
    return 0;
}

int v2_ref_net(v2_net *nt, const bq_v2_plan *plans, const uint8_t *input, int cs0, v2_rng *rng,
               char *err, size_t errlen) {
    for (int i = 0; i < nt->n; i++) {
        bq_v2_layer *l = &nt->ls[i];
        const uint8_t *in = l->in_from < 0 ? input : nt->ref[l->in_from];
        int cs_in = l->in_from < 0 ? cs0 : plans[l->in_from].cs_out;
        int cs = plans[i].cs_out;
        if (make_data(l, &nt->d[i], in, cs_in, rng) ||
            !(nt->ref[i] = calloc((size_t)l->ho * l->wo * (size_t)(l->hw.raw32 ? 4 * l->cout : cs), 1))) {
            snprintf(err, errlen, "v2_ref: out of memory for layer %s", l->hw.name);
            return -1;
        }
        const uint8_t *res = !l->hw.has_residual ? NULL : l->res_from < 0 ? input : nt->ref[l->res_from];
        int cs_r = !l->hw.has_residual ? 0 : l->res_from < 0 ? cs0 : plans[l->res_from].cs_out;
        int hi = l->hw.hi < 0 ? (1 << l->hw.obits) - 1 : l->hw.hi;
        for (int oy = 0; oy < l->ho; oy++)
            for (int ox = 0; ox < l->wo; ox++)
                for (int co = 0; co < l->cout; co++) {
                    int64_t a0 = ref_acc0(l, &nt->d[i], in, cs_in, oy, ox, co);
                    int pix = oy * l->wo + ox;
                    if (l->hw.raw32) {
                        int32_t v = (int32_t)a0;
                        memcpy(nt->ref[i] + ((size_t)pix * l->cout + co) * 4, &v, 4);
                        continue;
                    }
                    int qr = res ? res[pix * cs_r + co] : 0;
                    nt->ref[i][pix * cs + co] = (uint8_t)ref_requant(a0, &nt->d[i].rq[co], res != NULL, qr,
                                                                     l->hw.z_r, l->hw.z_o, l->hw.lo, hi);
                }
    }
    return 0;
}

void v2_ref_free(v2_net *nt) {
    for (int i = 0; i < nt->n; i++) {
        free(nt->d[i].w);
        free(nt->d[i].rq);
        free(nt->ref[i]);
        nt->d[i].w = NULL;
        nt->d[i].rq = NULL;
        nt->ref[i] = NULL;
    }
}

void v2_ref_load(const v2_net *nt, const bq_v2_plan *plans, const bq_v2_memplan *mp,
                 const bq_hwcfg *cfg, uint8_t *mem) {
    for (int i = 0; i < nt->n; i++) {
        const bq_v2_plan *p = &plans[i];
        bq_v2_pack_weights(p, cfg, nt->d[i].w, mem + mp->w[i]);
        size_t rqn = (size_t)p->base.layer.groups * p->base.m_pad;
        memset(mem + mp->rq[i], 0, rqn * 16);
        for (int co = 0; co < nt->ls[i].cout; co++) {
            /* record of channel co: dense row co; depthwise group co's row 0 (entry co) */
            size_t u = nt->ls[i].depthwise ? (size_t)co * p->base.m_pad : (size_t)co;
            uint8_t *r = mem + mp->rq[i] + 16 * u;
            const bq_codes_rq *q = &nt->d[i].rq[co];
            memcpy(r, &q->bias_eff, 4);
            memcpy(r + 4, &q->m_acc, 4);
            memcpy(r + 8, &q->m_res, 4);
            r[12] = q->z_w;
            r[13] = q->sh;
        }
    }
}

long v2_ref_check_layer(const v2_net *nt, const bq_v2_plan *plans, const bq_v2_memplan *mp,
                        const bq_hwcfg *c, int i, const uint8_t *mem, long *n, long *inside,
                        char *first, size_t firstlen) {
    const bq_v2_layer *l = &nt->ls[i];
    const bq_v2_plan *p = &plans[i];
    long bad = 0;
    *n = *inside = 0;
    int hi = l->hw.hi < 0 ? (1 << l->hw.obits) - 1 : l->hw.hi;
    for (int pix = 0; pix < l->ho * l->wo; pix++)
        for (int co = 0; co < l->cout; co++, (*n)++) {
            long got, want;
            if (l->hw.raw32) {
                int32_t g, w;
                int mt = co / c->dm, mi = co % c->dm, nti = pix / c->dn, ni = pix % c->dn;
                size_t at = mp->out[i] + ((size_t)(nti * p->base.mt + mt) * c->dm * c->dn +
                                          (size_t)(ni * c->dm + mi)) * 4;
                memcpy(&g, mem + at, 4);
                memcpy(&w, nt->ref[i] + ((size_t)pix * l->cout + co) * 4, 4);
                got = g;
                want = w;
                (*inside)++;
            } else {
                want = nt->ref[i][pix * p->cs_out + co];
                got = mem[mp->out[i] + (size_t)pix * p->cs_out + co];
                *inside += want > l->hw.lo && want < hi;
            }
            if (got != want && bad++ == 0 && first)
                snprintf(first, firstlen, "%s %s pixel %d channel %d: got %ld, want %ld", c->name, l->hw.name,
                         pix, co, got, want);
        }
    return bad;
}

int v2_ref_chain(v2_net *nt, int h, int wsigned, v2_rng *rng, char *err, size_t errlen) {
    int n = 0;
    bq_v2_layer *ls = nt->ls;
    if (v2_ref_conv(&ls[n++], "first", 1, 8, h, 3, 1, 1, 0, 4, 8, 4, err, errlen) ||
        v2_ref_conv(&ls[n++], "c3s1", 8, 12, h, 3, 1, 1, 0, 3, 4, 4, err, errlen) ||
        v2_ref_conv(&ls[n], "res", 12, 12, h, 3, 1, 1, 0, 4, 4, 5, err, errlen))
        return -1;
    ls[n].hw.has_residual = 1;
    ls[n].hw.rbits = 4;
    ls[n].res_from = 1;
    ls[n].hw.z_r = 5;
    n++;
    if (v2_ref_conv(&ls[n++], "pw", 12, 20, h, 1, 1, 0, 0, 4, 5, 4, err, errlen) ||
        v2_ref_conv(&ls[n++], "dw", 20, 20, h, 3, 1, 1, 1, 4, 4, 4, err, errlen) ||
        v2_ref_conv(&ls[n++], "c3s2", 20, 10, h, 3, 2, 1, 0, 2, 4, 4, err, errlen))
        return -1;
    int h2 = ls[n - 1].ho;
    if (v2_ref_conv(&ls[n++], "dw2", 10, 10, h2, 3, 2, 1, 1, 4, 4, 6, err, errlen)) return -1;
    int h3 = ls[n - 1].ho;
    if (v2_ref_conv(&ls[n++], "gap", 10, 10, h3, h3, 1, 0, 1, 3, 6, 8, err, errlen) ||
        bq_v2_layer_linear(&ls[n], "fc", 10, 7, err, errlen))
        return -1;
    ls[n].hw.wbits = 4;
    ls[n].hw.abits = 8;
    n++;
    for (int i = 0; i < n; i++) {
        if (i > 0) ls[i].in_from = i - 1;
        ls[i].hw.w_signed = wsigned;
        ls[i].z_a = i == 0 ? 0 : v2_rnd_in(rng, 0, (1 << ls[i].hw.abits) - 1);
        ls[i].hw.z_o = 1;
        ls[i].hw.lo = 0;
        ls[i].hw.hi = -1;
    }
    nt->n = n;
    return 0;
}

/* W4A4 O4 conv with pad k/2, input from layer in_from (as test_sched_v2's arch_conv). */
static int arch_conv(bq_v2_layer *l, const char *name, int in_from, int cin, int cout, int h, int k,
                     int s, int dw, char *err, size_t errlen) {
    if (v2_ref_conv(l, name, cin, cout, h, k, s, k / 2, dw, 4, 4, 4, err, errlen)) return -1;
    l->in_from = in_from;
    return 0;
}

/* GAP: depthwise, kernel = image, pad 0, 1-bit weights; then the RAW32 classifier. */
static int gap_fc(v2_net *nt, int n, int x, int c, int h, char *err, size_t errlen) {
    bq_v2_layer *ls = nt->ls;
    if (v2_ref_conv(&ls[n], "gap", c, c, h, h, 1, 0, 1, 1, 4, 4, err, errlen)) return -1;
    ls[n].in_from = x;
    n++;
    if (bq_v2_layer_linear(&ls[n], "fc", c, 10, err, errlen)) return -1;
    ls[n].in_from = n - 1;
    ls[n].hw.wbits = ls[n].hw.abits = 4;
    nt->n = n + 1;
    return 0;
}

int v2_ref_fres20(v2_net *nt, char *err, size_t errlen) {
    bq_v2_layer *ls = nt->ls;
    int n = 0, h = 28, cin = 16, x;
    if (arch_conv(&ls[n], "stem", -1, 1, 16, h, 3, 1, 0, err, errlen)) return -1;
    ls[n].hw.abits = 8;
    x = n++;
    static const int widths[3] = {16, 32, 64};
    for (int st = 0; st < 3; st++)
        for (int b = 0; b < 3; b++) {
            int stride = st > 0 && b == 0 ? 2 : 1, cout = widths[st], c1 = n, sc = x;
            if (arch_conv(&ls[n++], "conv1", x, cin, cout, h, 3, stride, 0, err, errlen)) return -1;
            int ho = ls[c1].ho;
            if (stride != 1 || cin != cout) {
                sc = n;
                if (arch_conv(&ls[n++], "down", x, cin, cout, h, 1, stride, 0, err, errlen)) return -1;
            }
            if (arch_conv(&ls[n], "conv2", c1, cout, cout, ho, 3, 1, 0, err, errlen)) return -1;
            ls[n].hw.has_residual = 1;
            ls[n].hw.rbits = 4;
            ls[n].res_from = sc;
            x = n++;
            h = ho;
            cin = cout;
        }
    return gap_fc(nt, n, x, 64, h, err, errlen);
}

int v2_ref_mbv2t(v2_net *nt, char *err, size_t errlen) {
    static const int cfg[8][3] = {{1, 16, 1}, {4, 24, 2}, {4, 24, 1}, {4, 32, 2},
                                  {4, 32, 1}, {4, 64, 1}, {4, 64, 1}, {4, 96, 1}};
    bq_v2_layer *ls = nt->ls;
    int n = 0, h = 28, cin = 16, x;
    if (arch_conv(&ls[n], "stem", -1, 1, 16, h, 3, 1, 0, err, errlen)) return -1;
    ls[n].hw.abits = 8;
    x = n++;
    for (int b = 0; b < 8; b++) {
        int t = cfg[b][0], cout = cfg[b][1], stride = cfg[b][2], hid = cin * t, y = x;
        if (t != 1) {
            if (arch_conv(&ls[n], "expand", y, cin, hid, h, 1, 1, 0, err, errlen)) return -1;
            y = n++;
        }
        if (arch_conv(&ls[n], "dw", y, hid, hid, h, 3, stride, 1, err, errlen)) return -1;
        int ho = ls[n].ho;
        y = n++;
        if (arch_conv(&ls[n], "project", y, hid, cout, ho, 1, 1, 0, err, errlen)) return -1;
        if (stride == 1 && cin == cout) {
            ls[n].hw.has_residual = 1;
            ls[n].hw.rbits = 4;
            ls[n].res_from = x;
        }
        x = n++;
        h = ho;
        cin = cout;
    }
    if (arch_conv(&ls[n], "head", x, 96, 256, h, 1, 1, 0, err, errlen)) return -1;
    x = n++;
    return gap_fc(nt, n, x, 256, h, err, errlen);
}

void v2_ref_quant_params(v2_net *nt, v2_rng *rng) {
    for (int i = 0; i < nt->n; i++) {
        bq_v2_layer *l = &nt->ls[i];
        l->z_a = l->in_from < 0 ? 0 : v2_rnd_in(rng, 0, (1 << l->hw.abits) - 1);
        l->hw.z_o = 1;
        l->hw.lo = 0;
        l->hw.hi = -1;
    }
}
