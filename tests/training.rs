//! Training end to end: the simulated RTL and the golden model follow the
//! same trajectory bit for bit; stochastic rounding at FL 14 learns about
//! as well as f32; a resumed run continues exactly; weights kept on the
//! device train exactly as streamed ones where rounding draws nothing.

mod common;

use common::{golden_like_sim, seed};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::mnist::{self, Dataset, Split};
use srsa_host::train::trainer::flat_params;
use srsa_host::train::{
    checkpoint, train_in_lockstep, Arch, Backend, Data, Fixed, Float, Format, LayerPlan, Plan,
    TensorFormats, TrainConfig, Trainer,
};
use srsa_sim::SimDevice;
use srsa_spec::numerics::Rounding;
use srsa_spec::protocol::feature;

fn data(split: Split, n: usize) -> Dataset {
    mnist::load_split(&mnist::bundled_dir(), split)
        .expect("bundled MNIST")
        .first(n)
}

/// Training samples only: the test set is empty.
fn train_only(train: Dataset) -> Data {
    Data {
        test: train.clone().first(0),
        train,
        dir: mnist::bundled_dir(),
    }
}

fn golden(n: usize) -> Fixed<GoldenDevice> {
    Fixed::new(Driver::new(golden_like_sim(n, n)).expect("golden identifies"))
}

fn sim(n: usize) -> Fixed<SimDevice> {
    let dev = SimDevice::new(n).unwrap_or_else(|e| panic!("cannot open the {n}x{n} RTL: {e}"));
    Fixed::new(Driver::new(dev).expect("RTL identifies"))
}

/// Steps both trainers over the same batches, one lockstep step at a time;
/// after every step the parameters must be identical (else the first
/// differing element is named), the statistics too, and the parameters
/// must have moved.
fn same_trajectory<A: Backend<E = i16>, B: Backend<E = i16>>(
    what: &str,
    mut a: Trainer<A>,
    mut b: Trainer<B>,
    d: &Dataset,
    steps: usize,
) {
    let mut before = flat_params(&a.net);
    for step in 0..steps {
        let run = train_in_lockstep(&mut a, &mut b, d, 1)
            .unwrap_or_else(|e| panic!("{what}: step {step}: {e}"));
        if let Some(d) = run.divergence {
            panic!("{what}: step {step}: {}", d.describe("sim", "golden"));
        }
        assert_eq!(run.steps.len(), 1, "{what}: step {step} was not run");
        let (sa, sb) = run.steps[0];
        assert_eq!(sa, sb, "{what}: step {step} statistics");
        // Training moves the weights: the comparison is not of two frozen nets.
        let after = flat_params(&a.net);
        assert_ne!(after, before, "{what}: step {step} changed nothing");
        before = after;
    }
}

/// FL 12 throughout, learning rate 0.1.
fn fl12(arch: Arch, mode: Rounding, batch: usize, seed: u64) -> TrainConfig {
    TrainConfig {
        plan: Plan::uniform(&arch, TensorFormats::uniform(12)),
        arch,
        rounding: Some(mode),
        lr: 0.1,
        batch,
        seed,
    }
}

#[test]
fn sim_and_golden_train_bit_identically() {
    let s = seed("sim_and_golden_train_bit_identically", 3);
    let d = data(Split::Train, 400);
    let cases = [
        (
            "mlp 784-32-10, stochastic",
            Arch::mlp(&[32]),
            Rounding::Stochastic,
            20,
            4,
        ),
        (
            "mlp 784-24-16-10, nearest",
            Arch::mlp(&[24, 16]),
            Rounding::Nearest,
            16,
            3,
        ),
        ("cnn, stochastic", Arch::cnn(), Rounding::Stochastic, 3, 2),
    ];
    for (what, arch, mode, batch, steps) in cases {
        let cfg = fl12(arch, mode, batch, s);
        let a = Trainer::new(sim(8), cfg.clone()).unwrap();
        let b = Trainer::new(golden(8), cfg).unwrap();
        same_trajectory(what, a, b, &d, steps);
    }
}

/// A golden model like the simulated n x n device, with or without the
/// operand paths that keep weights resident.
fn golden_with(n: usize, features: u32) -> Fixed<GoldenDevice> {
    let d = golden_like_sim(n, n).with_features(features);
    Fixed::new(Driver::new(d).expect("golden identifies"))
}

/// With truncation or round-to-nearest no output depends on a random draw,
/// so a network whose dense layers stay on the device (bias folded into the
/// weights, updated in place) must follow the streamed network's trajectory
/// bit for bit: the resident products compute the same sums.
#[test]
fn resident_weights_train_as_streamed_ones() {
    let s = seed("resident_weights_train_as_streamed_ones", 7);
    let d = data(Split::Train, 120);
    let cases = [
        (
            "mlp 784-32-10, nearest",
            Arch::mlp(&[32]),
            Rounding::Nearest,
            20,
            4,
            2,
        ),
        (
            "mlp 784-24-16-10, truncate",
            Arch::mlp(&[24, 16]),
            Rounding::Truncate,
            16,
            3,
            3,
        ),
        ("cnn, nearest", Arch::cnn(), Rounding::Nearest, 3, 2, 2),
    ];
    for (what, arch, mode, batch, steps, resident) in cases {
        let cfg = fl12(arch, mode, batch, s);
        let a = Trainer::new(golden_with(8, feature::ALL), cfg.clone()).unwrap();
        let b = Trainer::new(golden_with(8, 0), cfg).unwrap();
        let layers = a.net.resident_layers().1;
        assert_eq!(
            a.net.resident_layers(),
            (resident, layers),
            "{what}: {:?}",
            a.streamed
        );
        assert_eq!(b.net.resident_layers(), (0, layers), "{what}");
        assert_eq!(
            b.streamed.len(),
            layers,
            "{what}: every layer says why it streams"
        );
        same_trajectory(what, a, b, &d, steps);
    }
}

fn test_error<B: Backend>(t: &mut Trainer<B>, data: &Data, epochs: u32) -> f64 {
    let history = t.fit(data, epochs, None, &mut ()).unwrap();
    assert_eq!(history.len(), epochs as usize);
    history.last().unwrap().test_error
}

#[test]
fn stochastic_rounding_learns_like_float() {
    let s = seed("stochastic_rounding_learns_like_float", 1);
    let d = Data {
        train: data(Split::Train, 3000),
        test: data(Split::Test, 1000),
        dir: mnist::bundled_dir(),
    };
    let arch = Arch::mlp(&[64]);
    let cfg = TrainConfig {
        plan: Plan::uniform(&arch, TensorFormats::uniform(14)),
        arch,
        rounding: None,
        lr: 0.1,
        batch: 50,
        seed: s,
    };
    let ef = test_error(&mut Trainer::new(Float, cfg.clone()).unwrap(), &d, 2);
    let stochastic = TrainConfig {
        rounding: Some(Rounding::Stochastic),
        ..cfg
    };
    let es = test_error(&mut Trainer::new(golden(8), stochastic).unwrap(), &d, 2);
    println!(
        "test error: float {:.2}%, stochastic FL 14 {:.2}%",
        100.0 * ef,
        100.0 * es
    );
    assert!(ef < 0.2, "float did not learn: {ef}");
    assert!((es - ef).abs() < 0.03, "float {ef} vs stochastic {es}");
}

#[test]
fn a_resumed_run_continues_exactly() {
    let s = seed("a_resumed_run_continues_exactly", 5);
    let train = train_only(data(Split::Train, 300));
    let arch = Arch::mlp(&[16]);
    let cfg = TrainConfig {
        plan: Plan::uniform(&arch, TensorFormats::uniform(13)),
        arch,
        rounding: Some(Rounding::Stochastic),
        lr: 0.2,
        batch: 30,
        seed: s,
    };
    let mut straight = Trainer::new(golden(8), cfg.clone()).unwrap();
    straight.fit(&train, 2, None, &mut ()).unwrap();

    let dir = std::env::temp_dir().join(format!("srsa-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ck.bin");
    let mut first = Trainer::new(golden(8), cfg.clone()).unwrap();
    first.fit(&train, 1, Some(&path), &mut ()).unwrap();
    let ck = checkpoint::load::<i16>(&path).unwrap();
    assert_eq!(ck.cfg, cfg);
    let mut resumed = Trainer::new(golden(8), ck.cfg.clone()).unwrap();
    resumed.restore(&path, ck).unwrap();
    assert_eq!(flat_params(&resumed.net), flat_params(&first.net));
    let rest = resumed.fit(&train, 2, None, &mut ()).unwrap();
    assert_eq!((rest.len(), resumed.epoch), (1, 2));
    assert!(
        flat_params(&resumed.net) == flat_params(&straight.net),
        "resumed run diverged"
    );

    // A checkpoint of another rounding, or a damaged one, is refused by name.
    let ck = checkpoint::load::<i16>(&path).unwrap();
    let nearest = TrainConfig {
        rounding: Some(Rounding::Nearest),
        ..ck.cfg.clone()
    };
    let mut other = Trainer::new(golden(8), nearest).unwrap();
    let e = other.restore(&path, ck).unwrap_err().to_string();
    assert!(e.contains("ck.bin") && e.contains("stochastic"), "{e}");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let e = checkpoint::load::<i16>(&path).unwrap_err().to_string();
    assert!(e.contains("ck.bin") && e.contains("bytes"), "{e}");
    assert!(checkpoint::load::<f32>(&dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// 784-24-16-10 with every layer in formats of its own: narrow words (WL 6
/// and 8), other FLs per layer, and updates in formats other than the
/// gradients' (so the host rounds the gradient into them). The input has
/// no 1.0 at <8, 7>, so fc1 streams while fc2 and fc3 stay resident.
fn narrow_plan() -> (Arch, Plan) {
    let arch = Arch::mlp(&[24, 16]);
    let f = |wl, fl| Format { wl, fl };
    let layer = |w, a, g, u| LayerPlan {
        weights: w,
        activations: a,
        gradients: g,
        update: u,
    };
    let plan = Plan {
        input: f(8, 7),
        layers: vec![
            ("fc1".into(), layer(f(6, 6), f(8, 5), f(16, 12), f(12, 12))),
            ("fc2".into(), layer(f(8, 7), f(6, 3), f(16, 12), f(16, 12))),
            ("fc3".into(), layer(f(16, 12), f(16, 10), f(8, 8), f(6, 9))),
        ],
    };
    (arch, plan)
}

#[test]
fn a_narrow_plan_trains_bit_identically_on_sim_and_golden() {
    let s = seed("a_narrow_plan_trains_bit_identically_on_sim_and_golden", 9);
    let d = data(Split::Train, 200);
    let (arch, plan) = narrow_plan();
    for mode in [Rounding::Stochastic, Rounding::Nearest] {
        let cfg = TrainConfig {
            arch: arch.clone(),
            plan: plan.clone(),
            rounding: Some(mode),
            lr: 0.1,
            batch: 16,
            seed: s,
        };
        let a = Trainer::new(sim(8), cfg.clone()).unwrap();
        let b = Trainer::new(golden(8), cfg).unwrap();
        assert_eq!(a.net.resident_layers(), (2, 3), "{:?}", a.streamed);
        assert!(
            a.streamed[0].contains("layer 1") && a.streamed[0].contains("1.0"),
            "{:?}",
            a.streamed
        );
        same_trajectory(&format!("narrow plan, {mode}"), a, b, &d, 3);
    }
}

/// A step at weight WL 6 leaves every weight and bias word in the 6-bit
/// range, where the same step at WL 16 leaves some outside it (the
/// learning rate is large, so the updates are).
#[test]
fn narrow_weights_stay_narrow() {
    let s = seed("narrow_weights_stay_narrow", 2);
    let train = train_only(data(Split::Train, 32));
    let (arch, narrow) = narrow_plan();
    let mut six = narrow.clone();
    for (_, l) in &mut six.layers {
        l.weights = Format { wl: 6, fl: 7 };
    }
    let words = |plan: Plan| {
        let cfg = TrainConfig {
            arch: arch.clone(),
            plan,
            rounding: Some(Rounding::Stochastic),
            lr: 4.0,
            batch: 16,
            seed: s,
        };
        let mut t = Trainer::new(golden(8), cfg).unwrap();
        t.next_step(&train.train).unwrap();
        t.sync_params().unwrap();
        flat_params(&t.net)
    };
    let six_bits = -32..=31;
    let w = words(six);
    assert!(w.iter().all(|v| six_bits.contains(v)), "a word left 6 bits");
    assert!(w.iter().any(|&v| v == 31 || v == -32), "nothing saturated");
    let mut wide6 = narrow;
    for (_, l) in &mut wide6.layers {
        l.weights = Format { wl: 16, fl: 7 };
    }
    let w = words(wide6);
    assert!(
        w.iter().any(|v| !six_bits.contains(v)),
        "at WL 16 the same step stays within 6 bits: the test shows nothing"
    );
}

/// Pruned training (Han et al.): after a pruning round the simulated RTL
/// and the golden model still train bit for bit, resident layers (masked
/// in-place updates) and streamed ones (convolutions: masked products with
/// a marked C_in) alike, and on every backend, the f32 reference too, the
/// pruned weights stay exactly 0 while the others keep moving, through
/// zero as well.
#[test]
fn pruned_weights_stay_zero_and_sim_matches_golden() {
    use srsa_host::train::prune::Schedule;
    let s = seed("pruned_weights_stay_zero_and_sim_matches_golden", 13);
    let d = data(Split::Train, 300);
    let cases = [
        ("mlp 784-32-10, stochastic", Arch::mlp(&[32]), 20, 6),
        ("cnn, stochastic", Arch::cnn(), 3, 3),
    ];
    for (what, arch, batch, steps) in cases {
        let cfg = fl12(arch, Rounding::Stochastic, batch, s);
        let layers = cfg.arch.layer_names().len();
        let schedule = Schedule {
            quality: vec![0.1; layers],
            rounds: 1,
            every: 1,
        };
        let mut a = Trainer::new(sim(8), cfg.clone()).unwrap();
        let mut b = Trainer::new(golden(8), cfg.clone()).unwrap();
        let kept = a.prune(&schedule, 1).unwrap();
        assert_eq!(kept, b.prune(&schedule, 1).unwrap(), "{what}");
        assert!(kept.iter().all(|p| p.kept < p.weights), "{what}: {kept:?}");
        let masks = a.net.masks();
        let start = flat_params(&a.net);
        same_trajectory(what, a, b, &d, steps);
        let mut b = Trainer::new(golden(8), cfg.clone()).unwrap();
        b.prune(&schedule, 1).unwrap();
        for _ in 0..steps {
            b.next_step(&d).unwrap();
        }
        b.sync_params().unwrap();
        check_pruned(what, &b.net.params(), &masks, &start);
        let mut f = Trainer::new(
            Float,
            TrainConfig {
                rounding: None,
                ..cfg
            },
        )
        .unwrap();
        f.prune(&schedule, 1).unwrap();
        let fmasks = f.net.masks();
        let fstart = flat_params(&f.net);
        for _ in 0..steps {
            f.next_step(&d).unwrap();
        }
        check_pruned(&format!("{what}, float"), &f.net.params(), &fmasks, &fstart);
    }
}

/// Every masked weight is 0; some unmasked weight moved, and (over the
/// whole network) some changed sign or reached or left zero.
fn check_pruned<E: Copy + PartialOrd + Default + std::fmt::Debug>(
    what: &str,
    params: &[&srsa_host::train::layers::Params<E>],
    masks: &[Option<ndarray::Array2<bool>>],
    start: &[E],
) {
    let zero = E::default();
    let mut at = 0;
    let (mut moved, mut crossed) = (0, 0);
    for (i, (p, m)) in params.iter().zip(masks).enumerate() {
        let m = m
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: layer {i} has no mask"));
        for (k, (&w, &pruned)) in p.w.iter().zip(m.iter()).enumerate() {
            let w0 = start[at + k];
            if pruned {
                assert!(w == zero, "{what}: layer {i} pruned weight {k} is {w:?}");
            } else {
                moved += (w != w0) as usize;
                crossed += ((w0 < zero) != (w < zero) || (w0 == zero) != (w == zero)) as usize;
            }
        }
        at += p.w.len() + p.b.len();
    }
    assert!(
        moved > 0 && crossed > 0,
        "{what}: {moved} moved, {crossed} crossed zero"
    );
    println!("{what}: {moved} free weights moved, {crossed} through zero");
}
