// bqa_regs -- read-only register file: build configuration, status, per-stage cycle counters
// (docs/hw_isa.md §5). Combinational read. Counters count cycles with run_i = 1.
module bqa_regs #(
  parameter int unsigned Dm         = 4,
  parameter int unsigned Dn         = 4,
  parameter int unsigned Dk         = 32,
  parameter int unsigned WDepth     = 512,
  parameter int unsigned ADepth     = 512,
  parameter int unsigned RqDepth    = 256,
  parameter int unsigned MemWidth   = 64,
  parameter int unsigned IqDepth    = 16,
  parameter int unsigned Lanes      = 1,
  parameter logic [63:0] ConfigHash = 64'd0,
  parameter int unsigned IsaVersion = 1      // VERSION: 2 on a build with the ISA v2 units
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        run_i,
  input  logic        done_i,
  input  logic [2:0]  f_class_i,   // {stall, idle, busy}
  input  logic [2:0]  e_class_i,
  input  logic [2:0]  r_class_i,
  input  logic        e_beat_i,
  input  logic        rd_beat_i,
  input  logic        wr_beat_i,
  input  logic [2:0]  stage_idle_i, // {result, exec, fetch}
  input  logic [31:0] tokens_i,     // {RESFREE, FREED, RESRDY, FILLED} counts, 8 bits each
  input  logic [7:0]  reg_addr_i,
  output logic [31:0] reg_rdata_o
);
  localparam int unsigned NCnt = 13;  // counter k is register 0x40 + 4k
  logic [31:0] cnt_q [NCnt];
  logic [NCnt-1:0] inc;

  assign inc = {wr_beat_i, rd_beat_i, e_beat_i, r_class_i[2], r_class_i[1], r_class_i[0],
                e_class_i[2], e_class_i[1], e_class_i[0], f_class_i[2], f_class_i[1], f_class_i[0],
                !done_i};

  for (genvar i = 0; i < NCnt; i++) begin : g_cnt
    always_ff @(posedge clk_i) begin
      if (!rst_ni)                cnt_q[i] <= '0;
      else if (run_i && inc[i])   cnt_q[i] <= cnt_q[i] + 32'd1;
    end
  end

  always_comb begin
    unique case (reg_addr_i)
      8'h00: reg_rdata_o = 32'h42514131;
      8'h04: reg_rdata_o = 32'(IsaVersion);
      8'h08: reg_rdata_o = 32'(Dm);
      8'h0C: reg_rdata_o = 32'(Dn);
      8'h10: reg_rdata_o = 32'(Dk);
      8'h14: reg_rdata_o = 32'd32;
      8'h18: reg_rdata_o = 32'(WDepth);
      8'h1C: reg_rdata_o = 32'(ADepth);
      8'h20: reg_rdata_o = 32'(RqDepth);
      8'h24: reg_rdata_o = 32'(MemWidth);
      8'h28: reg_rdata_o = 32'(IqDepth);
      8'h2C: reg_rdata_o = 32'(Lanes);
      8'h30: reg_rdata_o = ConfigHash[31:0];
      8'h34: reg_rdata_o = ConfigHash[63:32];
      8'h38: reg_rdata_o = {8'd0, tokens_i[15:8], tokens_i[7:0], 4'd0, stage_idle_i, done_i};
      8'h3C: reg_rdata_o = {16'd0, tokens_i[31:24], tokens_i[23:16]};
      8'h40: reg_rdata_o = cnt_q[0];
      8'h44: reg_rdata_o = cnt_q[1];   // F_BUSY
      8'h48: reg_rdata_o = cnt_q[2];   // F_IDLE
      8'h4C: reg_rdata_o = cnt_q[3];   // F_STALL
      8'h50: reg_rdata_o = cnt_q[4];
      8'h54: reg_rdata_o = cnt_q[5];
      8'h58: reg_rdata_o = cnt_q[6];
      8'h5C: reg_rdata_o = cnt_q[7];
      8'h60: reg_rdata_o = cnt_q[8];
      8'h64: reg_rdata_o = cnt_q[9];
      8'h68: reg_rdata_o = cnt_q[10];  // E_BEATS
      8'h6C: reg_rdata_o = cnt_q[11];  // MEM_RD_BEATS
      8'h70: reg_rdata_o = cnt_q[12];  // MEM_WR_BEATS
      default: reg_rdata_o = 32'd0;
    endcase
  end

  // ---- assertions ----
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni && run_i) begin
      assert ($onehot(f_class_i)) else $error("bqa_regs: fetch cycle class not one-hot");
      assert ($onehot(e_class_i)) else $error("bqa_regs: exec cycle class not one-hot");
      assert ($onehot(r_class_i)) else $error("bqa_regs: result cycle class not one-hot");
    end
  end
`endif
endmodule
