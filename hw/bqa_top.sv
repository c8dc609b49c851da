// bqa_top -- BISMO/Loom-style bit-serial GEMM accelerator (docs/hw_isa.md, docs/hw_rtl.md).
// Fetch / execute / result stages, each with an instruction queue, decoupled by four token FIFOs;
// Dm x Dn array of DPUs (+ Dn asum units); weight, activation and requant banks; one memory port.
// ISA v2 (docs/whole_network.md): WindowBytes > 0 gives fetch its window unit, BlockChannels > 0
// gives result CODES mode; with either a 5th token FIFO WRITTEN (result sig1 -> fetch wait1) is
// built. Both 0 (the default): exactly the v1 accelerator.
// Parameter defaults come from the generated header build/gen/<cfg>/hw_params.svh (compile with
// -Ibuild/gen/<cfg>); BQ_HW_RES_LANES (default 1), BQ_HW_WINDOW_BYTES and BQ_HW_BLOCK_CHANNELS
// (default 0: the config keys buffers.window_bytes / block_channels, docs/hw_config.md) are optional.
`include "hw_params.svh"
`ifndef BQ_HW_RES_LANES
`define BQ_HW_RES_LANES 1
`endif
`ifndef BQ_HW_WINDOW_BYTES
`define BQ_HW_WINDOW_BYTES 0
`endif
`ifndef BQ_HW_BLOCK_CHANNELS
`define BQ_HW_BLOCK_CHANNELS 0
`endif

module bqa_top #(
  parameter int unsigned Dm         = `BQ_HW_DM,
  parameter int unsigned Dn         = `BQ_HW_DN,
  parameter int unsigned Dk         = `BQ_HW_DK,
  parameter int unsigned WDepth     = `BQ_HW_WEIGHT_DEPTH,
  parameter int unsigned ADepth     = `BQ_HW_ACT_DEPTH,
  parameter int unsigned RqDepth    = `BQ_HW_REQUANT_DEPTH,
  parameter int unsigned MemWidth   = `BQ_HW_MEM_WIDTH_BITS,
  parameter int unsigned Lanes      = `BQ_HW_RES_LANES,
  parameter int unsigned IqDepth    = 16,
  parameter int unsigned WindowBytes   = `BQ_HW_WINDOW_BYTES,   // fetch window buffer bytes (0: no window unit)
  parameter int unsigned BlockChannels = `BQ_HW_BLOCK_CHANNELS, // result block-buffer bytes per pixel (0: no CODES mode)
  parameter logic [63:0] ConfigHash = `BQ_HW_CONFIG_HASH
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                run_i,
  input  logic                fq_valid_i,
  output logic                fq_ready_o,
  input  logic [bqa_pkg::InstrBits-1:0] fq_data_i,
  input  logic                eq_valid_i,
  output logic                eq_ready_o,
  input  logic [bqa_pkg::InstrBits-1:0] eq_data_i,
  input  logic                rq_valid_i,
  output logic                rq_ready_o,
  input  logic [bqa_pkg::InstrBits-1:0] rq_data_i,
  output logic                mem_req_valid_o,
  input  logic                mem_req_ready_i,
  output logic                mem_req_write_o,
  output logic [31:0]         mem_req_addr_o,
  output logic [15:0]         mem_req_beats_o,
  input  logic                mem_rvalid_i,
  input  logic [MemWidth-1:0] mem_rdata_i,
  output logic                mem_wvalid_o,
  input  logic                mem_wready_i,
  output logic [MemWidth-1:0] mem_wdata_o,
  input  logic                mem_wdone_i,
  input  logic [7:0]          reg_addr_i,
  output logic [31:0]         reg_rdata_o,
  output logic                done_o
);
  localparam int unsigned WAddrBits = $clog2(WDepth);
  localparam int unsigned AAddrBits = $clog2(ADepth);
  localparam int unsigned QDepth    = RqDepth / Dm;
  localparam int unsigned QAddrBits = (QDepth > 1) ? $clog2(QDepth) : 1;
  localparam int unsigned QCntBits  = $clog2(IqDepth + 1);

  // ---- instruction queues ----
  logic         fh_valid, eh_valid, rh_valid, f_pop, e_pop, r_pop;
  // queue heads as the instruction structs of build/gen/bqa_pkg.sv
  bqa_pkg::fetch_instr_t  fh;
  bqa_pkg::exec_instr_t   eh;
  bqa_pkg::result_instr_t rh;
  logic [QCntBits-1:0] fq_cnt, eq_cnt, rq_cnt;

  bqa_fifo #(.Width(bqa_pkg::InstrBits), .Depth(IqDepth)) u_fq (
    .clk_i(clk_i), .rst_ni(rst_ni), .push_i(fq_valid_i && fq_ready_o), .data_i(fq_data_i),
    .ready_o(fq_ready_o), .pop_i(f_pop), .valid_o(fh_valid), .head_o(fh), .count_o(fq_cnt));
  bqa_fifo #(.Width(bqa_pkg::InstrBits), .Depth(IqDepth)) u_eq (
    .clk_i(clk_i), .rst_ni(rst_ni), .push_i(eq_valid_i && eq_ready_o), .data_i(eq_data_i),
    .ready_o(eq_ready_o), .pop_i(e_pop), .valid_o(eh_valid), .head_o(eh), .count_o(eq_cnt));
  bqa_fifo #(.Width(bqa_pkg::InstrBits), .Depth(IqDepth)) u_rq (
    .clk_i(clk_i), .rst_ni(rst_ni), .push_i(rq_valid_i && rq_ready_o), .data_i(rq_data_i),
    .ready_o(rq_ready_o), .pop_i(r_pop), .valid_o(rh_valid), .head_o(rh), .count_o(rq_cnt));

  // ---- token FIFOs ----
  logic filled_push, filled_pop, filled_avail;
  logic freed_push, freed_pop, freed_avail;
  logic resrdy_push, resrdy_pop, resrdy_avail;
  logic resfree_push, resfree_pop, resfree_avail;
  logic [7:0] filled_cnt, freed_cnt, resrdy_cnt, resfree_cnt;

  bqa_token u_tok_filled (.clk_i(clk_i), .rst_ni(rst_ni), .push_i(filled_push), .pop_i(filled_pop),
                          .avail_o(filled_avail), .count_o(filled_cnt));
  bqa_token u_tok_freed (.clk_i(clk_i), .rst_ni(rst_ni), .push_i(freed_push), .pop_i(freed_pop),
                         .avail_o(freed_avail), .count_o(freed_cnt));
  bqa_token u_tok_resrdy (.clk_i(clk_i), .rst_ni(rst_ni), .push_i(resrdy_push), .pop_i(resrdy_pop),
                          .avail_o(resrdy_avail), .count_o(resrdy_cnt));
  bqa_token u_tok_resfree (.clk_i(clk_i), .rst_ni(rst_ni), .push_i(resfree_push),
                           .pop_i(resfree_pop), .avail_o(resfree_avail), .count_o(resfree_cnt));

  // ---- memory arbiter ----
  logic        f_req_valid, f_grant, f_rvalid;
  logic [31:0] f_req_addr;
  logic [15:0] f_req_beats;
  logic        r_req_valid, r_req_write, r_grant, r_rvalid;
  logic [31:0] r_req_addr;
  logic [15:0] r_req_beats;
  logic        arb_busy;

  bqa_mem_arb u_arb (
    .clk_i(clk_i), .rst_ni(rst_ni),
    .f_req_valid_i(f_req_valid), .f_req_addr_i(f_req_addr), .f_req_beats_i(f_req_beats),
    .f_grant_o(f_grant), .f_rvalid_o(f_rvalid),
    .r_req_valid_i(r_req_valid), .r_req_write_i(r_req_write), .r_req_addr_i(r_req_addr),
    .r_req_beats_i(r_req_beats), .r_grant_o(r_grant), .r_rvalid_o(r_rvalid),
    .mem_req_valid_o(mem_req_valid_o), .mem_req_ready_i(mem_req_ready_i),
    .mem_req_write_o(mem_req_write_o), .mem_req_addr_o(mem_req_addr_o),
    .mem_req_beats_o(mem_req_beats_o), .mem_rvalid_i(mem_rvalid_i), .mem_wdone_i(mem_wdone_i),
    .busy_o(arb_busy));

  // ---- fetch stage + banks ----
  logic [Dm-1:0]        w_we, q_we;
  logic [Dn-1:0]        a_we;
  logic [WAddrBits-1:0] w_row, w_raddr;
  logic [AAddrBits-1:0] a_row, a_raddr;
  logic [QAddrBits-1:0] q_row, q_raddr;
  logic [Dm*Dk-1:0]     w_wdata, w_rdata;
  logic [Dn*Dk-1:0]     a_wdata, a_rdata;
  logic [Dm*128-1:0]    q_wdata, q_rdata;
  logic                 bank_re, q_re;
  logic                 f_busy, f_stall, f_idle, f_active;

  // WRITTEN (ISA v2): result's sig1 -> fetch's wait1, so a layer starts after the last write of the
  // previous one (docs/whole_network.md §4.5). v1 (both parameters 0): no FIFO, fetch ignores wait1.
  logic written_push, written_pop, written_avail;
  logic [7:0] written_cnt;
  if (WindowBytes > 0 || BlockChannels > 0) begin : g_written
    bqa_token u_tok_written (.clk_i(clk_i), .rst_ni(rst_ni), .push_i(written_push),
                             .pop_i(written_pop), .avail_o(written_avail), .count_o(written_cnt));
  end else begin : g_nowritten
    assign written_avail = 1'b1;
    assign written_cnt   = '0;
  end

  bqa_fetch #(.Dm(Dm), .Dn(Dn), .Dk(Dk), .W(MemWidth), .WAddrBits(WAddrBits),
              .AAddrBits(AAddrBits), .QAddrBits(QAddrBits), .WindowBytes(WindowBytes)) u_fetch (
    .clk_i(clk_i), .rst_ni(rst_ni), .run_i(run_i),
    .head_valid_i(fh_valid), .head_i(fh), .pop_o(f_pop),
    .freed_avail_i(freed_avail), .freed_pop_o(freed_pop), .filled_push_o(filled_push),
    .written_avail_i(written_avail), .written_pop_o(written_pop),
    .req_valid_o(f_req_valid), .req_addr_o(f_req_addr), .req_beats_o(f_req_beats),
    .req_grant_i(f_grant), .rvalid_i(f_rvalid), .rdata_i(mem_rdata_i),
    .w_we_o(w_we), .w_row_o(w_row), .w_wdata_o(w_wdata),
    .a_we_o(a_we), .a_row_o(a_row), .a_wdata_o(a_wdata),
    .q_we_o(q_we), .q_row_o(q_row), .q_wdata_o(q_wdata),
    .busy_o(f_busy), .stall_o(f_stall), .idle_o(f_idle), .active_o(f_active));

  for (genvar m = 0; m < Dm; m++) begin : g_wbank
    bqa_ram_1r1w #(.Width(Dk), .Depth(WDepth)) u_ram (
      .clk_i(clk_i), .we_i(w_we[m]), .waddr_i(w_row), .wdata_i(w_wdata[m*Dk +: Dk]),
      .re_i(bank_re), .raddr_i(w_raddr), .rdata_o(w_rdata[m*Dk +: Dk]));
    bqa_ram_1r1w #(.Width(128), .Depth(QDepth)) u_qram (
      .clk_i(clk_i), .we_i(q_we[m]), .waddr_i(q_row), .wdata_i(q_wdata[m*128 +: 128]),
      .re_i(q_re), .raddr_i(q_raddr), .rdata_o(q_rdata[m*128 +: 128]));
  end
  for (genvar n = 0; n < Dn; n++) begin : g_abank
    bqa_ram_1r1w #(.Width(Dk), .Depth(ADepth)) u_ram (
      .clk_i(clk_i), .we_i(a_we[n]), .waddr_i(a_row), .wdata_i(a_wdata[n*Dk +: Dk]),
      .re_i(bank_re), .raddr_i(a_raddr), .rdata_o(a_rdata[n*Dk +: Dk]));
  end

  // ---- execute stage + array ----
  logic       iss_valid, iss_clear, iss_en, iss_neg, iss_asum_en, iss_asum_neg, iss_commit;
  logic       iss_resrdy;
  logic [3:0] iss_shift;
  logic [2:0] iss_asum_shift;
  logic       e_busy, e_stall, e_idle, e_active, arr_busy;
  logic [Dm*Dn*32-1:0] res;
  logic [Dn*32-1:0]    asum;

  bqa_exec #(.WAddrBits(WAddrBits), .AAddrBits(AAddrBits)) u_exec (
    .clk_i(clk_i), .rst_ni(rst_ni), .run_i(run_i),
    .head_valid_i(eh_valid), .head_i(eh), .pop_o(e_pop),
    .filled_avail_i(filled_avail), .filled_pop_o(filled_pop),
    .resfree_avail_i(resfree_avail), .resfree_pop_o(resfree_pop), .freed_push_o(freed_push),
    .re_o(bank_re), .waddr_o(w_raddr), .aaddr_o(a_raddr),
    .iss_valid_o(iss_valid), .iss_clear_o(iss_clear), .iss_en_o(iss_en),
    .iss_shift_o(iss_shift), .iss_neg_o(iss_neg), .iss_asum_en_o(iss_asum_en),
    .iss_asum_shift_o(iss_asum_shift), .iss_asum_neg_o(iss_asum_neg),
    .iss_commit_o(iss_commit), .iss_resrdy_o(iss_resrdy),
    .busy_o(e_busy), .stall_o(e_stall), .idle_o(e_idle), .active_o(e_active));

  bqa_array #(.Dm(Dm), .Dn(Dn), .Dk(Dk)) u_array (
    .clk_i(clk_i), .rst_ni(rst_ni),
    .iss_valid_i(iss_valid), .iss_clear_i(iss_clear), .iss_en_i(iss_en), .iss_shift_i(iss_shift),
    .iss_neg_i(iss_neg), .iss_asum_en_i(iss_asum_en), .iss_asum_shift_i(iss_asum_shift),
    .iss_asum_neg_i(iss_asum_neg), .iss_commit_i(iss_commit), .iss_resrdy_i(iss_resrdy),
    .w_words_i(w_rdata), .a_words_i(a_rdata),
    .res_o(res), .asum_o(asum), .resrdy_o(resrdy_push), .busy_o(arr_busy));

  // ---- result stage ----
  logic r_busy, r_stall, r_idle, r_active;

  bqa_result #(.Dm(Dm), .Dn(Dn), .W(MemWidth), .Lanes(Lanes), .QAddrBits(QAddrBits),
               .BlockChannels(BlockChannels)) u_result (
    .clk_i(clk_i), .rst_ni(rst_ni), .run_i(run_i),
    .head_valid_i(rh_valid), .head_i(rh), .pop_o(r_pop),
    .resrdy_avail_i(resrdy_avail), .resrdy_pop_o(resrdy_pop), .resfree_push_o(resfree_push),
    .written_push_o(written_push),
    .q_re_o(q_re), .q_raddr_o(q_raddr), .q_rdata_i(q_rdata),
    .res_i(res), .asum_i(asum),
    .req_valid_o(r_req_valid), .req_write_o(r_req_write), .req_addr_o(r_req_addr),
    .req_beats_o(r_req_beats), .req_grant_i(r_grant), .rvalid_i(r_rvalid),
    .rdata_i(mem_rdata_i), .wvalid_o(mem_wvalid_o), .wready_i(mem_wready_i),
    .wdata_o(mem_wdata_o), .wdone_i(mem_wdone_i),
    .busy_o(r_busy), .stall_o(r_stall), .idle_o(r_idle), .active_o(r_active));

  // ---- status, registers ----
  assign done_o = !fh_valid && !eh_valid && !rh_valid && !f_active && !e_active && !arr_busy &&
                  !r_active && !arb_busy;

  bqa_regs #(.Dm(Dm), .Dn(Dn), .Dk(Dk), .WDepth(WDepth), .ADepth(ADepth), .RqDepth(RqDepth),
             .MemWidth(MemWidth), .IqDepth(IqDepth), .Lanes(Lanes), .ConfigHash(ConfigHash),
             .IsaVersion((WindowBytes > 0) ? 2 : 1)) u_regs (
    .clk_i(clk_i), .rst_ni(rst_ni), .run_i(run_i), .done_i(done_o),
    .f_class_i({f_stall, f_idle, f_busy}), .e_class_i({e_stall, e_idle, e_busy}),
    .r_class_i({r_stall, r_idle, r_busy}),
    .e_beat_i(iss_valid && iss_en), .rd_beat_i(mem_rvalid_i),
    .wr_beat_i(mem_wvalid_o && mem_wready_i),
    .stage_idle_i({!r_active, !e_active, !f_active}),
    .tokens_i({resfree_cnt, freed_cnt, resrdy_cnt, filled_cnt}),
    .reg_addr_i(reg_addr_i), .reg_rdata_o(reg_rdata_o));

  logic unused_bits;
  assign unused_bits = ^{fq_cnt, eq_cnt, rq_cnt, written_pop, written_push, written_cnt};

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (Dk >= 8 && (Dk & (Dk - 1)) == 0) else $error("bqa_top: Dk must be a power of two >= 8");
    assert (MemWidth == 32 || MemWidth == 64 || MemWidth == 128) else $error("bqa_top: MemWidth");
    assert (Dk >= MemWidth || (MemWidth % Dk == 0 && Dm % (MemWidth / Dk) == 0 &&
                               Dn % (MemWidth / Dk) == 0)) else $error("bqa_top: Dk vs MemWidth");
    assert (RqDepth % Dm == 0 && QDepth >= 2) else $error("bqa_top: RqDepth must be a multiple of Dm, >= 2*Dm");
    assert ((1 << WAddrBits) == WDepth && (1 << AAddrBits) == ADepth)
      else $error("bqa_top: bank depths must be powers of two");
  end
`endif
endmodule
