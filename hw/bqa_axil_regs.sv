// bqa_axil_regs -- the AXI4-Lite register slave of the AXI shell (docs/hw_rtl.md "AXI shell").
// The window is the bring-up register map of sim/bq_acc_mmio.h, plus the memory base address:
//   0x00..0x7C  bqa_top's read-only registers (docs/hw_isa.md §5), read through reg_addr_o
//   0x80 CTRL       rw  bit0 run, bit1 reset (accelerator and instruction FIFOs held while 1)
//   0x84 QSTATUS    ro  bits 7:0 / 15:8 / 23:16 free entries of the fetch / execute / result FIFOs
//   0x88 BASE_LO    rw  AXI address of accelerator address 0, bits 31:0 (reset: BaseAddr)
//   0x8C BASE_HI    rw  bits 63:32
//   0x90 + 16*s + 4*k   instruction word k (bits 32k+31:32k) of queue s; writing word 3 pushes
//   0xC0 ERR        rw1c bit0 read response error, bit1 write response error, bit2 push to a full FIFO
//   0xC4 AXI_CFG    ro  bits 15:0 MaxBurst, 23:16 IdBits, 31:24 AddrBits
// One read and one write in flight; a write is taken when AW and W are both valid, one per cycle
// while BREADY is high. Writes are whole words (WSTRB is ignored; 32-bit drivers write words).
// Unmapped offsets read 0 and ignore writes; every response is OKAY.
module bqa_axil_regs #(
  parameter int unsigned AxilAddrBits = 12,      // the slave's address window, 4 KiB
  parameter logic [63:0] BaseAddr     = 64'd0,   // BASE after reset
  parameter int unsigned MaxBurst     = 256,     // reported in AXI_CFG
  parameter int unsigned IdBits       = 1,
  parameter int unsigned AddrBits     = 32
) (
  input  logic                    clk_i,
  input  logic                    rst_ni,
  // AXI4-Lite slave
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
  // the shell
  output logic [7:0]              reg_addr_o,    // bqa_top's register port (combinational read)
  input  logic [31:0]             reg_rdata_i,
  output logic                    run_o,
  output logic                    reset_o,
  output logic [63:0]             base_o,
  input  logic [23:0]             q_free_i,      // {result, execute, fetch} free FIFO entries, 8 bits each
  output logic [2:0]              push_o,        // one-cycle push into FIFO s (never when it is full)
  output logic [127:0]            push_data_o,
  input  logic                    rd_err_i,      // error pulses from the AXI master
  input  logic                    wr_err_i
);
  localparam logic [7:0] RegCtrl = 8'h80, RegQstatus = 8'h84, RegBaseLo = 8'h88,
                         RegBaseHi = 8'h8C, RegQueue0 = 8'h90, RegErr = 8'hC0, RegAxiCfg = 8'hC4;

  logic        run_q, reset_q, bvalid_q, rvalid_q;
  logic [63:0] base_q;
  logic [2:0]  err_q;
  logic [31:0] rdata_q;
  logic [31:0] stage_q [3][3];   // words 0..2 of the instruction being written to each queue

  // ---- handshakes ----
  logic       wr_go, rd_go, w_in_window, r_in_window;
  logic [7:0] w_off, r_off;
  assign wr_go            = s_axil_awvalid_i && s_axil_wvalid_i && (!bvalid_q || s_axil_bready_i);
  assign rd_go            = s_axil_arvalid_i && (!rvalid_q || s_axil_rready_i);
  assign s_axil_awready_o = wr_go;
  assign s_axil_wready_o  = wr_go;
  assign s_axil_arready_o = !rvalid_q || s_axil_rready_i;
  assign w_off            = s_axil_awaddr_i[7:0];
  assign r_off            = s_axil_araddr_i[7:0];
  assign w_in_window      = (s_axil_awaddr_i >> 8) == '0;
  assign r_in_window      = (s_axil_araddr_i >> 8) == '0;

  // ---- instruction pushes: word 3 of queue s at 0x9C + 16*s ----
  logic [2:0] w3_hit;
  for (genvar s = 0; s < 3; s++) begin : g_push
    assign w3_hit[s] = wr_go && w_in_window && w_off == RegQueue0 + 8'(16 * s + 12);
    assign push_o[s] = w3_hit[s] && q_free_i[8*s +: 8] != 8'd0;
  end
  always_comb begin
    push_data_o = '0;
    for (int s = 0; s < 3; s++)
      if (w3_hit[s]) push_data_o = {s_axil_wdata_i, stage_q[s][2], stage_q[s][1], stage_q[s][0]};
  end

  // ---- register writes ----
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      run_q   <= 1'b0;
      reset_q <= 1'b0;
      base_q  <= BaseAddr;
      err_q   <= '0;
      for (int s = 0; s < 3; s++) for (int k = 0; k < 3; k++) stage_q[s][k] <= '0;
    end else begin
      err_q <= err_q | {|(w3_hit & ~push_o), wr_err_i, rd_err_i};
      if (wr_go && w_in_window) begin
        case (w_off)
          RegCtrl:   {reset_q, run_q} <= s_axil_wdata_i[1:0];
          RegBaseLo: base_q[31:0]     <= s_axil_wdata_i;
          RegBaseHi: base_q[63:32]    <= s_axil_wdata_i;
          RegErr:    err_q            <= (err_q & ~s_axil_wdata_i[2:0]) |
                                         {|(w3_hit & ~push_o), wr_err_i, rd_err_i};
          default: ;
        endcase
        for (int s = 0; s < 3; s++) for (int k = 0; k < 3; k++)
          if (w_off == RegQueue0 + 8'(16 * s + 4 * k)) stage_q[s][k] <= s_axil_wdata_i;
      end
    end
  end

  // ---- register reads (registered on the AR handshake) ----
  logic [31:0] rmux;
  assign reg_addr_o = r_off;
  always_comb begin
    rmux = '0;
    if (r_in_window) begin
      if (r_off < RegCtrl) rmux = reg_rdata_i;
      else case (r_off)
        RegCtrl:    rmux = {30'd0, reset_q, run_q};
        RegQstatus: rmux = {8'd0, q_free_i};
        RegBaseLo:  rmux = base_q[31:0];
        RegBaseHi:  rmux = base_q[63:32];
        RegErr:     rmux = {29'd0, err_q};
        RegAxiCfg:  rmux = {8'(AddrBits), 8'(IdBits), 16'(MaxBurst)};
        default:
          for (int s = 0; s < 3; s++) for (int k = 0; k < 3; k++)
            if (r_off == RegQueue0 + 8'(16 * s + 4 * k)) rmux = stage_q[s][k];
      endcase
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      bvalid_q <= 1'b0;
      rvalid_q <= 1'b0;
      rdata_q  <= '0;
    end else begin
      if (wr_go) bvalid_q <= 1'b1;
      else if (s_axil_bready_i) bvalid_q <= 1'b0;
      if (rd_go) begin
        rvalid_q <= 1'b1;
        rdata_q  <= rmux;
      end else if (s_axil_rready_i) rvalid_q <= 1'b0;
    end
  end

  assign s_axil_bvalid_o = bvalid_q;
  assign s_axil_bresp_o  = 2'b00;
  assign s_axil_rvalid_o = rvalid_q;
  assign s_axil_rdata_o  = rdata_q;
  assign s_axil_rresp_o  = 2'b00;
  assign run_o           = run_q;
  assign reset_o         = reset_q;
  assign base_o          = base_q;

  logic unused_bits;
  assign unused_bits = ^{s_axil_awprot_i, s_axil_arprot_i, s_axil_wstrb_i};
endmodule
