//! TEMPORARY placeholder top (echoes command words) kept while the sim
//! crate is developed against it; removed when the device is wired in.

use rust_hdl::prelude::*;

/// The device's host link: 32-bit words each way with valid/ready.
#[derive(LogicBlock, Default)]
pub struct EchoTop {
    pub clock: Signal<In, Clock>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub rsp_data: Signal<Out, Bits<32>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_ready: Signal<In, Bit>,
    held: DFF<Bits<32>>,
    full: DFF<Bit>,
}

impl Logic for EchoTop {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, held, full);
        self.rsp_data.next = self.held.q.val();
        self.rsp_valid.next = self.full.q.val();
        self.cmd_ready.next = !self.full.q.val();
        if self.full.q.val() & self.rsp_ready.val() {
            self.full.d.next = false;
        }
        if !self.full.q.val() & self.cmd_valid.val() {
            self.held.d.next = self.cmd_data.val();
            self.full.d.next = true;
        }
    }
}

/// Verilog of the whole device with an n x n array (module `top`).
pub fn echo_verilog(n: usize) -> Result<String, String> {
    let _ = n;
    let mut uut = EchoTop::default();
    uut.connect_all();
    Ok(generate_verilog(&uut))
}
