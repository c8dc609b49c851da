/* hwlayer.c — constructors and checks for bq_hw_layer. See hwlayer.h. */
#include "core/errmsg.h"
#include "hwlayer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void defaults(bq_hw_layer *l, const char *name) {
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name ? name : "layer");
    l->wbits = l->abits = l->obits = 8;
    l->rbits = 8;
    l->groups = 1;
    l->hi = -1;
}

int bq_hw_layer_conv(bq_hw_layer *l, const char *name, int cin, int cout, int kh, int kw,
                     int hout, int wout, int groups, char *err, size_t errlen) {
    defaults(l, name);
    if (cin <= 0 || cout <= 0 || kh <= 0 || kw <= 0 || hout <= 0 || wout <= 0 || groups <= 0) {
        bq_seterr(err, errlen, "layer '%s': conv sizes must be positive (cin %d, cout %d, kernel "
               "%dx%d, output %dx%d, groups %d)", l->name, cin, cout, kh, kw, hout, wout, groups);
        return -1;
    }
    if (cin % groups || cout % groups) {
        bq_seterr(err, errlen, "layer '%s': cin (%d) and cout (%d) must be divisible by groups (%d)",
               l->name, cin, cout, groups);
        return -1;
    }
    long long k = (long long)(cin / groups) * kh * kw, n = (long long)hout * wout;
    if (k > (1 << 24) || n > (1 << 24)) {
        bq_seterr(err, errlen, "layer '%s': GEMM too large for the accelerator model (K %lld, N "
               "%lld; at most 2^24 each)", l->name, k, n);
        return -1;
    }
    l->groups = groups;
    l->m = cout / groups;
    l->k = (int)k;
    l->n = (int)n;
    return 0;
}

int bq_hw_layer_linear(bq_hw_layer *l, const char *name, int in, int out, char *err,
                       size_t errlen) {
    defaults(l, name);
    if (in <= 0 || out <= 0 || in > (1 << 24) || out > (1 << 24)) {
        bq_seterr(err, errlen, "layer '%s': linear sizes must be in [1, 2^24] (in %d, out %d)",
               l->name, in, out);
        return -1;
    }
    l->m = out;
    l->k = in;
    l->n = 1;
    return 0;
}

int bq_hw_layer_check(const bq_hw_layer *l, char *err, size_t errlen) {
    if (l->m <= 0 || l->k <= 0 || l->n <= 0 || l->groups <= 0) {
        bq_seterr(err, errlen, "layer '%s': M, K, N and groups must be positive (M %d, K %d, N %d, "
               "groups %d)", l->name, l->m, l->k, l->n, l->groups);
        return -1;
    }
    if (l->wbits < 1 || l->wbits > BQ_HW_MAX_BITS || l->abits < 1 ||
        l->abits > BQ_HW_MAX_BITS || (!l->raw32 && (l->obits < 1 || l->obits > BQ_HW_MAX_BITS))) {
        bq_seterr(err, errlen, "layer '%s': bit-widths must be in 1..%d (wbits %d, abits %d, obits "
               "%d)", l->name, BQ_HW_MAX_BITS, l->wbits, l->abits, l->obits);
        return -1;
    }
    if (l->has_residual && (l->rbits < 1 || l->rbits > BQ_HW_MAX_BITS)) {
        bq_seterr(err, errlen, "layer '%s': residual operand bits must be in 1..%d, got %d",
               l->name, BQ_HW_MAX_BITS, l->rbits);
        return -1;
    }
    if (l->z_o < 0 || l->z_o > 255 || l->z_r < 0 || l->z_r > 255 || l->lo < 0 || l->lo > 255 ||
        l->hi > 255) {
        bq_seterr(err, errlen, "layer '%s': z_o, z_r, lo and hi must be codes in 0..255 (z_o %d, "
               "z_r %d, lo %d, hi %d)", l->name, l->z_o, l->z_r, l->lo, l->hi);
        return -1;
    }
    if (l->has_residual && l->raw32) {
        bq_seterr(err, errlen, "layer '%s': a RAW32 (classifier) layer cannot add a residual",
               l->name);
        return -1;
    }
    return 0;
}

double bq_hw_layer_macs(const bq_hw_layer *l) {
    return (double)l->groups * l->m * l->k * l->n;
}
