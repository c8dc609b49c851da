// bqa_token -- a token FIFO between two stages (tokens carry no data, so it is a counter).
// A token pushed in cycle c is visible (`avail_o`) from cycle c+1. Count resets to 0, max 255.
module bqa_token #(
  parameter int unsigned Bits = 8
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  input  logic            push_i,
  input  logic            pop_i,
  output logic            avail_o,
  output logic [Bits-1:0] count_o
);
  logic [Bits-1:0] cnt_q, cnt_d;

  always_comb begin
    cnt_d = cnt_q;
    if (push_i && !pop_i) cnt_d = cnt_q + 1'b1;
    if (pop_i && !push_i) cnt_d = cnt_q - 1'b1;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) cnt_q <= '0;
    else         cnt_q <= cnt_d;
  end

  assign avail_o = (cnt_q != '0);
  assign count_o = cnt_q;

  // ---- assertions ----
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      assert (!(pop_i && cnt_q == '0)) else $error("bqa_token: pop without token");
      assert (!(push_i && !pop_i && cnt_q == '1)) else $error("bqa_token: token counter overflow");
    end
  end
`endif
endmodule
