// bqa_fmax_win -- Fmax fixture (not part of the accelerator): bqa_win between flip-flops on the
// iCE40 HX8K, which has too few pins for the unit's ports. Every input of the unit comes from one
// shift register (serial in, so nothing is constant and nothing is optimised away), every output is
// registered and the registers are XOR-folded into one pin, so nextpnr's critical path is the
// unit's own register-to-register path (docs/whole_network.md §6: the iCE40 Fmax of v2 per unit).
// Parameters: the tiny-like unit of §8.
module bqa_fmax_win #(
  parameter int unsigned Dn          = 2,
  parameter int unsigned Dk          = 64,
  parameter int unsigned W           = 64,
  parameter int unsigned AAddrBits   = 8,
  parameter int unsigned WindowBytes = 2048
) (
  input  logic clk_i,
  input  logic rst_ni,
  input  logic sdata_i,   // serial data shifted into the unit's inputs
  output logic fold_o     // XOR of the registered outputs
);
  // inputs: setup 1 + geometry 10*3 + 4*5 + 12*4 + 8 + start 1 + dram 32 + pix0 32 + kc0 10 +
  // t 16 + nplanes 3 + buf_base 16 + keep 1 + grant 1 + rvalid 1 + rdata W
  localparam int unsigned InBits  = 1 + 30 + 20 + 48 + 8 + 1 + 32 + 32 + 10 + 16 + 3 + 16 + 1 + 1 + 1 + W;
  localparam int unsigned OutBits = 1 + 1 + 1 + 32 + 16 + Dn + AAddrBits + Dn * Dk + 3;

  logic [InBits-1:0]  in_q;
  logic [OutBits-1:0] out_d, out_q;

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

  bqa_win #(.Dn(Dn), .Dk(Dk), .W(W), .AAddrBits(AAddrBits), .WindowBytes(WindowBytes)) u_win (
    .clk_i(clk_i), .rst_ni(rst_ni),
    .setup_i(in_q[0]), .hi_i(in_q[10:1]), .wi_i(in_q[20:11]), .wo_i(in_q[30:21]),
    .kh_i(in_q[34:31]), .kw_i(in_q[38:35]), .stride_i(in_q[42:39]), .pad_t_i(in_q[46:43]),
    .pad_l_i(in_q[50:47]), .cs_i(in_q[62:51]), .ch_base_i(in_q[74:63]), .ch_lo_i(in_q[86:75]),
    .ch_hi_i(in_q[98:87]), .z_a_i(in_q[106:99]),
    .start_i(in_q[107]), .dram_addr_i(in_q[139:108]), .pix0_i(in_q[171:140]),
    .kc0_i(in_q[181:172]), .t_i(in_q[197:182]), .nplanes_m1_i(in_q[200:198]),
    .buf_base_i(in_q[216:201]), .keep_i(in_q[217]),
    .free_o(out_d[0]), .complete_o(out_d[1]),
    .req_valid_o(out_d[2]), .req_addr_o(out_d[34:3]), .req_beats_o(out_d[50:35]),
    .req_grant_i(in_q[218]), .rvalid_i(in_q[219]), .rdata_i(in_q[220 +: W]),
    .a_we_o(out_d[51 +: Dn]), .a_row_o(out_d[51 + Dn +: AAddrBits]),
    .a_wdata_o(out_d[51 + Dn + AAddrBits +: Dn * Dk]),
    .busy_o(out_d[OutBits-3]), .stall_o(out_d[OutBits-2]), .idle_o(out_d[OutBits-1]));
endmodule
