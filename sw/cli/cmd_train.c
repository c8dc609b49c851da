/* brecq train — train a built-in architecture on Fashion-MNIST (deterministic for a seed, on any
 * number of threads). */
#include "cli.h"
#include "cli_data.h"
#include "cli_run.h"
#include "nn/data.h"
#include "io/model_io.h"
#include "nn/train.h"

#include <stdio.h>
#include <string.h>

int bq_cmd_train(int argc, char **argv) {
    const char *arch = NULL, *epochs = "10", *out = NULL, *batch = "128", *lr = "0.1",
               *wd = "5e-4", *seed = "0", *threads = NULL, *optimizer = "sgd", *schedule = "onecycle",
               *data = NULL, *no_aug = NULL, *quiet_val = NULL, *steps = "0", *run_dir = NULL,
               *ckpt_steps = "100";
    bq_cli_opt opts[] = {
        {"arch", 1, &arch, "architecture: fres20 | mbv2t"},
        {"epochs", 1, &epochs, "training epochs (default 10)"},
        {"out", 1, &out, "output model file (.bqm)"},
        {"batch", 1, &batch, "batch size (default 128)"},
        {"lr", 1, &lr, "peak learning rate (default 0.1)"},
        {"wd", 1, &wd, "weight decay (default 5e-4)"},
        {"seed", 1, &seed, "seed for init, shuffling, augmentation (default 0)"},
        {"threads", 1, &threads, "OpenBLAS threads (default 1; the engine's own kernels use $BQ_NUM_THREADS or every core)"},
        {"optimizer", 1, &optimizer, "sgd (Nesterov momentum 0.9) | adam"},
        {"schedule", 1, &schedule, "onecycle | cosine"},
        {"data", 1, &data, BQ_CLI_DATA_HELP " (default /usr/share/datasets/fashion-mnist)"},
        {"no-augment", 0, &no_aug, "disable random crop + flip"},
        {"no-val", 0, &quiet_val, "skip the per-epoch test-set report"},
        {"steps", 1, &steps, "stop after this many steps (smoke tests; default 0 = all)"},
        {"run-dir", 1, &run_dir, "checkpoints, kept after success (default: OUT.run, removed "
                                 "after success); a rerun resumes a killed run"},
        {"checkpoint-steps", 1, &ckpt_steps, "checkpoint every N steps and every epoch "
                                             "(default 100; 0 = every epoch only)"},
    };
    int rc = bq_cli_parse(argc, argv, opts, (int)(sizeof(opts) / sizeof(opts[0])),
                          "usage: brecq train --arch A --epochs E --out FILE [options]");
    if (rc) return rc == 1 ? 0 : 2;
    if (!arch || !out) { bq_cli_error("train", "--arch and --out are required; see --help"); return 2; }
    if (bq_cli_check_outputs("train", opts, (int)(sizeof(opts) / sizeof(opts[0])), "out", NULL)) return 2;
    long ep, bs, sd, st, cks;
    double lrv, wdv;
    if (bq_cli_int("train", "epochs", epochs, 1, 1000, &ep) ||
        bq_cli_int("train", "batch", batch, 1, 8192, &bs) ||
        bq_cli_int("train", "seed", seed, 0, 0x7fffffffL, &sd) ||
        bq_cli_int("train", "steps", steps, 0, 1L << 40, &st) ||
        bq_cli_int("train", "checkpoint-steps", ckpt_steps, 0, 1L << 30, &cks) ||
        bq_cli_float("train", "lr", lr, 1e-8, 10, &lrv) ||
        bq_cli_float("train", "wd", wd, 0, 1, &wdv) || bq_cli_threads("train", threads))
        return 2;
    if (strcmp(optimizer, "sgd") && strcmp(optimizer, "adam")) {
        bq_cli_error("train", "--optimizer '%s' is not sgd or adam", optimizer);
        return 2;
    }
    if (strcmp(schedule, "onecycle") && strcmp(schedule, "cosine")) {
        bq_cli_error("train", "--schedule '%s' is not onecycle or cosine", schedule);
        return 2;
    }
    bq_model m;
    int built = bq_arch_build(&m, arch, (uint64_t)sd);
    if (built == -2) { bq_cli_error("train", "out of memory building %s", arch); return 1; }
    if (built) {
        bq_cli_error("train", "unknown architecture '%s'; choose one of: %s", arch, bq_arch_list());
        return 2;
    }
    char err[512];
    bq_dataset tr, te;
    if (bq_cli_data_load("train", data, "train", &m, 1, &tr)) { bq_model_free(&m); return 1; }
    if (bq_cli_data_load("train", data, "test", &m, 1, &te)) {
        bq_dataset_free(&tr);
        bq_model_free(&m);
        return 1;
    }
    bq_train_opts o;
    bq_train_opts_default(&o);
    o.epochs = (int)ep; o.batch = (int)bs; o.lr = (float)lrv; o.weight_decay = (float)wdv;
    o.seed = (uint64_t)sd; o.optimizer = strcmp(optimizer, "adam") == 0;
    o.schedule = strcmp(schedule, "onecycle") == 0; o.augment = !no_aug;
    o.val = quiet_val ? NULL : &te;
    o.max_steps = st;
    /* the run key: everything the trained bytes depend on (not --threads, --no-val, the interval) */
    const char *key_opts[] = {arch, epochs, batch, lr, wd, seed, optimizer, schedule,
                              no_aug ? "no-augment" : "augment", steps};
    uint64_t key = bq_cli_run_key_data(bq_cli_run_key("train"), &tr);
    key = bq_cli_run_key_opts(key, key_opts, (int)(sizeof key_opts / sizeof key_opts[0]));
    bq_run_dir run;
    if (bq_cli_run_open("train", run_dir, out, key, &run)) {
        bq_dataset_free(&tr); bq_dataset_free(&te);
        bq_model_free(&m);
        return 1;
    }
    o.ckpt_dir = run.dir;
    o.ckpt_key = key;
    o.ckpt_steps = (int)cks;
    fprintf(stderr, "[train] %s: %zu parameters, %d epochs, batch %ld, lr %g\n", arch,
            bq_model_num_params(&m), o.epochs, bs, lrv);
    rc = bq_train(&m, &tr, &o, err, sizeof(err));
    int reported = 0;
    if (rc == 0 && !quiet_val) {
        /* the top-1 line is part of the result: out of memory fails the command (nothing
         * written; the run folder stays and a rerun resumes from its last checkpoint) */
        double acc = bq_evaluate(&m, &te, 256, NULL);
        if (acc < 0.0) {
            bq_cli_error("train", "out of memory evaluating the %d test images; free memory and "
                         "rerun (it resumes from %s) or pass --no-val", te.n, run.dir);
            rc = -1;
            reported = 1;
        } else {
            printf("%s: top-1 %.4f on %d test images\n", arch, acc, te.n);
        }
    }
    if (rc == 0) rc = bq_model_save(&m, out, err, sizeof(err));
    if (rc && !reported) bq_cli_error("train", "%s", err);
    bq_run_close(&run, rc == 0);
    bq_dataset_free(&tr); bq_dataset_free(&te);
    bq_model_free(&m);
    return rc ? 1 : 0;
}
