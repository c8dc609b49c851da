/* npy.c — .npy header parsing, .npy files and .npz members (see npy.h and docs/data.md). */
#include "io/npy.h"
#include "core/errmsg.h"
#include "core/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }

#define NPY_MAX_COUNT (1ull << 40)
#define ZIP_MAX_RATIO 1032u   /* deflate's largest expansion: a bigger stated size is corrupt */

/* The value text after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *dict, const char *key) {
    const char *k = strstr(dict, key);
    if (!k) return NULL;
    k = strchr(k + strlen(key), ':');
    if (!k) return NULL;
    k++;
    while (*k == ' ') k++;
    return k;
}

static int parse_dict(const char *dict, const char *name, bq_npy *a, char *err, size_t errlen) {
    const char *d = dict_value(dict, "'descr'"), *f = dict_value(dict, "'fortran_order'");
    const char *s = dict_value(dict, "'shape'");
    if (!d || !f || !s || (*d != '\'' && *d != '"') || *s != '(') {
        bq_seterr(err, errlen, "%s: not a .npy header (descr/fortran_order/shape missing); save it "
                  "with numpy.save", name);
        return -1;
    }
    size_t n = strcspn(d + 1, "'\"");
    if (n >= sizeof a->descr) n = sizeof a->descr - 1;
    memcpy(a->descr, d + 1, n);
    a->descr[n] = 0;
    static const struct { const char *d; bq_npy_dtype t; size_t size; } kTypes[] = {
        {"|u1", BQ_NPY_U8, 1}, {"<u1", BQ_NPY_U8, 1}, {"<f4", BQ_NPY_F32, 4},
        {"<i4", BQ_NPY_I32, 4}, {"<i8", BQ_NPY_I64, 8},
    };
    size_t item = 0;
    a->dtype = BQ_NPY_OTHER;
    for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; i++)
        if (strcmp(a->descr, kTypes[i].d) == 0) { a->dtype = kTypes[i].t; item = kTypes[i].size; }
    if (strncmp(f, "True", 4) == 0) {
        bq_seterr(err, errlen, "%s: Fortran-order array; save it with numpy.ascontiguousarray", name);
        return -1;
    }
    a->ndim = 0;
    a->count = 1;
    for (const char *p = s + 1; *p && *p != ')';) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 0 || a->ndim == 8) {
            bq_seterr(err, errlen, "%s: unreadable shape in the .npy header", name);
            return -1;
        }
        /* a product past 2^40 elements is no data set (and must not wrap the sizes below) */
        if (v > 0 && a->count > (NPY_MAX_COUNT / (unsigned long long)v)) {
            bq_seterr(err, errlen, "%s: shape in the .npy header has more than 2^40 elements "
                      "(corrupt header)", name);
            return -1;
        }
        a->shape[a->ndim++] = v;
        a->count *= (size_t)v;
        p = e;
    }
    a->nbytes = a->count * item;
    return 0;
}

int bq_npy_parse_header(const unsigned char *buf, size_t len, const char *name, bq_npy *a,
                        size_t *hdr_len, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        bq_seterr(err, errlen, "%s: not a .npy file (bad magic); save it with numpy.save", name);
        return -1;
    }
    size_t start = buf[6] == 1 ? 10 : 12;
    size_t hl = buf[6] == 1 ? le16(buf + 8) : (len >= 12 ? le32(buf + 8) : (uint32_t)-1);
    if (buf[6] < 1 || buf[6] > 3 || start + hl > len || hl > 65536) {
        bq_seterr(err, errlen, "%s: truncated or unsupported .npy header (version %d.%d)", name,
                  buf[6], buf[7]);
        return -1;
    }
    char dict[65537];
    memcpy(dict, buf + start, hl);
    dict[hl] = 0;
    if (parse_dict(dict, name, a, err, errlen)) return -1;
    *hdr_len = start + hl;
    return 0;
}

/* A whole .npy image in memory -> a (copying the data unless header_only). */
static int npy_from_bytes(bq_npy *a, const unsigned char *buf, size_t len, const char *name,
                          int header_only, char *err, size_t errlen) {
    size_t off;
    if (bq_npy_parse_header(buf, len, name, a, &off, err, errlen)) return -1;
    if (header_only) return 0;
    if (a->dtype == BQ_NPY_OTHER) return 0;   /* the caller names the dtype it needs */
    if (len - off < a->nbytes) {
        bq_seterr(err, errlen, "%s: truncated (%zu of %zu data bytes)", name, len - off, a->nbytes);
        return -1;
    }
    a->data = malloc(a->nbytes ? a->nbytes : 1);
    if (!a->data) { bq_seterr(err, errlen, "%s: out of memory", name); return -1; }
    memcpy(a->data, buf + off, a->nbytes);
    return 0;
}

/* Find member key + ".npy" through the zip central directory; inflate it if deflated.
 * *out and *out_len: the member's bytes (malloc'd). */
static int npz_member(const unsigned char *z, size_t len, const char *path, const char *key,
                      unsigned char **out, size_t *out_len, char *err, size_t errlen) {
    size_t eocd = len >= 22 ? len - 22 : 0;
    while (eocd > 0 && le32(z + eocd) != 0x06054b50) eocd--;
    if (len < 22 || le32(z + eocd) != 0x06054b50) {
        bq_seterr(err, errlen, "%s: not an .npz (zip) file or truncated; save it with numpy.savez",
                  path);
        return -1;
    }
    uint32_t entries = le16(z + eocd + 10), cd = le32(z + eocd + 16);
    char want[300];
    snprintf(want, sizeof want, "%s.npy", key);
    size_t p = cd;
    for (uint32_t i = 0; i < entries; i++) {
        if (p + 46 > len || le32(z + p) != 0x02014b50) break;
        uint32_t method = le16(z + p + 10), csize = le32(z + p + 20), usize = le32(z + p + 24);
        uint32_t nlen = le16(z + p + 28), xlen = le16(z + p + 30), clen = le16(z + p + 32);
        uint32_t loc = le32(z + p + 42);
        if (p + 46 + nlen > len) break;
        if (nlen == strlen(want) && memcmp(z + p + 46, want, nlen) == 0) {
            if (csize == 0xffffffffu || usize == 0xffffffffu || loc == 0xffffffffu) {
                bq_seterr(err, errlen, "%s: member '%s' needs zip64 (over 4 GB); save it as .npy",
                          path, want);
                return -1;
            }
            if ((size_t)loc + 30 > len || le32(z + loc) != 0x04034b50) break;
            size_t data = (size_t)loc + 30 + le16(z + loc + 26) + le16(z + loc + 28);
            if (data + csize > len) break;
            if (method == 0 ? csize != usize : (uint64_t)usize > (uint64_t)csize * ZIP_MAX_RATIO + 64) {
                bq_seterr(err, errlen, "%s: member '%s' states %u bytes from %u stored (corrupt zip "
                          "directory); save it with numpy.savez", path, want, usize, csize);
                return -1;
            }
            *out = malloc(usize ? usize : 1);
            if (!*out) { bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
            *out_len = usize;
            if (method == 0 && csize == usize) { memcpy(*out, z + data, usize); return 0; }
            if (method == 8) {
                z_stream s;
                memset(&s, 0, sizeof s);
                int ok = inflateInit2(&s, -15) == Z_OK;   /* raw deflate, as zip stores it */
                s.next_in = (unsigned char *)(z + data); s.avail_in = csize;
                s.next_out = *out; s.avail_out = usize;
                ok = ok && inflate(&s, Z_FINISH) == Z_STREAM_END && s.total_out == usize;
                inflateEnd(&s);
                if (ok) return 0;
            }
            free(*out); *out = NULL;
            bq_seterr(err, errlen, "%s: member '%s' is %s; save it with numpy.savez or "
                      "numpy.savez_compressed", path, want,
                      method == 0 || method == 8 ? "corrupt" : "compressed with a method other than deflate");
            return -1;
        }
        p += 46 + nlen + xlen + clen;
    }
    bq_seterr(err, errlen, "%s: no array '%s' in the archive (or a corrupt zip directory); name it "
              "in the dataset YAML (images_key / labels_key) or save it under that name", path, key);
    return -1;
}

/* A plain .npy file: the header from its first bytes, the data read straight into a->data (no
 * whole-file copy; header_only reads at most 64 KB). */
static int npy_file(bq_npy *a, const char *path, int header_only, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { bq_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    unsigned char *head = malloc(65536 + 16);
    size_t got = head ? fread(head, 1, 65536 + 16, f) : 0, off = 0;
    int rc = head ? bq_npy_parse_header(head, got, path, a, &off, err, errlen)
                  : (bq_seterr(err, errlen, "%s: out of memory", path), -1);
    free(head);
    /* the header's size against the file's before allocating it (a 100-byte file can claim TBs) */
    long fsize = rc == 0 && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (rc == 0 && !header_only && a->dtype != BQ_NPY_OTHER &&
        (fsize < (long)off || (size_t)fsize - off < a->nbytes)) {
        bq_seterr(err, errlen, "%s: truncated (%ld of %zu data bytes)", path,
                  fsize > (long)off ? fsize - (long)off : 0L, a->nbytes);
        rc = -1;
    }
    if (rc == 0 && !header_only && a->dtype != BQ_NPY_OTHER) {
        a->data = malloc(a->nbytes ? a->nbytes : 1);
        if (!a->data) rc = (bq_seterr(err, errlen, "%s: out of memory (%zu bytes)", path, a->nbytes), -1);
        size_t n = 0;
        if (rc == 0 && fseek(f, (long)off, SEEK_SET) == 0) n = fread(a->data, 1, a->nbytes, f);
        if (rc == 0 && n != a->nbytes) {
            bq_seterr(err, errlen, "%s: truncated (%zu of %zu data bytes)", path, n, a->nbytes);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int bq_npy_load(bq_npy *a, const char *path, const char *key, int header_only, char *err,
                size_t errlen) {
    memset(a, 0, sizeof *a);
    size_t pl = strlen(path);
    int rc;
    if (pl > 4 && strcmp(path + pl - 4, ".npz") == 0) {
        unsigned char *buf, *m = NULL;
        size_t len, mlen = 0;
        if (bq_read_file(path, &buf, &len, err, errlen)) return -1;
        char name[600];
        snprintf(name, sizeof name, "%s:%s", path, key);
        rc = npz_member(buf, len, path, key, &m, &mlen, err, errlen);
        if (rc == 0) rc = npy_from_bytes(a, m, mlen, name, header_only, err, errlen);
        free(m);
        free(buf);
    } else {
        rc = npy_file(a, path, header_only, err, errlen);
    }
    if (rc) bq_npy_free(a);
    return rc;
}

void bq_npy_free(bq_npy *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}
