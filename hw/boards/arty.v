// Arty A7-35T (Xilinx XC7A35T-1CSG324): the SRSA UART top on the board's
// 100 MHz oscillator and its FT2232 USB-UART. Module `top` comes from
// srsa.v, generated for this board by `srsa verilog --board arty`.
module board_top (
    input  wire clk,        // 100 MHz
    input  wire rst_n,      // the red RESET button (ck_rst), low while pressed
    input  wire uart_rx,    // from the FT2232 (uart_txd_in)
    output wire uart_tx,    // to the FT2232 (uart_rxd_out)
    output wire led_error,  // LD4 (active high): a word was lost
    output wire led_alive   // LD5 (active high): blinks while clocked
);
    wire error;
    top srsa (
        .clock(clk),
        .reset(~rst_n),
        .uart_rx(uart_rx),
        .uart_tx(uart_tx),
        .error(error)
    );

    // 2^26 cycles at 100 MHz: the LED toggles every 0.67 s.
    reg [25:0] beat = 26'd0;
    reg alive = 1'b0;
    always @(posedge clk) begin
        beat <= beat + 26'd1;
        if (&beat) alive <= ~alive;
    end

    assign led_error = error;
    assign led_alive = alive;
endmodule
