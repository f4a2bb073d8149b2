//! Host implementations of the `r1:*` WIT interfaces. Each submodule binds one package and
//! implements its `Host` traits on [`ActorState`](crate::state::ActorState).

pub mod actor;
pub mod cstore;
pub mod edil;
pub mod fs;
pub mod infer;
pub mod keyvalue;
