// bqa_fetch -- fetch stage: pops fetch instructions (docs/hw_isa.md §3.1), issues one read burst per
// plane on the memory port and writes the beats into the weight, activation or requant banks.
// Timing (§4.2): dispatch d; plane p requested from q_p (q_0 = d+1) until accepted in a_p; last beat
// l_p; q_{p+1} = l_p + 1; completion (and FILLED push) in l_{P-1}, which may dispatch the next.
// WindowBytes > 0 adds the window unit bqa_win (docs/whole_network.md §4.1-4.2, ISA v2): op SETUP
// dispatches like SYNC (completion d+1) and latches the geometry into the unit; a RUN with target
// WIN hands the memory request port and the activation-bank write port to the unit until its
// completion pulse; wait1 on any instruction waits for and pops a WRITTEN token. WindowBytes = 0:
// no unit, SETUP / WIN are illegal (assertions) and wait1 is ignored, as in ISA v1.
module bqa_fetch #(
  parameter int unsigned Dm        = 4,
  parameter int unsigned Dn        = 4,
  parameter int unsigned Dk        = 32,
  parameter int unsigned W         = 64,
  parameter int unsigned WAddrBits = 9,
  parameter int unsigned AAddrBits = 9,
  parameter int unsigned QAddrBits = 6,
  parameter int unsigned WindowBytes = 0   // window buffer bytes; 0 = no window unit (v1 only)
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 run_i,
  input  logic                 head_valid_i,
  input  bqa_pkg::fetch_instr_t head_i,  // fields: build/gen/bqa_pkg.sv (hwgen --pkg)
  output logic                 pop_o,
  input  logic                 freed_avail_i,
  output logic                 freed_pop_o,
  output logic                 filled_push_o,
  input  logic                 written_avail_i,  // WRITTEN token (wait1; only with WindowBytes > 0)
  output logic                 written_pop_o,
  // memory read requests (the arbiter accepts with req_grant_i in the same cycle)
  output logic                 req_valid_o,
  output logic [31:0]          req_addr_o,
  output logic [15:0]          req_beats_o,
  input  logic                 req_grant_i,
  input  logic                 rvalid_i,
  input  logic [W-1:0]         rdata_i,
  // bank write ports
  output logic [Dm-1:0]        w_we_o,
  output logic [WAddrBits-1:0] w_row_o,
  output logic [Dm*Dk-1:0]     w_wdata_o,
  output logic [Dn-1:0]        a_we_o,
  output logic [AAddrBits-1:0] a_row_o,
  output logic [Dn*Dk-1:0]     a_wdata_o,
  output logic [Dm-1:0]        q_we_o,
  output logic [QAddrBits-1:0] q_row_o,
  output logic [Dm*128-1:0]    q_wdata_o,
  // cycle classes
  output logic                 busy_o,
  output logic                 stall_o,
  output logic                 idle_o,
  output logic                 active_o
);
  localparam int unsigned WBeatsPerT = Dm * Dk / W;
  localparam int unsigned ABeatsPerT = Dn * Dk / W;
  localparam int unsigned QBeatsPerT = Dm * 128 / W;

  localparam bit HasWin = (WindowBytes > 0);

  typedef enum logic [2:0] {SIdle, SReq, SData, SSync, SWin} state_e;
  state_e      st_q, st_d;
  bqa_pkg::target_e tgt_q;
  logic [2:0]  pl_q, pl_d;
  logic [31:0] addr_q, addr_d, stride_q;
  logic [15:0] n_q, bcnt_q, bcnt_d;
  logic        sig0_q;

  logic        h_run, h_wait0, h_wait1, h_setup, h_win, dispatch, last_beat, complete, free;
  logic        win_complete, win_req_valid, win_busy, win_stall, win_idle;
  logic [31:0] win_req_addr;
  logic [15:0] win_req_beats;
  logic [Dn-1:0] win_a_we;
  logic [AAddrBits-1:0] win_a_row;
  logic [Dn*Dk-1:0] win_a_wdata;
  logic [Dn-1:0] u_a_we;
  logic [AAddrBits-1:0] u_a_row;
  logic [Dn*Dk-1:0] u_a_wdata;
  logic [15:0] h_t, h_n;
  assign h_run    = (head_i.head.op == bqa_pkg::OpRun);
  assign h_wait0  = head_i.head.wait0;
  // v2 only with the window unit: without it SETUP stays a SYNC-like illegal op and wait1 unused
  assign h_wait1  = HasWin && head_i.head.wait1;
  assign h_setup  = HasWin && (head_i.head.op == bqa_pkg::OpSetup);
  assign h_win    = HasWin && h_run && (head_i.target == bqa_pkg::TgtWin);
  assign h_t      = head_i.t;
  always_comb begin
    unique case (head_i.target)
      bqa_pkg::TgtW: h_n = h_t * 16'(WBeatsPerT);
      bqa_pkg::TgtA: h_n = h_t * 16'(ABeatsPerT);
      default: h_n = h_t * 16'(QBeatsPerT);
    endcase
  end

  assign last_beat = (st_q == SData) && rvalid_i && (bcnt_q == n_q - 16'd1);
  assign complete  = (last_beat && pl_q == 3'd0) || (st_q == SSync) || (st_q == SWin && win_complete);
  assign free      = (st_q == SIdle) || complete;
  assign dispatch  = run_i && head_valid_i && free && (!h_wait0 || freed_avail_i) &&
                     (!h_wait1 || written_avail_i);

  assign pop_o         = dispatch;
  assign freed_pop_o   = dispatch && h_wait0;
  assign written_pop_o = dispatch && h_wait1;
  assign filled_push_o = complete && sig0_q;

  always_comb begin
    st_d   = st_q;
    pl_d   = pl_q;
    addr_d = addr_q;
    bcnt_d = bcnt_q;
    unique case (st_q)
      SIdle: ;
      SReq:  if (req_grant_i) begin
               st_d   = SData;
               bcnt_d = '0;
             end
      SData: if (rvalid_i) begin
               bcnt_d = bcnt_q + 16'd1;
               if (last_beat) begin
                 if (pl_q == 3'd0) st_d = SIdle;
                 else begin
                   st_d   = SReq;
                   pl_d   = pl_q - 3'd1;
                   addr_d = addr_q + stride_q;
                 end
               end
             end
      SSync: st_d = SIdle;
      SWin:  if (win_complete) st_d = SIdle;
      default: st_d = SIdle;
    endcase
    if (dispatch) begin
      st_d   = h_win ? SWin : h_run ? SReq : SSync;
      pl_d   = head_i.nplanes_m1;
      addr_d = head_i.dram_addr;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      st_q   <= SIdle;
      pl_q   <= '0;
      addr_q <= '0;
      bcnt_q <= '0;
    end else begin
      st_q   <= st_d;
      pl_q   <= pl_d;
      addr_q <= addr_d;
      bcnt_q <= bcnt_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      tgt_q    <= bqa_pkg::TgtW;
      stride_q <= '0;
      n_q      <= 16'd1;
      sig0_q   <= 1'b0;
    end else if (dispatch) begin
      tgt_q    <= head_i.target;
      stride_q <= head_i.plane_stride;
      n_q      <= h_n;
      sig0_q   <= head_i.head.sig0;
    end
  end

  // the port belongs to the window unit while a WIN instruction is active
  assign req_valid_o = (st_q == SReq) || (st_q == SWin && win_req_valid);
  assign req_addr_o  = (st_q == SWin) ? win_req_addr : addr_q;
  assign req_beats_o = (st_q == SWin) ? win_req_beats : n_q;

  // ---- unpackers, one per target ----
  logic start_w, start_a, start_q;
  assign start_w = dispatch && h_run && head_i.target == bqa_pkg::TgtW;
  assign start_a = dispatch && h_run && head_i.target == bqa_pkg::TgtA;
  assign start_q = dispatch && h_run && head_i.target == bqa_pkg::TgtRq;

  logic beat_w, beat_a, beat_q;
  assign beat_w = (st_q == SData) && rvalid_i && tgt_q == bqa_pkg::TgtW;
  assign beat_a = (st_q == SData) && rvalid_i && tgt_q == bqa_pkg::TgtA;
  assign beat_q = (st_q == SData) && rvalid_i && tgt_q == bqa_pkg::TgtRq;

  bqa_unpack #(.UB(Dk), .D(Dm), .W(W), .RowBits(WAddrBits)) u_unpack_w (
    .clk_i(clk_i), .rst_ni(rst_ni), .start_i(start_w), .base_i(head_i.buf_base),
    .beat_valid_i(beat_w), .beat_i(rdata_i), .we_o(w_we_o), .row_o(w_row_o), .wdata_o(w_wdata_o)
  );
  bqa_unpack #(.UB(Dk), .D(Dn), .W(W), .RowBits(AAddrBits)) u_unpack_a (
    .clk_i(clk_i), .rst_ni(rst_ni), .start_i(start_a), .base_i(head_i.buf_base),
    .beat_valid_i(beat_a), .beat_i(rdata_i), .we_o(u_a_we), .row_o(u_a_row), .wdata_o(u_a_wdata)
  );
  // activation banks: the act unpacker, or the window unit during a WIN instruction
  assign a_we_o    = (st_q == SWin) ? win_a_we : u_a_we;
  assign a_row_o   = (st_q == SWin) ? win_a_row : u_a_row;
  assign a_wdata_o = (st_q == SWin) ? win_a_wdata : u_a_wdata;
  bqa_unpack #(.UB(128), .D(Dm), .W(W), .RowBits(QAddrBits)) u_unpack_q (
    .clk_i(clk_i), .rst_ni(rst_ni), .start_i(start_q), .base_i(head_i.buf_base),
    .beat_valid_i(beat_q), .beat_i(rdata_i), .we_o(q_we_o), .row_o(q_row_o), .wdata_o(q_wdata_o)
  );

  // ---- window unit (ISA v2) ----
  // the head's bits in the v2 views (yosys 0.23 has no type casts); declared outside g_win because
  // yosys 0.23 reads a member of a struct declared inside a generate block as an undeclared `g_win'
  bqa_pkg::fetch_setup_t hs;
  bqa_pkg::fetch_win_t   hw;
  logic [$bits(head_i)-1:0] hbits;
  assign hbits = head_i;
  assign hs = hbits;
  assign hw = hbits;
  if (HasWin) begin : g_win
    logic                  win_free;
    bqa_win #(.Dn(Dn), .Dk(Dk), .W(W), .AAddrBits(AAddrBits), .WindowBytes(WindowBytes)) u_win (
      .clk_i(clk_i), .rst_ni(rst_ni),
      .setup_i(dispatch && h_setup), .hi_i(hs.in_h), .wi_i(hs.in_w), .wo_i(hs.out_w), .kh_i(hs.kh),
      .kw_i(hs.kw), .stride_i(hs.stride), .pad_t_i(hs.pad_t), .pad_l_i(hs.pad_l), .cs_i(hs.cs),
      .ch_base_i(hs.ch_base), .ch_lo_i(hs.ch_lo), .ch_hi_i(hs.ch_hi), .z_a_i(hs.z_a),
      .start_i(dispatch && h_win), .dram_addr_i(hw.dram_addr), .pix0_i(hw.pix0), .kc0_i(hw.kc0),
      .t_i(hw.t), .nplanes_m1_i(hw.nplanes_m1), .buf_base_i(hw.buf_base), .keep_i(hw.keep),
      .free_o(win_free), .complete_o(win_complete),
      .req_valid_o(win_req_valid), .req_addr_o(win_req_addr), .req_beats_o(win_req_beats),
      .req_grant_i(req_grant_i), .rvalid_i(rvalid_i && st_q == SWin), .rdata_i(rdata_i),
      .a_we_o(win_a_we), .a_row_o(win_a_row), .a_wdata_o(win_a_wdata),
      .busy_o(win_busy), .stall_o(win_stall), .idle_o(win_idle));
    logic unused_win;
    assign unused_win = ^{win_free, win_busy, win_idle, hs.rsv_95_92, hs.rsv_63_62, hs.head, hw.head, hw.target};
  end else begin : g_nowin
    assign win_complete = 1'b0; assign win_req_valid = 1'b0; assign win_req_addr = '0;
    assign win_req_beats = '0; assign win_a_we = '0; assign win_a_row = '0; assign win_a_wdata = '0;
    assign win_busy = 1'b0; assign win_stall = 1'b0; assign win_idle = 1'b1;
    logic unused_win;
    assign unused_win = ^{win_busy, win_idle, written_avail_i, h_setup, hs, hw};
  end

  // busy/stall/idle of a WIN instruction are the unit's: it waits for the port only in its requests
  logic waiting_port;
  assign waiting_port = ((st_q == SReq) && !req_grant_i) || ((st_q == SWin) && win_stall);
  assign busy_o   = ((st_q != SIdle) && !waiting_port) || dispatch;
  assign stall_o  = waiting_port || ((st_q == SIdle) && head_valid_i && !dispatch);
  assign idle_o   = !busy_o && !stall_o;
  assign active_o = (st_q != SIdle);

  logic unused_bits;
  assign unused_bits = ^{head_i.head.rsv_7_4, head_i.head.wait1, head_i.head.rsv_11_10,
                         head_i.head.sig1, head_i.head.rsv_15_14, head_i.rsv_31_21};

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert ((Dm * Dk) % W == 0 && (Dn * Dk) % W == 0 && (Dm * 128) % W == 0)
      else $error("bqa_fetch: Dm*Dk, Dn*Dk, Dm*128 must be multiples of W");
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni && dispatch) begin
      assert (head_i.head.op <= (HasWin ? bqa_pkg::OpSetup : bqa_pkg::OpRun)) else $error("bqa_fetch: illegal op");
      if (h_run) begin
        assert (HasWin || head_i.target <= bqa_pkg::TgtRq) else $error("bqa_fetch: illegal target");
        assert (h_t != 16'd0) else $error("bqa_fetch: T = 0");
        assert (head_i.target != bqa_pkg::TgtRq || head_i.nplanes_m1 == 3'd0) else $error("bqa_fetch: RQ with P > 1");
      end
    end
    if (rst_ni) assert (!(rvalid_i && st_q != SData && st_q != SWin)) else $error("bqa_fetch: unexpected read data");
  end
`endif
endmodule
