// bqa_mem_arb -- the single memory port: one transaction at a time, result stage before fetch
// stage (docs/hw_isa.md §4.1). Busy from the accepting cycle through the completion cycle (last
// read beat, or wdone); a new request can be presented in the next cycle. Routes read data.
module bqa_mem_arb (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        f_req_valid_i,
  input  logic [31:0] f_req_addr_i,
  input  logic [15:0] f_req_beats_i,
  output logic        f_grant_o,
  output logic        f_rvalid_o,
  input  logic        r_req_valid_i,
  input  logic        r_req_write_i,
  input  logic [31:0] r_req_addr_i,
  input  logic [15:0] r_req_beats_i,
  output logic        r_grant_o,
  output logic        r_rvalid_o,
  output logic        mem_req_valid_o,
  input  logic        mem_req_ready_i,
  output logic        mem_req_write_o,
  output logic [31:0] mem_req_addr_o,
  output logic [15:0] mem_req_beats_o,
  input  logic        mem_rvalid_i,
  input  logic        mem_wdone_i,
  output logic        busy_o
);
  logic        busy_q, busy_d, owner_q, owner_d, wr_q, wr_d;
  logic [15:0] rem_q, rem_d;
  logic        sel_r, accept;

  assign sel_r           = r_req_valid_i;
  assign mem_req_valid_o = !busy_q && (f_req_valid_i || r_req_valid_i);
  assign mem_req_write_o = sel_r ? r_req_write_i : 1'b0;
  assign mem_req_addr_o  = sel_r ? r_req_addr_i : f_req_addr_i;
  assign mem_req_beats_o = sel_r ? r_req_beats_i : f_req_beats_i;
  assign accept          = mem_req_valid_o && mem_req_ready_i;
  assign f_grant_o       = accept && !sel_r;
  assign r_grant_o       = accept && sel_r;
  assign f_rvalid_o      = mem_rvalid_i && busy_q && !owner_q;
  assign r_rvalid_o      = mem_rvalid_i && busy_q && owner_q;

  always_comb begin
    busy_d  = busy_q;
    owner_d = owner_q;
    wr_d    = wr_q;
    rem_d   = rem_q;
    if (busy_q) begin
      if (!wr_q && mem_rvalid_i) begin
        rem_d = rem_q - 16'd1;
        if (rem_q == 16'd1) busy_d = 1'b0;
      end
      if (wr_q && mem_wdone_i) busy_d = 1'b0;
    end else if (accept) begin
      busy_d  = 1'b1;
      owner_d = sel_r;
      wr_d    = mem_req_write_o;
      rem_d   = mem_req_beats_o;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      busy_q  <= 1'b0;
      owner_q <= 1'b0;
      wr_q    <= 1'b0;
      rem_q   <= '0;
    end else begin
      busy_q  <= busy_d;
      owner_q <= owner_d;
      wr_q    <= wr_d;
      rem_q   <= rem_d;
    end
  end

  assign busy_o = busy_q;

  // ---- assertions ----
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      assert (!(mem_rvalid_i && !(busy_q && !wr_q))) else $error("bqa_mem_arb: read data outside a read");
      assert (!(mem_wdone_i && !(busy_q && wr_q))) else $error("bqa_mem_arb: wdone outside a write");
      assert (!(accept && mem_req_beats_o == 16'd0)) else $error("bqa_mem_arb: zero-beat request");
    end
  end
`endif
endmodule
