/*
 * hwcfg.h — the accelerator configuration (configs/hw/<name>.yaml): loader, validation, hash.
 *
 * One YAML file describes one accelerator build: array dimensions, buffer sizes, the memory port
 * and the clock. The same file feeds the RTL parameters (through `build/hwgen`), the scheduler,
 * the latency model and the search. The schema (every key, its type and its legal range) is one
 * table in hwcfg.c and is documented in docs/hw_config.md.
 *
 * Errors are one line, `file:line:col: 'array.dk' must be ...; how to fix`, lines and columns
 * 1-based, pointing at the offending value (or at the mapping that lacks a required key).
 *
 * Example:
 *   bq_hwcfg cfg; char err[256];
 *   if (bq_hwcfg_load(&cfg, "configs/hw/tiny.yaml", err, sizeof err)) { fprintf(stderr, "%s\n", err); ... }
 *   printf("%s: %dx%dx%d, hash %016llx\n", cfg.name, cfg.dm, cfg.dn, cfg.dk,
 *          (unsigned long long)cfg.hash);
 */
#ifndef BQ_HWCFG_H
#define BQ_HWCFG_H

#include <stddef.h>
#include <stdint.h>

#define BQ_HWCFG_NAME_MAX 32

/* A validated accelerator configuration. All sizes are in the units named by the field. */
typedef struct {
    char name[BQ_HWCFG_NAME_MAX];   /* [A-Za-z0-9_-], used in paths (build/gen/<name>/) */
    double clock_mhz;               /* clock of the whole accelerator, MHz (> 0) */
    /* array: Dm rows x Dn columns of dot-product units, each Dk bits of one bit-plane per cycle */
    int dm;                         /* output channels per tile */
    int dn;                         /* output pixels per tile */
    int dk;                         /* bits per bit-plane word = K elements per cycle (power of 2) */
    int acc_bits;                   /* accumulator width of a DPU (two's complement); RTL: 32 */
    int res_lanes;                  /* output-stage lanes L (optional key, default 1) */
    /* on-chip buffers */
    int weight_depth;               /* Dk-bit words per weight bank (one bank per row) */
    int act_depth;                  /* Dk-bit words per activation bank (one bank per column) */
    int regions;                    /* regions per weight/activation buffer (fetch/execute overlap) */
    int requant_depth;              /* channels held by the requant RAM (Dm banks) */
    int window_bytes;               /* ISA v2 window buffer bytes (optional key, 0 = no window
                                       unit: the accelerator runs v1 programs only) */
    int block_channels;             /* ISA v2 CODES block buffer row bytes (Cmax; optional, 0 =
                                       none; set together with window_bytes) */
    /* memory port */
    int mem_width_bits;             /* data width of the memory port, bits (power of 2) */
    int read_bytes_per_cycle;       /* sustained read bandwidth, bytes/cycle (<= width/8) */
    int write_bytes_per_cycle;      /* sustained write bandwidth, bytes/cycle (<= width/8) */
    int read_latency;               /* cycles from read request accepted to first data beat */
    int write_latency;              /* cycles from the last write beat to the write response */
    /* fpga (optional section): measurements, not design parameters, so not part of the hash */
    double ice40_fmax_mhz;          /* fpga.ice40_fmax_mhz: routed Fmax on the iCE40 HX8K (make
                                       fpga), MHz; 0 = not measured */
    char warning[256];              /* "" or one line the loaders found worth saying (clock_mhz
                                       above the measured Fmax); bq_hwcfg_load prints it */
    /* the memory port's shell (optional keys, docs/hw_config.md): the latencies above are then
     * those of the AXI slave (AR handshake to first R beat; last W beat to B) */
    int mem_interface;              /* BQ_MEM_NATIVE (bqa_top's port) or BQ_MEM_AXI (bqa_axi_top) */
    int axi_addr_bits;              /* AXI address width, 32..64 */
    int axi_id_bits;                /* AXI ID width (every request uses ID 0) */
    int axi_max_burst;              /* beats per AXI burst, power of two 1..256 (AXI3 ports: 16) */
    int axi_base;                   /* reset value of the BASE register (AXI address of address 0) */
    uint64_t hash;                  /* bq_hwcfg_hash() of the above, filled by the loaders */
} bq_hwcfg;

enum { BQ_MEM_NATIVE = 0, BQ_MEM_AXI = 1 };

/* Cycles the AXI shell adds to a transaction as bqa_top's port sees it (docs/hw_rtl.md "AXI
 * shell"): the AR request is registered (+1 before the first read beat); W beats and the last B
 * response pass through combinationally (+0). */
#define BQ_AXI_READ_CYCLES 1
#define BQ_AXI_WRITE_CYCLES 0

/* Read / write latency as bqa_top's memory port sees it: the config's latency plus the shell's
 * cycles when memory.interface is axi. What the latency model and the RTL's counters use. */
int bq_hwcfg_port_read_latency(const bq_hwcfg *cfg);
int bq_hwcfg_port_write_latency(const bq_hwcfg *cfg);

/* Load and validate `path`. Returns 0 and fills *cfg (including cfg->hash), or -1 with a one-line
 * message in err (`path:line:col: ...`). err may be NULL. The file is read completely and closed.
 * A clock_mhz above a measured fpga.ice40_fmax_mhz is not an error: cfg->warning says so and this
 * function prints it to stderr as `warning: ...` (bq_hwcfg_parse only fills cfg->warning). */
int bq_hwcfg_load(bq_hwcfg *cfg, const char *path, char *err, size_t errlen);

/* Same as bq_hwcfg_load on an in-memory YAML text of len bytes; `fname` only names the source in
 * error messages. */
int bq_hwcfg_parse(bq_hwcfg *cfg, const char *text, size_t len, const char *fname, char *err,
                   size_t errlen);

/* Check the cross-field rules on an already filled struct (what the loaders do after parsing;
 * useful for configs built in code). Returns 0, or -1 with `what` in err (no file position). */
int bq_hwcfg_validate(const bq_hwcfg *cfg, char *err, size_t errlen);

/* Stable 64-bit identity of the hardware described by cfg: FNV-1a 64 over the canonical text
 * "key=value;" of every schema key except `name` and the fpga.* measurements, in schema order (integers
 * in decimal, the clock with %.17g); the memory.interface and memory.axi_* keys only when they differ
 * from their defaults, so every config written before they existed keeps its hash. Independent of key
 * order, comments and formatting in the YAML, of the platform, and
 * of the name (two files describing the same hardware share caches). */
uint64_t bq_hwcfg_hash(const bq_hwcfg *cfg);

/* What the accelerator's VERSION register reads on this build: 2 with the ISA v2 units
 * (buffers.window_bytes / block_channels > 0, docs/whole_network.md), else 1. */
int bq_hwcfg_isa_version(const bq_hwcfg *cfg);

/* Write the canonical text that bq_hwcfg_hash hashes ("array.dm=4;array.dn=4;..." without the
 * name) to buf; returns the length it needed (snprintf semantics; buf may be NULL). */
int bq_hwcfg_canonical(const bq_hwcfg *cfg, char *buf, size_t buflen);

/* The config as a configs/hw YAML file that bq_hwcfg_parse reads back to an equal config (every
 * key written, doubles with %.17g). Like snprintf: the length needed, buf filled up to buflen - 1.
 * Used where a config exists only in memory (a DSE grid point) and a tool needs it as a file. */
int bq_hwcfg_yaml(const bq_hwcfg *cfg, char *buf, size_t buflen);

/* Peak binary operations per cycle of the array: 2 * Dm * Dn * Dk (AND + add per bit). */
double bq_hwcfg_peak_binops(const bq_hwcfg *cfg);

#endif
