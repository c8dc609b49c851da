// bqa_dpu -- one bit-serial dot-product unit.
//   stage 1 (cycle c+1 of a beat issued in c): w_i, a_i are the bank words; pc = popcount(w & a),
//            registered.
//   stage 2 (c+2): term = pc << shift, negated if neg; acc = (clear ? 0 : acc) + term (mod 2^32);
//            if commit, the same new value is also copied into the result register res_o.
// The stage-2 control (s2_*) comes from the array's shared control pipeline. en=0 adds nothing
// (clear still clears). res_o is the "result slot" the output stage reads while acc continues.
// Area (iCE40 has 4-input LUTs and one carry chain per LC): the popcount starts with 4-bit groups
// in plain logic (one LUT per count bit), the shift is only PcBits+14 bits wide, and the negation
// is folded into the accumulator's adder (acc + ~t + 1, the +1 as carry-in), so one carry chain.
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
  localparam int unsigned TBits  = PcBits + 14;       // pc << 14 fits
  localparam int unsigned Groups = Dk / 4;

  // 4-bit groups counted in logic (3 bits each), then a balanced adder tree over the groups.
  function automatic logic [PcBits-1:0] popcount(input logic [Dk-1:0] x);
    logic [Groups*PcBits-1:0] s;
    logic p, q, a, b;
    s = '0;
    for (int g = 0; g < Groups; g++) begin
      p = x[4*g] & x[4*g+1];
      a = x[4*g] ^ x[4*g+1];
      q = x[4*g+2] & x[4*g+3];
      b = x[4*g+2] ^ x[4*g+3];
      s[g*PcBits +: PcBits] = PcBits'({(p & q) | ((p ^ q) & a & b), p ^ q ^ (a & b), a ^ b});
    end
    for (int w = Groups / 2; w >= 1; w = w / 2) begin
      for (int i = 0; i < w; i++) begin
        s[i*PcBits +: PcBits] = s[(2*i)*PcBits +: PcBits] + s[(2*i+1)*PcBits +: PcBits];
      end
    end
    popcount = s[PcBits-1:0];
  endfunction

  logic [PcBits-1:0]  pc_q, pc_en;
  logic [TBits-1:0]   mag;
  logic [AccBits-1:0] acc_q, acc_d, res_q, res_d, base, addend;
  logic [AccBits:0]   sum;

  always_comb begin
    pc_en  = s2_en_i ? pc_q : '0;
    mag    = TBits'(pc_en) << s2_shift_i;
    // -mag = ~mag + 1: the ones' complement here, the +1 enters as the adder's carry-in
    addend = {{(AccBits-TBits){s2_neg_i}}, mag ^ {TBits{s2_neg_i}}};
    base   = s2_clear_i ? '0 : acc_q;
    sum    = {base, 1'b1} + {addend, s2_neg_i};
    acc_d  = acc_q;
    res_d  = res_q;
    if (s2_valid_i) begin
      acc_d = sum[AccBits:1];
      if (s2_commit_i) res_d = acc_d;
    end
  end

  logic [PcBits-1:0] pc_d;
`ifdef VERILATOR
`ifndef BQA_TREE_POPCOUNT
  assign pc_d = PcBits'($countones(w_i & a_i));  // same function, faster simulation
`else
  assign pc_d = popcount(w_i & a_i);             // the synthesised tree (test_dpu checks it too)
`endif
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

  logic unused_bits;
  assign unused_bits = sum[0];

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
