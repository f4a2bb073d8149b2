//! One oracle's part in each epoch's agreement, as a deterministic state machine over the
//! node's OracleSync control ([`Io`]). The oracle system actor drives it with `tick`s; tests
//! drive it with a simulated mesh.
//!
//! For each epoch `E` that started after the oracle did, once `E` has ended:
//!
//! 1. **Table** (at `end + settle_ms`, when the last beats have landed): the availability of
//!    every node it saw beat in `E`, from its own observations; published once.
//! 2. **Sign** (as soon as all n oracles' tables are in, at the latest at `end + settle_ms +
//!    exchange_ms`): with at least 2f + 1 tables, the median merge's root is signed — **once
//!    per epoch** (the node enforces it too, durably) — and published. With fewer, the oracle
//!    abstains: a side of a partition with fewer than 2f + 1 oracles certifies nothing.
//! 3. **Certify** (until `end + settle_ms + exchange_ms + sign_ms`): once 2f + 1 listed
//!    oracles signed the root it signed, it assembles the certificate and hands it to the
//!    node, which checks and stores it; until the deadline it hands over a fuller one as more
//!    signatures arrive (a node keeps the one with the most), so the honest oracles converge
//!    on the same bytes. Past the deadline without 2f + 1 the epoch is left uncertified
//!    (faulty; docs/oraclesync.md says what that means).
//!
//! Safety does not depend on timing: two certificates for one epoch would need 2f + 1 signers
//! each, so f + 1 in both, and honest oracles sign once. Liveness does: tables that reach
//! some honest oracles but not others before the signing deadline (a late table, an oracle
//! that equivocates its table) can leave the honest split across roots, and the epoch
//! uncertified.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::availability::{Epoch, Intervals, Rule};
use crate::certificate::Certificate;
use crate::table::{Table, median_merge};

/// The agreement's parameters, the same on every oracle (the node hands them to its oracle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The oracles' public keys (hex), n ≥ 3f + 1.
    pub oracles: Vec<String>,
    /// Byzantine oracles tolerated.
    pub f: usize,
    /// This oracle's key (hex).
    pub own: String,
    /// Epoch 0 starts here (ms since the Unix epoch).
    pub genesis_ms: u64,
    /// Epoch length.
    pub epoch_ms: u64,
    /// The heartbeat rule.
    pub rule: Rule,
    /// Wait after an epoch ends before computing its table.
    pub settle_ms: u64,
    /// Longest wait for the other oracles' tables.
    pub exchange_ms: u64,
    /// Longest wait for 2f + 1 signatures after the signing deadline.
    pub sign_ms: u64,
}

impl Settings {
    /// Epoch `number`.
    pub fn epoch(&self, number: u64) -> Epoch {
        Epoch::nth(self.genesis_ms, self.epoch_ms.max(1), number)
    }

    /// The epoch `now_ms` falls in (0 before genesis).
    pub fn epoch_at(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.genesis_ms) / self.epoch_ms.max(1)
    }

    /// When the agreement on `epoch` gives up.
    pub fn deadline(&self, epoch: u64) -> u64 {
        self.epoch(epoch).end_ms + self.settle_ms + self.exchange_ms + self.sign_ms
    }

    /// 2f + 1.
    pub fn quorum(&self) -> usize {
        2 * self.f + 1
    }
}

/// A signature an oracle published: its key, the root it signed, the signature.
pub type Published = ([u8; 32], [u8; 32], [u8; 64]);

/// What an oracle can do through its node (the `r1:oraclesync` imports).
pub trait Io {
    /// What this node saw of every node's beats that count in `epoch`.
    fn observed(&mut self, epoch: &Epoch) -> Result<BTreeMap<String, Intervals>, String>;
    /// Publishes this oracle's table (the node signs it).
    fn publish_table(&mut self, table: &Table) -> Result<(), String>;
    /// The listed oracles' tables for `epoch`, each verified: (oracle key, table).
    fn tables(&mut self, epoch: u64) -> Result<Vec<([u8; 32], Table)>, String>;
    /// Signs `root` for `epoch` with the node key and publishes it (refused for a second
    /// root).
    fn sign(&mut self, epoch: u64, root: [u8; 32]) -> Result<(), String>;
    /// The listed oracles' published signatures for `epoch`, each verified.
    fn signatures(&mut self, epoch: u64) -> Result<Vec<Published>, String>;
    /// Hands a certificate to the node (checked and stored there).
    fn certify(&mut self, certificate: &Certificate) -> Result<(), String>;
}

/// Where one epoch stands for this oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Its table is published; waiting for the others'.
    Exchanging,
    /// It signed the merge of its 2f + 1 (or more) tables; collecting signatures into the
    /// certificate of that merge (each checked once, the root computed once).
    Signed(Certificate),
    /// It handed over the certificate with this many signatures; until the deadline it hands
    /// over a fuller one whenever more signatures arrive, so every honest oracle ends with
    /// the certificate of every signature that reached it (the same bytes when all did).
    Certified(Certificate, usize),
    /// Done: certified, abstained or given up (why).
    Done(String),
}

/// One oracle's agreement state.
#[derive(Debug, Clone)]
pub struct Oracle {
    settings: Settings,
    /// The first epoch it takes part in (the first to start after it did).
    first: u64,
    epochs: BTreeMap<u64, Stage>,
}

/// The median merge of `tables` (one per oracle, the first kept when an oracle appears twice).
pub fn merge(epoch: u64, tables: &[([u8; 32], Table)]) -> Table {
    let mut by_oracle: BTreeMap<[u8; 32], &Table> = BTreeMap::new();
    for (oracle, table) in tables {
        if table.epoch == epoch {
            by_oracle.entry(*oracle).or_insert(table);
        }
    }
    let tables: Vec<&Table> = by_oracle.into_values().collect();
    median_merge(epoch, &tables)
}

impl Oracle {
    /// An oracle that started at `now_ms`.
    pub fn new(settings: Settings, now_ms: u64) -> Self {
        let first = settings.epoch_at(now_ms) + 1;
        Self {
            settings,
            first,
            epochs: BTreeMap::new(),
        }
    }

    /// The settings it runs on.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Where `epoch` stands, if it has begun for this oracle.
    pub fn stage(&self, epoch: u64) -> Option<&Stage> {
        self.epochs.get(&epoch)
    }

    /// Advances every epoch in progress at `now_ms`; returns what happened, one line each.
    pub fn tick(&mut self, now_ms: u64, io: &mut impl Io) -> Vec<String> {
        let mut said = Vec::new();
        let s = self.settings.clone();
        let current = s.epoch_at(now_ms);
        // Epochs whose table is due, oldest first; forget those long past their deadline.
        let mut due = Vec::new();
        for epoch in self.first.max(current.saturating_sub(4))..current {
            let end = s.epoch(epoch).end_ms;
            if now_ms >= end + s.settle_ms && now_ms < s.deadline(epoch) + s.epoch_ms {
                due.push(epoch);
            }
        }
        self.epochs
            .retain(|e, _| s.deadline(*e) + s.epoch_ms > now_ms);
        for epoch in due {
            // A stage that moved may let the next one move in the same pass (the others'
            // tables or signatures may already be in): at most the three stages.
            for _ in 0..3 {
                match self.advance(epoch, now_ms, io) {
                    Ok(Some(line)) => said.push(line),
                    Ok(None) => break,
                    Err(e) => {
                        said.push(format!("epoch {epoch}: {e}"));
                        break;
                    }
                }
            }
        }
        said
    }

    fn advance(
        &mut self,
        epoch: u64,
        now_ms: u64,
        io: &mut impl Io,
    ) -> Result<Option<String>, String> {
        let s = &self.settings;
        let end = s.epoch(epoch).end_ms;
        let exchanging = match self.epochs.get(&epoch) {
            Some(Stage::Exchanging) => true,
            Some(Stage::Signed(_) | Stage::Certified(..)) => false,
            Some(Stage::Done(_)) => return Ok(None),
            None => {
                if now_ms >= s.deadline(epoch) {
                    self.epochs
                        .insert(epoch, Stage::Done("too late to take part".into()));
                    return Ok(Some(format!("epoch {epoch}: too late to take part")));
                }
                let seen = io.observed(&s.epoch(epoch))?;
                let table = Table {
                    epoch,
                    figures: seen
                        .iter()
                        .map(|(node, kept)| {
                            (node.clone(), kept.availability(&s.epoch(epoch), &s.rule))
                        })
                        .collect(),
                };
                io.publish_table(&table)?;
                self.epochs.insert(epoch, Stage::Exchanging);
                return Ok(Some(format!(
                    "epoch {epoch}: table of {} nodes published",
                    table.figures.len()
                )));
            }
        };
        if exchanging {
            let tables = io.tables(epoch)?;
            let distinct: std::collections::BTreeSet<[u8; 32]> =
                tables.iter().map(|(o, _)| *o).collect();
            let all_in = distinct.len() >= s.oracles.len();
            if !all_in && now_ms < end + s.settle_ms + s.exchange_ms {
                return Ok(None);
            }
            if distinct.len() < s.quorum() {
                let why = format!(
                    "abstained: {} of {} tables, 2f + 1 = {} needed",
                    distinct.len(),
                    s.oracles.len(),
                    s.quorum()
                );
                self.epochs.insert(epoch, Stage::Done(why.clone()));
                return Ok(Some(format!("epoch {epoch}: {why}")));
            }
            let certificate = Certificate::new(merge(epoch, &tables));
            let root = certificate.root;
            io.sign(epoch, root)?;
            self.epochs.insert(epoch, Stage::Signed(certificate));
            return Ok(Some(format!(
                "epoch {epoch}: signed the merge of {} tables, root {}",
                distinct.len(),
                hex::encode(root)
            )));
        }
        let signatures = io.signatures(epoch)?;
        let (certificate, held) = match self.epochs.get_mut(&epoch) {
            Some(Stage::Signed(c)) => (c, 0),
            Some(Stage::Certified(c, n)) => (c, *n),
            _ => return Ok(None),
        };
        for (oracle, root, signature) in signatures {
            if root == certificate.root {
                certificate.add_signature(oracle, signature);
            }
        }
        let count = certificate.signatures.len();
        if count >= s.quorum() && count > held {
            io.certify(certificate)?;
            if let Some(Stage::Signed(c) | Stage::Certified(c, _)) = self.epochs.remove(&epoch) {
                self.epochs.insert(epoch, Stage::Certified(c, count));
            }
            return Ok(Some(format!("epoch {epoch}: certified by {count} oracles")));
        }
        if now_ms >= s.deadline(epoch) {
            let why = if held > 0 {
                format!("certified by {held} oracles")
            } else {
                format!(
                    "given up: {count} of 2f + 1 = {} signatures on this root by the deadline",
                    s.quorum()
                )
            };
            self.epochs.insert(epoch, Stage::Done(why.clone()));
            return Ok((held == 0).then(|| format!("epoch {epoch}: {why}")));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    const RULE: Rule = Rule {
        period_ms: 200,
        grace_ms: 100,
    };

    /// What the oracles published, as a mesh would carry it.
    #[derive(Default)]
    struct Board {
        tables: Vec<([u8; 32], Table)>,
        signatures: Vec<Published>,
        certificates: Vec<([u8; 32], Vec<u8>)>,
    }

    /// One oracle's node: its key, what it saw, which oracles it can hear, and how the mesh
    /// hands it messages (reversed, duplicated).
    struct Node {
        key: SigningKey,
        seen: BTreeMap<String, Intervals>,
        hears: BTreeSet<[u8; 32]>,
        board: Arc<Mutex<Board>>,
        reverse: bool,
        duplicate: bool,
        signed: BTreeMap<u64, [u8; 32]>,
        oracles: Vec<[u8; 32]>,
    }

    impl Node {
        fn deliver<T: Clone>(&self, mut items: Vec<T>) -> Vec<T> {
            if self.reverse {
                items.reverse();
            }
            if self.duplicate {
                let copy = items.clone();
                items.extend(copy);
            }
            items
        }
    }

    impl Io for Node {
        fn observed(&mut self, epoch: &Epoch) -> Result<BTreeMap<String, Intervals>, String> {
            Ok(self
                .seen
                .iter()
                .map(|(n, i)| (n.clone(), i.within(epoch, &RULE)))
                .collect())
        }
        fn publish_table(&mut self, table: &Table) -> Result<(), String> {
            let own = self.key.verifying_key().to_bytes();
            self.board.lock().unwrap().tables.push((own, table.clone()));
            Ok(())
        }
        fn tables(&mut self, epoch: u64) -> Result<Vec<([u8; 32], Table)>, String> {
            let all = self.board.lock().unwrap().tables.clone();
            Ok(self.deliver(
                all.into_iter()
                    .filter(|(o, t)| t.epoch == epoch && self.hears.contains(o))
                    .collect(),
            ))
        }
        fn sign(&mut self, epoch: u64, root: [u8; 32]) -> Result<(), String> {
            if let Some(old) = self.signed.get(&epoch) {
                return if *old == root {
                    Ok(())
                } else {
                    Err("second root".into())
                };
            }
            self.signed.insert(epoch, root);
            let sig = self
                .key
                .sign(&crate::certificate::signed_message(epoch, &root))
                .to_bytes();
            let own = self.key.verifying_key().to_bytes();
            self.board.lock().unwrap().signatures.push((own, root, sig));
            Ok(())
        }
        fn signatures(&mut self, _epoch: u64) -> Result<Vec<Published>, String> {
            let all = self.board.lock().unwrap().signatures.clone();
            Ok(self.deliver(
                all.into_iter()
                    .filter(|(o, _, _)| self.hears.contains(o))
                    .collect(),
            ))
        }
        fn certify(&mut self, certificate: &Certificate) -> Result<(), String> {
            certificate
                .verify(&self.oracles, 1)
                .map_err(|e| e.to_string())?;
            let own = self.key.verifying_key().to_bytes();
            self.board
                .lock()
                .unwrap()
                .certificates
                .push((own, certificate.to_bytes()));
            Ok(())
        }
    }

    fn settings(keys: &[SigningKey], own: usize) -> Settings {
        Settings {
            oracles: keys
                .iter()
                .map(|k| hex::encode(k.verifying_key().to_bytes()))
                .collect(),
            f: 1,
            own: hex::encode(keys[own].verifying_key().to_bytes()),
            genesis_ms: 0,
            epoch_ms: 10_000,
            rule: RULE,
            settle_ms: 100,
            exchange_ms: 1_000,
            sign_ms: 1_000,
        }
    }

    /// Beats every 200 ms from `from` to `to`.
    fn up(from: u64, to: u64) -> Intervals {
        let mut kept = Intervals::default();
        for t in (from..to).step_by(200) {
            kept.push(t, &RULE);
        }
        kept
    }

    /// Four oracles (the first `alive` tick) observing nodes a (up all along) and b (down
    /// 12 s–15 s of epoch 1, 10–20 s); `lie` makes oracle 0 report everyone at 255 … or 0.
    fn run(
        alive: usize,
        lie: Option<u8>,
        hears: impl Fn(usize) -> Vec<usize>,
        order: impl Fn(usize) -> (bool, bool),
    ) -> Arc<Mutex<Board>> {
        let keys: Vec<SigningKey> = (0..4u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let board = Arc::new(Mutex::new(Board::default()));
        let mut b = up(0, 12_000);
        for t in (15_000..30_000).step_by(200) {
            b.push(t, &RULE);
        }
        let mut oracles: Vec<(Oracle, Node)> = (0..alive)
            .map(|i| {
                let (reverse, duplicate) = order(i);
                let mut seen = BTreeMap::from([
                    ("a".to_string(), up(0, 30_000)),
                    ("b".to_string(), b.clone()),
                ]);
                if i == 0
                    && let Some(v) = lie
                {
                    // A liar's table: its figures, whatever it saw.
                    seen.clear();
                    let mut kept = Intervals::default();
                    if v == 255 {
                        kept = up(0, 30_000);
                    }
                    seen.insert("a".into(), kept.clone());
                    seen.insert("b".into(), kept);
                }
                let node = Node {
                    key: keys[i].clone(),
                    seen,
                    hears: hears(i)
                        .into_iter()
                        .map(|j| keys[j].verifying_key().to_bytes())
                        .collect(),
                    board: board.clone(),
                    reverse,
                    duplicate,
                    signed: BTreeMap::new(),
                    oracles: keys.iter().map(|k| k.verifying_key().to_bytes()).collect(),
                };
                (Oracle::new(settings(&keys, i), 5_000), node)
            })
            .collect();
        for now in (10_000..25_000).step_by(50) {
            for (oracle, node) in &mut oracles {
                oracle.tick(now, node);
            }
        }
        board
    }

    fn everyone(_: usize) -> Vec<usize> {
        vec![0, 1, 2, 3]
    }

    fn epoch_one(board: &Board) -> Vec<Certificate> {
        board
            .certificates
            .iter()
            .map(|(_, bytes)| Certificate::from_bytes(bytes).unwrap())
            .filter(|c| c.table.epoch == 1)
            .collect()
    }

    #[test]
    fn four_honest_oracles_certify_the_same_figures() {
        let board = run(4, None, everyone, |_| (false, false));
        let certs = epoch_one(&board.lock().unwrap());
        assert!(certs.len() >= 3, "{} certificates", certs.len());
        let b = certs[0].table.figures["b"];
        // Down 3 s of 10: 70 % of 255 = 178.5, within one beat (5 points).
        assert!((b as i32 - 179).abs() <= 5, "b at {b}");
        assert_eq!(certs[0].table.figures["a"], 255);
        for c in &certs {
            assert_eq!(c.root, certs[0].root);
        }
    }

    #[test]
    fn a_liar_is_outvoted_either_way() {
        for lie in [0, 255] {
            let board = run(4, Some(lie), everyone, |_| (false, false));
            let certs = epoch_one(&board.lock().unwrap());
            assert!(!certs.is_empty(), "lying {lie}: no certificate");
            let b = certs[0].table.figures["b"];
            assert!((b as i32 - 179).abs() <= 5, "lying {lie}: b at {b}");
        }
    }

    #[test]
    fn one_oracle_down_still_certifies_after_the_exchange_window() {
        let board = run(3, None, everyone, |_| (false, false));
        let certs = epoch_one(&board.lock().unwrap());
        assert!(!certs.is_empty());
        assert_eq!(certs[0].signatures.len(), 3);
    }

    #[test]
    fn a_side_with_fewer_than_2f_plus_1_oracles_certifies_nothing() {
        // 0 and 1 hear each other, 2 and 3 each other: two sides of two.
        let board = run(
            4,
            None,
            |i| if i < 2 { vec![0, 1] } else { vec![2, 3] },
            |_| (false, false),
        );
        let board = board.lock().unwrap();
        assert!(epoch_one(&board).is_empty());
        assert!(
            board.signatures.is_empty(),
            "nobody signs with 2 of 4 tables"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Reordered and duplicated delivery changes nothing: every honest oracle that
        /// certifies produces the same bytes.
        #[test]
        fn delivery_order_and_duplicates_do_not_change_the_bytes(orders in proptest::collection::vec((any::<bool>(), any::<bool>()), 4)) {
            let board = run(4, None, everyone, |i| orders[i]);
            let board = board.lock().unwrap();
            // Each oracle's last certificate for epoch 1 (it hands over fuller ones as
            // signatures arrive): all the same bytes, carrying all four signatures.
            let mut last: BTreeMap<[u8; 32], &Vec<u8>> = BTreeMap::new();
            for (oracle, b) in &board.certificates {
                if Certificate::from_bytes(b).unwrap().table.epoch == 1 {
                    last.insert(*oracle, b);
                }
            }
            prop_assert_eq!(last.len(), 4);
            let bytes: BTreeSet<&Vec<u8>> = last.values().copied().collect();
            prop_assert_eq!(bytes.len(), 1);
            let cert = Certificate::from_bytes(bytes.iter().next().unwrap()).unwrap();
            prop_assert_eq!(cert.signatures.len(), 4);
        }
    }
}
