// bqa_axi_top -- the AXI shell (docs/hw_rtl.md "AXI shell"): bqa_top behind an AXI4-Lite register
// slave (control, instruction pushes, the memory base address; bqa_axil_regs) and an AXI4 master
// memory port (bqa_axi_master), the usual Zynq / UltraScale+ arrangement (s_axil on an M_AXI_GP /
// HPM port, m_axi on an S_AXI_HP / HP port). Instructions pass through one FIFO per queue
// (HostQDepth entries each) into bqa_top's own queues, so a host can preload a program before
// setting run. One clock, one active-low synchronous reset (aresetn); CTRL.reset also resets the
// accelerator, the FIFOs and the master. The data width is the config's memory.width_bits; the
// AXI parameters come from the config's optional memory.axi_* keys through hw_params.svh.
`include "hw_params.svh"
`ifndef BQ_HW_AXI_ID_BITS
`define BQ_HW_AXI_ID_BITS 1
`endif
`ifndef BQ_HW_AXI_ADDR_BITS
`define BQ_HW_AXI_ADDR_BITS 32
`endif
`ifndef BQ_HW_AXI_MAX_BURST
`define BQ_HW_AXI_MAX_BURST 256
`endif
`ifndef BQ_HW_AXI_BASE
`define BQ_HW_AXI_BASE 0
`endif
`ifndef BQ_HW_WINDOW_BYTES
`define BQ_HW_WINDOW_BYTES 0
`endif
`ifndef BQ_HW_BLOCK_CHANNELS
`define BQ_HW_BLOCK_CHANNELS 0
`endif

module bqa_axi_top #(
  parameter int unsigned MemWidth     = `BQ_HW_MEM_WIDTH_BITS,
  parameter int unsigned AddrBits     = `BQ_HW_AXI_ADDR_BITS,
  parameter int unsigned IdBits       = `BQ_HW_AXI_ID_BITS,
  parameter int unsigned MaxBurst     = `BQ_HW_AXI_MAX_BURST,
  parameter logic [63:0] BaseAddr     = 64'(`BQ_HW_AXI_BASE),
  parameter int unsigned AxilAddrBits = 12,
  parameter int unsigned HostQDepth   = 16,   // host-side FIFO entries per queue (<= 255 reported)
  parameter int unsigned IqDepth      = 16,   // bqa_top's own queues
  parameter int unsigned WindowBytes   = `BQ_HW_WINDOW_BYTES,   // ISA v2 (docs/whole_network.md): bqa_top's
  parameter int unsigned BlockChannels = `BQ_HW_BLOCK_CHANNELS  // window buffer and CODES block row (0: v1)
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  output logic                    irq_o,      // level: CTRL.run set and the accelerator done
  // AXI4-Lite slave (registers)
  input  logic [AxilAddrBits-1:0] s_axil_awaddr_i,
  input  logic [2:0]              s_axil_awprot_i,
  input  logic                    s_axil_awvalid_i,
  output logic                    s_axil_awready_o,
  input  logic [31:0]             s_axil_wdata_i,
  input  logic [3:0]              s_axil_wstrb_i,
  input  logic                    s_axil_wvalid_i,
  output logic                    s_axil_wready_o,
  output logic [1:0]              s_axil_bresp_o,
  output logic                    s_axil_bvalid_o,
  input  logic                    s_axil_bready_i,
  input  logic [AxilAddrBits-1:0] s_axil_araddr_i,
  input  logic [2:0]              s_axil_arprot_i,
  input  logic                    s_axil_arvalid_i,
  output logic                    s_axil_arready_o,
  output logic [31:0]             s_axil_rdata_o,
  output logic [1:0]              s_axil_rresp_o,
  output logic                    s_axil_rvalid_o,
  input  logic                    s_axil_rready_i,
  // AXI4 master (memory)
  output logic [IdBits-1:0]       m_axi_awid_o,
  output logic [AddrBits-1:0]     m_axi_awaddr_o,
  output logic [7:0]              m_axi_awlen_o,
  output logic [2:0]              m_axi_awsize_o,
  output logic [1:0]              m_axi_awburst_o,
  output logic                    m_axi_awlock_o,
  output logic [3:0]              m_axi_awcache_o,
  output logic [2:0]              m_axi_awprot_o,
  output logic [3:0]              m_axi_awqos_o,
  output logic                    m_axi_awvalid_o,
  input  logic                    m_axi_awready_i,
  output logic [MemWidth-1:0]     m_axi_wdata_o,
  output logic [MemWidth/8-1:0]   m_axi_wstrb_o,
  output logic                    m_axi_wlast_o,
  output logic                    m_axi_wvalid_o,
  input  logic                    m_axi_wready_i,
  input  logic [IdBits-1:0]       m_axi_bid_i,
  input  logic [1:0]              m_axi_bresp_i,
  input  logic                    m_axi_bvalid_i,
  output logic                    m_axi_bready_o,
  output logic [IdBits-1:0]       m_axi_arid_o,
  output logic [AddrBits-1:0]     m_axi_araddr_o,
  output logic [7:0]              m_axi_arlen_o,
  output logic [2:0]              m_axi_arsize_o,
  output logic [1:0]              m_axi_arburst_o,
  output logic                    m_axi_arlock_o,
  output logic [3:0]              m_axi_arcache_o,
  output logic [2:0]              m_axi_arprot_o,
  output logic [3:0]              m_axi_arqos_o,
  output logic                    m_axi_arvalid_o,
  input  logic                    m_axi_arready_i,
  input  logic [IdBits-1:0]       m_axi_rid_i,
  input  logic [MemWidth-1:0]     m_axi_rdata_i,
  input  logic [1:0]              m_axi_rresp_i,
  input  logic                    m_axi_rlast_i,
  input  logic                    m_axi_rvalid_i,
  output logic                    m_axi_rready_o
);
  localparam int unsigned IB      = bqa_pkg::InstrBits;   // 128: four 32-bit words
  localparam int unsigned CntBits = $clog2(HostQDepth + 1);

  logic          run, soft_reset, core_rst_n, done;
  logic [63:0]   base;
  logic [7:0]    reg_addr;
  logic [31:0]   reg_rdata;
  logic [2:0]    push, q_valid, q_ready;
  logic [IB-1:0] push_data;
  logic [IB-1:0] q_head [3];
  logic [23:0]   q_free;
  logic          rd_err, wr_err;

  assign core_rst_n = rst_ni && !soft_reset;

  bqa_axil_regs #(.AxilAddrBits(AxilAddrBits), .BaseAddr(BaseAddr), .MaxBurst(MaxBurst),
                  .IdBits(IdBits), .AddrBits(AddrBits)) u_regs (
    .clk_i(clk_i), .rst_ni(rst_ni),
    .s_axil_awaddr_i(s_axil_awaddr_i), .s_axil_awprot_i(s_axil_awprot_i),
    .s_axil_awvalid_i(s_axil_awvalid_i), .s_axil_awready_o(s_axil_awready_o),
    .s_axil_wdata_i(s_axil_wdata_i), .s_axil_wstrb_i(s_axil_wstrb_i),
    .s_axil_wvalid_i(s_axil_wvalid_i), .s_axil_wready_o(s_axil_wready_o),
    .s_axil_bresp_o(s_axil_bresp_o), .s_axil_bvalid_o(s_axil_bvalid_o),
    .s_axil_bready_i(s_axil_bready_i),
    .s_axil_araddr_i(s_axil_araddr_i), .s_axil_arprot_i(s_axil_arprot_i),
    .s_axil_arvalid_i(s_axil_arvalid_i), .s_axil_arready_o(s_axil_arready_o),
    .s_axil_rdata_o(s_axil_rdata_o), .s_axil_rresp_o(s_axil_rresp_o),
    .s_axil_rvalid_o(s_axil_rvalid_o), .s_axil_rready_i(s_axil_rready_i),
    .reg_addr_o(reg_addr), .reg_rdata_i(reg_rdata), .run_o(run), .reset_o(soft_reset),
    .base_o(base), .q_free_i(q_free), .push_o(push), .push_data_o(push_data),
    .rd_err_i(rd_err), .wr_err_i(wr_err));

  // ---- host-side instruction FIFOs (fetch, execute, result) ----
  for (genvar s = 0; s < 3; s++) begin : g_hostq
    logic [CntBits-1:0] cnt;
    logic [31:0]        free;
    logic               unused_ready;
    bqa_fifo #(.Width(IB), .Depth(HostQDepth)) u_fifo (
      .clk_i(clk_i), .rst_ni(core_rst_n), .push_i(push[s]), .data_i(push_data),
      .ready_o(unused_ready), .pop_i(q_valid[s] && q_ready[s]), .valid_o(q_valid[s]),
      .head_o(q_head[s]), .count_o(cnt));
    // free entries, saturated to the 8-bit QSTATUS field
    assign free = HostQDepth - 32'(cnt);
    assign q_free[8*s +: 8] = free > 32'd255 ? 8'd255 : free[7:0];
  end

  // ---- the accelerator and its memory port ----
  logic                req_valid, req_ready, req_write, rvalid, wvalid, wready, wdone;
  logic [31:0]         req_addr;
  logic [15:0]         req_beats;
  logic [MemWidth-1:0] rdata, wdata;

  bqa_top #(.IqDepth(IqDepth), .WindowBytes(WindowBytes), .BlockChannels(BlockChannels)) u_top (
    .clk_i(clk_i), .rst_ni(core_rst_n), .run_i(run),
    .fq_valid_i(q_valid[0]), .fq_ready_o(q_ready[0]), .fq_data_i(q_head[0]),
    .eq_valid_i(q_valid[1]), .eq_ready_o(q_ready[1]), .eq_data_i(q_head[1]),
    .rq_valid_i(q_valid[2]), .rq_ready_o(q_ready[2]), .rq_data_i(q_head[2]),
    .mem_req_valid_o(req_valid), .mem_req_ready_i(req_ready), .mem_req_write_o(req_write),
    .mem_req_addr_o(req_addr), .mem_req_beats_o(req_beats),
    .mem_rvalid_i(rvalid), .mem_rdata_i(rdata),
    .mem_wvalid_o(wvalid), .mem_wready_i(wready), .mem_wdata_o(wdata), .mem_wdone_i(wdone),
    .reg_addr_i(reg_addr), .reg_rdata_o(reg_rdata), .done_o(done));

  bqa_axi_master #(.MemWidth(MemWidth), .AddrBits(AddrBits), .IdBits(IdBits),
                   .MaxBurst(MaxBurst)) u_master (
    .clk_i(clk_i), .rst_ni(core_rst_n), .base_i(base),
    .req_valid_i(req_valid), .req_ready_o(req_ready), .req_write_i(req_write),
    .req_addr_i(req_addr), .req_beats_i(req_beats),
    .rvalid_o(rvalid), .rdata_o(rdata), .wvalid_i(wvalid), .wready_o(wready), .wdata_i(wdata),
    .wdone_o(wdone), .rd_err_o(rd_err), .wr_err_o(wr_err),
    .m_axi_awid_o(m_axi_awid_o), .m_axi_awaddr_o(m_axi_awaddr_o), .m_axi_awlen_o(m_axi_awlen_o),
    .m_axi_awsize_o(m_axi_awsize_o), .m_axi_awburst_o(m_axi_awburst_o),
    .m_axi_awlock_o(m_axi_awlock_o), .m_axi_awcache_o(m_axi_awcache_o),
    .m_axi_awprot_o(m_axi_awprot_o), .m_axi_awqos_o(m_axi_awqos_o),
    .m_axi_awvalid_o(m_axi_awvalid_o), .m_axi_awready_i(m_axi_awready_i),
    .m_axi_wdata_o(m_axi_wdata_o), .m_axi_wstrb_o(m_axi_wstrb_o), .m_axi_wlast_o(m_axi_wlast_o),
    .m_axi_wvalid_o(m_axi_wvalid_o), .m_axi_wready_i(m_axi_wready_i),
    .m_axi_bid_i(m_axi_bid_i), .m_axi_bresp_i(m_axi_bresp_i), .m_axi_bvalid_i(m_axi_bvalid_i),
    .m_axi_bready_o(m_axi_bready_o),
    .m_axi_arid_o(m_axi_arid_o), .m_axi_araddr_o(m_axi_araddr_o), .m_axi_arlen_o(m_axi_arlen_o),
    .m_axi_arsize_o(m_axi_arsize_o), .m_axi_arburst_o(m_axi_arburst_o),
    .m_axi_arlock_o(m_axi_arlock_o), .m_axi_arcache_o(m_axi_arcache_o),
    .m_axi_arprot_o(m_axi_arprot_o), .m_axi_arqos_o(m_axi_arqos_o),
    .m_axi_arvalid_o(m_axi_arvalid_o), .m_axi_arready_i(m_axi_arready_i),
    .m_axi_rid_i(m_axi_rid_i), .m_axi_rdata_i(m_axi_rdata_i), .m_axi_rresp_i(m_axi_rresp_i),
    .m_axi_rlast_i(m_axi_rlast_i), .m_axi_rvalid_i(m_axi_rvalid_i), .m_axi_rready_o(m_axi_rready_o));

  // Done is only meaningful while running: after reset bqa_top is done with nothing to do.
  assign irq_o = run && done && !soft_reset && q_valid == 3'b000;
endmodule
