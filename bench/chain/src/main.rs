//! `make bench-chain`: the gas of claiming 30 epochs of PoA rewards, measured on anvil in one
//! run, under R1's scheme (one certified root per epoch, one leaf of cumulative availability
//! and its proof per claim, in a tree of 10,000 nodes) and under the reference's (every epoch
//! and availability listed, `k` EIP-191 oracle signatures checked per claim;
//! `contracts/src/ReferenceRewards.sol`, written for this comparison).

use alloy::node_bindings::Anvil;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::signers::Signer;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use r1_chain::contracts::{NodeLicence, PoARewards, R1Token, ReferenceRewards};
use r1_chain::merkle::{Tree, leaf};

const EPOCHS: u64 = 30;
const NODES: usize = 10_000;
const M: u64 = 1_000_000_000_000_000_000;

async fn sorted_signatures(signers: &[PrivateKeySigner], digest: B256) -> Vec<Bytes> {
    let mut by = Vec::new();
    for s in signers {
        let sig = s.sign_hash(&digest).await.expect("sign");
        by.push((s.address(), Bytes::from(sig.as_bytes().to_vec())));
    }
    by.sort();
    by.into_iter().map(|(_, s)| s).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let anvil = Anvil::at(r1_chain::tools::anvil().unwrap_or_else(|e| panic!("{e}")))
        .try_spawn()
        .expect("anvil starts");
    let keys: Vec<PrivateKeySigner> = anvil
        .keys()
        .iter()
        .map(|k| PrivateKeySigner::from(k.clone()))
        .collect();
    let issuer = &keys[0];
    // Licence 1 (owner, node) claims under R1's scheme, licence 2 under the reference's.
    let (owner, node) = (&keys[1], &keys[2]);
    let (owner2, node2) = (&keys[7], &keys[8]);
    let oracles: Vec<PrivateKeySigner> = keys[3..7].to_vec();
    let k = 3usize; // signatures per claim: 2f + 1 of 4, as R1 needs per epoch
    let provider = |key: &PrivateKeySigner| r1_chain::connect::as_key(anvil.endpoint_url(), key);
    let admin = provider(issuer);
    let token = R1Token::deploy(admin.clone(), U256::MAX >> 1, issuer.address())
        .await
        .expect("token");
    let licences = NodeLicence::deploy(admin.clone(), issuer.address())
        .await
        .expect("licences");
    let oracle_addresses: Vec<Address> = oracles.iter().map(|o| o.address()).collect();
    let rewards = PoARewards::deploy(
        admin.clone(),
        *token.address(),
        *licences.address(),
        oracle_addresses.clone(),
        U256::from(3),
        U256::from(M),
        U256::MAX >> 2,
    )
    .await
    .expect("rewards");
    let reference = ReferenceRewards::deploy(
        admin.clone(),
        *token.address(),
        *licences.address(),
        oracle_addresses,
        U256::from(k),
        U256::from(M),
    )
    .await
    .expect("reference");
    let minter = token.MINTER_ROLE().call().await.expect("role");
    for to in [*rewards.address(), *reference.address()] {
        token
            .grantRole(minter, to)
            .send()
            .await
            .expect("grant")
            .get_receipt()
            .await
            .expect("grant");
    }
    let deadline = U256::from(u64::MAX);
    for (id, (o, n)) in [(owner, node), (owner2, node2)].into_iter().enumerate() {
        licences
            .mint(o.address())
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("mint");
        let licence = U256::from(id + 1);
        let ed = ed25519_dalek::SigningKey::from_bytes(&[id as u8 + 1; 32]);
        let node_key = B256::from(ed.verifying_key().to_bytes());
        let key_sig = r1_chain::link::sign(
            &ed,
            anvil.chain_id(),
            *licences.address(),
            licence,
            n.address(),
        );
        let digest = licences
            .linkDigest(licence, n.address(), node_key, deadline)
            .call()
            .await
            .expect("digest");
        let consent = n.sign_hash(&digest).await.expect("sign");
        NodeLicence::new(*licences.address(), provider(o))
            .linkNode(
                licence,
                n.address(),
                node_key,
                Bytes::from(key_sig.to_vec()),
                deadline,
                Bytes::from(consent.as_bytes().to_vec()),
            )
            .send()
            .await
            .expect("link")
            .get_receipt()
            .await
            .expect("link");
    }

    // Two claims of 30 epochs each (epochs 1-30, then 31-60): the first pays for storage
    // first written, the second is what a licence pays every time after.
    let figure = |e: u64| 200 + e % 56;
    let r1 = PoARewards::new(*rewards.address(), provider(owner));
    let refr = ReferenceRewards::new(*reference.address(), provider(owner2));
    let mut gas_r1 = Vec::new();
    let mut gas_ref = Vec::new();
    let mut submit_gas = 0;
    let mut proof_len = 0;
    for (first, last) in [(1u64, EPOCHS), (EPOCHS + 1, 2 * EPOCHS)] {
        let cumulative: u64 = (1..=last).map(figure).sum();
        let mut leaves: Vec<B256> = (1..NODES)
            .map(|i| {
                leaf(
                    Address::from_word(keccak256(i.to_be_bytes())),
                    last,
                    U256::from(i as u64 % 7_650),
                )
            })
            .collect();
        leaves.insert(0, leaf(node.address(), last, U256::from(cumulative)));
        let tree = Tree::new(&leaves);
        let root = tree.root();
        let digest = rewards
            .epochDigest(last, root)
            .call()
            .await
            .expect("digest");
        submit_gas = rewards
            .submitEpoch(last, root, sorted_signatures(&oracles[..3], digest).await)
            .send()
            .await
            .expect("submit")
            .get_receipt()
            .await
            .expect("submit")
            .gas_used;
        let proof = tree.proof(0);
        proof_len = proof.len();
        let claim = r1
            .claim(U256::from(1), last, U256::from(cumulative), proof)
            .send()
            .await
            .expect("claim")
            .get_receipt()
            .await
            .expect("claim");
        assert!(claim.status(), "the R1 claim went through");
        gas_r1.push(claim.gas_used);

        let epochs: Vec<U256> = (first..=last).map(U256::from).collect();
        let availabilities: Vec<U256> = (first..=last).map(|e| U256::from(figure(e))).collect();
        let message = keccak256(
            (node2.address(), epochs.clone(), availabilities.clone()).abi_encode_packed(),
        );
        let mut signatures = Vec::new();
        for o in &oracles[..k] {
            let sig = o.sign_message(message.as_slice()).await.expect("sign");
            signatures.push(Bytes::from(sig.as_bytes().to_vec()));
        }
        let claim = refr
            .claim(U256::from(2), epochs, availabilities, signatures)
            .send()
            .await
            .expect("reference claim")
            .get_receipt()
            .await
            .expect("reference claim");
        assert!(claim.status(), "the reference claim went through");
        gas_ref.push(claim.gas_used);
    }
    let paid_r1 = token
        .balanceOf(owner.address())
        .call()
        .await
        .expect("balance");
    let paid_ref = token
        .balanceOf(owner2.address())
        .call()
        .await
        .expect("balance");
    // The same formula: R1 rounds once per claim, the reference once per epoch, so R1 pays
    // at most one wei per epoch more.
    assert!(
        paid_r1 >= paid_ref && paid_r1 - paid_ref < U256::from(2 * EPOCHS),
        "{paid_r1} vs {paid_ref}"
    );
    println!(
        "anvil, claims of {EPOCHS} epochs, a tree of {NODES} nodes (proof of {proof_len} hashes), k = {k} reference signatures"
    );
    println!(
        "chain_claim_30_epochs_gas {}  (target <= 80,000; a licence's every claim after its first; the first: {}; certifying an epoch costs {submit_gas} once, for every node)",
        gas_r1[1], gas_r1[0]
    );
    println!(
        "chain_claim_reference_30_epochs_gas {}  (first claim: {})",
        gas_ref[1], gas_ref[0]
    );
    println!(
        "chain_claim_gas_vs_reference {:.2}  (target >= 2; reference / R1, later claims; first claims {:.2})",
        gas_ref[1] as f64 / gas_r1[1] as f64,
        gas_ref[0] as f64 / gas_r1[0] as f64
    );
    println!(
        "paid for 60 epochs: {paid_r1} wei under R1, {paid_ref} under the reference (rounded once per claim vs once per epoch)"
    );
}
