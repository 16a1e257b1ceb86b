//! The known-answer vectors of docs/PROTOCOL.md (tests/vectors/, written by
//! host/examples/known_answers.rs): each command stream, sent to a fresh
//! simulated RTL and a fresh golden model, must produce exactly the
//! recorded response words.

mod common;

use srsa_host::golden::GoldenDevice;
use srsa_sim::SimDevice;
use srsa_spec::protocol::Link;

struct Vector {
    name: String,
    send: Vec<u32>,
    expect: Vec<u32>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/known_answers.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out: Vec<Vector> = vec![];
    for (n, line) in text.lines().enumerate() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let words = || -> Vec<u32> {
            rest.split_whitespace()
                .map(|w| {
                    u32::from_str_radix(w, 16)
                        .unwrap_or_else(|_| panic!("{path}:{}: bad word {w}", n + 1))
                })
                .collect()
        };
        match tag {
            "vector" => out.push(Vector {
                name: rest.into(),
                send: vec![],
                expect: vec![],
            }),
            "send" => out
                .last_mut()
                .expect("send before vector")
                .send
                .extend(words()),
            "expect" => out
                .last_mut()
                .expect("expect before vector")
                .expect
                .extend(words()),
            t if t.starts_with('#') || t.is_empty() => {}
            _ => panic!("{path}:{}: unknown line {line:?}", n + 1),
        }
    }
    out
}

/// Sends a vector and returns the first response word that differs.
fn replay(dev: &mut impl Link, v: &Vector) -> Result<(), String> {
    dev.send(&v.send).map_err(|e| e.to_string())?;
    let got = dev
        .recv(v.expect.len(), 10_000_000)
        .map_err(|e| format!("{}: {e}", dev.name()))?;
    match got.iter().zip(&v.expect).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{}: response word {i} is {:#010x}, the vector says {:#010x}",
            dev.name(),
            got[i],
            v.expect[i]
        )),
    }
}

#[test]
fn known_answers_hold_on_both_devices() {
    let vs = vectors();
    assert!(vs.len() >= 4, "one vector per rounding mode at least");
    for v in &vs {
        assert!(!v.expect.is_empty(), "{}: no responses recorded", v.name);
        let mut sim = SimDevice::new(4).expect("4x4 RTL");
        let mut golden = GoldenDevice::new(4, common::buffer_elems(4, 4));
        for r in [replay(&mut sim, v), replay(&mut golden, v)] {
            r.unwrap_or_else(|e| panic!("vector {:?}: {e}", v.name));
        }
    }
}
