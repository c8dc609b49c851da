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
  // Read and write of the same address in one cycle never happens (the regions and tokens of
  // docs/hw_isa.md separate them; asserted below), so collisions are declared don't-care: yosys then
  // maps the RAM onto a BRAM without read-first bypass logic (~270 LCs per 128-bit bank on iCE40).
  (* no_rw_check *) logic [Width-1:0] mem_q [Depth];
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
  always_ff @(posedge clk_i) begin
    assert (!(we_i && re_i && waddr_i == raddr_i))
      else $error("bqa_ram_1r1w: read and write of address %0d in one cycle", raddr_i);
  end
`endif
endmodule
