/* brecq run — the whole mixed-precision flow from a FLOW.yaml (sw/flow/flow.h, docs/flow.md).
 *
 *   brecq run FLOW.yaml [FLOW2.yaml ...] [--mp-json docs/mixed_precision.json]
 *
 * Runs (or resumes) each flow in turn; with --mp-json, writes the mixed-vs-uniform rows of all
 * flows as one JSON list (the issue 8 acceptance table) and prints the table.
 */
#include "cli.h"
#include "core/fileio.h"
#include "dse/dse.h"
#include "flow/flow.h"
#include "search/mcnemar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kUsage =
    "usage: brecq run FLOW.yaml [FLOW2.yaml ...] [--mp-json OUT.json]\n"
    "  runs sensitivity, search, BRECQ reconstruction, integer evaluation, latency, export,\n"
    "  cosim (when built) and writes the report folder named by the flow's 'out' key;\n"
    "  a rerun skips finished steps. See configs/flows/*.yaml and docs/flow.md.";

int bq_cmd_run(int argc, char **argv) {
    /* every rank would run the whole flow into the same folder: refuse before any work */
    if (bq_dse_mpi_launched()) {
        bq_cli_error("run", "does not run under mpirun/srun; run it without, or spread the "
                     "reconstruction with 'mpirun -np R brecq quantize' and a recipe with "
                     "dp_shards (docs/mpi_recon.md)");
        return 2;
    }
    const char *flows[16];
    int nf = 0;
    const char *mp_json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n", kUsage);
            return 0;
        }
        if (!strcmp(argv[i], "--mp-json")) {
            if (i + 1 >= argc) {
                bq_cli_error("run", "--mp-json needs a file name");
                return 2;
            }
            mp_json = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "--", 2)) {
            bq_cli_error("run", "unknown option '%s'; %s", argv[i], kUsage);
            return 2;
        }
        if (nf >= 16) {
            bq_cli_error("run", "at most 16 flows per invocation");
            return 2;
        }
        flows[nf++] = argv[i];
    }
    if (nf == 0) {
        bq_cli_error("run", "no FLOW.yaml given; %s", kUsage);
        return 2;
    }
    char err[2048];
    if (mp_json && bq_check_output("--mp-json", mp_json, BQ_OUT_FILE, flows, nf, err, sizeof err)) {
        bq_cli_error("run", "%s", err);
        return 2;
    }
    bq_mp_row rows[16 * BQ_FLOW_MAX_BUDGETS];
    int nr = 0;
    for (int f = 0; f < nf; f++) {
        bq_flow_cfg c;
        if (bq_flow_load(&c, flows[f], err, sizeof err)) {
            bq_cli_error("run", "%s", err);
            return 2;
        }
        bq_flow_result r;
        if (bq_flow_run(&c, &r, err, sizeof err)) {
            bq_cli_error("run", "%s: %s", flows[f], err);
            return 1;
        }
        for (int i = 0; i < r.n_rows; i++) rows[nr++] = r.rows[i];
        printf("%s: done in %.1f s, report %s/report.md\n", flows[f], r.seconds, c.out);
    }
    if (nr) {
        printf("%-8s %12s %12s %10s %-8s %12s %10s %10s\n", "model", "budget", "mixed cyc",
               "mixed %", "uniform", "uni cyc", "uni %", "p");
        for (int i = 0; i < nr; i++)
            printf("%-8s %12lld %12lld %10.2f %-8s %12lld %10.2f %10.4g\n", rows[i].model,
                   (long long)rows[i].budget_cycles, (long long)rows[i].mixed_cycles,
                   rows[i].mixed_top1, rows[i].uniform_setting, (long long)rows[i].uniform_cycles,
                   rows[i].uniform_top1, rows[i].p_value);
    }
    if (mp_json) {
        bq_buf b = {0};
        bq_mp_rows_json(rows, nr, &b);
        int rc = b.oom ? -1 : bq_write_file_atomic(mp_json, b.data, b.len, err, sizeof err);
        bq_buf_free(&b);
        if (rc) {
            bq_cli_error("run", "%s: %s", mp_json, b.oom ? "out of memory" : err);
            return 1;
        }
        printf("wrote %s (%d rows)\n", mp_json, nr);
    }
    return 0;
}
