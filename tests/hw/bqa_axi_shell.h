// bqa_axi_shell.h -- one clock cycle of the verilated AXI shell (hw/bqa_axi_top.sv) with the AXI
// memory slave model of bqa_axi_mem.h on its master port, and blocking AXI4-Lite register reads and
// writes that advance the clock. Shared by tests/hw/test_axi_top.cpp and the AXI co-simulation
// sim/cosim_axi_main.cpp (docs/cosim.md "Through the AXI shell"). Needs Vbqa_axi_top.h and
// hw_params.h of the build.
#pragma once
#include <cstdint>
#include <cstring>
#include "Vbqa_axi_top.h"
#include "bqa_axi_mem.h"
#include "bqa_tb.h"
#include "hw_params.h"

// Register offsets of bqa_axil_regs / docs/hw_isa.md §5.
enum : uint32_t { R_STATUS = 0x38, R_CYCLES = 0x40, R_EBEATS = 0x68, R_CTRL = 0x80, R_QSTATUS = 0x84,
                  R_BASE_LO = 0x88, R_BASE_HI = 0x8C, R_QUEUE = 0x90, R_ERR = 0xC0, R_AXI_CFG = 0xC4 };

struct Shell {
    Vbqa_axi_top *m; AxiMem *mem = nullptr; long cyc = 0;
    struct Seen { bool aw = false, ar = false, r = false; uint32_t rdata = 0; };

    // One clock cycle: the memory model drives the slave side, the host's AXI-Lite inputs are as set.
    Seen tick() {
        Seen s;
        AxiSlaveOut so;
        if (mem) { mem->draw(); so = mem->drive(cyc); }
        axi_drive_master_port(m, so, BQ_HW_MEM_WIDTH_BITS, 0, 0);
        m->clk_i = 0; m->eval();
        AxiMasterOut mo = axi_sample_master_port(m, BQ_HW_MEM_WIDTH_BITS);
        s.aw = m->s_axil_awvalid_i && m->s_axil_awready_o && m->s_axil_wvalid_i && m->s_axil_wready_o;
        s.ar = m->s_axil_arvalid_i && m->s_axil_arready_o;
        s.r = m->s_axil_rvalid_o && m->s_axil_rready_i; s.rdata = m->s_axil_rdata_o;
        m->clk_i = 1; m->eval();
        if (mem) mem->update(cyc, so, mo);
        cyc++;
        return s;
    }
    void write(uint32_t a, uint32_t d) {
        m->s_axil_awaddr_i = a; m->s_axil_wdata_i = d; m->s_axil_wstrb_i = 0xf;
        m->s_axil_awvalid_i = 1; m->s_axil_wvalid_i = 1; m->s_axil_bready_i = 1;
        while (!tick().aw) {}
        m->s_axil_awvalid_i = 0; m->s_axil_wvalid_i = 0;
    }
    uint32_t read(uint32_t a) {
        m->s_axil_araddr_i = a; m->s_axil_arvalid_i = 1; m->s_axil_rready_i = 1;
        while (!tick().ar) {}
        m->s_axil_arvalid_i = 0;
        for (;;) { Seen s = tick(); if (s.r) return s.rdata; }
    }
    void hard_reset() {
        m->rst_ni = 0;
        m->s_axil_awvalid_i = m->s_axil_wvalid_i = m->s_axil_arvalid_i = 0;
        m->s_axil_bready_i = m->s_axil_rready_i = 1;
        tick(); tick();
        m->rst_ni = 1;
    }
};
