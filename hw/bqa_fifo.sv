// bqa_fifo -- synchronous FIFO (instruction queues). Show-ahead: `head_o` is the oldest entry while
// `valid_o`; an entry pushed in cycle c is at the head from cycle c+1. Push when full is illegal
// (`ready_o` = !full), pop when empty is illegal.
module bqa_fifo #(
  parameter int unsigned Width = 128,
  parameter int unsigned Depth = 16
) (
  input  logic             clk_i,
  input  logic             rst_ni,
  input  logic             push_i,
  input  logic [Width-1:0] data_i,
  output logic             ready_o,
  input  logic             pop_i,
  output logic             valid_o,
  output logic [Width-1:0] head_o,
  output logic [$clog2(Depth+1)-1:0] count_o
);
  localparam int unsigned PtrBits = (Depth > 1) ? $clog2(Depth) : 1;
  localparam int unsigned CntBits = $clog2(Depth + 1);

  logic [Width-1:0]   mem_q [Depth];
  logic [PtrBits-1:0] wptr_q, wptr_d, rptr_q, rptr_d;
  logic [CntBits-1:0] cnt_q, cnt_d;

  always_comb begin
    wptr_d = wptr_q;
    rptr_d = rptr_q;
    cnt_d  = cnt_q;
    if (push_i) wptr_d = (wptr_q == PtrBits'(Depth - 1)) ? '0 : wptr_q + 1'b1;
    if (pop_i)  rptr_d = (rptr_q == PtrBits'(Depth - 1)) ? '0 : rptr_q + 1'b1;
    if (push_i && !pop_i) cnt_d = cnt_q + 1'b1;
    if (pop_i && !push_i) cnt_d = cnt_q - 1'b1;
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      wptr_q <= '0;
      rptr_q <= '0;
      cnt_q  <= '0;
    end else begin
      wptr_q <= wptr_d;
      rptr_q <= rptr_d;
      cnt_q  <= cnt_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (push_i) mem_q[wptr_q] <= data_i;
  end

  assign ready_o = (cnt_q != CntBits'(Depth));
  assign valid_o = (cnt_q != '0);
  assign head_o  = mem_q[rptr_q];
  assign count_o = cnt_q;

  // ---- assertions ----
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      assert (!(push_i && !ready_o)) else $error("bqa_fifo: push when full");
      assert (!(pop_i && !valid_o)) else $error("bqa_fifo: pop when empty");
    end
  end
`endif
endmodule
