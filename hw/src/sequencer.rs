//! The tile sequencer: walks a GEMM's feed steps, skews them into the
//! array through the feed chains, and names each finished output to its
//! column's output stage through the drain chain.
//!
//! It emits one feed step per cycle (k = 0..K of a tile, tile rows outer,
//! tile columns inner). A step enters address chain stage 0; row r's A bank
//! and column c's B bank read at stage r (resp. c), so operands reach the
//! array already skewed. A tile's last step also starts the drain
//! (`drain`), which names the output row each column finishes. Tiles are spaced
//! at least R cycles apart (a gap when K < R) so each column finishes at
//! most one sum per cycle, and the last tile is followed by R + C + 3
//! flush cycles: the busy time is srsa_spec::protocol::gemm_busy_cycles.
//!
//! With A read transposed (A row-major, rows pad(K, R) apart), row r's step
//! k reads bank k % R, not bank r: the address chain adds one row stride
//! per stage, and the step counter `feed_step` tells the buffers which bank
//! serves which row. It counts every cycle of the GEMM, idle steps
//! included, and the tile period (`idle_steps` after K) is a multiple of
//! R, so each tile starts at a multiple of R and the rows, skewed one cycle
//! apart, always read distinct banks. B read transposed is the same on the
//! columns. Both are gated on the device's paths, so without them the
//! logic is what it was.

use crate::dffs;
use crate::drain::Drain;
use crate::ports::TileWalkIn;
use crate::rotator::SHIFT_BITS;
use rust_hdl::prelude::*;
use srsa_spec::protocol::feature;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum Phase {
    Idle,
    Run,
    Gap,
    Flush,
}

#[derive(LogicBlock)]
pub struct Sequencer<const R: usize, const C: usize, const DA: usize, const DC: usize> {
    pub clock: Signal<In, Clock>,
    /// Abandons the GEMM (the chains drain by themselves).
    pub reset: Signal<In, Bit>,
    /// Starts a checked GEMM with the arguments below (held until `done`).
    pub start: Signal<In, Bit>,
    pub walk: TileWalkIn<DA, DC>,

    /// From `start` to `done`: the banks are the array's.
    pub running: Signal<Out, Bit>,
    /// This cycle is one of the GEMM's busy cycles.
    pub busy: Signal<Out, Bit>,
    /// The last busy cycle: every output has been written.
    pub done: Signal<Out, Bit>,
    pub a_addr: [Signal<Out, Bits<DA>>; R],
    pub b_addr: [Signal<Out, Bits<DC>>; C],
    pub valid: [Signal<Out, Bit>; R],
    pub first: [Signal<Out, Bit>; R],
    pub last: [Signal<Out, Bit>; R],
    /// Column c's output stage takes a sum this cycle, for these rows.
    pub take: [Signal<Out, Bit>; C],
    pub cin_addr: [Signal<Out, Bits<DC>>; C],
    pub out_addr: [Signal<Out, Bits<DC>>; C],
    /// The step count (mod 2^SHIFT_BITS) of the step whose addresses stage
    /// 0 of the chains holds: stage s holds step `feed_step - s`.
    pub feed_step: Signal<Out, Bits<SHIFT_BITS>>,

    phase: DFF<Phase>,
    in_gemm: DFF<Bit>,
    k_step: DFF<Bits<16>>,
    tile_row: DFF<Bits<16>>,
    tile_col: DFF<Bits<16>>,
    a_next: DFF<Bits<DA>>,
    b_next: DFF<Bits<DC>>,
    cin_row: DFF<Bits<DC>>,
    out_row: DFF<Bits<DC>>,
    gap: DFF<Bits<16>>,
    flush: DFF<Bits<8>>,
    step: DFF<Bits<SHIFT_BITS>>,
    stage0_step: DFF<Bits<SHIFT_BITS>>,
    /// Transposed reads: the bank row where the current tile row's first
    /// row of A (tile column's first column of B) starts.
    a_tile: DFF<Bits<DA>>,
    b_tile: DFF<Bits<DC>>,

    // Feed chains: stage s is the feed step delayed s cycles.
    a_chain: Vec<DFF<Bits<DA>>>,
    b_chain: Vec<DFF<Bits<DC>>>,
    /// Flags are one stage longer: they must meet the RAM's read data.
    valid_chain: Vec<DFF<Bit>>,
    first_chain: Vec<DFF<Bit>>,
    last_chain: Vec<DFF<Bit>>,

    drain: Drain<R, C, DC>,

    at: Signal<Local, Bit>,
    bt: Signal<Local, Bit>,
    a_row_stride: Signal<Local, Bits<DA>>,
    b_row_stride: Signal<Local, Bits<DC>>,
    /// A tile row's (column's) worth of rows: R (C) row strides.
    a_tile_stride: Signal<Local, Bits<DA>>,
    b_tile_stride: Signal<Local, Bits<DC>>,

    flush_len: Constant<Bits<8>>,
    has_at: Constant<Bit>,
    has_bt: Constant<Bit>,
    log2r: Constant<Bits<8>>,
    log2c: Constant<Bits<8>>,
    r_mask16: Constant<Bits<16>>,
    c_mask16: Constant<Bits<16>>,
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Sequencer<R, C, DA, DC> {
    /// The sequencer of a device with the operand paths `features`.
    pub fn new(features: u32) -> Self {
        let has = |f: u32| Constant::new(features & f != 0);
        Self {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            walk: Default::default(),
            feed_step: Default::default(),
            step: Default::default(),
            stage0_step: Default::default(),
            a_tile: Default::default(),
            b_tile: Default::default(),
            at: Default::default(),
            bt: Default::default(),
            a_row_stride: Default::default(),
            b_row_stride: Default::default(),
            a_tile_stride: Default::default(),
            b_tile_stride: Default::default(),
            has_at: has(feature::A_TRANSPOSED),
            has_bt: has(feature::B_TRANSPOSED),
            log2r: Constant::new((R.trailing_zeros() as u64).into()),
            log2c: Constant::new((C.trailing_zeros() as u64).into()),
            r_mask16: Constant::new(((R - 1) as u64).into()),
            c_mask16: Constant::new(((C - 1) as u64).into()),
            running: Default::default(),
            busy: Default::default(),
            done: Default::default(),
            a_addr: std::array::from_fn(|_| Default::default()),
            b_addr: std::array::from_fn(|_| Default::default()),
            valid: std::array::from_fn(|_| Default::default()),
            first: std::array::from_fn(|_| Default::default()),
            last: std::array::from_fn(|_| Default::default()),
            take: std::array::from_fn(|_| Default::default()),
            cin_addr: std::array::from_fn(|_| Default::default()),
            out_addr: std::array::from_fn(|_| Default::default()),
            phase: Default::default(),
            in_gemm: Default::default(),
            k_step: Default::default(),
            tile_row: Default::default(),
            tile_col: Default::default(),
            a_next: Default::default(),
            b_next: Default::default(),
            cin_row: Default::default(),
            out_row: Default::default(),
            gap: Default::default(),
            flush: Default::default(),
            a_chain: dffs(R),
            b_chain: dffs(C),
            valid_chain: dffs(R + 1),
            first_chain: dffs(R + 1),
            last_chain: dffs(R + 1),
            drain: Default::default(),
            flush_len: Constant::new(((R + C + 3) as u64).into()),
        }
    }
}

impl<const R: usize, const C: usize, const DA: usize, const DC: usize> Logic
    for Sequencer<R, C, DA, DC>
{
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            phase,
            in_gemm,
            k_step,
            tile_row,
            tile_col,
            a_next,
            b_next,
            cin_row,
            out_row,
            gap,
            flush,
            step,
            stage0_step,
            a_tile,
            b_tile
        );

        // ---- Feed chains (stage 0 is written by the walk below). ----
        for s in 0..R {
            self.a_chain[s].clock.next = self.clock.val();
        }
        for s in 0..C {
            self.b_chain[s].clock.next = self.clock.val();
        }
        for s in 0..(R + 1) {
            self.valid_chain[s].clock.next = self.clock.val();
            self.first_chain[s].clock.next = self.clock.val();
            self.last_chain[s].clock.next = self.clock.val();
        }
        self.a_chain[0].d.next = self.a_next.q.val();
        self.b_chain[0].d.next = self.b_next.q.val();
        self.valid_chain[0].d.next = false;
        self.first_chain[0].d.next = false;
        self.last_chain[0].d.next = false;
        self.at.next = self.walk.a_transposed.val() & self.has_at.val();
        self.bt.next = self.walk.b_transposed.val() & self.has_bt.val();
        self.a_row_stride.next = bit_cast::<DA, 16>(self.walk.a_stride.val());
        self.b_row_stride.next = bit_cast::<DC, 16>(self.walk.b_stride.val());
        self.a_tile_stride.next = self.a_row_stride.val() << self.log2r.val();
        self.b_tile_stride.next = self.b_row_stride.val() << self.log2c.val();
        // Transposed, stage s (row s) is a row of A further on than row s - 1.
        for s in 1..R {
            self.a_chain[s].d.next = self.a_chain[s - 1].q.val();
            if self.at.val() {
                self.a_chain[s].d.next = self.a_chain[s - 1].q.val() + self.a_row_stride.val();
            }
        }
        for s in 1..C {
            self.b_chain[s].d.next = self.b_chain[s - 1].q.val();
            if self.bt.val() {
                self.b_chain[s].d.next = self.b_chain[s - 1].q.val() + self.b_row_stride.val();
            }
        }
        self.stage0_step.d.next = self.step.q.val();
        self.feed_step.next = self.stage0_step.q.val();
        if self.in_gemm.q.val() {
            self.step.d.next = self.step.q.val() + 1;
        }
        for s in 1..(R + 1) {
            self.valid_chain[s].d.next = self.valid_chain[s - 1].q.val();
            self.first_chain[s].d.next = self.first_chain[s - 1].q.val();
            self.last_chain[s].d.next = self.last_chain[s - 1].q.val();
        }
        for r in 0..R {
            self.a_addr[r].next = self.a_chain[r].q.val();
            self.valid[r].next = self.valid_chain[r + 1].q.val();
            self.first[r].next = self.first_chain[r + 1].q.val();
            self.last[r].next = self.last_chain[r + 1].q.val();
        }
        for c in 0..C {
            self.b_addr[c].next = self.b_chain[c].q.val();
        }

        // ---- Drain: names rows 0..R of a finished tile to the columns. ----
        self.drain.clock.next = self.clock.val();
        self.drain.reset.next = self.reset.val();
        self.drain.start.next = false;
        self.drain.cin_start.next =
            self.cin_row.q.val() + bit_cast::<DC, 16>(self.tile_col.q.val());
        self.drain.out_start.next =
            self.out_row.q.val() + bit_cast::<DC, 16>(self.tile_col.q.val());
        self.drain.stride.next = self.walk.tile_cols.val();
        for c in 0..C {
            self.take[c].next = self.drain.take[c].val();
            self.cin_addr[c].next = self.drain.cin_addr[c].val();
            self.out_addr[c].next = self.drain.out_addr[c].val();
        }

        // ---- The walk over tiles and feed steps. ----
        self.running.next = self.in_gemm.q.val();
        self.busy.next = false;
        self.done.next = false;
        match self.phase.q.val() {
            Phase::Idle => {
                if self.start.val() {
                    self.in_gemm.d.next = true;
                    self.k_step.d.next = 0.into();
                    self.tile_row.d.next = 0.into();
                    self.tile_col.d.next = 0.into();
                    self.a_next.d.next = self.walk.a_base.val();
                    self.b_next.d.next = self.walk.b_base.val();
                    self.a_tile.d.next = self.walk.a_base.val();
                    self.b_tile.d.next = self.walk.b_base.val();
                    self.step.d.next = 0.into();
                    self.cin_row.d.next = self.walk.cin_base.val();
                    self.out_row.d.next = self.walk.out_base.val();
                    self.phase.d.next = Phase::Run;
                }
            }
            Phase::Run => {
                self.busy.next = true;
                self.valid_chain[0].d.next = true;
                self.first_chain[0].d.next = self.k_step.q.val() == 0;
                self.last_chain[0].d.next = self.k_step.q.val() == self.walk.k_last.val();
                if self.k_step.q.val() == self.walk.k_last.val() {
                    // Last step of this tile: start its drain, move on.
                    self.drain.start.next = true;
                    self.k_step.d.next = 0.into();
                    if self.walk.idle_steps.val().any() {
                        self.gap.d.next = self.walk.idle_steps.val();
                        self.phase.d.next = Phase::Gap;
                    }
                    if self.tile_col.q.val() + 1 == self.walk.tile_cols.val() {
                        self.tile_col.d.next = 0.into();
                        self.tile_row.d.next = self.tile_row.q.val() + 1;
                        self.cin_row.d.next = self.cin_row.q.val() + self.walk.np.val();
                        self.out_row.d.next = self.out_row.q.val() + self.walk.np.val();
                        self.a_next.d.next =
                            self.walk.a_base.val() + bit_cast::<DA, 16>(self.tile_row.q.val() + 1);
                        if self.at.val() {
                            self.a_tile.d.next = self.a_tile.q.val() + self.a_tile_stride.val();
                            self.a_next.d.next = self.a_tile.q.val() + self.a_tile_stride.val();
                        }
                        self.b_next.d.next = self.walk.b_base.val();
                        self.b_tile.d.next = self.walk.b_base.val();
                        if self.tile_row.q.val() + 1 == self.walk.tile_rows.val() {
                            self.flush.d.next = self.flush_len.val();
                            self.phase.d.next = Phase::Flush;
                        }
                    } else {
                        self.tile_col.d.next = self.tile_col.q.val() + 1;
                        self.a_next.d.next =
                            self.walk.a_base.val() + bit_cast::<DA, 16>(self.tile_row.q.val());
                        if self.at.val() {
                            self.a_next.d.next = self.a_tile.q.val();
                        }
                        self.b_next.d.next =
                            self.walk.b_base.val() + bit_cast::<DC, 16>(self.tile_col.q.val() + 1);
                        if self.bt.val() {
                            self.b_tile.d.next = self.b_tile.q.val() + self.b_tile_stride.val();
                            self.b_next.d.next = self.b_tile.q.val() + self.b_tile_stride.val();
                        }
                    }
                } else {
                    self.k_step.d.next = self.k_step.q.val() + 1;
                    self.a_next.d.next =
                        self.a_next.q.val() + bit_cast::<DA, 16>(self.walk.tile_rows.val());
                    self.b_next.d.next =
                        self.b_next.q.val() + bit_cast::<DC, 16>(self.walk.tile_cols.val());
                    // Transposed, a bank row holds R (C) consecutive steps.
                    if self.at.val() {
                        self.a_next.d.next = self.a_next.q.val();
                        if (self.k_step.q.val() & self.r_mask16.val()) == self.r_mask16.val() {
                            self.a_next.d.next = self.a_next.q.val() + 1;
                        }
                    }
                    if self.bt.val() {
                        self.b_next.d.next = self.b_next.q.val();
                        if (self.k_step.q.val() & self.c_mask16.val()) == self.c_mask16.val() {
                            self.b_next.d.next = self.b_next.q.val() + 1;
                        }
                    }
                }
            }
            Phase::Gap => {
                // Keeps tiles R cycles apart (one finished sum per column),
                // and transposed reads' tiles at multiples of R (C).
                self.busy.next = true;
                self.gap.d.next = self.gap.q.val() - 1;
                if self.gap.q.val() == 1 {
                    self.phase.d.next = Phase::Run;
                }
            }
            Phase::Flush => {
                // The last tile's outputs are still on their way to C.
                self.busy.next = true;
                self.flush.d.next = self.flush.q.val() - 1;
                if self.flush.q.val() == 1 {
                    self.in_gemm.d.next = false;
                    self.done.next = true;
                    self.phase.d.next = Phase::Idle;
                }
            }
        }
        if self.reset.val() {
            self.phase.d.next = Phase::Idle;
            self.in_gemm.d.next = false;
            self.done.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use srsa_spec::numerics::{Formats, Rounding};
    use srsa_spec::protocol::{gemm_busy_cycles, pad, tile_period, Gemm};

    /// One GEMM's arguments, in bank rows as `gemm_args` hands them over.
    #[derive(Clone, Copy, Debug)]
    struct Job {
        m: u32,
        k: u32,
        ncol: u32,
        a_base: u64,
        b_base: u64,
        cin_base: u64,
        out_base: u64,
        a_transposed: bool,
        b_transposed: bool,
        /// Idle cycles before its start.
        idle: usize,
        /// Reset this many cycles after the start (the GEMM is abandoned).
        reset_after: Option<usize>,
    }

    /// What the block drove in one cycle.
    #[derive(Clone, Debug, Default)]
    struct Rec {
        start: bool,
        busy: bool,
        done: bool,
        running: bool,
        /// Per row: (valid, first, last, a_addr).
        rows: Vec<(bool, bool, bool, u64)>,
        b_addr: Vec<u64>,
        /// Per column: (take, cin_addr, out_addr).
        cols: Vec<(bool, u64, u64)>,
        feed_step: u64,
    }

    fn tiles(j: &Job, r: usize, c: usize) -> (u64, u64) {
        (
            j.m.div_ceil(r as u32) as u64,
            j.ncol.div_ceil(c as u32) as u64,
        )
    }

    fn run<const R: usize, const C: usize, const DA: usize, const DC: usize>(
        features: u32,
        jobs: &[Job],
    ) -> Vec<Rec> {
        // (job, start, reset) per cycle.
        let mut plan = vec![];
        for j in jobs {
            for _ in 0..j.idle {
                plan.push((None, false, false));
            }
            match j.reset_after {
                Some(n) => {
                    for t in 0..=n {
                        plan.push((Some(*j), t == 0, t == n));
                    }
                    // An abandoned GEMM's steps drain from the chains by
                    // themselves; the device's next start is always later.
                    for _ in 0..R + C + 2 {
                        plan.push((None, false, false));
                    }
                }
                None => {
                    let busy = gemm_busy_cycles(R as u32, C as u32, &gemm(j)) as usize;
                    for t in 0..busy + 2 {
                        plan.push((Some(*j), t == 0, false));
                    }
                }
            }
        }
        crate::testbench::run_plan(
            Sequencer::<R, C, DA, DC>::new(features),
            plan,
            |(job, start, reset), x| {
                let j = job.unwrap_or(Job {
                    m: 1,
                    k: 1,
                    ncol: 1,
                    a_base: 0,
                    b_base: 0,
                    cin_base: 0,
                    out_base: 0,
                    a_transposed: false,
                    b_transposed: false,
                    idle: 0,
                    reset_after: None,
                });
                let (tr, tc) = tiles(&j, R, C);
                x.start.next = *start;
                x.reset.next = *reset;
                let g = gemm(&j);
                let period = tile_period(R as u32, C as u32, &g);
                x.walk.idle_steps.next = ((period - j.k) as u64).into();
                x.walk.a_transposed.next = j.a_transposed;
                x.walk.b_transposed.next = j.b_transposed;
                x.walk.a_stride.next = (pad(j.k, R as u32) as u64 / R as u64).into();
                x.walk.b_stride.next = (pad(j.k, C as u32) as u64 / C as u64).into();
                x.walk.k_last.next = (j.k as u64 - 1).into();
                x.walk.tile_rows.next = tr.into();
                x.walk.tile_cols.next = tc.into();
                x.walk.np.next = (tc * R as u64).into();
                x.walk.a_base.next = j.a_base.into();
                x.walk.b_base.next = j.b_base.into();
                x.walk.cin_base.next = j.cin_base.into();
                x.walk.out_base.next = j.out_base.into();
            },
            |x| Rec {
                start: x.start.val(),
                busy: x.busy.val(),
                done: x.done.val(),
                running: x.running.val(),
                rows: (0..R)
                    .map(|r| {
                        (
                            x.valid[r].val(),
                            x.first[r].val(),
                            x.last[r].val(),
                            x.a_addr[r].val().to_u64(),
                        )
                    })
                    .collect(),
                b_addr: (0..C).map(|c| x.b_addr[c].val().to_u64()).collect(),
                cols: (0..C)
                    .map(|c| {
                        (
                            x.take[c].val(),
                            x.cin_addr[c].val().to_u64(),
                            x.out_addr[c].val().to_u64(),
                        )
                    })
                    .collect(),
                feed_step: x.feed_step.val().to_u64(),
            },
        )
    }

    fn gemm(j: &Job) -> Gemm {
        Gemm {
            a_transposed: j.a_transposed,
            b_transposed: j.b_transposed,
            ..Gemm::plain(j.m, j.k, j.ncol, Rounding::Truncate, Formats::uniform(0))
        }
    }

    /// Checks every job's schedule against the layouts of
    /// srsa_spec::protocol::Gemm: the busy time, the feed steps each row and
    /// column sees (skewed by its index), and the outputs each column's
    /// stage is told to take, in the spec's order. Transposed reads (when
    /// `features` has them): each step's element is in bank k % R (k % C),
    /// the bank `feed_step` names for its row (column), at the bank row of
    /// the spec's layout, and the rows of any one cycle read distinct banks.
    fn sequencer_matches_layouts<
        const R: usize,
        const C: usize,
        const DA: usize,
        const DC: usize,
    >(
        features: u32,
        seed: u64,
        n: usize,
    ) {
        println!("{R} x {C}, paths {features}, seed {seed:#x}");
        let has = |f: u32| features & f != 0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let jobs: Vec<Job> = (0..n)
            .map(|i| Job {
                m: rng.gen_range(1..=3 * R as u32),
                k: if i % 3 == 0 {
                    rng.gen_range(1..R as u32 + 1)
                } else {
                    rng.gen_range(1..12)
                },
                ncol: rng.gen_range(1..=3 * C as u32),
                a_base: rng.gen_range(0..4),
                b_base: rng.gen_range(0..4),
                cin_base: rng.gen_range(0..8),
                out_base: rng.gen_range(0..8),
                a_transposed: has(feature::A_TRANSPOSED) && rng.gen_bool(0.5),
                b_transposed: has(feature::B_TRANSPOSED) && rng.gen_bool(0.5),
                idle: rng.gen_range(0..4),
                reset_after: (i % 5 == 4).then(|| rng.gen_range(1..10)),
            })
            .collect();
        let recs = run::<R, C, DA, DC>(features, &jobs);
        let starts: Vec<usize> = (0..recs.len()).filter(|&t| recs[t].start).collect();
        assert_eq!(starts.len(), jobs.len());
        for (j, &t0) in jobs.iter().zip(&starts) {
            let busy = gemm_busy_cycles(R as u32, C as u32, &gemm(j)) as usize;
            if let Some(n) = j.reset_after {
                // Abandoned: idle by the cycle after the reset.
                assert!(!recs[t0 + n + 2].busy && !recs[t0 + n + 2].running, "{j:?}");
                continue;
            }
            let span = &recs[t0 + 1..];
            let busy_len = span.iter().take_while(|r| r.busy).count();
            assert_eq!(busy_len, busy, "busy cycles of {j:?}");
            assert!(span[busy - 1].done && span[..busy - 1].iter().all(|r| !r.done));
            assert!(span[..busy].iter().all(|r| r.running) && !span[busy].running);
            let (tr, tc) = tiles(j, R, C);
            // Feed steps in order: tile rows outer, tile columns inner, k.
            let steps: Vec<(u64, u64, u64)> = (0..tr)
                .flat_map(|a| (0..tc).flat_map(move |b| (0..j.k as u64).map(move |k| (a, b, k))))
                .collect();
            // Everything of this job, and nothing of the next: its feed and
            // drain are over by its last busy cycle.
            let window = &recs[t0..t0 + busy + 2];
            assert!(window[1..].iter().all(|r| !r.start));
            let (r64, c64) = (R as u64, C as u64);
            // Transposed: bank rows from one row of A (column of B) to the next.
            let (sa, sb) = (
                pad(j.k, R as u32) as u64 / r64,
                pad(j.k, C as u32) as u64 / c64,
            );
            // The bank that stage s reads in cycle t: feed_step names stage 0's.
            let bank = |t: usize, s: usize, n: u64| (window[t].feed_step + 32 - s as u64) % n;
            for r in 0..R {
                // Row r sees a step's data (valid) the cycle after its A
                // bank was addressed with the step's row: its element is
                // (row, bank) in A's banks.
                let seen: Vec<(bool, bool, u64)> = (1..window.len())
                    .filter(|&t| window[t].rows[r].0)
                    .map(|t| {
                        let (row, b) = (window[t - 1].rows[r].3, bank(t - 1, r, r64));
                        let element = if j.a_transposed { row * r64 + b } else { row };
                        (window[t].rows[r].1, window[t].rows[r].2, element)
                    })
                    .collect();
                let want: Vec<(bool, bool, u64)> = steps
                    .iter()
                    .map(|&(a, _, k)| {
                        let element = if j.a_transposed {
                            // A element (a R + r) pad(K, R) + k, from a_base.
                            j.a_base * r64 + (a * r64 + r as u64) * sa * r64 + k
                        } else {
                            j.a_base + k * tr + a
                        };
                        (k == 0, k == j.k as u64 - 1, element)
                    })
                    .collect();
                assert_eq!(seen, want, "row {r} of {j:?}");
            }
            if j.a_transposed || j.b_transposed {
                // No two rows (columns) read one bank in a cycle.
                for t in 0..window.len() {
                    let mut rows: Vec<u64> = (0..R)
                        .filter(|&r| t + 1 < window.len() && window[t + 1].rows[r].0)
                        .map(|r| bank(t, r, r64))
                        .collect();
                    let n = rows.len();
                    rows.sort();
                    rows.dedup();
                    assert_eq!(rows.len(), n, "cycle {t}: two rows on a bank, {j:?}");
                }
            }
            // Column c addresses B for a step c cycles after row 0's A.
            let row0: Vec<usize> = (1..window.len()).filter(|&t| window[t].rows[0].0).collect();
            for c in 0..C {
                let seen: Vec<u64> = row0
                    .iter()
                    .map(|&t| {
                        let row = window[t - 1 + c].b_addr[c];
                        if j.b_transposed {
                            row * c64 + bank(t - 1 + c, c, c64)
                        } else {
                            row
                        }
                    })
                    .collect();
                let want: Vec<u64> = steps
                    .iter()
                    .map(|&(_, b, k)| {
                        if j.b_transposed {
                            // B element (b C + c) pad(K, C) + k, from b_base.
                            j.b_base * c64 + (b * c64 + c as u64) * sb * c64 + k
                        } else {
                            j.b_base + k * tc + b
                        }
                    })
                    .collect();
                assert_eq!(seen, want, "column {c} of {j:?}");
                // Outputs: every tile's rows in order, column c a cycle after c - 1.
                let takes: Vec<(usize, u64, u64)> = (0..window.len())
                    .filter(|&t| window[t].cols[c].0)
                    .map(|t| (t, window[t].cols[c].1, window[t].cols[c].2))
                    .collect();
                let want: Vec<(u64, u64)> = (0..tr)
                    .flat_map(|a| (0..tc).flat_map(move |b| (0..R as u64).map(move |i| (a, b, i))))
                    .map(|(a, b, i)| ((a * R as u64 + i) * tc + b, b))
                    .map(|(row, _)| (j.cin_base + row, j.out_base + row))
                    .collect();
                let got: Vec<(u64, u64)> = takes.iter().map(|&(_, ci, o)| (ci, o)).collect();
                assert_eq!(got, want, "outputs of column {c} of {j:?}");
                if c > 0 {
                    let first = |col: usize| (0..window.len()).find(|&t| window[t].cols[col].0);
                    assert_eq!(first(c), first(c - 1).map(|t| t + 1), "column {c} skew");
                }
            }
        }
    }

    #[test]
    fn square_sequencer_matches_layouts() {
        sequencer_matches_layouts::<4, 4, 6, 6>(0, 0x5EED_05E1, 25);
        sequencer_matches_layouts::<4, 4, 6, 6>(feature::ALL, 0x5EED_05E4, 30);
    }

    #[test]
    fn rectangular_sequencer_matches_layouts() {
        sequencer_matches_layouts::<2, 4, 7, 6>(0, 0x5EED_05E2, 20);
        sequencer_matches_layouts::<4, 2, 6, 7>(0, 0x5EED_05E3, 20);
        sequencer_matches_layouts::<2, 4, 7, 6>(feature::ALL, 0x5EED_05E5, 30);
        sequencer_matches_layouts::<4, 2, 6, 7>(feature::ALL, 0x5EED_05E6, 30);
    }
}
