/* dataset_images.c — the class-subfolder image source: root/CLASS/ holding .png/.jpg/.jpeg files, classes the
 * sorted folder names (as torchvision's ImageFolder), decoded once into a uint8 cache file that
 * later runs mmap (docs/data.md). */
#include "io/dataset.h"
#include "io/image.h"
#include "core/errmsg.h"
#include "core/fileio.h"
#include "core/parallel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int kind;              /* BQ_DS_IMAGES (bq_ds_priv_free) */
    int n;
    char **paths;          /* (n) files, class by class, each class's files sorted by name */
    int resize, crop, c;
    char cache_path[BQ_DS_PATH + 64];   /* "" = no cache */
} images_priv;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *n) {
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Sorted names in dir: sub-folders (want_dirs) or image files. -1 when dir cannot be read. */
static int list_dir(const char *dir, int want_dirs, char ***out, int *n) {
    DIR *dp = opendir(dir);
    if (!dp) return -1;
    int cap = 16;
    char **v = malloc(sizeof(char *) * (size_t)cap);
    *n = 0;
    struct dirent *e;
    while (v && (e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st)) continue;
        if (want_dirs ? !S_ISDIR(st.st_mode) : (!S_ISREG(st.st_mode) || !is_image_name(e->d_name)))
            continue;
        if (*n == cap) {
            char **nv = realloc(v, sizeof(char *) * (size_t)(cap *= 2));
            if (!nv) { for (int i = 0; i < *n; i++) free(v[i]); free(v); v = NULL; break; }
            v = nv;
        }
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(dp);
    if (!v) return -1;
    qsort(v, (size_t)*n, sizeof(char *), cmp_str);
    *out = v;
    return 0;
}

static void free_list(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

/* Append the files of class k (folder root/name) to P, labels to d. */
static int add_class(bq_dataset *d, images_priv *P, const char *root, const char *name, int k,
                     char *err, size_t errlen) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    char **files;
    int nf;
    if (list_dir(dir, 0, &files, &nf)) {
        bq_seterr(err, errlen, "%s: cannot read the class folder", dir);
        return -1;
    }
    if (nf == 0) {
        free_list(files, nf);
        bq_seterr(err, errlen, "%s: empty class folder (no .png/.jpg/.jpeg files); add images or "
                  "remove the folder", dir);
        return -1;
    }
    char **np = realloc(P->paths, sizeof(char *) * (size_t)(P->n + nf));
    int32_t *nl = np ? realloc(d->labels, sizeof(int32_t) * (size_t)(P->n + nf)) : NULL;
    if (np) P->paths = np;
    if (nl) d->labels = nl;
    if (!np || !nl) { free_list(files, nf); bq_seterr(err, errlen, "%s: out of memory", dir); return -1; }
    for (int i = 0; i < nf; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);   /* dir < 4096, a name < 256 */
        P->paths[P->n] = strdup(p);
        d->labels[P->n++] = k;
    }
    free_list(files, nf);
    return 0;
}

/* The cache key: the YAML bytes, the split, the output geometry and every file's path, size and
 * modification time. */
static uint64_t cache_key(const bq_dataspec *s, const images_priv *P, const bq_dataset *d) {
    uint64_t h = bq_fnv1a64(&s->text_hash, sizeof s->text_hash, BQ_FNV_INIT);
    int geo[6] = {1 /* cache format */, d->c, d->h, d->w, P->resize, P->crop};
    h = bq_fnv1a64(geo, sizeof geo, h);
    h = bq_fnv1a64(d->split, strlen(d->split), h);
    for (int i = 0; i < P->n; i++) {
        struct stat st;
        int64_t meta[3] = {0, 0, 0};
        if (stat(P->paths[i], &st) == 0) {
            meta[0] = (int64_t)st.st_size;
            meta[1] = (int64_t)st.st_mtim.tv_sec;
            meta[2] = (int64_t)st.st_mtim.tv_nsec;
        }
        h = bq_fnv1a64(P->paths[i], strlen(P->paths[i]) + 1, h);
        h = bq_fnv1a64(meta, sizeof meta, h);
    }
    return h;
}

/* Output (h, w): from resize/crop alone when cropping, else from the first image. */
static int output_shape(bq_dataset *d, const images_priv *P, char *err, size_t errlen) {
    if (P->crop > 0) { d->h = d->w = P->crop; return 0; }
    uint8_t *rgb;
    int h, w;
    if (bq_image_decode_rgb(P->paths[0], &rgb, &h, &w, err, errlen)) return -1;
    free(rgb);
    bq_image_geom g;
    bq_image_geometry(h, w, P->resize, 0, &g);
    d->h = g.out_h; d->w = g.out_w;
    return 0;
}

int bq_ds_images_open(bq_dataset *d, const bq_dataspec *s, const char *split, char *err,
                      size_t errlen) {
    const char *root = strcmp(split, "test") == 0 ? s->eval : s->calib;
    const char *key = strcmp(split, "test") == 0 ? "eval" : "calib";
    if (!root[0]) {
        bq_seterr(err, errlen, "%s: no '%s:' image folder for the %s split; add '%s: FOLDER'",
                  s->path, key, strcmp(split, "test") == 0 ? "evaluation" : "calibration", key);
        return -1;
    }
    snprintf(d->source, sizeof d->source, "%s", root);
    char **classes;
    int nc;
    if (list_dir(root, 1, &classes, &nc)) {
        bq_seterr(err, errlen, "%s: cannot read the image folder ('%s:' in %s): %s", root, key,
                  s->path, strerror(errno));
        return -1;
    }
    if (nc == 0) {
        free(classes);
        bq_seterr(err, errlen, "%s: no class folders; images go in %s/<class>/*.png|jpg (one "
                  "sub-folder per class)", root, root);
        return -1;
    }
    images_priv *P = calloc(1, sizeof *P);
    d->class_names = calloc((size_t)nc, BQ_DATA_CLASS_LEN);
    if (!P || !d->class_names) { free(P); free_list(classes, nc); bq_seterr(err, errlen, "out of memory"); return -1; }
    P->kind = BQ_DS_IMAGES;
    d->priv = P;
    d->num_classes = nc;
    P->resize = s->resize; P->crop = s->crop; P->c = s->color == BQ_DS_GREY ? 1 : 3;
    int rc = 0;
    for (int k = 0; k < nc && rc == 0; k++) {
        snprintf(d->class_names[k], BQ_DATA_CLASS_LEN, "%s", classes[k]);
        rc = add_class(d, P, root, classes[k], k, err, errlen);
    }
    free_list(classes, nc);
    if (rc) return -1;
    d->n = P->n;
    d->c = P->c;
    if (output_shape(d, P, err, errlen)) return -1;
    d->key = cache_key(s, P, d);
    if (s->cache)
        snprintf(P->cache_path, sizeof P->cache_path, "%s/%s-%016llx.u8", s->cache_dir, split,
                 (unsigned long long)d->key);
    return 0;
}

/* ---- decoding, in parallel; the reported error is the first failing file in list order ---- */
typedef struct {
    const images_priv *P;
    bq_dataset *d;
    uint8_t *dst;
    int bad[BQ_MAX_THREADS];            /* first failing index per range, or -1 */
    char err[BQ_MAX_THREADS][600];
} decode_job;

static int decode_one(const images_priv *P, const bq_dataset *d, int i, uint8_t *dst, char *err,
                      size_t errlen) {
    uint8_t *rgb;
    int h, w;
    if (bq_image_decode_rgb(P->paths[i], &rgb, &h, &w, err, errlen)) return -1;
    bq_image_geom g;
    int rc = bq_image_geometry(h, w, P->resize, P->crop, &g);
    if (rc || g.out_h != d->h || g.out_w != d->w) {
        bq_seterr(err, errlen, "%s: %dx%d pixels give %dx%d, not the data set's %dx%d; set 'resize:' "
                  "and 'crop:' in the dataset YAML so every image ends the same size", P->paths[i],
                  w, h, rc ? 0 : g.out_w, rc ? 0 : g.out_h, d->w, d->h);
        free(rgb);
        return -1;
    }
    bq_image_prep(rgb, h, w, &g, d->c, dst);
    free(rgb);
    return 0;
}

static void decode_range(void *ctx, int idx, size_t lo, size_t hi) {
    decode_job *J = ctx;
    const size_t img = (size_t)J->d->c * J->d->h * J->d->w;
    J->bad[idx] = -1;
    for (size_t i = lo; i < hi; i++)
        if (decode_one(J->P, J->d, (int)i, J->dst + i * img, J->err[idx], sizeof J->err[idx])) {
            J->bad[idx] = (int)i;
            return;
        }
}

static int decode_all(bq_dataset *d, uint8_t *dst, char *err, size_t errlen) {
    decode_job *J = calloc(1, sizeof *J);
    if (!J) { bq_seterr(err, errlen, "out of memory"); return -1; }
    J->P = d->priv; J->d = d; J->dst = dst;
    for (int t = 0; t < BQ_MAX_THREADS; t++) J->bad[t] = -1;
    bq_parallel_for((size_t)J->P->n, 8, decode_range, J);   /* all files, whatever d->n */
    int rc = 0;
    for (int t = 0; t < BQ_MAX_THREADS && !rc; t++)   /* ranges are in list order */
        if (J->bad[t] >= 0) { bq_seterr(err, errlen, "%s", J->err[t]); rc = -1; }
    free(J);
    return rc;
}

/* Map an existing cache file of the right size; 1 when there is none. */
static int map_cache(bq_dataset *d, const char *path, size_t bytes) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 1;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size == bytes)
        m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return 1;
    d->map = m; d->map_len = bytes; d->pixels = m;
    return 0;
}

/* Decode straight into a new file's mapping (no anonymous copy), then rename it into place. */
static int build_cache(bq_dataset *d, const char *path, size_t bytes, char *err, size_t errlen) {
    char tmp[BQ_DS_PATH + 96];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (bq_mkdirs_parent(path)) {
        bq_seterr(err, errlen, "%s: cannot create the cache folder; set cache_dir or cache: false", path);
        return -1;
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)bytes)) {
        bq_seterr(err, errlen, "%s: cannot create the cache file: %s; set cache_dir or cache: false",
                  tmp, strerror(errno));
        if (fd >= 0) { close(fd); unlink(tmp); }
        return -1;
    }
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int rc = m == MAP_FAILED ? -1 : decode_all(d, m, err, errlen);
    if (m == MAP_FAILED) bq_seterr(err, errlen, "%s: cannot map the cache file: %s", tmp, strerror(errno));
    if (m != MAP_FAILED) munmap(m, bytes);
    if (rc == 0 && (fsync(fd) || rename(tmp, path))) {
        bq_seterr(err, errlen, "%s: cannot write the cache file: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc) { unlink(tmp); return -1; }
    return map_cache(d, path, bytes) ? (bq_seterr(err, errlen, "%s: cannot map", path), -1) : 0;
}

int bq_ds_images_read(bq_dataset *d, char *err, size_t errlen) {
    const images_priv *P = d->priv;
    const size_t bytes = (size_t)P->n * d->c * d->h * d->w;
    if (P->cache_path[0]) {
        if (map_cache(d, P->cache_path, bytes) == 0) return 0;
        return build_cache(d, P->cache_path, bytes, err, errlen);
    }
    d->pixels = malloc(bytes);
    if (!d->pixels) { bq_seterr(err, errlen, "%s: out of memory (%zu bytes)", d->source, bytes); return -1; }
    if (decode_all(d, d->pixels, err, errlen)) { free(d->pixels); d->pixels = NULL; return -1; }
    return 0;
}

void bq_ds_images_priv_free(void *priv) {
    images_priv *P = priv;
    if (!P) return;
    free_list(P->paths, P->n);
    free(P);
}
