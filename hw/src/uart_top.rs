//! The board top: the device behind a UART, since every target board has a
//! USB-UART. The word-stream protocol is unchanged: each 32-bit word travels
//! as four bytes, least significant first, in both directions.
//!
//! Command words wait in a FIFO while the device is busy (a GEMM holds
//! `cmd_ready` low). The host sends nothing while it waits for a GEMM's
//! status, so the FIFO only has to absorb what is in flight. If a word still
//! finds the FIFO full, or a byte arrives with a bad stop bit, `error` goes
//! high and stays high. A word left half-received for longer than
//! [`RESYNC_BYTE_TIMES`] byte times is dropped, so a lost byte cannot shift
//! every later word.
//!
//! `reset` (from a board's button, any polarity already resolved, not yet
//! synchronised) empties the FIFO and the partial words, clears `error` and
//! returns the device to Idle; it keeps the buffers and generator states.

use crate::device::Device;
use crate::uart::{UartRx, UartTx};
use rust_hdl::prelude::*;
use rust_hdl::widgets::fifo::sync_fifo::SynchronousFIFO;

/// Idle byte times after which a partial command word is discarded.
pub const RESYNC_BYTE_TIMES: u32 = 64;

/// The most clocks per bit whose resync time fits the 20-bit idle counter.
pub const MAX_CLOCKS_PER_BIT: u16 = ((1u32 << 20) / (RESYNC_BYTE_TIMES * 10)) as u16;

/// Command words the FIFO holds (2^4).
const FIFO_BITS: usize = 4;

#[derive(LogicBlock)]
pub struct UartTop<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub uart_rx: Signal<In, Bit>,
    pub uart_tx: Signal<Out, Bit>,
    /// Sticky: a command word was lost or a byte was malformed.
    pub error: Signal<Out, Bit>,
    pub device: Device<R, C, DA, DC>,
    /// Two-flop synchroniser for the asynchronous reset input.
    reset_meta: DFF<Bit>,
    reset_sync: DFF<Bit>,
    receiver: UartRx,
    transmitter: UartTx,
    fifo: SynchronousFIFO<Bits<32>, FIFO_BITS, { FIFO_BITS + 1 }, 1>,
    /// The command word being assembled; bytes enter at the top.
    rx_word: DFF<Bits<32>>,
    rx_bytes: DFF<Bits<2>>,
    /// Clocks since the last byte, up to 64 byte times (20 bits: see
    /// `MAX_CLOCKS_PER_BIT`).
    rx_idle: DFF<Bits<20>>,
    next_word: Signal<Local, Bits<32>>,
    /// The response word being sent, lowest byte first.
    tx_word: DFF<Bits<32>>,
    tx_left: DFF<Bits<3>>,
    sticky: DFF<Bit>,
    /// The FIFO's head word, registered: the device's `cmd_ready` may
    /// depend on the word it is offered, and the FIFO's read must not.
    cmd_word: DFF<Bits<32>>,
    cmd_full: DFF<Bit>,
    resync_after: Constant<Bits<20>>,
    four: Constant<Bits<3>>,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> UartTop<R, C, DA, DC> {
    /// With `clocks_per_bit` clocks per serial bit, around a device with
    /// the operand paths `features`.
    pub fn new(clocks_per_bit: u16, features: u32) -> Self {
        assert!(clocks_per_bit <= MAX_CLOCKS_PER_BIT);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            reset_meta: Default::default(),
            reset_sync: Default::default(),
            uart_rx: Default::default(),
            uart_tx: Default::default(),
            error: Default::default(),
            device: Device::new(features),
            receiver: UartRx::new(clocks_per_bit),
            transmitter: UartTx::new(clocks_per_bit),
            fifo: Default::default(),
            rx_word: Default::default(),
            rx_bytes: Default::default(),
            rx_idle: Default::default(),
            next_word: Default::default(),
            tx_word: Default::default(),
            tx_left: Default::default(),
            sticky: Default::default(),
            cmd_word: Default::default(),
            cmd_full: Default::default(),
            resync_after: Constant::new(
                ((RESYNC_BYTE_TIMES * 10 * clocks_per_bit as u32) as u64).into(),
            ),
            four: Constant::new(4u64.into()),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for UartTop<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, reset_meta, reset_sync, rx_word, rx_bytes, rx_idle, tx_word, tx_left,
            sticky, cmd_word, cmd_full
        );
        self.reset_meta.d.next = self.reset.val();
        self.reset_sync.d.next = self.reset_meta.q.val();
        self.device.reset.next = self.reset_sync.q.val();
        clock!(self, clock, device, receiver, transmitter, fifo);

        // ---- Bytes in, words into the FIFO. ----
        self.receiver.rx.next = self.uart_rx.val();
        self.next_word.next =
            (self.rx_word.q.val() >> 8) | (bit_cast::<32, 8>(self.receiver.data.val()) << 24);
        self.fifo.data_in.next = self.next_word.val();
        self.fifo.write.next = false;
        if self.rx_bytes.q.val().any() {
            self.rx_idle.d.next = self.rx_idle.q.val() + 1;
        }
        if self.rx_idle.q.val() == self.resync_after.val() {
            self.rx_bytes.d.next = 0.into();
            self.rx_idle.d.next = 0.into();
            self.sticky.d.next = true;
        }
        if self.receiver.valid.val() {
            self.rx_word.d.next = self.next_word.val();
            self.rx_bytes.d.next = self.rx_bytes.q.val() + 1;
            self.rx_idle.d.next = 0.into();
            if self.rx_bytes.q.val() == 3 {
                self.fifo.write.next = true;
            }
        }
        if self.receiver.frame_error.val() | self.fifo.overflow.val() {
            self.sticky.d.next = true;
        }

        // ---- FIFO into the device, through the head register. ----
        self.device.cmd_valid.next = self.cmd_full.q.val();
        self.device.cmd_data.next = self.cmd_word.q.val();
        if self.cmd_full.q.val() & self.device.cmd_ready.val() {
            self.cmd_full.d.next = false;
        }
        self.fifo.read.next = !self.cmd_full.q.val() & !self.fifo.empty.val();
        if self.fifo.read.val() {
            self.cmd_word.d.next = self.fifo.data_out.val();
            self.cmd_full.d.next = true;
        }

        // ---- Response words out, a byte at a time. ----
        self.device.rsp_ready.next = !self.tx_left.q.val().any();
        self.transmitter.data.next = self.tx_word.q.val().get_bits::<8>(0);
        self.transmitter.start.next = self.tx_left.q.val().any();
        if self.tx_left.q.val().any() & self.transmitter.ready.val() {
            self.tx_word.d.next = self.tx_word.q.val() >> 8;
            self.tx_left.d.next = self.tx_left.q.val() - 1;
        }
        if self.device.rsp_valid.val() & !self.tx_left.q.val().any() {
            self.tx_word.d.next = self.device.rsp_data.val();
            self.tx_left.d.next = self.four.val();
        }
        if self.reset_sync.q.val() {
            // Drain the FIFO; drop partial and pending words.
            self.fifo.read.next = !self.fifo.empty.val();
            self.fifo.write.next = false;
            self.rx_bytes.d.next = 0.into();
            self.rx_idle.d.next = 0.into();
            self.cmd_full.d.next = false;
            self.tx_left.d.next = 0.into();
            self.sticky.d.next = false;
        }
        self.uart_tx.next = self.transmitter.tx.val();
        self.error.next = self.sticky.q.val();
    }
}
