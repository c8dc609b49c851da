// bqa_exec -- execute-stage controller: pops execute instructions (docs/hw_isa.md §3.2), waits for
// tokens, and issues one beat per cycle (weight/activation bank addresses + array control).
// Timing (§4.3): dispatch in d, beats d+1 .. d+N, the next instruction may dispatch in d+N.
// wait0 (FILLED) is checked at dispatch; wait1 (RESFREE) only at the last beat, which is held
// (no beat issued, a stall cycle) until the token is there, so execution overlaps the result stage.
module bqa_exec #(
  parameter int unsigned WAddrBits = 9,
  parameter int unsigned AAddrBits = 9
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 run_i,
  // instruction queue head
  input  logic                 head_valid_i,
  input  bqa_pkg::exec_instr_t head_i,   // fields: build/gen/bqa_pkg.sv (hwgen --pkg)
  output logic                 pop_o,
  // tokens
  input  logic                 filled_avail_i,
  output logic                 filled_pop_o,
  input  logic                 resfree_avail_i,
  output logic                 resfree_pop_o,
  output logic                 freed_push_o,
  // bank reads
  output logic                 re_o,
  output logic [WAddrBits-1:0] waddr_o,
  output logic [AAddrBits-1:0] aaddr_o,
  // array control (issue cycle)
  output logic                 iss_valid_o,
  output logic                 iss_clear_o,
  output logic                 iss_en_o,
  output logic [3:0]           iss_shift_o,
  output logic                 iss_neg_o,
  output logic                 iss_asum_en_o,
  output logic [2:0]           iss_asum_shift_o,
  output logic                 iss_asum_neg_o,
  output logic                 iss_commit_o,
  output logic                 iss_resrdy_o,
  // cycle classes (valid while run_i)
  output logic                 busy_o,
  output logic                 stall_o,
  output logic                 idle_o,
  output logic                 active_o
);
  // ---- decode of the queue head ----
  logic        h_run, h_wait0, h_wait1;
  assign h_run   = (head_i.head.op == bqa_pkg::OpRun);
  assign h_wait0 = head_i.head.wait0;
  assign h_wait1 = head_i.head.wait1;

  // ---- instruction registers ----
  logic        active_q, active_d;
  logic        run_q, wait1_q, sig0_q, sig1_q, clear_q, commit_q, asum_q, wsg_q, asg_q;
  logic [2:0]  wtop_q, atop_q, w0_q, a0_q, wnm1_q, anm1_q;
  logic [15:0] abase_q, wstride_q, astride_q, nk_q;
  logic [15:0] wplane_q, wplane_d, aplane_q, aplane_d, kc_q, kc_d;
  logic [2:0]  ii_q, ii_d, jj_q, jj_d;
  logic        first_q, first_d;

  logic        at_last, hold, beat, last_beat, free, dispatch;
  logic [3:0]  i_full, j_full;

  assign i_full    = {1'b0, w0_q} + {1'b0, ii_q};
  assign j_full    = {1'b0, a0_q} + {1'b0, jj_q};
  assign at_last   = !run_q || (ii_q == wnm1_q && jj_q == anm1_q && kc_q == nk_q - 16'd1);
  assign hold      = active_q && at_last && wait1_q && !resfree_avail_i;
  assign beat      = active_q && !hold;
  assign last_beat = beat && at_last;
  assign free      = !active_q || last_beat;
  assign dispatch  = run_i && head_valid_i && free && (!h_wait0 || filled_avail_i);

  assign pop_o         = dispatch;
  assign filled_pop_o  = dispatch && h_wait0;
  assign resfree_pop_o = last_beat && wait1_q;
  assign freed_push_o  = last_beat && sig0_q;

  // ---- loop counters ----
  always_comb begin
    ii_d     = ii_q;
    jj_d     = jj_q;
    kc_d     = kc_q;
    wplane_d = wplane_q;
    aplane_d = aplane_q;
    first_d  = first_q;
    active_d = active_q;
    if (beat) begin
      first_d = 1'b0;
      if (kc_q == nk_q - 16'd1) begin
        kc_d = '0;
        if (jj_q == anm1_q) begin
          jj_d     = '0;
          aplane_d = abase_q;
          ii_d     = ii_q + 3'd1;
          wplane_d = wplane_q + wstride_q;
        end else begin
          jj_d     = jj_q + 3'd1;
          aplane_d = aplane_q + astride_q;
        end
      end else begin
        kc_d = kc_q + 16'd1;
      end
      if (last_beat) active_d = 1'b0;
    end
    if (dispatch) begin
      active_d = 1'b1;
      first_d  = 1'b1;
      ii_d     = '0;
      jj_d     = '0;
      kc_d     = '0;
      wplane_d = head_i.wbase;
      aplane_d = head_i.abase;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      active_q <= 1'b0;
      first_q  <= 1'b0;
      ii_q     <= '0;
      jj_q     <= '0;
      kc_q     <= '0;
      wplane_q <= '0;
      aplane_q <= '0;
    end else begin
      active_q <= active_d;
      first_q  <= first_d;
      ii_q     <= ii_d;
      jj_q     <= jj_d;
      kc_q     <= kc_d;
      wplane_q <= wplane_d;
      aplane_q <= aplane_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      run_q <= 1'b0; wait1_q <= 1'b0; sig0_q <= 1'b0; sig1_q <= 1'b0; clear_q <= 1'b0; commit_q <= 1'b0;
      asum_q <= 1'b0; wsg_q <= 1'b0; asg_q <= 1'b0;
      wtop_q <= '0; atop_q <= '0; w0_q <= '0; a0_q <= '0; wnm1_q <= '0; anm1_q <= '0;
      abase_q <= '0; wstride_q <= '0; astride_q <= '0; nk_q <= 16'd1;
    end else if (dispatch) begin
      run_q     <= h_run;
      wait1_q   <= h_wait1;
      sig0_q    <= head_i.head.sig0;
      sig1_q    <= head_i.head.sig1;
      clear_q   <= head_i.clear;
      commit_q  <= head_i.commit;
      asum_q    <= head_i.asum;
      wtop_q    <= head_i.wbits_m1;
      atop_q    <= head_i.abits_m1;
      wsg_q     <= head_i.wsigned;
      asg_q     <= head_i.asigned;
      abase_q   <= head_i.abase;
      wstride_q <= head_i.wstride;
      astride_q <= head_i.astride;
      nk_q      <= head_i.nk;
      w0_q      <= head_i.w0;
      wnm1_q    <= head_i.wn_m1;
      a0_q      <= head_i.a0;
      anm1_q    <= head_i.an_m1;
    end
  end

  // ---- beat outputs ----
  logic [15:0] waddr_full, aaddr_full;
  assign waddr_full = wplane_q + kc_q;
  assign aaddr_full = aplane_q + kc_q;
  assign waddr_o    = waddr_full[WAddrBits-1:0];
  assign aaddr_o    = aaddr_full[AAddrBits-1:0];
  assign re_o       = beat && run_q;

  assign iss_valid_o      = beat;
  assign iss_clear_o      = run_q && clear_q && first_q;   // a SYNC clears nothing (§3.4)
  assign iss_en_o         = run_q;
  assign iss_shift_o      = i_full + j_full;
  assign iss_neg_o        = ((i_full[2:0] == wtop_q) && wsg_q) ^ ((j_full[2:0] == atop_q) && asg_q);
  assign iss_asum_en_o    = run_q && asum_q && (ii_q == 3'd0);
  assign iss_asum_shift_o = j_full[2:0];
  assign iss_asum_neg_o   = (j_full[2:0] == atop_q) && asg_q;
  assign iss_commit_o     = run_q && commit_q && last_beat;
  assign iss_resrdy_o     = sig1_q && last_beat;

  assign busy_o   = beat || dispatch;
  assign stall_o  = !busy_o && (hold || head_valid_i);
  assign idle_o   = !busy_o && !stall_o;
  assign active_o = active_q;

  // Deliberately unused: upper address bits (rows wrap modulo the bank depth), reserved fields.
  logic unused_bits;
  assign unused_bits = ^{waddr_full[15:WAddrBits], aaddr_full[15:AAddrBits], head_i.head.rsv_7_4,
                         head_i.head.rsv_11_10, head_i.head.rsv_15_14, head_i.rsv_19, head_i.rsv_23,
                         head_i.rsv_27, head_i.rsv_31_30, head_i.rsv_115, head_i.rsv_119,
                         head_i.rsv_123, head_i.rsv_127};

  // ---- assertions ----
`ifndef SYNTHESIS
  always_ff @(posedge clk_i) begin
    if (rst_ni && dispatch) begin
      assert (head_i.head.op <= bqa_pkg::OpRun) else $error("bqa_exec: illegal op %0d", head_i.head.op);
      if (h_run) begin
        assert (head_i.nk != 16'd0) else $error("bqa_exec: nk = 0");
        assert ({1'b0, head_i.w0} + {1'b0, head_i.wn_m1} <= {1'b0, head_i.wbits_m1})
          else $error("bqa_exec: weight plane range exceeds wbits");
        assert ({1'b0, head_i.a0} + {1'b0, head_i.an_m1} <= {1'b0, head_i.abits_m1})
          else $error("bqa_exec: activation plane range exceeds abits");
      end
    end
  end
`endif
endmodule
