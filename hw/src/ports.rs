//! The bundles that pass between the device's blocks, so that a block's
//! port list and the device's wiring name a connection once instead of a
//! signal at a time. Each comes as a mating pair (`LogicInterface` joins
//! the two sides field by field in the generated Verilog).

use rust_hdl::prelude::*;

/// The buffers' host port, write side: the pair written this cycle, or
/// whose read data is on the buffers' `read_word` (see `buffers`). WRITE
/// (`transfer`) drives it; EXPAND (`expander`) takes it over while it runs.
#[derive(LogicInterface, Default)]
#[join = "HostPortIn"]
pub struct HostPort {
    pub write: Signal<Out, Bit>,
    pub buffer: Signal<Out, Bits<2>>,
    /// The (even) element of the pair.
    pub elem: Signal<Out, Bits<24>>,
    pub word: Signal<Out, Bits<32>>,
    /// Mark the pair's zero elements pruned (a WRITE's or EXPAND's flag).
    pub prune: Signal<Out, Bit>,
}

#[derive(LogicInterface, Default)]
#[join = "HostPort"]
pub struct HostPortIn {
    pub write: Signal<In, Bit>,
    pub buffer: Signal<In, Bits<2>>,
    pub elem: Signal<In, Bits<24>>,
    pub word: Signal<In, Bits<32>>,
    pub prune: Signal<In, Bit>,
}

/// A GEMM's tile walk, from its arguments (`gemm_args`) to the sequencer:
/// formed from the registered argument words, so held while it runs. DA
/// and DC: address bits of an A bank and of a B or C bank.
#[derive(LogicInterface, Default)]
#[join = "TileWalkIn"]
pub struct TileWalk<const DA: usize, const DC: usize> {
    /// K - 1: the last feed step of a tile.
    pub k_last: Signal<Out, Bits<16>>,
    /// Idle steps after a tile's K feed steps: the tile period
    /// (`srsa_spec::protocol::tile_period`) minus K.
    pub idle_steps: Signal<Out, Bits<16>>,
    pub a_transposed: Signal<Out, Bit>,
    pub b_transposed: Signal<Out, Bit>,
    /// With A (B) read transposed, the bank rows from one row of A (column
    /// of B) to the next: pad(K, R) / R (pad(K, C) / C).
    pub a_stride: Signal<Out, Bits<16>>,
    pub b_stride: Signal<Out, Bits<16>>,
    /// Tile rows Mp / R and tile columns Np / C.
    pub tile_rows: Signal<Out, Bits<16>>,
    pub tile_cols: Signal<Out, Bits<16>>,
    /// C bank rows per tile row of the output (Np / C * R).
    pub np: Signal<Out, Bits<DC>>,
    /// The operands' and outputs' bases, in bank rows.
    pub a_base: Signal<Out, Bits<DA>>,
    pub b_base: Signal<Out, Bits<DC>>,
    pub cin_base: Signal<Out, Bits<DC>>,
    pub out_base: Signal<Out, Bits<DC>>,
}

#[derive(LogicInterface, Default)]
#[join = "TileWalk"]
pub struct TileWalkIn<const DA: usize, const DC: usize> {
    pub k_last: Signal<In, Bits<16>>,
    pub idle_steps: Signal<In, Bits<16>>,
    pub a_transposed: Signal<In, Bit>,
    pub b_transposed: Signal<In, Bit>,
    pub a_stride: Signal<In, Bits<16>>,
    pub b_stride: Signal<In, Bits<16>>,
    pub tile_rows: Signal<In, Bits<16>>,
    pub tile_cols: Signal<In, Bits<16>>,
    pub np: Signal<In, Bits<DC>>,
    pub a_base: Signal<In, Bits<DA>>,
    pub b_base: Signal<In, Bits<DC>>,
    pub cin_base: Signal<In, Bits<DC>>,
    pub out_base: Signal<In, Bits<DC>>,
}

/// What every column's output stage applies to a GEMM's sums, registered
/// by `gemm_args` from the argument words and held while it runs.
#[derive(LogicInterface, Default)]
#[join = "OutputSettingsIn"]
pub struct OutputSettings {
    /// Add C_in (accumulate-init), shifted left by `align`.
    pub acc_init: Signal<Out, Bit>,
    /// Outputs whose C_in is marked pruned are written as 0 (always zero
    /// on a device without the mask).
    pub masked: Signal<Out, Bit>,
    pub align: Signal<Out, Bits<5>>,
    pub shift: Signal<Out, Bits<5>>,
    /// `Rounding::code()`.
    pub mode: Signal<Out, Bits<2>>,
    pub relu: Signal<Out, Bit>,
    /// The bits a WL_out-bit output's sign fills (WL_out - 1..=15), which
    /// the saturation compares (`rounding::sign_bits`).
    pub sign_bits: Signal<Out, Bits<16>>,
}

#[derive(LogicInterface, Default)]
#[join = "OutputSettings"]
pub struct OutputSettingsIn {
    pub acc_init: Signal<In, Bit>,
    pub masked: Signal<In, Bit>,
    pub align: Signal<In, Bits<5>>,
    pub shift: Signal<In, Bits<5>>,
    pub mode: Signal<In, Bits<2>>,
    pub relu: Signal<In, Bit>,
    pub sign_bits: Signal<In, Bits<16>>,
}
