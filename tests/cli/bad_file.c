/*
 * bad_file.c — write a copy of a .bqm or .bqq with one field changed and the checksum(s) fixed,
 * so that the reader gets past its CRC and the validators see the bad value (tests/cli/bad_inputs.sh).
 * Layouts: docs/formats.md.
 *
 * usage: bad_file IN OUT FIELD VALUE [FIELD VALUE ...]
 *   .bqm fields: in_c in_h in_w classes mean std
 *                node:I:NAME   (NAME: kind in0 in1 block c h w kh kw stride_h stride_w pad_t pad_l
 *                               pad_b pad_r groups count_include_pad p_weight p_bias p_gamma p_beta
 *                               p_rmean p_rvar lo hi bn_eps)
 *                param:I:NAME  (ndim shape0..shape3 count offset)
 *                block:I:NAME  (input first last has_residual)
 *                data:K        (parameter value K, a float)
 *                pdata:I:K     (value K of parameter I, a float)
 *   .bqq fields: q:wbits q:abits q:fl8, qlayer:L:wbits, qlayer:L:scale:C, qaq:A:NAME (node bits
 *                scale zero role init), qmodel:<any .bqm field> (inside the embedded model)
 *   VALUE: an integer, or a float (nan, inf, 1e38 are accepted).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct { unsigned char *d; size_t n; } blob;

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static void fix_crc(unsigned char *p, size_t n) { wr32(p + n - 4, (uint32_t)crc32(0L, p, (uInt)(n - 4))); }

/* Write VALUE at off as type t ('i' i32, 'f' f32, 'u' u64). */
static void put(unsigned char *p, char t, const char *v) {
    if (t == 'f') { float f = strtof(v, NULL); uint32_t u; memcpy(&u, &f, 4); wr32(p, u); }
    else if (t == 'u') { unsigned long long x = strtoull(v, NULL, 10); wr32(p, (uint32_t)x); wr32(p + 4, (uint32_t)(x >> 32)); }
    else wr32(p, (uint32_t)(int32_t)strtol(v, NULL, 10));
}

static const char *const NODE_F[26] = {"kind", "in0", "in1", "block", "c", "h", "w", "kh", "kw",
    "stride_h", "stride_w", "pad_t", "pad_l", "pad_b", "pad_r", "groups", "count_include_pad",
    "p_weight", "p_bias", "p_gamma", "p_beta", "p_rmean", "p_rvar", "lo", "hi", "bn_eps"};

/* Offset and type of a .bqm field inside the model image m (n bytes); -1 when unknown. */
static long bqm_field(const unsigned char *m, const char *f, char *t) {
    const char *hdr[6] = {"in_c", "in_h", "in_w", "classes", "mean", "std"};
    for (int k = 0; k < 6; k++)
        if (!strcmp(f, hdr[k])) { *t = k >= 4 ? 'f' : 'i'; return 44 + 4 * k; }
    long nn = (int32_t)rd32(m + 68), np = (int32_t)rd32(m + 72), nb = (int32_t)rd32(m + 76);
    long nodes = 88, params = nodes + 152 * nn, blocks = params + 92 * np, data = blocks + 64 * nb;
    int i, used = 0;
    char name[32];
    *t = 'i';
    if (sscanf(f, "node:%d:%31s%n", &i, name, &used) == 2)
        for (int k = 0; k < 26; k++)
            if (!strcmp(name, NODE_F[k])) { *t = k >= 23 ? 'f' : 'i'; return nodes + 152L * i + 48 + 4 * k; }
    if (sscanf(f, "param:%d:%31s", &i, name) == 2) {
        const char *pf[7] = {"ndim", "shape0", "shape1", "shape2", "shape3", "count", "offset"};
        for (int k = 0; k < 7; k++)
            if (!strcmp(name, pf[k])) {
                if (k >= 5) { *t = 'u'; return params + 92L * i + 68 + 8 * (k - 5); }
                return params + 92L * i + 48 + 4 * k;
            }
    }
    if (sscanf(f, "block:%d:%31s", &i, name) == 2) {
        const char *bf[4] = {"input", "first", "last", "has_residual"};
        for (int k = 0; k < 4; k++) if (!strcmp(name, bf[k])) return blocks + 64L * i + 48 + 4 * k;
    }
    int k;
    if (sscanf(f, "pdata:%d:%d", &i, &k) == 2) {   /* value k of parameter i */
        const unsigned char *o = m + params + 92L * i + 76;
        *t = 'f';
        return data + 4L * ((long)rd32(o) + k);
    }
    if (sscanf(f, "data:%d", &i) == 1) { *t = 'f'; return data + 4L * i; }
    return -1;
}

/* Offset of a .bqq field (after the embedded model at mo, ml bytes). */
static long bqq_field(const unsigned char *d, long mo, long ml, const char *f, char *t) {
    *t = 'i';
    if (!strcmp(f, "q:wbits")) return 44;
    if (!strcmp(f, "q:abits")) return 48;
    if (!strcmp(f, "q:fl8")) return 52;
    long p = mo + ml;
    long nl = (long)rd32(d + p);
    p += 4;
    int want_l = -1, want_c = -1, want_a = -1;
    char name[32] = "";
    if (sscanf(f, "qlayer:%d:scale:%d", &want_l, &want_c) == 2) strcpy(name, "scale");
    else if (sscanf(f, "qlayer:%d:%31s", &want_l, name) != 2 && sscanf(f, "qaq:%d:%31s", &want_a, name) != 2)
        return -1;
    for (long l = 0; l < nl; l++) {
        long cout = (int32_t)rd32(d + p + 4), per = (int32_t)rd32(d + p + 8);
        if (l == want_l && !strcmp(name, "wbits")) return p + 12;
        if (l == want_l && !strcmp(name, "scale")) { *t = 'f'; return p + 16 + 4L * want_c; }
        p += 16 + 8 * cout + cout * per;
    }
    const char *af[6] = {"node", "bits", "scale", "zero", "role", "init"};
    p += 4;
    for (int k = 0; k < 6; k++)
        if (want_a >= 0 && !strcmp(name, af[k])) { *t = k == 2 ? 'f' : 'i'; return p + 24L * want_a + 4 * k; }
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc % 2 == 0) { fprintf(stderr, "usage: bad_file IN OUT FIELD VALUE [FIELD VALUE ...]\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    blob b = {malloc(64 << 20), 0};
    b.n = fread(b.d, 1, 64 << 20, f);
    fclose(f);
    int is_q = !memcmp(b.d, "BQQUANT", 8);
    long mo = is_q ? 64 : 0, ml = is_q ? (long)rd32(b.d + 56) : (long)b.n;   /* model_len u64 at 56 */
    for (int a = 3; a + 1 < argc; a += 2) {
        const char *field = argv[a];
        char t;
        long off;
        if (!is_q) off = bqm_field(b.d, field, &t);
        else if (!strncmp(field, "qmodel:", 7)) off = mo + bqm_field(b.d + mo, field + 7, &t);
        else off = bqq_field(b.d, mo, ml, field, &t);
        if (off < 0 || (size_t)off + 4 > b.n) { fprintf(stderr, "bad_file: unknown field %s\n", field); return 2; }
        put(b.d + off, t, argv[a + 1]);
    }
    if (is_q) fix_crc(b.d + mo, (size_t)ml);
    fix_crc(b.d, b.n);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(b.d, 1, b.n, f) != b.n || fclose(f)) { perror(argv[2]); return 1; }
    free(b.d);
    return 0;
}
