// iCEBreaker (Lattice iCE40UP5K-SG48): the SRSA UART top on the board's
// 12 MHz oscillator and its FTDI's second channel. Module `top` comes from
// srsa.v, generated for this board by `srsa verilog --board icebreaker`.
module board_top (
    input  wire clk,          // 12 MHz
    input  wire btn_n,        // user button, low while pressed: reset
    input  wire uart_rx,      // from the FTDI
    output wire uart_tx,      // to the FTDI
    output wire led_error_n,  // red LED (active low): a word was lost
    output wire led_alive_n   // green LED (active low): lit once configured
);
    wire error;
    top srsa (
        .clock(clk),
        .reset(~btn_n),
        .uart_rx(uart_rx),
        .uart_tx(uart_tx),
        .error(error)
    );

    assign led_error_n = ~error;
    // No blink counter: the UP5K has no cells to spare. Lit once configured.
    assign led_alive_n = 1'b0;
endmodule
