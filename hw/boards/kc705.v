// KC705 (Xilinx XC7K325T-2FFG900C): the SRSA UART top on the board's
// 200 MHz differential system clock, divided to 100 MHz by an MMCM, and
// its CP2103 USB-UART. Module `top` comes from srsa.v, generated for this
// board by `srsa verilog --board kc705`.
module board_top (
    input  wire clk_p,      // SYSCLK, 200 MHz LVDS
    input  wire clk_n,
    input  wire rst,        // CPU_RESET button, high while pressed
    input  wire uart_rx,    // from the CP2103
    output wire uart_tx,    // to the CP2103
    output wire led_error,  // GPIO_LED_0 (active high): a word was lost
    output wire led_alive   // GPIO_LED_1 (active high): blinks while clocked
);
    wire clk200, clk100_mmcm, clk100, feedback, locked;
    IBUFDS sysclk (.I(clk_p), .IB(clk_n), .O(clk200));
    // VCO 1000 MHz (200 x 5 / 1); CLKOUT0 = 1000 / 10 = 100 MHz.
    // Whole numbers for the real-valued parameters: Vivado takes them as
    // they are, and yosys keeps them numbers rather than strings.
    MMCME2_BASE #(
        .CLKIN1_PERIOD(5),
        .CLKFBOUT_MULT_F(5),
        .DIVCLK_DIVIDE(1),
        .CLKOUT0_DIVIDE_F(10)
    ) mmcm (
        .CLKIN1(clk200),
        .CLKFBIN(feedback),
        .CLKFBOUT(feedback),
        .CLKOUT0(clk100_mmcm),
        .LOCKED(locked),
        .PWRDWN(1'b0),
        .RST(rst)
    );
    BUFG clock_buffer (.I(clk100_mmcm), .O(clk100));

    wire error;
    top srsa (
        .clock(clk100),
        // Held in reset until the MMCM has locked.
        .reset(rst | ~locked),
        .uart_rx(uart_rx),
        .uart_tx(uart_tx),
        .error(error)
    );

    reg [25:0] beat = 26'd0;
    reg alive = 1'b0;
    always @(posedge clk100) begin
        beat <= beat + 26'd1;
        if (&beat) alive <= ~alive;
    end

    assign led_error = error;
    assign led_alive = alive;
endmodule
