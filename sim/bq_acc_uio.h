/*
 * bq_acc_uio.h — the mapping half of the board backend (docs/bringup.md "The board backend"): the
 * accelerator's register window from a UIO device (/dev/uioN, map 0) or from /dev/mem at a
 * physical base address, and its memory (accelerator address 0 .. mem_size-1) from /dev/mem at a
 * physical window (a reserved, physically contiguous buffer). Plain C, no config headers: the
 * register protocol on top of the mapping is bq_acc_mmio.h.
 *
 * Command-line options (taken out of argv by bq_uio_parse_args, the rest is left for the cosim
 * options):
 *   --dev /dev/uioN | /dev/mem   register window device
 *   --reg-base ADDR              /dev/mem only: physical address of the register window
 *   --mem-base ADDR              physical address of the memory window (page aligned)
 *   --mem-size BYTES             its size (page multiple, at most 4 GiB: 32-bit addresses)
 * Numbers are C literals (0x38000000, 67108864).
 *
 * Example:
 *   bq_uio_args a; bq_uio_map m;
 *   if (bq_uio_parse_args(&a, &argc, argv, err, n) || bq_uio_map_open(&m, &a, err, n)) die(err);
 *   ... m.regs[0] == 0x42514131 ...
 *   bq_uio_map_close(&m);
 */
#ifndef BQ_ACC_UIO_H
#define BQ_ACC_UIO_H

#include <stddef.h>
#include <stdint.h>

#define BQ_UIO_REG_WINDOW 0x1000u   /* bytes of the register window that are mapped */

typedef struct {
    const char *dev;      /* "/dev/uioN" or "/dev/mem" (points into argv) */
    int is_uio;
    uint64_t reg_base;    /* /dev/mem: physical address of the registers; UIO: 0 */
    uint64_t mem_base;    /* physical address of accelerator memory address 0 */
    uint64_t mem_size;    /* bytes */
} bq_uio_args;

typedef struct {
    int reg_fd, mem_fd;
    volatile uint32_t *regs;   /* BQ_UIO_REG_WINDOW bytes */
    volatile uint8_t *mem;     /* mem_size bytes */
    size_t mem_size;
} bq_uio_map;

/* Take --dev/--reg-base/--mem-base/--mem-size out of argv[1..argc-1] (the others keep their
 * order; *argc shrinks) and validate them (page_size: alignment, 0 = the system's). Returns 0, or
 * -1 with one line "--option 'value': what is wrong; fix" in err. */
int bq_uio_parse_args(bq_uio_args *a, int *argc, char **argv, uint64_t page_size, char *err,
                      size_t errlen);

/* Open and map both windows. Returns 0, or -1 with one line "device: what failed; fix" in err
 * (nothing left open). */
int bq_uio_map_open(bq_uio_map *m, const bq_uio_args *a, char *err, size_t errlen);
void bq_uio_map_close(bq_uio_map *m);

#endif
