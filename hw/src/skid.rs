//! A two-word skid buffer on a valid/ready word stream: full throughput,
//! and every output (`in_ready`, `out_valid`, `out_data`) comes straight
//! from a register, so nothing on one side reaches the other side's logic
//! within a cycle.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Skid {
    pub clock: Signal<In, Clock>,
    pub in_data: Signal<In, Bits<32>>,
    pub in_valid: Signal<In, Bit>,
    pub in_ready: Signal<Out, Bit>,
    pub out_data: Signal<Out, Bits<32>>,
    pub out_valid: Signal<Out, Bit>,
    pub out_ready: Signal<In, Bit>,
    /// The head word (sent first) and the word behind it.
    head: DFF<Bits<32>>,
    tail: DFF<Bits<32>>,
    /// Words held: 0, 1 or 2.
    count: DFF<Bits<2>>,
    push: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
}

impl Logic for Skid {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, head, tail, count);
        self.in_ready.next = !self.count.q.val().get_bit(1);
        self.out_valid.next = self.count.q.val().any();
        self.out_data.next = self.head.q.val();
        self.push.next = self.in_valid.val() & !self.count.q.val().get_bit(1);
        self.pop.next = self.out_ready.val() & self.count.q.val().any();
        if self.push.val() & !self.pop.val() {
            self.count.d.next = self.count.q.val() + 1;
            if self.count.q.val().any() {
                self.tail.d.next = self.in_data.val();
            } else {
                self.head.d.next = self.in_data.val();
            }
        }
        if self.pop.val() & !self.push.val() {
            self.count.d.next = self.count.q.val() - 1;
            self.head.d.next = self.tail.q.val();
        }
        // Both with one word held: the new word becomes the head.
        if self.pop.val() & self.push.val() {
            self.head.d.next = self.in_data.val();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Offers words 0, 1, 2, ... when `offer` draws true, takes them when
    /// `accept` does.
    struct Env {
        rng: rand::rngs::StdRng,
        offer: f64,
        accept: f64,
        next: u32,
        got: Vec<u32>,
    }

    fn drive(e: &mut Env, _: u64, x: &mut Skid) {
        x.in_valid.next = e.rng.gen_bool(e.offer);
        x.in_data.next = (e.next as u64).into();
        x.out_ready.next = e.rng.gen_bool(e.accept);
    }

    fn observe(e: &mut Env, _: u64, x: &Skid) -> bool {
        if x.in_valid.val() && x.in_ready.val() {
            e.next += 1;
        }
        if x.out_valid.val() && x.out_ready.val() {
            e.got.push(x.out_data.val().to_u64() as u32);
        }
        true
    }

    /// Random offers and back-pressure: every word arrives once, in order;
    /// with both sides always willing, one word moves every cycle.
    #[test]
    fn skid_keeps_every_word_in_order() {
        for (seed, offer, accept) in [(1u64, 1.0, 1.0), (2, 0.7, 0.4), (3, 0.3, 0.9)] {
            println!("seed {seed}, offered {offer}, accepted {accept}");
            let env = Env {
                rng: rand::rngs::StdRng::seed_from_u64(seed),
                offer,
                accept,
                next: 0,
                got: vec![],
            };
            let cycles = 2000;
            let e = crate::testbench::run(Skid::default(), cycles, env, drive, observe);
            let want: Vec<u32> = (0..e.got.len() as u32).collect();
            assert_eq!(e.got, want, "seed {seed}");
            // At most the two words held are still inside.
            assert!(e.next as usize - e.got.len() <= 2, "seed {seed}");
            if offer == 1.0 && accept == 1.0 {
                assert!(e.got.len() as u64 >= cycles - 2, "full throughput");
            } else {
                assert!(e.got.len() > 400, "seed {seed}: {} words", e.got.len());
            }
        }
    }
}
