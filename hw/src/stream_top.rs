//! The word-stream top that `srsa-sim` verilates and `srsa verilog --n`
//! writes: the device with a skid buffer on each link direction and its
//! reset registered, the way the UART top feeds it from a registered FIFO
//! head. Each link input then reaches only registers, so a simulator that
//! re-evaluates everything an input drives (Verilator's input pass, on
//! every `eval`) has a few gates to redo instead of the decoder, the
//! transfer checks and the bank addresses. Each direction gains a cycle
//! of latency and keeps one word per cycle.

use crate::device::Device;
use crate::skid::Skid;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct StreamTop<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// Synchronous, as the device's, a cycle later.
    pub reset: Signal<In, Bit>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub rsp_data: Signal<Out, Bits<32>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_ready: Signal<In, Bit>,
    pub cmd: Skid,
    pub rsp: Skid,
    reset_q: DFF<Bit>,
    pub device: Device<R, C, DA, DC>,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> StreamTop<R, C, DA, DC> {
    /// The top of a device with the operand paths `features`.
    pub fn new(features: u32) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            cmd_data: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            rsp_data: Default::default(),
            rsp_valid: Default::default(),
            rsp_ready: Default::default(),
            cmd: Default::default(),
            rsp: Default::default(),
            reset_q: Default::default(),
            device: Device::new(features),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for StreamTop<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, reset_q);
        self.reset_q.d.next = self.reset.val();
        self.cmd.clock.next = self.clock.val();
        self.rsp.clock.next = self.clock.val();
        self.device.clock.next = self.clock.val();
        self.device.reset.next = self.reset_q.q.val();

        self.cmd.in_data.next = self.cmd_data.val();
        self.cmd.in_valid.next = self.cmd_valid.val();
        self.cmd_ready.next = self.cmd.in_ready.val();
        self.device.cmd_data.next = self.cmd.out_data.val();
        self.device.cmd_valid.next = self.cmd.out_valid.val();
        self.cmd.out_ready.next = self.device.cmd_ready.val();

        self.rsp.in_data.next = self.device.rsp_data.val();
        self.rsp.in_valid.next = self.device.rsp_valid.val();
        self.device.rsp_ready.next = self.rsp.in_ready.val();
        self.rsp_data.next = self.rsp.out_data.val();
        self.rsp_valid.next = self.rsp.out_valid.val();
        self.rsp.out_ready.next = self.rsp_ready.val();
    }
}
