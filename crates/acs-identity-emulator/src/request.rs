//! One request, start to finish: the Host check, then either an
//! emulator-only endpoint ([`crate::control`]) or an operation of the
//! service ([`crate::gate`], then the route's handler), and the answer
//! with the caller's request id.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::Utc;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HOST, HeaderValue};
use hyper::{Method, Request, Response};

use crate::api_error::ApiError;
use crate::gate::{self, Stopped};
use crate::inspect::RequestRecord;
use crate::response::{self, Reply};
use crate::state::Shared;

/// Handles one request, and logs it.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let started = Instant::now();
    let time = Utc::now();
    let request_id = req.headers().get("x-ms-client-request-id").cloned();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let api_version = req
        .uri()
        .query()
        .and_then(|q| crate::query::param(q, "api-version"));
    let mut operation = None;
    let mut error = None;
    let reply = match answer(&shared, req, &mut operation).await {
        Ok(resp) => Reply::Send(resp),
        Err(Stopped::Fault(reply)) => reply,
        Err(Stopped::Refused(e)) => {
            let resp = refused(&shared, &e);
            error = Some(e);
            Reply::Send(resp)
        }
    };
    // The inspector polls the GET endpoints: those stay out of the log.
    let service_route = !path.starts_with("/_emulator");
    let polled = method == Method::GET && !service_route;
    if !polled {
        let status = match &reply {
            Reply::Send(resp) => Some(resp.status().as_u16()),
            Reply::Drop => None,
        };
        log(
            &shared,
            RequestRecord {
                id: 0,
                time,
                method: method.to_string(),
                path,
                api_version,
                operation: operation.map(str::to_string),
                status,
                milliseconds: started.elapsed().as_secs_f64() * 1000.0,
                error: error.as_ref().map(|e| format!("{}: {}", e.code, e.message)),
                refusal: error.and_then(|e| e.refusal.map(|r| *r)),
            },
        );
    }
    match reply {
        Reply::Send(mut resp) => {
            if let Some(id) = request_id {
                resp.headers_mut().insert("x-ms-client-request-id", id);
            }
            if service_route {
                crate::response::correlate(resp.headers_mut(), time);
            }
            Reply::Send(resp)
        }
        Reply::Drop => Reply::Drop,
    }
}

/// One line on the `acs_identity_emulator::requests` target (what
/// `acs-identity emulator` prints on stderr), and an entry in the log the
/// inspector reads. Everything from the request is written escaped.
fn log(shared: &Shared, record: RequestRecord) {
    if tracing::enabled!(target: "acs_identity_emulator::requests", tracing::Level::INFO) {
        let status = record
            .status
            .map_or_else(|| "dropped".to_string(), |s| s.to_string());
        let mut why = String::new();
        if let Some(refusal) = &record.refusal {
            why = format!(" refused: {}", refusal.check.escape_debug());
            if let Some(hash) = &refusal.content_hash {
                why.push_str(&format!("; content hash computed: {hash}"));
            }
            if let Some(signed) = &refusal.string_to_sign {
                why.push_str(&format!("; string signed: \"{}\"", signed.escape_debug()));
            }
        } else if let Some(error) = &record.error {
            why = format!(" {}", error.escape_debug());
        }
        tracing::info!(
            target: "acs_identity_emulator::requests",
            "{} {} {} {status} {:.1} ms{why}",
            record.method,
            record.path.escape_debug(),
            record.api_version.as_deref().unwrap_or("-").escape_debug(),
            record.milliseconds,
        );
    }
    shared.requests.push(record);
}

async fn answer(
    shared: &Shared,
    req: Request<Incoming>,
    operation: &mut Option<&'static str>,
) -> Result<Response<http_body_util::Full<bytes::Bytes>>, Stopped> {
    crate::host::check(
        req.version(),
        req.uri(),
        req.headers(),
        shared.host_name.as_deref(),
    )?;
    if let Some(rest) = req
        .uri()
        .path()
        .strip_prefix("/_emulator")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    {
        let method = req.method().clone();
        let rest = rest.to_string();
        let (parts, incoming) = req.into_parts();
        let body = gate::read_body(&parts.headers, incoming, shared.body_timeout).await?;
        let authority = match parts.uri.authority() {
            Some(a) => Some(a.as_str()),
            None => parts.headers.get(HOST).and_then(|h| h.to_str().ok()),
        };
        return Ok(crate::control::handle(
            shared,
            &method,
            &rest,
            parts.uri.query().unwrap_or_default(),
            &parts.headers,
            authority,
            &body,
        )?);
    }
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let admitted = gate::admit(shared, req, operation).await?;
    let ctx = admitted.ctx(shared);
    let (status, body) = (admitted.route.handler)(&ctx, &admitted.body)?;
    Ok(response::json(status, body.as_ref()))
}

/// The error answer; every 401, whichever check refused the request, is
/// counted here.
fn refused(shared: &Shared, e: &ApiError) -> Response<http_body_util::Full<bytes::Bytes>> {
    if e.status == 401 {
        shared.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
    }
    let mut resp = response::error(e);
    // After a refused Host or an unfinished body the connection is not
    // reused.
    if matches!(
        e.code,
        "InvalidHostHeader" | "MisdirectedRequest" | "RequestTimeout"
    ) {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
