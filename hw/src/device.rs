//! The whole device behind its host link, composed of its blocks: the
//! command decoder (`decoder`), WRITE and READ (`transfer`, with the
//! packing of narrow transfer elements between the link and the banks),
//! the GEMM's arguments and checks (`gemm_args`), the tile sequencer with
//! its feed and drain chains (`sequencer`), the banked buffers
//! (`buffers`), the array, one output stage per column, the counters, and
//! the codebook decoder of EXPAND (`expander`), which takes the buffers'
//! host port while it runs. Protocol and layouts: `srsa_spec::protocol`
//! and docs/PROTOCOL.md.

use crate::array::Array;
use crate::buffers::Buffers;
use crate::counters::Counters;
use crate::decoder::Decoder;
use crate::expander::Expander;
use crate::gemm_args::GemmArgs;
use crate::output_stage::OutputStage;
use crate::ports::{HostPort, TileWalk};
use crate::sequencer::Sequencer;
use crate::transfer::Transfer;
use rust_hdl::prelude::*;
use srsa_spec::lfsr::{column_state, POWER_UP_SEED};
use srsa_spec::protocol::feature;

/// R x C: array rows and columns (powers of two, at least 2); DA and DC:
/// address bits of an A bank and of a B or C bank (R << DA == C << DC
/// elements per buffer). The optional operand paths it is built with are a
/// constructor argument: constants in the blocks that implement them.
#[derive(LogicBlock)]
pub struct Device<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// Synchronous: back to Idle, any GEMM abandoned. Buffers, generator
    /// states and counters are kept.
    pub reset: Signal<In, Bit>,
    pub cmd_data: Signal<In, Bits<32>>,
    pub cmd_valid: Signal<In, Bit>,
    pub cmd_ready: Signal<Out, Bit>,
    pub rsp_data: Signal<Out, Bits<32>>,
    pub rsp_valid: Signal<Out, Bit>,
    pub rsp_ready: Signal<In, Bit>,

    pub decoder: Decoder<R, C>,
    pub args: GemmArgs<R, C, DA, DC>,
    pub sequencer: Sequencer<R, C, DA, DC>,
    pub buffers: Buffers<R, C, DA, DC>,
    pub transfer: Transfer,
    pub array: Array<R, C>,
    pub out: Vec<OutputStage<DC>>,
    pub counters: Counters,
    pub expander: Expander,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Device<R, C, DA, DC> {
    /// A device with the operand paths `features` (`srsa_spec::protocol::feature`).
    pub fn new(features: u32) -> Self {
        assert_eq!(
            features & !feature::ALL,
            0,
            "operand paths {features:#x}: not all defined"
        );
        srsa_spec::protocol::check_shape(R, C, (C << DC) as u32)
            .unwrap_or_else(|e| panic!("no such device: {e}"));
        assert_eq!(
            R << DA,
            C << DC,
            "buffers A and B/C must hold as many elements"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            cmd_data: Default::default(),
            cmd_valid: Default::default(),
            cmd_ready: Default::default(),
            rsp_data: Default::default(),
            rsp_valid: Default::default(),
            rsp_ready: Default::default(),
            decoder: Decoder::new((C << DC) as u32, features),
            args: GemmArgs::new(features),
            sequencer: Sequencer::new(features),
            buffers: Buffers::new(features),
            transfer: Transfer::new((C << DC) as u32, features),
            array: Default::default(),
            out: (0..C)
                .map(|c| OutputStage::new(column_state(POWER_UP_SEED, c)))
                .collect(),
            counters: Default::default(),
            expander: Expander::new((C << DC) as u32, features),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for Device<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        // ---- Host link and decoder. ----
        self.decoder.clock.next = self.clock.val();
        self.decoder.reset.next = self.reset.val();
        self.decoder.cmd_data.next = self.cmd_data.val();
        self.decoder.cmd_valid.next = self.cmd_valid.val();
        self.decoder.rsp_ready.next = self.rsp_ready.val();
        self.cmd_ready.next = self.decoder.cmd_ready.val()
            | self.transfer.cmd_ready.val()
            | self.expander.cmd_ready.val();
        self.rsp_data.next = self.transfer.rsp.val();
        self.rsp_valid.next = self.decoder.rsp_valid.val() | self.transfer.rsp_valid.val();
        self.decoder.gemm_status.next = self.args.status.val();
        self.decoder.gemm_done.next = self.sequencer.done.val();
        self.decoder.counter_word.next = self.counters.word.val();

        // ---- GEMM arguments. ----
        self.args.clock.next = self.clock.val();
        self.args.load.next = self.decoder.arg_load.val();
        self.args.word.next = self.cmd_data.val();
        self.args.sizing.next = self.decoder.sizing.val();
        self.args.index.next = self.decoder.index.val();

        // ---- Sequencer. ----
        self.sequencer.clock.next = self.clock.val();
        self.sequencer.reset.next = self.reset.val();
        self.sequencer.start.next = self.decoder.gemm_start.val();
        TileWalk::<DA, DC>::join(&mut self.args.walk, &mut self.sequencer.walk);

        // ---- Counters. ----
        self.counters.clock.next = self.clock.val();
        self.counters.reset.next = self.reset.val();
        self.counters.busy_cycle.next = self.sequencer.busy.val();
        self.counters.start.next = self.decoder.gemm_start.val();
        self.counters.k.next = self.args.k.val();
        self.counters.mn.next = self.args.mn.val();
        self.counters.snap.next = self.decoder.snap.val();
        self.counters.index.next = self.decoder.index.val();

        // ---- Buffers: the host side, and the array side while running. ----
        self.buffers.clock.next = self.clock.val();
        self.buffers.running.next = self.sequencer.running.val();
        self.buffers.rd_elem.next = self.transfer.rd_elem.val();
        self.buffers.a_transposed.next = self.args.walk.a_transposed.val();
        self.buffers.b_transposed.next = self.args.walk.b_transposed.val();
        self.buffers.b_from_c.next = self.args.b_from_c.val();
        self.buffers.feed_step.next = self.sequencer.feed_step.val();

        // ---- EXPAND: its own words off the link, and the host port. ----
        self.expander.clock.next = self.clock.val();
        self.expander.reset.next = self.reset.val();
        self.expander.start.next = self.decoder.expand_start.val();
        self.expander.cmd_data.next = self.cmd_data.val();
        self.expander.cmd_valid.next = self.cmd_valid.val();
        self.decoder.expand_done.next = self.expander.done.val();
        self.decoder.expand_status.next = self.expander.status.val();
        HostPort::join(&mut self.transfer.host, &mut self.expander.host_in);
        HostPort::join(&mut self.expander.host, &mut self.buffers.host);

        // ---- WRITE and READ: the link's words and the banks' pairs. ----
        self.transfer.clock.next = self.clock.val();
        self.transfer.reset.next = self.reset.val();
        self.transfer.start.next = self.decoder.transfer_start.val();
        self.transfer.write.next = self.decoder.transfer_write.val();
        self.transfer.words.next = self.decoder.transfer_words.val();
        self.transfer.ok.next = self.decoder.transfer_ok.val();
        self.transfer.read.next = self.decoder.transfer_read.val();
        self.transfer.cmd_data.next = self.cmd_data.val();
        self.transfer.cmd_valid.next = self.cmd_valid.val();
        self.transfer.rsp_ready.next = self.rsp_ready.val();
        self.transfer.rsp_in.next = self.decoder.rsp_data.val();
        self.transfer.read_word.next = self.buffers.read_word.val();
        self.decoder.transfer_checked.next = self.transfer.checked.val();
        self.decoder.transfer_status.next = self.transfer.status.val();
        self.decoder.transfer_done.next = self.transfer.done.val();

        // ---- Array: operands from the banks, flags from the sequencer. ----
        self.array.clock.next = self.clock.val();
        for r in 0..R {
            self.buffers.a_addr[r].next = self.sequencer.a_addr[r].val();
            self.array.a_in[r].next = self.buffers.a_data[r].val();
            self.array.valid_in[r].next = self.sequencer.valid[r].val();
            self.array.first_in[r].next = self.sequencer.first[r].val();
            self.array.last_in[r].next = self.sequencer.last[r].val();
        }

        // ---- Columns: B feed, output stage, C_in read and write-back. ----
        for c in 0..C {
            self.buffers.b_addr[c].next = self.sequencer.b_addr[c].val();
            self.array.b_in[c].next = self.buffers.b_data[c].val();
            self.out[c].clock.next = self.clock.val();
            self.out[c].take.next = self.sequencer.take[c].val();
            self.out[c].sum.next = self.array.col_sum[c].val();
            self.out[c].out_addr.next = self.sequencer.out_addr[c].val();
            self.buffers.cin_addr[c].next = self.sequencer.cin_addr[c].val();
            self.out[c].cin.next = self.buffers.c_data[c].val();
            self.out[c].settings.acc_init.next = self.args.settings.acc_init.val();
            self.out[c].settings.masked.next = self.args.settings.masked.val();
            self.out[c].cin_pruned.next = self.buffers.c_pruned[c].val();
            self.buffers.out_pruned[c].next = self.out[c].write_pruned.val();
            self.out[c].settings.align.next = self.args.settings.align.val();
            self.out[c].settings.shift.next = self.args.settings.shift.val();
            self.out[c].settings.mode.next = self.args.settings.mode.val();
            self.out[c].settings.relu.next = self.args.settings.relu.val();
            self.out[c].settings.sign_bits.next = self.args.settings.sign_bits.val();
            self.out[c].seed_load.next = self.decoder.seed_load[c].val();
            self.out[c].seed0.next = self.decoder.seed0.val();
            self.out[c].seed1.next = self.decoder.seed1.val();
            self.out[c].seed2.next = self.cmd_data.val();
            self.buffers.out_enable[c].next = self.out[c].write_enable.val();
            self.buffers.out_addr[c].next = self.out[c].write_address.val();
            self.buffers.out_data[c].next = self.out[c].write_data.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srsa_spec::numerics::{convert, Formats, Rounding};
    use srsa_spec::protocol::{
        address_word, encode_gemm, gemm_busy_cycles, header, op, pack_elements, status_word,
        Counters, Gemm, Status, MAGIC, VERSION,
    };
    use std::sync::{Arc, Mutex};

    /// Sends `words` through the link in rust-hdl's simulator and returns
    /// the first `want` response words.
    fn exchange(words: Vec<u32>, want: usize, max_cycles: u64) -> Vec<u32> {
        exchange_on::<4, 4, 6, 6>(words, want, max_cycles, |_| true, 0)
    }

    /// As [`exchange`], with the host ready for a response word only in the
    /// cycles where `ready(cycle)` holds.
    fn exchange_with(
        words: Vec<u32>,
        want: usize,
        max_cycles: u64,
        ready: fn(u64) -> bool,
    ) -> Vec<u32> {
        exchange_on::<4, 4, 6, 6>(words, want, max_cycles, ready, 0)
    }

    /// As [`exchange_with`], on an R x C device with `features`.
    fn exchange_on<const R: usize, const C: usize, const DA: usize, const DC: usize>(
        words: Vec<u32>,
        want: usize,
        max_cycles: u64,
        ready: fn(u64) -> bool,
        features: u32,
    ) -> Vec<u32> {
        type Dut<const R: usize, const C: usize, const DA: usize, const DC: usize> =
            Device<R, C, DA, DC>;
        let mut uut = Dut::<R, C, DA, DC>::new(features);
        uut.connect_all();
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Dut<R, C, DA, DC>>| {
            x.clock.next = !x.clock.val()
        });
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        sim.add_testbench(move |mut sim: Sim<Dut<R, C, DA, DC>>| {
            let mut x = sim.init()?;
            let mut next = 0;
            for cycle in 0..max_cycles {
                x.cmd_valid.next = next < words.len();
                x.cmd_data.next = (*words.get(next).unwrap_or(&0) as u64).into();
                x.rsp_ready.next = ready(cycle);
                x = sim.wait(1, x)?;
                if x.cmd_valid.val() && x.cmd_ready.val() {
                    next += 1;
                }
                if x.rsp_valid.val() && x.rsp_ready.val() {
                    sink.lock().unwrap().push(x.rsp_data.val().to_u64() as u32);
                }
                if sink.lock().unwrap().len() >= want {
                    break;
                }
                wait_clock_true!(sim, clock, x);
                wait_clock_false!(sim, clock, x);
            }
            sim.done(x)
        });
        sim.run(Box::new(uut), max_cycles * 10 + 100).unwrap();
        let v = got.lock().unwrap().clone();
        v
    }

    #[test]
    fn identifies_and_round_trips_a_buffer() {
        let mut cmd = vec![header(op::IDENTIFY, 0)];
        cmd.push(header(op::WRITE, 3));
        cmd.push(address_word(2, 6));
        cmd.extend([0x0002_0001, 0x0004_0003, 0x8000_7FFF]);
        cmd.push(header(op::READ, 4));
        cmd.push(address_word(2, 4));
        let got = exchange(cmd, 9 + 1 + 5, 200);
        assert_eq!(got[0], status_word(op::IDENTIFY, Status::Ok));
        assert_eq!(&got[1..9], &[MAGIC, VERSION, 4, 4, 16, 48, 4 << 6, 0]);
        assert_eq!(got[9], status_word(op::WRITE, Status::Ok));
        assert_eq!(got[10], status_word(op::READ, Status::Ok));
        // Elements 4 and 5 were never written.
        assert_eq!(&got[11..], &[0, 0x0002_0001, 0x0004_0003, 0x8000_7FFF]);
    }

    #[test]
    fn read_streams_and_holds_under_backpressure() {
        let data: Vec<u32> = (0..24u32).map(|i| i * 0x0003_0001 + 0x0100_0200).collect();
        let mut cmd = vec![header(op::WRITE, 24), address_word(1, 8)];
        cmd.extend(&data);
        cmd.push(header(op::READ, 24));
        cmd.push(address_word(1, 8));
        let mut expect = vec![
            status_word(op::WRITE, Status::Ok),
            status_word(op::READ, Status::Ok),
        ];
        expect.extend(&data);
        // Always ready, ready one cycle in three, and in bursts.
        let patterns: [fn(u64) -> bool; 3] = [|_| true, |c| c % 3 == 0, |c| (c / 5) % 2 == 0];
        for (i, ready) in patterns.into_iter().enumerate() {
            let got = exchange_with(cmd.clone(), expect.len(), 600, ready);
            assert_eq!(got, expect, "ready pattern {i}");
        }
    }

    #[test]
    fn rejects_bad_commands_and_stays_usable() {
        let cmd = vec![
            header(0x7F, 0),
            header(op::WRITE, 2),
            address_word(3, 0), // no such buffer; payload still consumed
            0xDEAD_BEEF,
            0xDEAD_BEEF,
            header(op::READ, 1),
            address_word(0, 1), // odd address
            header(op::READ, 200),
            address_word(0, 0), // beyond the buffer
            header(op::SEED, 4),
            1,
            2,
            3,
            header(op::IDENTIFY, 0),
        ];
        let got = exchange(cmd, 6, 200);
        assert_eq!(
            got,
            vec![
                status_word(0x7F, Status::UnknownOpcode),
                status_word(op::WRITE, Status::BadBuffer),
                status_word(op::READ, Status::BadAddress),
                status_word(op::READ, Status::BadAddress),
                status_word(op::SEED, Status::BadColumn),
                status_word(op::IDENTIFY, Status::Ok),
            ]
        );
    }

    #[test]
    fn small_gemm_truncates_exactly() {
        // 5 x 3 by 3 x 6 (not multiples of 4): two tile rows, two tile
        // columns, K < R so the sequencer inserts gaps.
        small_gemm::<4, 4, 6, 6>(3);
    }

    /// The same product on rectangular arrays: 2 x 4 (three tile rows, K
    /// above R: no gaps) and 4 x 2 (three tile columns).
    #[test]
    fn small_gemm_on_rectangular_arrays() {
        small_gemm::<2, 4, 7, 6>(3);
        small_gemm::<4, 2, 6, 7>(3);
        small_gemm::<2, 4, 7, 6>(1);
    }

    fn small_gemm<const R: usize, const C: usize, const DA: usize, const DC: usize>(k: usize) {
        println!("{R} x {C} array, K = {k}");
        let (m, ncol) = (5usize, 6usize);
        let (mp, np) = (m.next_multiple_of(R), ncol.next_multiple_of(C));
        let a: Vec<i16> = (0..m * k).map(|i| (i as i16 * 37 - 200) * 50).collect();
        let b: Vec<i16> = (0..k * ncol).map(|i| 1000 - i as i16 * 111).collect();
        let mut abuf = vec![0i16; k * mp];
        for i in 0..m {
            for kk in 0..k {
                abuf[kk * mp + i] = a[i * k + kk];
            }
        }
        let mut bbuf = vec![0i16; k * np];
        for kk in 0..k {
            for j in 0..ncol {
                bbuf[kk * np + j] = b[kk * ncol + j];
            }
        }
        let formats = Formats::new(6, 8, 0, 7);
        let g = Gemm::plain(m as u32, k as u32, ncol as u32, Rounding::Truncate, formats);
        let mut cmd = vec![header(op::WRITE, (k * mp / 2) as u32), address_word(0, 0)];
        cmd.extend(pack_elements(&abuf));
        cmd.extend([header(op::WRITE, (k * np / 2) as u32), address_word(1, 0)]);
        cmd.extend(pack_elements(&bbuf));
        cmd.push(header(op::GEMM, 0));
        cmd.extend(encode_gemm(&g));
        cmd.extend([header(op::READ, (mp * np / 2) as u32), address_word(2, 0)]);
        cmd.push(header(op::COUNTERS, 0));
        let got = exchange_on::<R, C, DA, DC>(cmd, 4 + mp * np / 2 + 7, 2000, |_| true, 0);
        let counters = Counters::decode(&got[got.len() - 6..]);
        assert_eq!(counters.busy, gemm_busy_cycles(R as u32, C as u32, &g));
        assert_eq!(counters.macs, (m * k * ncol) as u64);
        assert!(counters.cycles > counters.busy);
        assert_eq!(got[2], status_word(op::GEMM, Status::Ok), "{got:x?}");
        for i in 0..m {
            for j in 0..ncol {
                let acc: i64 = (0..k)
                    .map(|kk| a[i * k + kk] as i64 * b[kk * ncol + j] as i64)
                    .sum();
                let want = convert(
                    acc,
                    formats.shift(),
                    formats.wl_out,
                    Rounding::Truncate,
                    0,
                    false,
                );
                let e = i * np + j;
                let word = got[4 + e / 2];
                let have = (word >> (16 * (e % 2))) as u16 as i16;
                assert_eq!(have, want, "output ({i}, {j})");
            }
        }
    }

    /// EXPAND on the device: a region decoded as the spec decodes it (read
    /// back), its zeros marked (a masked update keeps them zero and moves
    /// the rest), and malformed streams answered with their status while
    /// the device stays in step.
    #[test]
    fn expands_coded_regions_and_masks_updates() {
        use srsa_spec::expand::{encode_pairs, expand, Expand, PairWidth};
        use srsa_spec::protocol::{feature, Buffer};
        let book = [0i16, 300, -200, 7, 1000];
        // 24 elements of C at 8: runs around the 8-bit pairs' gap of 7.
        let indices: Vec<u32> = vec![
            0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut cmd = vec![];
        let mut want = vec![];
        let mut cases = vec![];
        for (pair, entries, elems) in [
            (PairWidth::P8, 5, 24),  // fillers, padding
            (PairWidth::P16, 5, 24), // one pair per weight
            (PairWidth::P8, 4, 24),  // index 4 is past the codebook
            (PairWidth::P8, 5, 12),  // a run past the end
            (PairWidth::P8, 5, 40),  // a short stream
        ] {
            let e = Expand {
                buffer: Buffer::C,
                address: 8,
                prune: true,
                pair,
                elems,
                index_bits: 3,
                entries,
            };
            let pairs = encode_pairs(&indices, 3, e.gap_max());
            let payload = e.payload(&book[..entries as usize], &pairs);
            cmd.push(header(op::EXPAND, payload.len() as u32));
            cmd.extend(e.encode());
            cmd.extend(&payload);
            let (stored, status) = expand(&e, &payload);
            want.push(status_word(op::EXPAND, status));
            cases.push((stored, status));
            if cases.len() == 1 {
                // Read the first region back before the others overwrite it.
                cmd.extend([header(op::READ, 12), address_word(2, 8)]);
                want.push(status_word(op::READ, Status::Ok));
                want.extend(pack_elements(&cases[0].0));
                // W + a b in place over the region's first 4 x 4 (a = 1,
                // b = 5 in row 0): its pruned zeros stay zero.
                cmd.extend([header(op::WRITE, 1), address_word(0, 0), 1]);
                cmd.extend([
                    header(op::WRITE, 2),
                    address_word(1, 0),
                    0x0005_0005,
                    0x0005_0005,
                ]);
                let mut g = Gemm::plain(1, 1, 4, Rounding::Truncate, Formats::uniform(0));
                (g.acc_init, g.masked, g.cin_base, g.out_base) = (true, true, 8, 8);
                cmd.push(header(op::GEMM, 0));
                cmd.extend(encode_gemm(&g));
                cmd.extend([header(op::READ, 8), address_word(2, 8)]);
                let mut w: Vec<i16> = cases[0].0[..16].to_vec();
                for (j, x) in w.iter_mut().enumerate().take(4) {
                    if indices[j] != 0 {
                        *x += 5;
                    }
                }
                assert_eq!(&w[..4], &[0, 305, 0, 0]);
                want.extend(
                    [op::WRITE, op::WRITE, op::GEMM, op::READ].map(|o| status_word(o, Status::Ok)),
                );
                want.extend(pack_elements(&w));
            }
        }
        assert_eq!(cases[0].1, Status::Ok);
        assert!(cases[2..].iter().all(|c| c.1 != Status::Ok));
        cmd.push(header(op::IDENTIFY, 0));
        want.push(status_word(op::IDENTIFY, Status::Ok));
        let got = exchange_on::<4, 4, 6, 6>(cmd, want.len() + 8, 3000, |_| true, feature::ALL);
        assert_eq!(&got[..want.len()], &want[..], "{got:x?}");
    }
}
