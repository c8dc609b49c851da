// bqa_result -- result (output) stage: pops result instructions (docs/hw_isa.md §3.3), optionally
// reads a residual tile, requantises the result slot of the array with `Lanes` bqa_rq_lane units
// (6 cycles per group of Lanes elements) and writes the tile back (planes or RAW32).
// Timing (§4.4): dispatch d; [residual read from d+1]; compute s..s+C-1 (RESFREE push in s+C-1);
// write requested from s+C; completion = wdone cycle (may dispatch the next instruction).
module bqa_result #(
  parameter int unsigned Dm        = 4,
  parameter int unsigned Dn        = 4,
  parameter int unsigned W         = 64,
  parameter int unsigned Lanes     = 1,
  parameter int unsigned QAddrBits = 6
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 run_i,
  input  logic                 head_valid_i,
  input  bqa_pkg::result_instr_t head_i, // fields: build/gen/bqa_pkg.sv (hwgen --pkg)
  output logic                 pop_o,
  input  logic                 resrdy_avail_i,
  output logic                 resrdy_pop_o,
  output logic                 resfree_push_o,
  // requant banks (read)
  output logic                 q_re_o,
  output logic [QAddrBits-1:0] q_raddr_o,
  input  logic [Dm*128-1:0]    q_rdata_i,
  // result slot of the array
  input  logic [Dm*Dn*32-1:0]  res_i,
  input  logic [Dn*32-1:0]     asum_i,
  // memory
  output logic                 req_valid_o,
  output logic                 req_write_o,
  output logic [31:0]          req_addr_o,
  output logic [15:0]          req_beats_o,
  input  logic                 req_grant_i,
  input  logic                 rvalid_i,
  input  logic [W-1:0]         rdata_i,
  output logic                 wvalid_o,
  input  logic                 wready_i,
  output logic [W-1:0]         wdata_o,
  input  logic                 wdone_i,
  // cycle classes
  output logic                 busy_o,
  output logic                 stall_o,
  output logic                 idle_o,
  output logic                 active_o
);
  localparam int unsigned E      = Dm * Dn;
  localparam int unsigned TpbW   = (E + W - 1) / W;       // beats per tile plane
  localparam int unsigned TpbB   = TpbW * W;              // bits per tile plane
  localparam int unsigned RawW   = E * 32 / W;            // beats of a RAW32 tile
  localparam int unsigned RB     = 8 * TpbB;
  localparam int unsigned OB     = (8 * TpbB > E * 32) ? 8 * TpbB : E * 32;
  localparam int unsigned MBits  = (Dm > 1) ? $clog2(Dm) : 1;
  localparam int unsigned NBits  = (Dn > 1) ? $clog2(Dn) : 1;
  localparam int unsigned EBits  = (E > 1) ? $clog2(E) : 1;
  localparam int unsigned TBits  = $clog2(TpbB);
  localparam int unsigned OBeats = OB / W;
  localparam int unsigned RBeats = RB / W;
  localparam int unsigned OBBits = (OBeats > 1) ? $clog2(OBeats) : 1;

  typedef enum logic [2:0] {SIdle, SRReq, SRData, SComp, SWReq, SWData, SWWait, SSync} state_e;
  state_e      st_q, st_d;

  // instruction registers
  logic        mode_q, res_q, sig0_q;
  logic [2:0]  obm1_q, rbm1_q;
  logic [7:0]  zr_q, zo_q, lo_q, hi_q;
  logic [31:0] oaddr_q, raddr_q;

  logic [15:0] bcnt_q, bcnt_d;
  logic [2:0]  ph_q, ph_d;
  logic [7:0]  m0_q, m0_d, ni_q, ni_d;
  logic [RB-1:0] rbuf_q, rbuf_d;
  logic [OB-1:0] obuf_q, obuf_d;

  logic h_run, h_wait0, dispatch, complete, free, last_group, comp_last;
  logic [15:0] rbeats, wbeats;
  assign h_run      = (head_i.head.op == bqa_pkg::OpRun);
  assign h_wait0    = head_i.head.wait0;
  assign rbeats     = ({13'd0, rbm1_q} + 16'd1) * 16'(TpbW);
  assign wbeats     = mode_q ? 16'(RawW) : ({13'd0, obm1_q} + 16'd1) * 16'(TpbW);
  assign last_group = (ni_q == 8'(Dn - 1)) && (m0_q == 8'(Dm - Lanes));
  assign comp_last  = (st_q == SComp) && (ph_q == 3'd5) && last_group;
  assign complete   = ((st_q == SWWait) && wdone_i) || (st_q == SSync);
  assign free       = (st_q == SIdle) || complete;
  assign dispatch   = run_i && head_valid_i && free && (!h_wait0 || resrdy_avail_i);

  assign pop_o          = dispatch;
  assign resrdy_pop_o   = dispatch && h_wait0;
  assign resfree_push_o = (comp_last || st_q == SSync) && sig0_q;
  assign q_re_o         = dispatch;
  logic [7:0] h_rqe;
  assign h_rqe          = head_i.rq_entry;
  assign q_raddr_o      = h_rqe[QAddrBits-1:0];
  if (QAddrBits < 8) begin : g_rqe_unused
    logic unused_rqe;
    assign unused_rqe = ^h_rqe[7:QAddrBits];
  end

  // ---- lanes ----
  logic [Lanes*32-1:0] lane_acc0;
  logic [Lanes*8-1:0]  lane_q;
  logic [Lanes*EBits-1:0] lane_e;      // output element e = ni*Dm + mi of each lane
  for (genvar l = 0; l < Lanes; l++) begin : g_lane
    logic [7:0]       mi8;
    logic [MBits-1:0] mi;
    logic [NBits-1:0] ni;
    logic [EBits-1:0] e, ai;
    logic [127:0]     rec;
    logic [7:0]       qr;
    assign mi8 = m0_q + 8'(l);
    assign mi  = mi8[MBits-1:0];
    assign ni  = ni_q[NBits-1:0];
    assign e   = EBits'(32'(ni) * Dm + 32'(mi));       // position in the output / residual tile planes
    assign ai  = EBits'(32'(mi) * Dn + 32'(ni));       // index of DPU (mi, ni) in the array's result slot
    assign lane_e[l*EBits +: EBits] = e;
    assign rec = q_rdata_i[mi*128 +: 128];
    always_comb begin
      for (int b = 0; b < 8; b++) begin
        logic [TpbB-1:0] plane;
        plane = rbuf_q[b*TpbB +: TpbB];
        qr[b] = (b <= rbm1_q) ? plane[TBits'(e)] : 1'b0;
      end
    end
    logic unused_rec;
    assign unused_rec = ^{rec[127:110], mi8};
    bqa_rq_lane u_lane (
      .clk_i   (clk_i),
      .rst_ni  (rst_ni),
      .en_i    (st_q == SComp),
      .ph_i    (ph_q),
      .acc_i   (res_i[ai*32 +: 32]),
      .asum_i  (asum_i[ni*32 +: 32]),
      .bias_i  (rec[31:0]),
      .macc_i  (rec[63:32]),
      .mres_i  (rec[95:64]),
      .zw_i    (rec[103:96]),
      .sh_i    (rec[109:104]),
      .res_en_i(res_q),
      .qr_i    (qr),
      .zr_i    (zr_q),
      .zo_i    (zo_q),
      .lo_i    (lo_q),
      .hi_i    (hi_q),
      .acc0_o  (lane_acc0[l*32 +: 32]),
      .q_o     (lane_q[l*8 +: 8])
    );
  end

  // ---- control ----
  always_comb begin
    st_d   = st_q;
    bcnt_d = bcnt_q;
    ph_d   = ph_q;
    m0_d   = m0_q;
    ni_d   = ni_q;
    rbuf_d = rbuf_q;
    obuf_d = obuf_q;
    unique case (st_q)
      SIdle: ;
      SRReq: if (req_grant_i) begin
               st_d   = SRData;
               bcnt_d = '0;
             end
      SRData: if (rvalid_i) begin
                for (int k = 0; k < RBeats; k++) if (bcnt_q == 16'(k)) rbuf_d[k*W +: W] = rdata_i;
                bcnt_d = bcnt_q + 16'd1;
                if (bcnt_q == rbeats - 16'd1) st_d = SComp;
              end
      SComp: begin
               if (ph_q == 3'd5) begin
                 for (int e = 0; e < E; e++) begin
                   for (int l = 0; l < Lanes; l++) begin
                     if (lane_e[l*EBits +: EBits] == EBits'(e)) begin
                       if (mode_q) obuf_d[e*32 +: 32] = lane_acc0[l*32 +: 32];
                       else for (int b = 0; b < 8; b++) obuf_d[b*TpbB + e] = lane_q[l*8 + b];
                     end
                   end
                 end
                 ph_d = '0;
                 if (last_group) begin
                   st_d = SWReq;
                 end else if (m0_q == 8'(Dm - Lanes)) begin
                   m0_d = '0;
                   ni_d = ni_q + 8'd1;
                 end else begin
                   m0_d = m0_q + 8'(Lanes);
                 end
               end else begin
                 ph_d = ph_q + 3'd1;
               end
             end
      SWReq: if (req_grant_i) begin
               st_d   = SWData;
               bcnt_d = '0;
             end
      SWData: if (wready_i) begin
                bcnt_d = bcnt_q + 16'd1;
                if (bcnt_q == wbeats - 16'd1) st_d = SWWait;
              end
      SWWait: if (wdone_i) st_d = SIdle;
      SSync: st_d = SIdle;
      default: st_d = SIdle;
    endcase
    if (dispatch) begin
      st_d   = !h_run ? SSync : (head_i.res ? SRReq : SComp);
      ph_d   = '0;
      m0_d   = '0;
      ni_d   = '0;
      obuf_d = '0;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      st_q   <= SIdle;
      bcnt_q <= '0;
      ph_q   <= '0;
      m0_q   <= '0;
      ni_q   <= '0;
      rbuf_q <= '0;
      obuf_q <= '0;
    end else begin
      st_q   <= st_d;
      bcnt_q <= bcnt_d;
      ph_q   <= ph_d;
      m0_q   <= m0_d;
      ni_q   <= ni_d;
      rbuf_q <= rbuf_d;
      obuf_q <= obuf_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      mode_q <= 1'b0; res_q <= 1'b0; sig0_q <= 1'b0; obm1_q <= '0; rbm1_q <= '0;
      zr_q <= '0; zo_q <= '0; lo_q <= '0; hi_q <= '0; oaddr_q <= '0; raddr_q <= '0;
    end else if (dispatch) begin
      mode_q  <= head_i.mode;
      obm1_q  <= head_i.obits_m1;
      res_q   <= head_i.res;
      rbm1_q  <= head_i.rbits_m1;
      zr_q    <= head_i.z_r;
      oaddr_q <= head_i.out_addr;
      raddr_q <= head_i.res_addr;
      zo_q    <= head_i.z_o;
      lo_q    <= head_i.lo;
      hi_q    <= head_i.hi;
      sig0_q  <= head_i.head.sig0;
    end
  end

  assign req_valid_o = (st_q == SRReq) || (st_q == SWReq);
  assign req_write_o = (st_q == SWReq);
  assign req_addr_o  = (st_q == SWReq) ? oaddr_q : raddr_q;
  assign req_beats_o = (st_q == SWReq) ? wbeats : rbeats;
  assign wvalid_o    = (st_q == SWData);
  assign wdata_o     = obuf_q[bcnt_q[OBBits-1:0]*W +: W];

  logic waiting_port;
  assign waiting_port = (st_q == SRReq || st_q == SWReq) && !req_grant_i;
  assign busy_o   = ((st_q != SIdle) && !waiting_port) || dispatch;
  assign stall_o  = waiting_port || ((st_q == SIdle) && head_valid_i && !dispatch);
  assign idle_o   = !busy_o && !stall_o;
  assign active_o = (st_q != SIdle);

  logic unused_bits;
  assign unused_bits = ^{head_i.head.rsv_7_4, head_i.head.wait1, head_i.head.rsv_11_10,
                         head_i.head.sig1, head_i.head.rsv_15_14, bcnt_q[15:OBBits]};

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (Lanes >= 1 && Dm % Lanes == 0) else $error("bqa_result: Lanes must divide Dm");
    assert ((E * 32) % W == 0) else $error("bqa_result: Dm*Dn*32 must be a multiple of W");
    assert (Dm <= 128 && Dn <= 128) else $error("bqa_result: Dm, Dn <= 128");
    assert (QAddrBits <= 8) else $error("bqa_result: at most 256 requant entries per bank (rq_entry is 8 bits)");
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      if (dispatch) assert (head_i.head.op <= bqa_pkg::OpRun) else $error("bqa_result: illegal op");
      assert (!(rvalid_i && st_q != SRData)) else $error("bqa_result: unexpected read data");
      assert (!(wdone_i && st_q != SWWait)) else $error("bqa_result: unexpected wdone");
    end
  end
`endif
endmodule
