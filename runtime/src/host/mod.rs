//! The host side of what every component gets, whatever it was granted: `r1:actor` (mailbox,
//! logging) and the standard faces that reach nothing beyond the component's own deployment:
//! `wasi:config/store` (its configuration) and `wasi:logging` (the node log). The interfaces
//! a grant unlocks live with their capability in [`crate::capability`].

pub mod actor;
pub mod config;
pub mod logging;
pub mod outgoing_http;
