// Proof harness for the UART receiver (hw/src/uart.rs) at 4 clocks per
// bit: it cannot lock up. Whatever state it is in, once the pin has been
// high (idle) for BOUND clocks it is back in Idle, ready for the next start
// bit; and its counters stay inside the ranges its states use, so no state
// can wait for a counter to wrap. k-induction proves this from any state
// that satisfies those invariants, not only from states reached after
// power-up. BOUND is 38 clocks (9.5 bit times): a frame whose start bit
// was taken just before the idle run began ends that late. With BROKEN
// defined the bound is two clocks shorter, and the solver finds a trace
// from power-up that is still busy then (hw/formal/uart_rx.sby, task
// broken, which must fail). One clock shorter is not enough to fail from
// power-up: it fails only the induction.
module uart_rx_props (
    input clock,
    input rx
);
    wire [7:0] data;
    wire valid, frame_error;
    wire [1:0] state;
    wire [15:0] count;
    wire [3:0] bits;
    uart_rx dut (
        .clock(clock), .rx(rx), .data(data), .valid(valid), .frame_error(frame_error),
        .probe_state(state), .probe_count(count), .probe_bits(bits)
    );

`ifdef BROKEN
    localparam BOUND = `BOUND - 2;
`else
    localparam BOUND = `BOUND;
`endif
    localparam IDLE = 2'd0, START = 2'd1, DATA = 2'd2, STOP = 2'd3;
    localparam HALF_M1 = 16'd1, FULL_M1 = 16'd3;

    // Clocks the pin has been high, saturating.
    reg [7:0] high = 8'd0;
    always @(posedge clock) high <= rx ? ((high == 8'd255) ? high : high + 8'd1) : 8'd0;

    always @* begin
        assert (state != START || count <= HALF_M1);
        assert (state != DATA || (count <= FULL_M1 && bits <= 4'd7));
        assert (state != STOP || count <= FULL_M1);
        if (high >= BOUND) assert (state == IDLE);
    end
endmodule
