// bqa_win -- window unit of the fetch path (docs/whole_network.md §2-§4.2; not yet wired into
// bqa_fetch). SETUP fields are latched on setup_i, a RUN (target WIN) is dispatched on start_i.
// Fill (skipped with keep): per segment (maximal run of the tile's columns in one output row) and
// kernel row inside the image, one read burst of the row's pixel span into the window buffer (a
// bqa_ram_1r1w of W-bit beats), requests as bqa_fetch's planes (from d+1, then the cycle after the
// previous last beat). Assemble, from the cycle after the fill's last beat (keep or no row: d+1):
// per column ni and K-chunk, Dk/Wb cycles each reading one buffer beat (or none: out of image /
// past K), the beat masked to [ch_lo, ch_hi) with z_a outside the image, into a Dk-byte assembly
// register, then P cycles writing plane j (bit b = bit j of byte b) into bank ni, row
// buf_base + j*T + (kc - kc0). complete_o in the last plane write's cycle, which may dispatch the
// next RUN. The C reference model is hw_model/win.c; tests/hw/test_win.cpp compares every write.
module bqa_win #(
  parameter int unsigned Dn          = 2,
  parameter int unsigned Dk          = 64,
  parameter int unsigned W           = 64,
  parameter int unsigned AAddrBits   = 8,
  parameter int unsigned WindowBytes = 2048
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  // SETUP (docs/whole_network.md §4.1), latched when setup_i (only while free_o)
  input  logic                 setup_i,
  input  logic [9:0]           hi_i,
  input  logic [9:0]           wi_i,
  input  logic [9:0]           wo_i,
  input  logic [3:0]           kh_i,
  input  logic [3:0]           kw_i,
  input  logic [3:0]           stride_i,
  input  logic [3:0]           pad_t_i,
  input  logic [3:0]           pad_l_i,
  input  logic [11:0]          cs_i,
  input  logic [11:0]          ch_base_i,
  input  logic [11:0]          ch_lo_i,
  input  logic [11:0]          ch_hi_i,
  input  logic [7:0]           z_a_i,
  // RUN, target WIN (§4.2), dispatched when start_i (only while free_o)
  input  logic                 start_i,
  input  logic [31:0]          dram_addr_i,
  input  logic [31:0]          pix0_i,
  input  logic [9:0]           kc0_i,
  input  logic [15:0]          t_i,
  input  logic [2:0]           nplanes_m1_i,
  input  logic [15:0]          buf_base_i,
  input  logic                 keep_i,
  output logic                 free_o,       // idle, or in the completion cycle
  output logic                 complete_o,
  // memory read requests (granted in the same cycle) and read data, as bqa_fetch's
  output logic                 req_valid_o,
  output logic [31:0]          req_addr_o,
  output logic [15:0]          req_beats_o,
  input  logic                 req_grant_i,
  input  logic                 rvalid_i,
  input  logic [W-1:0]         rdata_i,
  // activation bank write port (the word is driven to every bank's slot; a_we_o selects)
  output logic [Dn-1:0]        a_we_o,
  output logic [AAddrBits-1:0] a_row_o,
  output logic [Dn*Dk-1:0]     a_wdata_o,
  // cycle classes (docs/hw_isa.md §5)
  output logic                 busy_o,
  output logic                 stall_o,
  output logic                 idle_o
);
  localparam int unsigned Wb     = W / 8;
  localparam int unsigned LWb    = $clog2(Wb);
  localparam int unsigned G      = Dk / Wb;                     // buffer beats per K-chunk
  localparam int unsigned LG     = (G > 1) ? $clog2(G) : 0;
  localparam int unsigned GBits  = (G > 1) ? $clog2(G) : 1;
  localparam int unsigned PhBits = $clog2(G + 8);               // phase 0 .. G+P-1 of a chunk
  localparam int unsigned Depth  = WindowBytes / Wb;           // window buffer beats
  localparam int unsigned WAB    = (Depth > 1) ? $clog2(Depth) : 1;
  localparam int unsigned NiBits = (Dn > 1) ? $clog2(Dn) : 1;
  localparam int unsigned CB     = 17;                          // signed coordinates (|oy*stride| < 2^15)

  typedef enum logic [1:0] {SIdle, SReq, SData, SAsm} state_e;
  state_e st_q, st_d;

  // ---- SETUP registers (layer constants) ----
  logic [9:0]  hi_q, wi_q, wo_q;
  logic [3:0]  kh_q, kw_q, stride_q, pad_t_q, pad_l_q;
  logic [11:0] cs_q, ch_lo_q, ch_hi_q;
  logic [11:0] ctg_q;                  // tap slot in beats: roundup(ch_hi, Wb) / Wb
  logic [11:0] csb_q, chb_q;           // cs / Wb, ch_base / Wb
  logic [7:0]  z_a_q;
  logic [7:0]  khkw_q;                 // taps kh*kw
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      hi_q <= '0; wi_q <= '0; wo_q <= 10'd1; kh_q <= 4'd1; kw_q <= 4'd1; stride_q <= 4'd1;
      pad_t_q <= '0; pad_l_q <= '0; cs_q <= 12'(Wb); ch_lo_q <= '0; ch_hi_q <= 12'd1;
      ctg_q <= 12'd1; csb_q <= 12'd1; chb_q <= '0; z_a_q <= '0; khkw_q <= 8'd1;
    end else if (setup_i) begin
      hi_q <= hi_i; wi_q <= wi_i; wo_q <= wo_i; kh_q <= kh_i; kw_q <= kw_i; stride_q <= stride_i;
      pad_t_q <= pad_t_i; pad_l_q <= pad_l_i; cs_q <= cs_i; ch_lo_q <= ch_lo_i; ch_hi_q <= ch_hi_i;
      ctg_q <= 12'((13'(ch_hi_i) + 13'(Wb - 1)) >> LWb);
      csb_q <= cs_i >> LWb; chb_q <= ch_base_i >> LWb; z_a_q <= z_a_i;
      khkw_q <= 8'(kh_i) * 8'(kw_i);
    end
  end

  // ---- dispatch ----
  logic complete, dispatch;
  assign free_o   = (st_q == SIdle) || complete;
  assign dispatch = start_i && free_o;

  // First output pixel and first K position of the RUN, divided in the dispatch cycle (the first
  // request and, with keep, the first buffer read are in d+1). Restoring dividers with only the
  // quotient bits the legal fields can produce (yosys' generic $div/$mod are full width, 4x larger):
  //   oy0, ox0 = pix0 / wo, pix0 % wo: oy0 < 1024 (pix0 < 1024*wo), 10 steps;
  //   t0, cg0 = (kc0*Dk/Wb) / Ct_beats, % Ct_beats: only t0 < 256 matters (else past K), 8 steps;
  //   ky0, kx0 = t0 / kw, t0 % kw: only t0 < kh*kw matters (ky0 < 16), 4 steps.
  logic [9:0]  d_oy;
  logic [10:0] d_orem;
  logic [17:0] d_g0;
  logic [7:0]  d_t0;
  logic [12:0] d_crem;
  logic [3:0]  d_ky0;
  logic [4:0]  d_krem;
  logic        d_past0;
  assign d_g0 = 18'(kc0_i) << LG;
  always_comb begin
    d_orem = 11'(pix0_i[19:10]);
    for (int i = 9; i >= 0; i--) begin
      d_orem = {d_orem[9:0], pix0_i[i]};
      d_oy[i] = (d_orem >= 11'(wo_q));
      if (d_oy[i]) d_orem = d_orem - 11'(wo_q);
    end
    d_crem = 13'(d_g0[17:8]);
    for (int i = 7; i >= 0; i--) begin
      d_crem = {d_crem[11:0], d_g0[i]};
      d_t0[i] = (d_crem >= 13'(ctg_q));
      if (d_t0[i]) d_crem = d_crem - 13'(ctg_q);
    end
    d_krem = 5'(d_t0[7:4]);
    for (int i = 3; i >= 0; i--) begin
      d_krem = {d_krem[3:0], d_t0[i]};
      d_ky0[i] = (d_krem >= 5'(kw_q));
      if (d_ky0[i]) d_krem = d_krem - 5'(kw_q);
    end
    d_past0 = (20'(d_g0) >= (20'(ctg_q) << 8)) || (d_t0 >= khkw_q);
  end

  // ---- RUN registers ----
  logic [31:0] dram_q;
  logic [15:0] t_q, buf_base_q;
  logic [2:0]  pm1_q;
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      dram_q <= '0; t_q <= 16'd1; buf_base_q <= '0; pm1_q <= '0;
    end else if (dispatch) begin
      dram_q <= dram_addr_i; t_q <= t_i; buf_base_q <= buf_base_i; pm1_q <= nplanes_m1_i;
    end
  end

  // ---- the segment logic of the fill: one instance; inputs are the tile's first segment at
  //      dispatch, the next segment at the last beat of a segment's last row ----
  logic [10:0] s_oy;
  logic [9:0]  s_oxf;
  logic [7:0]  s_cols;
  logic [10:0] s_room;
  logic [7:0]  s_ncols;
  logic [9:0]  s_oxl;
  logic signed [CB-1:0] s_by, s_dhi, s_ixa_r, s_ixb_r;
  logic        s_rows;                 // some kernel row of the segment is inside the image
  logic [3:0]  s_kylo, s_kyhi;
  logic [9:0]  s_ixa, s_ixb;
  logic [23:0] s_spanb_w;
  logic [15:0] s_spanb;
  always_comb begin
    s_room  = 11'(wo_q) - 11'(s_oxf);
    s_ncols = (11'(s_cols) < s_room) ? s_cols : s_room[7:0];
    s_oxl   = s_oxf + 10'(s_ncols) - 10'd1;
    s_by    = $signed(CB'(s_oy) * CB'(stride_q)) - $signed(CB'(pad_t_q));
    s_dhi   = $signed(CB'(hi_q)) - $signed(CB'(1)) - s_by;        // hi-1-by: rows left below by
    s_rows  = !s_dhi[CB-1];
    s_kylo  = s_by[CB-1] ? 4'(-s_by) : 4'd0;
    s_kyhi  = (s_dhi < $signed(CB'(kh_q) - CB'(1))) ? s_dhi[3:0] : kh_q - 4'd1;
    s_ixa_r = $signed(CB'(s_oxf) * CB'(stride_q)) - $signed(CB'(pad_l_q));
    s_ixb_r = $signed(CB'(s_oxl) * CB'(stride_q)) - $signed(CB'(pad_l_q)) + $signed(CB'(kw_q)) - $signed(CB'(1));
    s_ixa   = s_ixa_r[CB-1] ? 10'd0 : s_ixa_r[9:0];
    s_ixb   = (s_ixb_r > $signed(CB'(wi_q) - CB'(1))) ? wi_q - 10'd1 : s_ixb_r[9:0];
    s_spanb_w = (24'(s_ixb) - 24'(s_ixa) + 24'd1) * 24'(csb_q);
    s_spanb = s_spanb_w[15:0];
  end

  // ---- fill state ----
  logic [10:0] f_oy, f_oy_d;
  logic [7:0]  f_cols, f_cols_d, f_ncols, f_ncols_d;
  logic signed [CB-1:0] f_by, f_by_d;
  logic [3:0]  f_ky, f_ky_d, f_kyhi, f_kyhi_d;
  logic [9:0]  f_ixa, f_ixa_d;
  logic [15:0] f_spanb, f_spanb_d, bcnt_q, bcnt_d;
  logic [NiBits-1:0] f_seg, f_seg_d;
  logic [16:0] wptr_q, wptr_d;     // beats written by the fill (wider than WAB: overflow check)
  logic        last_beat, seg_enter, filled_q;

  // segment table: where each segment's rows sit in the buffer (read by the assembly)
  logic [15:0] seg_base_q  [Dn];
  logic [3:0]  seg_kylo_q  [Dn];
  logic [9:0]  seg_ixa_q   [Dn];
  logic [15:0] seg_spanb_q [Dn];

  assign last_beat = (st_q == SData) && rvalid_i && (bcnt_q == f_spanb - 16'd1);

  // assembly state (declared here: dispatch initialises it)
  logic [NiBits-1:0] a_ni, a_ni_d, a_seg, a_seg_d;
  logic [15:0] a_u, a_u_d;
  logic [PhBits-1:0] a_ph, a_ph_d;
  logic [10:0] a_oy, a_oy_d;
  logic [9:0]  a_ox, a_ox_d;
  logic [11:0] a_cg, a_cg_d, st_cg0;
  logic [3:0]  a_kx, a_kx_d, a_ky, a_ky_d, st_kx0, st_ky0;
  logic        a_past, a_past_d, st_past0;
  logic        grp_cycle, last_ph, last_chunk;

  assign grp_cycle  = (st_q == SAsm) && (a_ph < PhBits'(G));
  assign last_ph    = (a_ph == PhBits'(G) + PhBits'(pm1_q));
  assign last_chunk = (a_u == t_q - 16'd1);
  assign complete   = (st_q == SAsm) && last_ph && last_chunk && (a_ni == NiBits'(Dn - 1));
  assign complete_o = complete;

  // segment inputs: the next segment while filling, else the tile's first
  always_comb begin
    if (st_q == SData) begin
      s_oy = f_oy + 11'd1; s_oxf = '0; s_cols = f_cols - f_ncols;
    end else begin
      s_oy = 11'(d_oy); s_oxf = d_orem[9:0]; s_cols = 8'(Dn);
    end
  end

  always_comb begin
    st_d = st_q;
    f_oy_d = f_oy; f_cols_d = f_cols; f_ncols_d = f_ncols; f_by_d = f_by; f_ky_d = f_ky;
    f_kyhi_d = f_kyhi; f_ixa_d = f_ixa; f_spanb_d = f_spanb; f_seg_d = f_seg;
    bcnt_d = bcnt_q; wptr_d = wptr_q; seg_enter = 1'b0;
    unique case (st_q)
      SIdle: ;
      SReq: if (req_grant_i) begin
              st_d = SData; bcnt_d = '0;
            end
      SData: if (rvalid_i) begin
               bcnt_d = bcnt_q + 16'd1;
               wptr_d = wptr_q + 17'd1;
               if (last_beat) begin
                 if (f_ky != f_kyhi) begin
                   f_ky_d = f_ky + 4'd1; st_d = SReq;
                 end else if (s_cols != 8'd0 && s_rows) begin
                   st_d = SReq; seg_enter = 1'b1; f_seg_d = f_seg + NiBits'(1);
                 end else begin
                   st_d = SAsm;
                 end
               end
             end
      SAsm: if (complete) st_d = SIdle;
      default: st_d = SIdle;
    endcase
    if (dispatch) begin
      wptr_d = '0; f_seg_d = '0;
      if (!keep_i && s_rows) begin
        st_d = SReq; seg_enter = 1'b1;
      end else begin
        st_d = SAsm;
      end
    end
    if (seg_enter) begin
      f_oy_d = s_oy; f_cols_d = s_cols; f_ncols_d = s_ncols; f_by_d = s_by; f_ky_d = s_kylo;
      f_kyhi_d = s_kyhi; f_ixa_d = s_ixa; f_spanb_d = s_spanb;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      st_q <= SIdle; f_oy <= '0; f_cols <= '0; f_ncols <= '0; f_by <= '0; f_ky <= '0; f_kyhi <= '0;
      f_ixa <= '0; f_spanb <= 16'd1; f_seg <= '0; bcnt_q <= '0; wptr_q <= '0; filled_q <= 1'b0;
    end else begin
      st_q <= st_d; f_oy <= f_oy_d; f_cols <= f_cols_d; f_ncols <= f_ncols_d; f_by <= f_by_d;
      f_ky <= f_ky_d; f_kyhi <= f_kyhi_d; f_ixa <= f_ixa_d; f_spanb <= f_spanb_d; f_seg <= f_seg_d;
      bcnt_q <= bcnt_d; wptr_q <= wptr_d;
      if (dispatch && !keep_i) filled_q <= 1'b1;
    end
  end

  always_ff @(posedge clk_i) begin
    if (seg_enter) begin
      seg_base_q[f_seg_d]  <= 16'(wptr_d);
      seg_kylo_q[f_seg_d]  <= s_kylo;
      seg_ixa_q[f_seg_d]   <= s_ixa;
      seg_spanb_q[f_seg_d] <= s_spanb;
    end
  end

  // request of the current burst: input row f_by + f_ky, pixels from f_ixa
  logic [CB-1:0] f_iy;
  logic [31:0] f_pix;
  assign f_iy  = f_by + $signed(CB'(f_ky));
  assign f_pix = 32'(f_iy[9:0]) * 32'(wi_q) + 32'(f_ixa);
  assign req_valid_o = (st_q == SReq);
  assign req_addr_o  = dram_q + f_pix * 32'(cs_q);
  assign req_beats_o = f_spanb;

  // ---- window buffer ----
  logic              buf_re;
  logic [WAB-1:0]    buf_raddr;
  logic [W-1:0]      buf_rdata;
  bqa_ram_1r1w #(.Width(W), .Depth(Depth), .AddrBits(WAB)) u_buf (
    .clk_i(clk_i), .we_i((st_q == SData) && rvalid_i), .waddr_i(wptr_q[WAB-1:0]), .wdata_i(rdata_i),
    .re_i(buf_re), .raddr_i(buf_raddr), .rdata_o(buf_rdata)
  );

  // ---- assembly: group cycle (read one beat) ----
  logic signed [CB-1:0] a_iy, a_ix;
  logic        a_in;
  logic [Wb-1:0] a_mask;
  logic signed [13:0] a_mlo, a_mhi;
  logic [CB-1:0] a_addr;
  logic [3:0]    a_dky;
  logic [9:0]    a_dix;
  always_comb begin
    a_iy = $signed(CB'(a_oy) * CB'(stride_q)) - $signed(CB'(pad_t_q)) + $signed(CB'(a_ky));
    a_ix = $signed(CB'(a_ox) * CB'(stride_q)) - $signed(CB'(pad_l_q)) + $signed(CB'(a_kx));
    a_in = !a_past && !a_iy[CB-1] && (a_iy < $signed(CB'(hi_q))) && !a_ix[CB-1] && (a_ix < $signed(CB'(wi_q)));
    // byte b of the beat is channel cg*Wb + b of the tap slot: real if in [ch_lo, ch_hi)
    a_mlo = $signed(14'(ch_lo_q)) - $signed(14'(a_cg) << LWb);
    a_mhi = $signed(14'(ch_hi_q)) - $signed(14'(a_cg) << LWb);
    for (int b = 0; b < Wb; b++) begin
      a_mask[b] = !a_past && ($signed(14'(b)) >= a_mlo) && ($signed(14'(b)) < a_mhi);
    end
    a_dky  = a_ky - seg_kylo_q[a_seg];          // row of the segment in the buffer
    a_dix  = a_ix[9:0] - seg_ixa_q[a_seg];      // pixel of the row's span
    a_addr = CB'(seg_base_q[a_seg]) + CB'(a_dky) * CB'(seg_spanb_q[a_seg]) + CB'(a_dix) * CB'(csb_q) +
             CB'(chb_q) + CB'(a_cg);
  end
  assign buf_re    = grp_cycle && a_in;
  assign buf_raddr = a_addr[WAB-1:0];

  // read pipeline: the beat arrives one cycle later, masked and placed into the assembly register
  logic          p_valid, p_in;
  logic [Wb-1:0] p_mask;
  logic [GBits-1:0] p_grp;
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      p_valid <= 1'b0; p_in <= 1'b0; p_mask <= '0; p_grp <= '0;
    end else begin
      p_valid <= grp_cycle; p_in <= a_in; p_mask <= a_mask; p_grp <= GBits'(a_ph);
    end
  end

  logic [W-1:0]      fmt;
  logic [Dk*8-1:0]   asm_q;
  always_comb begin
    for (int b = 0; b < Wb; b++) begin
      fmt[b*8 +: 8] = !p_mask[b] ? 8'd0 : p_in ? buf_rdata[b*8 +: 8] : z_a_q;
    end
  end
  for (genvar g = 0; g < G; g++) begin : g_asm
    always_ff @(posedge clk_i) begin
      if (p_valid && p_grp == GBits'(g)) asm_q[g*W +: W] <= fmt;
    end
  end

  // ---- assembly: plane cycles (bit-slice plane j of the assembled chunk) ----
  logic [2:0]  pj;
  logic [Dk-1:0] pword;
  assign pj = 3'(a_ph - PhBits'(G));
  // The last group's beat arrives in the first plane cycle (registered buffer read): its bytes are
  // taken from fmt then, the others from the assembly register.
  for (genvar b = 0; b < Dk; b++) begin : g_slice
    logic [7:0] byte_b;
    if (b / Wb == G - 1) begin : g_last
      assign byte_b = p_valid ? fmt[(b % Wb)*8 +: 8] : asm_q[b*8 +: 8];
    end else begin : g_reg
      assign byte_b = asm_q[b*8 +: 8];
    end
    assign pword[b] = byte_b[pj];
  end
  assign a_we_o    = (st_q == SAsm && !grp_cycle) ? Dn'(1) << a_ni : '0;
  assign a_row_o   = AAddrBits'(buf_base_q + 16'(pj) * t_q + a_u);
  assign a_wdata_o = {Dn{pword}};

  // ---- assembly counters ----
  always_comb begin
    a_ni_d = a_ni; a_seg_d = a_seg; a_u_d = a_u; a_ph_d = a_ph; a_oy_d = a_oy; a_ox_d = a_ox;
    a_cg_d = a_cg; a_kx_d = a_kx; a_ky_d = a_ky; a_past_d = a_past;
    if (st_q == SAsm) begin
      if (grp_cycle && !a_past) begin   // next K group (tap slot beat, kx, ky)
        if (a_cg == ctg_q - 12'd1) begin
          a_cg_d = '0;
          if (a_kx == kw_q - 4'd1) begin
            a_kx_d = '0;
            if (a_ky == kh_q - 4'd1) a_past_d = 1'b1;
            else a_ky_d = a_ky + 4'd1;
          end else a_kx_d = a_kx + 4'd1;
        end else a_cg_d = a_cg + 12'd1;
      end
      if (last_ph) begin
        a_ph_d = '0;
        if (last_chunk) begin             // next column: next output pixel, K from kc0 again
          a_u_d = '0; a_ni_d = a_ni + NiBits'(1);
          a_cg_d = st_cg0; a_kx_d = st_kx0; a_ky_d = st_ky0; a_past_d = st_past0;
          if (a_ox == wo_q - 10'd1) begin
            a_ox_d = '0; a_oy_d = a_oy + 11'd1; a_seg_d = a_seg + NiBits'(1);
          end else a_ox_d = a_ox + 10'd1;
        end else a_u_d = a_u + 16'd1;
      end else a_ph_d = a_ph + PhBits'(1);
    end
    if (dispatch) begin
      a_ni_d = '0; a_seg_d = '0; a_u_d = '0; a_ph_d = '0; a_oy_d = 11'(d_oy); a_ox_d = d_orem[9:0];
      a_cg_d = d_crem[11:0]; a_kx_d = d_krem[3:0]; a_ky_d = d_ky0; a_past_d = d_past0;
    end
  end
  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      a_ni <= '0; a_seg <= '0; a_u <= '0; a_ph <= '0; a_oy <= '0; a_ox <= '0;
      a_cg <= '0; a_kx <= '0; a_ky <= '0; a_past <= 1'b0;
      st_cg0 <= '0; st_kx0 <= '0; st_ky0 <= '0; st_past0 <= 1'b0;
    end else begin
      a_ni <= a_ni_d; a_seg <= a_seg_d; a_u <= a_u_d; a_ph <= a_ph_d; a_oy <= a_oy_d; a_ox <= a_ox_d;
      a_cg <= a_cg_d; a_kx <= a_kx_d; a_ky <= a_ky_d; a_past <= a_past_d;
      if (dispatch) begin
        st_cg0 <= d_crem[11:0];
        st_kx0 <= d_krem[3:0]; st_ky0 <= d_ky0; st_past0 <= d_past0;
      end
    end
  end

  // ---- cycle classes ----
  logic waiting_port;
  assign waiting_port = (st_q == SReq) && !req_grant_i;
  assign busy_o  = ((st_q != SIdle) && !waiting_port) || dispatch;
  assign stall_o = waiting_port;
  assign idle_o  = !busy_o && !stall_o;

  logic unused_bits;
  assign unused_bits = ^{pix0_i[31:20], d_orem[10], d_crem[12], d_krem[4],
                         s_dhi[CB-1:4], s_ixa_r[CB-2:10], s_ixb_r[CB-2:10], s_spanb_w[23:16],
                         f_iy[CB-1:10], a_addr[CB-1:WAB], a_ix[CB-2:10],
                         ch_base_i[LWb-1:0], cs_i[LWb-1:0], f_ncols};

  // ---- assertions (simulation only) ----
`ifndef SYNTHESIS
  initial begin
    assert (W == 32 || W == 64 || W == 128) else $error("bqa_win: W must be 32, 64 or 128");
    assert (Dk >= Wb && Dk % Wb == 0 && (Dk & (Dk - 1)) == 0) else $error("bqa_win: Dk must be a power of two >= W/8");
    assert (Dn >= 1 && Dn <= 128) else $error("bqa_win: Dn must be 1..128");
    assert (WindowBytes % Wb == 0 && Depth >= 2) else $error("bqa_win: WindowBytes must be a multiple of W/8, >= 2 beats");
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni) begin
      assert (!(setup_i && !free_o)) else $error("bqa_win: SETUP while a RUN is active");
      assert (!(setup_i && start_i)) else $error("bqa_win: SETUP and RUN in one cycle");
      assert (!(start_i && !free_o)) else $error("bqa_win: RUN while busy");
      assert (!(rvalid_i && st_q != SData)) else $error("bqa_win: unexpected read data");
      if (setup_i) begin
        assert (hi_i != 0 && wi_i != 0 && wo_i != 0 && kh_i != 0 && kw_i != 0 && stride_i != 0)
          else $error("bqa_win: SETUP hi, wi, wo, kh, kw, stride must be >= 1");
        assert (pad_t_i < kh_i && pad_l_i < kw_i) else $error("bqa_win: SETUP pad_t < kh and pad_l < kw");
        assert (cs_i != 0 && cs_i % 12'(Wb) == 0 && ch_base_i % 12'(Wb) == 0)
          else $error("bqa_win: SETUP cs, ch_base must be multiples of W/8");
        assert (ch_lo_i < ch_hi_i && 13'(ch_base_i) + ((13'(ch_hi_i) + 13'(Wb - 1)) & ~13'(Wb - 1)) <= 13'(cs_i))
          else $error("bqa_win: SETUP ch_lo < ch_hi and the tap slot inside the pixel");
        assert ((32'(wo_i) - 32'd1) * 32'(stride_i) <= 32'(wi_i) - 32'd1 + 32'(pad_l_i))
          else $error("bqa_win: SETUP wo: the last output column's window starts past wi");
      end
      if (start_i) begin
        assert (t_i != 0) else $error("bqa_win: RUN T = 0");
        assert (dram_addr_i % 32'(Wb) == 0) else $error("bqa_win: RUN dram_addr not W/8-aligned");
        assert (pix0_i < 32'(wo_q) * 32'd1024) else $error("bqa_win: RUN pix0 >= 1024*wo");
        assert (!keep_i || filled_q) else $error("bqa_win: RUN keep before any fill");
      end
      if (seg_enter) assert (s_spanb_w < 24'(65536)) else $error("bqa_win: fill burst longer than 65535 beats");
      if ((st_q == SData) && rvalid_i)
        assert (32'(wptr_q) < 32'(Depth))
          else $error("bqa_win: window buffer overflow (the tile needs more than WindowBytes)");
    end
  end
`endif
endmodule
