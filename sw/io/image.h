/*
 * image.h — PNG (libpng) and JPEG (libjpeg-turbo) decoding and the evaluation preprocessing of
 * an image folder: resize of the shorter side, centre crop, RGB or grey (docs/data.md).
 *
 *   uint8_t *rgb; int h, w;
 *   if (bq_image_decode_rgb("a.png", &rgb, &h, &w, err, sizeof err)) ...   (h, w, 3) interleaved
 *   bq_image_geom g; bq_image_geometry(h, w, 256, 224, &g);   resize 256, crop 224
 *   bq_image_prep(rgb, h, w, &g, 3, dst);                      dst (3, g.out_h, g.out_w) planar
 */
#ifndef BQ_IMAGE_H
#define BQ_IMAGE_H
#include <stddef.h>
#include <stdint.h>

/* The largest image read: 2^26 pixels (8192 x 8192, 192 MiB of RGB), checked from the header before
 * any pixel buffer is allocated (a 500-byte JPEG can claim 65500 x 65500: 12 GB; fuzzing found it). */
#define BQ_IMAGE_MAX_PIXELS (1u << 26)

/* Decode a PNG or JPEG (chosen by the file's first bytes, not its name) to 8-bit RGB, (h, w, 3).
 * Grey, palette, alpha (dropped, not composited) and 16-bit PNGs become RGB8. 0, or -1 with
 * "<path>: corrupt or truncated PNG/JPEG (<decoder message>)" or the size above. *rgb is malloc'd. */
int bq_image_decode_rgb(const char *path, uint8_t **rgb, int *h, int *w, char *err, size_t errlen);

/* Where an (h, w) image goes: resized to (rh, rw) so the shorter side is `resize` (0 = not
 * resized), then the centre crop x crop window at (top, left) (crop 0 = the whole image). */
typedef struct { int rh, rw, top, left, out_h, out_w; } bq_image_geom;
/* Returns 0, or -1 when the crop is larger than the resized image. */
int bq_image_geometry(int h, int w, int resize, int crop, bq_image_geom *g);

/* Resize (bilinear, half-pixel centres, edge-clamped, no antialiasing) + crop + colour (c = 3:
 * RGB, c = 1: grey by ITU-R 601 luma as PIL's convert("L")) into dst (c, out_h, out_w). */
void bq_image_prep(const uint8_t *rgb, int h, int w, const bq_image_geom *g, int c, uint8_t *dst);

/* Write an 8-bit grey (c = 1) or RGB (c = 3, interleaved) PNG atomically (tests, fixtures). */
int bq_png_write(const char *path, const uint8_t *pix, int h, int w, int c, char *err,
                 size_t errlen);
#endif
