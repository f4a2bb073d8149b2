//! Bindings of the committed contracts (`contracts/artifacts/*.json`), with their bytecode
//! for deployment.

#![allow(missing_docs)]

use alloy::sol;

sol!(
    #[sol(rpc, all_derives)]
    R1Token,
    "../../contracts/artifacts/R1Token.json"
);

sol!(
    #[sol(rpc, all_derives)]
    NodeLicence,
    "../../contracts/artifacts/NodeLicence.json"
);

sol!(
    #[sol(rpc, all_derives)]
    PoARewards,
    "../../contracts/artifacts/PoARewards.json"
);

sol!(
    #[sol(rpc, all_derives)]
    JobEscrow,
    "../../contracts/artifacts/JobEscrow.json"
);

sol!(
    #[sol(rpc, all_derives)]
    ReferenceRewards,
    "../../contracts/artifacts/ReferenceRewards.json"
);
