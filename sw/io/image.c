/* image.c — PNG/JPEG decode, resize, crop, colour (see image.h and docs/data.md). */
#include "io/image.h"
#include "core/errmsg.h"
#include "core/fileio.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

/* ---- PNG: libpng's simplified API converts every PNG kind to RGB8 ---- */
static int decode_png(const char *path, const unsigned char *buf, size_t len, uint8_t **rgb, int *h,
                      int *w, char *err, size_t errlen) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, buf, len)) goto bad;
    im.format = PNG_FORMAT_RGB;
    if (im.width == 0 || im.height == 0 || im.width > 65535 || im.height > 65535 ||
        (uint64_t)im.width * im.height > BQ_IMAGE_MAX_PIXELS) {
        png_image_free(&im);
        bq_seterr(err, errlen, "%s: PNG of %ux%u pixels; images up to 65535 on a side and %u pixels "
                  "(8192 x 8192) are read: downscale it", path, im.width, im.height, BQ_IMAGE_MAX_PIXELS);
        return -1;
    }
    *rgb = malloc((size_t)im.width * im.height * 3);
    if (!*rgb) { png_image_free(&im); bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    /* background NULL: alpha is dropped (not composited) for 8-bit output */
    if (!png_image_finish_read(&im, NULL, *rgb, 0, NULL)) { free(*rgb); *rgb = NULL; goto bad; }
    *h = (int)im.height; *w = (int)im.width;
    return 0;
bad:
    bq_seterr(err, errlen, "%s: corrupt or truncated PNG (%s); re-save or remove the file", path,
              im.message[0] ? im.message : "unreadable");
    png_image_free(&im);
    return -1;
}

/* ---- JPEG: libjpeg errors longjmp back here instead of exiting ---- */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_warn(j_common_ptr cinfo, int level) {
    /* a premature end of data is only a warning to libjpeg; it is a truncated file to us */
    if (level < 0) jpeg_fail(cinfo);
}

static int decode_jpeg(const char *path, const unsigned char *buf, size_t len, uint8_t **rgb,
                       int *h, int *w, char *err, size_t errlen) {
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    uint8_t *volatile out = NULL;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_fail;
    je.pub.emit_message = jpeg_warn;
    je.msg[0] = 0;
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&ci);
        free(out);
        bq_seterr(err, errlen, "%s: corrupt or truncated JPEG (%s); re-save or remove the file",
                  path, je.msg);
        return -1;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if ((uint64_t)ci.image_width * ci.image_height > BQ_IMAGE_MAX_PIXELS) {   /* before any buffer */
        bq_seterr(err, errlen, "%s: JPEG of %ux%u pixels; images up to %u pixels (8192 x 8192) are "
                  "read: downscale it", path, (unsigned)ci.image_width, (unsigned)ci.image_height,
                  BQ_IMAGE_MAX_PIXELS);
        jpeg_destroy_decompress(&ci);
        return -1;
    }
    ci.out_color_space = JCS_RGB;   /* grey and YCbCr JPEGs alike */
    jpeg_start_decompress(&ci);
    size_t stride = (size_t)ci.output_width * 3;
    out = malloc(stride * ci.output_height);
    if (!out) {
        jpeg_destroy_decompress(&ci);
        bq_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = out + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    *h = (int)ci.output_height; *w = (int)ci.output_width;
    jpeg_destroy_decompress(&ci);
    *rgb = out;
    return 0;
}

int bq_image_decode_rgb(const char *path, uint8_t **rgb, int *h, int *w, char *err, size_t errlen) {
    unsigned char *buf;
    size_t len;
    *rgb = NULL;
    if (bq_read_file(path, &buf, &len, err, errlen)) return -1;
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int rc;
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0)
        rc = decode_png(path, buf, len, rgb, h, w, err, errlen);
    else if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        rc = decode_jpeg(path, buf, len, rgb, h, w, err, errlen);
    else {
        bq_seterr(err, errlen, "%s: not a PNG or JPEG (bad signature: corrupt, truncated or another "
                  "format); convert it or remove it from the folder", path);
        rc = -1;
    }
    free(buf);
    return rc;
}

/* torchvision's CenterCrop offset: round((size - crop) / 2) with Python's half-to-even. */
static int centre_offset(int size, int crop) {
    int d = size - crop;
    return d / 2 + ((d & 1) && ((d / 2) & 1));
}

int bq_image_geometry(int h, int w, int resize, int crop, bq_image_geom *g) {
    g->rh = h; g->rw = w;
    if (resize > 0) {
        /* the shorter side becomes `resize`, the longer keeps the aspect (truncated, as torchvision) */
        if (h <= w) { g->rh = resize; g->rw = (int)((long)resize * w / h); }
        else        { g->rw = resize; g->rh = (int)((long)resize * h / w); }
    }
    g->out_h = crop > 0 ? crop : g->rh;
    g->out_w = crop > 0 ? crop : g->rw;
    if (g->out_h > g->rh || g->out_w > g->rw) return -1;
    g->top = centre_offset(g->rh, g->out_h);
    g->left = centre_offset(g->rw, g->out_w);
    return 0;
}

/* Source coordinate of output index o when n_in pixels map to n_out: half-pixel centres. */
static void bilinear_taps(int o, int n_in, int n_out, int *i0, int *i1, float *f) {
    float s = ((float)o + 0.5f) * (float)n_in / (float)n_out - 0.5f;
    if (s < 0.0f) s = 0.0f;
    int a = (int)s;
    if (a > n_in - 1) a = n_in - 1;
    *i0 = a;
    *i1 = a + 1 < n_in ? a + 1 : n_in - 1;
    *f = s - (float)a;
}

/* One resized RGB pixel (rows/cols in resized coordinates) into v[3], rounded to 8 bits. */
static void sample_rgb(const uint8_t *rgb, int h, int w, const bq_image_geom *g, int y, int x,
                       uint8_t v[3]) {
    if (g->rh == h && g->rw == w) { memcpy(v, rgb + ((size_t)y * w + x) * 3, 3); return; }
    int y0, y1, x0, x1;
    float fy, fx;
    bilinear_taps(y, h, g->rh, &y0, &y1, &fy);
    bilinear_taps(x, w, g->rw, &x0, &x1, &fx);
    for (int k = 0; k < 3; k++) {
        float a = rgb[((size_t)y0 * w + x0) * 3 + k], b = rgb[((size_t)y0 * w + x1) * 3 + k];
        float c = rgb[((size_t)y1 * w + x0) * 3 + k], d = rgb[((size_t)y1 * w + x1) * 3 + k];
        float top = a + (b - a) * fx, bot = c + (d - c) * fx;
        float p = top + (bot - top) * fy;
        long r = lrintf(p);
        v[k] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
}

void bq_image_prep(const uint8_t *rgb, int h, int w, const bq_image_geom *g, int c, uint8_t *dst) {
    const size_t plane = (size_t)g->out_h * g->out_w;
    for (int i = 0; i < g->out_h; i++)
        for (int j = 0; j < g->out_w; j++) {
            uint8_t v[3];
            sample_rgb(rgb, h, w, g, g->top + i, g->left + j, v);
            size_t at = (size_t)i * g->out_w + j;
            if (c == 1)   /* PIL's L = R*299/1000 + G*587/1000 + B*114/1000, fixed point */
                dst[at] = (uint8_t)((v[0] * 19595u + v[1] * 38470u + v[2] * 7471u + 0x8000u) >> 16);
            else
                for (int k = 0; k < 3; k++) dst[k * plane + at] = v[k];
        }
}

int bq_png_write(const char *path, const uint8_t *pix, int h, int w, int c, char *err,
                 size_t errlen) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w; im.height = (png_uint_32)h;
    im.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&im, NULL, &size, 0, pix, 0, NULL)) goto bad;
    void *mem = malloc(size);
    if (!mem) { bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    if (!png_image_write_to_memory(&im, mem, &size, 0, pix, 0, NULL)) { free(mem); goto bad; }
    int rc = bq_write_file_atomic(path, mem, size, err, errlen);
    free(mem);
    return rc;
bad:
    bq_seterr(err, errlen, "%s: PNG encoding failed (%s)", path, im.message);
    png_image_free(&im);
    return -1;
}
