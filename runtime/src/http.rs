//! HTTP components: components built for the standard `wasi:http/proxy` world (they export
//! `wasi:http/incoming-handler`, as Spin, `wasmtime serve` and wasmCloud expect). The node
//! serves each on the route it was deployed with; every request gets a fresh instance from
//! the pre-linked component (as Spin does), with the deployment's grants, limits (the
//! deadline covers one request) and configuration, so one request's trap cannot touch the
//! next: the trapping request is answered 500 and the component keeps serving.

use hyper::body::Body;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::actor::classify;
use crate::recipe::Recipe;
use crate::state::ActorState;

/// The body of a component's response, as the node's listener sends it.
pub type ResponseBody = HyperOutgoingBody;
/// The error a response body can end with.
pub use wasmtime_wasi_http::Error as BodyError;

/// Prefix of the export that marks a component as an HTTP handler (any 0.2.x).
pub const HTTP_EXPORT_PREFIX: &str = "wasi:http/incoming-handler@0.2.";

/// Why a request got no answer from its component.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No HTTP component of that name runs here.
    #[error("no HTTP component named {0:?}")]
    NoSuchComponent(String),
    /// The instance could not be set up or instantiated.
    #[error("HTTP component {name:?} could not start: {reason}")]
    Setup {
        /// The component.
        name: String,
        /// What failed.
        reason: String,
    },
    /// The handler trapped, overran its deadline or memory, or gave no response.
    #[error("HTTP component {name:?} failed the request: {reason}")]
    Failed {
        /// The component.
        name: String,
        /// What happened.
        reason: String,
    },
}

/// A deployed HTTP component: what each request's instance is made from.
pub(crate) struct HttpApp {
    pub recipe: Recipe,
    pub pre: ProxyPre<ActorState>,
}

impl HttpApp {
    /// Answers `request` with a fresh instance.
    pub(crate) async fn handle<B>(
        &self,
        request: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, HttpError>
    where
        B: Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let name = &self.recipe.name;
        let setup = |reason: String| HttpError::Setup {
            name: name.to_string(),
            reason,
        };
        let mut store = self.recipe.store().map_err(setup)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| setup(format!("{e:#}")))?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| setup(format!("{e:#}")))?;
        let proxy = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| setup(format!("{e:#}")))?;
        // The handler may answer before it returns (a streamed body): run it beside the
        // response, as `wasmtime serve` does.
        let task = tokio::spawn(async move {
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });
        let failed = |reason: String| HttpError::Failed {
            name: name.to_string(),
            reason,
        };
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(failed(format!("it answered with error {code:?}"))),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(failed("it returned without setting a response".into())),
                Ok(Err(trap)) => Err(failed(classify(trap).to_string())),
                Err(join) => Err(failed(format!("the request task failed: {join}"))),
            },
        }
    }
}
