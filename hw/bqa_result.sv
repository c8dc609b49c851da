// bqa_result -- result (output) stage: pops result instructions (docs/hw_isa.md §3.3), optionally
// reads a residual tile, requantises the result slot of the array with `Lanes` bqa_rq_lane units
// (6 cycles per group of Lanes elements) and writes the tile back (planes or RAW32).
// Timing (§4.4): dispatch d; [residual read from d+1]; compute s..s+C-1 (RESFREE push in s+C-1);
// write requested from s+C; completion = wdone cycle (may dispatch the next instruction).
// BlockChannels > 0 adds CODES mode (docs/whole_network.md §4.3-4.4, ISA v2; reference model
// hw_model/codes.c): op SETUP dispatches like SYNC (completion d+1) and latches the layer constants;
// op RUNC reads the residual pixel block on `first && res` into the residual block buffer, computes
// as a RUN, stores each element (mi < mrows) as a byte at [ni][ch0+mi] of the output block buffer
// and on `flush` writes the pixel block in one burst (completion = wdone; without flush the last
// compute cycle). sig1 pushes WRITTEN at the completion of any instruction. The two block buffers
// are Wb byte-wide RAMs each (byte c of pixel row ni in RAM c % Wb), so a memory beat and a lane
// group's Lanes bytes at any ch0 both take one cycle. BlockChannels = 0: v1 only, SETUP / RUNC are
// illegal (assertion) and sig1 is ignored.
module bqa_result #(
  parameter int unsigned Dm        = 4,
  parameter int unsigned Dn        = 4,
  parameter int unsigned W         = 64,
  parameter int unsigned Lanes     = 1,
  parameter int unsigned QAddrBits = 6,
  parameter int unsigned BlockChannels = 0   // bytes per pixel row of the block buffers; 0 = v1 only
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
  output logic                 written_push_o,   // WRITTEN token (sig1; only with BlockChannels > 0)
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
  // CODES mode: block buffers of Dn rows x BlockChannels bytes, as Wb RAMs of one byte each
  localparam bit          HasCodes = (BlockChannels > 0);
  localparam int unsigned Wb       = W / 8;
  localparam int unsigned LWb      = $clog2(Wb);
  localparam int unsigned RowBeats = HasCodes ? BlockChannels / Wb : 1;
  localparam int unsigned BDepth   = (Dn * RowBeats > 2) ? Dn * RowBeats : 2;
  localparam int unsigned BABits   = $clog2(BDepth);

  typedef enum logic [2:0] {SIdle, SRReq, SRData, SComp, SWReq, SWData, SWWait, SSync} state_e;
  state_e      st_q, st_d;

  // instruction registers
  logic        mode_q, res_q, sig0_q, sig1_q, codes_q, flush_q;
  logic [2:0]  obm1_q, rbm1_q;
  logic [7:0]  zr_q, zo_q, lo_q, hi_q;
  logic [31:0] oaddr_q, raddr_q;

  logic [15:0] bcnt_q, bcnt_d;
  logic [2:0]  ph_q, ph_d;
  logic [7:0]  m0_q, m0_d, ni_q, ni_d;
  logic [RB-1:0] rbuf_q, rbuf_d;
  logic [OB-1:0] obuf_q, obuf_d;

  // ---- CODES mode: SETUP registers, RUNC addresses, block-buffer beat counters ----
  bqa_pkg::result_codes_t hc;
  bqa_pkg::result_setup_t hs;
  logic [$bits(head_i)-1:0] hbits;   // the head's bits in the v2 views (yosys 0.23 has no type casts)
  assign hbits = head_i;
  assign hc = hbits;
  assign hs = hbits;
  logic [31:0] c_oaddr, c_raddr;
  logic [15:0] c_rbeats, c_wbeats;
  logic [19:0] c_rbeats_w, c_wbeats_w;
  logic [15:0] blk_pbeats, blk_row_next, blk_j_next;
  logic h_run, h_setup, h_runc, h_wait0, dispatch, complete, free, last_group, comp_last;
  logic [15:0] rbeats, wbeats;
  // CODES mode registers: the SETUP's layer constants, the RUNC's block fields
  logic [31:0] out_base_q, res_base_q;
  logic [11:0] cs_out_q, cs_res_q, ch0_q;
  logic [7:0]  setup_zr_q, mrows_q;
  logic [15:0] crbeats_q, cwbeats_q;          // beats of the residual read / the flush write
  logic [15:0] blk_row_q, blk_row_d, blk_j_q, blk_j_d;   // block-buffer beat: row base, beat in pixel
  assign h_run      = (head_i.head.op == bqa_pkg::OpRun);
  assign h_setup    = HasCodes && (head_i.head.op == bqa_pkg::OpSetup);
  assign h_runc     = HasCodes && (head_i.head.op == bqa_pkg::OpRunc);
  assign h_wait0    = head_i.head.wait0;
  assign rbeats     = codes_q ? crbeats_q : ({13'd0, rbm1_q} + 16'd1) * 16'(TpbW);
  assign wbeats     = codes_q ? cwbeats_q : mode_q ? 16'(RawW) : ({13'd0, obm1_q} + 16'd1) * 16'(TpbW);
  assign last_group = (ni_q == 8'(Dn - 1)) && (m0_q == 8'(Dm - Lanes));
  assign comp_last  = (st_q == SComp) && (ph_q == 3'd5) && last_group;
  assign complete   = ((st_q == SWWait) && wdone_i) || (st_q == SSync) || (comp_last && codes_q && !flush_q);
  assign free       = (st_q == SIdle) || complete;
  assign dispatch   = run_i && head_valid_i && free && (!h_wait0 || resrdy_avail_i);

  assign pop_o          = dispatch;
  assign resrdy_pop_o   = dispatch && h_wait0;
  assign resfree_push_o = (comp_last || st_q == SSync) && sig0_q;
  assign written_push_o = HasCodes && complete && sig1_q;
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
  logic [Wb*8-1:0]     rblk_rdata;     // residual block buffer read (CODES), byte b = RAM b
  logic [12:0]         c_base;         // channel of lane 0 in the block (CODES): ch0 + m0
  assign c_base = 13'(ch0_q) + 13'(m0_q);
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
    logic [12:0]      lc;                                // CODES: channel of this lane
    logic [LWb-1:0]   lbank;
    assign lc    = c_base + 13'(l);
    assign lbank = lc[LWb-1:0];
    always_comb begin
      for (int b = 0; b < 8; b++) begin
        logic [TpbB-1:0] plane;
        plane = rbuf_q[b*TpbB +: TpbB];
        qr[b] = (b <= rbm1_q) ? plane[TBits'(e)] : 1'b0;
      end
      if (codes_q) qr = rblk_rdata[lbank*8 +: 8];     // q_r from the residual block, same place
    end
    logic unused_rec;
    assign unused_rec = ^{rec[127:110], mi8, lc[12:LWb]};
`ifndef SYNTHESIS
    always_ff @(posedge clk_i) begin   // codes.c refuses a stored row's sh outside 1..62
      if (rst_ni && st_q == SComp && ph_q == 3'd0 && codes_q && mi8 < mrows_q)
        assert (rec[109:104] >= 6'd1 && rec[109:104] <= 6'd62) else $error("bqa_result: RUNC row %0d: sh outside 1..62", mi8);
    end
`endif
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
    blk_row_d = blk_row_q;
    blk_j_d   = blk_j_q;
    unique case (st_q)
      SIdle: ;
      SRReq: if (req_grant_i) begin
               st_d   = SRData;
               bcnt_d = '0;
               blk_row_d = '0;
               blk_j_d   = '0;
             end
      SRData: if (rvalid_i) begin
                if (!codes_q)
                  for (int k = 0; k < RBeats; k++) if (bcnt_q == 16'(k)) rbuf_d[k*W +: W] = rdata_i;
                bcnt_d = bcnt_q + 16'd1;
                blk_row_d = blk_row_next;
                blk_j_d   = blk_j_next;
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
                   st_d = (codes_q && !flush_q) ? SIdle : SWReq;
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
               blk_row_d = '0;
               blk_j_d   = '0;
             end
      SWData: if (wready_i) begin
                bcnt_d = bcnt_q + 16'd1;
                blk_row_d = blk_row_next;
                blk_j_d   = blk_j_next;
                if (bcnt_q == wbeats - 16'd1) st_d = SWWait;
              end
      SWWait: if (wdone_i) st_d = SIdle;
      SSync: st_d = SIdle;
      default: st_d = SIdle;
    endcase
    if (dispatch) begin
      if (h_runc) st_d = (hc.first && hc.res) ? SRReq : SComp;
      else        st_d = !h_run ? SSync : (head_i.res ? SRReq : SComp);
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
      blk_row_q <= '0;
      blk_j_q   <= '0;
    end else begin
      st_q   <= st_d;
      bcnt_q <= bcnt_d;
      ph_q   <= ph_d;
      m0_q   <= m0_d;
      ni_q   <= ni_d;
      rbuf_q <= rbuf_d;
      obuf_q <= obuf_d;
      blk_row_q <= blk_row_d;
      blk_j_q   <= blk_j_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      mode_q <= 1'b0; res_q <= 1'b0; sig0_q <= 1'b0; obm1_q <= '0; rbm1_q <= '0;
      zr_q <= '0; zo_q <= '0; lo_q <= '0; hi_q <= '0; oaddr_q <= '0; raddr_q <= '0;
      sig1_q <= 1'b0; codes_q <= 1'b0; flush_q <= 1'b0; ch0_q <= '0; mrows_q <= 8'd1;
      crbeats_q <= '0; cwbeats_q <= '0;
    end else if (dispatch) begin
      mode_q  <= head_i.mode && !h_runc;
      obm1_q  <= head_i.obits_m1;
      res_q   <= head_i.res;
      rbm1_q  <= head_i.rbits_m1;
      zr_q    <= h_runc ? setup_zr_q : head_i.z_r;
      oaddr_q <= h_runc ? c_oaddr : head_i.out_addr;
      raddr_q <= h_runc ? c_raddr : head_i.res_addr;
      zo_q    <= head_i.z_o;
      lo_q    <= head_i.lo;
      hi_q    <= head_i.hi;
      sig0_q  <= head_i.head.sig0;
      sig1_q  <= HasCodes && head_i.head.sig1;
      codes_q <= h_runc;
      flush_q <= hc.flush;
      ch0_q   <= hc.ch0;
      mrows_q <= {1'b0, hc.mrows_m1} + 8'd1;
      crbeats_q <= c_rbeats;
      cwbeats_q <= c_wbeats;
    end
  end

  // in the dispatch cycle: the residual read is requested in d+1
  assign c_oaddr    = out_base_q + hc.n0 * 32'(cs_out_q);
  assign c_raddr    = res_base_q + hc.n0 * 32'(cs_res_q);
  logic [11:0] csr_beats, cso_beats;          // beats per residual / output pixel
  assign csr_beats  = cs_res_q >> LWb;
  assign cso_beats  = cs_out_q >> LWb;
  assign c_rbeats_w = ({13'd0, hc.npix_m1} + 20'd1) * 20'(csr_beats);
  assign c_wbeats_w = ({13'd0, hc.npix_m1} + 20'd1) * 20'(cso_beats);
  assign c_rbeats   = c_rbeats_w[15:0];
  assign c_wbeats   = c_wbeats_w[15:0];

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      out_base_q <= '0; res_base_q <= '0; cs_out_q <= 12'(Wb); cs_res_q <= '0; setup_zr_q <= '0;
    end else if (dispatch && h_setup) begin
      out_base_q <= hs.out_base;
      res_base_q <= hs.res_base;
      cs_out_q   <= hs.cs_out;
      cs_res_q   <= hs.cs_res;
      setup_zr_q <= hs.z_r;
    end
  end

  // the next beat of a pixel block: pixels of cs/Wb beats, rows of RowBeats beats
  assign blk_pbeats = (st_q == SRReq || st_q == SRData) ? 16'(csr_beats) : 16'(cso_beats);
  always_comb begin
    if (blk_j_q + 16'd1 == blk_pbeats) begin
      blk_row_next = blk_row_q + 16'(RowBeats);
      blk_j_next   = '0;
    end else begin
      blk_row_next = blk_row_q;
      blk_j_next   = blk_j_q + 16'd1;
    end
  end

  // ---- block buffers (CODES mode) ----
  logic [Wb*8-1:0] oblk_rdata;
  if (HasCodes) begin : g_blk
    logic [15:0] beat_addr, next_addr, lane_row;
    logic [12:0] cword;
    assign beat_addr = blk_row_q + blk_j_q;
    // the flush reads one beat ahead: the beat shown in SWData cycle i was read in cycle i-1
    assign next_addr = (st_q == SWReq) ? 16'd0 : blk_row_next + blk_j_next;
    assign lane_row  = 16'(ni_q) * 16'(RowBeats);
    assign cword     = c_base >> LWb;
    logic rblk_re, oblk_re;
    assign rblk_re = (st_q == SComp) && (ph_q == 3'd0) && codes_q && res_q;
    assign oblk_re = codes_q && (((st_q == SWReq) && req_grant_i) ||
                                 ((st_q == SWData) && wready_i && (bcnt_q != wbeats - 16'd1)));
    for (genvar b = 0; b < Wb; b++) begin : g_byte
      // lane group: RAM b holds channel c_base + lb (lb = lane), at word (c_base + lb) / Wb of row ni
      logic [LWb-1:0] lb;
      logic [15:0]    laddr;
      logic           lwe;
      logic [7:0]     lq;
      assign lb    = LWb'(b) - c_base[LWb-1:0];
      assign laddr = lane_row + 16'(cword) + ((32'(b) < 32'(c_base[LWb-1:0])) ? 16'd1 : 16'd0);
      assign lwe   = (st_q == SComp) && (ph_q == 3'd5) && codes_q && (32'(lb) < Lanes) &&
                     (32'(m0_q) + 32'(lb) < 32'(mrows_q));
      always_comb begin
        lq = '0;
        for (int l = 0; l < Lanes; l++) if (32'(lb) == l) lq = lane_q[l*8 +: 8];
      end
      bqa_ram_1r1w #(.Width(8), .Depth(BDepth)) u_res (
        .clk_i(clk_i), .we_i((st_q == SRData) && rvalid_i && codes_q), .waddr_i(beat_addr[BABits-1:0]),
        .wdata_i(rdata_i[b*8 +: 8]), .re_i(rblk_re), .raddr_i(laddr[BABits-1:0]),
        .rdata_o(rblk_rdata[b*8 +: 8]));
      bqa_ram_1r1w #(.Width(8), .Depth(BDepth)) u_out (
        .clk_i(clk_i), .we_i(lwe), .waddr_i(laddr[BABits-1:0]), .wdata_i(lq),
        .re_i(oblk_re), .raddr_i(next_addr[BABits-1:0]), .rdata_o(oblk_rdata[b*8 +: 8]));
      logic unused_addr;
      assign unused_addr = ^{laddr[15:BABits]};
    end
    logic unused_blk;
    assign unused_blk = ^{beat_addr[15:BABits], next_addr[15:BABits]};
  end else begin : g_noblk
    assign rblk_rdata = '0;
    assign oblk_rdata = '0;
    logic unused_codes;
    assign unused_codes = ^{blk_row_next, blk_j_next, blk_row_q, blk_j_q, mrows_q, c_base, flush_q,
                            sig1_q, head_i.head.sig1};
  end

  assign req_valid_o = (st_q == SRReq) || (st_q == SWReq);
  assign req_write_o = (st_q == SWReq);
  assign req_addr_o  = (st_q == SWReq) ? oaddr_q : raddr_q;
  assign req_beats_o = (st_q == SWReq) ? wbeats : rbeats;
  assign wvalid_o    = (st_q == SWData);
  assign wdata_o     = codes_q ? oblk_rdata : obuf_q[bcnt_q[OBBits-1:0]*W +: W];

  logic waiting_port;
  assign waiting_port = (st_q == SRReq || st_q == SWReq) && !req_grant_i;
  assign busy_o   = ((st_q != SIdle) && !waiting_port) || dispatch;
  assign stall_o  = waiting_port || ((st_q == SIdle) && head_valid_i && !dispatch);
  assign idle_o   = !busy_o && !stall_o;
  assign active_o = (st_q != SIdle);

  logic unused_bits;
  assign unused_bits = ^{head_i.head.rsv_7_4, head_i.head.wait1, head_i.head.rsv_11_10,
                         head_i.head.sig1, head_i.head.rsv_15_14, bcnt_q[15:OBBits], hc.rsv_95_92,
                         hc.rsv_31_21, hc.rsv_19_16, hc.head, hc.z_o, hc.lo, hc.hi, hc.rq_entry,
                         hs.rsv_127_124, hs.rsv_111_108, hs.rsv_23_16, hs.head, c_rbeats_w[19:16],
                         c_wbeats_w[19:16]};

  // ---- assertions ----
`ifndef SYNTHESIS
  initial begin
    assert (Lanes >= 1 && Dm % Lanes == 0) else $error("bqa_result: Lanes must divide Dm");
    assert ((E * 32) % W == 0) else $error("bqa_result: Dm*Dn*32 must be a multiple of W");
    assert (Dm <= 128 && Dn <= 128) else $error("bqa_result: Dm, Dn <= 128");
    assert (QAddrBits <= 8) else $error("bqa_result: at most 256 requant entries per bank (rq_entry is 8 bits)");
    if (HasCodes) begin
      assert (BlockChannels % Wb == 0 && BlockChannels <= 4096)
        else $error("bqa_result: BlockChannels must be a multiple of W/8, <= 4096");
      assert (Lanes <= Wb) else $error("bqa_result: CODES mode needs Lanes <= W/8 (one byte RAM per lane)");
    end
  end
  // the legality rules of hw_model/codes.c (bq_codes_setup, bq_codes_check) the stage relies on
  logic        have_setup_q, res_loaded_q;
  logic [31:0] res_n0_q;
  logic [6:0]  res_npix_m1_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      have_setup_q <= 1'b0; res_loaded_q <= 1'b0; res_n0_q <= '0; res_npix_m1_q <= '0;
    end else if (dispatch && h_setup) begin
      have_setup_q <= 1'b1; res_loaded_q <= 1'b0;
    end else if (dispatch && h_runc && hc.first && hc.res) begin
      res_loaded_q <= 1'b1; res_n0_q <= hc.n0; res_npix_m1_q <= hc.npix_m1;
    end
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni && dispatch && h_setup) begin
      assert (hs.cs_out != 12'd0 && 32'(hs.cs_out) <= BlockChannels && 32'(hs.cs_res) <= BlockChannels)
        else $error("bqa_result: SETUP cs_out %0d / cs_res %0d outside 1..%0d (BlockChannels)", hs.cs_out, hs.cs_res, BlockChannels);
      assert (32'(hs.cs_out) % Wb == 0 && 32'(hs.cs_res) % Wb == 0 && hs.out_base % Wb == 0 && hs.res_base % Wb == 0)
        else $error("bqa_result: SETUP cs_out, cs_res, out_base, res_base must be multiples of W/8");
    end
    if (rst_ni && dispatch && h_runc) begin
      assert (have_setup_q) else $error("bqa_result: RUNC before any result SETUP");
      assert (32'(hc.npix_m1) < Dn && 32'(hc.mrows_m1) < Dm) else $error("bqa_result: RUNC npix > Dn or mrows > Dm");
      assert (32'(hc.ch0) + 32'(hc.mrows_m1) < 32'(cs_out_q))
        else $error("bqa_result: RUNC ch0 + mrows passes cs_out");
      assert (!hc.res || 32'(hc.ch0) + 32'(hc.mrows_m1) < 32'(cs_res_q))
        else $error("bqa_result: RUNC with res: ch0 + mrows passes cs_res");
      assert (!(hc.first && hc.res) || c_rbeats_w <= 20'd65535) else $error("bqa_result: residual burst > 65535 beats");
      assert (!hc.flush || c_wbeats_w <= 20'd65535) else $error("bqa_result: output burst > 65535 beats");
      assert (!hc.res || hc.first || (res_loaded_q && res_n0_q == hc.n0 && res_npix_m1_q == hc.npix_m1))
        else $error("bqa_result: RUNC with res but not first: the residual block does not hold this pixel block");
    end
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      if (dispatch) assert (head_i.head.op <= (HasCodes ? bqa_pkg::OpRunc : bqa_pkg::OpRun)) else $error("bqa_result: illegal op");
      assert (!(rvalid_i && st_q != SRData)) else $error("bqa_result: unexpected read data");
      assert (!(wdone_i && st_q != SWWait)) else $error("bqa_result: unexpected wdone");
    end
  end
`endif
endmodule
