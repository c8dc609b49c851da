// bqa_axi_master -- bqa_top's memory port (docs/hw_isa.md §4.1: one transaction of `beats` beats at
// a time) as an AXI4 master (docs/hw_rtl.md "AXI shell"). A transaction at accelerator byte address
// `addr` becomes INCR bursts at AXI address base_i + addr, split at MaxBurst beats and at 4 KiB
// boundaries (AXI forbids a burst crossing one). Address requests are registered (first AR/AW in
// the cycle after the request is accepted) and issued back to back; RREADY and BREADY are always 1
// because the accelerator takes read data in every cycle. W beats pass straight through (they may
// run ahead of AW, as AXI allows); WLAST is counted on the W side's own copy of the burst split.
// The transaction completes with its last R beat (read) or its last B response (write, wdone_o).
module bqa_axi_master #(
  parameter int unsigned MemWidth = 64,    // data width, bits: 32, 64 or 128
  parameter int unsigned AddrBits = 32,    // AXI address width, 32..64
  parameter int unsigned IdBits   = 1,     // AXI ID width; every request uses ID 0 (in order)
  parameter int unsigned MaxBurst = 256    // beats per burst, power of two 1..256 (AXI3: 16)
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic [63:0]         base_i,       // AXI address of accelerator address 0
  // accelerator side (bqa_top's mem_* port, docs/hw_isa.md §4.1)
  input  logic                req_valid_i,
  output logic                req_ready_o,
  input  logic                req_write_i,
  input  logic [31:0]         req_addr_i,
  input  logic [15:0]         req_beats_i,
  output logic                rvalid_o,
  output logic [MemWidth-1:0] rdata_o,
  input  logic                wvalid_i,
  output logic                wready_o,
  input  logic [MemWidth-1:0] wdata_i,
  output logic                wdone_o,
  output logic                rd_err_o,     // an R beat with RRESP SLVERR/DECERR (one-cycle pulse)
  output logic                wr_err_o,     // a B response with BRESP SLVERR/DECERR
  // AXI4 master
  output logic [IdBits-1:0]   m_axi_awid_o,
  output logic [AddrBits-1:0] m_axi_awaddr_o,
  output logic [7:0]          m_axi_awlen_o,
  output logic [2:0]          m_axi_awsize_o,
  output logic [1:0]          m_axi_awburst_o,
  output logic                m_axi_awlock_o,
  output logic [3:0]          m_axi_awcache_o,
  output logic [2:0]          m_axi_awprot_o,
  output logic [3:0]          m_axi_awqos_o,
  output logic                m_axi_awvalid_o,
  input  logic                m_axi_awready_i,
  output logic [MemWidth-1:0] m_axi_wdata_o,
  output logic [MemWidth/8-1:0] m_axi_wstrb_o,
  output logic                m_axi_wlast_o,
  output logic                m_axi_wvalid_o,
  input  logic                m_axi_wready_i,
  input  logic [IdBits-1:0]   m_axi_bid_i,
  input  logic [1:0]          m_axi_bresp_i,
  input  logic                m_axi_bvalid_i,
  output logic                m_axi_bready_o,
  output logic [IdBits-1:0]   m_axi_arid_o,
  output logic [AddrBits-1:0] m_axi_araddr_o,
  output logic [7:0]          m_axi_arlen_o,
  output logic [2:0]          m_axi_arsize_o,
  output logic [1:0]          m_axi_arburst_o,
  output logic                m_axi_arlock_o,
  output logic [3:0]          m_axi_arcache_o,
  output logic [2:0]          m_axi_arprot_o,
  output logic [3:0]          m_axi_arqos_o,
  output logic                m_axi_arvalid_o,
  input  logic                m_axi_arready_i,
  input  logic [IdBits-1:0]   m_axi_rid_i,
  input  logic [MemWidth-1:0] m_axi_rdata_i,
  input  logic [1:0]          m_axi_rresp_i,
  input  logic                m_axi_rlast_i,
  input  logic                m_axi_rvalid_i,
  output logic                m_axi_rready_o
);
  localparam int unsigned SizeLog = $clog2(MemWidth / 8);   // bytes per beat = 2^SizeLog
  localparam int unsigned LenBits = 9;                      // beats of one burst: 1..256

  // Beats of the next burst starting at page offset `off` (address bits 11:0) with `left` beats of
  // the transaction to go: min(left, MaxBurst, beats up to the next 4 KiB boundary). Addresses are
  // beat-aligned.
  function automatic logic [LenBits-1:0] burst_beats(input logic [11:0] off, input logic [16:0] left);
    logic [12:0]        to4k;
    logic [LenBits-1:0] n;
    to4k = (13'd4096 - {1'b0, off}) >> SizeLog;
    n    = LenBits'(MaxBurst);
    if (to4k < 13'(n)) n = to4k[LenBits-1:0];
    if (left < 17'(n)) n = left[LenBits-1:0];
    burst_beats = n;
  endfunction

  // ---- transaction state ----
  logic                busy_q, wr_q;
  logic                av_q;                 // address requests left to issue
  logic [AddrBits-1:0] a_addr_q, w_addr_q;   // next AR/AW burst address; W side's burst address
  logic [16:0]         a_left_q, w_left_q;   // beats not yet covered by an AR/AW; by a W burst
  logic [LenBits-1:0]  w_idx_q;              // beat index inside the current W burst
  logic [16:0]         r_left_q;             // R beats still to come
  logic [16:0]         b_pend_q;             // AW accepted, B not yet received
  logic [LenBits-1:0]  a_len, w_len;
  logic                accept, a_fire, w_fire, r_fire, b_fire, last_r, last_b;

  assign req_ready_o = !busy_q;
  assign accept      = req_valid_i && req_ready_o;
  assign a_len       = burst_beats(a_addr_q[11:0], a_left_q);
  assign w_len       = burst_beats(w_addr_q[11:0], w_left_q);
  assign a_fire      = av_q && (wr_q ? m_axi_awready_i : m_axi_arready_i);
  assign w_fire      = m_axi_wvalid_o && m_axi_wready_i;
  assign r_fire      = m_axi_rvalid_i;                     // RREADY = 1
  assign b_fire      = m_axi_bvalid_i;                     // BREADY = 1
  assign last_r      = busy_q && !wr_q && r_fire && r_left_q == 17'd1;
  assign last_b      = busy_q && wr_q && b_fire && !av_q && b_pend_q == 17'd1;

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      busy_q   <= 1'b0;
      wr_q     <= 1'b0;
      av_q     <= 1'b0;
      a_addr_q <= '0;
      w_addr_q <= '0;
      a_left_q <= '0;
      w_left_q <= '0;
      w_idx_q  <= '0;
      r_left_q <= '0;
      b_pend_q <= '0;
    end else begin
      if (accept) begin
        busy_q   <= 1'b1;
        wr_q     <= req_write_i;
        av_q     <= 1'b1;
        a_addr_q <= base_i[AddrBits-1:0] + AddrBits'(req_addr_i);
        w_addr_q <= base_i[AddrBits-1:0] + AddrBits'(req_addr_i);
        a_left_q <= {1'b0, req_beats_i};
        w_left_q <= {1'b0, req_beats_i};
        w_idx_q  <= '0;
        r_left_q <= {1'b0, req_beats_i};
        b_pend_q <= '0;
      end else begin
        if (a_fire) begin
          a_addr_q <= a_addr_q + (AddrBits'(a_len) << SizeLog);
          a_left_q <= a_left_q - 17'(a_len);
          if (a_left_q == 17'(a_len)) av_q <= 1'b0;
        end
        if (w_fire) begin
          if (m_axi_wlast_o) begin
            w_addr_q <= w_addr_q + (AddrBits'(w_len) << SizeLog);
            w_left_q <= w_left_q - 17'(w_len);
            w_idx_q  <= '0;
          end else begin
            w_idx_q <= w_idx_q + 1'b1;
          end
        end
        if (busy_q && !wr_q && r_fire) r_left_q <= r_left_q - 17'd1;
        b_pend_q <= b_pend_q + 17'(a_fire && wr_q) - 17'(busy_q && wr_q && b_fire);
        if (last_r || last_b) busy_q <= 1'b0;
      end
    end
  end

  // ---- accelerator side ----
  assign rvalid_o = busy_q && !wr_q && r_fire;
  assign rdata_o  = m_axi_rdata_i;
  assign wready_o = busy_q && wr_q && m_axi_wready_i;
  assign wdone_o  = last_b;
  assign rd_err_o = rvalid_o && m_axi_rresp_i[1];
  assign wr_err_o = busy_q && wr_q && b_fire && m_axi_bresp_i[1];

  // ---- AXI address channels: one burst description, steered by the direction ----
  assign m_axi_arvalid_o = av_q && !wr_q;
  assign m_axi_awvalid_o = av_q && wr_q;
  assign m_axi_araddr_o  = a_addr_q;
  assign m_axi_awaddr_o  = a_addr_q;
  assign m_axi_arlen_o   = 8'(a_len - 1'b1);
  assign m_axi_awlen_o   = 8'(a_len - 1'b1);
  assign m_axi_arid_o    = '0;
  assign m_axi_awid_o    = '0;
  assign m_axi_arsize_o  = 3'(SizeLog);
  assign m_axi_awsize_o  = 3'(SizeLog);
  assign m_axi_arburst_o = 2'b01;     // INCR
  assign m_axi_awburst_o = 2'b01;
  assign m_axi_arlock_o  = 1'b0;
  assign m_axi_awlock_o  = 1'b0;
  assign m_axi_arcache_o = 4'b0011;   // normal non-cacheable bufferable (the Xilinx default)
  assign m_axi_awcache_o = 4'b0011;
  assign m_axi_arprot_o  = 3'b000;
  assign m_axi_awprot_o  = 3'b000;
  assign m_axi_arqos_o   = 4'b0000;
  assign m_axi_awqos_o   = 4'b0000;

  // ---- W and the response channels ----
  assign m_axi_wvalid_o = busy_q && wr_q && wvalid_i;
  assign m_axi_wdata_o  = wdata_i;
  assign m_axi_wstrb_o  = '1;
  assign m_axi_wlast_o  = w_idx_q == w_len - 1'b1;
  assign m_axi_rready_o = 1'b1;
  assign m_axi_bready_o = 1'b1;

  logic unused_axi;
  assign unused_axi = ^{m_axi_bid_i, m_axi_rid_i, m_axi_rlast_i, m_axi_rresp_i[0], m_axi_bresp_i[0],
                        base_i};

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (MemWidth == 32 || MemWidth == 64 || MemWidth == 128) else $error("bqa_axi_master: MemWidth");
    assert (AddrBits >= 32 && AddrBits <= 64) else $error("bqa_axi_master: AddrBits must be 32..64");
    assert (MaxBurst >= 1 && MaxBurst <= 256 && (MaxBurst & (MaxBurst - 1)) == 0)
      else $error("bqa_axi_master: MaxBurst must be a power of two in 1..256");
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      assert (!(accept && req_beats_i == 16'd0)) else $error("bqa_axi_master: zero-beat request");
      assert (!(accept && (req_addr_i & 32'((MemWidth / 8) - 1)) != 0))
        else $error("bqa_axi_master: address not aligned to a beat");
      assert (!(m_axi_rvalid_i && !(busy_q && !wr_q))) else $error("bqa_axi_master: R outside a read");
      assert (!(m_axi_bvalid_i && !(busy_q && wr_q))) else $error("bqa_axi_master: B outside a write");
      assert (!(last_r && !m_axi_rlast_i)) else $error("bqa_axi_master: last beat without RLAST");
    end
  end
`endif
endmodule
