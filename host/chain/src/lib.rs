//! `r1-chain`: R1 on an EVM chain (docs/chain.md). The contracts are compiled from
//! `contracts/src` by solc-js into `contracts/artifacts` (committed, checked against a fresh
//! compile); [`contracts`] binds them with alloy's `sol!` from those artifacts, ABI and
//! bytecode both, so what the tests deploy is byte for byte what is committed.

#![warn(missing_docs)]

pub mod connect;
pub mod contracts;
pub mod merkle;
pub mod tools;
