/* brecq dse — design-space exploration over accelerator configs x models x budgets (docs/dse.md).
 *
 *   brecq dse DSE.yaml                      serial, resumable (finished points are kept)
 *   mpirun -np N brecq dse DSE.yaml         the same sweep over N ranks (rank 0 hands out units)
 *
 * MPI is used only when the process was started by mpirun / srun (bq_dse_mpi_launched), so the
 * serial run never pays for Open MPI's singleton start-up. Progress goes to stderr; the outputs
 * are <out>/dse.json, report.md, timing.json and the SVG plots.
 */
#include "cli.h"
#include "dse/dse.h"

#include <stdio.h>
#include <string.h>

/* Library messages start with "dse: "; the CLI prefix already says so. */
static const char *msg(const char *err) { return strncmp(err, "dse: ", 5) == 0 ? err + 5 : err; }

int bq_cmd_dse(int argc, char **argv) {
    const char *spec_path = NULL;
    bq_cli_opt opts[] = {
        {"spec", 1, &spec_path, "the sweep (DSE.yaml; also the first positional argument)"},
    };
    if (argc >= 2 && argv[1][0] != '-') { spec_path = argv[1]; argv[1] = argv[0]; argc--; argv++; }
    int rc = bq_cli_parse(argc, argv, opts, 1, "usage: brecq dse DSE.yaml   (mpirun -np N brecq dse "
                          "DSE.yaml over MPI; docs/dse.md)");
    if (rc) return rc == 1 ? 0 : 2;
    if (!spec_path) {
        bq_cli_error("dse", "missing DSE.yaml; usage: brecq dse DSE.yaml (see docs/dse.md)");
        return 2;
    }
    char err[1536] = "";
    bq_dse_spec spec;
    bq_dse d;
    if (bq_dse_load(&spec, spec_path, err, sizeof err)) {
        bq_cli_error("dse", "%s", msg(err));
        return 2;
    }
    if (bq_dse_mpi_launched()) {
        int root = 0;
        rc = bq_dse_mpi_run(&d, &spec, &root, err, sizeof err);
        /* A failure rank 0 reports is reported once: the other ranks exit 0 (mpirun aborts the
         * job when any rank exits non-zero, which could kill rank 0 before it prints). */
        if (rc && err[0]) bq_cli_error("dse", "%s", msg(err));
        else if (rc == 0 && root) printf("dse: %s/dse.json, %s/report.md\n", spec.out, spec.out);
        bq_dse_free(&d);
        return rc && err[0] ? 1 : 0;
    }
    rc = bq_dse_prepare(&d, &spec, err, sizeof err);
    if (rc == 0) rc = bq_dse_run_serial(&d, err, sizeof err);
    if (rc) bq_cli_error("dse", "%s", msg(err));
    else printf("dse: %s/dse.json, %s/report.md\n", spec.out, spec.out);
    bq_dse_free(&d);
    return rc ? 1 : 0;
}
