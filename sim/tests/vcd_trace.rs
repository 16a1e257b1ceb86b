//! VCD tracing over a cycle window. Relies only on the top's ports and the
//! protocol (every command gets at least one response word), so it holds
//! for the placeholder and the real device alike.

use srsa_sim::SimDevice;
use srsa_spec::protocol::{header, op, Link};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use vcd::{Command, IdCode, Value};

fn temp_vcd(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("srsa-sim-{}-{name}", std::process::id()))
}

/// Per scalar signal of the top scope: (name -> code), and every change as
/// (time, value) per code, from the whole file.
struct Waves {
    codes: HashMap<String, IdCode>,
    changes: HashMap<IdCode, Vec<(u64, Value)>>,
    first_time: Option<u64>,
    last_time: Option<u64>,
}

fn read_vcd(path: &Path) -> Waves {
    let mut p = vcd::Parser::new(BufReader::new(File::open(path).unwrap()));
    let h = p.parse_header().unwrap();
    // Verilator puts the ports in a scope "TOP" above the module instance.
    let top = h.find_scope(&["TOP"]).expect("scope TOP");
    let codes = top
        .items
        .iter()
        .filter_map(|i| match i {
            vcd::ScopeItem::Var(v) => Some((v.reference.clone(), v.code)),
            _ => None,
        })
        .collect();
    let mut w = Waves {
        codes,
        changes: HashMap::new(),
        first_time: None,
        last_time: None,
    };
    let mut now = 0;
    for c in p {
        match c.unwrap() {
            Command::Timestamp(t) => {
                now = t;
                w.first_time.get_or_insert(t);
                w.last_time = Some(t);
            }
            Command::ChangeScalar(id, v) => w.changes.entry(id).or_default().push((now, v)),
            _ => {}
        }
    }
    w
}

impl Waves {
    fn of(&self, name: &str) -> &[(u64, Value)] {
        let code = self.codes.get(name).unwrap_or_else(|| panic!("no {name}"));
        self.changes.get(code).map(|v| &v[..]).unwrap_or(&[])
    }
}

#[test]
fn window_records_exactly_its_cycles() {
    let path = temp_vcd("window.vcd");
    let mut d = SimDevice::new(4).unwrap();
    d.idle(7);
    let (start, end) = (12u64, 112u64);
    d.trace(&path, start, end).unwrap();
    d.idle(start + 3 - d.cycles());
    // Any command is answered by at least a status word.
    d.send(&[header(op::IDENTIFY, 0)]).unwrap();
    d.recv(1, 10_000).unwrap();
    assert!(d.cycles() < end, "the traffic must fall inside the window");
    d.idle(end + 20 - d.cycles());
    d.close_trace();

    let w = read_vcd(&path);
    // Cycle c is dumped at 10c (clock low, inputs set) and 10c + 5 (edge).
    assert_eq!(w.first_time, Some(10 * start));
    assert_eq!(w.last_time, Some(10 * (end - 1) + 5));
    let clock = w.of("clock");
    let window = (end - start) as usize;
    // The initial value plus a change at every half period.
    assert_eq!(clock.len(), 2 * window, "clock changes");
    let rising = clock.iter().filter(|(_, v)| *v == Value::V1).count();
    assert_eq!(rising, window, "rising edges");
    assert_eq!(clock[0], (10 * start, Value::V0));
    // cmd_valid went up for the command and came back down.
    let valid = w.of("cmd_valid");
    assert_eq!(valid.first(), Some(&(10 * start, Value::V0)));
    assert!(valid.iter().any(|(_, v)| *v == Value::V1), "{valid:?}");
    assert_eq!(valid.last().map(|c| c.1), Some(Value::V0));
    // The device answered inside the window.
    assert!(w.of("rsp_valid").iter().any(|(_, v)| *v == Value::V1));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn trace_closes_itself_and_can_reopen() {
    let mut d = SimDevice::new(8).unwrap();
    let first = temp_vcd("first.vcd");
    d.trace(&first, 0, 10).unwrap();
    d.idle(30);
    // Complete without close_trace: the window ended.
    let w = read_vcd(&first);
    assert_eq!(w.of("clock").len(), 20);
    // A second window on the same model, starting in the past: records
    // from now on.
    let second = temp_vcd("second.vcd");
    d.trace(&second, 5, 40).unwrap();
    d.idle(20);
    drop(d); // closes the file
    let w = read_vcd(&second);
    assert_eq!(w.first_time, Some(300));
    assert_eq!(w.of("clock").len(), 20);
    let _ = std::fs::remove_file(&first);
    let _ = std::fs::remove_file(&second);
}
