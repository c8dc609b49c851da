/* fileio.c — see fileio.h. */
#include "core/fileio.h"
#include "core/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void bq_buf_put(bq_buf *b, const void *p, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n) nc *= 2;
        unsigned char *d = realloc(b->data, nc);
        if (!d) { b->oom = 1; return; }
        b->data = d; b->cap = nc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
void bq_buf_u32(bq_buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    bq_buf_put(b, x, 4);
}
void bq_buf_i32(bq_buf *b, int32_t v) { bq_buf_u32(b, (uint32_t)v); }
void bq_buf_u64(bq_buf *b, uint64_t v) { bq_buf_u32(b, (uint32_t)v); bq_buf_u32(b, (uint32_t)(v >> 32)); }
void bq_buf_f32(bq_buf *b, float v) { uint32_t u; memcpy(&u, &v, 4); bq_buf_u32(b, u); }
void bq_buf_str(bq_buf *b, const char *s, size_t fixed_len) {
    char tmp[256] = {0};
    size_t n = strlen(s);
    if (fixed_len > sizeof(tmp)) fixed_len = sizeof(tmp);
    memcpy(tmp, s, n < fixed_len - 1 ? n : fixed_len - 1);
    bq_buf_put(b, tmp, fixed_len);
}
void bq_buf_printf(bq_buf *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) { bq_buf_put(b, small, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { b->oom = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bq_buf_put(b, big, (size_t)n);
    free(big);
}
void bq_buf_free(bq_buf *b) { free(b->data); memset(b, 0, sizeof(*b)); }

int bq_rd_bytes(bq_rd *r, void *dst, size_t n) {
    if (r->bad || n > r->len - r->pos) { r->bad = 1; return -1; }
    memcpy(dst, r->data + r->pos, n);
    r->pos += n;
    return 0;
}
int bq_rd_u32(bq_rd *r, uint32_t *v) {
    unsigned char x[4];
    if (bq_rd_bytes(r, x, 4)) return -1;
    *v = (uint32_t)x[0] | ((uint32_t)x[1] << 8) | ((uint32_t)x[2] << 16) | ((uint32_t)x[3] << 24);
    return 0;
}
int bq_rd_i32(bq_rd *r, int32_t *v) { uint32_t u; if (bq_rd_u32(r, &u)) return -1; *v = (int32_t)u; return 0; }
int bq_rd_u64(bq_rd *r, uint64_t *v) {
    uint32_t lo, hi;
    if (bq_rd_u32(r, &lo) || bq_rd_u32(r, &hi)) return -1;
    *v = (uint64_t)lo | ((uint64_t)hi << 32);
    return 0;
}
int bq_rd_f32(bq_rd *r, float *v) { uint32_t u; if (bq_rd_u32(r, &u)) return -1; memcpy(v, &u, 4); return 0; }
int bq_rd_str(bq_rd *r, char *dst, size_t fixed_len) {
    if (bq_rd_bytes(r, dst, fixed_len)) { if (fixed_len) dst[0] = 0; return -1; }
    dst[fixed_len - 1] = 0;
    return 0;
}

int bq_read_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen) {
    *data = NULL; *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) { bq_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); bq_seterr(err, errlen, "%s: cannot seek", path); return -1; }
    long n = ftell(f);
    if (n < 0) { fclose(f); bq_seterr(err, errlen, "%s: cannot tell size", path); return -1; }
    rewind(f);
    *data = malloc((size_t)n + 1);
    if (!*data) { fclose(f); bq_seterr(err, errlen, "%s: out of memory", path); return -1; }
    if (n && fread(*data, 1, (size_t)n, f) != (size_t)n) {
        free(*data); *data = NULL; fclose(f);
        bq_seterr(err, errlen, "%s: read error", path);
        return -1;
    }
    (*data)[n] = 0;   /* convenient for text files */
    fclose(f);
    *len = (size_t)n;
    return 0;
}

int bq_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { bq_seterr(err, errlen, "%s: cannot create: %s", tmp, strerror(errno)); return -1; }
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            bq_seterr(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
            close(fd); unlink(tmp);
            return -1;
        }
        p += w; left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        bq_seterr(err, errlen, "%s: flush failed: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        bq_seterr(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int bq_mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

int bq_mkdirs_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;   /* the current folder, or / */
    *slash = 0;
    return bq_mkdirs(dir);
}

uint64_t bq_fnv1a64(const void *data, size_t len, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}
