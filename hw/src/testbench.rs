//! The harness of every block's rust-hdl test: one clock, and a test's own
//! state that drives the inputs of each cycle and then, with the block's
//! combinational outputs settled and before the rising edge, observes them.

use rust_hdl::prelude::*;
use std::sync::{Arc, Mutex};

/// A block with a clock input named `clock`.
pub trait Clocked: Block + Send + 'static {
    fn clock_signal(&mut self) -> &mut Signal<In, Clock>;
    fn clock_high(&self) -> bool;
}

macro_rules! clocked {
    ($([$($g:tt)*] $t:ty),* $(,)?) => {
        $(impl<$($g)*> Clocked for $t {
            fn clock_signal(&mut self) -> &mut Signal<In, Clock> {
                &mut self.clock
            }
            fn clock_high(&self) -> bool {
                self.clock.val().clk
            }
        })*
    };
}

clocked!(
    [const R: usize, const C: usize, const DA: usize, const DC: usize]
    crate::buffers::Buffers<R, C, DA, DC>,
    [const R: usize, const C: usize, const DA: usize, const DC: usize]
    crate::gemm_args::GemmArgs<R, C, DA, DC>,
    [const R: usize, const C: usize, const DA: usize, const DC: usize]
    crate::sequencer::Sequencer<R, C, DA, DC>,
    [const R: usize, const C: usize] crate::decoder::Decoder<R, C>,
    [] crate::counters::Counters,
    [] crate::transfer::Transfer,
    [] crate::skid::Skid,
    [] crate::frame::FrameRx,
);

/// Runs `uut` for at most `max_cycles` cycles: each cycle `drive` sets the
/// inputs, then `observe` reads the outputs and says whether to go on.
/// Returns the state both were given.
///
/// A fixed plan of inputs is the common case: [`run_plan`].
pub fn run<U: Clocked, St: Send + 'static>(
    mut uut: U,
    max_cycles: u64,
    state: St,
    drive: fn(&mut St, u64, &mut U),
    observe: fn(&mut St, u64, &U) -> bool,
) -> St {
    uut.connect_all();
    let shared = Arc::new(Mutex::new(state));
    let inner = shared.clone();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<U>| {
        let c = x.clock_signal();
        c.next = !c.val();
    });
    sim.add_testbench(move |mut sim: Sim<U>| {
        let mut x = sim.init()?;
        let mut st = inner.lock().unwrap();
        for t in 0..max_cycles {
            drive(&mut st, t, &mut x);
            x = sim.wait(1, x)?;
            let go_on = observe(&mut st, t, &x);
            x = sim.watch(|x| x.clock_high(), x)?;
            x = sim.watch(|x| !x.clock_high(), x)?;
            if !go_on {
                break;
            }
        }
        drop(st);
        sim.done(x)
    });
    sim.run(Box::new(uut), max_cycles * 10 + 100).unwrap();
    drop(sim);
    let Ok(state) = Arc::try_unwrap(shared) else {
        panic!("the testbench still holds its state");
    };
    state.into_inner().unwrap()
}

/// Drives one element of `plan` per cycle and returns what `sample` read
/// in each.
pub fn run_plan<U: Clocked, D: Send + 'static, S: Send + 'static>(
    uut: U,
    plan: Vec<D>,
    drive: fn(&D, &mut U),
    sample: fn(&U) -> S,
) -> Vec<S> {
    type Plan<U, D, S> = (Vec<D>, Vec<S>, fn(&D, &mut U), fn(&U) -> S);
    let n = plan.len() as u64;
    let state: Plan<U, D, S> = (plan, Vec::with_capacity(n as usize), drive, sample);
    let (_, seen, _, _) = run(
        uut,
        n,
        state,
        |st: &mut Plan<U, D, S>, t, x| (st.2)(&st.0[t as usize], x),
        |st: &mut Plan<U, D, S>, _, x| {
            let s = (st.3)(x);
            st.1.push(s);
            true
        },
    );
    seen
}
