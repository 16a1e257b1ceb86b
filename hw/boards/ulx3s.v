// ULX3S (Lattice ECP5 LFE5U-85F, CABGA381): the SRSA UART top on the
// board's 25 MHz oscillator and its FT231X USB-UART. Module `top` comes
// from srsa.v, generated for this board by `srsa verilog --board ulx3s`.
module board_top (
    input  wire clk,        // 25 MHz
    input  wire btn_n,      // PWR button (BTN0), low while pressed: reset
    input  wire uart_rx,    // from the FT231X (its TXD)
    output wire uart_tx,    // to the FT231X (its RXD)
    output wire led_error,  // LED0 (active high): a word was lost
    output wire led_alive   // LED1 (active high): blinks while clocked
);
    wire error;
    top srsa (
        .clock(clk),
        .reset(~btn_n),
        .uart_rx(uart_rx),
        .uart_tx(uart_tx),
        .error(error)
    );

    // 2^24 cycles at 25 MHz: the LED toggles every 0.67 s.
    reg [23:0] beat = 24'd0;
    reg alive = 1'b0;
    always @(posedge clk) begin
        beat <= beat + 24'd1;
        if (&beat) alive <= ~alive;
    end

    assign led_error = error;
    assign led_alive = alive;
endmodule
