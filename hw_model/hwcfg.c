/*
 * hwcfg.c — the accelerator configuration's schema and rules. See hwcfg.h.
 *
 * Every key is one row of kSchema (sections array, buffers, memory hold their own tables): type,
 * legal range, flags and the field it fills. The shared schema loader (sw/core/yamldoc.h) checks
 * type, range, unknown, duplicate and missing keys at their positions; then the cross-field rules
 * (bq_hwcfg_validate's rules) are reported at the position of the key involved.
 */
#include "core/yamldoc.h"
#include "core/errmsg.h"
#include "hwcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Required integer / double keys with their range, the field and its meaning. */
#define INT(k, lo, hi, fl, field, w) \
    {k, BQ_Y_INT, BQ_Y_REQUIRED | (fl), lo, hi, offsetof(bq_hwcfg, field), .what = w}
static const bq_ykey kArray[] = {
    INT("dm", 1, 128, 0, dm, "rows of dot-product units (output channels per tile)"),
    INT("dn", 1, 128, 0, dn, "columns of dot-product units (output pixels per tile)"),
    INT("dk", 8, 4096, BQ_Y_POW2, dk, "bits of one bit-plane per DPU per cycle"),
    INT("acc_bits", 32, 32, 0, acc_bits, "accumulator width in bits; the RTL implements 32"),
    {"res_lanes", BQ_Y_INT, 0, 1, 65536, offsetof(bq_hwcfg, res_lanes), .def = 1,
     .what = "output-stage lanes (elements requantised in parallel)"},
};
static const bq_ykey kBuffers[] = {
    INT("weight_depth", 2, 65536, BQ_Y_POW2, weight_depth, "Dk-bit words per weight bank"),
    INT("act_depth", 2, 65536, BQ_Y_POW2, act_depth, "Dk-bit words per activation bank"),
    INT("regions", 1, 16, BQ_Y_POW2, regions, "regions per weight/activation buffer"),
    INT("requant_depth", 1, 65536, 0, requant_depth, "channels held by the requant RAM"),
    /* optional, ISA v2 (docs/whole_network.md §4.2, §4.4); 0 = not built (a v1-only accelerator);
     * left out of the hash at their defaults */
    {"window_bytes", BQ_Y_INT, 0, 0, 1 << 24, offsetof(bq_hwcfg, window_bytes), .def = 0,
     .what = "window buffer bytes of the fetch stage's window unit (0: no window unit)"},
    {"block_channels", BQ_Y_INT, 0, 0, 4096, offsetof(bq_hwcfg, block_channels), .def = 0,
     .what = "bytes per pixel row of the CODES block buffers (0: no CODES mode)"},
};
static const char *const kInterfaces[] = {"native", "axi", NULL};   /* BQ_MEM_* order */
static const bq_ykey kMemory[] = {
    INT("width_bits", 32, 128, BQ_Y_POW2, mem_width_bits, "memory port data width: 32, 64 or 128"),
    INT("read_bytes_per_cycle", 1, 128, 0, read_bytes_per_cycle, "read bandwidth in bytes/cycle"),
    INT("write_bytes_per_cycle", 1, 128, 0, write_bytes_per_cycle,
        "write bandwidth in bytes/cycle"),
    INT("read_latency", 1, 100000, 0, read_latency, "cycles from read request to first data beat"),
    INT("write_latency", 1, 100000, 0, write_latency,
        "cycles from the last write beat to the response"),
    /* optional: the AXI shell (hw/bqa_axi_top.sv); left out of the hash at their defaults */
    {"interface", BQ_Y_ENUM, 0, 0, 0, offsetof(bq_hwcfg, mem_interface), .names = kInterfaces,
     .def = BQ_MEM_NATIVE, .what = "memory port: native (bqa_top) or axi (bqa_axi_top)"},
    {"axi_addr_bits", BQ_Y_INT, 0, 32, 64, offsetof(bq_hwcfg, axi_addr_bits), .def = 32,
     .what = "AXI address width"},
    {"axi_id_bits", BQ_Y_INT, 0, 1, 16, offsetof(bq_hwcfg, axi_id_bits), .def = 1,
     .what = "AXI ID width"},
    {"axi_max_burst", BQ_Y_INT, BQ_Y_POW2, 1, 256, offsetof(bq_hwcfg, axi_max_burst), .def = 256,
     .what = "beats per AXI burst (AXI4: 256, AXI3 ports: 16)"},
    {"axi_base", BQ_Y_INT, 0, 0, 2147483647, offsetof(bq_hwcfg, axi_base), .def = 0,
     .what = "reset value of the BASE register; higher bases are set by the driver"},
};
/* keys added after configs were hashed: omitted from the canonical text at their defaults */
static const size_t kLateKeys[] = {offsetof(bq_hwcfg, mem_interface),
                                   offsetof(bq_hwcfg, axi_addr_bits),
                                   offsetof(bq_hwcfg, axi_id_bits),
                                   offsetof(bq_hwcfg, axi_max_burst),
                                   offsetof(bq_hwcfg, axi_base),
                                   offsetof(bq_hwcfg, window_bytes),
                                   offsetof(bq_hwcfg, block_channels)};
#undef INT
/* Measurements of this config on an FPGA (docs/hw_config.md "fpga"): optional, not in the hash. */
static const bq_ykey kFpga[] = {
    {"ice40_fmax_mhz", BQ_Y_DOUBLE, 0, 0, 5000, offsetof(bq_hwcfg, ice40_fmax_mhz), .def = 0,
     .what = "routed Fmax on the iCE40 HX8K measured by make fpga, MHz (0: not measured)"},
};
#define SECTION(k, t, w) {k, BQ_Y_SECTION, BQ_Y_REQUIRED, 0, 0, 0, .sub = t, \
                          .nsub = (int)(sizeof t / sizeof t[0]), .what = w}
static const bq_ykey kSchema[] = {
    {"name", BQ_Y_STR, BQ_Y_REQUIRED | BQ_Y_WORD, 1, BQ_HWCFG_NAME_MAX - 1,
     offsetof(bq_hwcfg, name), .size = BQ_HWCFG_NAME_MAX,
     .what = "configuration name [A-Za-z0-9_-]"},
    {"clock_mhz", BQ_Y_DOUBLE, BQ_Y_REQUIRED, 0.001, 5000, offsetof(bq_hwcfg, clock_mhz),
     .what = "clock frequency in MHz"},
    SECTION("array", kArray, "the dot-product array"),
    SECTION("buffers", kBuffers, "on-chip buffers"),
    SECTION("memory", kMemory, "the memory port"),
    {"fpga", BQ_Y_SECTION, 0, 0, 0, 0, .sub = kFpga, .nsub = 1,
     .what = "measurements of this config on an FPGA"},
};
#undef SECTION
enum { NROWS = (int)(sizeof kSchema / sizeof kSchema[0]) };

static int is_pow2(long long v) { return v > 0 && (v & (v - 1)) == 0; }

/* Cross-field rules. `marks` may be NULL (no positions). Returns 0 or -1 with err filled. */
static int check_rules(const bq_hwcfg *c, const char *fname, const bq_ymarks *marks, char *err,
                       size_t errlen) {
    char pos[300] = "";
#define AT(key)                                                                               \
    do {                                                                                      \
        const bq_ymark *m_ = bq_ymarks_find(marks, key);                                      \
        if (m_)                                                                               \
            snprintf(pos, sizeof pos, "%s:%d:%d: ", fname, (int)m_->value_mark.line + 1,      \
                     (int)m_->value_mark.column + 1);                                         \
        else if (marks) /* an optional key left at its default */                             \
            snprintf(pos, sizeof pos, "%s:1:1: ", fname);                                     \
    } while (0)
    if (c->read_bytes_per_cycle * 8 > c->mem_width_bits) {
        AT("memory.read_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.read_bytes_per_cycle' must not exceed memory.width_bits/8 "
               "= %d (one beat per cycle at most), got %d", pos, c->mem_width_bits / 8,
               c->read_bytes_per_cycle);
        return -1;
    }
    if (c->write_bytes_per_cycle * 8 > c->mem_width_bits) {
        AT("memory.write_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.write_bytes_per_cycle' must not exceed memory.width_bits/8"
               " = %d (one beat per cycle at most), got %d", pos, c->mem_width_bits / 8,
               c->write_bytes_per_cycle);
        return -1;
    }
    if ((c->mem_width_bits / 8) % c->read_bytes_per_cycle != 0) {
        AT("memory.read_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.read_bytes_per_cycle' must divide memory.width_bits/8 = %d"
               " (a beat every whole number of cycles), got %d", pos, c->mem_width_bits / 8,
               c->read_bytes_per_cycle);
        return -1;
    }
    if ((c->mem_width_bits / 8) % c->write_bytes_per_cycle != 0) {
        AT("memory.write_bytes_per_cycle");
        bq_seterr(err, errlen, "%s'memory.write_bytes_per_cycle' must divide memory.width_bits/8 = "
               "%d (a beat every whole number of cycles), got %d", pos, c->mem_width_bits / 8,
               c->write_bytes_per_cycle);
        return -1;
    }
    if (c->axi_base % (c->mem_width_bits / 8) != 0) {
        AT("memory.axi_base");
        bq_seterr(err, errlen, "%s'memory.axi_base' (%d) must be a multiple of memory.width_bits/8 "
               "= %d (bursts start on a beat)", pos, c->axi_base, c->mem_width_bits / 8);
        return -1;
    }
    if (c->window_bytes % (c->mem_width_bits / 8) || c->block_channels % (c->mem_width_bits / 8)) {
        AT(c->window_bytes % (c->mem_width_bits / 8) ? "buffers.window_bytes" : "buffers.block_channels");
        bq_seterr(err, errlen, "%s'buffers.window_bytes' (%d) and 'buffers.block_channels' (%d) must be "
               "multiples of memory.width_bits/8 = %d (whole memory beats)", pos, c->window_bytes,
               c->block_channels, c->mem_width_bits / 8);
        return -1;
    }
    if ((c->window_bytes == 0) != (c->block_channels == 0)) {
        AT(c->window_bytes == 0 ? "buffers.block_channels" : "buffers.window_bytes");
        bq_seterr(err, errlen, "%s'buffers.window_bytes' (%d) and 'buffers.block_channels' (%d) come "
               "together (ISA v2 needs both the window unit and the CODES block buffers): set both or "
               "neither", pos, c->window_bytes, c->block_channels);
        return -1;
    }
    if (c->regions > c->weight_depth / 2 || c->regions > c->act_depth / 2) {
        AT("buffers.regions");
        bq_seterr(err, errlen, "%s'buffers.regions' must leave at least 2 words per region of "
               "weight_depth (%d) and act_depth (%d), got %d", pos, c->weight_depth,
               c->act_depth, c->regions);
        return -1;
    }
    {
        int wdk = c->mem_width_bits / c->dk;   /* words of Dk bits per memory beat (0 if Dk >= W) */
        if (c->dk < c->mem_width_bits && (c->dm % wdk || c->dn % wdk)) {
            AT("array.dk");
            bq_seterr(err, errlen, "%s'array.dk' (%d) is narrower than memory.width_bits (%d), so "
                   "array.dm (%d) and array.dn (%d) must be multiples of width/dk = %d; widen dk "
                   "or change dm/dn", pos, c->dk, c->mem_width_bits, c->dm, c->dn, wdk);
            return -1;
        }
    }
    if ((c->dm * c->dn * 32) % c->mem_width_bits != 0) {
        AT("array.dn");
        bq_seterr(err, errlen, "%sarray.dm*dn*32 (%d) must be a multiple of memory.width_bits (%d) "
               "so a RAW32 output tile is whole beats; change dm or dn", pos,
               c->dm * c->dn * 32, c->mem_width_bits);
        return -1;
    }
    if (c->dm % c->res_lanes != 0) {   /* the result stage drains whole rows (hw_isa §1) */
        AT("array.res_lanes");
        bq_seterr(err, errlen, "%s'array.res_lanes' (%d) must divide array.dm (%d)", pos,
               c->res_lanes, c->dm);
        return -1;
    }
    if (c->requant_depth % c->dm != 0) {
        AT("buffers.requant_depth");
        bq_seterr(err, errlen, "%s'buffers.requant_depth' (%d) must be a multiple of array.dm (%d): "
               "one requant bank per row", pos, c->requant_depth, c->dm);
        return -1;
    }
    if (c->requant_depth / c->dm < 2 || c->requant_depth / c->dm > 256) {
        AT("buffers.requant_depth");
        bq_seterr(err, errlen, "%s'buffers.requant_depth' (%d) must hold 2..256 entries per bank "
               "(array.dm = %d banks; the entry index is 8 bits): use %d..%d", pos,
               c->requant_depth, c->dm, 2 * c->dm, 256 * c->dm);
        return -1;
    }
#undef AT
    return 0;
}

/* One key's range check on a filled struct (bq_yschema_each callback). */
static int validate_key(void *ctx, const bq_ykey *k, const char *path) {
    struct { const bq_hwcfg *cfg; char *err; size_t errlen; } *v = ctx;
    const char *field = (const char *)v->cfg + k->off;
    switch (k->type) {
    case BQ_Y_INT: {
        int x = *(const int *)field;
        if (x < k->min || x > k->max || ((k->flags & BQ_Y_POW2) && !is_pow2(x))) {
            bq_seterr(v->err, v->errlen, "'%s' must be in [%.0f, %.0f]%s (%s), got %d", path,
                      k->min, k->max, k->flags & BQ_Y_POW2 ? " and a power of two" : "", k->what,
                      x);
            return -1;
        }
        return 0;
    }
    case BQ_Y_DOUBLE: {
        double x = *(const double *)field;
        if (!(x >= k->min && x <= k->max)) {
            bq_seterr(v->err, v->errlen, "'%s' must be in [%g, %g] (%s), got %g", path, k->min,
                      k->max, k->what, x);
            return -1;
        }
        return 0;
    }
    case BQ_Y_STR: {
        size_t l = strnlen(field, BQ_HWCFG_NAME_MAX);
        if (l < 1 || l >= BQ_HWCFG_NAME_MAX) {
            bq_seterr(v->err, v->errlen, "'%s' must be 1..%d characters", path,
                      BQ_HWCFG_NAME_MAX - 1);
            return -1;
        }
        return 0;
    }
    case BQ_Y_ENUM: {
        int x = *(const int *)field, n = 0;
        while (k->names[n]) n++;
        if (x < 0 || x >= n) {
            bq_seterr(v->err, v->errlen, "'%s' must be one of its %d names (%s), got %d", path, n,
                      k->what, x);
            return -1;
        }
        return 0;
    }
    case BQ_Y_U64: case BQ_Y_FLOAT: case BQ_Y_BOOL: case BQ_Y_INT_LIST:
    case BQ_Y_STR_LIST: case BQ_Y_SECTION: break;
    }
    bq_seterr(v->err, v->errlen, "'%s': internal error: the schema has a key of type %d", path,
              (int)k->type);
    return -1;
}

int bq_hwcfg_validate(const bq_hwcfg *cfg, char *err, size_t errlen) {
    struct { const bq_hwcfg *cfg; char *err; size_t errlen; } v = {cfg, err, errlen};
    if (bq_yschema_each(kSchema, NROWS, validate_key, &v)) return -1;
    return check_rules(cfg, "", NULL, err, errlen);
}

/* A clock above the measured Fmax is legal (the latency model just assumes it) but the RTL would
 * not close timing there: say so, at the clock's position. */
static void fmax_warning(bq_hwcfg *cfg, const char *fname, const bq_ymarks *marks) {
    if (cfg->ice40_fmax_mhz <= 0 || cfg->clock_mhz <= cfg->ice40_fmax_mhz) return;
    const bq_ymark *m = bq_ymarks_find(marks, "clock_mhz");
    snprintf(cfg->warning, sizeof cfg->warning, "%s:%d:%d: 'clock_mhz' %g MHz is above the "
             "measured iCE40 Fmax fpga.ice40_fmax_mhz = %g MHz (make fpga); latencies in us assume "
             "a clock this build does not reach: lower clock_mhz", fname,
             m ? (int)m->value_mark.line + 1 : 1, m ? (int)m->value_mark.column + 1 : 1,
             cfg->clock_mhz, cfg->ice40_fmax_mhz);
}

int bq_hwcfg_parse(bq_hwcfg *cfg, const char *text, size_t len, const char *fname, char *err,
                   size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    bq_yschema_defaults(kSchema, NROWS, cfg);   /* the optional keys' defaults */
    if (!fname) fname = "<config>";
    bq_ymarks *marks = calloc(1, sizeof *marks);
    if (!marks) {
        bq_seterr(err, errlen, "%s: out of memory", fname);
        return -1;
    }
    int rc = -1;
    if (bq_yschema_parse(kSchema, NROWS, text, len, fname, cfg, marks, err, errlen) == 0 &&
        check_rules(cfg, fname, marks, err, errlen) == 0) {
        fmax_warning(cfg, fname, marks);
        cfg->hash = bq_hwcfg_hash(cfg);
        rc = 0;
    }
    free(marks);
    return rc;
}

int bq_hwcfg_load(bq_hwcfg *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bq_seterr(err, errlen, "%s: cannot open accelerator config: %s; pass a file like "
               "configs/hw/tiny.yaml", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (1u << 24)) {
                bq_seterr(err, errlen, "%s: file too large for an accelerator config", path);
                goto cleanup;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                bq_seterr(err, errlen, "%s: out of memory", path);
                goto cleanup;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        bq_seterr(err, errlen, "%s: read error", path);
        goto cleanup;
    }
    rc = bq_hwcfg_parse(cfg, buf, len, path, err, errlen);
    if (rc == 0 && cfg->warning[0]) fprintf(stderr, "warning: %s\n", cfg->warning);
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

typedef struct {
    const bq_hwcfg *cfg;
    char *buf;
    size_t buflen, used;
    int need;
} canon_t;

static int canon_key(void *ctx, const bq_ykey *k, const char *path) {
    canon_t *c = ctx;
    const char *field = (const char *)c->cfg + k->off;
    char tmp[128];
    int w;
    if (k->type == BQ_Y_STR) return 0;   /* the name is not part of the identity */
    if (!strncmp(path, "fpga.", 5)) return 0;   /* nor are measurements of it */
    for (size_t i = 0; i < sizeof kLateKeys / sizeof kLateKeys[0]; i++)
        if (k->off == kLateKeys[i] && *(const int *)field == (int)k->def) return 0;
    if (k->type == BQ_Y_INT || k->type == BQ_Y_ENUM)
        w = snprintf(tmp, sizeof tmp, "%s=%d;", path, *(const int *)field);
    else
        w = snprintf(tmp, sizeof tmp, "%s=%.17g;", path, *(const double *)field);
    c->need += w;
    if (c->buf && c->used + (size_t)w < c->buflen) {
        memcpy(c->buf + c->used, tmp, (size_t)w + 1);
        c->used += (size_t)w;
    }
    return 0;
}

int bq_hwcfg_canonical(const bq_hwcfg *cfg, char *buf, size_t buflen) {
    canon_t c = {cfg, buf, buflen, 0, 0};
    bq_yschema_each(kSchema, NROWS, canon_key, &c);
    return c.need;
}

int bq_hwcfg_yaml(const bq_hwcfg *c, char *buf, size_t buflen) {
    return snprintf(buf, buflen,
                    "name: %s\nclock_mhz: %.17g\narray:\n  dm: %d\n  dn: %d\n  dk: %d\n  acc_bits: %d\n"
                    "  res_lanes: %d\nbuffers:\n  weight_depth: %d\n  act_depth: %d\n  regions: %d\n"
                    "  requant_depth: %d\n  window_bytes: %d\n  block_channels: %d\nmemory:\n  width_bits: %d\n  read_bytes_per_cycle: %d\n"
                    "  write_bytes_per_cycle: %d\n  read_latency: %d\n  write_latency: %d\n"
                    "  interface: %s\n  axi_addr_bits: %d\n  axi_id_bits: %d\n  axi_max_burst: %d\n"
                    "  axi_base: %d\nfpga:\n  ice40_fmax_mhz: %.17g\n",
                    c->name, c->clock_mhz, c->dm, c->dn, c->dk, c->acc_bits, c->res_lanes,
                    c->weight_depth, c->act_depth, c->regions, c->requant_depth, c->window_bytes,
                    c->block_channels, c->mem_width_bits,
                    c->read_bytes_per_cycle, c->write_bytes_per_cycle, c->read_latency,
                    c->write_latency, kInterfaces[c->mem_interface == BQ_MEM_AXI], c->axi_addr_bits,
                    c->axi_id_bits, c->axi_max_burst, c->axi_base, c->ice40_fmax_mhz);
}

uint64_t bq_hwcfg_hash(const bq_hwcfg *cfg) {
    char buf[1024];
    int n = bq_hwcfg_canonical(cfg, buf, sizeof buf);
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a 64 */
    for (int i = 0; i < n; i++) {
        h ^= (unsigned char)buf[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int bq_hwcfg_port_read_latency(const bq_hwcfg *cfg) {
    return cfg->read_latency + (cfg->mem_interface == BQ_MEM_AXI ? BQ_AXI_READ_CYCLES : 0);
}

int bq_hwcfg_port_write_latency(const bq_hwcfg *cfg) {
    return cfg->write_latency + (cfg->mem_interface == BQ_MEM_AXI ? BQ_AXI_WRITE_CYCLES : 0);
}

double bq_hwcfg_peak_binops(const bq_hwcfg *cfg) {
    return 2.0 * cfg->dm * cfg->dn * cfg->dk;
}

int bq_hwcfg_isa_version(const bq_hwcfg *cfg) { return cfg->window_bytes > 0 ? 2 : 1; }
