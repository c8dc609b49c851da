// bqa_array -- Dm x Dn DPUs plus one asum DPU per column, with the shared control pipeline.
// Control of a beat enters in its issue cycle c (iss_*), travels to stage 1 (c+1, bank data
// w_words_i / a_words_i valid) and stage 2 (c+2, accumulate). See docs/hw_isa.md §1, §4.3.
//   res_o   [(mi*Dn + ni)*32 +: 32] = result slot of DPU (mi, ni)
//   asum_o  [ni*32 +: 32]           = result slot of the asum unit of column ni
//   resrdy_o pulses in stage 2 of a beat that carries the RESRDY signal (token push).
module bqa_array #(
  parameter int unsigned Dm = 4,
  parameter int unsigned Dn = 4,
  parameter int unsigned Dk = 32
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  // issue-cycle control
  input  logic                 iss_valid_i,
  input  logic                 iss_clear_i,
  input  logic                 iss_en_i,
  input  logic [3:0]           iss_shift_i,
  input  logic                 iss_neg_i,
  input  logic                 iss_asum_en_i,
  input  logic [2:0]           iss_asum_shift_i,
  input  logic                 iss_asum_neg_i,
  input  logic                 iss_commit_i,
  input  logic                 iss_resrdy_i,
  // stage-1 bank data
  input  logic [Dm*Dk-1:0]     w_words_i,
  input  logic [Dn*Dk-1:0]     a_words_i,
  // outputs
  output logic [Dm*Dn*32-1:0]  res_o,
  output logic [Dn*32-1:0]     asum_o,
  output logic                 resrdy_o,
  output logic                 busy_o
);
  localparam int unsigned CtlBits = 1 + 1 + 1 + 4 + 1 + 1 + 3 + 1 + 1 + 1;

  logic [CtlBits-1:0] ctl_iss, ctl_q1, ctl_q2;
  assign ctl_iss = {iss_valid_i, iss_clear_i, iss_en_i, iss_shift_i, iss_neg_i, iss_asum_en_i,
                    iss_asum_shift_i, iss_asum_neg_i, iss_commit_i, iss_resrdy_i};

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      ctl_q1 <= '0;
      ctl_q2 <= '0;
    end else begin
      ctl_q1 <= ctl_iss;
      ctl_q2 <= ctl_q1;
    end
  end

  logic       s2_valid, s2_clear, s2_en, s2_neg, s2_asum_en, s2_asum_neg, s2_commit, s2_resrdy;
  logic [3:0] s2_shift;
  logic [2:0] s2_asum_shift;
  assign {s2_valid, s2_clear, s2_en, s2_shift, s2_neg, s2_asum_en, s2_asum_shift, s2_asum_neg,
          s2_commit, s2_resrdy} = ctl_q2;

  for (genvar mi = 0; mi < Dm; mi++) begin : g_row
    for (genvar ni = 0; ni < Dn; ni++) begin : g_col
      logic [31:0] acc_unused;
      bqa_dpu #(.Dk(Dk), .AccBits(32)) u_dpu (
        .clk_i      (clk_i),
        .rst_ni     (rst_ni),
        .w_i        (w_words_i[mi*Dk +: Dk]),
        .a_i        (a_words_i[ni*Dk +: Dk]),
        .s2_valid_i (s2_valid),
        .s2_clear_i (s2_clear),
        .s2_en_i    (s2_en),
        .s2_neg_i   (s2_neg),
        .s2_shift_i (s2_shift),
        .s2_commit_i(s2_commit),
        .acc_o      (acc_unused),
        .res_o      (res_o[(mi*Dn + ni)*32 +: 32])
      );
    end
  end

  for (genvar ni = 0; ni < Dn; ni++) begin : g_asum
    logic [31:0] acc_unused;
    bqa_dpu #(.Dk(Dk), .AccBits(32)) u_asum (
      .clk_i      (clk_i),
      .rst_ni     (rst_ni),
      .w_i        ({Dk{1'b1}}),
      .a_i        (a_words_i[ni*Dk +: Dk]),
      .s2_valid_i (s2_valid),
      .s2_clear_i (s2_clear),
      .s2_en_i    (s2_asum_en),
      .s2_neg_i   (s2_asum_neg),
      .s2_shift_i ({1'b0, s2_asum_shift}),
      .s2_commit_i(s2_commit),
      .acc_o      (acc_unused),
      .res_o      (asum_o[ni*32 +: 32])
    );
  end

  assign resrdy_o = s2_valid && s2_resrdy;
  assign busy_o   = ctl_q1[CtlBits-1] || ctl_q2[CtlBits-1];

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (Dm >= 1 && Dn >= 1) else $error("bqa_array: Dm, Dn must be >= 1");
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni && iss_valid_i) begin
      assert (iss_shift_i <= 4'd14) else $error("bqa_array: shift > 14");
      assert (!(iss_commit_i && !iss_en_i)) else $error("bqa_array: commit on a non-RUN beat");
    end
  end
`endif
endmodule
