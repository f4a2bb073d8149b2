//! dAuth from licences: the mesh's [`Admission`] answered from the chain. A node key is
//! admitted while a licence's current link names it and the link's ed25519 signature (made by
//! that key, [`crate::link`]) holds.
//!
//! Invariants: `admits` never waits on the chain — it reads a cache that [`LicenceAdmission::
//! refresh`] rebuilds (from the `NodeLinked` events, each checked, and the licences' current
//! links) and that [`LicenceAdmission::spawn_refresh`] refreshes every period; a refresh that
//! fails keeps the last answer (logged by the caller) rather than admitting or refusing all.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use r1_core::contract::BoxFuture;
use r1_core::contract::admission::Admission;

use crate::contracts::NodeLicence;

/// Admission by licence, over the `NodeLicence` contract at an address.
pub struct LicenceAdmission {
    licences: NodeLicence::NodeLicenceInstance<DynProvider>,
    chain_id: u64,
    admitted: RwLock<HashSet<[u8; 32]>>,
}

impl LicenceAdmission {
    /// Admission over the licences at `contract` on chain `chain_id`, admitting nobody until
    /// the first refresh.
    pub fn new(provider: DynProvider, contract: Address, chain_id: u64) -> Self {
        Self {
            licences: NodeLicence::new(contract, provider),
            chain_id,
            admitted: RwLock::default(),
        }
    }

    /// Rebuilds the admitted set from the chain; returns how many keys it admits.
    pub async fn refresh(&self) -> Result<usize, alloy::contract::Error> {
        // The latest link of every licence, as its event recorded it.
        let mut latest: BTreeMap<U256, (B256, Vec<u8>, Address)> = BTreeMap::new();
        for (event, _log) in self
            .licences
            .NodeLinked_filter()
            .from_block(0)
            .query()
            .await?
        {
            latest.insert(
                event.licence,
                (event.nodeKey, event.nodeKeySignature.to_vec(), event.node),
            );
        }
        let contract = *self.licences.address();
        let mut admitted = HashSet::new();
        for (licence, (key, signature, node)) in latest {
            let key: [u8; 32] = key.0;
            if !crate::link::holds(&key, &signature, self.chain_id, contract, licence, node) {
                continue; // a link its key never signed
            }
            // Still linked, and by this link (not unlinked, not linked again since).
            let current = self.licences.nodeKeyOf(licence).call().await?;
            let current_node = self.licences.nodeOf(licence).call().await?;
            if current.0 == key && current_node == node {
                admitted.insert(key);
            }
        }
        let count = admitted.len();
        *self.admitted.write().unwrap_or_else(|e| e.into_inner()) = admitted;
        Ok(count)
    }

    /// Refreshes every `period` for as long as the returned task runs.
    pub fn spawn_refresh(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let Some(this) = this.upgrade() else { break };
                if let Err(e) = this.refresh().await {
                    tracing::warn!(
                        "licence admission: refresh failed, keeping the last answer: {e}"
                    );
                }
            }
        })
    }
}

impl Admission for LicenceAdmission {
    fn admits<'a>(&'a self, node_key: &'a [u8; 32]) -> BoxFuture<'a, bool> {
        let admitted = self
            .admitted
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(node_key);
        Box::pin(async move { admitted })
    }

    fn is_open(&self) -> bool {
        false
    }
}
