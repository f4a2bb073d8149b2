//! Test HTTP component (`wasi:http/proxy`):
//! - `/hello` (or any path under the route not below) → 200 `hello from wasm`
//! - `/…/trap` → traps
//! - `/…/fetch/HOST:PORT/PATH` → makes an outgoing GET to `http://HOST:PORT/PATH` and answers
//!   `fetched STATUS: BODY`, or 502 `denied: ERROR` when the host refuses it
use std::io::{Read as _, Write as _};

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};

wasip2::http::proxy::export!(Probe);

struct Probe;

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(status);
    let outgoing = response.body().expect("body");
    ResponseOutparam::set(out, Ok(response));
    let mut stream = outgoing.write().expect("stream");
    stream.write_all(body.as_bytes()).expect("write");
    stream.flush().expect("flush");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finish");
}

fn fetch(authority: &str, path: &str) -> Result<String, ErrorCode> {
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(path));
    let pending = outgoing_handler::handle(request, None)?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(result)) => result?,
        _ => return Err(ErrorCode::InternalError(Some("no response".into()))),
    };
    let status = response.status();
    let body = response.consume().expect("body");
    let mut text = String::new();
    body.stream()
        .expect("stream")
        .read_to_string(&mut text)
        .ok();
    Ok(format!("fetched {status}: {text}"))
}

impl wasip2::exports::http::incoming_handler::Guest for Probe {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        if path.ends_with("/trap") {
            panic!("trapping on purpose");
        }
        if let Some((_, target)) = path.split_once("/fetch/") {
            let (authority, rest) = target.split_once('/').unwrap_or((target, ""));
            return match fetch(authority, &format!("/{rest}")) {
                Ok(text) => respond(out, 200, &text),
                Err(code) => respond(out, 502, &format!("denied: {code:?}")),
            };
        }
        respond(out, 200, "hello from wasm")
    }
}
