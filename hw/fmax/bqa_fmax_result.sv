// bqa_fmax_result -- Fmax fixture (not part of the accelerator): bqa_result between flip-flops on
// the iCE40 HX8K, as bqa_fmax_win does for the window unit: every input from one serial shift
// register, every output registered and XOR-folded into one pin. BlockChannels 0 measures the v1
// stage, > 0 the stage with CODES mode (docs/whole_network.md §6, §10). Parameters: tiny-like.
module bqa_fmax_result #(
  parameter int unsigned Dm            = 2,
  parameter int unsigned Dn            = 2,
  parameter int unsigned W             = 64,
  parameter int unsigned Lanes         = 1,
  parameter int unsigned QAddrBits     = 8,
  parameter int unsigned BlockChannels = 64
) (
  input  logic clk_i,
  input  logic rst_ni,
  input  logic sdata_i,   // serial data shifted into the unit's inputs
  output logic fold_o     // XOR of the registered outputs
);
  localparam int unsigned IB = bqa_pkg::InstrBits;
  // inputs: run, head_valid, head, resrdy_avail, q_rdata, res, asum, grant, rvalid, rdata, wready, wdone
  localparam int unsigned OffQ    = 3 + IB;
  localparam int unsigned OffRes  = OffQ + Dm * 128;
  localparam int unsigned OffAsum = OffRes + Dm * Dn * 32;
  localparam int unsigned OffMem  = OffAsum + Dn * 32;
  localparam int unsigned InBits  = OffMem + 4 + W;
  // outputs: pop, resrdy_pop, resfree_push, written_push, q_re, q_raddr, req valid/write/addr/beats,
  // wvalid, wdata, busy, stall, idle, active
  localparam int unsigned OutBits = 5 + QAddrBits + 2 + 32 + 16 + 1 + W + 4;

  logic [InBits-1:0]  in_q;
  logic [OutBits-1:0] out_d, out_q;
  bqa_pkg::result_instr_t head;
  assign head = in_q[2 +: IB];

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      in_q   <= '0;
      out_q  <= '0;
      fold_o <= 1'b0;
    end else begin
      in_q   <= {in_q[InBits-2:0], sdata_i};
      out_q  <= out_d;
      fold_o <= ^out_q;
    end
  end

  bqa_result #(.Dm(Dm), .Dn(Dn), .W(W), .Lanes(Lanes), .QAddrBits(QAddrBits),
               .BlockChannels(BlockChannels)) u_result (
    .clk_i(clk_i), .rst_ni(rst_ni), .run_i(in_q[0]),
    .head_valid_i(in_q[1]), .head_i(head), .pop_o(out_d[0]),
    .resrdy_avail_i(in_q[2 + IB]), .resrdy_pop_o(out_d[1]), .resfree_push_o(out_d[2]),
    .written_push_o(out_d[3]),
    .q_re_o(out_d[4]), .q_raddr_o(out_d[5 +: QAddrBits]), .q_rdata_i(in_q[OffQ +: Dm * 128]),
    .res_i(in_q[OffRes +: Dm * Dn * 32]), .asum_i(in_q[OffAsum +: Dn * 32]),
    .req_valid_o(out_d[5 + QAddrBits]), .req_write_o(out_d[6 + QAddrBits]),
    .req_addr_o(out_d[7 + QAddrBits +: 32]), .req_beats_o(out_d[39 + QAddrBits +: 16]),
    .req_grant_i(in_q[OffMem]), .rvalid_i(in_q[OffMem + 1]), .rdata_i(in_q[OffMem + 4 +: W]),
    .wvalid_o(out_d[55 + QAddrBits]), .wready_i(in_q[OffMem + 2]),
    .wdata_o(out_d[56 + QAddrBits +: W]), .wdone_i(in_q[OffMem + 3]),
    .busy_o(out_d[OutBits-4]), .stall_o(out_d[OutBits-3]), .idle_o(out_d[OutBits-2]),
    .active_o(out_d[OutBits-1]));
endmodule
