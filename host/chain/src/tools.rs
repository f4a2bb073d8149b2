//! Where the chain tools are: anvil from its npm package, installed by `scripts/setup-chain.sh`
//! (`make chain`) under `$R1_CHAIN_TOOLS` (default `~/.cache/r1/chain-tools`).

use std::path::PathBuf;

/// The chain tools directory.
pub fn dir() -> PathBuf {
    std::env::var_os("R1_CHAIN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".cache/r1/chain-tools")
        })
}

/// The anvil binary, if installed.
pub fn anvil() -> Result<PathBuf, String> {
    let path = dir().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no anvil at {}: run scripts/setup-chain.sh (make chain)",
            path.display()
        ))
    }
}
