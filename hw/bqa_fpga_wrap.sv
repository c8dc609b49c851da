// bqa_fpga_wrap -- pin-limited wrapper used only by `make fpga` (place & route on an iCE40 HX8K):
// the wide instruction, data and register ports of bqa_top are fed from a serial shift register and
// its wide outputs are XOR-reduced into registered pins, so that no logic is optimised away while
// the design fits the package's I/O. Timing is reported for register-to-register paths.
// bqa_top keeps every parameter of the configuration (array, banks, requant RAM, memory width, result
// lanes: configs/hw/tiny.yaml through hw_params.svh). Only the host-side instruction queues are 2
// deep instead of 16 (IqDepth is not a configuration value; the host reads it from register 0x28):
// 3 x 16 x 128 bits of show-ahead FIFO would need 6,144 flip-flops, most of the HX8K.
`include "hw_params.svh"

module bqa_fpga_wrap #(
  parameter int unsigned IqDepth = 2
) (
  input  logic       clk_i,
  input  logic       rst_ni,
  input  logic       run_i,
  input  logic       sin_i,
  input  logic [2:0] q_valid_i,
  input  logic [3:0] mem_in_i,     // {wdone, wready, rvalid, req_ready}
  output logic [7:0] out_o
);
  localparam int unsigned W = `BQ_HW_MEM_WIDTH_BITS;

  logic [127:0] sh_q;
  always_ff @(posedge clk_i) begin
    sh_q <= {sh_q[126:0], sin_i};
  end

  logic        fq_ready, eq_ready, rq_ready, req_valid, req_write, wvalid, done;
  logic [31:0] req_addr, reg_rdata;
  logic [15:0] req_beats;
  logic [W-1:0] wdata;

  bqa_top #(.IqDepth(IqDepth)) u_top (
    .clk_i          (clk_i),
    .rst_ni         (rst_ni),
    .run_i          (run_i),
    .fq_valid_i     (q_valid_i[0]),
    .fq_ready_o     (fq_ready),
    .fq_data_i      (sh_q),
    .eq_valid_i     (q_valid_i[1]),
    .eq_ready_o     (eq_ready),
    .eq_data_i      ({sh_q[63:0], sh_q[127:64]}),
    .rq_valid_i     (q_valid_i[2]),
    .rq_ready_o     (rq_ready),
    .rq_data_i      ({sh_q[31:0], sh_q[127:32]}),
    .mem_req_valid_o(req_valid),
    .mem_req_ready_i(mem_in_i[0]),
    .mem_req_write_o(req_write),
    .mem_req_addr_o (req_addr),
    .mem_req_beats_o(req_beats),
    .mem_rvalid_i   (mem_in_i[1]),
    .mem_rdata_i    (sh_q[W-1:0]),
    .mem_wvalid_o   (wvalid),
    .mem_wready_i   (mem_in_i[2]),
    .mem_wdata_o    (wdata),
    .mem_wdone_i    (mem_in_i[3]),
    .reg_addr_i     (sh_q[7:0]),
    .reg_rdata_o    (reg_rdata),
    .done_o         (done)
  );

  logic [7:0] out_d, out_q;
  assign out_d = {fq_ready ^ eq_ready ^ rq_ready, req_valid, req_write, wvalid, done,
                  ^req_addr ^ ^req_beats, ^wdata, ^reg_rdata};
  always_ff @(posedge clk_i) begin
    out_q <= out_d;
  end
  assign out_o = out_q;
endmodule
