// bqa_unpack -- turns a stream of W-bit memory beats into UB-bit units written round-robin into D
// banks (unit u -> bank u % D, row base + u / D; docs/hw_isa.md §3.1). Rows keep counting across
// the planes of one fetch instruction. UB <= W: each beat writes W/UB banks at once (D % (W/UB) == 0).
// UB > W: UB/W beats (first beat = low bits) form one unit. start_i may coincide with the last beat
// of the previous instruction: that beat is written with the old counters, then they restart.
module bqa_unpack #(
  parameter int unsigned UB       = 32,
  parameter int unsigned D        = 4,
  parameter int unsigned W        = 64,
  parameter int unsigned RowBits  = 9
) (
  input  logic               clk_i,
  input  logic               rst_ni,
  input  logic               start_i,
  input  logic [15:0]        base_i,
  input  logic               beat_valid_i,
  input  logic [W-1:0]       beat_i,
  output logic [D-1:0]       we_o,
  output logic [RowBits-1:0] row_o,
  output logic [D*UB-1:0]    wdata_o
);
  logic [15:0] row_q, row_d;
  assign row_o = row_q[RowBits-1:0];

  logic unused_row;
  assign unused_row = ^row_q[15:RowBits];

  if (UB <= W) begin : g_wide
    localparam int unsigned Upb   = W / UB;
    localparam int unsigned Grps  = D / Upb;
    localparam int unsigned GBits = (Grps > 1) ? $clog2(Grps) : 1;
    logic [GBits-1:0] grp_q, grp_d;

    always_comb begin
      grp_d = grp_q;
      row_d = row_q;
      if (start_i) begin
        grp_d = '0;
        row_d = base_i;
      end else if (beat_valid_i) begin
        if (grp_q == GBits'(Grps - 1)) begin
          grp_d = '0;
          row_d = row_q + 16'd1;
        end else begin
          grp_d = grp_q + 1'b1;
        end
      end
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        grp_q <= '0;
        row_q <= '0;
      end else begin
        grp_q <= grp_d;
        row_q <= row_d;
      end
    end

    for (genvar b = 0; b < D; b++) begin : g_bank
      assign we_o[b] = beat_valid_i && (grp_q == GBits'(b / Upb));
      assign wdata_o[b*UB +: UB] = beat_i[(b % Upb)*UB +: UB];
    end
  end else begin : g_narrow
    localparam int unsigned Bpu   = UB / W;
    localparam int unsigned SBits = $clog2(Bpu);
    localparam int unsigned BBits = (D > 1) ? $clog2(D) : 1;
    logic [SBits-1:0]     sb_q, sb_d;
    logic [BBits-1:0]     bk_q, bk_d;
    logic [UB-W-1:0]      sh_q, sh_d;
    logic [UB-1:0]        cat;
    assign cat = {beat_i, sh_q};

    always_comb begin
      sb_d = sb_q;
      bk_d = bk_q;
      row_d = row_q;
      sh_d = sh_q;
      if (start_i) begin
        sb_d = '0;
        bk_d = '0;
        row_d = base_i;
      end else if (beat_valid_i) begin
        if (sb_q == SBits'(Bpu - 1)) begin
          sb_d = '0;
          if (bk_q == BBits'(D - 1)) begin
            bk_d  = '0;
            row_d = row_q + 16'd1;
          end else begin
            bk_d = bk_q + 1'b1;
          end
        end else begin
          sb_d = sb_q + 1'b1;
          sh_d = cat[UB-1:W];
        end
      end
    end

    always_ff @(posedge clk_i) begin
      if (!rst_ni) begin
        sb_q  <= '0;
        bk_q  <= '0;
        row_q <= '0;
        sh_q  <= '0;
      end else begin
        sb_q  <= sb_d;
        bk_q  <= bk_d;
        row_q <= row_d;
        sh_q  <= sh_d;
      end
    end

    for (genvar b = 0; b < D; b++) begin : g_bank
      assign we_o[b] = beat_valid_i && (sb_q == SBits'(Bpu - 1)) && (bk_q == BBits'(b));
      assign wdata_o[b*UB +: UB] = cat;
    end
  end

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert ((UB <= W) ? (W % UB == 0 && D % (W / UB) == 0) : (UB % W == 0))
      else $error("bqa_unpack: illegal UB/W/D combination");
  end
`endif
endmodule
