/*
 * search_cli_driver.c — runs `brecq search` (bq_cmd_search) without the dispatcher, for
 * `make test-search-cli` (sw/search/search.mk), and writes built-in architectures as model files.
 *   search_cli_driver mk ARCH OUT.bqm      untrained built-in model (geometry is all the search needs)
 *   search_cli_driver search ARGS...       exactly `brecq search ARGS...`
 */
#include <stdio.h>
#include <string.h>

#include "nn/graph.h"
#include "io/model_io.h"

int bq_cmd_search(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "mk") == 0) {
        bq_model m;
        char err[512];
        if (bq_arch_build(&m, argv[2], 1)) {
            fprintf(stderr, "unknown architecture %s\n", argv[2]);
            return 1;
        }
        int rc = bq_model_save(&m, argv[3], err, sizeof err);
        if (rc) fprintf(stderr, "%s\n", err);
        bq_model_free(&m);
        return rc ? 1 : 0;
    }
    if (argc >= 2 && strcmp(argv[1], "search") == 0) return bq_cmd_search(argc - 1, argv + 1);
    fprintf(stderr, "usage: search_cli_driver mk ARCH OUT.bqm | search ARGS...\n");
    return 2;
}
