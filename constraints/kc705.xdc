## KC705 (XC7K325T-2FFG900C): pins of board_top (hw/boards/kc705.v), after
## the KC705 user guide (UG810).
## SYSCLK: 200 MHz LVDS oscillator; the MMCM makes the 100 MHz design clock.
set_property -dict { PACKAGE_PIN AD12 IOSTANDARD LVDS } [get_ports { clk_p }]
set_property -dict { PACKAGE_PIN AD11 IOSTANDARD LVDS } [get_ports { clk_n }]
create_clock -name sysclk -period 5.000 [get_ports { clk_p }]

## USB-UART (CP2103): USB_UART_TX drives the FPGA's input.
set_property -dict { PACKAGE_PIN M19 IOSTANDARD LVCMOS25 } [get_ports { uart_rx }]
set_property -dict { PACKAGE_PIN K24 IOSTANDARD LVCMOS25 } [get_ports { uart_tx }]

## CPU_RESET: high while pressed.
set_property -dict { PACKAGE_PIN AB7 IOSTANDARD LVCMOS15 } [get_ports { rst }]

## GPIO_LED_0 and GPIO_LED_1.
set_property -dict { PACKAGE_PIN AB8 IOSTANDARD LVCMOS15 } [get_ports { led_error }]
set_property -dict { PACKAGE_PIN AA8 IOSTANDARD LVCMOS15 } [get_ports { led_alive }]

set_false_path -from [get_ports { uart_rx rst }]
set_false_path -to [get_ports { uart_tx led_error led_alive }]

set_property CFGBVS VCCO [current_design]
set_property CONFIG_VOLTAGE 2.5 [current_design]
