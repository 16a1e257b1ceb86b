//! The word-stream protocol between a host and any SRSA device.
//!
//! Both directions carry 32-bit words. A command is a header word
//! `opcode << 24 | arg` followed by a fixed number of argument words for its
//! opcode (and, for WRITE, `arg` payload words). Every command gets exactly
//! one response: a status word `opcode << 24 | status << 16`, followed by
//! data words only when the status is OK. docs/PROTOCOL.md is the prose
//! version of this file.

use crate::numerics::{word_max, word_min, Formats, Rounding, WL};
use std::fmt;

pub const VERSION: u32 = 6;
/// First identify word: "SRSA" in ASCII.
pub const MAGIC: u32 = 0x5352_5341;

/// Buffers: A (left operand), B (right operand), C (accumulate-init and
/// results), all of the same size. On an R x C array, A has R banks (one per
/// row) and B and C have C banks (one per column); element e of a buffer
/// with n banks lives in bank e % n at row e / n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    A = 0,
    B = 1,
    C = 2,
}

impl Buffer {
    pub const ALL: [Buffer; 3] = [Buffer::A, Buffer::B, Buffer::C];
    pub fn from_code(code: u32) -> Option<Buffer> {
        match code {
            0 => Some(Buffer::A),
            1 => Some(Buffer::B),
            2 => Some(Buffer::C),
            _ => None,
        }
    }
}

pub mod op {
    /// No args. OK response: [`super::IDENTIFY_WORDS`] words.
    pub const IDENTIFY: u32 = 0x01;
    /// arg = payload words P (1..=MAX_XFER_WORDS); one address word
    /// ([`super::Transfer`]); then P words of elements of the transfer's
    /// [`super::Width`], the lowest address in the lowest bits. The payload
    /// is always consumed, even when rejected.
    pub const WRITE: u32 = 0x02;
    /// arg = words P to read; one address word ([`super::Transfer`]). OK
    /// response: P words, packed as WRITE packs them.
    pub const READ: u32 = 0x03;
    /// arg = 0; [`super::GEMM_ARGS`] words, see [`super::Gemm`]. The response
    /// comes when every output is written.
    pub const GEMM: u32 = 0x04;
    /// arg = column; [`super::SEED_ARGS`] words: the column generator's
    /// component states (see `lfsr`).
    pub const SEED: u32 = 0x05;
    /// No args. OK response: [`super::COUNTER_WORDS`] words.
    pub const COUNTERS: u32 = 0x06;
    /// arg = payload words P; [`super::EXPAND_ARGS`] words (see
    /// [`crate::expand::Expand`]), then P words: a codebook and
    /// run-length-coded indices, expanded into a region of a buffer. The
    /// payload is always consumed, even when rejected.
    pub const EXPAND: u32 = 0x07;
}

/// Status codes (bits 23..16 of a response's status word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    UnknownOpcode = 1,
    BadBuffer = 2,
    /// Address misaligned or a region beyond the buffer.
    BadAddress = 3,
    /// A zero or too large count or dimension.
    BadSize = 4,
    /// An unrepresentable format or rounding mode.
    BadFormat = 5,
    BadColumn = 6,
    /// EXPAND: a code index at or beyond the codebook's entries.
    BadIndex = 7,
    /// EXPAND: a run that passes the end of the region.
    Overrun = 8,
    /// EXPAND: the stream ends before the region is full.
    ShortStream = 9,
}

impl Status {
    pub fn from_code(code: u32) -> Option<Status> {
        use Status::*;
        [
            Ok,
            UnknownOpcode,
            BadBuffer,
            BadAddress,
            BadSize,
            BadFormat,
            BadColumn,
            BadIndex,
            Overrun,
            ShortStream,
        ]
        .into_iter()
        .find(|s| *s as u32 == code)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::UnknownOpcode => "unknown opcode",
            Status::BadBuffer => "no such buffer",
            Status::BadAddress => "address misaligned or out of range",
            Status::BadSize => "zero or too large size",
            Status::BadFormat => "format or rounding mode cannot be represented",
            Status::BadColumn => "no such column",
            Status::BadIndex => "code index beyond the codebook",
            Status::Overrun => "coded run past the end of the region",
            Status::ShortStream => "coded stream ends before the region is full",
        })
    }
}

pub const IDENTIFY_WORDS: usize = 8;

/// The optional GEMM features a device has, as bits of IDENTIFY's last
/// word: three operand paths and narrow outputs. A GEMM that asks for a
/// feature its device lacks is refused ([`Status::BadFormat`]); a host
/// streams operands the older way instead, or keeps outputs at 16 bits.
pub mod feature {
    /// Reads A as stored one row of A after another ([`super::Gemm::a_transposed`]).
    pub const A_TRANSPOSED: u32 = 1;
    /// Reads B as stored one column of B after another ([`super::Gemm::b_transposed`]).
    pub const B_TRANSPOSED: u32 = 2;
    /// Reads the B operand from buffer C ([`super::Gemm::b_from_c`]).
    pub const B_FROM_C: u32 = 4;
    /// Every operand path: GEMM word 1 holds them from
    /// [`super::PATHS_FROM`] up, in this order.
    pub const PATHS: u32 = A_TRANSPOSED | B_TRANSPOSED | B_FROM_C;
    /// Saturates outputs to a WL_out below 16 ([`crate::numerics::Formats::wl_out`]);
    /// without it only WL_out = 16 is accepted.
    pub const WORD_LENGTH: u32 = 8;
    /// Moves 8- and 4-bit elements, four or eight to a transfer word
    /// ([`super::Width`]); without it every transfer is of 16-bit elements.
    pub const PACKED: u32 = 16;
    /// Keeps pruned weights zero: WRITE and EXPAND can mark the zeros
    /// they store in buffer C as pruned ([`super::Transfer::prune`]), and a
    /// masked GEMM ([`super::Gemm::masked`]) writes 0 for every output
    /// whose C_in is marked, and keeps the mark.
    pub const MASK: u32 = 32;
    /// Loads a region from a codebook and coded indices ([`super::op::EXPAND`]).
    pub const EXPAND: u32 = 64;
    /// What Deep Compression needs of a device (Han et al.).
    pub const COMPRESSION: u32 = MASK | EXPAND;
    /// Every feature this protocol version defines.
    pub const ALL: u32 = PATHS | WORD_LENGTH | PACKED | COMPRESSION;
}
pub const COUNTER_WORDS: usize = 6;
pub const GEMM_ARGS: usize = 7;
/// Argument words of SEED: one per LFSR component.
pub const SEED_ARGS: usize = 3;
/// Argument words of EXPAND: the address word, the size word and the
/// codebook word ([`crate::expand::Expand`]).
pub const EXPAND_ARGS: usize = 3;
/// Fixed argument words after a header of `opcode`; an unknown opcode has
/// none (nothing after its header is consumed). WRITE is followed by its
/// payload too: [`payload_words`].
pub const fn arg_words(opcode: u32) -> usize {
    match opcode {
        op::WRITE | op::READ => 1,
        op::EXPAND => EXPAND_ARGS,
        op::GEMM => GEMM_ARGS,
        op::SEED => SEED_ARGS,
        _ => 0,
    }
}

/// Payload words after the argument words: WRITE's and EXPAND's `arg`,
/// none otherwise. The payload of a rejected command is consumed all the
/// same.
pub const fn payload_words(opcode: u32, arg: u32) -> usize {
    match opcode {
        op::WRITE | op::EXPAND => arg as usize,
        _ => 0,
    }
}

/// Largest payload of one WRITE or READ, in words (the header's 24-bit arg).
pub const MAX_XFER_WORDS: u32 = (1 << 24) - 1;
/// Largest K: keeps |acc + C_in + rounding offset| < 2^47 (no wrap).
pub const MAX_K: u32 = (1 << 15) - 1;

/// Array sides a device may have: powers of two (the banking divides
/// addresses by shifting) from 2 to 32.
pub const MIN_SIDE: usize = 2;
pub const MAX_SIDE: usize = 32;
/// Largest buffer: element addresses are 24 bits.
pub const MAX_BUFFER_ELEMS: u32 = 1 << 24;

/// Checks that an R x C array with `buffer_elems` elements per buffer is
/// one a device can have; the message names the offending value.
pub fn check_shape(rows: usize, cols: usize, buffer_elems: u32) -> Result<(), String> {
    for (what, side) in [("rows", rows), ("columns", cols)] {
        if !(MIN_SIDE..=MAX_SIDE).contains(&side) || !side.is_power_of_two() {
            return Err(format!(
                "array {what} {side}: must be a power of two from {MIN_SIDE} to {MAX_SIDE}"
            ));
        }
    }
    if buffer_elems == 0
        || buffer_elems > MAX_BUFFER_ELEMS
        || !buffer_elems.is_multiple_of(rows.max(cols) as u32)
    {
        return Err(format!(
            "{buffer_elems} elements per buffer: must be a multiple of the array side, at most {MAX_BUFFER_ELEMS}"
        ));
    }
    Ok(())
}

pub fn header(opcode: u32, arg: u32) -> u32 {
    debug_assert!(arg < (1 << 24));
    (opcode << 24) | arg
}

pub fn status_word(opcode: u32, status: Status) -> u32 {
    ((opcode & 0xFF) << 24) | ((status as u32) << 16)
}

/// Decodes a status word into (opcode echoed, status code).
pub fn parse_status(word: u32) -> (u32, u32) {
    (word >> 24, (word >> 16) & 0xFF)
}

/// The address word of a 16-bit transfer (or, with `buffer` above 15, of
/// whatever width code its high bits spell: the fuzzers' malformed words).
pub fn address_word(buffer: u32, address: u32) -> u32 {
    (buffer << BUFFER_FROM) | (address & 0xFF_FFFF)
}

/// The element width of a transfer: 16 bits (two to a word), 8 (four) or 4
/// (eight). A device sign-extends each element to 16 bits on WRITE, and
/// on READ saturates each 16-bit element to the width before packing it,
/// as a GEMM saturates to WL_out: the status word goes out before the
/// data, so a value that does not fit cannot be refused without reading
/// the region twice, and a GEMM output at WL_out <= bits always fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Width {
    W16 = 0,
    W8 = 1,
    W4 = 2,
}

impl Width {
    pub const ALL: [Width; 3] = [Width::W16, Width::W8, Width::W4];

    pub fn from_code(code: u32) -> Option<Width> {
        Width::ALL.into_iter().find(|&w| w as u32 == code)
    }

    pub const fn bits(self) -> u32 {
        16 >> self as u32
    }

    pub const fn per_word(self) -> u32 {
        2 << self as u32
    }

    /// The narrowest width that holds every value of a WL-bit word.
    pub fn narrowest(wl: u8) -> Width {
        Width::ALL
            .into_iter()
            .rev()
            .find(|w| w.bits() >= wl as u32)
            .unwrap_or(Width::W16)
    }

    /// Whether `x` survives a round trip at this width.
    pub fn holds(self, x: i16) -> bool {
        let b = self.bits() as u8;
        (word_min(b)..=word_max(b)).contains(&(x as i64))
    }

    /// What a READ sends of `x`: saturated to the width, in its low bits.
    pub fn encode(self, x: i16) -> u32 {
        let b = self.bits() as u8;
        let x = (x as i64).clamp(word_min(b), word_max(b));
        x as u32 & (u32::MAX >> (32 - self.bits()))
    }

    /// What a WRITE stores of `field`'s low bits: sign-extended.
    pub fn decode(self, field: u32) -> i16 {
        let drop = 32 - self.bits();
        ((field << drop) as i32 >> drop) as i16
    }
}

/// Transfer words of `elems` (a whole number of words at `width`), the
/// lowest address in the lowest bits, each element saturated to the width.
pub fn pack_as(elems: &[i16], width: Width) -> Vec<u32> {
    let n = width.per_word() as usize;
    debug_assert!(elems.len().is_multiple_of(n));
    elems
        .chunks_exact(n)
        .map(|c| {
            c.iter().enumerate().fold(0, |w, (i, &x)| {
                w | width.encode(x) << (i as u32 * width.bits())
            })
        })
        .collect()
}

/// The elements of one transfer word at `width`, lowest address first.
pub fn unpack_as(word: u32, width: Width) -> impl Iterator<Item = i16> {
    (0..width.per_word()).map(move |i| width.decode(word >> (i * width.bits())))
}

/// Transfer words of an even number of 16-bit elements.
pub fn pack_elements(elems: &[i16]) -> Vec<u32> {
    pack_as(elems, Width::W16)
}

/// The two 16-bit elements of a transfer word, lower address first.
pub fn unpack_word(word: u32) -> [i16; 2] {
    [word as u16 as i16, (word >> 16) as u16 as i16]
}

/// What a device says of itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub version: u32,
    /// Array rows R and columns C (powers of two).
    pub rows: u32,
    pub cols: u32,
    pub word_bits: u32,
    pub acc_bits: u32,
    /// Elements per buffer (the same for A, B and C).
    pub buffer_elems: u32,
    /// The [`feature`] bits of the operand paths it has.
    pub features: u32,
}

impl Identity {
    pub fn encode(&self) -> [u32; IDENTIFY_WORDS] {
        [
            MAGIC,
            self.version,
            self.rows,
            self.cols,
            self.word_bits,
            self.acc_bits,
            self.buffer_elems,
            self.features,
        ]
    }

    pub fn decode(w: &[u32]) -> Option<Identity> {
        if w.len() != IDENTIFY_WORDS || w[0] != MAGIC {
            return None;
        }
        Some(Identity {
            version: w[1],
            rows: w[2],
            cols: w[3],
            word_bits: w[4],
            acc_bits: w[5],
            buffer_elems: w[6],
            features: w[7],
        })
    }
}

/// Performance counters, each 64 bits on the wire as (low, high).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Clock cycles since power-up.
    pub cycles: u64,
    /// Cycles in which a GEMM was running (from its last argument word to
    /// its response).
    pub busy: u64,
    /// Useful multiply-accumulates: M x K x Ncol per GEMM, padding excluded.
    pub macs: u64,
}

impl Counters {
    pub fn encode(&self) -> [u32; COUNTER_WORDS] {
        let s = |x: u64| [x as u32, (x >> 32) as u32];
        let (c, b, m) = (s(self.cycles), s(self.busy), s(self.macs));
        [c[0], c[1], b[0], b[1], m[0], m[1]]
    }

    pub fn decode(w: &[u32]) -> Counters {
        let j = |i: usize| w[i] as u64 | (w[i + 1] as u64) << 32;
        Counters {
            cycles: j(0),
            busy: j(2),
            macs: j(4),
        }
    }
}

/// One GEMM: `out = convert(C_in aligned + A x B)` for an M x K by K x Ncol
/// product.
///
/// Layouts on an R x C array, with Mp = M rounded up to a multiple of R and
/// Np = Ncol rounded up to a multiple of C ([`a_layout`], [`b_layout`]):
/// - A (M x K) at `a_base + k * Mp + i`, i.e. A transposed, row-major; with
///   `a_transposed`, at `a_base + i * Kr + k` (A row-major, rows Kr = K
///   rounded up to a multiple of R apart);
/// - B (K x Ncol) at `b_base + k * Np + j`, row-major; with `b_transposed`,
///   at `b_base + j * Kc + k` (B transposed, row-major, Kc = K rounded up
///   to a multiple of C);
/// - C_in and out (Mp x Np) at `base + i * Np + j`, row-major.
///
/// `a_base` is a multiple of R, the other bases multiples of C. C_in and the
/// output regions are either the same or disjoint. The whole padded tile
/// grid is computed: rows M..Mp and columns Ncol..Np of the output are
/// written too.
///
/// With `b_from_c` the B operand is read from buffer C, where a previous
/// GEMM left it (resident weights): C's read port then feeds B, so such a
/// GEMM cannot also accumulate-init, and its B region must not overlap its
/// output region.
///
/// Order of work (it fixes every LFSR draw): tiles of R x C outputs, tile
/// rows outer, tile columns inner; within a tile, rows 0..R in order; output
/// (i, j) is converted by column j % C's rounding unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: u32,
    pub k: u32,
    pub ncol: u32,
    pub mode: Rounding,
    pub relu: bool,
    /// Add C_in (from `cin_base`) before rounding.
    pub acc_init: bool,
    /// A is stored row-major ([`feature::A_TRANSPOSED`]).
    pub a_transposed: bool,
    /// B is stored transposed ([`feature::B_TRANSPOSED`]).
    pub b_transposed: bool,
    /// B is read from buffer C ([`feature::B_FROM_C`]).
    pub b_from_c: bool,
    /// Outputs whose C_in is marked pruned are written as 0 and stay
    /// marked ([`feature::MASK`]; needs `acc_init`).
    pub masked: bool,
    pub formats: Formats,
    pub a_base: u32,
    pub b_base: u32,
    pub cin_base: u32,
    pub out_base: u32,
}

impl Gemm {
    /// An M x K by K x Ncol product with every option off: no ReLU, no
    /// accumulate-init, no operand paths, every base 0.
    pub fn plain(m: u32, k: u32, ncol: u32, mode: Rounding, formats: Formats) -> Gemm {
        Gemm {
            m,
            k,
            ncol,
            mode,
            relu: false,
            acc_init: false,
            a_transposed: false,
            b_transposed: false,
            b_from_c: false,
            masked: false,
            formats,
            a_base: 0,
            b_base: 0,
            cin_base: 0,
            out_base: 0,
        }
    }
}

/// The raw argument words of a GEMM, kept separate from [`Gemm`] because a
/// device must be able to receive (and reject) any words.
pub fn encode_gemm(g: &Gemm) -> [u32; GEMM_ARGS] {
    let f = &g.formats;
    [
        (g.m & 0xFFFF) | (g.ncol & 0xFFFF) << 16,
        (g.k & 0xFFFF)
            | g.mode.code() << 16
            | (g.relu as u32) << 18
            | (g.acc_init as u32) << 19
            | (g.a_transposed as u32) << PATHS_FROM
            | (g.b_transposed as u32) << (PATHS_FROM + 1)
            | (g.b_from_c as u32) << (PATHS_FROM + 2)
            | (f.wl_out as u32) << WL_FROM
            | (g.masked as u32) << MASK_FROM,
        f.fl_a as u32 | (f.fl_b as u32) << 8 | (f.fl_c as u32) << 16 | (f.fl_out as u32) << 24,
        g.a_base,
        g.b_base,
        g.cin_base,
        g.out_base,
    ]
}

/// Rounds up to a multiple of n.
pub fn pad(x: u32, n: u32) -> u32 {
    x.div_ceil(n) * n
}

/// Where element (i, k) of A lies, relative to `a_base`, on an R x C array.
pub fn a_layout(g: &Gemm, rows: u32) -> impl Fn(u32, u32) -> u32 {
    let (mp, kr, t) = (pad(g.m, rows), pad(g.k, rows), g.a_transposed);
    move |i, k| if t { i * kr + k } else { k * mp + i }
}

/// Where element (k, j) of B lies, relative to `b_base`, on an R x C array.
pub fn b_layout(g: &Gemm, cols: u32) -> impl Fn(u32, u32) -> u32 {
    let (np, kc, t) = (pad(g.ncol, cols), pad(g.k, cols), g.b_transposed);
    move |k, j| if t { j * kc + k } else { k * np + j }
}

/// Elements of A's and of B's region (padding included).
pub fn operand_lengths(g: &Gemm, rows: u32, cols: u32) -> (u64, u64) {
    let (mp, np) = (pad(g.m, rows) as u64, pad(g.ncol, cols) as u64);
    let a = mp
        * if g.a_transposed {
            pad(g.k, rows) as u64
        } else {
            g.k as u64
        };
    let b = np
        * if g.b_transposed {
            pad(g.k, cols) as u64
        } else {
            g.k as u64
        };
    (a, b)
}

/// GEMM word 1's first operand-path flag ([`feature`] bit 0 there).
pub const PATHS_FROM: u32 = 20;
/// Where GEMM word 1 holds the output's word length (5 bits).
pub const WL_FROM: u32 = 23;
/// Where GEMM word 1 holds the masked flag ([`Gemm::masked`]).
pub const MASK_FROM: u32 = 28;
/// The bits of GEMM word 1 above the defined fields.
pub const RESERVED_FROM: u32 = 29;

/// A GEMM's fields as its argument words hold them, unchecked: `None`
/// only for a rounding-mode code that names no mode. [`decode_gemm`] adds
/// the device's checks.
pub fn gemm_fields(w: &[u32; GEMM_ARGS]) -> Option<Gemm> {
    let m = w[0] & 0xFFFF;
    let ncol = w[0] >> 16;
    let k = w[1] & 0xFFFF;
    let mode_code = (w[1] >> 16) & 3;
    let relu = (w[1] >> 18) & 1 == 1;
    let acc_init = (w[1] >> 19) & 1 == 1;
    let flag = |bit: u32| (w[1] >> bit) & 1 == 1;
    let formats = Formats {
        fl_a: (w[2] & 0xFF) as u8,
        fl_b: ((w[2] >> 8) & 0xFF) as u8,
        fl_c: ((w[2] >> 16) & 0xFF) as u8,
        fl_out: (w[2] >> 24) as u8,
        wl_out: ((w[1] >> WL_FROM) & 0x1F) as u8,
    };
    Some(Gemm {
        m,
        k,
        ncol,
        mode: Rounding::from_code(mode_code)?,
        relu,
        acc_init,
        a_transposed: flag(PATHS_FROM),
        b_transposed: flag(PATHS_FROM + 1),
        b_from_c: flag(PATHS_FROM + 2),
        masked: flag(MASK_FROM),
        formats,
        a_base: w[3],
        b_base: w[4],
        cin_base: w[5],
        out_base: w[6],
    })
}

/// Decodes and validates GEMM argument words for a device with an R x C
/// array, `buffer_elems` elements per buffer and the operand paths of
/// `features`: the device's own check.
pub fn decode_gemm(
    w: &[u32; GEMM_ARGS],
    rows: u32,
    cols: u32,
    buffer_elems: u32,
    features: u32,
) -> Result<Gemm, Status> {
    let g = gemm_fields(w).ok_or(Status::BadFormat)?;
    let (m, k, ncol, acc_init, formats) = (g.m, g.k, g.ncol, g.acc_init, g.formats);
    // Reserved bits must be zero, every feature asked for must exist, C's
    // read port cannot serve both B and C_in, and the mask is C_in's.
    let narrow = formats.wl_out != WL as u8;
    let asked = (w[1] >> PATHS_FROM) & feature::PATHS
        | if narrow { feature::WORD_LENGTH } else { 0 }
        | if g.masked { feature::MASK } else { 0 };
    if (w[1] >> RESERVED_FROM) != 0
        || asked & !features != 0
        || (g.b_from_c && acc_init)
        || (g.masked && !acc_init)
    {
        return Err(Status::BadFormat);
    }
    if m == 0 || k == 0 || ncol == 0 || k > MAX_K {
        return Err(Status::BadSize);
    }
    formats.validate(acc_init).map_err(|_| Status::BadFormat)?;
    let (mp, np) = (pad(m, rows) as u64, pad(ncol, cols) as u64);
    let (a_len, b_len) = operand_lengths(&g, rows, cols);
    let cap = buffer_elems as u64;
    let fits =
        |base: u32, align: u32, len: u64| base.is_multiple_of(align) && base as u64 + len <= cap;
    if !fits(g.a_base, rows, a_len)
        || !fits(g.b_base, cols, b_len)
        || !fits(g.out_base, cols, mp * np)
        || (acc_init && !fits(g.cin_base, cols, mp * np))
    {
        return Err(Status::BadAddress);
    }
    // C_in and the output may coincide (an in-place update) or be apart; a
    // partial overlap would make outputs read C_in that earlier outputs of
    // the same GEMM have already overwritten, which depends on the timing.
    let (cin, out) = (g.cin_base as u64, g.out_base as u64);
    if acc_init && cin != out && cin < out + mp * np && out < cin + mp * np {
        return Err(Status::BadAddress);
    }
    // B read from C must not be overwritten by the same GEMM's outputs.
    let b = g.b_base as u64;
    if g.b_from_c && b < out + mp * np && out < b + b_len {
        return Err(Status::BadAddress);
    }
    Ok(g)
}

/// Cycles from one tile's first feed step to the next tile's: K, but at
/// least R (a column finishes one sum per cycle), and a multiple of R when
/// A is read transposed and of C when B is, so that the banks each feed
/// step reads stay distinct across a tile boundary (docs/PROTOCOL.md).
pub fn tile_period(rows: u32, cols: u32, g: &Gemm) -> u32 {
    let modulus = match (g.a_transposed, g.b_transposed) {
        (false, false) => 1,
        (true, false) => rows,
        (false, true) => cols,
        (true, true) => rows.max(cols),
    };
    pad(g.k.max(rows), modulus)
}

/// The cycles a device with an R x C array is busy with `g`: one feed step
/// per cycle, tiles [`tile_period`] cycles apart, and R + C + 3 cycles for
/// the last tile to leave the array and be written.
pub fn gemm_busy_cycles(rows: u32, cols: u32, g: &Gemm) -> u64 {
    let tiles = (pad(g.m, rows) / rows) as u64 * (pad(g.ncol, cols) / cols) as u64;
    let (k, r, c) = (g.k as u64, rows as u64, cols as u64);
    (tiles - 1) * tile_period(rows, cols, g) as u64 + k + r + c + 3
}

/// Where a transfer's address word holds its fields: the element address
/// in bits 23..0, the buffer in 27..24, the element width's code in 30..28
/// and the prune flag in bit 31.
pub const BUFFER_FROM: u32 = 24;
pub const WIDTH_FROM: u32 = 28;
pub const PRUNE_BIT: u32 = 31;

/// A WRITE or READ's address word, decoded and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub buffer: Buffer,
    pub width: Width,
    /// First element; a multiple of the width's elements per word.
    pub address: u32,
    /// Every element the transfer stores as 0 is marked pruned, every
    /// other one unmarked ([`feature::MASK`]; buffer C, WRITE and EXPAND
    /// only). Without it, every element a WRITE stores in C is unmarked.
    pub prune: bool,
}

impl Transfer {
    pub fn encode(&self) -> u32 {
        (self.prune as u32) << PRUNE_BIT
            | (self.width as u32) << WIDTH_FROM
            | address_word(self.buffer as u32, self.address)
    }

    /// Elements the transfer's `words` words cover.
    pub fn elems(&self, words: u32) -> u64 {
        words as u64 * self.width.per_word() as u64
    }
}

/// Decodes and checks a WRITE/READ address word for `words` transfer words
/// on a device of `buffer_elems` elements per buffer with `features`.
/// Checks run in this order: the buffer, the width and flag (a code the
/// protocol lacks, a packed width on a device without [`feature::PACKED`],
/// or the prune flag on a READ, on buffer A or B or on a device without
/// [`feature::MASK`], is [`Status::BadFormat`]), the size (`words` > 0),
/// then the address (a multiple of the elements per word, the region
/// inside the buffer).
pub fn decode_transfer(
    opcode: u32,
    addr_word: u32,
    words: u32,
    buffer_elems: u32,
    features: u32,
) -> Result<Transfer, Status> {
    let t = decode_address(opcode, addr_word, features)?;
    if words == 0 {
        return Err(Status::BadSize);
    }
    if !t.address.is_multiple_of(t.width.per_word())
        || t.address as u64 + t.elems(words) > buffer_elems as u64
    {
        return Err(Status::BadAddress);
    }
    Ok(t)
}

/// The buffer, width and flag checks of an address word (the first two of
/// [`decode_transfer`]'s).
fn decode_address(opcode: u32, addr_word: u32, features: u32) -> Result<Transfer, Status> {
    let buffer = address_buffer(addr_word)?;
    let width = Width::from_code(addr_word >> WIDTH_FROM & 7)
        .filter(|&w| w == Width::W16 || features & feature::PACKED != 0)
        .ok_or(Status::BadFormat)?;
    Ok(Transfer {
        buffer,
        width,
        address: addr_word & 0xFF_FFFF,
        prune: prune_flag(opcode, buffer, addr_word, features)?,
    })
}

/// An address word's buffer (bits 27..24), or [`Status::BadBuffer`].
pub fn address_buffer(addr_word: u32) -> Result<Buffer, Status> {
    Buffer::from_code(addr_word >> BUFFER_FROM & 0xF).ok_or(Status::BadBuffer)
}

/// An address word's prune flag (bit 31): only a WRITE or EXPAND into
/// buffer C on a device with [`feature::MASK`] may set it.
pub fn prune_flag(
    opcode: u32,
    buffer: Buffer,
    addr_word: u32,
    features: u32,
) -> Result<bool, Status> {
    let prune = addr_word >> PRUNE_BIT == 1;
    if prune && (opcode == op::READ || buffer != Buffer::C || features & feature::MASK == 0) {
        return Err(Status::BadFormat);
    }
    Ok(prune)
}

/// Why a link failed.
#[derive(Debug)]
pub enum LinkError {
    /// No (or not enough) response within the bound.
    Timeout { wanted: usize, got: usize },
    /// The transport itself failed (I/O, a dead simulator).
    Io(String),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Timeout { wanted, got } => {
                write!(f, "device timed out: got {got} of {wanted} response words")
            }
            LinkError::Io(e) => write!(f, "link failed: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Anything that carries words to and from a device: the verilated RTL, the
/// golden model, a board's serial line.
pub trait Link {
    /// Queues words for the device.
    fn send(&mut self, words: &[u32]) -> Result<(), LinkError>;
    /// Returns exactly `n` response words, or fails once the device has
    /// run `max_cycles` clock cycles (or the link's equivalent in time)
    /// without delivering them.
    fn recv(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, LinkError>;
    /// Short name for messages ("sim", "golden", ...).
    fn name(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemm() -> Gemm {
        Gemm {
            m: 5,
            k: 3,
            ncol: 9,
            mode: Rounding::Stochastic,
            relu: true,
            acc_init: true,
            a_transposed: false,
            b_transposed: false,
            b_from_c: false,
            masked: false,
            formats: Formats::new(12, 10, 8, 9).with_wl(11),
            a_base: 8,
            b_base: 16,
            cin_base: 0,
            out_base: 512,
        }
    }

    #[test]
    fn gemm_round_trips() {
        let g = gemm();
        assert_eq!(
            decode_gemm(&encode_gemm(&g), 8, 8, 4096, feature::ALL),
            Ok(g)
        );
    }

    #[test]
    fn gemm_rejects_bad_words() {
        let mut w = encode_gemm(&gemm());
        w[1] |= 3 << 16;
        assert_eq!(
            decode_gemm(&w, 8, 8, 4096, feature::ALL),
            Err(Status::BadFormat)
        );
        let mut w = encode_gemm(&gemm());
        w[3] = 4; // misaligned
        assert_eq!(
            decode_gemm(&w, 8, 8, 4096, feature::ALL),
            Err(Status::BadAddress)
        );
        let w = encode_gemm(&gemm());
        assert_eq!(
            decode_gemm(&w, 8, 8, 512, feature::ALL),
            Err(Status::BadAddress)
        );
        // C_in and output: the same region or disjoint, never in between.
        let mut g = gemm();
        g.out_base = g.cin_base + 16;
        assert_eq!(
            decode_gemm(&encode_gemm(&g), 8, 8, 4096, feature::ALL),
            Err(Status::BadAddress)
        );
        g.out_base = g.cin_base;
        assert_eq!(
            decode_gemm(&encode_gemm(&g), 8, 8, 4096, feature::ALL),
            Ok(g)
        );
        g.acc_init = false;
        g.out_base = 16;
        assert_eq!(
            decode_gemm(&encode_gemm(&g), 8, 8, 4096, feature::ALL),
            Ok(g)
        );
        // Output word lengths: 2..=16 and nothing else.
        for wl in [0u32, 1, 17, 31] {
            let mut w = encode_gemm(&gemm());
            w[1] = (w[1] & !(0x1F << WL_FROM)) | wl << WL_FROM;
            assert_eq!(
                decode_gemm(&w, 8, 8, 4096, feature::ALL),
                Err(Status::BadFormat),
                "wl {wl}"
            );
        }
        for wl in [2, 16] {
            let mut g = gemm();
            g.formats.wl_out = wl;
            assert_eq!(
                decode_gemm(&encode_gemm(&g), 8, 8, 4096, feature::ALL),
                Ok(g)
            );
        }
        let mut w = encode_gemm(&gemm());
        w[0] &= 0xFFFF_0000;
        assert_eq!(
            decode_gemm(&w, 8, 8, 4096, feature::ALL),
            Err(Status::BadSize)
        );
    }

    /// On a 2 x 4 array, A aligns to 2 rows and B, C to 4 columns; the
    /// busy time spaces tiles by the 2 rows, not the 4 columns.
    #[test]
    fn rectangular_alignment_and_busy_time() {
        let mut g = gemm();
        g.a_base = 2;
        g.b_base = 4;
        g.cin_base = 0;
        g.out_base = 1024;
        assert_eq!(
            decode_gemm(&encode_gemm(&g), 2, 4, 4096, feature::ALL),
            Ok(g)
        );
        g.b_base = 2;
        assert_eq!(
            decode_gemm(&encode_gemm(&g), 2, 4, 4096, feature::ALL),
            Err(Status::BadAddress)
        );
        // 3 x 1 by 1 x 5 on 2 x 4: 2 tile rows x 2 tile columns, K = 1 < 2.
        g.m = 3;
        g.k = 1;
        g.ncol = 5;
        assert_eq!(gemm_busy_cycles(2, 4, &g), 4 + 3 + 2 + 4 + 3);
    }

    #[test]
    fn operand_paths_are_checked() {
        let d = |g: &Gemm, features| decode_gemm(&encode_gemm(g), 8, 8, 4096, features);
        let mut g = gemm();
        g.acc_init = false;
        g.a_transposed = true;
        g.b_transposed = true;
        assert_eq!(d(&g, feature::ALL), Ok(g));
        // A device without a path refuses it; an undefined bit is refused.
        assert_eq!(d(&g, feature::B_TRANSPOSED), Err(Status::BadFormat));
        // Narrow outputs need their feature; 16 bits never do.
        let wide = Gemm {
            formats: g.formats.with_wl(16),
            ..g
        };
        assert_eq!(d(&wide, feature::PATHS), Ok(wide));
        let narrow = Gemm {
            formats: g.formats.with_wl(8),
            ..g
        };
        assert_eq!(d(&narrow, feature::PATHS), Err(Status::BadFormat));
        assert_eq!(d(&narrow, feature::ALL), Ok(narrow));
        let mut w = encode_gemm(&g);
        w[1] |= 1 << RESERVED_FROM;
        assert_eq!(
            decode_gemm(&w, 8, 8, 4096, feature::ALL),
            Err(Status::BadFormat)
        );
        // B from C: never with C_in, never overlapping the output.
        g.b_from_c = true;
        g.out_base = 512;
        g.b_base = 512 + 64;
        assert_eq!(d(&g, feature::ALL), Err(Status::BadAddress));
        g.b_base = 512 + 8 * 16; // Mp x Np = 8 x 16 elements further on
        assert_eq!(d(&g, feature::ALL), Ok(g));
        g.acc_init = true;
        assert_eq!(d(&g, feature::ALL), Err(Status::BadFormat));
        // Transposed regions are rows of K padded to the array side.
        let mut g = gemm();
        g.a_transposed = true;
        g.a_base = 4096 - 8 * 8; // Mp = 8 rows of pad(3, 8) = 8
        assert_eq!(d(&g, feature::ALL), Ok(g));
        g.a_base += 8;
        assert_eq!(d(&g, feature::ALL), Err(Status::BadAddress));
        // The mask: C_in's, so only with accumulate-init, and a feature.
        let mut g = gemm();
        g.masked = true;
        assert_eq!(d(&g, feature::ALL), Ok(g));
        assert_eq!(d(&g, feature::ALL & !feature::MASK), Err(Status::BadFormat));
        g.acc_init = false;
        assert_eq!(d(&g, feature::ALL), Err(Status::BadFormat));
    }

    #[test]
    fn layouts_and_tile_period() {
        let mut g = gemm(); // M 5, K 3, Ncol 9
        let (a, b) = (a_layout(&g, 8), b_layout(&g, 8));
        assert_eq!((a(2, 1), b(1, 2)), (8 + 2, 16 + 2));
        g.a_transposed = true;
        g.b_transposed = true;
        let (a, b) = (a_layout(&g, 8), b_layout(&g, 4));
        assert_eq!((a(2, 1), b(1, 2)), (2 * 8 + 1, 2 * 4 + 1));
        assert_eq!(operand_lengths(&g, 8, 4), (8 * 8, 12 * 4));
        // Period: max(K, R), padded to the transposed sides.
        g.k = 11;
        assert_eq!(tile_period(4, 8, &g), 16);
        g.b_transposed = false;
        assert_eq!(tile_period(4, 8, &g), 12);
        g.a_transposed = false;
        assert_eq!(tile_period(4, 8, &g), 11);
        g.k = 2;
        assert_eq!(tile_period(4, 8, &g), 4);
    }

    #[test]
    fn status_and_counters_round_trip() {
        let (op, st) = parse_status(status_word(op::GEMM, Status::BadFormat));
        assert_eq!(
            (op, Status::from_code(st)),
            (op::GEMM, Some(Status::BadFormat))
        );
        let c = Counters {
            cycles: 1 << 40,
            busy: 7,
            macs: u64::MAX,
        };
        assert_eq!(Counters::decode(&c.encode()), c);
    }

    #[test]
    fn packed_words_round_trip_and_saturate() {
        let elems: Vec<i16> = vec![-8, 7, -1, 0, 3, -5, 6, -2];
        for w in Width::ALL {
            let words = pack_as(&elems, w);
            assert_eq!(words.len(), 8 / w.per_word() as usize);
            let back: Vec<i16> = words.iter().flat_map(|&x| unpack_as(x, w)).collect();
            assert_eq!(back, elems, "{w:?}");
        }
        // The lowest address in the lowest bits.
        assert_eq!(pack_as(&[1, -1, 2, 0], Width::W8), vec![0x00_02_FF_01]);
        assert_eq!(pack_as(&[1, -1], Width::W16), vec![0xFFFF_0001]);
        // A READ saturates what the width cannot hold.
        assert_eq!(
            pack_as(&[200, -200, 127, -128], Width::W8),
            vec![0x80_7F_80_7F]
        );
        let big: Vec<i16> = vec![i16::MAX, i16::MIN, 8, -9, 7, -8, 0, 0];
        let got: Vec<i16> = unpack_as(pack_as(&big, Width::W4)[0], Width::W4).collect();
        assert_eq!(got, [7, -8, 7, -8, 7, -8, 0, 0]);
        assert!(Width::W4.holds(-8) && !Width::W4.holds(8) && Width::W16.holds(i16::MIN));
        assert_eq!(
            [2, 4, 5, 8, 9, 16].map(Width::narrowest),
            [
                Width::W4,
                Width::W4,
                Width::W8,
                Width::W8,
                Width::W16,
                Width::W16
            ]
        );
    }

    #[test]
    fn transfers_are_checked_in_order() {
        let cap = 64;
        let at = |b: u32, w: u32, a: u32| w << WIDTH_FROM | address_word(b, a);
        let t = decode_transfer(op::WRITE, at(2, 2, 56), 1, cap, feature::ALL).unwrap();
        assert_eq!((t.buffer, t.width, t.address), (Buffer::C, Width::W4, 56));
        assert_eq!(t.encode(), at(2, 2, 56));
        let cases = [
            // buffer first, then width, size, address
            (at(3, 3, 1), 0, feature::ALL, Status::BadBuffer),
            (at(0, 3, 1), 0, feature::ALL, Status::BadFormat),
            (at(0, 1, 1), 0, 0, Status::BadFormat),
            (at(0, 1, 1), 0, feature::ALL, Status::BadSize),
            (at(0, 1, 2), 1, feature::ALL, Status::BadAddress),
            (at(0, 2, 4), 1, feature::ALL, Status::BadAddress),
            (at(0, 2, 64 - 8), 2, feature::ALL, Status::BadAddress),
            (at(0, 0, 63), 1, feature::ALL, Status::BadAddress),
        ];
        for (word, words, features, want) in cases {
            assert_eq!(
                decode_transfer(op::WRITE, word, words, cap, features),
                Err(want),
                "{word:#010x}, {words} words, features {features:#x}"
            );
        }
        assert!(decode_transfer(op::READ, at(1, 0, 62), 1, cap, 0).is_ok());
        assert!(decode_transfer(op::WRITE, at(1, 1, 60), 1, cap, feature::PACKED).is_ok());
        // The prune flag: a WRITE into C on a device with the mask, only.
        let pruned = |b: u32| 1 << PRUNE_BIT | at(b, 0, 0);
        let t = decode_transfer(op::WRITE, pruned(2), 1, cap, feature::ALL).unwrap();
        assert!(t.prune && t.encode() == pruned(2));
        for (opcode, b, features) in [
            (op::READ, 2, feature::ALL),
            (op::WRITE, 1, feature::ALL),
            (op::WRITE, 2, feature::ALL & !feature::MASK),
        ] {
            assert_eq!(
                decode_transfer(opcode, pruned(b), 0, cap, features),
                Err(Status::BadFormat),
                "opcode {opcode}, buffer {b}"
            );
        }
    }
}
