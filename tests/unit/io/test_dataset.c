/* test_dataset — the dataset sources (docs/data.md), with fixtures written inside the test into a
 * temporary folder: PNG and JPEG decode to known pixels, resize/crop/grey on known patterns, .npy
 * dtype and layout variants, .npz (stored and deflated members), the calibration subset from each
 * source, the model-vs-data check, and every bad input with its message fragment. */
#include "testutil.h"

#include <jpeglib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/fileio.h"
#include "io/dataset.h"
#include "io/image.h"
#include "io/npy.h"
#include "nn/data.h"

static char tmpdir[256];
static char err[1024];

static const char *path_in(const char *name) {
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static void put(const char *name, const void *data, size_t len) {
    const char *p = path_in(name);
    bq_mkdirs_parent(p);
    assert_int_equal(bq_write_file_atomic(p, data, len, err, sizeof err), 0);
}

static void put_text(const char *name, const char *text) { put(name, text, strlen(text)); }

/* ---- fixtures: .npy bytes, .npz archives, JPEG files ---- */
static size_t npy_bytes(unsigned char *out, const char *descr, const int *shape, int nd,
                        const void *data, size_t nbytes) {
    char hdr[256], sh[128] = "";
    for (int i = 0; i < nd; i++)
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%d%s", shape[i], nd == 1 ? "," : (i + 1 < nd ? ", " : ""));
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      descr, sh);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)((hl + pad + 1) & 255); out[9] = (unsigned char)((hl + pad + 1) >> 8);
    memcpy(out + 10, hdr, (size_t)hl);
    memset(out + 10 + hl, ' ', (size_t)pad);
    out[10 + hl + pad] = '\n';
    memcpy(out + total + pad, data, nbytes);
    return (size_t)(total + pad) + nbytes;
}

static void put_npy(const char *name, const char *descr, const int *shape, int nd, const void *data,
                    size_t nbytes) {
    unsigned char *b = malloc(nbytes + 512);
    put(name, b, npy_bytes(b, descr, shape, nd, data, nbytes));
    free(b);
}

static void le16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void le32(unsigned char *p, unsigned v) { le16(p, v & 0xffff); le16(p + 2, v >> 16); }

/* A zip of members names[i] (bytes[i], lens[i]); use_deflate: raw deflate instead of stored. */
static void put_npz(const char *name, const char **names, unsigned char **bytes, const size_t *lens,
                    int n, int use_deflate) {
    size_t cap = 4096;
    for (int i = 0; i < n; i++) cap += lens[i] * 2 + 256;
    unsigned char *z = calloc(1, cap), *cd = calloc(1, 4096);
    size_t at = 0, cdl = 0;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), clen = lens[i];
        unsigned char *comp = bytes[i];
        if (use_deflate) {
            comp = malloc(lens[i] * 2 + 64);
            z_stream s; memset(&s, 0, sizeof s);
            deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
            s.next_in = bytes[i]; s.avail_in = (unsigned)lens[i];
            s.next_out = comp; s.avail_out = (unsigned)(lens[i] * 2 + 64);
            assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
            clen = s.total_out;
            deflateEnd(&s);
        }
        unsigned crc = (unsigned)crc32(0, bytes[i], (unsigned)lens[i]);
        unsigned char *h = z + at;
        le32(h, 0x04034b50); le16(h + 4, 20); le16(h + 8, use_deflate ? 8 : 0);
        le32(h + 14, crc); le32(h + 18, (unsigned)clen); le32(h + 22, (unsigned)lens[i]);
        le16(h + 26, (unsigned)nl); memcpy(h + 30, names[i], nl);
        memcpy(h + 30 + nl, comp, clen);
        unsigned char *c = cd + cdl;
        le32(c, 0x02014b50); le16(c + 4, 20); le16(c + 6, 20); le16(c + 10, use_deflate ? 8 : 0);
        le32(c + 16, crc); le32(c + 20, (unsigned)clen); le32(c + 24, (unsigned)lens[i]);
        le16(c + 28, (unsigned)nl); le32(c + 42, (unsigned)at); memcpy(c + 46, names[i], nl);
        cdl += 46 + nl;
        at += 30 + nl + clen;
        if (use_deflate) free(comp);
    }
    memcpy(z + at, cd, cdl);
    unsigned char *e = z + at + cdl;
    le32(e, 0x06054b50); le16(e + 8, (unsigned)n); le16(e + 10, (unsigned)n);
    le32(e + 12, (unsigned)cdl); le32(e + 16, (unsigned)at);
    put(name, z, at + cdl + 22);
    free(z); free(cd);
}

static void put_jpeg(const char *name, const uint8_t *pix, int h, int w, int c) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = (JDIMENSION)w; ci.image_height = (JDIMENSION)h;
    ci.input_components = c; ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    put(name, mem, len);
    free(mem);
}

static void put_png(const char *name, const uint8_t *pix, int h, int w, int c) {
    const char *p = path_in(name);
    bq_mkdirs_parent(p);
    assert_int_equal(bq_png_write(p, pix, h, w, c, err, sizeof err), 0);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bq_test_dataset.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Load split from a YAML written now; returns the rc, the message in err. */
static int load_yaml(bq_dataset *d, const char *name, const char *yaml, const char *split) {
    put_text(name, yaml);
    return bq_dataset_load(d, path_in(name), split, err, sizeof err);
}

#define assert_err(frag) do { if (!strstr(err, frag)) fail_msg("'%s' not in: %s", frag, err); } while (0)

/* ---- decode ---- */
static void test_png_decode(void **state) {
    (void)state;
    const uint8_t rgb[2 * 3 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
    put_png("dec/rgb.png", rgb, 2, 3, 3);
    uint8_t *out; int h, w;
    assert_int_equal(bq_image_decode_rgb(path_in("dec/rgb.png"), &out, &h, &w, err, sizeof err), 0);
    assert_int_equal(h, 2); assert_int_equal(w, 3);
    assert_memory_equal(out, rgb, sizeof rgb);
    free(out);
    const uint8_t grey[4] = {0, 85, 170, 255};
    put_png("dec/grey.png", grey, 2, 2, 1);
    assert_int_equal(bq_image_decode_rgb(path_in("dec/grey.png"), &out, &h, &w, err, sizeof err), 0);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++) assert_int_equal(out[i * 3 + k], grey[i]);
    free(out);
}

static void test_jpeg_decode(void **state) {
    (void)state;
    uint8_t flat[16 * 16 * 3];
    for (int i = 0; i < 16 * 16; i++) { flat[i * 3] = 200; flat[i * 3 + 1] = 100; flat[i * 3 + 2] = 50; }
    put_jpeg("dec/flat.jpg", flat, 16, 16, 3);
    uint8_t *out; int h, w;
    assert_int_equal(bq_image_decode_rgb(path_in("dec/flat.jpg"), &out, &h, &w, err, sizeof err), 0);
    assert_int_equal(h, 16); assert_int_equal(w, 16);
    for (int i = 0; i < 16 * 16 * 3; i++) assert_true(abs((int)out[i] - flat[i]) <= 2);  /* lossy, q100 */
    free(out);
    uint8_t g[8 * 8];
    for (int i = 0; i < 64; i++) g[i] = 77;
    put_jpeg("dec/grey.jpg", g, 8, 8, 1);
    assert_int_equal(bq_image_decode_rgb(path_in("dec/grey.jpg"), &out, &h, &w, err, sizeof err), 0);
    for (int i = 0; i < 64 * 3; i++) assert_int_equal(out[i], 77);   /* flat grey is exact */
    free(out);
}

/* A header claiming more than BQ_IMAGE_MAX_PIXELS is refused before any pixel buffer exists (fuzzing
 * found a 554-byte JPEG asking for a 2 GB buffer): the 8 x 8 files' sizes patched to 9000 x 9000. */
static void test_image_size_cap(void **state) {
    (void)state;
    uint8_t g[8 * 8] = {0};
    put_jpeg("dec/big.jpg", g, 8, 8, 1);
    unsigned char *buf; size_t len;
    assert_int_equal(bq_read_file(path_in("dec/big.jpg"), &buf, &len, err, sizeof err), 0);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < len && !sof; i++)
        if (buf[i] == 0xff && buf[i + 1] == 0xc0) sof = i;   /* SOF0: FF C0, length, precision, h, w */
    assert_true(sof > 0);
    buf[sof + 5] = 9000 >> 8; buf[sof + 6] = 9000 & 255; buf[sof + 7] = 9000 >> 8; buf[sof + 8] = 9000 & 255;
    put("dec/big.jpg", buf, len);
    free(buf);
    uint8_t *out = NULL; int h, w;
    assert_int_equal(bq_image_decode_rgb(path_in("dec/big.jpg"), &out, &h, &w, err, sizeof err), -1);
    assert_null(out);
    assert_non_null(strstr(err, "JPEG of 9000x9000 pixels; images up to 67108864 pixels"));
    put_png("dec/big.png", g, 8, 8, 1);
    assert_int_equal(bq_read_file(path_in("dec/big.png"), &buf, &len, err, sizeof err), 0);
    assert_memory_equal(buf + 12, "IHDR", 4);   /* width, height at 16, 20; CRC of type + data at 29 */
    buf[16] = buf[20] = 0; buf[17] = buf[21] = 0; buf[18] = buf[22] = 9000 >> 8; buf[19] = buf[23] = 9000 & 255;
    uLong crc = crc32(0L, buf + 12, 17);
    buf[29] = (unsigned char)(crc >> 24); buf[30] = (unsigned char)(crc >> 16);
    buf[31] = (unsigned char)(crc >> 8); buf[32] = (unsigned char)crc;
    put("dec/big.png", buf, len);
    free(buf);
    assert_int_equal(bq_image_decode_rgb(path_in("dec/big.png"), &out, &h, &w, err, sizeof err), -1);
    assert_null(out);
    assert_non_null(strstr(err, "PNG of 9000x9000 pixels"));
}

/* ---- geometry and resampling on known patterns ---- */
static void test_resize_crop(void **state) {
    (void)state;
    bq_image_geom g;
    assert_int_equal(bq_image_geometry(10, 20, 5, 4, &g), 0);
    assert_int_equal(g.rh, 5); assert_int_equal(g.rw, 10);
    assert_int_equal(g.top, 0); assert_int_equal(g.left, 3);   /* round(0.5)=0, round(3)=3 */
    assert_int_equal(bq_image_geometry(7, 7, 0, 4, &g), 0);
    assert_int_equal(g.top, 2);                                  /* round(1.5) = 2 (half to even) */
    assert_int_equal(bq_image_geometry(4, 4, 0, 5, &g), -1);     /* crop larger than the image */
    /* 1x4 horizontal ramp 0, 40, 80, 120 (h=2 to keep it 2-D) halved: pairs average at x 0.5, 2.5 */
    uint8_t rgb[2 * 4 * 3];
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++)
            for (int k = 0; k < 3; k++) rgb[(y * 4 + x) * 3 + k] = (uint8_t)(40 * x);
    assert_int_equal(bq_image_geometry(2, 4, 1, 0, &g), 0);   /* shorter side 2 -> 1, 4 -> 2 */
    uint8_t out[2 * 3];
    bq_image_prep(rgb, 2, 4, &g, 3, out);
    assert_int_equal(out[0], 20); assert_int_equal(out[1], 100);   /* R plane */
    /* upscale 1x2 -> 2x4: taps at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped to 1) */
    const uint8_t two[2 * 3] = {0, 0, 0, 100, 100, 100};
    assert_int_equal(bq_image_geometry(1, 2, 2, 0, &g), 0);
    assert_int_equal(g.rw, 4);
    uint8_t up[2 * 4];
    bq_image_prep(two, 1, 2, &g, 1, up);
    const uint8_t want[4] = {0, 25, 75, 100};
    assert_memory_equal(up, want, 4);
    /* grey is PIL's luma: pure red -> 76, pure green -> 150, pure blue -> 29 */
    const uint8_t prim[3 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255};
    assert_int_equal(bq_image_geometry(1, 3, 0, 0, &g), 0);
    uint8_t l[3];
    bq_image_prep(prim, 1, 3, &g, 1, l);
    assert_int_equal(l[0], 76); assert_int_equal(l[1], 150); assert_int_equal(l[2], 29);
}

/* ---- npy variants: every layout/dtype gives the same NCHW uint8 pixels ---- */
static void test_npy_variants(void **state) {
    (void)state;
    enum { N = 2, C = 3, H = 2, W = 2 };
    uint8_t nchw[N * C * H * W], nhwc[N * C * H * W];
    float f32[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) nchw[i] = (uint8_t)(i * 9);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++) nhwc[((n * H * W) + p) * C + c] = nchw[(n * C + c) * H * W + p];
    for (int i = 0; i < N * C * H * W; i++) f32[i] = (float)nhwc[i] / 255.0f;
    const int s_nchw[4] = {N, C, H, W}, s_nhwc[4] = {N, H, W, C}, s_lab[1] = {N};
    const int64_t l64[N] = {1, 0};
    const int32_t l32[N] = {1, 0};
    const uint8_t l8[N] = {1, 0};
    put_npy("npy/nchw.npy", "|u1", s_nchw, 4, nchw, sizeof nchw);
    put_npy("npy/nhwc.npy", "|u1", s_nhwc, 4, nhwc, sizeof nhwc);
    put_npy("npy/f32.npy", "<f4", s_nhwc, 4, f32, sizeof f32);
    put_npy("npy/l64.npy", "<i8", s_lab, 1, l64, sizeof l64);
    put_npy("npy/l32.npy", "<i4", s_lab, 1, l32, sizeof l32);
    put_npy("npy/l8.npy", "|u1", s_lab, 1, l8, sizeof l8);
    const char *cases[][2] = {{"nchw.npy", "l64.npy"}, {"nhwc.npy", "l32.npy"}, {"f32.npy", "l8.npy"}};
    for (int k = 0; k < 3; k++) {
        char y[256];
        snprintf(y, sizeof y, "kind: npy\neval: %s\neval_labels: %s\n", cases[k][0], cases[k][1]);
        bq_dataset d;
        assert_int_equal(load_yaml(&d, "npy/d.yaml", y, "test"), 0);
        assert_int_equal(d.n, N); assert_int_equal(d.c, C); assert_int_equal(d.h, H); assert_int_equal(d.w, W);
        assert_memory_equal(d.pixels, nchw, sizeof nchw);
        assert_int_equal(d.labels[0], 1); assert_int_equal(d.labels[1], 0);
        assert_int_equal(d.num_classes, 2);
        bq_dataset_free(&d);
    }
    /* a 3-D (N, H, W) array is one channel; an explicit layout wins over detection */
    const int s3[3] = {N * C, H, W};
    put_npy("npy/g.npy", "|u1", s3, 3, nchw, sizeof nchw);
    bq_dataset d;
    assert_int_equal(load_yaml(&d, "npy/d.yaml", "kind: npy\ncalib: g.npy\n", "train"), 0);
    assert_int_equal(d.c, 1); assert_int_equal(d.n, N * C);
    assert_null(d.labels);
    bq_dataset_free(&d);
    assert_int_equal(load_yaml(&d, "npy/d.yaml", "kind: npy\ncalib: nchw.npy\nlayout: NHWC\n", "train"), 0);
    assert_int_equal(d.c, W);   /* (2, 3, 2, 2) read as NHWC: 2 channels of 3x2 */
    bq_dataset_free(&d);
}

static void test_npz(void **state) {
    (void)state;
    const uint8_t px[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int s[3] = {2, 2, 2}, sl[1] = {2};
    const int64_t lab[2] = {0, 2};
    unsigned char xb[512], yb[512];
    size_t xl = npy_bytes(xb, "|u1", s, 3, px, sizeof px), yl = npy_bytes(yb, "<i8", sl, 1, lab, sizeof lab);
    const char *names[2] = {"x.npy", "y.npy"};
    unsigned char *bytes[2] = {xb, yb};
    size_t lens[2] = {xl, yl};
    for (int deflate = 0; deflate < 2; deflate++) {
        put_npz("npz/a.npz", names, bytes, lens, 2, deflate);
        bq_dataset d;
        assert_int_equal(load_yaml(&d, "npz/d.yaml", "kind: npy\neval: a.npz\nclasses: 3\n", "test"), 0);
        assert_memory_equal(d.pixels, px, sizeof px);
        assert_int_equal(d.labels[1], 2); assert_int_equal(d.num_classes, 3);
        bq_dataset_free(&d);
    }
    /* an npz without the labels member is a label-free split; a missing image member is an error */
    put_npz("npz/b.npz", names, bytes, lens, 1, 0);
    bq_dataset d;
    assert_int_equal(load_yaml(&d, "npz/d.yaml", "kind: npy\neval: b.npz\n", "test"), 0);
    assert_null(d.labels);
    bq_dataset_free(&d);
    assert_int_equal(load_yaml(&d, "npz/d.yaml", "kind: npy\neval: b.npz\nimages_key: images\n", "test"), -1);
    assert_err("no array 'images' in the archive");
}

/* ---- the same pixels from an image folder and from an array give the same calibration batch ---- */
static void test_calib_each_source(void **state) {
    (void)state;
    enum { N = 6, H = 3, W = 4 };
    uint8_t px[N * H * W];
    int32_t lab[N];
    for (int i = 0; i < N * H * W; i++) px[i] = (uint8_t)((i * 37) & 255);
    for (int i = 0; i < N; i++) {
        lab[i] = i / 2;   /* class order = array order; file names sort within a class */
        char name[64];
        snprintf(name, sizeof name, "cal/img/c%d/%d.png", lab[i], i);
        put_png(name, px + i * H * W, H, W, 1);
    }
    const int s[4] = {N, 1, H, W}, sl[1] = {N};
    put_npy("cal/x.npy", "|u1", s, 4, px, sizeof px);
    put_npy("cal/y.npy", "<i4", sl, 1, lab, sizeof lab);
    bq_dataset a, b;
    assert_int_equal(load_yaml(&a, "cal/i.yaml", "kind: images\ncalib: img\ncolor: grey\nmean: [0.5]\nstd: [0.25]\n", "train"), 0);
    assert_int_equal(load_yaml(&b, "cal/n.yaml", "kind: npy\ncalib: x.npy\ncalib_labels: y.npy\nmean: 0.5\nstd: 0.25\n", "train"), 0);
    assert_int_equal(a.n, N); assert_int_equal(a.num_classes, 3);
    assert_string_equal(a.class_names[2], "c2");
    assert_memory_equal(a.pixels, b.pixels, sizeof px);
    int ia[4], ib[4];
    assert_int_equal(bq_calib_indices(ia, 4, a.n, 7), 0);
    assert_int_equal(bq_calib_indices(ib, 4, b.n, 7), 0);
    assert_memory_equal(ia, ib, sizeof ia);
    float xa[4 * H * W], xb[4 * H * W];
    int ya[4], yb[4];
    bq_dataset_batch(&a, ia, 4, xa, ya, 0.0f, 1.0f, NULL);
    bq_dataset_batch(&b, ib, 4, xb, yb, 0.0f, 1.0f, NULL);
    assert_memory_equal(xa, xb, sizeof xa);
    assert_memory_equal(ya, yb, sizeof ya);
    /* the YAML's statistics: x = (p/255 - 0.5) / 0.25 */
    assert_true(fabsf(xa[0] - ((float)a.pixels[ia[0] * H * W] / 255.0f - 0.5f) / 0.25f) < 1e-5f);
    bq_dataset_free(&b);
    /* the second open reads the cache file (same bytes) */
    bq_dataset c;
    assert_int_equal(load_yaml(&c, "cal/i.yaml", "kind: images\ncalib: img\ncolor: grey\nmean: [0.5]\nstd: [0.25]\n", "train"), 0);
    assert_non_null(c.map);
    assert_memory_equal(c.pixels, a.pixels, sizeof px);
    bq_dataset_free(&c);
    bq_dataset_free(&a);
}

/* ---- the model-vs-data check ---- */
static void test_check_model(void **state) {
    (void)state;
    bq_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.arch, sizeof m.arch, "onnx");
    m.in_c = 3; m.in_h = 224; m.in_w = 224; m.num_classes = 10;
    bq_dataset d;
    memset(&d, 0, sizeof d);
    d.n = 1; d.c = 1; d.h = 28; d.w = 28;
    snprintf(d.source, sizeof d.source, "data.yaml"); snprintf(d.split, sizeof d.split, "test");
    assert_int_equal(bq_dataset_check_model(&d, &m, 0, err, sizeof err), -1);
    assert_err("the data gives 1x28x28 images (CxHxW) but the onnx model takes 3x224x224");
    m.in_c = 1; m.in_h = 28; m.in_w = 28;
    assert_int_equal(bq_dataset_check_model(&d, &m, 0, err, sizeof err), 0);   /* calibration */
    assert_int_equal(bq_dataset_check_model(&d, &m, 1, err, sizeof err), -1);
    assert_err("has no labels, which evaluation needs");
    int32_t lab[1] = {12};
    d.labels = lab; d.num_classes = 13;
    assert_int_equal(bq_dataset_check_model(&d, &m, 1, err, sizeof err), -1);
    assert_err("13 classes (labels 0..12) but the onnx model has 10 outputs");
}

/* ---- bad inputs: one line each, naming the file ---- */
static void test_bad_inputs(void **state) {
    (void)state;
    bq_dataset d;
    uint8_t px[4] = {1, 2, 3, 4};
    put_png("bad/img/a/ok.png", px, 2, 2, 1);
    put_png("bad/img/b/ok.png", px, 2, 2, 1);
    put_text("bad/img/b/zz.png", "\x89PNG\r\n\x1a\n truncated");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: images\neval: img\ncache: false\n", "test"), -1);
    assert_err("bad/img/b/zz.png: corrupt or truncated PNG");
    put_text("bad/jpg/a/x.jpg", "\xff\xd8\xff\xe0 broken");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: images\neval: jpg\n", "test"), -1);
    assert_err("bad/jpg/a/x.jpg: corrupt or truncated JPEG");
    mkdir(path_in("bad/empty"), 0755); mkdir(path_in("bad/empty/cls"), 0755);
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: images\neval: empty\n", "test"), -1);
    assert_err("empty/cls: empty class folder");
    mkdir(path_in("bad/none"), 0755);
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: images\neval: none\n", "test"), -1);
    assert_err("none: no class folders");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: images\neval: img\nsize: 3\n", "test"), -1);
    assert_err("unknown key 'size'");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: images\neval: img\nmean: [0.1, 0.2]\nstd: [1, 1]\n", "test"), -1);
    assert_err("give 2 values but the data has 3 channels");
    /* arrays */
    const int s2[2] = {2, 2}, s4[4] = {2, 1, 1, 2}, sl[1] = {2}, samb[4] = {2, 3, 3, 3};
    const double f8[4] = {0};
    const int64_t l[2] = {0, 5};
    uint8_t big[54] = {0};
    put_npy("bad/f8.npy", "<f8", s2, 2, f8, sizeof f8);
    put_npy("bad/u2d.npy", "|u1", s2, 2, px, sizeof px);
    put_npy("bad/x.npy", "|u1", s4, 4, px, 4);
    put_npy("bad/amb.npy", "|u1", samb, 4, big, sizeof big);
    put_npy("bad/l.npy", "<i8", sl, 1, l, sizeof l);
    put_npy("bad/lf.npy", "<f8", sl, 1, f8, 16);
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\neval: f8.npy\n", "test"), -1);
    assert_err("f8.npy: image array of dtype '<f8'");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\neval: u2d.npy\n", "test"), -1);
    assert_err("image array has 2 dimensions");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\neval: amb.npy\n", "test"), -1);
    assert_err("cannot tell NCHW from NHWC");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\neval: x.npy\neval_labels: l.npy\nclasses: 3\n", "test"), -1);
    assert_err("l.npy: label 5 of image 1 is outside 0..2");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\neval: x.npy\neval_labels: lf.npy\n", "test"), -1);
    assert_err("lf.npy: label array of dtype '<f8'");
    put("bad/trunc.npy", "\x93NUMPY\x01\x00\x76", 9);
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\neval: trunc.npy\n", "test"), -1);
    assert_err("trunc.npy: not a .npy file");
    assert_int_equal(load_yaml(&d, "bad/d.yaml", "kind: npy\ncalib: x.npy\n", "test"), -1);
    assert_err("no 'eval:' array for the evaluation split");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_decode),
        cmocka_unit_test(test_jpeg_decode),
        cmocka_unit_test(test_resize_crop),
        cmocka_unit_test(test_npy_variants),
        cmocka_unit_test(test_npz),
        cmocka_unit_test(test_calib_each_source),
        cmocka_unit_test(test_check_model),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_image_size_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
