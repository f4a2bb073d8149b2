//! `wasmtime serve`, exactly as the wasmtime CLI runs it (its own `ServeCommand`), as a binary
//! of its own: `wasmtime-serve-bench [serve options] COMPONENT`.
use clap::Parser;

fn main() -> anyhow::Result<()> {
    wasmtime_cli::commands::ServeCommand::parse().execute()
}
