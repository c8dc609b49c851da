/*
 * hwgen — turn an accelerator config into the headers the RTL and the driver are built with.
 *
 *   build/hwgen configs/hw/tiny.yaml --svh build/gen/tiny/hw_params.svh --h build/gen/tiny/hw_params.h
 *
 * The SystemVerilog header holds `define BQ_HW_* values (the RTL top maps them onto its typed
 * parameters); the C header holds the same values plus the configuration hash, which the driver
 * compares with the read-only configuration registers of the RTL (register map: hw_regs.h,
 * docs/hw_isa.md). Outputs are written to a temporary file and renamed. Exit status 0 on success,
 * 1 on a config error (one line on stderr), 2 on a usage error.
 *
 *   build/hwgen --pkg build/gen/bqa_pkg.sv [--isa-probe build/gen/bqa_isa_probe.sv]
 *
 * writes the configuration-independent SystemVerilog package bqa_pkg (instruction layout of
 * docs/hw_isa.md section 3 as packed structs and enums) from the C field table bq_isa_fields
 * (hw_model/isa.c), the one the C encoder/decoder uses; --isa-probe writes the test module of
 * tests/hw/test_isa.cpp, which checks the package against the table through Verilator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwcfg.h"
#include "isa.h"

typedef struct {
    const char *name;   /* suffix after BQ_HW_ */
    long long value;
    const char *what;
} param;

static int collect(const bq_hwcfg *c, param *p) {
    int n = 0;
#define P(nm, v, w) p[n++] = (param){nm, (long long)(v), w}
    P("DM", c->dm, "rows of dot-product units (output channels per tile)");
    P("DN", c->dn, "columns of dot-product units (output pixels per tile)");
    P("DK", c->dk, "bits of one bit-plane per DPU per cycle");
    P("ACC_BITS", c->acc_bits, "accumulator width");
    P("RES_LANES", c->res_lanes, "output-stage lanes (elements requantised in parallel)");
    P("WEIGHT_DEPTH", c->weight_depth, "Dk-bit words per weight bank");
    P("ACT_DEPTH", c->act_depth, "Dk-bit words per activation bank");
    P("REGIONS", c->regions, "regions per weight/activation buffer");
    P("REQUANT_DEPTH", c->requant_depth, "entries of the requant-parameter RAM");
    P("WINDOW_BYTES", c->window_bytes, "fetch window buffer bytes (0: v1 only, no window unit)");
    P("BLOCK_CHANNELS", c->block_channels, "result block-buffer bytes per pixel (0: no CODES mode)");
    P("MEM_WIDTH_BITS", c->mem_width_bits, "memory port data width");
    P("READ_BYTES_PER_CYCLE", c->read_bytes_per_cycle, "read bandwidth");
    P("WRITE_BYTES_PER_CYCLE", c->write_bytes_per_cycle, "write bandwidth");
    P("READ_LATENCY", c->read_latency, "read latency, cycles");
    P("WRITE_LATENCY", c->write_latency, "write latency, cycles");
    P("MEM_INTERFACE", c->mem_interface, "memory port: 0 native (bqa_top), 1 axi (bqa_axi_top)");
    P("AXI_ADDR_BITS", c->axi_addr_bits, "AXI address width");
    P("AXI_ID_BITS", c->axi_id_bits, "AXI ID width");
    P("AXI_MAX_BURST", c->axi_max_burst, "beats per AXI burst");
    P("AXI_BASE", c->axi_base, "reset value of the BASE register");
    P("AXI_READ_CYCLES", BQ_AXI_READ_CYCLES, "read cycles the AXI shell adds (latency model)");
    P("AXI_WRITE_CYCLES", BQ_AXI_WRITE_CYCLES, "write cycles the AXI shell adds (latency model)");
    P("CLOCK_KHZ", (long long)(c->clock_mhz * 1000.0 + 0.5), "clock, kHz (rounded)");
#undef P
    return n;
}

static int write_atomic(const char *path, const char *text) {
    size_t l = strlen(path) + 8;
    char *tmp = malloc(l);
    if (!tmp) return -1;
    snprintf(tmp, l, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "hwgen: cannot write %s\n", tmp);
        free(tmp);
        return -1;
    }
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "hwgen: cannot write %s\n", path);
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* Append formatted text to a growing buffer (fixed 64 KiB is plenty for these headers). */
#define OUTCAP 65536
static char out[OUTCAP];
static size_t outlen;
#define EMIT(...)                                                                         \
    do {                                                                                  \
        int w_ = snprintf(out + outlen, OUTCAP - outlen, __VA_ARGS__);                    \
        if (w_ > 0) outlen += (size_t)w_ < OUTCAP - outlen ? (size_t)w_ : OUTCAP - outlen - 1; \
    } while (0)


/* ---- the ISA package (bqa_pkg) and its probe, from bq_isa_fields ---- */

/* SV member name of a field */
static const char *sv_name(const bq_isa_field *f) {
    static char b[64];
    snprintf(b, sizeof b, "%s%s", f->name, f->flags & BQ_ISA_M1 ? "_m1" : "");
    return b;
}
static const char *enum_type(int id) {
    for (const bq_isa_enumval *e = bq_isa_enumvals; e->sv_type; e++)
        if (e->enum_id == id) return e->sv_type;
    return NULL;
}
/* does field f belong to struct kind k (the head fields belong to every kind) */
static int in_kind(const bq_isa_field *f, int k) {
    if (k < 0) return f->stage == BQ_ISA_COMMON;
    return f->stage == bq_isa_kinds[k].stage && f->variant == bq_isa_kinds[k].variant;
}
/* probe variable of kind k: the type name without "_t" */
static const char *kind_var(int k) {
    static char b[64];
    snprintf(b, sizeof b, "%.*s", (int)strlen(bq_isa_kinds[k].sv_type) - 2, bq_isa_kinds[k].sv_type);
    return b;
}
/* the kind a stage's field belongs to (bq_isa_check guarantees one) */
static int kind_of(const bq_isa_field *f) {
    for (int k = 0; k < bq_isa_nkinds; k++)
        if (in_kind(f, k)) return k;
    return 0;
}

/* one packed struct: the fields of kind k (-1: the head) from bit `top`-1 down to `bot`, gaps as
 * rsv_<hi>_<lo>, and for the instruction kinds the common head in bits 15:0 */
static void emit_struct(int k, int top, int bot, const char *type, const char *what) {
    EMIT("\n  // %s\n  typedef struct packed {\n", what);
    int b = top;
    while (b > bot) {
        const bq_isa_field *hit = NULL;
        for (int i = 0; i < bq_isa_nfields; i++) {
            const bq_isa_field *f = &bq_isa_fields[i];
            if (in_kind(f, k) && f->lsb + f->width == b) hit = f;
        }
        char ty[32], rng[24];
        if (hit) {
            const char *et = hit->enum_id ? enum_type(hit->enum_id) : NULL;
            if (et) snprintf(ty, sizeof ty, "%s", et);
            else if (hit->width == 1) snprintf(ty, sizeof ty, "logic");
            else snprintf(ty, sizeof ty, "logic [%d:0]", hit->width - 1);
            if (hit->width == 1) snprintf(rng, sizeof rng, "[%d]", hit->lsb);
            else snprintf(rng, sizeof rng, "[%d:%d]", hit->lsb + hit->width - 1, hit->lsb);
            char cmt[96] = "";
            if (hit->flags & BQ_ISA_M1) snprintf(cmt, sizeof cmt, ", %s - 1", hit->name);
            else if (hit->flags & BQ_ISA_NZ) snprintf(cmt, sizeof cmt, ", >= 1");
            char mem[72];
            snprintf(mem, sizeof mem, "%s;", sv_name(hit));
            EMIT("    %-13s %-14s // %s%s\n", ty, mem, rng, cmt);
            b = hit->lsb;
            continue;
        }
        /* a gap down to the next field's msb (or bot) */
        int lo = bot;
        for (int i = 0; i < bq_isa_nfields; i++) {
            const bq_isa_field *f = &bq_isa_fields[i];
            if (in_kind(f, k) && f->lsb + f->width < b && f->lsb + f->width > lo) lo = f->lsb + f->width;
        }
        char nm[32];
        if (b - lo == 1) snprintf(nm, sizeof nm, "rsv_%d;", lo);
        else snprintf(nm, sizeof nm, "rsv_%d_%d;", b - 1, lo);
        if (b - lo == 1) snprintf(ty, sizeof ty, "logic");
        else snprintf(ty, sizeof ty, "logic [%d:0]", b - lo - 1);
        if (b - lo == 1) snprintf(rng, sizeof rng, "[%d]", lo);
        else snprintf(rng, sizeof rng, "[%d:%d]", b - 1, lo);
        EMIT("    %-13s %-14s // %s, reserved (0)\n", ty, nm, rng);
        b = lo;
    }
    if (k >= 0) EMIT("    %-13s %-14s // [%d:0]\n", "head_t", "head;", BQ_ISA_HEAD_BITS - 1);
    EMIT("  } %s;\n", type);
}

static void emit_pkg(void) {
    EMIT("// Generated by hwgen from bq_isa_fields (hw_model/isa.c) -- do not edit.\n"
         "// The instruction layout of docs/hw_isa.md section 3 (ISA version %d): one packed struct per\n"
         "// queue and field variant (v1: fetch_instr_t, exec_instr_t, result_instr_t; v2, executed by a\n"
         "// build with WindowBytes > 0, §3.5: fetch_win_t, fetch_setup_t, result_codes_t, result_setup_t;\n"
         "// bits 15:0 = head_t,\n"
         "// common to all), members named as the bq_instr fields (\"_m1\": value - 1), reserved bits\n"
         "// rsv_<msb>_<lsb> / rsv_<bit>.\n"
         "// The C encoder/decoder walks the same table; make test-hw's test_isa checks both agree.\n"
         "// Used as bqa_pkg::<name> (yosys 0.23 does not parse `import` in a module; docs/hw_rtl.md).\n",
         BQ_ISA_VERSION);
    EMIT("/* verilator lint_off UNUSEDPARAM */\npackage bqa_pkg;\n\n");
    EMIT("  localparam int unsigned IsaVersion = %d;\n", BQ_ISA_VERSION);
    EMIT("  localparam int unsigned InstrBits  = %d;  // one instruction, one queue entry\n", BQ_ISA_BITS);
    EMIT("  localparam int unsigned HeadBits   = %d;   // common part (op, wait*, sig*)\n", BQ_ISA_HEAD_BITS);
    for (const bq_isa_enumval *e = bq_isa_enumvals; e->sv_type; e++) {
        if (e == bq_isa_enumvals || strcmp(e[-1].sv_type, e->sv_type))
            EMIT("\n  typedef enum logic [%d:0] {\n", e->width - 1);
        int last = !e[1].sv_type || strcmp(e[1].sv_type, e->sv_type);
        EMIT("    %s = %d'd%d%s\n", e->sv_name, e->width, e->value, last ? "" : ",");
        if (last) EMIT("  } %s;\n", e->sv_type);
    }
    emit_struct(-1, BQ_ISA_HEAD_BITS, 0, "head_t", "bits 15:0 of every instruction (§3)");
    for (int k = 0; k < bq_isa_nkinds; k++)
        emit_struct(k, BQ_ISA_BITS, BQ_ISA_HEAD_BITS, bq_isa_kinds[k].sv_type, bq_isa_kinds[k].what);
    EMIT("\nendpackage\n/* verilator lint_on UNUSEDPARAM */\n");
}

/* bqa_isa_probe: field f of word_i through the package's structs (common fields through the struct
 * of kind_i), and word_o = the struct of kind_i built from field_i (other members 0). kind_i is an
 * index into bq_isa_kinds. */
static void emit_probe(void) {
    int nf = bq_isa_nfields, nk = bq_isa_nkinds;
    EMIT("// Generated by hwgen from bq_isa_fields (hw_model/isa.c) -- do not edit. Test module of\n"
         "// tests/hw/test_isa.cpp: reads and writes every field of bq_isa_fields by its bqa_pkg member.\n");
    EMIT("/* verilator lint_off UNUSEDSIGNAL */\n");
    EMIT("module bqa_isa_probe (\n"
         "  input  logic [2:0]   kind_i,          // index into bq_isa_kinds (one struct each)\n"
         "  input  logic [127:0] word_i,\n"
         "  output logic [31:0]  field_o [%d],   // index = bq_isa_fields index\n"
         "  input  logic [31:0]  field_i [%d],\n"
         "  output logic [127:0] word_o\n);\n", nf, nf);
    for (int k = 0; k < nk; k++) {
        EMIT("  bqa_pkg::%s %s_r, ", bq_isa_kinds[k].sv_type, kind_var(k));
        EMIT("%s_w;\n", kind_var(k));
    }
    EMIT("  bqa_pkg::head_t h_r, h_w;\n");
    for (int k = 0; k < nk; k++) EMIT("  assign %s_r = word_i;\n", kind_var(k));
    EMIT("  always_comb begin\n    unique case (kind_i)\n");
    for (int k = 0; k < nk; k++) EMIT("      3'd%d:    h_r = %s_r.head;\n", k, kind_var(k));
    EMIT("      default: h_r = '0;\n    endcase\n  end\n");
    for (int i = 0; i < nf; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        char src[96];
        if (f->stage == BQ_ISA_COMMON) snprintf(src, sizeof src, "h_r.%s", sv_name(f));
        else {
            snprintf(src, sizeof src, "%s_r.", kind_var(kind_of(f)));
            snprintf(src + strlen(src), sizeof src - strlen(src), "%s", sv_name(f));
        }
        if (f->width == 32) EMIT("  assign field_o[%d] = %s;\n", i, src);
        else EMIT("  assign field_o[%d] = {%d'd0, %s};\n", i, 32 - f->width, src);
    }
    EMIT("  always_comb begin\n    h_w = '0;\n");
    for (int k = 0; k < nk; k++) EMIT("    %s_w = '0;\n", kind_var(k));
    for (int i = 0; i < nf; i++) {
        const bq_isa_field *f = &bq_isa_fields[i];
        char dst[96], val[64];
        if (f->stage == BQ_ISA_COMMON) snprintf(dst, sizeof dst, "h_w.%s", sv_name(f));
        else {
            snprintf(dst, sizeof dst, "%s_w.", kind_var(kind_of(f)));
            snprintf(dst + strlen(dst), sizeof dst - strlen(dst), "%s", sv_name(f));
        }
        if (f->width == 1) snprintf(val, sizeof val, "field_i[%d][0]", i);
        else snprintf(val, sizeof val, "field_i[%d][%d:0]", i, f->width - 1);
        if (f->enum_id) EMIT("    %s = bqa_pkg::%s'(%s);\n", dst, enum_type(f->enum_id), val);
        else EMIT("    %s = %s;\n", dst, val);
    }
    for (int k = 0; k < nk; k++) EMIT("    %s_w.head = h_w;\n", kind_var(k));
    EMIT("    unique case (kind_i)\n");
    for (int k = 0; k < nk; k++) EMIT("      3'd%d:    word_o = %s_w;\n", k, kind_var(k));
    EMIT("      default: word_o = '0;\n    endcase\n  end\nendmodule\n"
         "/* verilator lint_on UNUSEDSIGNAL */\n");
}

int main(int argc, char **argv) {
    const char *cfgpath = NULL, *svh = NULL, *hh = NULL, *pkg = NULL, *probe = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--svh") && i + 1 < argc) svh = argv[++i];
        else if (!strcmp(argv[i], "--h") && i + 1 < argc) hh = argv[++i];
        else if (!strcmp(argv[i], "--pkg") && i + 1 < argc) pkg = argv[++i];
        else if (!strcmp(argv[i], "--isa-probe") && i + 1 < argc) probe = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hwgen CONFIG.yaml [--svh OUT.svh] [--h OUT.h]\n"
                   "       hwgen --pkg OUT.sv [--isa-probe OUT.sv]\n"
                   "Validates an accelerator config (docs/hw_config.md) and writes the RTL\n"
                   "parameter header and the C header. With no output, prints the summary\n"
                   "(array as rows x cols x DPU width). --pkg writes the ISA package bqa_pkg\n"
                   "(no config needed), --isa-probe its test module.\n");
            return 0;
        } else if (argv[i][0] != '-' && !cfgpath) cfgpath = argv[i];
        else {
            fprintf(stderr, "hwgen: unknown argument '%s'; usage: hwgen CONFIG.yaml [--svh OUT]"
                    " [--h OUT]\n", argv[i]);
            return 2;
        }
    }
    if (pkg || probe) {
        char ierr[256];
        if (bq_isa_check(ierr, sizeof ierr) != 0 || bq_isa_nkinds > 8) {
            fprintf(stderr, "hwgen: %s\n", bq_isa_nkinds > 8 ? "more than 8 bq_isa_kinds (the probe's kind_i is 3 bits)" : ierr);
            return 1;
        }
        if (pkg) {
            outlen = 0;
            emit_pkg();
            if (write_atomic(pkg, out) != 0) return 1;
        }
        if (probe) {
            outlen = 0;
            emit_probe();
            if (write_atomic(probe, out) != 0) return 1;
        }
        if (!cfgpath) return 0;
    }
    if (!cfgpath) {
        fprintf(stderr, "hwgen: missing CONFIG.yaml; usage: hwgen CONFIG.yaml [--svh OUT] "
                "[--h OUT]\n");
        return 2;
    }
    bq_hwcfg c;
    char err[512];
    if (bq_hwcfg_load(&c, cfgpath, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    param p[32];
    int np = collect(&c, p);
    if (svh) {
        outlen = 0;
        EMIT("// Generated by hwgen from %s -- do not edit.\n", cfgpath);
        EMIT("// Accelerator '%s', config hash %016llx. Schema: docs/hw_config.md.\n", c.name,
             (unsigned long long)c.hash);
        EMIT("`ifndef BQ_HW_PARAMS_SVH\n`define BQ_HW_PARAMS_SVH\n");
        for (int i = 0; i < np; i++)
            EMIT("`define BQ_HW_%-22s %lld  // %s\n", p[i].name, p[i].value, p[i].what);
        EMIT("`define BQ_HW_%-22s 64'h%016llx  // bq_hwcfg_hash of the config\n", "CONFIG_HASH",
             (unsigned long long)c.hash);
        EMIT("`define BQ_HW_%-22s \"%s\"\n", "NAME", c.name);
        EMIT("`endif  // BQ_HW_PARAMS_SVH\n");
        if (write_atomic(svh, out) != 0) return 1;
    }
    if (hh) {
        outlen = 0;
        EMIT("/* Generated by hwgen from %s -- do not edit. Schema: docs/hw_config.md. */\n",
             cfgpath);
        EMIT("#ifndef BQ_HW_PARAMS_H\n#define BQ_HW_PARAMS_H\n");
        EMIT("#define BQ_HW_NAME \"%s\"\n", c.name);
        for (int i = 0; i < np; i++)
            EMIT("#define BQ_HW_%-22s %lld /* %s */\n", p[i].name, p[i].value, p[i].what);
        EMIT("#define BQ_HW_%-22s 0x%016llxULL /* bq_hwcfg_hash of the config */\n",
             "CONFIG_HASH", (unsigned long long)c.hash);
        EMIT("#define BQ_HW_%-22s %.17g /* clock, MHz */\n", "CLOCK_MHZ", c.clock_mhz);
        EMIT("\n/* Register map (read-only, 32-bit, byte addresses; docs/hw_isa.md section 5) */\n");
        static const struct { const char *n; int a; } regs[] = {
            {"ID", 0x00}, {"VERSION", 0x04}, {"DM", 0x08}, {"DN", 0x0C}, {"DK", 0x10},
            {"ACC_BITS", 0x14}, {"WEIGHT_DEPTH", 0x18}, {"ACT_DEPTH", 0x1C},
            {"REQUANT_DEPTH", 0x20}, {"MEM_WIDTH_BITS", 0x24}, {"IQ_DEPTH", 0x28},
            {"RES_LANES", 0x2C}, {"CONFIG_HASH_LO", 0x30}, {"CONFIG_HASH_HI", 0x34},
            {"STATUS", 0x38}, {"TOKENS2", 0x3C}, {"CYCLES", 0x40}, {"F_BUSY", 0x44},
            {"F_IDLE", 0x48}, {"F_STALL", 0x4C}, {"E_BUSY", 0x50}, {"E_IDLE", 0x54},
            {"E_STALL", 0x58}, {"R_BUSY", 0x5C}, {"R_IDLE", 0x60}, {"R_STALL", 0x64},
            {"E_BEATS", 0x68}, {"MEM_RD_BEATS", 0x6C}, {"MEM_WR_BEATS", 0x70},
        };
        for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
            EMIT("#define BQ_HW_REG_%-18s 0x%02X\n", regs[i].n, regs[i].a);
        EMIT("#define BQ_HW_ID_VALUE 0x42514131u /* \"BQA1\" */\n");
        EMIT("#define BQ_HW_ISA_VERSION %d\n", bq_hwcfg_isa_version(&c));
        /* expected values of the configuration registers, for the driver's check */
        EMIT("#define BQ_HW_CONFIG_HASH_LO 0x%08llXu\n#define BQ_HW_CONFIG_HASH_HI 0x%08llXu\n",
             (unsigned long long)(c.hash & 0xffffffffu), (unsigned long long)(c.hash >> 32));
        EMIT("#endif /* BQ_HW_PARAMS_H */\n");
        if (write_atomic(hh, out) != 0) return 1;
    }
    if (!svh && !hh)
        printf("%s: %s %dx%dx%d @ %g MHz, hash %016llx\n", cfgpath, c.name, c.dm, c.dn, c.dk,
               c.clock_mhz, (unsigned long long)c.hash);
    return 0;
}
