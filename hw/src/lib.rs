//! The rust-hdl description of SRSA (placeholder top while the array is
//! being written: it echoes command words back).

use rust_hdl::prelude::*;

/// The device's host link: 32-bit words each way with valid/ready.
#[derive(LogicBlock, Default)]
pub struct Top {
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

impl Logic for Top {
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
pub fn top_verilog(n: usize) -> Result<String, String> {
    let _ = n;
    let mut uut = Top::default();
    uut.connect_all();
    Ok(generate_verilog(&uut))
}
