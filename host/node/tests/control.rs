//! The actor-control contract a system actor uses: start, list, stop through the node, with
//! the node's own refusals as error kinds.

use r1_core::ServiceError;
use r1_core::contract::control::{ActorControl, ActorLaunch};
use r1_node::config::NodeConfig;
use r1_node::node::Node;
use r1_test_support::guest;

fn launch(name: &str, component: &str, grants: &[&str]) -> ActorLaunch {
    ActorLaunch {
        name: name.into(),
        wasm: guest(component),
        grants: grants.iter().map(|g| g.to_string()).collect(),
        config: Vec::new(),
    }
}

#[actix_rt::test]
async fn a_system_actor_starts_lists_and_stops_workloads_through_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig {
        data_dir: dir.path().to_owned(),
        ..NodeConfig::default()
    };
    config.mesh.listen = vec!["127.0.0.1:0".into()];
    config.mesh.resp = None;
    let node = Node::start(config).await.unwrap();
    let control: &dyn ActorControl = &*node;

    let started = control
        .start(launch("counter", "counter", &["cstore:jobs"]))
        .await
        .unwrap();
    assert_eq!(started.name, "counter");
    assert_eq!(started.state, "running");
    assert_eq!(started.grants, vec!["cstore:jobs".to_string()]);
    assert_eq!(
        node.runtime()
            .request("counter", b"x".to_vec(), std::time::Duration::from_secs(10))
            .await
            .unwrap(),
        Some(b"1".to_vec())
    );
    // Recorded like an API deployment: the data dir remembers it.
    assert!(
        std::fs::read_dir(dir.path().join("deployments"))
            .unwrap()
            .next()
            .is_some()
    );
    let listed: Vec<String> = control.list().into_iter().map(|a| a.name).collect();
    assert_eq!(listed, vec!["counter".to_string()]);

    // The node's refusals, as kinds a scheduler can act on.
    let taken = control
        .start(launch("counter", "counter", &["cstore:jobs"]))
        .await;
    assert!(matches!(taken, Err(ServiceError::Invalid(_))), "{taken:?}");
    let ungranted = control.start(launch("bare", "counter", &[])).await;
    assert!(
        matches!(&ungranted, Err(ServiceError::Denied(m)) if m.contains("cstore:<namespace>")),
        "{ungranted:?}"
    );
    let bad_grant = control
        .start(launch("odd", "counter", &["cstore:../x"]))
        .await;
    assert!(
        matches!(bad_grant, Err(ServiceError::Invalid(_))),
        "{bad_grant:?}"
    );

    control.stop("counter").await.unwrap();
    assert!(control.list().is_empty());
    let unknown = control.stop("counter").await;
    assert!(
        matches!(unknown, Err(ServiceError::NotFound(_))),
        "{unknown:?}"
    );
    node.runtime().shutdown().await;
}
