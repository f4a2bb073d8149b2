#!/usr/bin/env bash
# Makes a toolchain that builds wasm32-wasip2 components available, installing what is missing.
#
# Route 1: rustup has (or can add) the wasm32-wasip2 target -> plain `cargo build --target`.
# Route 2: Debian's rustc-web with its std source and wasi-libc (DESIGN §12) -> `-Zbuild-std`.
#
# Prints the chosen route on its last line: `route=rustup` or `route=debian`.
# `r1 build` makes the same choice (cli/src/build.rs); R1_GUEST_TOOLCHAIN=rustup|debian
# forces one in both.
set -euo pipefail

log() { printf '[setup-guest] %s\n' "$*" >&2; }

debian_ready() {
  [ -x /usr/bin/rustc ] && [ -d /usr/lib/wasm32-wasi ] && [ -d /usr/lib/rustlib/src/rust/library ]
}

install_debian() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  log "installing rustc-web, cargo-web, rust-web-src, lld-22, wasi-libc from Debian"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 wasi-libc >&2
}

forced="${R1_GUEST_TOOLCHAIN:-}"

if [ "$forced" != debian ] && command -v rustup >/dev/null 2>&1; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    log "rustup has wasm32-wasip2"
    echo route=rustup; exit 0
  fi
  if rustup target add wasm32-wasip2 >&2; then
    log "added wasm32-wasip2 through rustup"
    echo route=rustup; exit 0
  fi
  log "rustup cannot add wasm32-wasip2 here; using Debian's rustc-web"
fi

debian_ready || install_debian
debian_ready || { log "Debian's rustc-web route is incomplete after install"; exit 1; }
log "using Debian's rustc-web ($(/usr/bin/rustc --version))"
echo route=debian
