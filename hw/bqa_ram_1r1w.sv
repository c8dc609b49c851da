// bqa_ram_1r1w -- simple dual-port RAM: one synchronous write port, one synchronous read port.
// Read data appears in the cycle after `re_i` (registered) and holds until the next read.
// Used for the weight banks, activation banks and requant banks (maps to BRAM).
module bqa_ram_1r1w #(
  parameter int unsigned Width    = 32,
  parameter int unsigned Depth    = 512,
  parameter int unsigned AddrBits = (Depth > 1) ? $clog2(Depth) : 1
) (
  input  logic                clk_i,
  input  logic                we_i,
  input  logic [AddrBits-1:0] waddr_i,
  input  logic [Width-1:0]    wdata_i,
  input  logic                re_i,
  input  logic [AddrBits-1:0] raddr_i,
  output logic [Width-1:0]    rdata_o
);
  logic [Width-1:0] mem_q [Depth];
  logic [Width-1:0] rdata_q;

  always_ff @(posedge clk_i) begin
    if (we_i) mem_q[waddr_i] <= wdata_i;
  end

  always_ff @(posedge clk_i) begin
    if (re_i) rdata_q <= mem_q[raddr_i];
  end

  assign rdata_o = rdata_q;

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (Depth >= 2 && (1 << AddrBits) >= Depth) else $error("bqa_ram_1r1w: bad Depth/AddrBits");
  end
`endif
endmodule
