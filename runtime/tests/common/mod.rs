//! Shared helpers: locate guest components built by `scripts/build-guests.sh`.

use std::path::PathBuf;

/// Bytes of the guest component `name` (e.g. "hello", "guest_looper").
pub fn guest(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("R1_GUEST_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "guest component {} is missing ({e}); build the guests first: `make guests` \
             (or run the suite with `make test`)",
            path.display()
        )
    })
}
