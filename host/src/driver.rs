//! The device-independent driver: commands, responses and whole matrix
//! products over any [`Link`].
//!
//! Every response is checked: its status word must echo the command's
//! opcode (else [`DriverError::Protocol`]), and a non-OK status becomes
//! [`DriverError::Device`]. Every receive carries a cycle bound derived from
//! the work asked for, so a dead or confused device is an error, not a hang.

use ndarray::{s, Array2, ArrayView2};
use srsa_spec::expand::{encode_pairs, Expand, PairWidth};
use srsa_spec::lfsr::column_state;
use srsa_spec::numerics::{Formats, Rounding, ACC_BITS, MIN_WL, WL};
use srsa_spec::protocol::{
    encode_gemm, feature, gemm_busy_cycles, header, op, pack_as, parse_status, unpack_as, Buffer,
    Counters, Gemm, Identity, Link, LinkError, Status, Transfer, Width, COUNTER_WORDS,
    IDENTIFY_WORDS, MAX_K, MAX_XFER_WORDS, SEED_ARGS, VERSION,
};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DriverError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(
        "protocol error: expected the status of opcode {expected_op:#04x}, got word {got_word:#010x}"
    )]
    Protocol { expected_op: u32, got_word: u32 },
    #[error("device rejected {op}: {status}")]
    Device { op: &'static str, status: Status },
    #[error("unsupported device: {0}")]
    Unsupported(String),
    #[error("too large for the device: {0}")]
    TooLarge(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// The word [`Driver::write_marked`] stores for `x`: 0 where pruned, and
/// a free 0 nudged to the smallest positive word so that it stays free.
pub fn marked_word(x: i16, pruned: bool) -> i16 {
    match (pruned, x) {
        (true, _) => 0,
        (false, 0) => 1,
        (false, x) => x,
    }
}

/// How [`Driver::matmul`] computes and lays out one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulOpts {
    pub formats: Formats,
    pub mode: Rounding,
    pub relu: bool,
    /// The `a` given is A^T (K x M).
    pub a_transposed: bool,
    /// The `b` given is B^T (Ncol x K).
    pub b_transposed: bool,
}

impl MatmulOpts {
    pub fn new(formats: Formats, mode: Rounding) -> MatmulOpts {
        MatmulOpts {
            formats,
            mode,
            relu: false,
            a_transposed: false,
            b_transposed: false,
        }
    }
}

/// Fixed bound for commands that do no work proportional to data.
const BASE_CYCLES: u64 = 10_000;

/// IDENTIFY's (ignored) argument when the driver opens a device: a status
/// word has zeros in its low 16 bits, so a peer that echoes the header
/// back cannot pass for a device answering OK.
const ECHO_PROBE: u32 = 0x5A_A5A5;

/// A device takes at most a cycle per element pair (and one per word).
fn transfer_cycles(t: &Transfer, words: u64) -> u64 {
    8 * words * t.width.per_word() as u64 + BASE_CYCLES
}

/// Bits of the narrowest word that holds `x`.
fn bits_for(x: i16) -> u8 {
    let magnitude = if x < 0 { !x } else { x };
    (17 - magnitude.leading_zeros() as u8).max(MIN_WL)
}

/// `len` elements from `addr` as (address, length) of an unaligned head,
/// a body of whole `width` words and a tail.
type Piece = (u32, usize);
fn split(addr: u32, len: usize, width: Width) -> (Piece, Piece, Piece) {
    let n = width.per_word() as usize;
    let (a, end) = (addr as usize, addr as usize + len);
    let b0 = a.next_multiple_of(n).min(end);
    let b1 = (end / n * n).max(b0);
    ((addr, b0 - a), (b0 as u32, b1 - b0), (b1 as u32, end - b1))
}

/// Far above the RTL's busy time (see `gemm_busy_cycles` in the spec), so
/// only a stuck device reaches it.
fn gemm_cycles(rows: u32, cols: u32, g: &Gemm) -> u64 {
    8 * gemm_busy_cycles(rows, cols, g) + 100_000
}

fn op_name(opcode: u32) -> &'static str {
    match opcode {
        op::IDENTIFY => "IDENTIFY",
        op::WRITE => "WRITE",
        op::READ => "READ",
        op::GEMM => "GEMM",
        op::SEED => "SEED",
        op::COUNTERS => "COUNTERS",
        _ => "an unknown command",
    }
}

pub struct Driver<L: Link> {
    link: L,
    identity: Identity,
    /// Elements at the bottom of each buffer that [`Driver::matmul`] may
    /// use; what lies above is kept for data resident on the device.
    scratch: u32,
    /// Whether transfers may use narrower elements than 16 bits (the
    /// device must also have [`feature::PACKED`]).
    packing: bool,
    traffic: Traffic,
}

/// Words that crossed the link since the driver opened it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub sent: u64,
    pub received: u64,
}

impl Traffic {
    pub fn total(&self) -> u64 {
        self.sent + self.received
    }
}

impl<L: Link> Driver<L> {
    /// Identifies the device behind `link` and checks that this driver
    /// speaks its version.
    pub fn new(link: L) -> Result<Self, DriverError> {
        let mut link = link;
        let probe = header(op::IDENTIFY, ECHO_PROBE);
        link.send(&[probe])?;
        let first = recv_exact(&mut link, 1, BASE_CYCLES)?[0];
        if first == probe {
            return Err(DriverError::Unsupported(format!(
                "{} echoes what it is sent ({first:#010x}) instead of answering:                  a loopback or a terminal, not an SRSA device",
                link.name()
            )));
        }
        check_status(op::IDENTIFY, first)?;
        let words = recv_exact(&mut link, IDENTIFY_WORDS, BASE_CYCLES)?;
        let id = Identity::decode(&words).ok_or_else(|| {
            DriverError::Unsupported(format!("identify words {words:08x?} lack the magic"))
        })?;
        if id.version != VERSION
            || id.word_bits != WL
            || id.acc_bits != ACC_BITS
            || !id.rows.is_power_of_two()
            || !id.cols.is_power_of_two()
        {
            return Err(DriverError::Unsupported(format!(
                "{} reports {id:?}; this driver speaks version {VERSION} with power-of-two \
                 array sides, {WL}-bit words and {ACC_BITS}-bit accumulators",
                link.name()
            )));
        }
        let scratch = id.buffer_elems;
        Ok(Driver {
            link,
            identity: id,
            scratch,
            packing: true,
            traffic: Traffic::default(),
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The optional GEMM operand paths the device has
    /// (`srsa_spec::protocol::feature` bits).
    pub fn features(&self) -> u32 {
        self.identity.features
    }

    /// Keeps [`Driver::matmul`] below element `elems` of every buffer, so
    /// that what a caller placed above it survives (at least one R x C
    /// tile's worth stays usable).
    pub fn set_scratch(&mut self, elems: u32) -> Result<(), DriverError> {
        let tile = self.rows() * self.cols();
        if elems < tile || elems > self.identity.buffer_elems {
            return Err(DriverError::InvalidArgument(format!(
                "scratch of {elems} elements: must be from {tile} to {}",
                self.identity.buffer_elems
            )));
        }
        self.scratch = elems;
        Ok(())
    }

    /// Elements of each buffer [`Driver::matmul`] may use.
    pub fn scratch(&self) -> u32 {
        self.scratch
    }

    /// Array rows R.
    pub fn rows(&self) -> u32 {
        self.identity.rows
    }

    /// Array columns C.
    pub fn cols(&self) -> u32 {
        self.identity.cols
    }

    /// The link's name ("sim", "golden", ...).
    pub fn link_name(&self) -> String {
        self.link.name()
    }

    /// The largest K a [`Driver::matmul`] accepts: one R-row slice of A
    /// and one C-column slice of B must fit its scratch, and K must fit the
    /// GEMM's field.
    pub fn max_k(&self) -> usize {
        let side = self.rows().max(self.cols()) as usize;
        (self.scratch as usize / side).min(MAX_K as usize)
    }

    /// Turns packed transfers off (or back on), to measure what they save.
    pub fn set_packing(&mut self, on: bool) {
        self.packing = on;
    }

    /// The words sent and received so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// The narrowest element width the device takes that holds every value
    /// of a `wl`-bit word.
    pub fn width_for(&self, wl: u8) -> Width {
        if self.packing && self.features() & feature::PACKED != 0 {
            Width::narrowest(wl)
        } else {
            Width::W16
        }
    }

    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    pub fn into_link(self) -> L {
        self.link
    }

    /// Writes `data` to `buf` from element `addr`, in the narrowest
    /// element width ([`Driver::width_for`]) that holds every value of
    /// `data`, so nothing is lost whatever the caller's format.
    ///
    /// The protocol moves whole words (`per_word` elements from a multiple
    /// of `per_word`): a packed write's unaligned head and tail go as
    /// 16-bit words, and an odd start or end of those is completed by a
    /// read-modify-write of the word it shares with its neighbour, so
    /// neighbouring elements keep their values. Long transfers are split
    /// at [`MAX_XFER_WORDS`].
    pub fn write(&mut self, buf: Buffer, addr: u32, data: &[i16]) -> Result<(), DriverError> {
        let wl = data.iter().map(|&x| bits_for(x)).max().unwrap_or(MIN_WL);
        self.write_as(buf, addr, data, self.width_for(wl))
    }

    /// Writes `data` at element width `width`; every value must fit it.
    pub fn write_as(
        &mut self,
        buf: Buffer,
        addr: u32,
        data: &[i16],
        width: Width,
    ) -> Result<(), DriverError> {
        check_span(addr, data.len())?;
        if let Some(x) = data.iter().find(|&&x| !width.holds(x)) {
            return Err(DriverError::InvalidArgument(format!(
                "{x} does not fit a {}-bit transfer element",
                width.bits()
            )));
        }
        if width != Width::W16 {
            let (head, body, tail) = split(addr, data.len(), width);
            let (n0, n1) = (head.1, head.1 + body.1);
            self.write_as(buf, addr, &data[..n0], Width::W16)?;
            self.write_words(buf, body.0, &data[n0..n1], width)?;
            return self.write_as(buf, tail.0, &data[n1..], Width::W16);
        }
        let (mut addr, mut data) = (addr, data);
        if data.is_empty() {
            return Ok(());
        }
        if addr % 2 == 1 {
            let old = self.read(buf, addr - 1, 1)?;
            self.write_words(buf, addr - 1, &[old[0], data[0]], width)?;
            (addr, data) = (addr + 1, &data[1..]);
        }
        let even = data.len() & !1;
        self.write_words(buf, addr, &data[..even], width)?;
        if even < data.len() {
            let last = addr + even as u32;
            let old = self.read(buf, last + 1, 1)?;
            self.write_words(buf, last, &[data[even], old[0]], width)?;
        }
        Ok(())
    }

    /// Writes `data` into buffer C from `addr` with the prune flag: its
    /// zeros are marked pruned, so that masked GEMMs keep them zero
    /// ([`feature::MASK`]). Whole 16-bit words only: `addr` and the length
    /// even (a read-modify-write of a neighbour would re-mark it).
    pub fn write_pruned(&mut self, addr: u32, data: &[i16]) -> Result<(), DriverError> {
        self.require(feature::MASK, "pruning mask")?;
        check_span(addr, data.len())?;
        if addr % 2 == 1 || data.len() % 2 == 1 {
            return Err(DriverError::InvalidArgument(format!(
                "a pruned write of {} elements at {addr}: address and length must be even",
                data.len()
            )));
        }
        self.write_flagged(Buffer::C, addr, data, Width::W16, true)
    }

    /// Writes `data` into buffer C from `addr` with exactly the elements
    /// `pruned` names marked pruned (and stored as 0).
    ///
    /// A pruned write marks every zero it stores, so a free element that
    /// is exactly 0 is stored as the smallest positive word instead: a
    /// nudge of one least significant bit, the one way to keep it free
    /// with a single write. Same alignment as [`Driver::write_pruned`].
    pub fn write_marked(
        &mut self,
        addr: u32,
        data: &[i16],
        pruned: &[bool],
    ) -> Result<(), DriverError> {
        if pruned.len() != data.len() {
            return Err(DriverError::InvalidArgument(format!(
                "{} marks for {} elements",
                pruned.len(),
                data.len()
            )));
        }
        let words: Vec<i16> = data
            .iter()
            .zip(pruned)
            .map(|(&x, &p)| marked_word(x, p))
            .collect();
        self.write_pruned(addr, &words)
    }

    /// Loads a region from a codebook and coded pairs (EXPAND,
    /// [`feature::EXPAND`]); see [`srsa_spec::expand`].
    pub fn expand(&mut self, e: &Expand, book: &[i16], pairs: &[u32]) -> Result<(), DriverError> {
        self.require(feature::EXPAND, "coded loads")?;
        let payload = e.payload(book, pairs);
        if payload.len() > MAX_XFER_WORDS as usize {
            return Err(DriverError::TooLarge(format!(
                "a coded load of {} words",
                payload.len()
            )));
        }
        let mut cmd = vec![header(op::EXPAND, payload.len() as u32)];
        cmd.extend(e.encode());
        cmd.extend(&payload);
        self.send(&cmd)?;
        // One element a cycle, and a cycle per payload word.
        let bound = 8 * (e.elems as u64 + cmd.len() as u64) + BASE_CYCLES;
        self.expect_ok(op::EXPAND, bound)
    }

    /// Loads `indices` (codebook entries, one per element) into `buf` from
    /// `addr` with EXPAND, in the pair width of fewer words that holds
    /// `index_bits`-bit indices; returns that width. With `prune`, the
    /// zeros stored are marked pruned.
    pub fn load_coded(
        &mut self,
        buf: Buffer,
        addr: u32,
        prune: bool,
        book: &[i16],
        indices: &[u32],
        index_bits: u32,
    ) -> Result<PairWidth, DriverError> {
        let best = PairWidth::ALL
            .into_iter()
            .filter(|p| index_bits < p.bits())
            .map(|pair| {
                let e = Expand {
                    buffer: buf,
                    address: addr,
                    prune,
                    pair,
                    elems: indices.len() as u32,
                    index_bits,
                    entries: book.len() as u32,
                };
                let pairs = encode_pairs(indices, index_bits, e.gap_max());
                (e.payload(book, &pairs).len(), e, pairs)
            })
            .min_by_key(|c| c.0)
            .ok_or_else(|| {
                DriverError::InvalidArgument(format!("{index_bits}-bit indices fit no pair width"))
            })?;
        self.expand(&best.1, book, &best.2)?;
        Ok(best.1.pair)
    }

    fn require(&self, f: u32, what: &str) -> Result<(), DriverError> {
        if self.identity.features & f == 0 {
            return Err(DriverError::Unsupported(format!(
                "{} has no {what} (IDENTIFY features {:#x})",
                self.link.name(),
                self.identity.features
            )));
        }
        Ok(())
    }

    /// WRITE commands for whole words of `data` from `addr` (aligned).
    fn write_words(
        &mut self,
        buf: Buffer,
        addr: u32,
        data: &[i16],
        width: Width,
    ) -> Result<(), DriverError> {
        self.write_flagged(buf, addr, data, width, false)
    }

    fn write_flagged(
        &mut self,
        buf: Buffer,
        addr: u32,
        data: &[i16],
        width: Width,
        prune: bool,
    ) -> Result<(), DriverError> {
        let per_chunk = (MAX_XFER_WORDS * width.per_word()) as usize;
        for (i, chunk) in data.chunks(per_chunk).enumerate() {
            let payload = pack_as(chunk, width);
            let t = Transfer {
                buffer: buf,
                width,
                address: addr + (i * per_chunk) as u32,
                prune,
            };
            let mut cmd = Vec::with_capacity(2 + payload.len());
            cmd.extend([header(op::WRITE, payload.len() as u32), t.encode()]);
            cmd.extend(payload);
            self.send(&cmd)?;
            self.expect_ok(op::WRITE, transfer_cycles(&t, cmd.len() as u64))?;
        }
        Ok(())
    }

    /// Reads `len` 16-bit elements of `buf` from element `addr`.
    ///
    /// An odd start or end reads the whole word around it and drops the
    /// extra element; at the very end of a buffer with an odd number of
    /// elements that word does not exist and the device refuses.
    pub fn read(&mut self, buf: Buffer, addr: u32, len: usize) -> Result<Vec<i16>, DriverError> {
        self.read_as(buf, addr, len, Width::W16)
    }

    /// Reads `len` elements of a `wl`-bit format: packed as narrowly as
    /// the device allows. Values outside `wl` bits come back saturated
    /// to the element width.
    pub fn read_wl(
        &mut self,
        buf: Buffer,
        addr: u32,
        len: usize,
        wl: u8,
    ) -> Result<Vec<i16>, DriverError> {
        self.read_as(buf, addr, len, self.width_for(wl))
    }

    /// Reads `len` elements at element width `width` (an unaligned head
    /// and tail at 16 bits).
    pub fn read_as(
        &mut self,
        buf: Buffer,
        addr: u32,
        len: usize,
        width: Width,
    ) -> Result<Vec<i16>, DriverError> {
        check_span(addr, len)?;
        if width != Width::W16 {
            let (head, body, tail) = split(addr, len, width);
            let mut out = self.read_as(buf, addr, head.1, Width::W16)?;
            out.extend(self.read_words(buf, body.0, body.1, width)?);
            out.extend(self.read_as(buf, tail.0, tail.1, Width::W16)?);
            return Ok(out);
        }
        if len == 0 {
            return Ok(vec![]);
        }
        let start = addr & !1;
        let end = (addr as usize + len).next_multiple_of(2);
        let elems = self.read_words(buf, start, end - start as usize, width)?;
        let skip = (addr - start) as usize;
        Ok(elems[skip..skip + len].to_vec())
    }

    /// READ commands for `len` elements (whole words) from `addr` (aligned).
    fn read_words(
        &mut self,
        buf: Buffer,
        addr: u32,
        len: usize,
        width: Width,
    ) -> Result<Vec<i16>, DriverError> {
        let n = width.per_word() as usize;
        let mut elems = Vec::with_capacity(len);
        let mut at = addr;
        while elems.len() < len {
            let words = ((len - elems.len()) / n).min(MAX_XFER_WORDS as usize) as u32;
            let t = Transfer {
                buffer: buf,
                width,
                address: at,
                prune: false,
            };
            self.send(&[header(op::READ, words), t.encode()])?;
            let bound = transfer_cycles(&t, words as u64);
            self.expect_ok(op::READ, bound)?;
            for w in self.recv_exact(words as usize, bound)? {
                elems.extend(unpack_as(w, width));
            }
            at += words * n as u32;
        }
        Ok(elems)
    }

    fn send(&mut self, words: &[u32]) -> Result<(), DriverError> {
        self.traffic.sent += words.len() as u64;
        Ok(self.link.send(words)?)
    }

    fn recv_exact(&mut self, n: usize, max_cycles: u64) -> Result<Vec<u32>, DriverError> {
        let words = recv_exact(&mut self.link, n, max_cycles)?;
        self.traffic.received += words.len() as u64;
        Ok(words)
    }

    fn expect_ok(&mut self, opcode: u32, max_cycles: u64) -> Result<(), DriverError> {
        let word = self.recv_exact(1, max_cycles)?[0];
        check_status(opcode, word)
    }

    /// Seeds every column's LFSR with the host's rule
    /// [`column_state`]`(seed, column)`.
    pub fn seed(&mut self, seed: u64) -> Result<(), DriverError> {
        let cols = self.identity.cols;
        // All commands first, then all statuses: one round trip.
        let mut cmd = Vec::with_capacity((1 + SEED_ARGS) * cols as usize);
        for c in 0..cols {
            cmd.push(header(op::SEED, c));
            cmd.extend(column_state(seed, c as usize));
        }
        self.send(&cmd)?;
        for _ in 0..cols {
            self.expect_ok(op::SEED, BASE_CYCLES)?;
        }
        Ok(())
    }

    /// Runs one GEMM on whatever the buffers hold.
    pub fn gemm(&mut self, g: &Gemm) -> Result<(), DriverError> {
        let mut cmd = vec![header(op::GEMM, 0)];
        cmd.extend(encode_gemm(g));
        let bound = gemm_cycles(self.rows(), self.cols(), g);
        self.send(&cmd)?;
        self.expect_ok(op::GEMM, bound)
    }

    pub fn counters(&mut self) -> Result<Counters, DriverError> {
        self.send(&[header(op::COUNTERS, 0)])?;
        self.expect_ok(op::COUNTERS, BASE_CYCLES)?;
        let w = self.recv_exact(COUNTER_WORDS, BASE_CYCLES)?;
        Ok(Counters::decode(&w))
    }

    /// `round(C_in + A x B)` for A (M x K), B (K x Ncol) and an optional
    /// C_in (M x Ncol), all raw words in the formats of `opts.formats`.
    ///
    /// With `opts.a_transposed` the `a` given is A^T (K x M), with
    /// `opts.b_transposed` the `b` given is B^T (Ncol x K): the host does
    /// the transposition while it lays the operands out in the device's
    /// layouts (A transposed, B row-major, zero padding to multiples of R and C),
    /// so either orientation costs the same and the device never sees it.
    ///
    /// Products too large for the buffers are split into row and column
    /// chunks, each with the full K, so every output is still rounded once.
    /// Chunks run row-chunk-major; each is a GEMM of its own, so the LFSR
    /// draws fall on outputs in a different order than one GEMM of the whole
    /// product would give (same distribution, different bits). Operands are
    /// written from base 0 of each buffer, overwriting what was there below
    /// [`Driver::scratch`].
    pub fn matmul(
        &mut self,
        a: ArrayView2<i16>,
        b: ArrayView2<i16>,
        cin: Option<ArrayView2<i16>>,
        opts: &MatmulOpts,
    ) -> Result<Array2<i16>, DriverError> {
        self.matmul_marked(a, b, cin, None, opts)
    }

    /// [`Driver::matmul`] with C_in's elements marked where `pruned` says
    /// ([`Driver::write_marked`]) and a masked GEMM: the outputs there are
    /// 0, every other output is the product (needs [`feature::MASK`]).
    pub fn matmul_masked(
        &mut self,
        a: ArrayView2<i16>,
        b: ArrayView2<i16>,
        cin: ArrayView2<i16>,
        pruned: ArrayView2<bool>,
        opts: &MatmulOpts,
    ) -> Result<Array2<i16>, DriverError> {
        self.require(feature::MASK, "pruning mask")?;
        if pruned.dim() != cin.dim() {
            return Err(DriverError::InvalidArgument(format!(
                "a mask of {:?} for C_in of {:?}",
                pruned.dim(),
                cin.dim()
            )));
        }
        if self.cols() % 2 == 1 {
            return Err(DriverError::Unsupported(format!(
                "masked products need an even number of columns, not {}",
                self.cols()
            )));
        }
        self.matmul_marked(a, b, Some(cin), Some(pruned), opts)
    }

    fn matmul_marked(
        &mut self,
        a: ArrayView2<i16>,
        b: ArrayView2<i16>,
        cin: Option<ArrayView2<i16>>,
        pruned: Option<ArrayView2<bool>>,
        opts: &MatmulOpts,
    ) -> Result<Array2<i16>, DriverError> {
        // Logical views: A as M x K, B as K x Ncol.
        let a = if opts.a_transposed {
            a.reversed_axes()
        } else {
            a
        };
        let b = if opts.b_transposed {
            b.reversed_axes()
        } else {
            b
        };
        let ((m, k), (kb, ncol)) = (a.dim(), b.dim());
        if k != kb {
            return Err(DriverError::InvalidArgument(format!(
                "A is {m} x {k} but B is {kb} x {ncol}"
            )));
        }
        if let Some(c) = &cin {
            if c.dim() != (m, ncol) {
                return Err(DriverError::InvalidArgument(format!(
                    "C_in is {:?}, the product is {m} x {ncol}",
                    c.dim()
                )));
            }
        }
        if m == 0 || ncol == 0 {
            return Ok(Array2::zeros((m, ncol)));
        }
        if k == 0 {
            return Err(DriverError::InvalidArgument("K = 0".into()));
        }
        opts.formats
            .validate(cin.is_some())
            .map_err(|e| DriverError::InvalidArgument(format!("formats: {e}")))?;
        if opts.formats.wl_out != WL as u8 && self.features() & feature::WORD_LENGTH == 0 {
            return Err(DriverError::InvalidArgument(format!(
                "the device saturates only to 16 bits, not to WL_out {} (IDENTIFY features {:#x})",
                opts.formats.wl_out,
                self.features()
            )));
        }
        let plan = self.plan(m, k, ncol)?;

        let (tile_rows, tile_cols) = (self.rows() as usize, self.cols() as usize);
        let mut out = Array2::zeros((m, ncol));
        let mut b_chunk_loaded = None;
        for r0 in (0..m).step_by(plan.rows) {
            let rows = plan.rows.min(m - r0);
            let mp = rows.next_multiple_of(tile_rows);
            // A transposed (K x Mp), zero padding.
            let mut at = Array2::<i16>::zeros((k, mp));
            at.slice_mut(s![.., ..rows])
                .assign(&a.slice(s![r0..r0 + rows, ..]).t());
            self.write(
                Buffer::A,
                0,
                at.as_slice().expect("fresh arrays are contiguous"),
            )?;
            for c0 in (0..ncol).step_by(plan.cols) {
                let cols = plan.cols.min(ncol - c0);
                let np = cols.next_multiple_of(tile_cols);
                if b_chunk_loaded != Some(c0) {
                    let mut bl = Array2::<i16>::zeros((k, np));
                    bl.slice_mut(s![.., ..cols])
                        .assign(&b.slice(s![.., c0..c0 + cols]));
                    self.write(Buffer::B, 0, bl.as_slice().expect("contiguous"))?;
                    b_chunk_loaded = Some(c0);
                }
                if let Some(c) = &cin {
                    let mut cl = Array2::<i16>::zeros((mp, np));
                    cl.slice_mut(s![..rows, ..cols])
                        .assign(&c.slice(s![r0..r0 + rows, c0..c0 + cols]));
                    let cl = cl.as_slice().expect("contiguous");
                    match &pruned {
                        // Padding is marked too: its outputs are dropped.
                        Some(p) => {
                            let mut pl = Array2::from_elem((mp, np), true);
                            pl.slice_mut(s![..rows, ..cols])
                                .assign(&p.slice(s![r0..r0 + rows, c0..c0 + cols]));
                            self.write_marked(0, cl, pl.as_slice().expect("contiguous"))?;
                        }
                        None => self.write(Buffer::C, 0, cl)?,
                    }
                }
                self.gemm(&Gemm {
                    m: rows as u32,
                    k: k as u32,
                    ncol: cols as u32,
                    mode: opts.mode,
                    relu: opts.relu,
                    acc_init: cin.is_some(),
                    a_transposed: false,
                    b_transposed: false,
                    b_from_c: false,
                    masked: pruned.is_some(),
                    formats: opts.formats,
                    a_base: 0,
                    b_base: 0,
                    cin_base: 0,
                    out_base: 0,
                })?;
                // Rows beyond M are padding; read only the real ones.
                let res = self.read_wl(Buffer::C, 0, rows * np, opts.formats.wl_out)?;
                let res = ArrayView2::from_shape((rows, np), &res).expect("read length");
                out.slice_mut(s![r0..r0 + rows, c0..c0 + cols])
                    .assign(&res.slice(s![.., ..cols]));
            }
        }
        Ok(out)
    }

    /// Chunk sizes (rows a multiple of R, columns of C) such that A (K x
    /// rows), B (K x cols) and C (rows x cols) each fit a buffer and the
    /// GEMM's 16-bit fields.
    fn plan(&self, m: usize, k: usize, ncol: usize) -> Result<Plan, DriverError> {
        let (r, c) = (self.rows() as usize, self.cols() as usize);
        let elems = self.scratch as usize;
        if k > MAX_K as usize {
            return Err(DriverError::TooLarge(format!(
                "K = {k} exceeds the device's maximum of {MAX_K}"
            )));
        }
        if k > self.max_k() || elems < r * c {
            return Err(DriverError::TooLarge(format!(
                "K = {k}: one {r}-row slice of A and one {c}-column slice of B need {} elements \
                 but a buffer holds {elems}; max K = {}",
                r.max(c) * k,
                self.max_k()
            )));
        }
        let cap_rows = elems / k / r * r;
        let cap_cols = elems / k / c * c;
        let mut rows = m
            .next_multiple_of(r)
            .min(cap_rows)
            .min(u16::MAX as usize / r * r);
        let mut cols = ncol
            .next_multiple_of(c)
            .min(cap_cols)
            .min(u16::MAX as usize / c * c);
        // Shrink the larger side until the output fits buffer C; R x C
        // always does (checked above).
        while rows * cols > elems {
            if rows > r && (rows >= cols || cols == c) {
                rows = (rows / 2 / r * r).max(r);
            } else {
                cols = (cols / 2 / c * c).max(c);
            }
        }
        Ok(Plan { rows, cols })
    }
}

struct Plan {
    rows: usize,
    cols: usize,
}

/// Element addresses travel in 24 bits; refuse what would wrap.
fn check_span(addr: u32, len: usize) -> Result<(), DriverError> {
    if addr as u64 + len as u64 > 1 << 24 {
        return Err(DriverError::InvalidArgument(format!(
            "{len} elements from {addr} go beyond the 24-bit address space"
        )));
    }
    Ok(())
}

fn recv_exact<L: Link>(link: &mut L, n: usize, max_cycles: u64) -> Result<Vec<u32>, DriverError> {
    let words = link.recv(n, max_cycles)?;
    if words.len() != n {
        return Err(DriverError::Link(LinkError::Io(format!(
            "{} returned {} words, {n} asked for",
            link.name(),
            words.len()
        ))));
    }
    Ok(words)
}

/// Checks that `word` is `opcode`'s OK status.
fn check_status(opcode: u32, word: u32) -> Result<(), DriverError> {
    let (echo, code) = parse_status(word);
    let protocol = DriverError::Protocol {
        expected_op: opcode,
        got_word: word,
    };
    // The low 16 bits are unused and zero in every status word.
    if echo != opcode || word & 0xFFFF != 0 {
        return Err(protocol);
    }
    match Status::from_code(code) {
        Some(Status::Ok) => Ok(()),
        Some(status) => Err(DriverError::Device {
            op: op_name(opcode),
            status,
        }),
        None => Err(protocol),
    }
}
