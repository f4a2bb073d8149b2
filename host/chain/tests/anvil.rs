//! The contracts on a real anvil (started here on a free port, stopped on drop): licences link
//! a node only with both consents; PoA rewards pay the formula to the wei from certified roots
//! and refuse certificates of another chain, contract or epoch, another licence's leaf, too few
//! signatures and a repeated claim; the job escrow pays the executing nodes and burns 15 %.

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::Signer;
use alloy::signers::local::PrivateKeySigner;
use r1_chain::contracts::{JobEscrow, NodeLicence, PoARewards, R1Token};
use r1_chain::merkle::{Tree, leaf};

fn anvil() -> AnvilInstance {
    let path = r1_chain::tools::anvil().expect("anvil (make chain installs it)");
    Anvil::at(path).try_spawn().expect("anvil starts")
}

/// A provider sending as `key`.
fn as_signer(anvil: &AnvilInstance, key: &PrivateKeySigner) -> DynProvider {
    r1_chain::connect::as_key(anvil.endpoint_url(), key)
}

fn keys(anvil: &AnvilInstance) -> Vec<PrivateKeySigner> {
    anvil
        .keys()
        .iter()
        .map(|k| PrivateKeySigner::from(k.clone()))
        .collect()
}

/// Sends a contract call and waits until it is mined (a refusal fails the test).
trait Mined {
    async fn mined(self) -> alloy::rpc::types::TransactionReceipt;
}

impl<D: alloy::contract::CallDecoder> Mined for alloy::contract::CallBuilder<&DynProvider, D> {
    async fn mined(self) -> alloy::rpc::types::TransactionReceipt {
        self.send().await.unwrap().get_receipt().await.unwrap()
    }
}

/// The ed25519 half of linking `licence` to `node`: the node key (from `seed`) and its
/// signature of the link.
fn ed_link(
    anvil: &AnvilInstance,
    contract: Address,
    licence: U256,
    node: Address,
    seed: u8,
) -> (B256, alloy::primitives::Bytes) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let sig = r1_chain::link::sign(&key, anvil.chain_id(), contract, licence, node);
    (
        B256::from(key.verifying_key().to_bytes()),
        sig.to_vec().into(),
    )
}

async fn sign(key: &PrivateKeySigner, digest: B256) -> alloy::primitives::Bytes {
    key.sign_hash(&digest)
        .await
        .unwrap()
        .as_bytes()
        .to_vec()
        .into()
}

/// Signatures of `digest` by `signers`, in ascending signer order (as the contracts want).
async fn signed(signers: &[&PrivateKeySigner], digest: B256) -> Vec<alloy::primitives::Bytes> {
    let mut by: Vec<(Address, alloy::primitives::Bytes)> = Vec::new();
    for s in signers {
        by.push((s.address(), sign(s, digest).await));
    }
    by.sort();
    by.into_iter().map(|(_, sig)| sig).collect()
}

/// `result` failed with the contract's custom error `expected` (decoded from the revert data,
/// not guessed from a message).
async fn reverts<E: alloy::sol_types::SolInterface + std::fmt::Debug, T>(
    what: &str,
    expected: &str,
    result: Result<T, alloy::contract::Error>,
) {
    let Err(e) = result else {
        panic!("{what} went through");
    };
    let decoded = e.as_decoded_interface_error::<E>();
    assert!(
        decoded
            .as_ref()
            .is_some_and(|d| format!("{d:?}").starts_with(expected)),
        "{what}: {decoded:?} ({e}), {expected} expected"
    );
}

#[tokio::test]
async fn a_licence_links_a_node_only_with_both_consents() {
    let anvil = anvil();
    let k = keys(&anvil);
    let (issuer, owner, node, stranger) = (&k[0], &k[1], &k[2], &k[3]);
    let licences = NodeLicence::deploy(as_signer(&anvil, issuer), issuer.address())
        .await
        .unwrap();
    licences.mint(owner.address()).mined().await;
    let licence = U256::from(1);
    let deadline = U256::from(u64::MAX);
    let (node_key, key_sig) = ed_link(&anvil, *licences.address(), licence, node.address(), 9);
    assert!(!licences.isNodeActive(node.address()).call().await.unwrap());
    let digest = licences
        .linkDigest(licence, node.address(), node_key, deadline)
        .call()
        .await
        .unwrap();
    let consent = sign(node, digest).await;
    let as_stranger = NodeLicence::new(*licences.address(), as_signer(&anvil, stranger));
    reverts::<NodeLicence::NodeLicenceErrors, _>(
        "a link by someone else than the owner",
        "NotLicenceOwner",
        as_stranger
            .linkNode(
                licence,
                node.address(),
                node_key,
                key_sig.clone(),
                deadline,
                consent.clone(),
            )
            .send()
            .await,
    )
    .await;
    let as_owner = NodeLicence::new(*licences.address(), as_signer(&anvil, owner));
    let forged = sign(stranger, digest).await;
    reverts::<NodeLicence::NodeLicenceErrors, _>(
        "a link without the node's consent",
        "BadNodeSignature",
        as_owner
            .linkNode(
                licence,
                node.address(),
                node_key,
                key_sig.clone(),
                deadline,
                forged,
            )
            .send()
            .await,
    )
    .await;
    as_owner
        .linkNode(
            licence,
            node.address(),
            node_key,
            key_sig,
            deadline,
            consent,
        )
        .mined()
        .await;
    assert!(licences.isNodeActive(node.address()).call().await.unwrap());
    as_owner.unlinkNode(licence).mined().await;
    assert!(!licences.isNodeActive(node.address()).call().await.unwrap());
}

alloy::sol! {
    struct EpochRoot {
        uint64 epoch;
        bytes32 root;
    }
}

const M: u64 = 1_000_000_000_000_000_000;

type Rewards = PoARewards::PoARewardsInstance<DynProvider>;

/// Sends `who`'s claim for `licence` at epoch `e`.
async fn claim(
    who: &Rewards,
    licence: U256,
    e: u64,
    cumulative: u64,
    proof: Vec<B256>,
) -> Result<
    alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    alloy::contract::Error,
> {
    who.claim(licence, e, U256::from(cumulative), proof)
        .send()
        .await
} // max release per epoch: 1 token (18 decimals)

#[tokio::test]
async fn rewards_pay_the_formula_to_the_wei_and_refuse_foreign_short_or_repeated_claims() {
    use alloy::sol_types::SolStruct;
    let anvil = anvil();
    let k = keys(&anvil);
    let (issuer, owner_a, node_a, owner_b, node_b) = (&k[0], &k[1], &k[2], &k[3], &k[8]);
    let oracles: Vec<&PrivateKeySigner> = k[4..8].iter().collect();
    let admin = as_signer(&anvil, issuer);
    let token = R1Token::deploy(
        admin.clone(),
        U256::from(M) * U256::from(1_000_000u64),
        issuer.address(),
    )
    .await
    .unwrap();
    let licences = NodeLicence::deploy(admin.clone(), issuer.address())
        .await
        .unwrap();
    let oracle_addresses: Vec<Address> = oracles.iter().map(|o| o.address()).collect();
    let cap = U256::from(M) * U256::from(100_000u64);
    let rewards = PoARewards::deploy(
        admin.clone(),
        *token.address(),
        *licences.address(),
        oracle_addresses.clone(),
        U256::from(3),
        U256::from(M),
        cap,
    )
    .await
    .unwrap();
    let minter = token.MINTER_ROLE().call().await.unwrap();
    token.grantRole(minter, *rewards.address()).mined().await;
    // Licence 1 → node a (owner a), licence 2 → node b (owner b).
    for (owner, node) in [(owner_a, node_a), (owner_b, node_b)] {
        let receipt = licences.mint(owner.address()).mined().await;
        assert!(receipt.status());
        let id = licences.nextId().call().await.unwrap() - U256::from(1);
        let deadline = U256::from(u64::MAX);
        let (node_key, key_sig) = ed_link(&anvil, *licences.address(), id, node.address(), 7);
        let digest = licences
            .linkDigest(id, node.address(), node_key, deadline)
            .call()
            .await
            .unwrap();
        NodeLicence::new(*licences.address(), as_signer(&anvil, owner))
            .linkNode(
                id,
                node.address(),
                node_key,
                key_sig,
                deadline,
                sign(node, digest).await,
            )
            .mined()
            .await;
    }
    // Availabilities for epochs 1..=30 and their running sums.
    let figure_a = |e: u64| (e * 37) % 256;
    let cumulative = |f: &dyn Fn(u64) -> u64, e: u64| -> u64 { (1..=e).map(f).sum() };
    let (cum_a, cum_b) = (|e| cumulative(&figure_a, e), |e| cumulative(&|_| 255, e));
    let tree_at = |e: u64| {
        Tree::new(&[
            leaf(node_a.address(), e, U256::from(cum_a(e))),
            leaf(node_b.address(), e, U256::from(cum_b(e))),
        ])
    };
    // The digest computed here is the contract's (EIP-712, this chain and contract).
    let domain = |chain: u64, contract: Address| alloy::sol_types::Eip712Domain {
        name: Some("R1 PoA".into()),
        version: Some("1".into()),
        chain_id: Some(U256::from(chain)),
        verifying_contract: Some(contract),
        salt: None,
    };
    let chain = anvil.chain_id();
    let root10 = tree_at(10).root();
    let here = EpochRoot {
        epoch: 10,
        root: root10,
    }
    .eip712_signing_hash(&domain(chain, *rewards.address()));
    assert_eq!(here, rewards.epochDigest(10, root10).call().await.unwrap());

    // Refused: too few signatures, another epoch's, another chain's, another contract's.
    reverts::<PoARewards::PoARewardsErrors, _>(
        "two signatures of four (2f + 1 = 3)",
        "TooFewSignatures",
        rewards
            .submitEpoch(10, root10, signed(&oracles[..2], here).await)
            .send()
            .await,
    )
    .await;
    let root11 = tree_at(11).root();
    reverts::<PoARewards::PoARewardsErrors, _>(
        "epoch 10's signatures on epoch 11",
        "TooFewSignatures",
        rewards
            .submitEpoch(11, root11, signed(&oracles[..3], here).await)
            .send()
            .await,
    )
    .await;
    let other_chain = EpochRoot {
        epoch: 10,
        root: root10,
    }
    .eip712_signing_hash(&domain(1, *rewards.address()));
    reverts::<PoARewards::PoARewardsErrors, _>(
        "signatures for chain 1",
        "TooFewSignatures",
        rewards
            .submitEpoch(10, root10, signed(&oracles[..3], other_chain).await)
            .send()
            .await,
    )
    .await;
    let other_contract = EpochRoot {
        epoch: 10,
        root: root10,
    }
    .eip712_signing_hash(&domain(chain, *licences.address()));
    reverts::<PoARewards::PoARewardsErrors, _>(
        "signatures for another contract",
        "TooFewSignatures",
        rewards
            .submitEpoch(10, root10, signed(&oracles[..3], other_contract).await)
            .send()
            .await,
    )
    .await;
    // Duplicated signatures do not count twice.
    let one = signed(&oracles[..1], here).await;
    reverts::<PoARewards::PoARewardsErrors, _>(
        "one oracle's signature three times",
        "TooFewSignatures",
        rewards
            .submitEpoch(
                10,
                root10,
                vec![one[0].clone(), one[0].clone(), one[0].clone()],
            )
            .send()
            .await,
    )
    .await;
    // Certified: epochs 10 and 30.
    for e in [10u64, 30] {
        let root = tree_at(e).root();
        let digest = rewards.epochDigest(e, root).call().await.unwrap();
        rewards
            .submitEpoch(e, root, signed(&oracles[1..4], digest).await)
            .mined()
            .await;
        assert_eq!(rewards.rootOf(e).call().await.unwrap(), root);
    }
    let as_a = PoARewards::new(*rewards.address(), as_signer(&anvil, owner_a));
    let as_b = PoARewards::new(*rewards.address(), as_signer(&anvil, owner_b));
    let (l1, l2) = (U256::from(1), U256::from(2));
    // Licence b cannot claim with node a's leaf; nobody claims an uncertified epoch.
    reverts::<PoARewards::PoARewardsErrors, _>(
        "another licence's leaf",
        "BadProof",
        claim(&as_b, l2, 10, cum_a(10), tree_at(10).proof(0)).await,
    )
    .await;
    reverts::<PoARewards::PoARewardsErrors, _>(
        "an uncertified epoch",
        "NotCertified",
        claim(&as_a, l1, 11, cum_a(11), tree_at(11).proof(0)).await,
    )
    .await;
    reverts::<PoARewards::PoARewardsErrors, _>(
        "a licence that is not yours",
        "NotLicenceOwner",
        claim(&as_b, l1, 10, cum_a(10), tree_at(10).proof(0)).await,
    )
    .await;
    claim(&as_a, l1, 10, cum_a(10), tree_at(10).proof(0))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    reverts::<PoARewards::PoARewardsErrors, _>(
        "the same claim again",
        "NothingToClaim",
        claim(&as_a, l1, 10, cum_a(10), tree_at(10).proof(0)).await,
    )
    .await;
    claim(&as_a, l1, 30, cum_a(30), tree_at(30).proof(0))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    reverts::<PoARewards::PoARewardsErrors, _>(
        "epoch 30 again",
        "NothingToClaim",
        claim(&as_a, l1, 30, cum_a(30), tree_at(30).proof(0)).await,
    )
    .await;
    claim(&as_b, l2, 30, cum_b(30), tree_at(30).proof(1))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    // To the wei: M × Δcumulative / 255 per claim, integer division.
    let m = U256::from(M);
    let expected_a = m * U256::from(cum_a(10)) / U256::from(255)
        + m * U256::from(cum_a(30) - cum_a(10)) / U256::from(255);
    assert_eq!(
        token.balanceOf(owner_a.address()).call().await.unwrap(),
        expected_a
    );
    assert_eq!(
        token.balanceOf(owner_b.address()).call().await.unwrap(),
        m * U256::from(30)
    );
}

#[tokio::test]
async fn the_job_escrow_pays_the_executing_nodes_and_burns_15_percent() {
    let anvil = anvil();
    let k = keys(&anvil);
    let (issuer, buyer, node_a, node_b) = (&k[0], &k[1], &k[2], &k[3]);
    let oracles: Vec<&PrivateKeySigner> = k[4..8].iter().collect();
    let admin = as_signer(&anvil, issuer);
    let token = R1Token::deploy(
        admin.clone(),
        U256::from(M) * U256::from(1_000_000u64),
        issuer.address(),
    )
    .await
    .unwrap();
    let minter = token.MINTER_ROLE().call().await.unwrap();
    token.grantRole(minter, issuer.address()).mined().await;
    let oracle_addresses: Vec<Address> = oracles.iter().map(|o| o.address()).collect();
    let escrow = JobEscrow::deploy(
        admin.clone(),
        *token.address(),
        oracle_addresses,
        U256::from(3),
    )
    .await
    .unwrap();
    let price = U256::from(M / 10);
    let total = price * U256::from(2) * U256::from(30);
    token.mint(buyer.address(), total).mined().await;
    let as_buyer_token = R1Token::new(*token.address(), as_signer(&anvil, buyer));
    as_buyer_token
        .approve(*escrow.address(), total)
        .mined()
        .await;
    let as_buyer = JobEscrow::new(*escrow.address(), as_signer(&anvil, buyer));
    reverts::<JobEscrow::JobEscrowErrors, _>(
        "a job of 29 epochs",
        "TooShort",
        as_buyer.create(price, 2, 29).send().await,
    )
    .await;
    as_buyer.create(price, 2, 30).mined().await;
    let job = U256::from(1);
    assert_eq!(
        token.balanceOf(*escrow.address()).call().await.unwrap(),
        total
    );
    let supply = token.totalSupply().call().await.unwrap();
    let executors = vec![node_a.address(), node_b.address()];
    let digest = escrow
        .settleDigest(job, 0, executors.clone())
        .call()
        .await
        .unwrap();
    reverts::<JobEscrow::JobEscrowErrors, _>(
        "two oracle signatures",
        "TooFewSignatures",
        escrow
            .settle(job, executors.clone(), signed(&oracles[..2], digest).await)
            .send()
            .await,
    )
    .await;
    escrow
        .settle(job, executors.clone(), signed(&oracles[..3], digest).await)
        .mined()
        .await;
    let payment = price * U256::from(2);
    let burned = payment * U256::from(1_500) / U256::from(10_000);
    assert_eq!(token.totalSupply().call().await.unwrap(), supply - burned);
    let share = (payment - burned) / U256::from(2);
    assert_eq!(escrow.credit(node_a.address()).call().await.unwrap(), share);
    JobEscrow::new(*escrow.address(), as_signer(&anvil, node_a))
        .withdraw()
        .mined()
        .await;
    assert_eq!(
        token.balanceOf(node_a.address()).call().await.unwrap(),
        share
    );
    // The same epoch's signatures do not settle the next one.
    reverts::<JobEscrow::JobEscrowErrors, _>(
        "epoch 0's signatures on epoch 1",
        "TooFewSignatures",
        escrow
            .settle(job, executors, signed(&oracles[..3], digest).await)
            .send()
            .await,
    )
    .await;
}

#[tokio::test]
async fn licence_admission_admits_a_linked_key_and_ignores_a_squatter() {
    use r1_core::contract::admission::Admission;
    let anvil = anvil();
    let k = keys(&anvil);
    let (issuer, owner, node, squatter, squatter_node) = (&k[0], &k[1], &k[2], &k[3], &k[4]);
    let licences = NodeLicence::deploy(as_signer(&anvil, issuer), issuer.address())
        .await
        .unwrap();
    licences.mint(owner.address()).mined().await;
    licences.mint(squatter.address()).mined().await;
    let admission = r1_chain::admission::LicenceAdmission::new(
        as_signer(&anvil, issuer),
        *licences.address(),
        anvil.chain_id(),
    );
    assert!(!admission.is_open());
    let victim = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let victim_key = victim.verifying_key().to_bytes();
    let deadline = U256::from(u64::MAX);
    let link =
        |who: &PrivateKeySigner, licence: U256, node: &PrivateKeySigner, key_sig: Vec<u8>| {
            let (who, node) = (who.clone(), node.clone());
            let licences = NodeLicence::new(*licences.address(), as_signer(&anvil, &who));
            async move {
                let digest = licences
                    .linkDigest(licence, node.address(), B256::from(victim_key), deadline)
                    .call()
                    .await
                    .unwrap();
                licences
                    .linkNode(
                        licence,
                        node.address(),
                        B256::from(victim_key),
                        key_sig.into(),
                        deadline,
                        sign(&node, digest).await,
                    )
                    .mined()
                    .await
            }
        };
    assert_eq!(admission.refresh().await.unwrap(), 0);
    assert!(!admission.admits(&victim_key).await, "nobody is linked yet");
    // A squatter links the victim's key to its own licence and node, with a signature the
    // key's holder never made: the chain takes it, admission does not.
    let (l1, l2) = (U256::from(1), U256::from(2));
    let forged = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let fake = r1_chain::link::sign(
        &forged,
        anvil.chain_id(),
        *licences.address(),
        l2,
        squatter_node.address(),
    );
    link(squatter, l2, squatter_node, fake.to_vec()).await;
    assert_eq!(admission.refresh().await.unwrap(), 0);
    assert!(
        !admission.admits(&victim_key).await,
        "a squatter's link admits nobody"
    );
    // The key's holder links it properly: admitted.
    let real = r1_chain::link::sign(
        &victim,
        anvil.chain_id(),
        *licences.address(),
        l1,
        node.address(),
    );
    link(owner, l1, node, real.to_vec()).await;
    assert_eq!(admission.refresh().await.unwrap(), 1);
    assert!(admission.admits(&victim_key).await);
    // Unlinked: refused again.
    NodeLicence::new(*licences.address(), as_signer(&anvil, owner))
        .unlinkNode(l1)
        .mined()
        .await;
    assert_eq!(admission.refresh().await.unwrap(), 0);
    assert!(!admission.admits(&victim_key).await);
}
