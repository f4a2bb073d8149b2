//! `r1-node`: a node assembled and served. [`node::Node::start`] is the one place that names
//! every service (CSTORE, the mesh, R1FS, inference, EDIL) and hands them to the runtime;
//! [`server::serve`] puts the HTTP API ([`api`], guarded by [`access`] and [`token`]) in
//! front of it. The `r1` binary (`cli/`) and the typed client are built on this crate.

#![warn(missing_docs)]

pub mod access;
pub mod api;
pub mod config;
pub mod containers;
pub mod deeploy;
pub mod deployments;
pub mod http_apps;
pub mod identity;
pub mod node;
pub mod oraclesync;
pub mod server;
pub mod token;
pub mod upload;
