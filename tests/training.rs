//! Training end to end: the simulated RTL and the golden model follow the
//! same trajectory bit for bit; stochastic rounding at FL 14 learns about
//! as well as f32; a resumed run continues exactly.

mod common;

use common::{buffer_elems, seed};
use srsa_host::driver::Driver;
use srsa_host::golden::GoldenDevice;
use srsa_host::mnist::{self, Dataset, Split};
use srsa_host::train::trainer::flat_params;
use srsa_host::train::{
    checkpoint, Arch, Backend, Fixed, Float, TensorFormats, TrainConfig, Trainer,
};
use srsa_sim::SimDevice;
use srsa_spec::numerics::Rounding;

fn data(split: Split, n: usize) -> Dataset {
    let d = mnist::load_split(&mnist::bundled_dir(), split).expect("bundled MNIST");
    Dataset {
        images: d.images.slice(ndarray::s![..n, ..]).to_owned(),
        labels: d.labels[..n].to_vec(),
        rows: d.rows,
        cols: d.cols,
    }
}

fn golden(n: usize, mode: Rounding) -> Fixed<GoldenDevice> {
    Fixed::new(
        Driver::new(GoldenDevice::new(n, buffer_elems(n, n))).expect("golden identifies"),
        mode,
    )
}

fn sim(n: usize, mode: Rounding) -> Fixed<SimDevice> {
    let dev = SimDevice::new(n).unwrap_or_else(|e| panic!("cannot open the {n}x{n} RTL: {e}"));
    Fixed::new(Driver::new(dev).expect("RTL identifies"), mode)
}

/// Steps both trainers over the same batches; after every step the
/// parameters must be identical, else the first differing element is named.
fn same_trajectory<A: Backend<E = i16>, B: Backend<E = i16>>(
    what: &str,
    mut a: Trainer<A>,
    mut b: Trainer<B>,
    d: &Dataset,
    steps: usize,
) {
    let oa = a.epoch_order(d.len()).unwrap();
    let ob = b.epoch_order(d.len()).unwrap();
    assert_eq!(oa, ob);
    let batch = a.cfg.batch;
    let mut before = flat_params(&a.net);
    for (step, idx) in oa.chunks(batch).take(steps).enumerate() {
        let labels: Vec<u8> = idx.iter().map(|&i| d.labels[i]).collect();
        let x = d.pixels_f32(idx);
        let sa = a
            .step(x.view(), &labels)
            .unwrap_or_else(|e| panic!("{what}: sim step {step}: {e}"));
        let sb = b
            .step(x.view(), &labels)
            .unwrap_or_else(|e| panic!("{what}: golden step {step}: {e}"));
        let (pa, pb) = (flat_params(&a.net), flat_params(&b.net));
        assert_eq!(pa.len(), pb.len());
        if let Some(i) = (0..pa.len()).find(|&i| pa[i] != pb[i]) {
            panic!(
                "{what}: after step {step} parameter element {i} differs: sim {} golden {}",
                pa[i], pb[i]
            );
        }
        assert_eq!(sa, sb, "{what}: step {step} statistics");
        // Training moves the weights: the comparison is not of two frozen nets.
        assert_ne!(pa, before, "{what}: step {step} changed nothing");
        before = pa;
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
        ("cnn, stochastic", Arch::Cnn, Rounding::Stochastic, 3, 2),
    ];
    for (what, arch, mode, batch, steps) in cases {
        let cfg = TrainConfig {
            arch,
            formats: TensorFormats::uniform(12),
            lr: 0.1,
            batch,
            seed: s,
        };
        let a = Trainer::new(sim(8, mode), cfg.clone()).unwrap();
        let b = Trainer::new(golden(8, mode), cfg).unwrap();
        same_trajectory(what, a, b, &d, steps);
    }
}

fn train_and_test<B: Backend>(
    t: &mut Trainer<B>,
    train: &Dataset,
    test: &Dataset,
    epochs: u32,
) -> f64 {
    for _ in 0..epochs {
        t.train_epoch(train, |_, _| {}).unwrap();
    }
    t.evaluate(test).unwrap().error_rate()
}

#[test]
fn stochastic_rounding_learns_like_float() {
    let s = seed("stochastic_rounding_learns_like_float", 1);
    let (train, test) = (data(Split::Train, 3000), data(Split::Test, 1000));
    let cfg = TrainConfig {
        arch: Arch::mlp(&[64]),
        formats: TensorFormats::uniform(14),
        lr: 0.1,
        batch: 50,
        seed: s,
    };
    let ef = train_and_test(
        &mut Trainer::new(Float, cfg.clone()).unwrap(),
        &train,
        &test,
        2,
    );
    let es = train_and_test(
        &mut Trainer::new(golden(8, Rounding::Stochastic), cfg).unwrap(),
        &train,
        &test,
        2,
    );
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
    let train = data(Split::Train, 300);
    let cfg = TrainConfig {
        arch: Arch::mlp(&[16]),
        formats: TensorFormats::uniform(13),
        lr: 0.2,
        batch: 30,
        seed: s,
    };
    let mut straight = Trainer::new(golden(8, Rounding::Stochastic), cfg.clone()).unwrap();
    straight.train_epoch(&train, |_, _| {}).unwrap();
    straight.train_epoch(&train, |_, _| {}).unwrap();

    let dir = std::env::temp_dir().join(format!("srsa-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ck.bin");
    let mut first = Trainer::new(golden(8, Rounding::Stochastic), cfg.clone()).unwrap();
    first.train_epoch(&train, |_, _| {}).unwrap();
    checkpoint::save(&path, &first, "stochastic").unwrap();
    let ck = checkpoint::load::<i16>(&path).unwrap();
    let mut resumed = Trainer::new(golden(8, Rounding::Stochastic), ck.cfg.clone()).unwrap();
    resumed.restore(&path, ck, "stochastic").unwrap();
    assert_eq!(flat_params(&resumed.net), flat_params(&first.net));
    resumed.train_epoch(&train, |_, _| {}).unwrap();
    assert_eq!(resumed.epoch, 2);
    assert!(
        flat_params(&resumed.net) == flat_params(&straight.net),
        "resumed run diverged"
    );

    // A checkpoint of another rounding, or a damaged one, is refused by name.
    let ck = checkpoint::load::<i16>(&path).unwrap();
    let mut other = Trainer::new(golden(8, Rounding::Nearest), ck.cfg.clone()).unwrap();
    let e = other.restore(&path, ck, "nearest").unwrap_err().to_string();
    assert!(e.contains("ck.bin") && e.contains("stochastic"), "{e}");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let e = checkpoint::load::<i16>(&path).unwrap_err().to_string();
    assert!(e.contains("ck.bin") && e.contains("bytes"), "{e}");
    assert!(checkpoint::load::<f32>(&dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}
