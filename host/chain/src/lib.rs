//! `r1-chain`: R1 on an EVM chain (docs/chain.md). The contracts are compiled from
//! `contracts/src` by solc-js into `contracts/artifacts` (committed, checked against a fresh
//! compile); [`contracts`] binds them with alloy's `sol!` from those artifacts, ABI and
//! bytecode both, so what the tests deploy is byte for byte what is committed; [`connect`]
//! makes providers that send as a local key; [`keys`] keeps a node's EVM key (0600);
//! [`link`] and [`admission`] are dAuth (a node key admitted while a licence's link names it
//! and the key signed the link); [`merkle`] builds the rewards tree claims are proven against; [`tools`] finds anvil.

#![warn(missing_docs)]

pub mod admission;
pub mod connect;
pub mod contracts;
pub mod keys;
pub mod link;
pub mod merkle;
pub mod tools;
