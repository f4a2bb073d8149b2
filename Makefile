# R1 — the two set-up commands are `make demo` and `make test`; both install what is missing.
SHELL := /usr/bin/env bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target
R1 := $(CARGO_TARGET_DIR)/debug/r1
export R1_GUEST_WASM_DIR ?= $(CURDIR)/target/wasm

.PHONY: all setup build guests test demo bench bench-cstore cluster lint fmt clean

all: build guests

## setup: host Rust toolchain check + wasm32-wasip2 guest toolchain (rustup target or Debian rustc-web)
setup:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (stable >= 1.95)"; exit 1; }
	@bash scripts/setup-guest-toolchain.sh >/dev/null
	@bash scripts/setup-tools.sh

## build: the host workspace and the `r1` binary
build:
	$(CARGO) build --workspace --all-targets

## guests: every example, test and system actor as a component under target/wasm
guests: setup build
	R1_BIN=$(R1) bash scripts/build-guests.sh

## test: the whole suite (unit, runtime with real guests, end-to-end nodes)
test: guests
	bash scripts/test.sh

## demo: start a local node and run the pipeline example through it
demo: guests
	R1_BIN=$(R1) bash scripts/demo.sh

## bench: runtime benchmarks (release); figures go to BENCHMARKS.md
bench: guests
	$(CARGO) bench -p r1-runtime --bench runtime

## bench-cstore: CSTORE over RESP vs redis-server, and replication latency across 3 nodes
bench-cstore: setup
	$(CARGO) build --release -p r1-node
	bash scripts/bench-cstore.sh $(CARGO_TARGET_DIR)/release/r1

## cluster: three local nodes joined into one mesh (Ctrl-C stops them)
cluster: build
	bash scripts/cluster.sh $(R1)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
