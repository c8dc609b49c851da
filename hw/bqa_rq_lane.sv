// bqa_rq_lane -- one requantisation lane of the output stage (docs/numerics.md §2-§3, hw_isa.md §1).
// Six phases per element, operands held stable by the caller for all six:
//   ph0:     acc0 = acc - z_w*asum + bias_eff            (int32, mod 2^32); t = 0
//   ph1..4:  t = (t << 8) + acc0*m_acc.byte[4-ph] + rr*m_res.byte[4-ph]   (int64, MSB digit first)
//            rr = q_r - z_r if res_en else 0
//   ph5:     (combinational outputs) y = (t + 2^(sh-1)) >>> sh; q = min(max(y + z_o, lo), hi)
// So t = acc0*m_acc + rr*m_res with one shared 32x8 multiplier.
module bqa_rq_lane (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        en_i,      // advance: phase ph_i is executed in this cycle
  input  logic [2:0]  ph_i,
  input  logic [31:0] acc_i,
  input  logic [31:0] asum_i,
  input  logic [31:0] bias_i,
  input  logic [31:0] macc_i,
  input  logic [31:0] mres_i,
  input  logic [7:0]  zw_i,
  input  logic [5:0]  sh_i,
  input  logic        res_en_i,
  input  logic [7:0]  qr_i,
  input  logic [7:0]  zr_i,
  input  logic [7:0]  zo_i,
  input  logic [7:0]  lo_i,
  input  logic [7:0]  hi_i,
  output logic [31:0] acc0_o,
  output logic [7:0]  q_o
);
  logic [31:0] acc0_q, acc0_d;
  logic [63:0] t_q, t_d;

  // shared 32 x 8 multiplier (signed x unsigned)
  logic [31:0] mul_a;
  logic [7:0]  mul_b, mres_b;
  logic [39:0] prod;
  logic [8:0]  rr;
  logic [16:0] rprod;

  always_comb begin
    unique case (ph_i)
      3'd1:    begin mul_b = macc_i[31:24]; mres_b = mres_i[31:24]; end
      3'd2:    begin mul_b = macc_i[23:16]; mres_b = mres_i[23:16]; end
      3'd3:    begin mul_b = macc_i[15:8];  mres_b = mres_i[15:8];  end
      3'd4:    begin mul_b = macc_i[7:0];   mres_b = mres_i[7:0];   end
      default: begin mul_b = zw_i;          mres_b = 8'd0;          end
    endcase
    mul_a = (ph_i == 3'd0) ? asum_i : acc0_q;
    prod  = 40'($signed(mul_a) * $signed({1'b0, mul_b}));
    rr    = res_en_i ? ({1'b0, qr_i} - {1'b0, zr_i}) : 9'd0;
    rprod = 17'($signed(rr) * $signed({1'b0, mres_b}));
  end

  always_comb begin
    acc0_d = acc0_q;
    t_d    = t_q;
    if (en_i) begin
      if (ph_i == 3'd0) begin
        acc0_d = acc_i - prod[31:0] + bias_i;
        t_d    = '0;
      end else if (ph_i <= 3'd4) begin
        t_d = {t_q[55:0], 8'd0} + {{24{prod[39]}}, prod} + {{47{rprod[16]}}, rprod};
      end
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      acc0_q <= '0;
      t_q    <= '0;
    end else begin
      acc0_q <= acc0_d;
      t_q    <= t_d;
    end
  end

  // ph5: round, shift, zero point, clamp (combinational from t_q)
  logic [63:0] rnd, y, v, m;
  always_comb begin
    rnd = (sh_i == 6'd0) ? 64'd0 : (64'd1 << (sh_i - 6'd1));
    y   = $signed(t_q + rnd) >>> sh_i;
    v   = y + {56'd0, zo_i};
    m   = ($signed(v) < $signed({56'd0, lo_i})) ? {56'd0, lo_i} : v;
    m   = ($signed(m) > $signed({56'd0, hi_i})) ? {56'd0, hi_i} : m;
  end

  assign acc0_o = acc0_q;
  assign q_o    = m[7:0];

  logic unused_bits;
  assign unused_bits = ^{prod[39:32], m[63:8]};

  // ---- assertions ----
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni && en_i) assert (ph_i <= 3'd5) else $error("bqa_rq_lane: illegal phase");
  end
`endif
endmodule
