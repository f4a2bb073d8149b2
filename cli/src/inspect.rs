//! `r1 inspect`: a component's imports, exports and the grants it needs.

use anyhow::{Result, bail};
use r1_runtime::Runtime;

use crate::read_component;

/// Prints the report (text, or JSON with `json`); fails if an import no node provides.
pub fn inspect(path: &std::path::Path, json: bool) -> Result<()> {
    let wasm = read_component(path)?;
    let report = actix::System::new().block_on(async move {
        let runtime = Runtime::builder(
            r1_runtime::RuntimeConfig {
                workers: 1,
                pooling: false,
                ..Default::default()
            },
            r1_runtime::TrustPolicy::dev(),
        )
        .build()?;
        let report = runtime.inspect(wasm).await;
        runtime.shutdown().await;
        anyhow::Ok(report?)
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("component  {}", report.hash);
    println!(
        "kind       {}",
        if report.is_actor {
            "actor (exports r1:actor/handler; started, then sent messages)"
        } else if report.is_http {
            "HTTP component (exports wasi:http/incoming-handler; served on its route)"
        } else if report.is_command {
            "command (exports wasi:cli/run; runs once as a job)"
        } else {
            "none R1 runs: no r1:actor/handler, wasi:http/incoming-handler or wasi:cli/run"
        }
    );
    println!("imports");
    for import in &report.imports {
        println!("  {:<40} {}", import.name, import.provided_by);
    }
    println!("exports");
    for export in &report.exports {
        println!("  {export}");
    }
    if report.needs_grants.is_empty() {
        println!("needs grants: none");
    } else {
        println!("needs grants: {}", report.needs_grants.join(", "));
    }
    if report
        .imports
        .iter()
        .any(|i| i.provided_by.starts_with("unavailable"))
    {
        bail!("this component imports interfaces no R1 node provides");
    }
    Ok(())
}
