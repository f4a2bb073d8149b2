#!/usr/bin/env bash
# Make a toolchain that builds wasm32-wasip2 components available, installing what is missing.
#
# Route 1: rustup already has (or can add) the wasm32-wasip2 target -> plain `cargo build`.
# Route 2: Debian's rustc-web with its std source (DESIGN §12) -> `-Zbuild-std` with wasi-libc.
#
# Prints the chosen route on its last line: `route=rustup` or `route=debian`.
# `r1 build` performs the same detection (see host/node/src/build.rs); keep the two in step.
set -euo pipefail

log() { printf '[setup-guest] %s\n' "$*" >&2; }

if command -v rustup >/dev/null 2>&1; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    log "rustup has wasm32-wasip2"
    echo route=rustup; exit 0
  fi
  if rustup target add wasm32-wasip2 >/dev/null 2>&1; then
    log "added wasm32-wasip2 through rustup"
    echo route=rustup; exit 0
  fi
  log "rustup cannot add wasm32-wasip2 here; using Debian's rustc-web"
fi

debian_ready() {
  [ -x /usr/bin/rustc ] && /usr/bin/rustc --print target-list 2>/dev/null | grep -qx wasm32-wasip2 \
    && [ -d /usr/lib/wasm32-wasi ] && [ -d /usr/lib/rustlib/src/rust/library ] \
    && command -v wasm-component-ld >/dev/null 2>&1 || [ -x /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld ] \
    || ls /usr/lib/rust-web*/lib/rustlib/*/bin/wasm-component-ld >/dev/null 2>&1
}

if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/wasm32-wasi ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  log "installing rustc-web, cargo-web, rust-web-src, lld-22, wasi-libc from Debian"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 wasi-libc >&2
fi
debian_ready || true
echo route=debian
