/* fileio.c — see fileio.h. */
#include "core/fileio.h"
#include "core/errmsg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void bq_buf_put(bq_buf *b, const void *p, size_t n) {
    if (b->oom) return;
    if (b->sink) { b->sink(b->sink_ctx, p, n); b->len += n; return; }
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
    if (!path[0]) { bq_seterr(err, errlen, "empty file name; give the path of a file"); return -1; }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* fopen succeeds on a folder and ftell then reports a huge size: say what it is instead */
        bq_seterr(err, errlen, "%s: is a folder, not a file; give the path of the file inside it",
                  path);
        return -1;
    }
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
    bq_remove_stale_tmp(path);
    /* messages name the user's path, never the temporary one (it does not exist afterwards) */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        bq_seterr(err, errlen, "%s: cannot write: %s; check that its folder exists and is writable",
                  path, strerror(errno));
        return -1;
    }
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            bq_seterr(err, errlen, "%s: write failed: %s; free disk space and retry", path,
                      strerror(errno));
            close(fd); unlink(tmp);
            return -1;
        }
        p += w; left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        bq_seterr(err, errlen, "%s: flush failed: %s; free disk space and retry", path,
                  strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        bq_seterr(err, errlen, "%s: cannot rename into place: %s; remove what is at that path or "
                  "choose another", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int bq_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    char sub[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            if (bq_remove_tree(sub)) rc = -1;
        }
    closedir(d);
    return rmdir(path) ? -1 : rc;
}

/* Split path into its folder ("." when none) and its last component. */
static void split_path(const char *path, char *dir, size_t dlen, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(dir, dlen, "."); *base = path; return; }
    if (slash == path) snprintf(dir, dlen, "/");
    else snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
    *base = slash + 1;
}

/* What may follow the pid: nothing, or "." and anything: names derived from a temporary are that
 * run's too (a plot's PATH.tmp.PID.gp/.log/.svg, and the script's own PATH.tmp.PID.gp.tmp.PID:
 * a kill during plotting left them behind). */
static int stale_suffix(const char *s) { return *s == 0 || *s == '.'; }

int bq_remove_stale_tmp(const char *path) {
    char dir[4096], prefix[4200];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    snprintf(prefix, sizeof prefix, "%s.tmp.", base);
    size_t pl = strlen(prefix);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, pl) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + pl, &end, 10);
        if (!stale_suffix(end) || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* still running (or not ours) */
        char full[8400];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (bq_remove_tree(full) == 0) removed++;
    }
    closedir(d);
    return removed;
}

/* The folder that will hold path exists and accepts a new entry (probe create + remove). */
static int folder_writable(const char *opt, const char *path, char *err, size_t errlen) {
    char dir[4096], probe[4200];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        bq_seterr(err, errlen, "%s %s: folder '%s' does not exist; create it first (mkdir -p %s) "
                  "or choose another path", opt, path, dir, dir);
        return -1;
    }
    snprintf(probe, sizeof probe, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        bq_seterr(err, errlen, "%s %s: cannot create files in folder '%s' (%s); choose a writable "
                  "folder", opt, path, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int bq_check_output(const char *opt, const char *path, bq_out_kind kind, const char *const *inputs,
                    int n_inputs, char *err, size_t errlen) {
    if (!path || !path[0]) {
        bq_seterr(err, errlen, "%s is empty; give the path to write", opt);
        return -1;
    }
    struct stat so;
    int exists = stat(path, &so) == 0;
    if (exists && kind == BQ_OUT_FILE && S_ISDIR(so.st_mode)) {
        bq_seterr(err, errlen, "%s %s: is a folder; give a file name (e.g. %s/out)", opt, path, path);
        return -1;
    }
    if (exists && kind == BQ_OUT_DIR && !S_ISDIR(so.st_mode)) {
        bq_seterr(err, errlen, "%s %s: is a file, a folder is expected; remove it or choose "
                  "another path", opt, path);
        return -1;
    }
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i] || !inputs[i][0]) continue;
        struct stat si;
        int same = exists ? stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
                            si.st_ino == so.st_ino
                          : strcmp(inputs[i], path) == 0;
        if (same) {
            bq_seterr(err, errlen, "%s %s: is the input '%s'; writing it would destroy the input, "
                      "choose another output path", opt, path, inputs[i]);
            return -1;
        }
    }
    bq_remove_stale_tmp(path);
    return folder_writable(opt, path, err, errlen);
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

/* ---- run folders ---- */

/* The key a run folder was opened with: 1 and *key when DIR/key is readable, else 0. */
static int run_key_read(const char *dir, uint64_t *key) {
    char path[4200];
    snprintf(path, sizeof path, "%s/key", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long k = 0;
    int got = fscanf(f, "brecq run key %16llx", &k);
    fclose(f);
    *key = (uint64_t)k;
    return got == 1;
}

int bq_run_open(bq_run_dir *r, const char *given, const char *out, uint64_t key, char *err,
                size_t errlen) {
    r->derived = given == NULL;
    r->status = BQ_RUN_FRESH;
    if (given) snprintf(r->dir, sizeof r->dir, "%s", given);
    else snprintf(r->dir, sizeof r->dir, "%s.run", out);
    struct stat st;
    if (stat(r->dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            bq_seterr(err, errlen, "run folder %s: is a file; remove it or give --run-dir", r->dir);
            return -1;
        }
        uint64_t old;
        if (run_key_read(r->dir, &old) && old == key) r->status = BQ_RUN_RESUMED;
        else if (run_key_read(r->dir, &old)) {
            /* checkpoints of other inputs or options: never resume from them */
            if (bq_remove_tree(r->dir)) {
                bq_seterr(err, errlen, "run folder %s: cannot remove the checkpoints of other "
                          "inputs; remove it by hand", r->dir);
                return -1;
            }
            r->status = BQ_RUN_RESTARTED;
        }
    }
    if (bq_mkdirs(r->dir)) {
        bq_seterr(err, errlen, "run folder %s: cannot create: %s; check that its folder is "
                  "writable or give --run-dir", r->dir, strerror(errno));
        return -1;
    }
    char path[4200], text[64];
    snprintf(path, sizeof path, "%s/key", r->dir);
    int n = snprintf(text, sizeof text, "brecq run key %016llx\n", (unsigned long long)key);
    return bq_write_file_atomic(path, text, (size_t)n, err, errlen);
}

/* 1 when dir holds nothing but its key file. */
static int run_only_key(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int other = 0;
    for (struct dirent *e; (e = readdir(d));)
        other += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "key");
    closedir(d);
    return other == 0;
}

void bq_run_close(const bq_run_dir *r, int ok) {
    if (r->derived && (ok || run_only_key(r->dir))) bq_remove_tree(r->dir);
}

int bq_fnv1a64_file(const char *path, uint64_t *h, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    if (bq_read_file(path, &data, &len, err, errlen)) return -1;
    *h = bq_fnv1a64(data, len, *h);
    free(data);
    return 0;
}
