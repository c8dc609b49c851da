// bqa_dpu -- one bit-serial dot-product unit.
//   stage 1 (cycle c+1 of a beat issued in c): w_i, a_i are the bank words; pc = popcount(w & a),
//            registered.
//   stage 2 (c+2): term = pc << shift, negated if neg; acc = (clear ? 0 : acc) + term (mod 2^32);
//            if commit, the same new value is also copied into the result register res_o.
// The stage-2 control (s2_*) comes from the array's shared control pipeline. en=0 adds nothing
// (clear still clears). res_o is the "result slot" the output stage reads while acc continues.
module bqa_dpu #(
  parameter int unsigned Dk      = 32,
  parameter int unsigned AccBits = 32
) (
  input  logic               clk_i,
  input  logic               rst_ni,
  input  logic [Dk-1:0]      w_i,
  input  logic [Dk-1:0]      a_i,
  input  logic               s2_valid_i,
  input  logic               s2_clear_i,
  input  logic               s2_en_i,
  input  logic               s2_neg_i,
  input  logic [3:0]         s2_shift_i,
  input  logic               s2_commit_i,
  output logic [AccBits-1:0] acc_o,
  output logic [AccBits-1:0] res_o
);
  localparam int unsigned PcBits = $clog2(Dk + 1);

  // Balanced adder tree: level by level, pairs of partial sums.
  function automatic logic [PcBits-1:0] popcount(input logic [Dk-1:0] x);
    logic [Dk*PcBits-1:0] s;
    s = '0;
    for (int i = 0; i < Dk; i++) s[i*PcBits +: PcBits] = {{(PcBits-1){1'b0}}, x[i]};
    for (int w = Dk / 2; w >= 1; w = w / 2) begin
      for (int i = 0; i < w; i++) begin
        s[i*PcBits +: PcBits] = s[(2*i)*PcBits +: PcBits] + s[(2*i+1)*PcBits +: PcBits];
      end
    end
    popcount = s[PcBits-1:0];
  endfunction

  logic [PcBits-1:0]  pc_q;
  logic [AccBits-1:0] acc_q, acc_d, res_q, res_d, term;

  always_comb begin
    term  = s2_en_i ? (AccBits'(pc_q) << s2_shift_i) : '0;
    if (s2_neg_i) term = -term;
    acc_d = acc_q;
    res_d = res_q;
    if (s2_valid_i) begin
      acc_d = (s2_clear_i ? '0 : acc_q) + term;
      if (s2_commit_i) res_d = acc_d;
    end
  end

  logic [PcBits-1:0] pc_d;
`ifdef VERILATOR
  assign pc_d = PcBits'($countones(w_i & a_i));  // same function, faster simulation
`else
  assign pc_d = popcount(w_i & a_i);
`endif

  always_ff @(posedge clk_i) begin
    pc_q <= pc_d;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      acc_q <= '0;
      res_q <= '0;
    end else begin
      acc_q <= acc_d;
      res_q <= res_d;
    end
  end

  assign acc_o = acc_q;
  assign res_o = res_q;

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (Dk >= 8 && (Dk & (Dk - 1)) == 0) else $error("bqa_dpu: Dk must be a power of two >= 8");
    assert (AccBits >= PcBits + 15) else $error("bqa_dpu: AccBits too small for popcount << 14");
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni && s2_valid_i) assert (s2_shift_i <= 4'd14) else $error("bqa_dpu: shift > 14");
  end
`endif
endmodule
