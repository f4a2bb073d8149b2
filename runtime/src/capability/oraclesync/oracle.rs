//! `r1:oraclesync/oracle` for the oracle system actor: each call goes straight to the node's
//! [`OracleControl`]; errors come back as text.

use std::sync::Arc;

use r1_core::contract::oraclesync::OracleControl;

use crate::state::ActorState;

/// Bindings generated from the WIT package.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/oraclesync",
        world: "r1:oraclesync/imports",
        imports: {
            default: async | trappable,
        },
    });
}

use bindings::r1::oraclesync::oracle;

/// Links `r1:oraclesync` into `linker`.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<ActorState>) -> wasmtime::Result<()> {
    oracle::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

type Answer<T> = wasmtime::Result<Result<T, String>>;

impl ActorState {
    fn oracle_control(&self) -> Result<Arc<dyn OracleControl>, String> {
        self.oraclesync
            .clone()
            .ok_or_else(|| "oraclesync is not granted".to_owned())
    }
}

/// Runs `call` on the control, or answers why there is none.
macro_rules! with_control {
    ($state:expr, |$c:ident| $call:expr) => {{
        let $c = match $state.oracle_control() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok($call.await.map_err(|e| e.to_string()))
    }};
}

impl oracle::Host for ActorState {
    async fn settings(&mut self) -> Answer<String> {
        with_control!(self, |c| c.settings())
    }

    async fn observed(&mut self, start_ms: u64, end_ms: u64) -> Answer<String> {
        with_control!(self, |c| c.observed(start_ms, end_ms))
    }

    async fn publish_table(&mut self, table: String) -> Answer<()> {
        with_control!(self, |c| c.publish_table(&table))
    }

    async fn tables(&mut self, epoch: u64) -> Answer<Vec<(Vec<u8>, String)>> {
        with_control!(self, |c| c.tables(epoch))
    }

    async fn sign(&mut self, epoch: u64, root: Vec<u8>) -> Answer<()> {
        with_control!(self, |c| c.sign(epoch, &root))
    }

    async fn signatures(&mut self, epoch: u64) -> Answer<Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>> {
        with_control!(self, |c| c.signatures(epoch))
    }

    async fn certify(&mut self, certificate: Vec<u8>) -> Answer<()> {
        with_control!(self, |c| c.certify(&certificate))
    }
}
