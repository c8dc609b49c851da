/* bq_acc_uio.c — register and memory windows of the board backend (bq_acc_uio.h). */
#include "bq_acc_uio.h"
#include "core/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A C integer literal that is the whole string, or -1. */
static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    if (!*s || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

/* "/dev/uio" followed by decimal digits only. */
static int is_uio_name(const char *dev) {
    if (strncmp(dev, "/dev/uio", 8) || !dev[8]) return 0;
    for (const char *p = dev + 8; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

static int check_args(const bq_uio_args *a, int have_reg, int have_mem, int have_size,
                      uint64_t page, char *err, size_t errlen) {
    if (!a->dev) {
        bq_seterr(err, errlen, "--dev is required: the accelerator's UIO device (/dev/uioN) or /dev/mem");
        return -1;
    }
    if (!a->is_uio && strcmp(a->dev, "/dev/mem")) {
        bq_seterr(err, errlen, "--dev '%s': not a UIO device (/dev/uioN) nor /dev/mem", a->dev);
        return -1;
    }
    if (a->is_uio && have_reg) {
        bq_seterr(err, errlen, "--reg-base: a UIO device maps its own registers (map 0); drop "
                  "--reg-base or use --dev /dev/mem");
        return -1;
    }
    if (!a->is_uio && !have_reg) {
        bq_seterr(err, errlen, "--dev /dev/mem needs --reg-base, the physical address of the "
                  "accelerator's register window");
        return -1;
    }
    if (a->reg_base % page) {
        bq_seterr(err, errlen, "--reg-base 0x%llx: not a multiple of the page size (0x%llx)",
                  (unsigned long long)a->reg_base, (unsigned long long)page);
        return -1;
    }
    if (!have_mem || !have_size) {
        bq_seterr(err, errlen, "--mem-base and --mem-size are required: the physical window of "
                  "the accelerator's memory (a reserved buffer)");
        return -1;
    }
    if (a->mem_base % page) {
        bq_seterr(err, errlen, "--mem-base 0x%llx: not a multiple of the page size (0x%llx)",
                  (unsigned long long)a->mem_base, (unsigned long long)page);
        return -1;
    }
    if (a->mem_size == 0 || a->mem_size % page || a->mem_size > (1ull << 32)) {
        bq_seterr(err, errlen, "--mem-size %llu: must be a non-zero multiple of the page size "
                  "(%llu) and at most 4 GiB (32-bit accelerator addresses)",
                  (unsigned long long)a->mem_size, (unsigned long long)page);
        return -1;
    }
    return 0;
}

int bq_uio_parse_args(bq_uio_args *a, int *argc, char **argv, uint64_t page_size, char *err,
                      size_t errlen) {
    memset(a, 0, sizeof *a);
    int have_reg = 0, have_mem = 0, have_size = 0, kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *o = argv[i];
        uint64_t *dst = !strcmp(o, "--reg-base") ? &a->reg_base : !strcmp(o, "--mem-base") ? &a->mem_base
                      : !strcmp(o, "--mem-size") ? &a->mem_size : NULL;
        if (!dst && strcmp(o, "--dev")) { argv[kept++] = argv[i]; continue; }
        if (i + 1 >= *argc) { bq_seterr(err, errlen, "%s needs a value", o); return -1; }
        const char *v = argv[++i];
        if (!dst) { a->dev = v; continue; }
        if (parse_u64(v, dst)) {
            bq_seterr(err, errlen, "%s '%s': not a number (give e.g. 0x38000000 or 67108864)", o, v);
            return -1;
        }
        have_reg |= dst == &a->reg_base;
        have_mem |= dst == &a->mem_base;
        have_size |= dst == &a->mem_size;
    }
    *argc = kept;
    argv[kept] = NULL;
    a->is_uio = a->dev && is_uio_name(a->dev);
    uint64_t page = page_size ? page_size : (uint64_t)sysconf(_SC_PAGESIZE);
    return check_args(a, have_reg, have_mem, have_size, page, err, errlen);
}

int bq_uio_map_open(bq_uio_map *m, const bq_uio_args *a, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->reg_fd = m->mem_fd = -1;
    m->reg_fd = open(a->dev, O_RDWR | O_SYNC);
    if (m->reg_fd < 0) {
        bq_seterr(err, errlen, "%s: %s; %s", a->dev, strerror(errno),
                  a->is_uio ? "load the accelerator's UIO driver (uio_pdrv_genirq) and check "
                              "/sys/class/uio" : "run as root on a kernel with /dev/mem");
        return -1;
    }
    /* UIO: map N is selected by offset N * page size; map 0 = the registers */
    void *r = mmap(NULL, BQ_UIO_REG_WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, m->reg_fd,
                   a->is_uio ? 0 : (off_t)a->reg_base);
    if (r == MAP_FAILED) {
        bq_seterr(err, errlen, "%s: mmap of the register window at 0x%llx: %s; check the address",
                  a->dev, (unsigned long long)a->reg_base, strerror(errno));
        bq_uio_map_close(m);
        return -1;
    }
    m->regs = r;
    m->mem_fd = open("/dev/mem", O_RDWR | O_SYNC);
    if (m->mem_fd < 0) {
        bq_seterr(err, errlen, "/dev/mem: %s; the memory window needs root", strerror(errno));
        bq_uio_map_close(m);
        return -1;
    }
    void *d = mmap(NULL, (size_t)a->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->mem_fd,
                   (off_t)a->mem_base);
    if (d == MAP_FAILED) {
        bq_seterr(err, errlen, "/dev/mem: mmap of %llu bytes at 0x%llx: %s; reserve the buffer (mem= "
                  "or a reserved-memory node)", (unsigned long long)a->mem_size,
                  (unsigned long long)a->mem_base, strerror(errno));
        bq_uio_map_close(m);
        return -1;
    }
    m->mem = d;
    m->mem_size = (size_t)a->mem_size;
    return 0;
}

void bq_uio_map_close(bq_uio_map *m) {
    if (m->regs) munmap((void *)m->regs, BQ_UIO_REG_WINDOW);
    if (m->mem) munmap((void *)m->mem, m->mem_size);
    if (m->reg_fd >= 0) close(m->reg_fd);
    if (m->mem_fd >= 0) close(m->mem_fd);
    m->regs = NULL; m->mem = NULL; m->reg_fd = m->mem_fd = -1;
}
