//! Who may drive a node through its API: the token, Host and Origin checks, names, and where
//! the API may listen.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use r1_test_support::{
    NodeProcess, NodeSpec, anonymous_http, free_port, guest_path, r1, r1_bin, r1_ok,
};
use reqwest::Method;

/// Every route that changes or reveals state, with a request that succeeds given the token.
fn routes(node: &NodeProcess) -> Vec<(Method, String, Vec<u8>)> {
    let own_peer = node.get_json("/v1/status")["peer_id"]
        .as_str()
        .expect("peer id")
        .to_owned();
    let node_id = node.get_json("/v1/status")["node_id"]
        .as_str()
        .expect("node id")
        .to_owned();
    let hello = std::fs::read(guest_path("hello")).unwrap();
    let edil = serde_json::to_vec(&serde_json::json!({
        "participants": [node_id], "int_bits": 3, "frac_bits": 20, "max_clients": 2,
    }))
    .unwrap();
    let embed = serde_json::to_vec(&serde_json::json!({
        "model": "all-minilm-l6-v2", "texts": ["hello"],
    }))
    .unwrap();
    use Method as M;
    let r = |m: M, p: &str, b: &[u8]| (m, p.to_owned(), b.to_vec());
    vec![
        r(M::GET, "/v1/status", b""),
        r(M::PUT, "/v1/actors/hello", &hello),
        r(M::GET, "/v1/actors", b""),
        r(M::GET, "/v1/actors/hello", b""),
        r(M::POST, "/v1/actors/hello/request", b"Ada"),
        r(M::POST, "/v1/actors/hello/send", b"Ada"),
        r(M::POST, "/v1/topics/some.topic", b"x"),
        r(M::PUT, "/v1/cstore/ns/k", b"v"),
        r(M::GET, "/v1/cstore/ns/k", b""),
        r(M::GET, "/v1/cstore/ns", b""),
        r(M::DELETE, "/v1/cstore/ns/k", b""),
        r(M::PUT, "/v1/cstore-hash/ns/h/f", b"v"),
        r(M::GET, "/v1/cstore-hash/ns/h/f", b""),
        r(M::GET, "/v1/cstore-hash/ns/h", b""),
        r(M::DELETE, "/v1/cstore-hash/ns/h/f", b""),
        r(M::PUT, "/v1/fs?name=probe.txt", b"probe bytes"),
        r(M::GET, "/v1/fs", b""),
        r(M::POST, "/v1/fs/gc", b""),
        r(M::GET, "/v1/infer/models", b""),
        r(M::POST, "/v1/infer/embed", &embed),
        r(M::PUT, "/v1/edil/jobs/job1", &edil),
        r(M::GET, "/v1/edil/jobs/job1", b""),
        r(M::GET, "/v1/mesh", b""),
        r(M::PUT, &format!("/v1/mesh/blocked/{own_peer}"), b""),
        r(M::DELETE, &format!("/v1/mesh/blocked/{own_peer}"), b""),
        r(M::DELETE, "/v1/actors/hello", b""),
    ]
}

#[test]
fn every_state_route_needs_the_token_and_works_with_it() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("node"));
    let stranger = anonymous_http();
    let friend = node.http();

    // The liveness probe is the one route open to all, and it reveals nothing.
    let health = stranger.get(node.url("/v1/health")).send().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().unwrap(),
        serde_json::json!({"ok": true})
    );

    for (method, path, body) in routes(&node) {
        let refused = stranger
            .request(method.clone(), node.url(&path))
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(refused.status(), 401, "{method} {path} without a token");
        assert_eq!(
            refused
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer")
        );
        let wrong = stranger
            .request(method.clone(), node.url(&path))
            .bearer_auth("0".repeat(64))
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(wrong.status(), 401, "{method} {path} with another token");
        let mut request = friend.request(method.clone(), node.url(&path));
        if body.starts_with(b"{") {
            request = request.header("content-type", "application/json");
        }
        let served = request.body(body).send().unwrap();
        let status = served.status();
        assert!(
            status.is_success(),
            "{method} {path} with the token: {status} {}",
            served.text().unwrap_or_default()
        );
    }

    // R1FS reads and pins of an existing file, and EDIL's decrypt, behind the token too.
    let cid = friend
        .put(node.url("/v1/fs?name=p.txt"))
        .body("pinned bytes")
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap()["cid"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path) in [
        (Method::GET, format!("/v1/fs/{cid}")),
        (Method::GET, format!("/v1/fs/{cid}/stat")),
        (Method::PUT, format!("/v1/fs/{cid}/pin")),
        (Method::DELETE, format!("/v1/fs/{cid}/pin")),
    ] {
        let refused = stranger.request(method.clone(), node.url(&path)).send();
        assert_eq!(refused.unwrap().status(), 401, "{method} {path}");
        let served = friend.request(method.clone(), node.url(&path)).send();
        assert!(served.unwrap().status().is_success(), "{method} {path}");
    }
    let decrypt = format!("/v1/edil/jobs/job1/decrypt?aggregate={cid}");
    let refused = stranger.post(node.url(&decrypt)).send().unwrap();
    assert_eq!(refused.status(), 401);
    // With the token it reaches EDIL, which refuses bytes that are no aggregate (a 4xx of its own).
    let reached = friend.post(node.url(&decrypt)).send().unwrap();
    assert!(
        reached.status().is_client_error() && ![401, 403].contains(&reached.status().as_u16()),
        "{}",
        reached.status()
    );
}

#[test]
fn foreign_host_and_origin_are_refused_even_with_the_token() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("node"));
    let friend = node.http();
    let port = node.api.rsplit(':').next().unwrap().to_owned();

    // DNS rebinding: the page's own name in Host.
    let rebound = friend
        .get(node.url("/v1/status"))
        .header("host", format!("evil.example:{port}"))
        .send()
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let body: serde_json::Value = rebound.json().unwrap();
    assert!(body["error"].as_str().unwrap().contains("evil.example"));
    // The right name on the wrong port is another origin too.
    let other_port = friend
        .get(node.url("/v1/status"))
        .header("host", "localhost:1")
        .send()
        .unwrap();
    assert_eq!(other_port.status(), 403);
    // localhost is the node's own name.
    let local = friend
        .get(node.url("/v1/status"))
        .header("host", format!("localhost:{port}"))
        .send()
        .unwrap();
    assert_eq!(local.status(), 200);

    // A cross-origin "simple" request, as a web page would send it.
    let simple = friend
        .post(node.url("/v1/topics/pipeline.raw"))
        .header("origin", "http://evil.example")
        .header("content-type", "text/plain")
        .body("injected")
        .send()
        .unwrap();
    assert_eq!(simple.status(), 403);
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let opaque = friend
        .get(node.url("/v1/status"))
        .header("origin", "null")
        .send()
        .unwrap();
    assert_eq!(opaque.status(), 403);
    // The health probe answers no foreign page either.
    let probe = anonymous_http()
        .get(node.url("/v1/health"))
        .header("host", format!("evil.example:{port}"))
        .send()
        .unwrap();
    assert_eq!(probe.status(), 403);
}

#[test]
fn names_follow_one_rule() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("node"));
    let friend = node.http();
    for path in [
        "/v1/cstore/..%2F..%2Fetc/passwd",
        "/v1/cstore/.hidden",
        "/v1/cstore-hash/..%2Fx/h",
        "/v1/actors/..%2Fx",
        "/v1/edil/jobs/..%2Fjob",
    ] {
        let resp = friend.get(node.url(path)).send().unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().unwrap();
        assert!(
            body["error"].as_str().unwrap().starts_with("invalid "),
            "{path}: {body}"
        );
    }
    let topic = friend
        .post(node.url("/v1/topics/a%20b"))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(topic.status(), 400);
    // The CLI shows the same message.
    let out = r1(&["cstore", "get", "_bad", "k"], Some(&node.api));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid namespace"), "{stderr}");
}

#[test]
fn the_cli_finds_the_token_and_rotation_takes_effect() {
    let root = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&root.path().join("node"));
    let token_file = node.data_dir.join("api.token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    // The node said where its token is.
    assert!(
        node.log().contains(&token_file.display().to_string()),
        "{}",
        node.log()
    );

    // The CLI through the data dir, the token file, or the token itself.
    assert_eq!(r1_ok(&["actor", "list"], Some(&node.api)), "no actors");
    let by_dir = Command::new(r1_bin())
        .args(["actor", "list", "--api", &node.api])
        .env_remove("R1_API_TOKEN_FILE")
        .env_remove("R1_API_TOKEN")
        .env("R1_DATA_DIR", &node.data_dir)
        .output()
        .unwrap();
    assert!(by_dir.status.success(), "{by_dir:?}");
    let by_value = Command::new(r1_bin())
        .args(["actor", "list", "--api", &node.api])
        .env_remove("R1_API_TOKEN_FILE")
        .env("R1_API_TOKEN", &node.token)
        .env("R1_DATA_DIR", root.path().join("elsewhere"))
        .output()
        .unwrap();
    assert!(by_value.status.success(), "{by_value:?}");
    // Without one, the error says where a token comes from.
    let none = Command::new(r1_bin())
        .args(["actor", "list", "--api", &node.api])
        .env_remove("R1_API_TOKEN_FILE")
        .env_remove("R1_API_TOKEN")
        .env("R1_DATA_DIR", root.path().join("elsewhere"))
        .output()
        .unwrap();
    assert!(!none.status.success());
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("R1_API_TOKEN"),
        "{stderr}"
    );

    // Rotation: the old token is refused from the next request on, the new one works.
    let old = node.token.clone();
    let shown = r1_ok(
        &[
            "token",
            "show",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(shown, old);
    r1_ok(
        &[
            "token",
            "rotate",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
        None,
    );
    let new = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_ne!(new, old);
    let stale = anonymous_http()
        .get(node.url("/v1/status"))
        .bearer_auth(&old)
        .send()
        .unwrap();
    assert_eq!(stale.status(), 401);
    let fresh = anonymous_http()
        .get(node.url("/v1/status"))
        .bearer_auth(&new)
        .send()
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert_eq!(r1_ok(&["actor", "list"], Some(&node.api)), "no actors");
}

/// Runs `r1 node ARGS` expecting it to refuse to start; returns its stderr.
fn refuses_to_start(args: &[&str], data_dir: &Path) -> String {
    let mut child = Command::new(r1_bin())
        .arg("node")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--mesh-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--resp", "off"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the node started: {args:?}");
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node kept running with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn where_the_api_may_listen_and_the_token_file_it_accepts() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("node");

    // Beyond loopback without TLS: no start, and it says what to do.
    let open = format!("0.0.0.0:{}", free_port());
    let err = refuses_to_start(&["--api", &open], &dir);
    assert!(err.contains("must use TLS"), "{err}");

    // A token file every user can read: no start.
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("api.token");
    std::fs::write(&token_file, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let local = format!("127.0.0.1:{}", free_port());
    let err = refuses_to_start(&["--api", &local], &dir);
    assert!(err.contains("chmod 600"), "{err}");

    // With TLS the API may listen beyond loopback; the CLI reaches it over https with the CA.
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (root.path().join("api.pem"), root.path().join("api.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
    let spec = NodeSpec::new(&dir)
        .arg("--api-tls-cert")
        .arg(cert_pem.to_str().unwrap())
        .arg("--api-tls-key")
        .arg(key_pem.to_str().unwrap());
    let port = spec.api_port;
    let mut child = Command::new(r1_bin())
        .args(["node", "--api", &format!("0.0.0.0:{port}")])
        .arg("--data-dir")
        .arg(&dir)
        .args(["--mesh-listen", &spec.mesh_addr(), "--resp", "off"])
        .args(&spec.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let https = format!("https://127.0.0.1:{port}");
    let list = |ca: Option<&Path>| {
        let mut cmd = Command::new(r1_bin());
        cmd.args(["actor", "list", "--api", &https])
            .env("R1_API_TOKEN_FILE", &token_file)
            .env_remove("R1_API_TOKEN");
        match ca {
            Some(ca) => cmd.env("R1_API_CA", ca),
            None => cmd.env_remove("R1_API_CA"),
        };
        cmd.output().unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = list(Some(&cert_pem));
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let untrusted = list(None);
    let plain = anonymous_http()
        .get(format!("http://127.0.0.1:{port}/v1/health"))
        .send();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no actors");
    assert!(
        !untrusted.status.success(),
        "a certificate nobody vouched for"
    );
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP is not served on a TLS port"
    );
}
