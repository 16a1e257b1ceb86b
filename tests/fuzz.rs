//! A short fuzzing campaign in every test run: random and malformed
//! command streams on the 4x4 RTL and the golden model in lockstep, each
//! followed by a correct GEMM (`srsa_host::fuzz`; `srsa fuzz` runs long
//! ones).

mod common;

use srsa_host::fuzz::campaign;
use srsa_host::lockstep::Lockstep;
use srsa_sim::SimDevice;

#[test]
fn random_and_malformed_streams_agree_with_golden() {
    let (mut rng, seed) = common::rng("random_and_malformed_streams_agree_with_golden", 0xF0225);
    let pair = Lockstep::new(
        SimDevice::new(4).expect("4x4 RTL"),
        common::golden_like_sim(4, 4),
    );
    let (t, _) = campaign(pair, &mut rng, 3000, 8).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    println!("{t:?}");
    assert!(t.commands >= 3000 && t.gemms_run > 50, "{t:?}");
}
