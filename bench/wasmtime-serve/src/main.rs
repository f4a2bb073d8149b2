//! `wasmtime serve`, exactly as the wasmtime CLI runs it (its own `ServeCommand`), as a binary
//! of its own: `wasmtime-serve-bench [serve options] COMPONENT`.
use clap::Parser;

fn main() {
    if let Err(e) = wasmtime_cli::commands::ServeCommand::parse().execute() {
        eprintln!("error: {e:?}");
        std::process::exit(1);
    }
}
