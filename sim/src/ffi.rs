//! The only unsafe code of the crate: the C ABI of csrc/shim.cpp and a safe
//! owner of one verilated model.
//!
//! Why it is sound:
//! - `Model` owns the pointer from `*_new` (never null: C++ `new` throws, and
//!   an exception crossing `extern "C"` aborts rather than returning null),
//!   passes it only to the functions of the same variant (the `Variant`
//!   table is chosen once, from the size), and frees it exactly once in Drop.
//! - Every slice handed to `run` is passed with its own length; the shim
//!   reads at most `input.len()` words and writes at most `out.len()`.
//! - The model is only reached through `&mut self`, so never from two
//!   threads at once. Moving it to another thread is fine: each model has
//!   its own VerilatedContext and no thread-local state survives a call.

use std::ffi::{c_char, c_int, c_void, CString};

/// Mirrors `SrsaRun` in csrc/shim.cpp.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunResult {
    /// Input words the device accepted.
    pub consumed: u64,
    /// Output words collected.
    pub produced: u64,
    /// Clock cycles run.
    pub cycles: u64,
}

type NewFn = unsafe extern "C" fn() -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type RunFn =
    unsafe extern "C" fn(*mut c_void, *const u32, usize, *mut u32, usize, u64, *mut RunResult);
type IdleFn = unsafe extern "C" fn(*mut c_void, u64) -> u64;
type TraceOpenFn = unsafe extern "C" fn(*mut c_void, *const c_char, u64, u64) -> c_int;
type VoidFn = unsafe extern "C" fn(*mut c_void);
type CyclesFn = unsafe extern "C" fn(*mut c_void) -> u64;
type FinishedFn = unsafe extern "C" fn(*mut c_void) -> c_int;

/// The functions of one model.
struct Variant {
    new: NewFn,
    free: FreeFn,
    run: RunFn,
    idle: IdleFn,
    trace_open: TraceOpenFn,
    trace_close: VoidFn,
    cycles: CyclesFn,
    finished: FinishedFn,
}

/// Declares one variant's C functions and its `Variant` table.
macro_rules! variant {
    ($table:ident, $new:ident, $free:ident, $run:ident, $idle:ident, $topen:ident,
     $tclose:ident, $cycles:ident, $finished:ident) => {
        unsafe extern "C" {
            fn $new() -> *mut c_void;
            fn $free(d: *mut c_void);
            fn $run(
                d: *mut c_void,
                input: *const u32,
                n_in: usize,
                out: *mut u32,
                n_out: usize,
                max_cycles: u64,
                res: *mut RunResult,
            );
            fn $idle(d: *mut c_void, cycles: u64) -> u64;
            fn $topen(d: *mut c_void, path: *const c_char, start: u64, end: u64) -> c_int;
            fn $tclose(d: *mut c_void);
            fn $cycles(d: *mut c_void) -> u64;
            fn $finished(d: *mut c_void) -> c_int;
        }
        static $table: Variant = Variant {
            new: $new,
            free: $free,
            run: $run,
            idle: $idle,
            trace_open: $topen,
            trace_close: $tclose,
            cycles: $cycles,
            finished: $finished,
        };
    };
}

type TickFn = unsafe extern "C" fn(*mut c_void, u64) -> u64;

/// The functions of one bare array.
struct BareVariant {
    new: NewFn,
    free: FreeFn,
    tick: TickFn,
    cycles: CyclesFn,
    checksum: CyclesFn,
}

/// Declares one bare array's C functions and its `BareVariant` table.
macro_rules! bare {
    ($table:ident, $new:ident, $free:ident, $tick:ident, $cycles:ident, $checksum:ident) => {
        unsafe extern "C" {
            fn $new() -> *mut c_void;
            fn $free(d: *mut c_void);
            fn $tick(d: *mut c_void, cycles: u64) -> u64;
            fn $cycles(d: *mut c_void) -> u64;
            fn $checksum(d: *mut c_void) -> u64;
        }
        static $table: BareVariant = BareVariant {
            new: $new,
            free: $free,
            tick: $tick,
            cycles: $cycles,
            checksum: $checksum,
        };
    };
}

// Every model's `variant!` or `bare!`, `word_stream(rows, cols)` (the
// word-stream model of that shape, if built), `UART_TOP` and
// `bare_array(rows, cols)`: written by build.rs from the shape table and
// srsa-hw's bare arrays, so that the models are listed nowhere else.
include!(concat!(env!("OUT_DIR"), "/ffi_models.rs"));

/// Why a trace could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum TraceOpenError {
    /// The path holds a NUL byte.
    BadPath,
    /// The file could not be created.
    CannotOpen,
    /// The models were built without `--trace`.
    Unsupported,
}

/// One verilated `top`, owned.
pub struct Model {
    ptr: *mut c_void,
    v: &'static Variant,
}

// SAFETY: see the module comment; the model has no thread affinity and is
// only used through `&mut self`.
unsafe impl Send for Model {}

impl Model {
    /// A fresh model (power-up state, cycle 0) of a rows x cols array, if
    /// that shape was verilated.
    pub fn new(rows: usize, cols: usize) -> Option<Model> {
        word_stream(rows, cols).map(Model::of)
    }

    /// A fresh UART board top (the `UART` array): `run` then moves every
    /// word as four bytes over the simulated serial line.
    pub fn uart() -> Model {
        Model::of(UART_TOP)
    }

    fn of(v: &'static Variant) -> Model {
        // SAFETY: `new` takes no arguments and returns an owned model.
        let ptr = unsafe { (v.new)() };
        Model { ptr, v }
    }

    /// Drives `input` (in order, each word until accepted) and collects
    /// output words into `out` until it is full or `max_cycles` cycles ran.
    pub fn run(&mut self, input: &[u32], out: &mut [u32], max_cycles: u64) -> RunResult {
        let mut res = RunResult::default();
        // SAFETY: lengths travel with their pointers; `res` is a valid
        // out-parameter for the duration of the call.
        unsafe {
            (self.v.run)(
                self.ptr,
                input.as_ptr(),
                input.len(),
                out.as_mut_ptr(),
                out.len(),
                max_cycles,
                &mut res,
            )
        };
        res
    }

    /// Runs `cycles` cycles offering and accepting nothing; returns the
    /// cycles run (fewer only if the model finished).
    pub fn idle(&mut self, cycles: u64) -> u64 {
        // SAFETY: plain values only.
        unsafe { (self.v.idle)(self.ptr, cycles) }
    }

    /// Opens a VCD file that records cycles `start..end` (absolute cycle
    /// numbers), replacing any trace already open.
    pub fn trace_open(&mut self, path: &[u8], start: u64, end: u64) -> Result<(), TraceOpenError> {
        let c = CString::new(path).map_err(|_| TraceOpenError::BadPath)?;
        // SAFETY: `c` outlives the call; the shim copies the path.
        match unsafe { (self.v.trace_open)(self.ptr, c.as_ptr(), start, end) } {
            0 => Ok(()),
            -2 => Err(TraceOpenError::Unsupported),
            _ => Err(TraceOpenError::CannotOpen),
        }
    }

    /// Flushes and closes the trace, if one is open.
    pub fn trace_close(&mut self) {
        // SAFETY: no arguments beyond the model.
        unsafe { (self.v.trace_close)(self.ptr) }
    }

    /// Rising clock edges since power-up.
    pub fn cycles(&self) -> u64 {
        // SAFETY: read-only query.
        unsafe { (self.v.cycles)(self.ptr) }
    }

    /// True once the Verilog executed `$finish` (or `$stop`): the model
    /// then refuses to run.
    pub fn finished(&self) -> bool {
        // SAFETY: read-only query.
        unsafe { (self.v.finished)(self.ptr) != 0 }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from this variant's `new` and is freed once.
        unsafe { (self.v.free)(self.ptr) }
    }
}

/// One verilated bare array behind its feed, owned (the same soundness
/// argument as [`Model`]'s).
pub struct Bare {
    ptr: *mut c_void,
    v: &'static BareVariant,
}

// SAFETY: as for `Model`.
unsafe impl Send for Bare {}

impl Bare {
    /// A fresh bare rows x cols array (cycle 0), if one was verilated.
    pub fn new(rows: usize, cols: usize) -> Option<Bare> {
        bare_array(rows, cols).map(|v| {
            // SAFETY: `new` takes no arguments and returns an owned model.
            let ptr = unsafe { (v.new)() };
            Bare { ptr, v }
        })
    }

    /// Runs `cycles` cycles; returns the cycles run (fewer only if the
    /// model finished).
    pub fn tick(&mut self, cycles: u64) -> u64 {
        // SAFETY: plain values only.
        unsafe { (self.v.tick)(self.ptr, cycles) }
    }

    pub fn cycles(&self) -> u64 {
        // SAFETY: read-only query.
        unsafe { (self.v.cycles)(self.ptr) }
    }

    /// The fold of every column's output at every cycle run.
    pub fn checksum(&self) -> u64 {
        // SAFETY: read-only query.
        unsafe { (self.v.checksum)(self.ptr) }
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from this variant's `new` and is freed once.
        unsafe { (self.v.free)(self.ptr) }
    }
}
