//! Providers that send as a local key. Nonces are read from the chain for every transaction
//! (alloy's simple nonce manager), not cached: a transaction refused at estimation must not
//! leave a gap that stalls every later one from the same key.

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;

/// A provider at `url` sending as `key`.
pub fn as_key(url: alloy::transports::http::reqwest::Url, key: &PrivateKeySigner) -> DynProvider {
    ProviderBuilder::default()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(key.clone()))
        .connect_http(url)
        .erased()
}
