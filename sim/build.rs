//! Verilates the simulated lines of srsa-hw's shape table (`shapes::SHAPES`:
//! the word-stream tops and the UART board top) and the bare arrays that
//! `srsa bench` measures the device against (`array_top::BARE_ARRAYS`),
//! and links the models, Verilator's runtime and csrc/shim.cpp into this
//! crate. Those two lists are the only lists of models: this script also
//! writes what names them in C++ and Rust into OUT_DIR (see
//! `write_bindings`).
//!
//! Verilator 5.006's own `--build` only makes `V<name>__ALL.a` without the
//! runtime, and the `verilator` crates target other versions, so this script
//! drives `verilator --cc` and the `cc` crate itself.
//!
//! Any change to srsa-hw reruns this script, yet many such changes (tests,
//! comments) leave the Verilog as it was: each model's objects, and the
//! runtime's, are kept in OUT_DIR with the exact inputs that made them and
//! reused while those match. Only the shim is always recompiled.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::{env, fs};

use srsa_hw::shapes::{Use, SHAPES};
use srsa_hw::{Shape, BARE_ARRAYS};

/// Clock cycles per bit on the simulated UART top's serial line: fast to
/// simulate; a board uses its clock over the baud rate (e.g. 12 MHz /
/// 1 Mbaud = 12). Written into OUT_DIR/models.rs for the Rust side.
const UART_CLOCKS_PER_BIT: u16 = 4;

/// Every variant is verilated with `--trace`. With no trace file open the
/// compiled-in tracing only sets activity flags: measured, its cost was
/// within run-to-run noise (< 5%), both on the placeholder top (~24 M
/// cycles/s) and on a synthetic 8x8 multiply-accumulate array (~2.5 M
/// cycles/s), far under the 10% budget. So one model per size serves traced
/// and untraced runs alike, instead of doubling the build for a separate
/// traced set.
const TRACE: bool = true;

const VERILATOR_ARGS: &[&str] = &[
    "--cc",
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "--noassert",
    "--top-module",
    "top",
    // Warnings are the hardware crate's business (lint it there); they
    // must not stop the simulator build. They are logged in OUT_DIR.
    "-Wno-fatal",
];

const NOT_FOUND: &str = "verilator not found: run `make deps` (apt-get install -y verilator)";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/shim.cpp");
    println!("cargo:rerun-if-env-changed=VERILATOR");
    // srsa-hw needs no rerun-if line: a changed build-dependency rebuilds and
    // so reruns this script.

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let verilator = env::var("VERILATOR").unwrap_or_else(|_| "verilator".into());
    let (version, include) = verilator_install(&verilator);
    let build = cxx_build(&include);
    // Everything that shapes an object besides its sources' text: the
    // tools' versions and this script (its flags).
    let config = format!(
        "{version}\n{}\n{}",
        compiler_version(&build),
        include_str!("build.rs")
    );

    let models = models();
    write_bindings(&out, &models);
    let mut units = vec![runtime_unit(&out, &include, &config)];
    units.extend(verilate_all(&verilator, &out, &config, models));

    // The shim includes every model's headers, so it is always rebuilt.
    let shim = PathBuf::from("csrc/shim.cpp");
    let mut stale: Vec<(Option<usize>, &Path)> = vec![(None, &shim)];
    for (i, u) in units.iter().enumerate() {
        if u.objects.is_none() {
            stale.extend(u.sources.iter().map(|f| (Some(i), f.as_path())));
        }
    }
    let mut build = build;
    build.include(&out);
    for dir in units.iter().filter_map(|u| u.mdir.as_ref()) {
        build.include(dir);
    }
    let compiled = compile_split(&build, &stale);

    let mut objects = vec![Vec::new(); units.len()];
    let mut shim_obj = None;
    for ((unit, _), obj) in stale.iter().zip(compiled) {
        match unit {
            Some(i) => objects[*i].push(obj),
            None => shim_obj = Some(obj),
        }
    }
    let mut all = Vec::from_iter(shim_obj);
    for (u, fresh) in units.iter_mut().zip(objects) {
        match u.objects.take() {
            Some(cached) => all.extend(cached),
            None => {
                u.store(&fresh);
                all.extend(fresh);
            }
        }
    }
    // One archive: GNU ld resolves symbols among its members in any order.
    build.objects(&all).compile("srsa_vtop");
}

/// Compiles `files` (in order: returns one object per file). Verilator's
/// `__Slow` files (construction, trace declarations: run once) get -O0 as
/// in Verilator's own makefile; at -O2 they took most of a 16x16 build. The
/// two sets compile concurrently, sharing cargo's job slots through cc's
/// process-wide jobserver client.
fn compile_split(build: &cc::Build, files: &[(Option<usize>, &Path)]) -> Vec<PathBuf> {
    let is_slow = |f: &Path| f.to_string_lossy().ends_with("__Slow.cpp");
    let (mut fast, mut slow) = (build.clone(), build.clone());
    slow.opt_level(0);
    let (mut n_fast, mut n_slow) = (0, 0);
    for (_, f) in files {
        if is_slow(f) {
            slow.file(f);
            n_slow += 1;
        } else {
            fast.file(f);
            n_fast += 1;
        }
    }
    let compile = |b: &cc::Build, n: usize| match n {
        0 => Vec::new(),
        _ => b.compile_intermediates(),
    };
    let (fast_objs, slow_objs) = std::thread::scope(|s| {
        let slow_job = s.spawn(|| compile(&slow, n_slow));
        let fast_objs = compile(&fast, n_fast);
        (fast_objs, slow_job.join().expect("slow compile thread"))
    });
    assert_eq!((fast_objs.len(), slow_objs.len()), (n_fast, n_slow));
    let (mut fast_objs, mut slow_objs) = (fast_objs.into_iter(), slow_objs.into_iter());
    files
        .iter()
        .map(|(_, f)| {
            let next = if is_slow(f) {
                slow_objs.next()
            } else {
                fast_objs.next()
            };
            next.expect("one object per file")
        })
        .collect()
}

/// The C++ flags shared by the models, the runtime and the shim.
fn cxx_build(include: &Path) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true)
        .std("c++17")
        // Even in debug builds: an -O0 model is several times slower, and
        // Verilator's own -Os about 2x slower than -O2.
        .opt_level(2)
        .debug(false)
        .warnings(false)
        .extra_warnings(false)
        .cargo_warnings(false)
        .flag("-faligned-new")
        .include(include)
        .include(include.join("vltstd"))
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .define("VM_TRACE", if TRACE { "1" } else { "0" })
        .define("VM_TRACE_VCD", if TRACE { "1" } else { "0" })
        .define("VM_TRACE_FST", "0")
        .define("SRSA_TRACE", if TRACE { "1" } else { "0" })
        .define("SRSA_UART_CPB", UART_CLOCKS_PER_BIT.to_string().as_str());
    b
}

fn compiler_version(build: &cc::Build) -> String {
    let cxx = build.get_compiler();
    let out = Command::new(cxx.path()).arg("--version").output();
    let v = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    format!("{}: {}", cxx.path().display(), v.unwrap_or_default())
}

/// A set of sources compiled together and cached as a whole.
struct Unit {
    /// Names the cache: OUT_DIR/<name>.key and OUT_DIR/<name>.obj/.
    cache: PathBuf,
    /// What must match for the cached objects to be reused.
    key: String,
    sources: Vec<PathBuf>,
    /// Verilator's output directory (headers), for models.
    mdir: Option<PathBuf>,
    /// The cached objects, when still valid.
    objects: Option<Vec<PathBuf>>,
}

impl Unit {
    fn new(cache: PathBuf, key: String) -> Unit {
        let objects = Unit::cached(&cache, &key);
        Unit {
            cache,
            key,
            sources: Vec::new(),
            mdir: None,
            objects,
        }
    }

    fn key_file(cache: &Path) -> PathBuf {
        cache.with_extension("key")
    }

    fn obj_dir(cache: &Path) -> PathBuf {
        cache.with_extension("obj")
    }

    fn cached(cache: &Path, key: &str) -> Option<Vec<PathBuf>> {
        if fs::read_to_string(Unit::key_file(cache)).ok()? != key {
            return None;
        }
        let mut objs: Vec<PathBuf> = fs::read_dir(Unit::obj_dir(cache))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        objs.sort();
        (!objs.is_empty()).then_some(objs)
    }

    /// Moves freshly compiled objects into the cache, the key last so that
    /// an interrupted build never leaves a valid-looking cache.
    fn store(&self, objects: &[PathBuf]) {
        let dir = Unit::obj_dir(&self.cache);
        let _ = fs::remove_file(Unit::key_file(&self.cache));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create object cache");
        for (i, o) in objects.iter().enumerate() {
            let name = o.file_name().expect("object file name").to_string_lossy();
            fs::copy(o, dir.join(format!("{i:03}-{name}"))).expect("cache object");
        }
        fs::write(Unit::key_file(&self.cache), &self.key).expect("write cache key");
    }
}

/// Runs `cmd`, failing the build with NOT_FOUND when the program is missing.
fn spawn(cmd: &mut Command) -> Child {
    match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("{NOT_FOUND}"),
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

fn output_of(verilator: &str, args: &[&str]) -> String {
    let out = spawn(
        Command::new(verilator)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .wait_with_output()
    .unwrap_or_else(|e| panic!("verilator {args:?}: {e}"));
    if !out.status.success() {
        panic!("verilator {args:?} failed: {NOT_FOUND}");
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The version and runtime sources of the installation that will verilate.
fn verilator_install(verilator: &str) -> (String, PathBuf) {
    let version = output_of(verilator, &["--version"]);
    let root = output_of(verilator, &["--getenv", "VERILATOR_ROOT"]);
    let include = Path::new(&root).join("include");
    if !include.join("verilated.cpp").exists() {
        panic!("Verilator's runtime is missing from {root:?}: {NOT_FOUND}");
    }
    (version, include)
}

fn runtime_unit(out: &Path, include: &Path, config: &str) -> Unit {
    let mut u = Unit::new(out.join("runtime"), config.to_string());
    u.sources = [
        "verilated.cpp",
        "verilated_threads.cpp",
        "verilated_vcd_c.cpp",
    ]
    .iter()
    .map(|f| include.join(f))
    .collect();
    u
}

/// What a verilated model is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A word-stream top (`SimDevice::with_shape`).
    Stream,
    /// The UART board top (`SimDevice::uart`).
    Uart,
    /// A bare array behind its test feed (`BareArray`); its shape's
    /// bank_bits mean nothing.
    Bare,
}

/// One verilated model.
struct Model {
    /// `top<r>x<c>` for a word-stream top, `uart<r>x<c>` for the UART top,
    /// `array<r>x<c>` for a bare array: Verilator's prefix is `V<name>`,
    /// the shim's functions `v<name>_*`.
    name: String,
    shape: Shape,
    kind: Kind,
    verilog: String,
}

/// The simulated lines of the shape table and the bare arrays, with their
/// Verilog. Every model gets the same Verilator and C++ flags, so that the
/// bench compares like with like.
fn models() -> Vec<Model> {
    let mut models = Vec::new();
    for e in SHAPES {
        let shape = e.shape;
        let (prefix, kind, verilog) = match e.used {
            Use::Sim => ("top", Kind::Stream, srsa_hw::top_verilog(shape)),
            Use::SimUart => (
                "uart",
                Kind::Uart,
                srsa_hw::uart_top_verilog(shape, UART_CLOCKS_PER_BIT),
            ),
            Use::Board => continue,
        };
        let verilog = verilog.unwrap_or_else(|e| panic!("srsa-hw cannot generate {shape}: {e}"));
        models.push(Model {
            name: format!("{prefix}{shape}"),
            shape,
            kind,
            verilog,
        });
    }
    for &(rows, cols) in BARE_ARRAYS {
        let shape = Shape::new(rows, cols, 0);
        let verilog = srsa_hw::array_top_verilog(rows, cols)
            .unwrap_or_else(|e| panic!("srsa-hw cannot generate the bare {shape}: {e}"));
        models.push(Model {
            name: format!("array{shape}"),
            shape,
            kind: Kind::Bare,
            verilog,
        });
    }
    let uarts = models.iter().filter(|m| m.kind == Kind::Uart).count();
    assert_eq!(uarts, 1, "SimDevice::uart needs exactly one SimUart line");
    models
}

/// Writes what names the models, so that nothing else lists them:
/// - `models.inc`, included by csrc/shim.cpp: each model's header and its
///   `SRSA_VARIANT` line (the UART top wrapped in `UartDev`), or for a bare
///   array its outputs' fold and `SRSA_BARE` line;
/// - `ffi_models.rs`, included by src/ffi.rs: each model's `variant!` or
///   `bare!` and the lookups `word_stream(rows, cols)`, `UART_TOP` and
///   `bare_array(rows, cols)`;
/// - `models.rs`, included by src/sizes.rs: the public lists.
fn write_bindings(out: &Path, models: &[Model]) {
    const GENERATED: &str =
        "Written by sim/build.rs from srsa-hw's shape table and bare arrays: do not edit.";
    let mut inc = format!("// {GENERATED}\n");
    let mut ffi = format!("// {GENERATED}\n");
    let (mut lookup, mut bare_lookup, mut bare) = (String::new(), String::new(), Vec::new());
    let (mut shapes, mut sizes, mut uart) = (Vec::new(), Vec::new(), String::new());
    for m in models {
        let (name, s) = (&m.name, m.shape);
        let table = format!("V{}", name.to_uppercase());
        if m.kind == Kind::Bare {
            // Verilator spells the port `col_sum$c` as `col_sum__024<c>`.
            let folds: String = (0..s.cols)
                .map(|c| format!(" h = srsa_fold(h, m.col_sum__024{c});"))
                .collect();
            inc += &format!(
                "#include \"V{name}.h\"\n\
                 struct V{name}Outs {{\n    \
                 static uint64_t fold(const V{name}& m, uint64_t h) {{{folds} return h; }}\n\
                 }};\n\
                 using V{name}Dev = BareDev<V{name}, V{name}Outs>;\n\
                 SRSA_BARE(v{name}, V{name}Dev)\n"
            );
            let fns: Vec<String> = BARE_FNS.iter().map(|f| format!("v{name}_{f}")).collect();
            ffi += &format!("bare!({table}, {});\n", fns.join(", "));
            bare_lookup += &format!("        ({}, {}) => Some(&{table}),\n", s.rows, s.cols);
            bare.push(format!("({}, {})", s.rows, s.cols));
            continue;
        }
        let uart_top = m.kind == Kind::Uart;
        let class = if uart_top { "UartDev" } else { "Dev" };
        inc += &format!("#include \"V{name}.h\"\nSRSA_VARIANT(v{name}, {class}<V{name}>)\n");
        let fns: Vec<String> = FFI_FNS.iter().map(|f| format!("v{name}_{f}")).collect();
        ffi += &format!("variant!({table}, {});\n", fns.join(", "));
        let lit = format!(
            "SimShape {{ rows: {}, cols: {}, bank_bits: {}, buffer_elems: {}, features: {} }}",
            s.rows,
            s.cols,
            s.bank_bits,
            s.buffer_elems(),
            s.features
        );
        if uart_top {
            ffi += &format!("static UART_TOP: &Variant = &{table};\n");
            uart = lit;
        } else {
            lookup += &format!("        ({}, {}) => Some(&{table}),\n", s.rows, s.cols);
            shapes.push(lit);
            if s.rows == s.cols {
                sizes.push(s.rows.to_string());
            }
        }
    }
    ffi += &format!(
        "fn word_stream(rows: usize, cols: usize) -> Option<&'static Variant> {{\n    \
         match (rows, cols) {{\n{lookup}        _ => None,\n    }}\n}}\n\
         fn bare_array(rows: usize, cols: usize) -> Option<&'static BareVariant> {{\n    \
         match (rows, cols) {{\n{bare_lookup}        _ => None,\n    }}\n}}\n"
    );
    let lists = format!(
        "// {GENERATED}\n\
         /// Every verilated word-stream model (`SimDevice::with_shape`), in the table's order.\n\
         pub const SHAPES: [SimShape; {}] = [{}];\n\
         /// The sides of the square ones (`SimDevice::new`).\n\
         pub const SIZES: [usize; {}] = [{}];\n\
         /// The verilated UART board top (`SimDevice::uart`).\n\
         pub const UART: SimShape = {uart};\n\
         /// Clock cycles per bit on its serial line: fast to simulate; a board\n\
         /// uses its clock over the baud rate (e.g. 12 MHz / 1 Mbaud = 12).\n\
         pub const UART_CLOCKS_PER_BIT: u16 = {UART_CLOCKS_PER_BIT};\n\
         /// Every verilated bare array (`BareArray::new`), as (rows, cols).\n\
         pub const BARE_ARRAYS: [(usize, usize); {}] = [{}];\n",
        shapes.len(),
        shapes.join(", "),
        sizes.len(),
        sizes.join(", "),
        bare.len(),
        bare.join(", "),
    );
    for (file, text) in [
        ("models.inc", inc),
        ("ffi_models.rs", ffi),
        ("models.rs", lists),
    ] {
        fs::write(out.join(file), text).expect("write generated bindings to OUT_DIR");
    }
}

/// The C functions of one model, after its `v<name>_` prefix, in the order
/// `variant!` in src/ffi.rs takes them.
const FFI_FNS: [&str; 8] = [
    "new",
    "free",
    "run",
    "idle",
    "trace_open",
    "trace_close",
    "cycles",
    "finished",
];

/// The C functions of one bare array, after its `v<name>_` prefix, in the
/// order `bare!` in src/ffi.rs takes them.
const BARE_FNS: [&str; 5] = ["new", "free", "tick", "cycles", "checksum"];

/// Generates every model's Verilog and verilates those whose cache is
/// stale; the verilator runs concurrently (each is single-threaded).
fn verilate_all(verilator: &str, out: &Path, config: &str, models: Vec<Model>) -> Vec<Unit> {
    let mut jobs = Vec::new();
    for Model { name, verilog, .. } in models {
        let vfile = out.join(format!("{name}.v"));
        fs::write(&vfile, &verilog).expect("write Verilog to OUT_DIR");
        let mdir = out.join(format!("v{name}"));
        let mut unit = Unit::new(
            out.join(format!("model-{name}")),
            format!("{config}\n{verilog}"),
        );
        unit.mdir = Some(mdir.clone());
        if unit.objects.is_some() && mdir.join(format!("V{name}.h")).exists() {
            jobs.push((name, unit, None));
            continue;
        }
        // Stale files from an earlier configuration must not be compiled in.
        let _ = fs::remove_dir_all(&mdir);
        let mut cmd = Command::new(verilator);
        cmd.args(VERILATOR_ARGS)
            .args(["--prefix", &format!("V{name}")])
            .arg("--Mdir")
            .arg(&mdir);
        if TRACE {
            cmd.arg("--trace");
        }
        cmd.arg(&vfile)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        jobs.push((name, unit, Some(spawn(&mut cmd))));
    }
    let mut units = Vec::new();
    for (name, mut unit, child) in jobs {
        if let Some(child) = child {
            let res = child.wait_with_output().expect("wait for verilator");
            let log = out.join(format!("verilator-{name}.log"));
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&res.stdout),
                String::from_utf8_lossy(&res.stderr)
            );
            fs::write(&log, &text).expect("write verilator log");
            if !res.status.success() {
                panic!("verilator failed on {name} ({}):\n{text}", res.status);
            }
            let warnings = text.matches("%Warning").count();
            if warnings > 0 {
                println!(
                    "cargo:warning=verilator: {warnings} warning(s) on {name}, see {}",
                    log.display()
                );
            }
            unit.sources = generated_sources(unit.mdir.as_ref().expect("model unit"));
        }
        units.push(unit);
    }
    units
}

/// The C++ files Verilator wrote for one model, in a stable order.
fn generated_sources(mdir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(mdir)
        .expect("read verilator output directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
        .collect();
    files.sort();
    files
}
