//! The golden device: the whole SRSA device in software, bit for bit.
//!
//! It speaks the word-stream protocol of [`srsa_spec::protocol`] over the
//! same [`Link`] trait as the RTL, so any command stream can be run on both
//! and the responses compared word by word. It takes every rule from the
//! spec crate (validation, numerics, LFSRs, draw order) and adds only what
//! the spec leaves to a device: buffering and the order of side effects.
//!
//! The golden device has no clock. It answers as soon as a command is
//! complete, and its counters report each GEMM's busy time with the RTL's
//! formula ([`gemm_busy_cycles`], from the spec, so that counters compare
//! equal too) and cycles equal to busy.

use crate::kernel::Workspace;
use srsa_spec::expand::{decode_expand, expand};
use srsa_spec::lfsr::{column_state, load_state, Lfsr, POWER_UP_SEED};
use srsa_spec::numerics::{cin_term, convert, wrap_acc, ACC_BITS, WL};
use srsa_spec::protocol::{
    a_layout, arg_words, b_layout, check_shape, decode_gemm, decode_transfer, feature,
    gemm_busy_cycles, op, pack_as, pad, payload_words, status_word, unpack_as, Buffer, Counters,
    Gemm, Identity, Link, LinkError, Status, Transfer, EXPAND_ARGS, GEMM_ARGS, VERSION,
};
use std::borrow::Cow;
use std::collections::VecDeque;

pub struct GoldenDevice {
    rows: usize,
    cols: usize,
    buffer_elems: u32,
    /// The optional operand paths it has (`feature` bits).
    features: u32,
    /// A, B, C in `Buffer` code order.
    buffers: [Vec<i16>; 3],
    /// Buffer C's pruned marks (`feature::MASK`).
    pruned: Vec<bool>,
    /// One per output column.
    lfsrs: Vec<Lfsr>,
    counters: Counters,
    /// Words received but not yet forming a whole command.
    input: VecDeque<u32>,
    output: VecDeque<u32>,
    kernel: Workspace,
}

impl GoldenDevice {
    /// A device with an `n x n` array and three buffers of `buffer_elems`
    /// elements each, in its power-up state (buffers zero, LFSRs seeded with
    /// [`POWER_UP_SEED`]).
    ///
    /// # Panics
    /// If no such hardware can exist ([`check_shape`]); see
    /// [`GoldenDevice::try_with_shape`] for a checked constructor.
    pub fn new(n: usize, buffer_elems: u32) -> GoldenDevice {
        GoldenDevice::with_shape(n, n, buffer_elems)
    }

    /// A device with a `rows x cols` array; see [`GoldenDevice::new`].
    ///
    /// # Panics
    /// If the shape fails [`check_shape`].
    pub fn with_shape(rows: usize, cols: usize, buffer_elems: u32) -> GoldenDevice {
        GoldenDevice::try_with_shape(rows, cols, buffer_elems).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A device with a `rows x cols` array, or why no such device exists.
    pub fn try_with_shape(
        rows: usize,
        cols: usize,
        buffer_elems: u32,
    ) -> Result<GoldenDevice, String> {
        check_shape(rows, cols, buffer_elems)?;
        let buf = || vec![0i16; buffer_elems as usize];
        Ok(GoldenDevice {
            rows,
            cols,
            buffer_elems,
            features: feature::ALL,
            buffers: [buf(), buf(), buf()],
            pruned: vec![false; buffer_elems as usize],
            lfsrs: (0..cols)
                .map(|c| Lfsr::new(column_state(POWER_UP_SEED, c)))
                .collect(),
            counters: Counters::default(),
            input: VecDeque::new(),
            output: VecDeque::new(),
            kernel: Workspace::new(),
        })
    }

    /// The same device with only the operand paths of `features`, to
    /// shadow hardware built without some.
    pub fn with_features(mut self, features: u32) -> GoldenDevice {
        self.features = features & feature::ALL;
        self
    }

    pub fn identity(&self) -> Identity {
        Identity {
            version: VERSION,
            rows: self.rows as u32,
            cols: self.cols as u32,
            word_bits: WL,
            acc_bits: ACC_BITS,
            buffer_elems: self.buffer_elems,
            features: self.features,
        }
    }

    /// A buffer's contents, for tests and debugging.
    pub fn buffer(&self, b: Buffer) -> &[i16] {
        &self.buffers[b as usize]
    }

    /// Buffer C's pruned marks.
    pub fn pruned(&self) -> &[bool] {
        &self.pruned
    }

    /// The column LFSRs in their current state.
    pub fn lfsrs(&self) -> &[Lfsr] {
        &self.lfsrs
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Response words queued and not yet received.
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// Runs the command at the front of the input if it is complete;
    /// returns whether it did.
    fn step(&mut self) -> bool {
        let Some(&head) = self.input.front() else {
            return false;
        };
        let (opcode, arg) = (head >> 24, head & 0xFF_FFFF);
        // Without the feature EXPAND is an unknown opcode: nothing after
        // its header is its.
        let args = if opcode == op::EXPAND && self.features & feature::EXPAND == 0 {
            0
        } else {
            arg_words(opcode) + payload_words(opcode, arg)
        };
        if self.input.len() <= args {
            return false;
        }
        self.input.pop_front();
        let words: Vec<u32> = self.input.drain(..args).collect();
        self.execute(opcode, arg, &words);
        true
    }

    fn respond(&mut self, opcode: u32, result: Result<Vec<u32>, Status>) {
        match result {
            Ok(data) => {
                self.output.push_back(status_word(opcode, Status::Ok));
                self.output.extend(data);
            }
            Err(status) => self.output.push_back(status_word(opcode, status)),
        }
    }

    /// `words` holds exactly the argument words `step` counted for `opcode`.
    fn execute(&mut self, opcode: u32, arg: u32, words: &[u32]) {
        let result = match opcode {
            op::IDENTIFY => Ok(self.identity().encode().to_vec()),
            op::WRITE => self.write(arg, words[0], &words[1..]).map(|()| vec![]),
            op::READ => self.read(arg, words[0]),
            op::GEMM => {
                let w: &[u32; GEMM_ARGS] = words.try_into().expect("step counts GEMM_ARGS");
                let (r, c) = (self.rows as u32, self.cols as u32);
                decode_gemm(w, r, c, self.buffer_elems, self.features).map(|g| {
                    self.gemm(&g);
                    vec![]
                })
            }
            op::SEED => self.seed(arg, words).map(|()| vec![]),
            op::EXPAND if self.features & feature::EXPAND != 0 => {
                self.expand(arg, words).map(|()| vec![])
            }
            op::COUNTERS => Ok(self.counters.encode().to_vec()),
            _ => Err(Status::UnknownOpcode),
        };
        self.respond(opcode, result);
    }

    fn write(&mut self, words: u32, addr_word: u32, payload: &[u32]) -> Result<(), Status> {
        let t = self.transfer(op::WRITE, addr_word, words)?;
        let elems: Vec<i16> = payload
            .iter()
            .flat_map(|&w| unpack_as(w, t.width))
            .collect();
        self.store(t.buffer, t.address, t.prune, &elems);
        Ok(())
    }

    /// Stores `elems` from `address` on, marking C's elements as a write
    /// with the prune flag `prune` does.
    fn store(&mut self, buffer: Buffer, address: u32, prune: bool, elems: &[i16]) {
        let at = address as usize..address as usize + elems.len();
        self.buffers[buffer as usize][at.clone()].copy_from_slice(elems);
        if buffer == Buffer::C {
            for (mark, &x) in self.pruned[at].iter_mut().zip(elems) {
                *mark = prune && x == 0;
            }
        }
    }

    fn expand(&mut self, words: u32, args: &[u32]) -> Result<(), Status> {
        let (w, payload) = args.split_at(EXPAND_ARGS);
        let w: &[u32; EXPAND_ARGS] = w.try_into().expect("step counts EXPAND_ARGS");
        let e = decode_expand(w, words, self.buffer_elems, self.features)?;
        let (elems, status) = expand(&e, payload);
        self.store(e.buffer, e.address, e.prune, &elems);
        match status {
            Status::Ok => Ok(()),
            s => Err(s),
        }
    }

    fn read(&self, words: u32, addr_word: u32) -> Result<Vec<u32>, Status> {
        let t = self.transfer(op::READ, addr_word, words)?;
        let src = &self.buffers[t.buffer as usize][t.address as usize..][..t.elems(words) as usize];
        Ok(pack_as(src, t.width))
    }

    fn transfer(&self, opcode: u32, addr_word: u32, words: u32) -> Result<Transfer, Status> {
        decode_transfer(opcode, addr_word, words, self.buffer_elems, self.features)
    }

    fn seed(&mut self, column: u32, words: &[u32]) -> Result<(), Status> {
        let lfsr = self
            .lfsrs
            .get_mut(column as usize)
            .ok_or(Status::BadColumn)?;
        *lfsr = Lfsr::new(load_state([words[0], words[1], words[2]]));
        Ok(())
    }

    /// Runs a validated GEMM (regions checked by `decode_gemm`).
    fn gemm(&mut self, g: &Gemm) {
        let (rows, cols) = (self.rows, self.cols);
        let (mp, np) = (
            pad(g.m, rows as u32) as usize,
            pad(g.ncol, cols as u32) as usize,
        );
        let k = g.k as usize;
        let (r, c) = (rows as u32, cols as u32);
        let a_buf = &self.buffers[Buffer::A as usize][g.a_base as usize..];
        let b_src = if g.b_from_c { Buffer::C } else { Buffer::B };
        let b_buf = &self.buffers[b_src as usize][g.b_base as usize..];
        let (at, bt) = (a_layout(g, r), b_layout(g, c));
        let a = kernel_layout(a_buf, g.a_transposed, g.k, mp, |k, i| at(i, k));
        let b = kernel_layout(b_buf, g.b_transposed, g.k, np, bt);
        let products = self.kernel.gemm_i16(&a, &b, mp, k, np);

        // The conversions in the device's order: it fixes every draw. C_in
        // and the output are the same region or disjoint (decode_gemm), so
        // each output's read of its C_in sees the value before the GEMM.
        let shift = g.formats.shift();
        let c = &mut self.buffers[Buffer::C as usize];
        let (cin_base, out_base) = (g.cin_base as usize, g.out_base as usize);
        for ti in (0..mp).step_by(rows) {
            for tj in (0..np).step_by(cols) {
                for i in ti..ti + rows {
                    for (col, lfsr) in self.lfsrs.iter_mut().enumerate() {
                        let j = tj + col;
                        let cin = if g.acc_init {
                            cin_term(c[cin_base + i * np + j], &g.formats)
                        } else {
                            0
                        };
                        let acc = wrap_acc(cin + products[i * np + j]);
                        let y = convert(acc, shift, g.formats.wl_out, g.mode, lfsr.draw(), g.relu);
                        // A pruned output still draws: the draw order is
                        // the same with and without the mask.
                        let pruned = g.masked && self.pruned[cin_base + i * np + j];
                        c[out_base + i * np + j] = if pruned { 0 } else { y };
                        self.pruned[out_base + i * np + j] = pruned;
                    }
                }
            }
        }

        let cycles = gemm_busy_cycles(rows as u32, cols as u32, g);
        self.counters.busy += cycles;
        self.counters.cycles += cycles;
        self.counters.macs += g.m as u64 * g.k as u64 * g.ncol as u64;
    }
}

/// An operand as the kernel takes it, K rows of `width` elements: the
/// buffer itself where the GEMM reads it as stored in that layout, else
/// gathered through `at(k, x)` (its element offsets).
fn kernel_layout(
    buf: &[i16],
    transposed: bool,
    k: u32,
    width: usize,
    at: impl Fn(u32, u32) -> u32,
) -> Cow<'_, [i16]> {
    if !transposed {
        return Cow::Borrowed(&buf[..k as usize * width]);
    }
    Cow::Owned(
        (0..k)
            .flat_map(|kk| (0..width as u32).map(move |x| (kk, x)))
            .map(|(kk, x)| buf[at(kk, x) as usize])
            .collect(),
    )
}

impl Link for GoldenDevice {
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError> {
        self.input.extend(words);
        while self.step() {}
        Ok(())
    }

    /// Takes `n` queued response words. A device without a clock either has
    /// them or never will, so a shortfall is a timeout at once, and nothing
    /// is consumed by it.
    fn recv(&mut self, n: usize, _max_cycles: u64) -> Result<Vec<u32>, LinkError> {
        if self.output.len() < n {
            return Err(LinkError::Timeout {
                wanted: n,
                got: self.output.len(),
            });
        }
        Ok(self.output.drain(..n).collect())
    }

    fn name(&self) -> String {
        "golden".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::numerics::{Formats, Rounding};
    use srsa_spec::protocol::{address_word, encode_gemm, header, IDENTIFY_WORDS};

    fn dev() -> GoldenDevice {
        GoldenDevice::new(4, 256)
    }

    /// Sends `cmd` and returns every response word it produced.
    fn exchange(d: &mut GoldenDevice, cmd: &[u32]) -> Vec<u32> {
        d.send(cmd).unwrap();
        let n = d.pending_output();
        d.recv(n, 0).unwrap()
    }

    fn st(opcode: u32, s: Status) -> u32 {
        status_word(opcode, s)
    }

    fn gemm_words(g: &Gemm) -> Vec<u32> {
        let mut w = vec![header(op::GEMM, 0)];
        w.extend(encode_gemm(g));
        w
    }

    fn small_gemm() -> Gemm {
        Gemm::plain(3, 2, 5, Rounding::Truncate, Formats::uniform(4))
    }

    #[test]
    fn identify_reports_the_configuration() {
        let mut d = dev();
        let r = exchange(&mut d, &[header(op::IDENTIFY, 0x1234)]);
        assert_eq!(r.len(), 1 + IDENTIFY_WORDS);
        assert_eq!(r[0], st(op::IDENTIFY, Status::Ok));
        let id = Identity::decode(&r[1..]).unwrap();
        assert_eq!((id.rows, id.cols, id.buffer_elems), (4, 4, 256));
        assert_eq!((id.word_bits, id.acc_bits, id.version), (16, 48, VERSION));
    }

    #[test]
    fn write_then_read_round_trips_in_pieces() {
        let mut d = dev();
        let mut cmd = vec![header(op::WRITE, 3), address_word(1, 10)];
        cmd.extend([0x0002_0001, 0xFFFF_8000, 0x7FFF_0003]);
        // Split mid-command: nothing answers until the payload is complete.
        d.send(&cmd[..1]).unwrap();
        d.send(&cmd[1..3]).unwrap();
        assert_eq!(d.pending_output(), 0);
        d.send(&cmd[3..]).unwrap();
        assert_eq!(d.recv(1, 0).unwrap(), vec![st(op::WRITE, Status::Ok)]);
        assert_eq!(
            &d.buffer(Buffer::B)[10..16],
            &[1, 2, i16::MIN, -1, 3, i16::MAX]
        );
        let r = exchange(&mut d, &[header(op::READ, 3), address_word(1, 10)]);
        assert_eq!(r, [st(op::READ, Status::Ok), cmd[2], cmd[3], cmd[4]]);
    }

    #[test]
    fn recv_shortfall_times_out_and_consumes_nothing() {
        let mut d = dev();
        d.send(&[header(op::COUNTERS, 0)]).unwrap();
        match d.recv(8, 100) {
            Err(LinkError::Timeout { wanted: 8, got: 7 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(d.recv(7, 100).unwrap()[0], st(op::COUNTERS, Status::Ok));
    }

    #[test]
    fn malformed_commands_get_their_status_and_the_stream_stays_in_step() {
        let mut d = dev();
        let ident = header(op::IDENTIFY, 0);
        let cases: Vec<(Vec<u32>, u32)> = vec![
            (vec![0x7F00_0000], st(0x7F, Status::UnknownOpcode)),
            (vec![0], st(0, Status::UnknownOpcode)),
            (
                vec![header(op::WRITE, 2), address_word(3, 0), 1, 2],
                st(op::WRITE, Status::BadBuffer),
            ),
            (
                vec![header(op::WRITE, 2), address_word(0, 3), 1, 2],
                st(op::WRITE, Status::BadAddress),
            ),
            (
                vec![header(op::WRITE, 2), address_word(2, 254), 1, 2],
                st(op::WRITE, Status::BadAddress),
            ),
            (
                vec![header(op::WRITE, 0), address_word(0, 0)],
                st(op::WRITE, Status::BadSize),
            ),
            (
                vec![header(op::READ, 1), address_word(9, 0)],
                st(op::READ, Status::BadBuffer),
            ),
            (
                vec![header(op::READ, 129), address_word(0, 0)],
                st(op::READ, Status::BadAddress),
            ),
            (
                vec![header(op::READ, 0), address_word(0, 0)],
                st(op::READ, Status::BadSize),
            ),
            (
                vec![header(op::SEED, 4), 1, 2, 3],
                st(op::SEED, Status::BadColumn),
            ),
        ];
        for (cmd, want) in cases {
            // Each bad command is followed by an IDENTIFY, which must be
            // understood: the bad one consumed exactly its own words.
            let mut words = cmd.clone();
            words.push(ident);
            let r = exchange(&mut d, &words);
            assert_eq!(r[0], want, "{cmd:x?}");
            assert_eq!(r.len(), 2 + IDENTIFY_WORDS, "{cmd:x?}");
            assert_eq!(r[1], st(op::IDENTIFY, Status::Ok), "{cmd:x?}");
        }
        // A rejected WRITE did not touch the buffers.
        assert!(d.buffer(Buffer::A).iter().all(|&x| x == 0));
        assert!(d.buffer(Buffer::C).iter().all(|&x| x == 0));
    }

    #[test]
    fn malformed_gemms_are_rejected() {
        let mut d = dev();
        let good = small_gemm();
        let bad_mode = {
            let mut w = gemm_words(&good);
            w[2] |= 3 << 16;
            w
        };
        let reserved = {
            let mut w = gemm_words(&good);
            w[2] |= 1 << 25;
            w
        };
        let cases: Vec<(Vec<u32>, Status)> = vec![
            (bad_mode, Status::BadFormat),
            (reserved, Status::BadFormat),
            (gemm_words(&Gemm { k: 0, ..good }), Status::BadSize),
            (gemm_words(&Gemm { m: 0, ..good }), Status::BadSize),
            (
                gemm_words(&Gemm {
                    formats: Formats {
                        fl_out: 9,
                        ..Formats::uniform(4)
                    },
                    ..good
                }),
                Status::BadFormat,
            ),
            (
                gemm_words(&Gemm {
                    formats: Formats::uniform(32),
                    ..good
                }),
                Status::BadFormat,
            ),
            (gemm_words(&Gemm { a_base: 2, ..good }), Status::BadAddress),
            (
                gemm_words(&Gemm {
                    out_base: 256 - 16,
                    ..good
                }),
                Status::BadAddress,
            ),
            (
                gemm_words(&Gemm {
                    acc_init: true,
                    cin_base: 1 << 20,
                    ..good
                }),
                Status::BadAddress,
            ),
        ];
        for (cmd, want) in cases {
            let r = exchange(&mut d, &cmd);
            assert_eq!(r, [st(op::GEMM, want)], "{cmd:x?}");
        }
        // Nothing ran: no MACs counted, LFSRs untouched.
        assert_eq!(d.counters(), Counters::default());
        assert_eq!(d.lfsrs()[0], Lfsr::new(column_state(POWER_UP_SEED, 0)));
        let r = exchange(&mut d, &gemm_words(&good));
        assert_eq!(r, [st(op::GEMM, Status::Ok)]);
    }

    #[test]
    fn seed_loads_the_column_state() {
        let mut d = dev();
        let r = exchange(&mut d, &[header(op::SEED, 3), 0x0123_4567, 0x89AB_CDE0, 0]);
        assert_eq!(r, [st(op::SEED, Status::Ok)]);
        // Each component's lowest state bit forced on.
        assert_eq!(d.lfsrs()[3].state(), [0x0123_4567, 0x89AB_CDE8, 0x10]);
        assert_eq!(d.lfsrs()[2], Lfsr::new(column_state(POWER_UP_SEED, 2)));
    }

    #[test]
    fn counters_count_useful_macs_and_modelled_cycles() {
        let mut d = dev();
        let g = small_gemm();
        exchange(&mut d, &gemm_words(&g));
        exchange(&mut d, &gemm_words(&g));
        let r = exchange(&mut d, &[header(op::COUNTERS, 0)]);
        let c = Counters::decode(&r[1..]);
        assert_eq!(c.macs, 2 * 3 * 2 * 5);
        assert_eq!(c.busy, 2 * gemm_busy_cycles(4, 4, &g));
        assert_eq!(c.cycles, c.busy);
    }

    #[test]
    fn every_output_draws_once_in_every_mode() {
        // 3 x 5 pads to 4 x 8: two tiles of 4 rows, so 8 draws per column.
        for mode in Rounding::ALL {
            let mut d = dev();
            exchange(
                &mut d,
                &gemm_words(&Gemm {
                    mode,
                    ..small_gemm()
                }),
            );
            for (c, l) in d.lfsrs().iter().enumerate() {
                let mut want = Lfsr::new(column_state(POWER_UP_SEED, c));
                for _ in 0..8 {
                    want.draw();
                }
                assert_eq!(*l, want, "{mode} column {c}");
            }
        }
    }

    /// Pruned weights stay zero through masked stochastic updates; the
    /// others move, through zero as well; an unmasked GEMM clears marks.
    #[test]
    fn masked_updates_keep_pruned_weights_zero() {
        use srsa_spec::protocol::PRUNE_BIT;
        let mut d = dev();
        // W (1 x 4 in C at 0): 0 is pruned, 3 unpruned; A = 1 x 1, B = 1 x 4.
        let w: Vec<i16> = vec![0, 3, 0, -3];
        let mut cmd = vec![header(op::WRITE, 2), 1 << PRUNE_BIT | address_word(2, 0)];
        cmd.extend(pack_as(&w, srsa_spec::protocol::Width::W16));
        assert_eq!(exchange(&mut d, &cmd), vec![st(op::WRITE, Status::Ok)]);
        assert_eq!(&d.pruned()[..4], &[true, false, true, false]);
        // W + a b with a = 1 and b = (5, -3, 7, 3) at FL 0: the unpruned
        // weights go to 0 and back out, the pruned ones never move.
        let mut cmd = vec![header(op::WRITE, 1), address_word(0, 0), 1];
        cmd.extend([header(op::WRITE, 2), address_word(1, 0)]);
        cmd.extend(pack_as(&[5, -3, 7, 3], srsa_spec::protocol::Width::W16));
        exchange(&mut d, &cmd);
        let mut g = Gemm::plain(1, 1, 4, Rounding::Stochastic, Formats::uniform(0));
        g.acc_init = true;
        g.masked = true;
        let draws: Vec<u32> = d.lfsrs().iter().map(|l| l.state()[0]).collect();
        assert_eq!(
            exchange(&mut d, &gemm_words(&g)),
            vec![st(op::GEMM, Status::Ok)]
        );
        assert_eq!(&d.buffer(Buffer::C)[..4], &[0, 0, 0, 0]);
        assert_eq!(&d.pruned()[..4], &[true, false, true, false]);
        // Every output drew, pruned or not.
        let after: Vec<u32> = d.lfsrs().iter().map(|l| l.state()[0]).collect();
        assert!(draws.iter().zip(&after).all(|(a, b)| a != b));
        assert_eq!(
            exchange(&mut d, &gemm_words(&g)),
            vec![st(op::GEMM, Status::Ok)]
        );
        assert_eq!(&d.buffer(Buffer::C)[..4], &[0, -3, 0, 3]);
        // Unmasked, the same update moves every weight and clears the marks.
        g.masked = false;
        exchange(&mut d, &gemm_words(&g));
        assert_eq!(&d.buffer(Buffer::C)[..4], &[5, -6, 7, 6]);
        assert_eq!(&d.pruned()[..4], &[false; 4]);
        // A device without the mask refuses the flag, in a WRITE and a GEMM.
        let mut d = dev().with_features(feature::ALL & !feature::MASK);
        let cmd = [header(op::WRITE, 1), 1 << PRUNE_BIT | address_word(2, 0), 0];
        assert_eq!(
            exchange(&mut d, &cmd),
            vec![st(op::WRITE, Status::BadFormat)]
        );
        g.masked = true;
        assert_eq!(
            exchange(&mut d, &gemm_words(&g)),
            vec![st(op::GEMM, Status::BadFormat)]
        );
    }

    /// EXPAND stores what the spec's decoder gives, marks its zeros with
    /// the flag, and answers a malformed stream with its status, leaving
    /// the device in step.
    #[test]
    fn expand_stores_the_decoded_region() {
        use srsa_spec::expand::{encode_pairs, Expand, PairWidth};
        let mut d = dev();
        let book = [0i16, 11, -22, 33];
        let indices = [0u32, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 0, 0];
        let e = Expand {
            buffer: Buffer::C,
            address: 6,
            prune: true,
            pair: PairWidth::P8,
            elems: indices.len() as u32,
            index_bits: 5,
            entries: 4,
        };
        let pairs = encode_pairs(&indices, 5, e.gap_max());
        let payload = e.payload(&book, &pairs);
        let run = |d: &mut GoldenDevice, e: &Expand, payload: &[u32]| {
            let mut cmd = vec![header(op::EXPAND, payload.len() as u32)];
            cmd.extend(e.encode());
            cmd.extend(payload);
            cmd.push(header(op::IDENTIFY, 0));
            let r = exchange(d, &cmd);
            assert_eq!(r.len(), 2 + IDENTIFY_WORDS, "{r:x?}");
            r[0]
        };
        assert_eq!(run(&mut d, &e, &payload), st(op::EXPAND, Status::Ok));
        let want: Vec<i16> = indices.iter().map(|&i| book[i as usize]).collect();
        assert_eq!(&d.buffer(Buffer::C)[6..20], &want[..]);
        let marks: Vec<bool> = want.iter().map(|&x| x == 0).collect();
        assert_eq!(&d.pruned()[6..20], &marks[..]);
        // An index past the codebook, a run past the end, a short stream.
        let few = Expand { entries: 3, ..e };
        let few_payload = few.payload(&book[..3], &pairs);
        assert_eq!(
            run(&mut d, &few, &few_payload),
            st(op::EXPAND, Status::BadIndex)
        );
        let short = Expand { elems: 12, ..e };
        assert_eq!(
            run(&mut d, &short, &payload),
            st(op::EXPAND, Status::Overrun)
        );
        // (A word's three padding pairs store zeros while the region has room.)
        let long = Expand { elems: 18, ..e };
        assert_eq!(
            run(&mut d, &long, &payload),
            st(op::EXPAND, Status::ShortStream)
        );
        let odd = Expand { address: 7, ..e };
        assert_eq!(
            run(&mut d, &odd, &payload),
            st(op::EXPAND, Status::BadAddress)
        );
        // Without the feature it is an unknown opcode.
        let mut d = dev().with_features(feature::ALL & !feature::EXPAND);
        let r = exchange(&mut d, &[header(op::EXPAND, 0)]);
        assert_eq!(r, vec![st(op::EXPAND, Status::UnknownOpcode)]);
    }
}
