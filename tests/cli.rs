//! The `srsa` program as a user runs it: exit codes, files written and the
//! lines it prints.

mod common;

use common::TempDir;
use std::path::Path;
use std::process::{Command, Output};

fn srsa(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_srsa"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("cannot run srsa {args:?}: {e}"));
    println!(
        "$ srsa {}\n  exit {:?}\n  stdout: {}\n  stderr: {}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim_end(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    out
}

/// A fresh, empty directory of this test's own; removed when dropped.
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn verilog_writes_the_top_module() {
    let dir = TempDir::new("verilog");
    let out_dir = dir.0.join("out");
    let o = srsa(
        &["verilog", "--n", "4", "--out", out_dir.to_str().unwrap()],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = std::fs::read_to_string(out_dir.join("top.v")).expect("top.v written");
    assert!(v.contains("module top("), "top.v lacks `module top(`");
    assert!(v.contains("endmodule"));
}

#[test]
fn verilog_refuses_unsupported_sizes() {
    let dir = TempDir::new("verilog5");
    let o = srsa(&["verilog", "--n", "5", "--out", "x"], &dir.0);
    assert!(!o.status.success());
    let err = stderr(&o);
    // Every shape of the table is named, whatever the wording around it.
    for s in srsa_hw::SUPPORTED {
        assert!(
            err.contains(&format!("{}x{}", s.rows, s.cols)),
            "the message does not name {s}: {err}"
        );
    }
    assert!(
        !dir.0.join("x").join("top.v").exists(),
        "wrote a file anyway"
    );
}

#[test]
fn check_reports_bit_exact() {
    let dir = TempDir::new("check");
    let o = srsa(
        &["check", "--n", "4", "--trials", "20", "--seed", "1"],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let last = text.lines().last().unwrap_or("");
    assert_eq!(last, "bit-exact: 20/20", "stdout:\n{text}");
    assert!(text.contains("seed 1"), "the seed is not printed:\n{text}");
}

#[test]
fn check_writes_a_vcd_trace() {
    let dir = TempDir::new("vcd");
    let vcd = dir.0.join("t.vcd");
    let o = srsa(
        &[
            "check",
            "--n",
            "4",
            "--vcd",
            vcd.to_str().unwrap(),
            "--vcd-window",
            "0:500",
            "--trials",
            "2",
            "--seed",
            "3",
        ],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&vcd).expect("t.vcd written");
    assert!(!text.is_empty(), "empty VCD");
    assert!(text.contains("$enddefinitions"), "not a VCD header");
    assert!(text.contains("#0"), "no time 0 in the trace");
    assert_eq!(stdout(&o).lines().last(), Some("bit-exact: 2/2"));
}

#[test]
fn unknown_flags_are_refused() {
    let dir = TempDir::new("flags");
    for args in [
        &["check", "--bogus"][..],
        &["bench", "--bogus"],
        &["verilog", "--n", "4", "--out", "o", "--frobnicate"],
        &["no-such-command"],
    ] {
        let o = srsa(args, &dir.0);
        assert!(!o.status.success(), "srsa {args:?} succeeded");
        assert_eq!(o.status.code(), Some(2), "clap's usage error exit code");
        let err = stderr(&o);
        assert!(err.contains("error:") && err.contains("Usage"), "{err}");
    }
    let o = srsa(&["bench", "--runs", "many"], &dir.0);
    assert_eq!(o.status.code(), Some(2), "clap's usage error exit code");
    assert!(stderr(&o).contains("invalid value 'many' for '--runs"));
    let o = srsa(&["bench", "--callgrind-cycles", "99999999"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--callgrind-cycles must be at most"));
}

/// The first `| 8x8 |` row after `heading`, as its cells.
fn row_after(text: &str, heading: &str) -> Vec<String> {
    let (_, rest) = text
        .split_once(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{text}"));
    let line = rest
        .lines()
        .find(|l| l.starts_with("| 8x8 |"))
        .unwrap_or_else(|| panic!("no 8x8 row after {heading:?}"));
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// A ratio cell as printed: `0.72x`.
fn is_ratio(cell: &str) -> bool {
    cell.strip_suffix('x')
        .and_then(|x| x.parse::<f64>().ok())
        .is_some_and(|x| x > 0.0)
}

/// Tiny settings (one run, 8x8, a short callgrind workload): the device
/// against the bare array in one run, and the instructions per cycle where
/// valgrind is on PATH. The figures themselves are never checked: speed is
/// not a test oracle.
#[test]
fn bench_sets_the_device_against_the_bare_array() {
    let dir = TempDir::new("bench");
    let args = [
        "bench",
        "--sim-only",
        "--sizes",
        "8",
        "--runs",
        "1",
        "--callgrind-cycles",
        "300",
    ];
    let o = srsa(&args, &dir.0);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let row = row_after(&text, "### The device against the bare array");
    assert_eq!(row.len(), 4, "{row:?}");
    assert!(is_ratio(&row[3]), "{row:?}");
    let valgrind = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("valgrind").is_file()));
    if valgrind {
        let row = row_after(&text, "### Instructions per simulated cycle");
        assert!(row[1].parse::<u64>().is_ok_and(|x| x > 0), "{row:?}");
        assert!(row[2].parse::<u64>().is_ok_and(|x| x > 0), "{row:?}");
        assert!(is_ratio(&row[3]), "{row:?}");
    }
    // Without valgrind: one line saying so, and the rest as before.
    let o = Command::new(env!("CARGO_BIN_EXE_srsa"))
        .args(args)
        .current_dir(&dir.0)
        .env("PATH", &dir.0)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let said: Vec<&str> = text.lines().filter(|l| l.contains("valgrind")).collect();
    assert_eq!(
        said,
        ["valgrind is not on PATH: instructions per cycle not measured."],
        "{text}"
    );
    assert!(is_ratio(
        &row_after(&text, "### The device against the bare array")[3]
    ));
}

/// A short run of a small MLP on the golden model.
const SMALL_RUN: [&str; 12] = [
    "train",
    "--device",
    "golden",
    "--net",
    "mlp:784-32-10",
    "--train-samples",
    "300",
    "--test-samples",
    "100",
    "--batch",
    "50",
    "--quiet",
];

/// `SMALL_RUN`'s checkpoint, `m.ckpt` in `dir`.
fn small_checkpoint(dir: &TempDir) -> std::path::PathBuf {
    let ck = dir.0.join("m.ckpt");
    let mut args = SMALL_RUN.to_vec();
    args.extend(["--save", ck.to_str().unwrap()]);
    let o = srsa(&args, &dir.0);
    assert!(o.status.success(), "{}", stderr(&o));
    ck
}

#[test]
fn train_saves_plots_and_resumes() {
    let dir = TempDir::new("train");
    let ck = dir.0.join("run.ckpt");
    let plot = dir.0.join("curve.svg");
    let common = SMALL_RUN;
    let mut args = common.to_vec();
    args.extend([
        "--epochs",
        "2",
        "--save",
        ck.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--baseline",
    ]);
    let o = srsa(&args, &dir.0);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("epoch 2: train loss"), "{out}");
    assert!(out.contains("float"), "the baseline is printed: {out}");
    let last = out
        .lines()
        .rev()
        .find(|l| l.starts_with("test error after 2 epoch(s): golden stochastic"));
    assert!(last.is_some_and(|l| l.contains("|  float")), "{out}");
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));
    assert!(std::fs::metadata(&ck).unwrap().len() > 784 * 32 * 2);

    let mut args = common.to_vec();
    args.extend(["--epochs", "3", "--resume", ck.to_str().unwrap()]);
    let o = srsa(&args, &dir.0);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("resumed at epoch 2") && out.contains("epoch 3: train loss"),
        "{out}"
    );
    assert!(!out.contains("epoch 1: train loss"), "{out}");
}

#[test]
fn train_rejects_bad_input_by_name() {
    let dir = TempDir::new("train-bad");
    std::fs::write(dir.0.join("junk.ckpt"), b"not a checkpoint").unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--data", "/nonexistent-mnist"], "/nonexistent-mnist"),
        (&["--plot", "curve.png"], "curve.png"),
        (&["--plot", "no-dir/curve.svg"], "no-dir/curve.svg"),
        (&["--save", "no-dir/run.ckpt"], "no-dir/run.ckpt"),
        (&["--save", "."], "--save ."),
        (&["--resume", "junk.ckpt"], "junk.ckpt"),
        (&["--resume", "missing.ckpt"], "missing.ckpt"),
        (&["--fl", "31"], "FL"),
        (&["--batch", "0"], "batch"),
    ];
    for (extra, named) in cases {
        let mut args = vec![
            "train",
            "--device",
            "golden",
            "--train-samples",
            "50",
            "--quiet",
        ];
        args.extend(extra);
        let o = srsa(&args, &dir.0);
        assert_eq!(o.status.code(), Some(1), "srsa {args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.contains(named),
            "{args:?}: {err}"
        );
        // Refused before training, not after it.
        let out = stdout(&o);
        assert!(!out.contains("epoch 1:"), "{args:?}: {out}");
    }
    let o = srsa(&["train", "--net", "rnn"], &dir.0);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rnn"));
}

#[test]
fn serial_devices_are_parsed_and_a_missing_port_is_named() {
    let dir = TempDir::new("serial");
    let o = srsa(
        &["identify", "--device", "serial:/dev/srsa-no-such-tty@9600"],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/dev/srsa-no-such-tty"),
        "{}",
        stderr(&o)
    );
    let o = srsa(&["train", "--device", "serial:/dev/x@fast"], &dir.0);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("fast"), "{}", stderr(&o));
    let o = srsa(&["identify", "--device", "fpga"], &dir.0);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("serial:PATH"), "{}", stderr(&o));
}

/// Bad input to every command that once panicked or aborted: each gets a
/// message and exit code 1 or 2, never a backtrace (101) or an abort (134).
#[test]
fn bad_input_gets_a_message_not_a_panic() {
    let dir = TempDir::new("no-panic");
    let header = |arch: &str, tensors: &str| {
        format!(
            "srsa-checkpoint 1\narch {arch}\nelement i16\nrounding stochastic\n\
             formats 14 14 14\nlr 0.1\nbatch 100\nseed 1\nepoch 3\n{tensors}data\n"
        )
    };
    std::fs::write(
        dir.0.join("huge-net.ckpt"),
        header("mlp:784-99999999-10", "tensor 784 99999999\n"),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("wrapping.ckpt"),
        header(
            "mlp:784-32-10",
            "tensor 9223372036854775808 1\ntensor 9223372036854775808 1\n",
        ),
    )
    .unwrap();
    let out = dir.0.join("exp");
    let golden = [
        "train",
        "--device",
        "golden",
        "--quiet",
        "--train-samples",
        "50",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        golden
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (with(&["--n", "3"]), "3"),
        (with(&["--n", "0"]), "0"),
        (with(&["--n", "1000"]), "1000"),
        (
            vec![
                "experiment",
                "gupta",
                "--skip-cnn",
                "--n",
                "3",
                "--recheck",
                "0",
                "--out",
                out.to_str().unwrap(),
            ],
            "3",
        ),
        (vec!["experiment", "lin", "--budgets", "3,1.5"], "--budgets"),
        (with(&["--net", "mlp:784-99999999-10"]), "99999999"),
        (with(&["--resume", "huge-net.ckpt"]), "huge-net.ckpt"),
        (with(&["--resume", "wrapping.ckpt"]), "wrapping.ckpt"),
        (with(&["--resume", "/dev/zero"]), "/dev/zero"),
        (vec!["identify", "--device", "golden", "--n", "6"], "6"),
        (vec!["check", "--n", "3", "--trials", "1"], "3"),
        (with(&["--lr", "1e30"]), "1e30"),
        (with(&["--lr", "-1"]), "-1"),
        (with(&["--lr", "NaN"]), "NaN"),
        (with(&["--test-samples", "0"]), "'0'"),
        (
            vec!["identify", "--device", "serial:/dev/null@4294967295"],
            "4294967295",
        ),
        // And every other subcommand once.
        (vec!["verilog", "--n", "3", "--out", "v"], "3x3"),
        (vec!["bitstream", "--board", "nosuch"], "nosuch"),
        (vec!["fuzz", "--n", "3", "--streams", "1"], "3"),
        (vec!["bench", "--sizes", "3", "--sim-only"], "3x3"),
        (
            vec!["sqnr", "--checkpoint", "missing.ckpt", "--budget", "6"],
            "missing.ckpt",
        ),
        (
            vec!["compress", "--checkpoint", "missing.ckpt", "--out", "m.srz"],
            "missing.ckpt",
        ),
        (vec!["eval", "--model", "missing.srz"], "missing.srz"),
    ];
    for (args, named) in cases {
        let o = srsa(&args, &dir.0);
        let err = stderr(&o);
        assert!(
            matches!(o.status.code(), Some(1 | 2)),
            "srsa {args:?}: exit {:?}",
            o.status.code()
        );
        assert!(!err.contains("panicked"), "srsa {args:?} panicked: {err}");
        assert!(
            err.contains("error") && err.contains(named),
            "srsa {args:?}: the message does not name {named}: {err}"
        );
    }
}

/// The seeds that once made the case generator draw from an empty range.
#[test]
fn check_survives_the_widest_formats() {
    let dir = TempDir::new("check-wide");
    let o = srsa(
        &["check", "--n", "4", "--trials", "300", "--seed", "1"],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("bit-exact: 300/300"), "{}", stdout(&o));
}

#[test]
fn fuzz_runs_a_campaign_and_refuses_bad_counts() {
    let dir = TempDir::new("fuzz");
    let o = srsa(
        &["fuzz", "--n", "4", "--streams", "200", "--seed", "9"],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("seed 9") && out.contains("200 streams") && out.contains("0 divergences"),
        "{out}"
    );
    for bad in [["--streams", "0"], ["--n", "3"], ["--commands", "0"]] {
        let o = srsa(&["fuzz", bad[0], bad[1]], &dir.0);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{bad:?}");
    }
}

#[test]
fn train_takes_a_plan_and_refuses_bad_ones_by_name() {
    let dir = TempDir::new("plan");
    let fc = |name: &str, w: &str| {
        format!(
            "\n[layers.{name}]\nweights = {w}\nactivations = {{ wl = 16, fl = 12 }}\n\
             gradients = {{ wl = 16, fl = 12 }}\nupdate = {{ wl = 16, fl = 12 }}\n"
        )
    };
    let head = "version = 1\ninput = { wl = 16, fl = 14 }\n";
    let fc1 = fc("fc1", "{ wl = 8, fl = 7 }");
    let fc2 = fc("fc2", "{ wl = 16, fl = 14 }");
    let write = |name: &str, text: String| {
        let p = dir.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = write("good.toml", format!("{head}{fc1}{fc2}"));
    let ck = dir.0.join("run.ckpt");
    let run = |extra: &[&str]| {
        let mut args = SMALL_RUN.to_vec();
        args.extend(extra);
        srsa(&args, &dir.0)
    };
    let o = run(&["--plan", &good, "--save", ck.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("plan <WL, FL> input <16, 14>; fc1 W <8, 7>") && out.contains("epoch 1:"),
        "{out}"
    );
    let saved = String::from_utf8_lossy(&std::fs::read(&ck).unwrap()).into_owned();
    assert!(
        saved.contains("\nlayer fc1 8 7 16 12 16 12 16 12\n"),
        "{saved}"
    );

    let bad = [
        (
            format!("{head}{fc1}{fc2}{}", fc("fc3", "{ wl = 8, fl = 7 }")),
            "layer fc3",
        ),
        (format!("{head}{fc1}"), "layer fc2: missing"),
        (
            format!(
                "{head}{fc1}{}",
                fc2.replace("wl = 16, fl = 14", "wl = 17, fl = 14")
            ),
            "layer fc2, field weights: WL 17",
        ),
        (
            format!(
                "{head}{}{fc2}",
                fc1.replace(
                    "activations = { wl = 16, fl = 12 }",
                    "activations = { wl = 16, fl = 22 }"
                )
            ),
            "layer fc1, field activations",
        ),
    ];
    for (i, (text, named)) in bad.into_iter().enumerate() {
        let path = write(&format!("bad{i}.toml"), text);
        let o = run(&["--plan", &path]);
        assert_eq!(o.status.code(), Some(1), "{named}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.contains(named),
            "{named}: {err}"
        );
        assert!(!stdout(&o).contains("epoch 1:"), "{named}: trained first");
    }
    let o = run(&["--plan", &good, "--fl", "12"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("--plan") && err.contains("--fl"), "{err}");
}

/// The loop: train, analyse the checkpoint, train at the plan the
/// analysis wrote. The chosen widths must reach the target by prediction
/// and be narrower than 16 bits, and the plan must load and train.
#[test]
fn sqnr_writes_a_plan_that_trains() {
    let dir = TempDir::new("sqnr");
    let ck = small_checkpoint(&dir);
    let plan = dir.0.join("plan.toml");
    let csv = dir.0.join("sqnr.csv");
    let o = srsa(
        &[
            "sqnr",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--target-sqnr",
            "30",
            "--out",
            plan.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--activation-wl",
            "10",
            "--calibration",
            "200",
        ],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // Activations, and the output SQNR measured on the device.
    let measured: f64 = out
        .split("output SQNR at the logits: ")
        .nth(1)
        .and_then(|s| s.split("), measured ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no measured output SQNR in {out}"));
    assert!(measured > 10.0 && measured < 120.0, "{out}");
    let reached: f64 = out
        .split("weights: predicted ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no prediction in {out}"));
    assert!(reached >= 30.0, "{out}");
    let text = std::fs::read_to_string(&plan).unwrap();
    let widths: Vec<u32> = text
        .lines()
        .filter_map(|l| l.strip_prefix("weights = { wl = "))
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(widths.len(), 2, "{text}");
    assert_eq!(
        text.matches("activations = { wl = 10,").count(),
        2,
        "{text}"
    );
    assert!(widths.iter().all(|&w| (2..16).contains(&w)), "{text}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 3);
    let mut args = SMALL_RUN.to_vec();
    args.extend(["--plan", plan.to_str().unwrap()]);
    let o = srsa(&args, &dir.0);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("epoch 1:"));
    // Fine-tuning at the plan from the analysed checkpoint; a network
    // that is not the checkpoint's is refused by name.
    args.extend(["--init-from", ck.to_str().unwrap()]);
    let o = srsa(&args, &dir.0);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("starting from the parameters of"),
        "{}",
        stdout(&o)
    );
    let mut other: Vec<&str> = args.clone();
    let at = other.iter().position(|a| *a == "mlp:784-32-10").unwrap();
    other[at] = "mlp:784-16-10";
    other.retain(|a| *a != "--plan" && *a != plan.to_str().unwrap());
    let o = srsa(&other, &dir.0);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--net mlp:784-32-10"), "{}", stderr(&o));
    // Neither goal, or an unreachable one, is a clear error.
    for bad in [
        &[][..],
        &["--target-sqnr", "500"][..],
        &["--budget", "1"][..],
    ] {
        let mut a = vec!["sqnr", "--checkpoint", ck.to_str().unwrap()];
        a.extend(bad);
        let o = srsa(&a, &dir.0);
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        assert!(stderr(&o).starts_with("error: "), "{bad:?}: {}", stderr(&o));
    }
}

/// `srsa experiment lin` on a small MLP: both schemes at each budget, the
/// SQNR plans within their budgets, every run re-checked on the RTL, and
/// the reports written.
/// The Han experiment end to end on a short run: every stage in the
/// report, kept weights shrinking as the quality grows, the coded model
/// smaller than the pruned one, device steps re-run on the RTL, and the
/// final model predicting alike on sim and golden.
#[test]
fn experiment_han_prunes_shares_codes_and_reports() {
    let dir = TempDir::new("han");
    let out = dir.0.join("results");
    let o = srsa(
        &[
            "experiment",
            "han",
            "--skip-lenet5",
            "--mlp-epochs",
            "2",
            "--mlp-prune-epochs",
            "3",
            "--prune-rounds",
            "2",
            "--mlp-retrain-epochs",
            "1",
            "--mlp-quality",
            "fc1=0.8,fc2=0.8,fc3=0.5",
            "--mlp-sweep",
            "0.5",
            "--train-samples",
            "400",
            "--test-samples",
            "100",
            "--out",
            out.to_str().unwrap(),
        ],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("han.md")).unwrap();
    for part in [
        "| pruned (P) |",
        "| P+Q+H |",
        "| Forgy |",
        "| Density |",
        "predictions digest",
        "### Compressed loads",
        "re-run on the RTL, bit-identical",
    ] {
        assert!(md.contains(part), "no {part} in {md}");
    }
    let csv = std::fs::read_to_string(out.join("han.csv")).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .filter(|l| l.contains(",device,"))
        .map(|l| l.split(',').skip(2).map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    // Columns from the scale: scale, kept, rate P, P+Q, P+Q+H, ...
    let (half, full) = if rows[0][0] < rows[1][0] {
        (&rows[0], &rows[1])
    } else {
        (&rows[1], &rows[0])
    };
    assert!(full[1] < half[1], "a higher quality keeps fewer: {csv}");
    for r in &rows {
        assert!(
            r[2] > 1.0 && r[3] > r[2] && r[4] > r[3],
            "P < P+Q < P+Q+H rates: {csv}"
        );
        assert!(r[10] >= 2.0, "RTL re-checks: {csv}");
    }
    for svg in ["han-error-rate.svg", "han-weights-lenet300.svg"] {
        assert!(out.join(svg).exists(), "{svg}");
    }
    let o = srsa(
        &[
            "experiment",
            "han",
            "--mlp-prune-epochs",
            "2",
            "--prune-rounds",
            "2",
        ],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--mlp-prune-epochs"), "{}", stderr(&o));
}

#[test]
fn experiment_lin_compares_the_schemes_and_writes_reports() {
    let dir = TempDir::new("lin");
    let out = dir.0.join("results");
    let o = srsa(
        &[
            "experiment",
            "lin",
            "--skip-cnn",
            "--mlp",
            "mlp:784-32-16-10",
            "--mlp-epochs",
            "1",
            "--budgets",
            "2.5,3,4",
            "--train-samples",
            "400",
            "--test-samples",
            "200",
            "--calibration",
            "100",
            "--n",
            "4",
            "--out",
            out.to_str().unwrap(),
        ],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("lin.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // Equal plans at the whole budgets only; SQNR plans at every budget
    // (identical ones at a budget counted once).
    let equal: Vec<_> = rows.iter().filter(|r| r[1] == "equal").collect();
    assert_eq!(equal.len(), 2, "{csv}");
    assert!(rows.iter().any(|r| r[1] == "SQNR"), "{csv}");
    for r in &rows {
        let (budget, average): (f64, f64) = (r[2].parse().unwrap(), r[5].parse().unwrap());
        assert!(average <= budget + 1e-9, "{csv}");
        let widths: Vec<u8> = r[3].split('-').map(|w| w.parse().unwrap()).collect();
        assert_eq!(widths.len(), 3, "{csv}");
        if r[1] == "equal" {
            assert!(widths.iter().all(|&w| w as f64 == budget), "{csv}");
        }
        for e in [r[11], r[12]] {
            let e: f64 = e.parse().unwrap();
            assert!((0.0..=1.0).contains(&e), "{csv}");
        }
        assert!(r[13].contains("bit-identical"), "{csv}");
    }
    let md = std::fs::read_to_string(out.join("lin.md")).unwrap();
    assert!(
        md.contains("the fewest SQNR weight bits within 0.2 points"),
        "{md}"
    );
    assert!(out.join("lin-mlp.svg").exists());
}

/// `srsa eval` gives a checkpoint the same test error and the same
/// predictions on the RTL as on the golden model; a missing model is
/// named.
#[test]
fn eval_predicts_alike_on_sim_and_golden() {
    let dir = TempDir::new("eval");
    let ck = small_checkpoint(&dir);
    let eval = |device: &str| {
        let o = srsa(
            &[
                "eval",
                "--model",
                ck.to_str().unwrap(),
                "--device",
                device,
                "--test-samples",
                "100",
            ],
            &dir.0,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        let error = out
            .split("test error ")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or_else(|| panic!("no test error in {out}"))
            .to_string();
        let digest = out
            .split("predictions digest: ")
            .nth(1)
            .unwrap_or_else(|| panic!("no digest in {out}"))
            .trim()
            .to_string();
        assert!(error.contains("of 100"), "{out}");
        (error, digest)
    };
    assert_eq!(eval("golden"), eval("sim"));
    let o = srsa(&["eval", "--model", "missing.ckpt"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.ckpt"), "{}", stderr(&o));
}

/// `srsa compress` writes a compressed model that reads back word for
/// word and prints Han et al.'s per-layer table; `srsa eval` runs it alike
/// on the RTL and the golden model; a damaged or foreign file is refused
/// by name.
#[test]
fn compress_writes_a_model_that_evaluates_alike_and_damage_is_refused() {
    let dir = TempDir::new("compress");
    let dense = small_checkpoint(&dir);
    // Pruned in two rounds while training on, then shared and coded.
    let ck = dir.0.join("p.ckpt");
    let mut args = SMALL_RUN.to_vec();
    args.extend([
        "--init-from",
        dense.to_str().unwrap(),
        "--prune",
        "fc1=0.8,fc2=0.2",
        "--prune-rounds",
        "2",
        "--epochs",
        "2",
        "--save",
        ck.to_str().unwrap(),
    ]);
    let o = srsa(&args, &dir.0);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for round in [
        "prune round 1 of 2: fc1 keeps",
        "prune round 2 of 2: fc2 keeps",
    ] {
        assert!(out.contains(round), "{out}");
    }
    for (bad, named) in [
        (["--prune", "fc9=1"], "fc9"),
        (["--prune", "fc1=-1"], "at least 0"),
        (["--prune-rounds", "0"], "prune"),
    ] {
        let mut args = SMALL_RUN.to_vec();
        if bad[0] != "--prune" {
            args.extend(["--prune", "1"]);
        }
        args.extend(bad);
        let o = srsa(&args, &dir.0);
        assert_ne!(o.status.code(), Some(0), "{bad:?}");
        assert!(stderr(&o).contains(named), "{bad:?}: {}", stderr(&o));
    }
    let srz = dir.0.join("m.srz");
    let o = srsa(
        &[
            "compress",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--out",
            srz.to_str().unwrap(),
            "--quality",
            "0",
            "--weight-bits",
            "4",
            "--init",
            "density",
            "--retrain-epochs",
            "1",
            "--train-samples",
            "200",
            "--test-samples",
            "100",
        ],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("every weight word identical"), "{out}");
    // The file holds the fine-tuned centroids: it evaluates as they did.
    let tuned = out
        .lines()
        .find_map(|l| l.strip_prefix("fine-tuning epoch 1: "))
        .and_then(|l| l.split_once("test error "))
        .map(|(_, e)| e.to_string())
        .unwrap_or_else(|| panic!("no fine-tuning epoch in {out}"));
    let fc1 = out
        .lines()
        .find(|l| l.starts_with("fc1 |"))
        .unwrap_or_else(|| panic!("no fc1 row in {out}"));
    let cells: Vec<&str> = fc1.split(" | ").collect();
    let kept: f64 = cells[2].trim_end_matches('%').parse().unwrap();
    assert!(kept > 20.0 && kept < 80.0, "{fc1}");
    assert_eq!(cells[3], "4", "{fc1}");
    let eval = |device: &str| {
        let o = srsa(
            &[
                "eval",
                "--model",
                srz.to_str().unwrap(),
                "--device",
                device,
                "--test-samples",
                "100",
            ],
            &dir.0,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        out.split_once(": test error ")
            .map(|(_, r)| r.to_string())
            .unwrap_or_else(|| panic!("no test error in {out}"))
    };
    assert_eq!(eval("golden"), eval("sim"));
    assert!(
        eval("golden").starts_with(&tuned),
        "{tuned} vs {}",
        eval("golden")
    );
    // Its layers loaded onto the RTL with EXPAND: read back equal to the
    // dense loads (the command fails otherwise), in fewer link words.
    let o = srsa(
        &["bench", "--compressed", srz.to_str().unwrap(), "--n", "4"],
        &dir.0,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let all = out
        .lines()
        .find(|l| l.starts_with("| all |"))
        .unwrap_or_else(|| panic!("no total row in {out}"));
    let cells: Vec<&str> = all.split('|').map(str::trim).collect();
    let (dense, coded): (u64, u64) = (cells[4].parse().unwrap(), cells[6].parse().unwrap());
    assert!(coded < dense, "{out}");
    // Damage: a flipped byte, a truncation; a layer the network lacks.
    let mut bytes = std::fs::read(&srz).unwrap();
    bytes[40] ^= 1;
    let bad = dir.0.join("bad.srz");
    std::fs::write(&bad, &bytes).unwrap();
    let o = srsa(&["eval", "--model", bad.to_str().unwrap()], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad.srz") && stderr(&o).contains("checksum"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let o = srsa(&["eval", "--model", bad.to_str().unwrap()], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.srz"), "{}", stderr(&o));
    let o = srsa(
        &[
            "compress",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--out",
            bad.to_str().unwrap(),
            "--quality",
            "fc9=1",
        ],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no layer fc9"), "{}", stderr(&o));
}

/// A reader that goes away early (`srsa ... | head`) ends the program
/// quietly, as it does any Unix tool, instead of a panic on the next print.
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_program_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("closed_stdout");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_srsa"))
        .args(["identify", "--device", "golden", "--n", "4"])
        .current_dir(&dir.0)
        .stdout(writer)
        .output()
        .unwrap();
    let err = stderr(&o);
    println!("status {:?}, stderr: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
        "{:?}",
        o.status
    );
}
