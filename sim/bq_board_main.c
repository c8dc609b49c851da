/* bq_board_main.c — the shared body of the board programs (bq_board_main.h). */
#include "bq_board_main.h"

#include <stdio.h>
#include <string.h>

#include "bq_acc_mmio.h"
#include "bq_acc_uio.h"

int bq_board_main(const char *prog, const char *usage, int argc, char **argv, bq_host_fn host) {
    char err[512];
    bq_uio_args a;
    if (argc < 2) { fputs(usage, stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { fputs(usage, stdout); return 0; }
    if (bq_uio_parse_args(&a, &argc, argv, 0, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    bq_uio_map w;
    if (bq_uio_map_open(&w, &a, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    bq_acc acc;
    bq_acc_mmio m;
    bq_acc_mmio_init(&m, &acc, w.regs, w.mem, w.mem_size);
    int rc = host(argc, argv, &acc);
    bq_acc_mmio_free(&m);
    bq_uio_map_close(&w);
    return rc;
}
