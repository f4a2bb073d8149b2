//! `r1-client`: a typed client for a node's HTTP API, used by the `r1` CLI, the tests and any
//! driver of several nodes.
//!
//! - **Credential**: [`Client::connect`] sends the node's bearer token: `R1_API_TOKEN`, else
//!   the file named by `R1_API_TOKEN_FILE`, else `$R1_DATA_DIR/api.token` (see
//!   [`r1_core::token_file`]); [`Client::with_token`] takes one explicitly.
//! - **Transport**: `HOST:PORT` or `http://…` is plain HTTP (the API listens there on
//!   loopback only); `https://…` uses TLS with the roots in the PEM file `R1_API_CA`.
//! - **Errors**: an answer that is not 2xx is [`ClientError::Api`] with the node's message
//!   and status; no answer at all is [`ClientError::Unreachable`].
//! - **Time limits**: every call has one (a minute for most, longer for uploads of components
//!   and model loads; a request's own timeout plus five seconds); connecting is limited to
//!   ten seconds; file transfers have no overall limit.

#![warn(missing_docs)]

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use r1_core::token_file::{self, TOKEN_ENV, TOKEN_FILE_ENV, TokenError};
use reqwest::StatusCode;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::Value;

/// Environment variable naming the PEM file of the certificate (or CA) an `https://` API
/// presents.
pub const API_CA_ENV: &str = "R1_API_CA";

const CALL: Duration = Duration::from_secs(60);
const LONG_CALL: Duration = Duration::from_secs(300);
const CONNECT: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer from the node.
    #[error("cannot reach the node API at {api} (is `r1 node` running?)")]
    Unreachable {
        /// The API address called.
        api: String,
        /// What the transport said.
        #[source]
        source: reqwest::Error,
    },
    /// The node answered with an error.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The node's message (`{"error": …}`), else the body.
        message: String,
    },
    /// The token could not be read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The TLS set-up (`R1_API_CA`) is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The node's answer is not what the call expects.
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
}

/// Result of a client call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A page of CSTORE keys.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct KeyPage {
    /// The keys of this page, in order.
    pub keys: Vec<String>,
    /// Pass back to get the next page; `None` on the last.
    pub cursor: Option<String>,
}

/// An EDIL job to create.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewJob {
    /// Hex node keys of the participants.
    pub participants: Vec<String>,
    /// Integer bits of the fixed-point encoding.
    pub int_bits: Option<u32>,
    /// Fraction bits of the fixed-point encoding.
    pub frac_bits: Option<u32>,
    /// How many clients an aggregate may sum.
    pub max_clients: Option<u32>,
}

/// A connection to one node's API.
#[derive(Clone)]
pub struct Client {
    api: String,
    base: String,
    headers: HeaderMap,
    tls: Option<Arc<rustls::ClientConfig>>,
    http: reqwest::blocking::Client,
}

/// The token a client on this machine sends (see the crate docs); `None` when there is none.
pub fn local_token() -> Result<Option<String>> {
    if let Some(token) = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Some(token.trim().to_owned()));
    }
    let path = match std::env::var_os(TOKEN_FILE_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => token_file::default_path(&token_file::default_data_dir()),
    };
    match token_file::read(&path) {
        Ok(token) => Ok(Some(token)),
        Err(TokenError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// TLS roots for an `https://` API: the certificates in `R1_API_CA`.
fn tls_config() -> Result<Option<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let Some(path) = std::env::var_os(API_CA_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        ClientError::Tls(format!("{what} {API_CA_ENV} file {}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&path).map_err(|e| bad("cannot read", &e))? {
        let cert = cert.map_err(|e| bad("bad certificate in", &e))?;
        roots
            .add(cert)
            .map_err(|e| bad("unusable certificate in", &e))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(Some(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// `http://API` for `HOST:PORT`; a URL as it is.
fn base_url(api: &str) -> String {
    if api.starts_with("http://") || api.starts_with("https://") {
        api.trim_end_matches('/').to_owned()
    } else {
        format!("http://{api}")
    }
}

impl Client {
    /// A client for the node at `api` with the token found on this machine.
    pub fn connect(api: &str) -> Result<Self> {
        Self::with_token(api, local_token()?)
    }

    /// A client for the node at `api` sending `token` (none: only `/v1/health` answers).
    pub fn with_token(api: &str, token: Option<String>) -> Result<Self> {
        // One TLS provider for the process: the aws-lc-rs one the node uses.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| ClientError::Decode("the API token is not a header value".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let tls = tls_config()?.map(Arc::new);
        let mut builder = reqwest::blocking::Client::builder()
            .default_headers(headers.clone())
            .connect_timeout(CONNECT)
            .timeout(None);
        if let Some(tls) = &tls {
            builder = builder.use_preconfigured_tls((**tls).clone());
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Self {
            api: api.to_owned(),
            base: base_url(api),
            headers,
            tls,
            http,
        })
    }

    /// The API address this client calls.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path)).timeout(CALL)
    }

    fn put(&self, path: &str) -> RequestBuilder {
        self.http.put(self.url(path)).timeout(CALL)
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path)).timeout(CALL)
    }

    fn delete(&self, path: &str) -> RequestBuilder {
        self.http.delete(self.url(path)).timeout(CALL)
    }

    /// Sends `request`; a non-2xx answer becomes [`ClientError::Api`].
    pub fn call(&self, request: RequestBuilder) -> Result<Response> {
        let resp = request.send().map_err(|source| ClientError::Unreachable {
            api: self.api.clone(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().unwrap_or_default();
        Err(ClientError::Api {
            status,
            message: error_message(body),
        })
    }

    fn json<T: serde::de::DeserializeOwned>(&self, request: RequestBuilder) -> Result<T> {
        self.call(request)?
            .json()
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    fn bytes(&self, request: RequestBuilder) -> Result<Vec<u8>> {
        self.call(request)?
            .bytes()
            .map(|b| b.to_vec())
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Whether the API answers (`GET /v1/health`, no token needed).
    pub fn healthy(&self) -> bool {
        self.call(self.get("/v1/health").timeout(Duration::from_secs(5)))
            .is_ok()
    }

    /// The node's facts (`GET /v1/status`).
    pub fn status(&self) -> Result<Value> {
        self.json(self.get("/v1/status"))
    }

    /// Uploads `wasm` and starts it as `name` with `grants` and `config`.
    pub fn start_actor(
        &self,
        name: &str,
        wasm: Vec<u8>,
        grants: &[String],
        config: &[(String, String)],
    ) -> Result<Value> {
        self.start_with(
            name,
            wasm,
            &Start {
                grants,
                config,
                ..Start::default()
            },
        )
    }

    /// Uploads a component and starts it with everything [`Start`] holds: an actor, a
    /// command (run once as a job) or an HTTP component (served on its route).
    pub fn start_with(&self, name: &str, wasm: Vec<u8>, start: &Start<'_>) -> Result<Value> {
        let mut query: Vec<(&str, String)> =
            start.grants.iter().map(|g| ("grant", g.clone())).collect();
        query.extend(
            start
                .config
                .iter()
                .map(|(k, v)| ("config", format!("{k}={v}"))),
        );
        query.extend(start.args.iter().map(|a| ("arg", a.clone())));
        query.extend(start.env.iter().map(|(k, v)| ("env", format!("{k}={v}"))));
        query.extend(start.route.map(|r| ("route", r.to_owned())));
        self.json(
            self.put(&format!("/v1/actors/{name}"))
                .timeout(LONG_CALL)
                .query(&query)
                .header("content-type", "application/wasm")
                .body(wasm),
        )
    }

    /// Stops `name` and forgets its deployment.
    pub fn stop_actor(&self, name: &str) -> Result<()> {
        self.call(self.delete(&format!("/v1/actors/{name}")))
            .map(|_| ())
    }

    /// Every actor on the node.
    pub fn actors(&self) -> Result<Vec<Value>> {
        self.json(self.get("/v1/actors"))
    }

    /// One actor.
    pub fn actor(&self, name: &str) -> Result<Value> {
        self.json(self.get(&format!("/v1/actors/{name}")))
    }

    /// Asks `actor` (`NAME`, or `NODE/NAME` for the actor on another node) and waits up to
    /// `timeout` for its reply.
    pub fn request(&self, actor: &str, payload: Vec<u8>, timeout: Duration) -> Result<Vec<u8>> {
        let (name, node) = split_address(actor);
        let mut query = vec![("timeout_ms", timeout.as_millis().to_string())];
        query.extend(node.map(|n| ("node", n.to_owned())));
        self.bytes(
            self.post(&format!("/v1/actors/{name}/request"))
                .timeout(timeout + Duration::from_secs(5))
                .query(&query)
                .body(payload),
        )
    }

    /// Queues `payload` for `actor` (`NAME` or `NODE/NAME`) without waiting.
    pub fn send(&self, actor: &str, payload: Vec<u8>) -> Result<()> {
        let (name, node) = split_address(actor);
        let query: Vec<(&str, &str)> = node.map(|n| ("node", n)).into_iter().collect();
        self.call(
            self.post(&format!("/v1/actors/{name}/send"))
                .query(&query)
                .body(payload),
        )
        .map(|_| ())
    }

    /// Submits a signed Deeploy request (`r1_deeploy::signed::SignedRequest`, as JSON); the
    /// app's desired state.
    pub fn deeploy_submit(&self, request: &impl serde::Serialize) -> Result<Value> {
        self.json(self.post("/v1/deeploy/apps").json(request))
    }

    /// The placement rule applied now (`placements`, `short`).
    pub fn deeploy_plan(&self) -> Result<Value> {
        self.json(self.get("/v1/deeploy/plan"))
    }

    /// Every app's desired state the node holds.
    pub fn deeploy_apps(&self) -> Result<Vec<Value>> {
        self.json(self.get("/v1/deeploy/apps"))
    }

    /// One app (`NAME` or `OWNER/NAME`): its desired state, placement and replica status.
    pub fn deeploy_app(&self, name: &str) -> Result<Value> {
        self.json(self.get("/v1/deeploy/app").query(&[("name", name)]))
    }

    /// App `name`'s recent log lines from every replica (`lines`, `missing`).
    pub fn app_logs(&self, name: &str) -> Result<Value> {
        self.json(self.get("/v1/deeploy/app/logs").query(&[("name", name)]))
    }

    /// Actor `name`'s recent log lines (`[{at_ms, level, text}]`).
    pub fn actor_logs(&self, name: &str) -> Result<Vec<Value>> {
        self.json(self.get(&format!("/v1/actors/{name}/logs")))
    }

    /// Sends `payload` to app `name` (its `component`, when it has several) and returns the
    /// reply of a healthy replica on any node.
    pub fn app_request(
        &self,
        name: &str,
        component: Option<&str>,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>> {
        let mut query = vec![
            ("name", name.to_owned()),
            ("timeout_ms", timeout.as_millis().to_string()),
        ];
        if let Some(c) = component {
            query.push(("component", c.to_owned()));
        }
        self.bytes(
            self.post("/v1/deeploy/app/request")
                .query(&query)
                .timeout(timeout + Duration::from_secs(5))
                .body(payload),
        )
    }

    /// Every node's latest Deeploy advert as this node sees it (`advert`, `at_ms`, `age_ms`).
    pub fn deeploy_nodes(&self) -> Result<Vec<Value>> {
        self.json(self.get("/v1/deeploy/nodes"))
    }

    /// Where an actor called `name` runs: `{"name", "nodes": [node ids], "here": bool}`.
    pub fn locate(&self, name: &str) -> Result<Value> {
        self.json(self.get(&format!("/v1/actors/{name}/where")))
    }

    /// Publishes on `topic`; the node's answer (`{"delivered": n}`).
    pub fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<Value> {
        self.json(self.post(&format!("/v1/topics/{topic}")).body(payload))
    }

    /// A CSTORE value.
    pub fn cstore_get(&self, ns: &str, key: &str) -> Result<Vec<u8>> {
        self.bytes(self.get(&format!("/v1/cstore/{ns}/{key}")))
    }

    /// Writes a CSTORE value, once durable here as the node's mode says — or synced to disk
    /// when `synced` — and on `min_acks` peers; its version.
    pub fn cstore_set(
        &self,
        ns: &str,
        key: &str,
        value: Vec<u8>,
        min_acks: usize,
        synced: bool,
    ) -> Result<u64> {
        let answer: Value = self.json(
            self.put(&format!("/v1/cstore/{ns}/{key}"))
                .query(&[
                    ("min_acks", min_acks.to_string()),
                    ("sync", synced.to_string()),
                ])
                .body(value),
        )?;
        answer["version"]
            .as_u64()
            .ok_or_else(|| ClientError::Decode(format!("no version in {answer}")))
    }

    /// Deletes a CSTORE key; whether it existed.
    pub fn cstore_delete(&self, ns: &str, key: &str) -> Result<bool> {
        let answer: Value = self.json(self.delete(&format!("/v1/cstore/{ns}/{key}")))?;
        Ok(answer["existed"] == true)
    }

    /// A page of CSTORE keys starting with `prefix`, after `cursor`.
    pub fn cstore_keys(
        &self,
        ns: &str,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage> {
        let mut query = vec![("prefix", prefix.to_owned()), ("limit", limit.to_string())];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        self.json(self.get(&format!("/v1/cstore/{ns}")).query(&query))
    }

    /// Sets a hash field; whether it is new.
    pub fn hset(&self, ns: &str, key: &str, field: &str, value: Vec<u8>) -> Result<bool> {
        let answer: Value = self.json(
            self.put(&format!("/v1/cstore-hash/{ns}/{key}/{field}"))
                .body(value),
        )?;
        Ok(answer["new"] == true)
    }

    /// A hash field.
    pub fn hget(&self, ns: &str, key: &str, field: &str) -> Result<Vec<u8>> {
        self.bytes(self.get(&format!("/v1/cstore-hash/{ns}/{key}/{field}")))
    }

    /// Every field of a hash (values as UTF-8, lossy).
    pub fn hgetall(&self, ns: &str, key: &str) -> Result<serde_json::Map<String, Value>> {
        self.json(self.get(&format!("/v1/cstore-hash/{ns}/{key}")))
    }

    /// OracleSync's oracle set and newest epochs (`GET /v1/epochs`).
    pub fn epochs(&self, limit: usize) -> Result<Value> {
        self.json(self.get(&format!("/v1/epochs?limit={limit}")))
    }

    /// Epoch `epoch`'s certificate bytes (verify them: the node is not trusted for that).
    pub fn epoch_certificate(&self, epoch: u64) -> Result<Vec<u8>> {
        self.bytes(self.get(&format!("/v1/epochs/{epoch}")))
    }

    /// The mesh's status.
    pub fn mesh(&self) -> Result<Value> {
        self.json(self.get("/v1/mesh"))
    }

    /// Blocks (or unblocks) a peer.
    pub fn block_peer(&self, peer: &str, blocked: bool) -> Result<()> {
        let path = format!("/v1/mesh/blocked/{peer}");
        let request = if blocked {
            self.put(&path)
        } else {
            self.delete(&path)
        };
        self.call(request).map(|_| ())
    }

    /// The device and the models the node serves.
    pub fn models(&self) -> Result<Value> {
        self.json(self.get("/v1/infer/models").timeout(LONG_CALL))
    }

    /// One vector per text (the first call may load the model).
    pub fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Value>> {
        let answer: Value = self.json(
            self.post("/v1/infer/embed")
                .timeout(LONG_CALL)
                .json(&serde_json::json!({ "model": model, "texts": texts })),
        )?;
        answer["vectors"]
            .as_array()
            .cloned()
            .ok_or_else(|| ClientError::Decode("the node's answer has no vectors".into()))
    }

    /// Creates an EDIL job owned by this node.
    pub fn create_job(&self, job: &str, spec: &NewJob) -> Result<Value> {
        self.json(
            self.put(&format!("/v1/edil/jobs/{job}"))
                .timeout(LONG_CALL)
                .json(spec),
        )
    }

    /// An EDIL job's record.
    pub fn job(&self, job: &str) -> Result<Value> {
        self.json(self.get(&format!("/v1/edil/jobs/{job}")))
    }

    /// Decrypts an aggregate (only the job owner's node can).
    pub fn decrypt(&self, job: &str, aggregate: &str) -> Result<Value> {
        let answer: Value = self.json(
            self.post(&format!("/v1/edil/jobs/{job}/decrypt"))
                .timeout(LONG_CALL)
                .query(&[("aggregate", aggregate)]),
        )?;
        Ok(answer["values"].clone())
    }

    /// A file, streamed (fetched from peers first if needed); no overall time limit.
    pub fn fs_get(&self, cid: &str) -> Result<Response> {
        self.call(self.http.get(self.url(&format!("/v1/fs/{cid}"))))
    }

    /// What the node knows of a file.
    pub fn fs_stat(&self, cid: &str) -> Result<Value> {
        self.json(self.get(&format!("/v1/fs/{cid}/stat")))
    }

    /// Pins a file here (fetching it) and keeps `replicas` copies in the mesh.
    pub fn fs_pin(&self, cid: &str, replicas: Option<u32>) -> Result<Value> {
        let mut request = self.http.put(self.url(&format!("/v1/fs/{cid}/pin")));
        if let Some(k) = replicas {
            request = request.query(&[("replicas", k)]);
        }
        self.json(request)
    }

    /// Unpins a file here.
    pub fn fs_unpin(&self, cid: &str) -> Result<Value> {
        self.json(self.delete(&format!("/v1/fs/{cid}/pin")))
    }

    /// Imports the OCI image layout tar R1FS holds as `cid`; the node's answer
    /// (`{"digest", "signed"}`).
    pub fn oci_import(&self, cid: &str) -> Result<Value> {
        self.json(
            self.post(&format!("/v1/oci/images/{cid}"))
                .timeout(LONG_CALL),
        )
    }

    /// The OCI images the node holds.
    pub fn oci_images(&self) -> Result<Vec<Value>> {
        self.json(self.get("/v1/oci/images"))
    }

    /// Starts imported image `image` as container actor `name` with `grants`; `args` replaces
    /// the image's command when not empty.
    pub fn oci_start(
        &self,
        name: &str,
        image: &str,
        grants: &[String],
        args: &[String],
        memory_mb: Option<u64>,
    ) -> Result<Value> {
        let mut query: Vec<(&str, String)> = vec![("image", image.to_owned())];
        query.extend(grants.iter().map(|g| ("grant", g.clone())));
        query.extend(args.iter().map(|a| ("arg", a.clone())));
        if let Some(mb) = memory_mb {
            query.push(("memory_mb", mb.to_string()));
        }
        self.json(
            self.put(&format!("/v1/oci/containers/{name}"))
                .query(&query)
                .timeout(LONG_CALL),
        )
    }

    /// The files pinned here.
    pub fn fs_list(&self) -> Result<Vec<Value>> {
        self.json(self.get("/v1/fs"))
    }

    /// Removes unpinned blocks.
    pub fn fs_gc(&self) -> Result<Value> {
        self.json(self.post("/v1/fs/gc").timeout(LONG_CALL))
    }

    /// Adds everything `input` yields as a file (pinned and announced); the node's answer
    /// (`{"cid", "size"}`). The body goes out in 1 MiB chunks through the async client (the
    /// blocking one hands a body over 8 KiB at a time, which held uploads near 300 MB/s);
    /// `progress` hears of every chunk sent.
    pub fn fs_add(
        &self,
        name: Option<String>,
        media_type: Option<String>,
        input: impl Read + Send + 'static,
        total: Option<u64>,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<Value> {
        const CHUNK: usize = 1 << 20;
        let progress = Arc::new(progress);
        // The input is read on the runtime's only thread: it has nothing else to do meanwhile.
        let chunks = futures::stream::unfold(Some(input), move |input| {
            let progress = progress.clone();
            async move {
                let mut input = input?;
                let mut buf = vec![0u8; CHUNK];
                match input.read(&mut buf) {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        progress(n as u64);
                        Some((Ok(buf), Some(input)))
                    }
                    // The error ends the body, and the request fails with it.
                    Err(e) => Some((Err(e), None)),
                }
            }
        });
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(n) = name {
            query.push(("name", n));
        }
        if let Some(t) = media_type {
            query.push(("media_type", t));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Decode(format!("cannot start the upload: {e}")))?;
        runtime.block_on(async {
            let mut builder = reqwest::Client::builder()
                .default_headers(self.headers.clone())
                .connect_timeout(CONNECT);
            if let Some(tls) = &self.tls {
                builder = builder.use_preconfigured_tls((**tls).clone());
            }
            let http = builder
                .build()
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let mut request = http
                .put(self.url("/v1/fs"))
                .query(&query)
                .body(reqwest::Body::wrap_stream(chunks));
            if let Some(len) = total {
                request = request.header(reqwest::header::CONTENT_LENGTH, len);
            }
            let resp = request
                .send()
                .await
                .map_err(|source| ClientError::Unreachable {
                    api: self.api.clone(),
                    source,
                })?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                return Err(ClientError::Api {
                    status,
                    message: error_message(body),
                });
            }
            resp.json()
                .await
                .map_err(|e| ClientError::Decode(e.to_string()))
        })
    }
}

/// How to start a component ([`Client::start_with`]); the defaults are empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Start<'a> {
    /// Grant strings (`cstore:NS`, `mesh`, `http:HOST`, …).
    pub grants: &'a [String],
    /// Configuration pairs (`init`, `wasi:config`).
    pub config: &'a [(String, String)],
    /// WASI arguments after the program name.
    pub args: &'a [String],
    /// WASI environment variables.
    pub env: &'a [(String, String)],
    /// For an HTTP component: the path prefix it is served on (default `/NAME`).
    pub route: Option<&'a str>,
}

/// `NODE/NAME` → (`NAME`, `Some(NODE)`); a plain name → (`NAME`, `None`).
fn split_address(actor: &str) -> (&str, Option<&str>) {
    match actor.split_once('/') {
        Some((node, name)) => (name, Some(node)),
        None => (actor, None),
    }
}

/// The node's message in an error answer's body (`{"error": …}`), else the body itself.
pub fn error_message(body: String) -> String {
    serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_messages() {
        assert_eq!(base_url("127.0.0.1:7411"), "http://127.0.0.1:7411");
        assert_eq!(base_url("https://node:7411/"), "https://node:7411");
        assert_eq!(error_message(r#"{"error":"no actor"}"#.into()), "no actor");
        assert_eq!(error_message("plain".into()), "plain");
        let client = Client::with_token("127.0.0.1:1", Some("t".into())).unwrap();
        assert_eq!(client.url("/v1/status"), "http://127.0.0.1:1/v1/status");
        // Nothing listens on port 1: unreachable, naming the address.
        let err = client.status().unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }
}
