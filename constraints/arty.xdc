## Arty A7-35T (XC7A35T-1CSG324): pins of board_top (hw/boards/arty.v),
## after Digilent's master XDC.
set_property -dict { PACKAGE_PIN E3  IOSTANDARD LVCMOS33 } [get_ports { clk }]
create_clock -name sys_clk -period 10.000 -waveform {0 5} [get_ports { clk }]

## USB-UART (FT2232HQ): uart_txd_in is the FPGA's input.
set_property -dict { PACKAGE_PIN A9  IOSTANDARD LVCMOS33 } [get_ports { uart_rx }]
set_property -dict { PACKAGE_PIN D10 IOSTANDARD LVCMOS33 } [get_ports { uart_tx }]

## ck_rst: the red RESET button, low while pressed.
set_property -dict { PACKAGE_PIN C2  IOSTANDARD LVCMOS33 } [get_ports { rst_n }]

## LD4 and LD5.
set_property -dict { PACKAGE_PIN H5  IOSTANDARD LVCMOS33 } [get_ports { led_error }]
set_property -dict { PACKAGE_PIN J5  IOSTANDARD LVCMOS33 } [get_ports { led_alive }]

## Asynchronous inputs: the UART resamples, the reset is synchronised.
set_false_path -from [get_ports { uart_rx rst_n }]
set_false_path -to [get_ports { uart_tx led_error led_alive }]

set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property CFGBVS VCCO [current_design]
