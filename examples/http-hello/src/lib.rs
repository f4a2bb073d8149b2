//! Example HTTP component (`wasi:http/proxy`): answers every request with a greeting and the
//! path it was asked for. Built by the normal guest build; served by a node on its route:
//!
//! ```sh
//! r1 actor start target/wasm/http_hello.wasm --route /hello
//! curl http://127.0.0.1:7480/hello/world      # hello from wasm (/hello/world)
//! ```
//!
//! It runs unchanged under `wasmtime serve` too (that is what `make bench-http` compares).
use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Hello);

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let headers = Fields::new();
        let _ = headers.set("content-type", &[b"text/plain".to_vec()]);
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("a response body");
        ResponseOutparam::set(out, Ok(response));
        let mut stream = body.write().expect("a body stream");
        let _ = write!(stream, "hello from wasm ({path})\n");
        let _ = stream.flush();
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}
