// Proof harness for the rounding unit (hw/src/rounding.rs): enabled, for
// every accumulator value, shift, mode, draw, output word length and ReLU
// setting, its output equals a reference written here from the numerics
// spec (srsa_spec::numerics::convert), independently of the RTL's own
// shortcuts (it computes no "flips" and no 2^s - 1 by shifting a mask).
// Two further properties hold for stochastic rounding: an unsaturated
// output is the floor or the floor plus one of the exact quotient, and an
// exactly representable value never moves. Disabled (an output stage's
// cycles without an output), its output is zero. With BROKEN defined the
// reference rounds ties up, which the RTL does not do: that proof must
// fail (hw/formal/rounding.sby, task broken).
module rounding_props (
    input [47:0] value,
    input [4:0] shift,
    input [1:0] mode,
    input [31:0] draw,
    input relu,
    input [4:0] wl,
    input enable
);
    wire [15:0] out;
    // The device hands the unit WL_out as its sign bits (gemm_args.rs).
    wire [15:0] sign_bits = 16'hffff << (wl - 5'd1);
    rounding_unit dut (
        .value(value), .shift(shift), .mode(mode), .draw(draw), .relu(relu),
        .sign_bits(sign_bits), .enable(enable), .out(out)
    );

    // The dropped bits' weight 2^s, and the offset each mode adds.
    wire [32:0] unit = 33'd1 << shift;
`ifdef BROKEN
    wire [32:0] half = (shift == 0) ? 33'd0 : (unit >> 1);
`else
    wire [32:0] half = (shift == 0) ? 33'd0 : (unit >> 1) - 33'd1;
`endif
    wire [32:0] offset = (mode == 2'd1) ? half
                       : (mode == 2'd2) ? ({1'b0, draw} % unit)
                       : 33'd0;
    // The spec adds in 48 bits (wrap_acc), then shifts arithmetically.
    wire [47:0] sum = value + offset[31:0];
    wire signed [47:0] q = $signed(sum) >>> shift;
    // The range of a WL-bit word.
    wire signed [47:0] hi = (48'sd1 <<< (wl - 5'd1)) - 48'sd1;
    wire signed [47:0] lo = -(48'sd1 <<< (wl - 5'd1));
    wire [15:0] sat = (q > hi) ? hi[15:0] : (q < lo) ? lo[15:0] : q[15:0];
    wire [15:0] want = (relu && sat[15]) ? 16'h0000 : sat;

    // The exact quotient's floor, from the value alone.
    wire signed [47:0] fl = $signed(value) >>> shift;
    wire small = ($signed(value) < 48'sd70368744177664) && ($signed(value) > -48'sd70368744177664);
    wire exact = (value & (unit[31:0] - 32'd1)) == 0;

    always @* begin
        assume (shift <= 5'd30);
        assume (mode != 2'd3);
        assume (wl >= 5'd2 && wl <= 5'd16);
        if (enable) begin
            assert (out == want);
            if (mode == 2'd2 && !relu && small && fl >= lo && fl < hi) begin
                assert (out == fl[15:0] || out == fl[15:0] + 16'd1);
                if (exact) assert (out == fl[15:0]);
            end
        end else begin
            assert (out == 16'h0000);
        end
    end
endmodule
